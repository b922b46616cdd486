"""The board's HTTP API: Starlette app + uvicorn server (specs/08-board.md §8).

All responses are JSON except ``/v1/record`` and ``/v1/credentials`` (msgpack). Errors are JSON
``{"error": reason, "detail": text}`` with a 4xx status for anything the client got wrong; no
traceback ever reaches a client.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
from collections.abc import AsyncIterator
from typing import Any, Final

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from e2evote.board.board import Board
from e2evote.board.credentials import ChallengeRequest
from e2evote.board.errors import BoardRejection, MalformedSubmission, NotFound, SubmissionTooLarge
from e2evote.board.signing import MAX_CODE_SIZE, SignedTreeHead
from e2evote.board.verify import record_stream
from e2evote.errors import EncodingError

__all__ = [
    "DEFAULT_FRESH_SECONDS",
    "DEFAULT_MAX_BODY_BYTES",
    "MSGPACK_TYPES",
    "create_app",
    "openapi_document",
    "refresh_idle",
    "serve",
]

DEFAULT_MAX_BODY_BYTES: Final = 1024 * 1024
DEFAULT_FRESH_SECONDS: Final = 60.0
_log = logging.getLogger(__name__)
MSGPACK_TYPES: Final = ("application/msgpack", "application/x-msgpack", "application/octet-stream")
_HEX_CODE = re.compile(r"[0-9a-f]{2,128}")
_UINT = re.compile(r"[0-9]{1,19}")
_MAX_CHALLENGE_BYTES: Final = ChallengeRequest.MAX_BYTES


def _error(status: int, reason: str, detail: str = "") -> JSONResponse:
    return JSONResponse({"error": reason, "detail": detail}, status_code=status)


def _uint(value: str | None, name: str) -> int:
    if value is None or not _UINT.fullmatch(value) or int(value) >= 2**63:
        raise MalformedSubmission("malformed", f"{name} must be a non-negative integer")
    return int(value)


def _code(value: str) -> bytes:
    if not _HEX_CODE.fullmatch(value) or len(value) % 2 or len(value) > 2 * MAX_CODE_SIZE:
        raise MalformedSubmission("malformed", "confirmation code must be lowercase hex, 1-64 bytes")
    return bytes.fromhex(value)


async def _read_body(request: Request, limit: int) -> bytes:
    declared = request.headers.get("content-length")
    if declared is not None:
        if not _UINT.fullmatch(declared):
            raise MalformedSubmission("malformed", "bad Content-Length")
        if int(declared) > limit:
            raise SubmissionTooLarge("too_large", f"body larger than {limit} bytes")
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise SubmissionTooLarge("too_large", f"body larger than {limit} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


def refresh_idle(board: Board, fresh_seconds: float) -> SignedTreeHead:
    """One step of the serve loop: sign a freshness STH if the latest one is ``fresh_seconds`` old (§4.1).

    A board that appended in the meantime has a recent STH already and signs nothing.
    """
    return board.refresh_sth(min_age_ms=int(fresh_seconds * 1000))


async def _refresh_loop(board: Board, fresh_seconds: float) -> None:
    """Keep the latest STH at most about ``fresh_seconds`` old while the server runs (§8)."""
    while True:
        await asyncio.sleep(fresh_seconds)
        try:
            await run_in_threadpool(refresh_idle, board, fresh_seconds)
        except Exception:  # e.g. the database is briefly unavailable: try again next time
            _log.exception("could not sign a freshness tree head")


def openapi_document(max_body_bytes: int = DEFAULT_MAX_BODY_BYTES) -> dict[str, Any]:
    """The hand-written OpenAPI 3.1 description of the API (§8)."""
    err = {
        "description": "error",
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
    }
    hexs = {"type": "string", "pattern": "^([0-9a-f]{2})+$"}
    sth = {
        "type": "object",
        "required": ["board_id", "tree_size", "timestamp_ms", "root_hash", "signature"],
        "properties": {
            "board_id": {"type": "string"},
            "tree_size": {"type": "integer", "minimum": 0},
            "timestamp_ms": {"type": "integer", "minimum": 0},
            "root_hash": hexs,
            "signature": hexs,
        },
    }
    receipt = {
        "type": "object",
        "required": ["confirmation_code", "leaf_index", "leaf_hash", "sth", "signature", "audit_path"],
        "properties": {
            "confirmation_code": hexs,
            "leaf_index": {"type": "integer"},
            "leaf_hash": hexs,
            "sth": {"$ref": "#/components/schemas/SignedTreeHead"},
            "signature": hexs,
            "audit_path": {"type": "array", "items": hexs},
        },
    }

    def ok(schema: dict[str, Any], ctype: str = "application/json") -> dict[str, Any]:
        return {"description": "ok", "content": {ctype: {"schema": schema}}}

    def ref(name: str) -> dict[str, Any]:
        return {"$ref": f"#/components/schemas/{name}"}

    def uint_q(name: str) -> dict[str, Any]:
        return {"name": name, "in": "query", "required": True, "schema": {"type": "integer", "minimum": 0}}

    binary = {"type": "string", "format": "binary"}
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "e2evote bulletin board",
            "version": "1",
            "description": "Append-only RFC 6962 log of election events; see specs/08-board.md.",
        },
        "paths": {
            "/v1/ballots": {
                "post": {
                    "summary": "Submit a ballot (canonical msgpack BallotSubmission, specs/08-board.md §5.3)",
                    "requestBody": {"required": True, "content": {"application/msgpack": {"schema": binary}}},
                    "responses": {
                        "201": ok(ref("Receipt")),
                        "400": err,
                        "403": err,
                        "409": err,
                        "413": err,
                        "415": err,
                        "422": err,
                    },
                    "x-max-body-bytes": max_body_bytes,
                }
            },
            "/v1/challenges": {
                "post": {
                    "summary": "Challenge (spoil) an accepted ballot: canonical msgpack ChallengeRequest, "
                    "signed by the credential that cast it if the board uses credentials (§6.2)",
                    "requestBody": {"required": True, "content": {"application/msgpack": {"schema": binary}}},
                    "responses": {
                        "201": ok(ref("SignedTreeHead")),
                        "400": err,
                        "403": err,
                        "404": err,
                        "409": err,
                        "413": err,
                        "415": err,
                        "500": err,
                    },
                    "x-max-body-bytes": _MAX_CHALLENGE_BYTES,
                }
            },
            "/v1/ballots/{code}": {
                "get": {
                    "summary": "Receipt and inclusion proof in the latest tree head, by confirmation code",
                    "parameters": [{"name": "code", "in": "path", "required": True, "schema": hexs}],
                    "responses": {"200": ok({"type": "object"}), "400": err, "404": err},
                }
            },
            "/v1/sth": {
                "get": {
                    "summary": "Latest signed tree head (the last append's, or a later freshness STH)",
                    "responses": {"200": ok(ref("SignedTreeHead"))},
                }
            },
            "/v1/sth/{size}": {
                "get": {
                    "summary": "The signed tree head made when the log reached this size",
                    "parameters": [
                        {"name": "size", "in": "path", "required": True, "schema": {"type": "integer"}}
                    ],
                    "responses": {"200": ok(ref("SignedTreeHead")), "400": err, "404": err},
                }
            },
            "/v1/consistency": {
                "get": {
                    "summary": "RFC 6962 consistency proof PROOF(first, D[second])",
                    "parameters": [uint_q("first"), uint_q("second")],
                    "responses": {"200": ok({"type": "object"}), "400": err, "404": err},
                }
            },
            "/v1/inclusion": {
                "get": {
                    "summary": "RFC 6962 audit path PATH(index, D[tree_size])",
                    "parameters": [uint_q("index"), uint_q("tree_size")],
                    "responses": {"200": ok({"type": "object"}), "400": err, "404": err},
                }
            },
            "/v1/info": {
                "get": {
                    "summary": "Board id, public key, election hash",
                    "responses": {"200": ok({"type": "object"})},
                }
            },
            "/v1/record": {
                "get": {
                    "summary": "Download the whole log (record file, specs/08-board.md §7)",
                    "responses": {"200": ok(binary, "application/msgpack")},
                }
            },
            "/v1/credentials": {
                "get": {
                    "summary": "The public credential list (canonical msgpack)",
                    "responses": {"200": ok(binary, "application/msgpack"), "404": err},
                }
            },
            "/openapi.json": {
                "get": {"summary": "This document", "responses": {"200": ok({"type": "object"})}}
            },
        },
        "components": {
            "schemas": {
                "SignedTreeHead": sth,
                "Receipt": receipt,
                "Error": {
                    "type": "object",
                    "required": ["error"],
                    "properties": {"error": {"type": "string"}, "detail": {"type": "string"}},
                },
            }
        },
    }


def create_app(
    board: Board, *, max_body_bytes: int = DEFAULT_MAX_BODY_BYTES, fresh_seconds: float = 0
) -> Starlette:
    """The Starlette application serving ``board`` (specs/08-board.md §8).

    ``fresh_seconds > 0``: while the app runs (its lifespan), a background task signs a freshness STH
    whenever the latest one is that old, so ``GET /v1/sth`` shows monitors a live board (B3.E).
    """
    if fresh_seconds < 0:
        raise ValueError("fresh_seconds must be >= 0")
    doc = openapi_document(max_body_bytes)

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        task = asyncio.create_task(_refresh_loop(board, fresh_seconds)) if fresh_seconds > 0 else None
        try:
            yield
        finally:
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task

    async def post_ballot(request: Request) -> Response:
        ctype = request.headers.get("content-type", "").split(";")[0].strip().lower()
        if ctype not in MSGPACK_TYPES:
            return _error(415, "unsupported_media_type", "send the submission as application/msgpack")
        body = await _read_body(request, max_body_bytes)
        receipt = await run_in_threadpool(board.submit, body)
        return JSONResponse(receipt.to_json(), status_code=201)

    async def post_challenge(request: Request) -> Response:
        ctype = request.headers.get("content-type", "").split(";")[0].strip().lower()
        if ctype not in MSGPACK_TYPES:
            return _error(415, "unsupported_media_type", "send the challenge request as application/msgpack")
        if board.credentials is None:  # codes are public: without credentials anyone could spoil any ballot
            return _error(
                403,
                "operator_only",
                "no voter credentials on this board: challenges go through its operator",
            )
        body = await _read_body(request, _MAX_CHALLENGE_BYTES)
        try:
            req = ChallengeRequest.from_bytes(body)
        except EncodingError as exc:
            raise MalformedSubmission("malformed", str(exc)) from None
        sth = await run_in_threadpool(board.challenge, req)
        return JSONResponse(sth.to_json(), status_code=201)

    async def get_ballot(request: Request) -> Response:
        code = _code(request.path_params["code"])
        look = await run_in_threadpool(board.lookup, code)
        return JSONResponse(look.to_json())

    async def get_sth(request: Request) -> Response:
        return JSONResponse((await run_in_threadpool(board.latest_sth)).to_json())

    async def get_sth_at(request: Request) -> Response:
        size = _uint(request.path_params["size"], "size")
        return JSONResponse((await run_in_threadpool(board.sth_at, size)).to_json())

    async def get_consistency(request: Request) -> Response:
        first = _uint(request.query_params.get("first"), "first")
        second = _uint(request.query_params.get("second"), "second")
        proof = await run_in_threadpool(board.consistency_proof, first, second)
        return JSONResponse({"first": first, "second": second, "proof": [p.hex() for p in proof]})

    async def get_inclusion(request: Request) -> Response:
        index = _uint(request.query_params.get("index"), "index")
        size = _uint(request.query_params.get("tree_size"), "tree_size")
        proof = await run_in_threadpool(board.inclusion_proof, index, size)
        return JSONResponse({"leaf_index": index, "tree_size": size, "audit_path": [p.hex() for p in proof]})

    async def get_info(request: Request) -> Response:
        s = board.setup
        return JSONResponse(
            {
                "board_id": s.board_id,
                "board_public_key": s.board_public_key.hex(),
                "election_hash": s.election_hash.hex(),
                "credential_list_hash": None
                if s.credential_list_hash is None
                else s.credential_list_hash.hex(),
                "max_body_bytes": max_body_bytes,
            }
        )

    async def get_record(request: Request) -> Response:
        sth, chunks = await run_in_threadpool(record_stream, board)
        name = f"{board.board_id}-{sth.tree_size}.e2evote-board"
        return StreamingResponse(
            chunks,
            media_type="application/msgpack",
            headers={
                "Content-Disposition": f'attachment; filename="{name}"',
                "X-Tree-Size": str(sth.tree_size),
            },
        )

    async def get_credentials(request: Request) -> Response:
        creds = board.credentials
        if creds is None:
            raise NotFound("not_found", "this board does not use voter credentials")
        return Response(creds.to_bytes(), media_type="application/msgpack")

    async def get_openapi(request: Request) -> Response:
        return JSONResponse(doc)

    async def on_rejection(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, BoardRejection)
        return _error(exc.status, exc.reason, exc.detail)

    async def on_http(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, HTTPException)
        reason = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code, "http_error")
        return _error(exc.status_code, reason, str(exc.detail))

    async def on_crash(request: Request, exc: Exception) -> Response:
        return _error(500, "internal", "internal error")

    return Starlette(
        debug=False,
        routes=[
            Route("/v1/ballots", post_ballot, methods=["POST"]),
            Route("/v1/ballots/{code}", get_ballot, methods=["GET"]),
            Route("/v1/challenges", post_challenge, methods=["POST"]),
            Route("/v1/sth", get_sth, methods=["GET"]),
            Route("/v1/sth/{size}", get_sth_at, methods=["GET"]),
            Route("/v1/consistency", get_consistency, methods=["GET"]),
            Route("/v1/inclusion", get_inclusion, methods=["GET"]),
            Route("/v1/info", get_info, methods=["GET"]),
            Route("/v1/record", get_record, methods=["GET"]),
            Route("/v1/credentials", get_credentials, methods=["GET"]),
            Route("/openapi.json", get_openapi, methods=["GET"]),
        ],
        exception_handlers={BoardRejection: on_rejection, HTTPException: on_http, Exception: on_crash},
        lifespan=lifespan,
    )


def serve(
    board: Board,
    host: str = "127.0.0.1",
    port: int = 8080,
    *,
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
    fresh_seconds: float = DEFAULT_FRESH_SECONDS,
    log_level: str = "info",
) -> None:
    """Run the API with uvicorn until interrupted (``e2evote board serve`` wraps this).

    ``fresh_seconds``: refresh the STH of an idle board that often (0: never); see :func:`create_app`.
    """
    import uvicorn

    uvicorn.run(
        create_app(board, max_body_bytes=max_body_bytes, fresh_seconds=fresh_seconds),
        host=host,
        port=port,
        log_level=log_level,
        server_header=False,
        proxy_headers=False,
    )
