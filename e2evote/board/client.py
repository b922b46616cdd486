"""A small synchronous HTTP client for the board API (specs/08-board.md §8)."""

from __future__ import annotations

from typing import Any

import httpx

from e2evote.board.board import BallotLookup
from e2evote.board.credentials import BallotSubmission, ChallengeRequest
from e2evote.board.errors import RemoteBoardError
from e2evote.board.signing import Receipt, SignedTreeHead
from e2evote.errors import EncodingError

__all__ = ["BoardClient"]


def _hexlist(obj: object, what: str) -> list[bytes]:
    if not isinstance(obj, list) or not all(isinstance(x, str) for x in obj):
        raise EncodingError(f"{what}: expected a list of hex strings")
    try:
        return [bytes.fromhex(x) for x in obj]
    except ValueError:
        raise EncodingError(f"{what}: not hex") from None


class BoardClient:
    """Talks to ``e2evote board serve``; raises :class:`RemoteBoardError` on HTTP errors.

    Implements the :class:`~e2evote.board.monitor.TreeHeadSource` protocol.
    """

    def __init__(
        self, base_url: str, *, timeout_s: float = 30.0, transport: httpx.BaseTransport | None = None
    ) -> None:
        self._http = httpx.Client(base_url=base_url.rstrip("/"), timeout=timeout_s, transport=transport)

    def __enter__(self) -> BoardClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Close the connection pool."""
        self._http.close()

    def __repr__(self) -> str:
        return f"BoardClient({str(self._http.base_url)!r})"

    def _get(self, path: str, params: dict[str, Any] | None = None) -> httpx.Response:
        try:
            return self._check(self._http.get(path, params=params))
        except httpx.HTTPError as exc:
            raise RemoteBoardError(0, "unreachable", f"{type(exc).__name__}: {exc}") from None

    def _check(self, resp: httpx.Response) -> httpx.Response:
        if resp.is_success:
            return resp
        reason, detail = "http_error", resp.text[:200]
        try:
            body = resp.json()
            if isinstance(body, dict):
                reason = str(body.get("error", reason))
                detail = str(body.get("detail", ""))
        except ValueError:
            pass
        raise RemoteBoardError(resp.status_code, reason, detail)

    def _json(self, path: str, params: dict[str, Any] | None = None) -> Any:
        resp = self._get(path, params)
        try:
            return resp.json()
        except ValueError:
            raise EncodingError(f"{path}: response is not JSON") from None

    def info(self) -> dict[str, Any]:
        """``GET /v1/info``."""
        out = self._json("/v1/info")
        if not isinstance(out, dict):
            raise EncodingError("/v1/info: expected an object")
        return out

    def submit(self, submission: BallotSubmission | bytes) -> Receipt:
        """``POST /v1/ballots``; returns the (unverified) receipt — check it with verify_receipt."""
        body = submission.to_bytes() if isinstance(submission, BallotSubmission) else submission
        return Receipt.from_json(self._post_msgpack("/v1/ballots", body, "receipt"))

    def challenge(self, request: ChallengeRequest) -> SignedTreeHead:
        """``POST /v1/challenges``: spoil the ballot (signed by its credential on a board with
        credentials); returns the (unverified) tree head that includes the challenge."""
        return SignedTreeHead.from_json(self._post_msgpack("/v1/challenges", request.to_bytes(), "tree head"))

    def _post_msgpack(self, path: str, body: bytes, what: str) -> Any:
        """POST a canonical msgpack body; the JSON answer (a refusal raises RemoteBoardError)."""
        try:
            resp = self._http.post(path, content=body, headers={"content-type": "application/msgpack"})
        except httpx.HTTPError as exc:
            raise RemoteBoardError(0, "unreachable", f"{type(exc).__name__}: {exc}") from None
        self._check(resp)
        try:
            return resp.json()
        except ValueError:
            raise EncodingError(f"{what}: response is not JSON") from None

    def lookup(self, confirmation_code: bytes) -> BallotLookup:
        """``GET /v1/ballots/{code}``."""
        d = self._json(f"/v1/ballots/{confirmation_code.hex()}")
        if not isinstance(d, dict) or not isinstance(d.get("inclusion"), dict):
            raise EncodingError("ballot lookup: malformed response")
        challenged = d.get("challenged")
        if not isinstance(challenged, bool):
            raise EncodingError("ballot lookup: malformed response")
        return BallotLookup(
            Receipt.from_json(d.get("receipt")),
            SignedTreeHead.from_json(d.get("sth")),
            tuple(_hexlist(d["inclusion"].get("audit_path"), "audit_path")),
            challenged,
        )

    def latest_sth(self) -> SignedTreeHead:
        """``GET /v1/sth``."""
        return SignedTreeHead.from_json(self._json("/v1/sth"))

    def sth_at(self, size: int) -> SignedTreeHead:
        """``GET /v1/sth/{size}``."""
        return SignedTreeHead.from_json(self._json(f"/v1/sth/{int(size)}"))

    def consistency_proof(self, first: int, second: int) -> list[bytes]:
        """``GET /v1/consistency``."""
        d = self._json("/v1/consistency", {"first": first, "second": second})
        if not isinstance(d, dict):
            raise EncodingError("consistency: expected an object")
        return _hexlist(d.get("proof"), "consistency proof")

    def inclusion_proof(self, index: int, tree_size: int) -> list[bytes]:
        """``GET /v1/inclusion``."""
        d = self._json("/v1/inclusion", {"index": index, "tree_size": tree_size})
        if not isinstance(d, dict):
            raise EncodingError("inclusion: expected an object")
        return _hexlist(d.get("audit_path"), "audit path")

    def download_record(self) -> bytes:
        """``GET /v1/record``: the record file bytes (parse with read_record)."""
        return self._get("/v1/record").content
