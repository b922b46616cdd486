"""Message files exchanged between trustees, voters and the election official, the election and
trustee directories that hold them, and the passphrase-encrypted trustee keystore (specs/11-cli.md).

Every message file is canonical msgpack (e2evote.encoding)::

    {"type": "<message type>", "version": 1, "election": H_B or H_E, "body": {...}}

so a message of the wrong type, of an unknown version or for another election is rejected with a
:class:`MessageError` that says which. Bodies reuse the record's object trees (e2evote.record.codec).
Ceremony messages are bound to H_B (K does not exist yet); everything after the ceremony to H_E.

The keystore (:class:`Keystore`) keeps a trustee's secrets (polynomial coefficients, share nonces ξ,
its key share P(i), pending decryption nonces u_i) encrypted under a key derived from a passphrase
with Argon2id, sealed with XChaCha20-Poly1305 whose associated data is the file's header.

Only this module (with the rest of ``record/`` and ``board/``) touches files; the CLI calls it.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import secrets
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final, TypeVar

import nacl.bindings
import nacl.exceptions
import nacl.pwhash

from e2evote.encoding import pack, read_regular_file, unpack
from e2evote.errors import E2EVoteError, EncodingError, RecordError
from e2evote.groups import group_by_name
from e2evote.groups.base import Group, Scalar
from e2evote.hashing import EG20, EGK
from e2evote.proofs.schnorr import SchnorrProof
from e2evote.protocol.ballot import EncryptedBallot, PlaintextBallot
from e2evote.protocol.ceremony import (
    Complaint,
    EncryptedShare,
    GuardianPublicKeys,
    ShareReveal,
    build_context,
)
from e2evote.protocol.decryption import (
    DecryptionChallenge,
    DecryptionResponse,
    PartialDecryption,
    Target,
)
from e2evote.protocol.election import ElectionContext, ElectionParameters
from e2evote.protocol.manifest import Manifest
from e2evote.protocol.tally import (
    DecryptedBallot,
    DecryptedTally,
    EncryptedTally,
    ballot_targets,
    tally_targets,
)
from e2evote.record import codec

__all__ = [
    "MESSAGE_VERSION",
    "MessageError",
    "KeystoreError",
    "WrongPassphraseError",
    "MessageType",
    "write_atomic",
    "read_bytes",
    "read_json",
    "read_manifest_json",
    "read_plaintext_json",
    "encode_message",
    "decode_message",
    "encode_parameters",
    "decode_parameters",
    "encode_context",
    "decode_context",
    "encode_public_keys",
    "decode_public_keys",
    "encode_share",
    "decode_share",
    "encode_share_check",
    "decode_share_check",
    "encode_reveals",
    "decode_reveals",
    "encode_key_confirmation",
    "decode_key_confirmation",
    "VoterBallot",
    "encode_voter_ballot",
    "decode_voter_ballot",
    "SubmittedBallot",
    "encode_submitted_ballot",
    "decode_submitted_ballot",
    "encode_opening",
    "decode_opening",
    "DeviceState",
    "encode_device_state",
    "decode_device_state",
    "DecryptionRequest",
    "encode_request",
    "decode_request",
    "encode_partial",
    "decode_partial",
    "encode_challenge",
    "decode_challenge",
    "encode_response",
    "decode_response",
    "DecryptionResult",
    "encode_result",
    "decode_result",
    "ElectionDir",
    "TrusteeDir",
    "TrusteeState",
    "TrusteeSecrets",
    "PendingNonces",
    "Keystore",
    "KDF_OPSLIMIT",
    "KDF_MEMLIMIT",
    "KEYSTORE_FORMAT",
    "SEALED_FORMAT",
    "SEALED_KINDS",
    "PrintedBallot",
    "seal_printed_ballots",
    "open_printed_ballots",
    "seal",
    "unseal",
    "is_sealed",
    "seal_voter_ballot",
    "open_voter_ballot",
]

MESSAGE_VERSION: Final = 1
MAX_MESSAGE_BYTES: Final = 64 * 1024 * 1024
MAX_JSON_BYTES: Final = 16 * 1024 * 1024

KEYSTORE_FORMAT: Final = "e2evote-keystore-v1"
KEYSTORE_AEAD: Final = "xchacha20poly1305-ietf"
KEYSTORE_KDF: Final = "argon2id13"
SEALED_FORMAT: Final = "e2evote-sealed-v1"
#: what a sealed file may hold (specs/11-cli.md §4.1): the kind is authenticated with the content
SEALED_KINDS: Final = frozenset({"board-key", "voter-ballot", "printed-ballots"})
#: Argon2id cost: 3 passes over 64 MiB (about half a second on a laptop core). Every trustee
#: command unlocks the keystore once; ``E2EVOTE_TEST_FAST_KDF=1`` lowers it to libsodium's minimum
#: for tests only (the parameters are stored in the file, so either kind opens anywhere).
KDF_OPSLIMIT: Final = 3
KDF_MEMLIMIT: Final = 64 * 1024 * 1024
_FAST_KDF = (nacl.pwhash.argon2id.OPSLIMIT_MIN, nacl.pwhash.argon2id.MEMLIMIT_MIN)
_KDF_MAX = (10, 1024 * 1024 * 1024)  # refuse files demanding more (a tampered header cannot DoS)


class MessageError(RecordError):
    """A message file that is missing, malformed, of the wrong type or for another election."""


class KeystoreError(RecordError):
    """A keystore file that cannot be used."""


class WrongPassphraseError(KeystoreError):
    """Authentication of a keystore or sealed file failed."""

    def __init__(self, path: str | os.PathLike[str], what: str = "key file") -> None:
        super().__init__(f"{path}: wrong passphrase or corrupted {what}")


class MessageType:
    """The ``type`` field of every message file (specs/11-cli.md §Messages)."""

    PARAMETERS = "election-parameters"
    CONTEXT = "election-context"
    PUBLIC_KEYS = "guardian-public-keys"
    SHARE = "encrypted-share"
    SHARE_CHECK = "share-check"
    REVEALS = "share-reveals"
    KEY_CONFIRMATION = "key-confirmation"
    VOTER_BALLOT = "voter-ballot"
    BALLOT = "submitted-ballot"
    OPENING = "challenged-ballot-opening"
    DEVICE = "device-state"
    REQUEST = "decryption-request"
    PARTIAL = "partial-decryption"
    CHALLENGE = "decryption-challenge"
    RESPONSE = "decryption-response"
    RESULT = "decryption-result"
    TRUSTEE_STATE = "trustee-state"
    PRINTED_BALLOTS = "printed-ballots"


# ---------------------------------------------------------------------------------------------------
# files
# ---------------------------------------------------------------------------------------------------


def _fsync_dir(d: Path) -> None:
    try:
        fd = os.open(d, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    except OSError:  # pragma: no cover - platforms without directory fds
        return
    try:
        os.fsync(fd)
    except OSError:  # pragma: no cover - filesystems that refuse fsync on directories
        pass
    finally:
        os.close(fd)


def write_atomic(path: str | os.PathLike[str], data: bytes, *, private: bool = False) -> None:
    """Write ``data`` to ``path`` atomically (temporary file, fsync, rename, fsync of the directory);
    mode 0600 if ``private``. Durable on return: a keystore saved with its nonces erased stays so
    even if the machine stops right after (trustee respond then publishes)."""
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    tmp = p.with_name(f".{p.name}.{secrets.token_hex(4)}.tmp")
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600 if private else 0o644)
        try:
            with os.fdopen(fd, "wb") as fh:
                fh.write(data)
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(tmp, p)
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise
        _fsync_dir(p.parent)  # the rename itself survives a crash before anything written after it
    except OSError as exc:  # name the destination, not the temporary file next to it
        raise type(exc)(exc.errno, exc.strerror, str(p)) from None


def read_bytes(path: str | os.PathLike[str], max_bytes: int = MAX_MESSAGE_BYTES) -> bytes:
    """Read a regular file of bounded size (a symbolic link is followed; a FIFO, device, socket or
    directory is refused without blocking: ``encoding.read_regular_file``); a missing or unreadable
    file is a :class:`MessageError`."""
    p = Path(path)
    try:
        return read_regular_file(p, max_bytes, follow_links=True)
    except FileNotFoundError as exc:
        raise MessageError(f"{p}: no such file") from exc
    except EncodingError as exc:
        raise MessageError(str(exc)) from exc


def read_json(path: str | os.PathLike[str]) -> Any:
    """A UTF-8 JSON document (manifest, plaintext ballot)."""
    raw = read_bytes(path, MAX_JSON_BYTES)
    try:
        return json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise MessageError(f"{path}: not valid UTF-8 JSON ({exc})") from exc


def read_manifest_json(path: str | os.PathLike[str]) -> Manifest:
    """A native manifest in friendly JSON (e2evote.protocol.manifest.Manifest.from_json)."""
    return Manifest.from_json(read_json(path))


def read_plaintext_json(path: str | os.PathLike[str]) -> PlaintextBallot:
    """A plaintext ballot: ``{"id", "style", "votes": {contest: {option: n}}, "write_ins"?}``;
    ``style`` defaults to "default"."""
    doc = read_json(path)
    if isinstance(doc, dict) and "style" not in doc:
        doc = {**doc, "style": "default"}
    try:
        return codec.dec_plaintext(doc)
    except EncodingError as exc:
        raise MessageError(f"{path}: {exc}") from exc


# ---------------------------------------------------------------------------------------------------
# envelope
# ---------------------------------------------------------------------------------------------------


def _short(h: bytes) -> str:
    return h.hex()[:12] + "…"


def encode_message(mtype: str, election: bytes, body: Mapping[str, Any]) -> bytes:
    """The canonical bytes of a message of type ``mtype`` bound to ``election`` (H_B or H_E)."""
    return pack({"type": mtype, "version": MESSAGE_VERSION, "election": election, "body": dict(body)})


def decode_message(data: bytes, mtype: str, election: bytes | None, what: str = "message") -> dict[str, Any]:
    """Check the envelope and return the body; ``election=None`` skips the election check."""
    try:
        obj = unpack(data, MAX_MESSAGE_BYTES)
        f = codec.fields(obj, {"type", "version", "election", "body"}, what)
    except EncodingError as exc:
        raise MessageError(f"{what}: not an e2evote message file ({exc})") from exc
    if f["type"] != mtype:
        raise MessageError(f"{what}: expected a {mtype!r} message, got {f['type']!r}")
    if f["version"] != MESSAGE_VERSION:
        raise MessageError(f"{what}: unsupported message version {f['version']!r}")
    if not isinstance(f["election"], bytes) or len(f["election"]) != 32:
        raise MessageError(f"{what}: malformed election hash")
    if election is not None and f["election"] != election:
        raise MessageError(
            f"{what}: message is for another election ({_short(f['election'])}, expected {_short(election)})"
        )
    if not isinstance(f["body"], dict):
        raise MessageError(f"{what}: body must be a map")
    return f["body"]


def _peek_election(data: bytes, what: str) -> bytes:
    try:
        obj = unpack(data, MAX_MESSAGE_BYTES)
    except EncodingError as exc:
        raise MessageError(f"{what}: not an e2evote message file ({exc})") from exc
    h = obj.get("election") if isinstance(obj, dict) else None
    if not isinstance(h, bytes):
        raise MessageError(f"{what}: not an e2evote message file")
    return h


def _guard(what: str, fn: Any, *args: Any) -> Any:
    """Run a decoder, turning any encoding/validation error into a MessageError naming the file."""
    try:
        return fn(*args)
    except MessageError:
        raise
    except (E2EVoteError, ValueError, TypeError, KeyError, IndexError) as exc:
        raise MessageError(f"{what}: {exc}") from exc


def _scalar(group: Group, obj: Any, what: str) -> Scalar:
    if not isinstance(obj, bytes) or len(obj) != group.scalar_bytes:
        raise EncodingError(f"{what}: expected {group.scalar_bytes} bytes")
    return group.scalar_from_bytes(obj)


def _int(obj: Any, what: str, lo: int = 0, hi: int = 2**31 - 1) -> int:
    if isinstance(obj, bool) or not isinstance(obj, int) or not lo <= obj <= hi:
        raise EncodingError(f"{what}: expected an integer in [{lo}, {hi}]")
    return obj


def _bytes(obj: Any, what: str, width: int | None = None) -> bytes:
    if not isinstance(obj, bytes) or (width is not None and len(obj) != width):
        raise EncodingError(f"{what}: expected {width if width is not None else 'some'} bytes")
    return obj


def _str(obj: Any, what: str, max_len: int = 4096) -> str:
    if not isinstance(obj, str) or len(obj) > max_len:
        raise EncodingError(f"{what}: expected a string")
    return obj


# ---------------------------------------------------------------------------------------------------
# parameters and context
# ---------------------------------------------------------------------------------------------------


def encode_parameters(params: ElectionParameters) -> bytes:
    """``election-parameters`` (bound to H_B): group, version, dialect, n, k, the manifest file, H_P, H_M."""
    return encode_message(
        MessageType.PARAMETERS,
        params.H_B,
        {
            "group": params.group.name,
            "version": params.version,
            "dialect": params.dialect.name,
            "n": params.n,
            "k": params.k,
            "manifest": params.manifest.raw,
            "H_P": params.H_P,
            "H_M": params.H_M,
        },
    )


def decode_parameters(data: bytes, what: str = "parameters") -> ElectionParameters:
    """Recompute H_P, H_M, H_B from the stated values and demand they match the envelope."""
    H_B = _peek_election(data, what)
    body = decode_message(data, MessageType.PARAMETERS, H_B, what)

    def build() -> ElectionParameters:
        f = codec.fields(body, {"group", "version", "dialect", "n", "k", "manifest", "H_P", "H_M"}, what)
        dialect = {EG20.name: EG20, EGK.name: EGK}.get(f["dialect"])
        if dialect is None:
            raise EncodingError(f"unknown dialect {f['dialect']!r}")
        params = ElectionParameters(
            group_by_name(_str(f["group"], "group")),
            Manifest.from_bytes(_bytes(f["manifest"], "manifest")),
            _int(f["n"], "n", 1),
            _int(f["k"], "k", 1),
            _str(f["version"], "version"),
            dialect,
        )
        if (params.H_P, params.H_M, params.H_B) != (f["H_P"], f["H_M"], H_B):
            raise EncodingError("stated hashes do not match the parameters")
        return params

    result: ElectionParameters = _guard(what, build)
    return result


def encode_context(ctx: ElectionContext, guardians: Sequence[GuardianPublicKeys]) -> bytes:
    """``election-context`` (bound to H_B): every guardian's public keys, K and H_E."""
    return encode_message(
        MessageType.CONTEXT,
        ctx.parameters.H_B,
        {
            "guardians": [codec.enc_guardian(g) for g in sorted(guardians, key=lambda g: g.i)],
            "K": ctx.K.to_bytes(),
            "H_E": ctx.H_E,
        },
    )


def decode_context(
    params: ElectionParameters, data: bytes, what: str = "context"
) -> tuple[ElectionContext, tuple[GuardianPublicKeys, ...]]:
    """Re-check every guardian's proofs and recompute K and H_E (build_context)."""
    body = decode_message(data, MessageType.CONTEXT, params.H_B, what)

    def build() -> tuple[ElectionContext, tuple[GuardianPublicKeys, ...]]:
        f = codec.fields(body, {"guardians", "K", "H_E"}, what)
        if not isinstance(f["guardians"], list):
            raise EncodingError("guardians must be a list")
        guardians = tuple(codec.dec_guardian(params.group, g) for g in f["guardians"])
        ctx = build_context(params, guardians)
        if ctx.K.to_bytes() != f["K"] or ctx.H_E != f["H_E"]:
            raise EncodingError("stated K or H_E differs from the guardians' keys")
        return ctx, guardians

    result: tuple[ElectionContext, tuple[GuardianPublicKeys, ...]] = _guard(what, build)
    return result


# ---------------------------------------------------------------------------------------------------
# key ceremony messages (bound to H_B)
# ---------------------------------------------------------------------------------------------------


def encode_public_keys(H_B: bytes, pk: GuardianPublicKeys) -> bytes:
    """``guardian-public-keys``: K_{i,j} and their Schnorr proofs (eq. 10-12)."""
    return encode_message(MessageType.PUBLIC_KEYS, H_B, {"guardian": codec.enc_guardian(pk)})


def decode_public_keys(
    group: Group, H_B: bytes, data: bytes, what: str = "public keys"
) -> GuardianPublicKeys:
    body = decode_message(data, MessageType.PUBLIC_KEYS, H_B, what)
    result: GuardianPublicKeys = _guard(
        what, lambda: codec.dec_guardian(group, codec.fields(body, {"guardian"}, what)["guardian"])
    )
    return result


def encode_share(H_B: bytes, share: EncryptedShare) -> bytes:
    """``encrypted-share``: E_ℓ(P_i(ℓ)) from guardian i to guardian ℓ (eq. 18), one file per pair."""
    return encode_message(MessageType.SHARE, H_B, {"share": codec.enc_share(share)})


def decode_share(group: Group, H_B: bytes, data: bytes, what: str = "share") -> EncryptedShare:
    body = decode_message(data, MessageType.SHARE, H_B, what)
    result: EncryptedShare = _guard(
        what, lambda: codec.dec_share(group, codec.fields(body, {"share"}, what)["share"])
    )
    return result


def encode_share_check(H_B: bytes, ell: int, complaints: Sequence[Complaint], sigma: SchnorrProof) -> bytes:
    """``share-check``: guardian ℓ's report on the shares it received — status "ok" or "complaints" —
    signed by ℓ (``ceremony.check_share_check``)."""
    items = [{"i": c.i, "reason": c.reason, "sigma": codec.enc_schnorr(c.sigma)} for c in complaints]
    for c in complaints:
        if c.ell != ell:
            raise MessageError("a share-check report carries only its author's complaints")
    return encode_message(
        MessageType.SHARE_CHECK,
        H_B,
        {
            "ell": ell,
            "status": "complaints" if items else "ok",
            "complaints": items,
            "sigma": codec.enc_schnorr(sigma),
        },
    )


def decode_share_check(
    group: Group, H_B: bytes, data: bytes, what: str = "share check"
) -> tuple[int, tuple[Complaint, ...], SchnorrProof]:
    """Returns (ℓ, its complaints, its signature on the report)."""
    body = decode_message(data, MessageType.SHARE_CHECK, H_B, what)

    def build() -> tuple[int, tuple[Complaint, ...], SchnorrProof]:
        f = codec.fields(body, {"ell", "status", "complaints", "sigma"}, what)
        ell = _int(f["ell"], "ell", 1)
        if not isinstance(f["complaints"], list) or len(f["complaints"]) > 10_000:
            raise EncodingError("complaints must be a list")
        out = []
        for c in f["complaints"]:
            cf = codec.fields(c, {"i", "reason", "sigma"}, "complaint")
            out.append(
                Complaint(
                    ell,
                    _int(cf["i"], "complaint.i", 1),
                    _str(cf["reason"], "complaint.reason"),
                    codec.dec_schnorr(group, cf["sigma"], "complaint.sigma"),
                )
            )
        if f["status"] != ("complaints" if out else "ok"):
            raise EncodingError(f"status {f['status']!r} contradicts the complaints")
        return ell, tuple(out), codec.dec_schnorr(group, f["sigma"], "share check sigma")

    result: tuple[int, tuple[Complaint, ...], SchnorrProof] = _guard(what, build)
    return result


def encode_reveals(H_B: bytes, i: int, reveals: Sequence[tuple[ShareReveal, EncryptedShare]]) -> bytes:
    """``share-reveals``: guardian i's answers to complaints: P_i(ℓ) and ξ_{i,ℓ} in clear (§3.2.2),
    each with the encrypted share as guardian i sent it (re-published, so a share damaged in
    transit is replaced by the sender's own copy)."""
    items = []
    for r, sh in reveals:
        if (sh.i, sh.ell) != (r.i, r.ell) or r.i != i:
            raise MessageError("a reveal must carry the share it reveals")
        items.append(
            {
                "ell": r.ell,
                "share": r.share.to_bytes(),
                "xi": r.xi.to_bytes(),
                "sigma": codec.enc_schnorr(r.sigma),
                "encrypted": codec.enc_share(sh),
            }
        )
    return encode_message(MessageType.REVEALS, H_B, {"i": i, "reveals": items})


def decode_reveals(
    group: Group, H_B: bytes, data: bytes, what: str = "reveals"
) -> tuple[int, tuple[tuple[ShareReveal, EncryptedShare], ...]]:
    """Returns (accused guardian i, ((reveal, re-published encrypted share), …))."""
    body = decode_message(data, MessageType.REVEALS, H_B, what)

    def build() -> tuple[int, tuple[tuple[ShareReveal, EncryptedShare], ...]]:
        f = codec.fields(body, {"i", "reveals"}, what)
        i = _int(f["i"], "i", 1)
        if not isinstance(f["reveals"], list) or len(f["reveals"]) > 10_000:
            raise EncodingError("reveals must be a list")
        out = []
        for r in f["reveals"]:
            rf = codec.fields(r, {"ell", "share", "xi", "sigma", "encrypted"}, "reveal")
            rev = ShareReveal(
                i,
                _int(rf["ell"], "ell", 1),
                _scalar(group, rf["share"], "share"),
                _scalar(group, rf["xi"], "xi"),
                codec.dec_schnorr(group, rf["sigma"], "reveal.sigma"),
            )
            sh = codec.dec_share(group, rf["encrypted"])
            if (sh.i, sh.ell) != (rev.i, rev.ell):
                raise EncodingError("reveal and its encrypted share name different guardians")
            out.append((rev, sh))
        return i, tuple(out)

    result: tuple[int, tuple[tuple[ShareReveal, EncryptedShare], ...]] = _guard(what, build)
    return result


def encode_key_confirmation(H_B: bytes, i: int, H_E: bytes, sigma: SchnorrProof) -> bytes:
    """``key-confirmation``: guardian i finalized its key share and computed this H_E; signed by i
    (``ceremony.check_key_confirmation``)."""
    body = {"i": i, "H_E": H_E, "sigma": codec.enc_schnorr(sigma)}
    return encode_message(MessageType.KEY_CONFIRMATION, H_B, body)


def decode_key_confirmation(
    group: Group, H_B: bytes, data: bytes, what: str = "key confirmation"
) -> tuple[int, bytes, SchnorrProof]:
    body = decode_message(data, MessageType.KEY_CONFIRMATION, H_B, what)

    def build() -> tuple[int, bytes, SchnorrProof]:
        f = codec.fields(body, {"i", "H_E", "sigma"}, what)
        sigma = codec.dec_schnorr(group, f["sigma"], "key confirmation sigma")
        return _int(f["i"], "i", 1), _bytes(f["H_E"], "H_E", 32), sigma

    result: tuple[int, bytes, SchnorrProof] = _guard(what, build)
    return result


# ---------------------------------------------------------------------------------------------------
# voting (bound to H_E)
# ---------------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class VoterBallot:
    """What the voter's device keeps after encryption: the ballot, its nonce ξ_B and the choices."""

    ballot: EncryptedBallot
    nonce: bytes = field(repr=False)
    plaintext: PlaintextBallot = field(repr=False)
    seq: int = 0
    """position in its device's chain (0 without a device)"""


def encode_voter_ballot(H_E: bytes, vb: VoterBallot) -> bytes:
    """``voter-ballot`` (private to the voter until cast or challenged)."""
    return encode_message(
        MessageType.VOTER_BALLOT,
        H_E,
        {
            "ballot": codec.enc_ballot(vb.ballot),
            "nonce": vb.nonce,
            "plaintext": codec.enc_plaintext(vb.plaintext),
            "seq": vb.seq,
        },
    )


def decode_voter_ballot(group: Group, H_E: bytes, data: bytes, what: str = "voter ballot") -> VoterBallot:
    body = decode_message(data, MessageType.VOTER_BALLOT, H_E, what)

    def build() -> VoterBallot:
        f = codec.fields(body, {"ballot", "nonce", "plaintext", "seq"}, what)
        return VoterBallot(
            codec.dec_ballot(group, f["ballot"]),
            _bytes(f["nonce"], "nonce", 32),
            codec.dec_plaintext(f["plaintext"]),
            _int(f["seq"], "seq"),
        )

    result: VoterBallot = _guard(what, build)
    return result


def seal_voter_ballot(H_E: bytes, vb: VoterBallot, passphrase: str) -> bytes:
    """The voter's file: ``voter-ballot`` sealed under the passphrase (it holds the choices and ξ_B)."""
    return seal("voter-ballot", passphrase, encode_voter_ballot(H_E, vb))


def open_voter_ballot(
    group: Group, H_E: bytes, data: bytes, passphrase: Callable[[], str], what: str = "voter ballot"
) -> VoterBallot:
    """A voter's file written by :func:`seal_voter_ballot` (``passphrase`` is asked for only then), or
    an unsealed ``voter-ballot`` message of an earlier version."""
    if is_sealed(data):
        data = unseal(data, "voter-ballot", passphrase(), what)
    return decode_voter_ballot(group, H_E, data, what)


@dataclass(frozen=True, slots=True)
class PrintedBallot:
    """A pre-encrypted ballot as its printer keeps it (specs/13-pre-encryption.md §4): the printed
    confirmation code, the style, B_aux and the primary nonce ξ that opens it."""

    code: bytes
    style: str
    B_aux: bytes
    xi: bytes = field(repr=False)


MAX_PRINTED = 1_000_000
"""pre-encrypted ballots in one sealed batch"""


def encode_printed_ballots(H_E: bytes, ballots: Sequence[PrintedBallot]) -> bytes:
    """``printed-ballots``: the printer's secret list (sealed with :func:`seal_printed_ballots`)."""
    return encode_message(
        MessageType.PRINTED_BALLOTS,
        H_E,
        {"ballots": [{"baux": b.B_aux, "code": b.code, "style": b.style, "xi": b.xi} for b in ballots]},
    )


def decode_printed_ballots(H_E: bytes, data: bytes, what: str = "printed ballots") -> list[PrintedBallot]:
    body = decode_message(data, MessageType.PRINTED_BALLOTS, H_E, what)

    def build() -> list[PrintedBallot]:
        f = codec.fields(body, {"ballots"}, what)
        items = f["ballots"]
        if not isinstance(items, list) or len(items) > MAX_PRINTED:
            raise EncodingError(f"{what}: expected a list of at most {MAX_PRINTED} ballots")
        out = []
        for n, item in enumerate(items):
            g = codec.fields(item, {"baux", "code", "style", "xi"}, f"{what} entry {n}")
            baux = g["baux"]
            if not isinstance(baux, bytes) or len(baux) > 4096:
                raise EncodingError(f"{what} entry {n}: B_aux must be at most 4096 bytes")
            out.append(
                PrintedBallot(
                    _bytes(g["code"], "code", 32), _str(g["style"], "style"), baux, _bytes(g["xi"], "xi", 32)
                )
            )
        return out

    result: list[PrintedBallot] = _guard(what, build)
    return result


def seal_printed_ballots(H_E: bytes, ballots: Sequence[PrintedBallot], passphrase: str) -> bytes:
    """The printer's file: ``printed-ballots`` sealed under the passphrase (every ξ opens a ballot)."""
    return seal("printed-ballots", passphrase, encode_printed_ballots(H_E, ballots))


def open_printed_ballots(
    H_E: bytes, data: bytes, passphrase: Callable[[], str], what: str = "printed ballots"
) -> list[PrintedBallot]:
    """The list sealed by :func:`seal_printed_ballots`."""
    return decode_printed_ballots(H_E, unseal(data, "printed-ballots", passphrase(), what), what)


@dataclass(frozen=True, slots=True)
class SubmittedBallot:
    """A ballot in the election directory's ballot box (cast or challenged)."""

    ballot: EncryptedBallot
    seq: int


def encode_submitted_ballot(H_E: bytes, sb: SubmittedBallot) -> bytes:
    """``submitted-ballot``: the encrypted ballot with its state (no nonce)."""
    return encode_message(MessageType.BALLOT, H_E, {"ballot": codec.enc_ballot(sb.ballot), "seq": sb.seq})


def decode_submitted_ballot(group: Group, H_E: bytes, data: bytes, what: str = "ballot") -> SubmittedBallot:
    body = decode_message(data, MessageType.BALLOT, H_E, what)

    def build() -> SubmittedBallot:
        f = codec.fields(body, {"ballot", "seq"}, what)
        return SubmittedBallot(codec.dec_ballot(group, f["ballot"]), _int(f["seq"], "seq"))

    result: SubmittedBallot = _guard(what, build)
    return result


def encode_opening(H_E: bytes, ballot_id: str, nonce: bytes, claimed: PlaintextBallot) -> bytes:
    """``challenged-ballot-opening``: the released nonce ξ_B and the claimed selections."""
    return encode_message(
        MessageType.OPENING, H_E, {"id": ballot_id, "nonce": nonce, "claimed": codec.enc_plaintext(claimed)}
    )


def decode_opening(H_E: bytes, data: bytes, what: str = "opening") -> tuple[str, bytes, PlaintextBallot]:
    body = decode_message(data, MessageType.OPENING, H_E, what)

    def build() -> tuple[str, bytes, PlaintextBallot]:
        f = codec.fields(body, {"id", "nonce", "claimed"}, what)
        return _str(f["id"], "id"), _bytes(f["nonce"], "nonce", 32), codec.dec_plaintext(f["claimed"])

    result: tuple[str, bytes, PlaintextBallot] = _guard(what, build)
    return result


@dataclass(frozen=True, slots=True)
class DeviceState:
    """An encrypting device's chain position: the last confirmation code H(B_{j-1}) and count."""

    name: str
    last_code: bytes | None
    count: int


def encode_device_state(H_E: bytes, st: DeviceState) -> bytes:
    return encode_message(MessageType.DEVICE, H_E, {"name": st.name, "last": st.last_code, "count": st.count})


def decode_device_state(H_E: bytes, data: bytes, what: str = "device state") -> DeviceState:
    body = decode_message(data, MessageType.DEVICE, H_E, what)

    def build() -> DeviceState:
        f = codec.fields(body, {"name", "last", "count"}, what)
        last = None if f["last"] is None else _bytes(f["last"], "last", 32)
        return DeviceState(_str(f["name"], "name"), last, _int(f["count"], "count"))

    result: DeviceState = _guard(what, build)
    return result


# ---------------------------------------------------------------------------------------------------
# decryption (bound to H_E)
# ---------------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class DecryptionRequest:
    """What the guardians are asked to decrypt: the encrypted tally and the challenged ballots not
    opened by their nonce. ``digest`` (SHA-256 of the request file) binds every later message."""

    tally: EncryptedTally
    ballots: tuple[EncryptedBallot, ...]
    digest: bytes = b""

    def sections(self, ctx: ElectionContext) -> dict[str, list[Target]]:
        """Decryption targets per section: "tally" and "ballot:<id>" (specs/06-decryption.md §Targets)."""
        out: dict[str, list[Target]] = {"tally": tally_targets(self.tally)}
        for b in self.ballots:
            out[f"ballot:{b.ballot_id}"] = ballot_targets(ctx, b)
        return out


def encode_request(H_E: bytes, req: DecryptionRequest) -> bytes:
    """``decryption-request``: the encrypted tally and the challenged ballots to decrypt."""
    return encode_message(
        MessageType.REQUEST,
        H_E,
        {
            "tally": codec.enc_encrypted_tally(req.tally),
            "ballots": [codec.enc_ballot(b) for b in req.ballots],
        },
    )


def decode_request(
    group: Group, H_E: bytes, data: bytes, what: str = "decryption request"
) -> DecryptionRequest:
    body = decode_message(data, MessageType.REQUEST, H_E, what)

    def build() -> DecryptionRequest:
        f = codec.fields(body, {"tally", "ballots"}, what)
        if not isinstance(f["ballots"], list):
            raise EncodingError("ballots must be a list")
        return DecryptionRequest(
            codec.dec_encrypted_tally(group, f["tally"]),
            tuple(codec.dec_ballot(group, b) for b in f["ballots"]),
            hashlib.sha256(data).digest(),
        )

    result: DecryptionRequest = _guard(what, build)
    return result


def _enc_elems(xs: Sequence[Any]) -> list[bytes]:
    return [x.to_bytes() for x in xs]


def _encode_sections(mtype: str, H_E: bytes, request: bytes, i: int, sections: dict[str, Any]) -> bytes:
    """The body every decryption-round message shares, read back by :func:`_sections`: the request
    digest, guardian ``i`` and ``sections`` (section name -> that message's encoded values)."""
    return encode_message(mtype, H_E, {"request": request, "i": i, "sections": sections})


def encode_partial(H_E: bytes, request: bytes, i: int, sections: Mapping[str, PartialDecryption]) -> bytes:
    """``partial-decryption`` (round 1): per section, M_i, a_i, b_i for every target (eq. 66, 69)."""
    return _encode_sections(
        MessageType.PARTIAL,
        H_E,
        request,
        i,
        {
            name: {"M": _enc_elems(p.M), "a": _enc_elems(p.a), "b": _enc_elems(p.b)}
            for name, p in sections.items()
        },
    )


def _sections(body: Mapping[str, Any], what: str) -> tuple[bytes, int, dict[str, Any]]:
    f = codec.fields(body, {"request", "i", "sections"}, what)
    if not isinstance(f["sections"], dict) or len(f["sections"]) > 100_000:
        raise EncodingError("sections must be a map")
    return _bytes(f["request"], "request", 32), _int(f["i"], "i", 1), f["sections"]


def decode_partial(
    group: Group, H_E: bytes, data: bytes, what: str = "partial decryption"
) -> tuple[bytes, int, dict[str, PartialDecryption]]:
    """Returns (request digest, guardian index, section -> partial decryption)."""
    body = decode_message(data, MessageType.PARTIAL, H_E, what)

    def build() -> tuple[bytes, int, dict[str, PartialDecryption]]:
        req, i, secs = _sections(body, what)
        out = {}
        for name, s in secs.items():
            sf = codec.fields(s, {"M", "a", "b"}, f"{what} {name}")
            lists = []
            for key in ("M", "a", "b"):
                if not isinstance(sf[key], list):
                    raise EncodingError(f"{name}.{key} must be a list")
                lists.append(tuple(codec.dec_elem(group, x, f"{name}.{key}") for x in sf[key]))
            out[name] = PartialDecryption(i, lists[0], lists[1], lists[2])
        return req, i, out

    result: tuple[bytes, int, dict[str, PartialDecryption]] = _guard(what, build)
    return result


def encode_challenge(
    H_E: bytes, request: bytes, i: int, sections: Mapping[str, DecryptionChallenge]
) -> bytes:
    """``decryption-challenge`` (round 2, official → guardian i): c_i = c·w_i per target (eq. 72)."""
    return _encode_sections(
        MessageType.CHALLENGE,
        H_E,
        request,
        i,
        {n: [c.to_bytes() for c in ch.c] for n, ch in sections.items()},
    )


def _scalar_sections(group: Group, secs: Mapping[str, Any]) -> dict[str, tuple[Scalar, ...]]:
    out = {}
    for name, xs in secs.items():
        if not isinstance(xs, list):
            raise EncodingError(f"{name} must be a list")
        out[name] = tuple(_scalar(group, x, name) for x in xs)
    return out


_Round2 = TypeVar("_Round2", DecryptionChallenge, DecryptionResponse)


def _decode_round2(
    group: Group,
    H_E: bytes,
    data: bytes,
    what: str,
    mtype: str,
    make: Callable[[int, tuple[Scalar, ...]], _Round2],
) -> tuple[bytes, int, dict[str, _Round2]]:
    """Decode a round-2 message (challenge or response): one scalar per target in every section,
    each section's scalars wrapped as ``make(i, scalars)``. Returns (request digest, i, sections)."""
    body = decode_message(data, mtype, H_E, what)

    def build() -> tuple[bytes, int, dict[str, _Round2]]:
        req, i, secs = _sections(body, what)
        return req, i, {n: make(i, xs) for n, xs in _scalar_sections(group, secs).items()}

    result: tuple[bytes, int, dict[str, _Round2]] = _guard(what, build)
    return result


def decode_challenge(
    group: Group, H_E: bytes, data: bytes, what: str = "decryption challenge"
) -> tuple[bytes, int, dict[str, DecryptionChallenge]]:
    return _decode_round2(group, H_E, data, what, MessageType.CHALLENGE, DecryptionChallenge)


def encode_response(H_E: bytes, request: bytes, i: int, sections: Mapping[str, DecryptionResponse]) -> bytes:
    """``decryption-response`` (round 2, guardian i): v_i = u_i − c_i·P(i) per target (eq. 73)."""
    return _encode_sections(
        MessageType.RESPONSE, H_E, request, i, {n: [v.to_bytes() for v in r.v] for n, r in sections.items()}
    )


def decode_response(
    group: Group, H_E: bytes, data: bytes, what: str = "decryption response"
) -> tuple[bytes, int, dict[str, DecryptionResponse]]:
    return _decode_round2(group, H_E, data, what, MessageType.RESPONSE, DecryptionResponse)


@dataclass(frozen=True, slots=True)
class DecryptionResult:
    """The combined, checked decryption: the tally and the guardian-decrypted challenged ballots."""

    request: bytes
    guardians: tuple[int, ...]
    tally: DecryptedTally
    ballots: tuple[DecryptedBallot, ...]


def encode_result(H_E: bytes, res: DecryptionResult) -> bytes:
    """``decryption-result``: the decrypted tally and ballots with their proofs."""
    return encode_message(
        MessageType.RESULT,
        H_E,
        {
            "request": res.request,
            "guardians": list(res.guardians),
            "tally": codec.enc_decrypted_tally(res.tally),
            "ballots": [codec.enc_decrypted_ballot(b) for b in res.ballots],
        },
    )


def decode_result(group: Group, H_E: bytes, data: bytes, what: str = "decryption result") -> DecryptionResult:
    body = decode_message(data, MessageType.RESULT, H_E, what)

    def build() -> DecryptionResult:
        f = codec.fields(body, {"request", "guardians", "tally", "ballots"}, what)
        if not isinstance(f["guardians"], list) or not isinstance(f["ballots"], list):
            raise EncodingError("guardians and ballots must be lists")
        return DecryptionResult(
            _bytes(f["request"], "request", 32),
            tuple(_int(g, "guardian", 1) for g in f["guardians"]),
            codec.dec_decrypted_tally(group, f["tally"]),
            tuple(codec.dec_decrypted_ballot(group, b) for b in f["ballots"]),
        )

    result: DecryptionResult = _guard(what, build)
    return result


# ---------------------------------------------------------------------------------------------------
# directories
# ---------------------------------------------------------------------------------------------------


def _file_id(ballot_id: str) -> str:
    """A file name for a ballot id (ids are arbitrary text): a readable prefix and a hash."""
    safe = re.sub(r"[^A-Za-z0-9_.-]", "_", ballot_id)[:40]
    return f"{safe}-{hashlib.sha256(ballot_id.encode()).hexdigest()[:16]}"


class ElectionDir:
    """The shared election directory (specs/11-cli.md §Election directory)::

    parameters.msgpack, manifest.json      official create
    trustees/<i>/public-keys.msgpack       trustee keygen
    trustees/<i>/shares/for-<ℓ>.msgpack    trustee shares
    trustees/<i>/share-check.msgpack       trustee check
    trustees/<i>/reveals.msgpack           trustee answer
    trustees/<i>/key-confirmation.msgpack  trustee finalize
    context.msgpack                        official open
    devices/<name>.msgpack                 voter encrypt (chain state)
    ballots/<id>.msgpack                   voter cast / challenge
    challenged/<id>.msgpack                voter challenge (released nonce)
    tally/request.msgpack                  official tally
    trustees/<i>/partial-decryption.msgpack  trustee decrypt
    tally/challenges/<i>.msgpack           official decrypt-challenge
    trustees/<i>/decryption-response.msgpack trustee respond
    tally/result.msgpack                   official combine
    """

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)

    def __repr__(self) -> str:
        return f"ElectionDir({str(self.path)!r})"

    # paths
    @property
    def parameters_file(self) -> Path:
        return self.path / "parameters.msgpack"

    @property
    def manifest_file(self) -> Path:
        return self.path / "manifest.json"

    @property
    def context_file(self) -> Path:
        return self.path / "context.msgpack"

    @property
    def request_file(self) -> Path:
        return self.path / "tally" / "request.msgpack"

    @property
    def result_file(self) -> Path:
        return self.path / "tally" / "result.msgpack"

    def trustee(self, i: int) -> Path:
        return self.path / "trustees" / str(i)

    def public_keys_file(self, i: int) -> Path:
        return self.trustee(i) / "public-keys.msgpack"

    def share_file(self, i: int, ell: int) -> Path:
        return self.trustee(i) / "shares" / f"for-{ell}.msgpack"

    def share_check_file(self, ell: int) -> Path:
        return self.trustee(ell) / "share-check.msgpack"

    def reveals_file(self, i: int) -> Path:
        return self.trustee(i) / "reveals.msgpack"

    def confirmation_file(self, i: int) -> Path:
        return self.trustee(i) / "key-confirmation.msgpack"

    def partial_file(self, i: int) -> Path:
        return self.trustee(i) / "partial-decryption.msgpack"

    def challenge_file(self, i: int) -> Path:
        return self.path / "tally" / "challenges" / f"{i}.msgpack"

    def response_file(self, i: int) -> Path:
        return self.trustee(i) / "decryption-response.msgpack"

    def device_file(self, name: str) -> Path:
        return self.path / "devices" / f"{_file_id(name)}.msgpack"

    def ballot_file(self, ballot_id: str) -> Path:
        return self.path / "ballots" / f"{_file_id(ballot_id)}.msgpack"

    def opening_file(self, ballot_id: str) -> Path:
        return self.path / "challenged" / f"{_file_id(ballot_id)}.msgpack"

    # helpers
    def exists(self, path: Path) -> bool:
        return path.is_file()

    def write(self, path: Path, data: bytes) -> None:
        write_atomic(path, data)

    def read(self, path: Path) -> bytes:
        return read_bytes(path)

    def read_all(self, paths: Sequence[Path]) -> list[tuple[str, bytes]]:
        """``(file name, bytes)`` of each file: a consistent snapshot when read under the directory's
        lock, decoded after it is released."""
        return [(str(p), read_bytes(p)) for p in paths]

    def remove(self, path: Path) -> None:
        path.unlink(missing_ok=True)

    def ballot_files(self) -> list[Path]:
        d = self.path / "ballots"
        return sorted(d.glob("*.msgpack")) if d.is_dir() else []

    def opening_files(self) -> list[Path]:
        d = self.path / "challenged"
        return sorted(d.glob("*.msgpack")) if d.is_dir() else []

    def device_files(self) -> list[Path]:
        d = self.path / "devices"
        return sorted(d.glob("*.msgpack")) if d.is_dir() else []

    def is_election(self) -> bool:
        return self.parameters_file.is_file()

    def create(self, params: ElectionParameters) -> None:
        """Write the parameters and the canonical manifest; refuses a directory already in use."""
        if self.path.exists() and any(self.path.iterdir()):
            raise MessageError(f"{self.path} is not empty")
        write_atomic(self.parameters_file, encode_parameters(params))
        write_atomic(self.manifest_file, params.manifest.raw)

    def parameters(self) -> ElectionParameters:
        if not self.parameters_file.is_file():
            raise MessageError(
                f"{self.path} is not an election directory (run `e2evote official create` first)"
            )
        return decode_parameters(read_bytes(self.parameters_file), str(self.parameters_file))

    def public_keys(self, params: ElectionParameters) -> tuple[list[GuardianPublicKeys], list[int]]:
        """The guardians' published public keys in index order, and the indices not published yet;
        a file holding another guardian's keys is a :class:`MessageError`."""
        pubs: list[GuardianPublicKeys] = []
        missing: list[int] = []
        for j in range(1, params.n + 1):
            path = self.public_keys_file(j)
            if not self.exists(path):
                missing.append(j)
                continue
            pk = decode_public_keys(params.group, params.H_B, self.read(path), str(path))
            if pk.i != j:
                raise MessageError(f"{path} holds the keys of guardian {pk.i}, not {j}")
            pubs.append(pk)
        return pubs, missing

    def context(
        self, params: ElectionParameters | None = None
    ) -> tuple[ElectionContext, tuple[GuardianPublicKeys, ...]]:
        params = params if params is not None else self.parameters()
        if not self.context_file.is_file():
            raise MessageError("the election is not open yet (run `e2evote official open` first)")
        return decode_context(params, read_bytes(self.context_file), str(self.context_file))

    def iter_ballots(self, group: Group, H_E: bytes) -> Iterator[SubmittedBallot]:
        for p in self.ballot_files():
            yield decode_submitted_ballot(group, H_E, read_bytes(p), str(p))

    def iter_ballot_trees(self, H_E: bytes) -> Iterator[tuple[str, dict[str, Any]]]:
        """(file name, encoded ballot tree) of every ballot in the box, the envelope checked but the
        ballot not decoded: the ballot box's checks across ballots (V7.C, V7.H) compare bytes with a
        validated new ballot: ~0.09 ms a stored ballot against 6-8 ms to decode it (modp-4096, nine
        selections)."""
        for p in self.ballot_files():
            body = decode_message(read_bytes(p), MessageType.BALLOT, H_E, str(p))
            tree = body.get("ballot")
            if not isinstance(tree, dict):
                raise EncodingError(f"{p}: not a ballot")
            yield str(p), tree


# ---------------------------------------------------------------------------------------------------
# trustee directory and keystore
# ---------------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class TrusteeState:
    """The trustee's public progress (no secrets): which steps are done, for ordering checks."""

    i: int
    steps: tuple[str, ...]
    request: bytes | None = None
    """digest of the decryption request with outstanding nonces"""
    pinned: bytes | None = None
    """digest of the first decryption request this guardian committed to (specs/06-decryption.md
    §4.1: one request per election, unless the trustee accepts a new one explicitly)"""
    keys: bytes | None = None
    """the guardians' keys fingerprint confirmed at ``trustee shares`` (specs/06-ceremony.md §5.1):
    every later step refuses public keys with another fingerprint"""


class TrusteeDir:
    """A trustee's private directory: ``keystore.e2evote-key`` (0600) and ``state.msgpack``."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)

    def __repr__(self) -> str:
        return f"TrusteeDir({str(self.path)!r})"

    @property
    def keystore_file(self) -> Path:
        return self.path / "keystore.e2evote-key"

    @property
    def state_file(self) -> Path:
        return self.path / "state.msgpack"

    def exists(self) -> bool:
        return self.state_file.is_file()

    def read_state(self, H_B: bytes) -> TrusteeState:
        if not self.state_file.is_file():
            raise MessageError(f"{self.path} is not a trustee directory (run `e2evote trustee keygen` first)")
        what = str(self.state_file)
        body = decode_message(read_bytes(self.state_file), MessageType.TRUSTEE_STATE, H_B, what)

        def build() -> TrusteeState:
            # "pinned" and "keys" are absent from the state files of earlier versions
            f = codec.fields(body, {"i", "steps", "request"}, what, optional={"pinned", "keys"})
            if not isinstance(f["steps"], list) or not all(isinstance(s, str) for s in f["steps"]):
                raise EncodingError("steps must be a list of strings")
            req = None if f["request"] is None else _bytes(f["request"], "request", 32)
            raw = f.get("pinned")
            pinned = None if raw is None else _bytes(raw, "pinned", 32)
            keys = None if f.get("keys") is None else _bytes(f["keys"], "keys", 32)
            return TrusteeState(_int(f["i"], "i", 1), tuple(f["steps"]), req, pinned, keys)

        result: TrusteeState = _guard(what, build)
        return result

    def write_state(self, H_B: bytes, st: TrusteeState) -> None:
        write_atomic(
            self.state_file,
            encode_message(
                MessageType.TRUSTEE_STATE,
                H_B,
                {
                    "i": st.i,
                    "steps": list(st.steps),
                    "request": st.request,
                    "pinned": st.pinned,
                    "keys": st.keys,
                },
            ),
        )


@dataclass(frozen=True, slots=True)
class PendingNonces:
    """The secret nonces u_i of an unanswered round-1 decryption, per section."""

    request: bytes
    sections: Mapping[str, tuple[Scalar, ...]] = field(repr=False)


@dataclass(frozen=True, slots=True)
class TrusteeSecrets:
    """Everything secret a trustee keeps between commands. Never printed (repr shows no secret)."""

    group: Group
    H_B: bytes
    i: int
    coefficients: tuple[Scalar, ...] = field(repr=False)
    """a_{i,0..k-1} (eq. 9)"""
    public: GuardianPublicKeys = field(repr=False)
    """this guardian's published commitments and proofs"""
    share_nonces: Mapping[int, Scalar] = field(default_factory=dict, repr=False)
    """ξ_{i,ℓ} used to encrypt P_i(ℓ) (eq. 18), kept to answer complaints"""
    P_i: Scalar | None = field(default=None, repr=False)
    """P(i), the key share (eq. 22)"""
    pending: PendingNonces | None = field(default=None, repr=False)

    def to_bytes(self) -> bytes:
        return pack(
            {
                "group": self.group.name,
                "H_B": self.H_B,
                "i": self.i,
                "coefficients": [a.to_bytes() for a in self.coefficients],
                "public": codec.enc_guardian(self.public),
                "share_nonces": [[ell, x.to_bytes()] for ell, x in sorted(self.share_nonces.items())],
                "P_i": None if self.P_i is None else self.P_i.to_bytes(),
                "pending": None
                if self.pending is None
                else {
                    "request": self.pending.request,
                    "sections": {n: [u.to_bytes() for u in us] for n, us in self.pending.sections.items()},
                },
            }
        )

    @staticmethod
    def from_bytes(data: bytes) -> TrusteeSecrets:
        f = codec.fields(
            unpack(data),
            {"group", "H_B", "i", "coefficients", "public", "share_nonces", "P_i", "pending"},
            "keystore",
        )
        g = group_by_name(_str(f["group"], "group"))
        if not isinstance(f["coefficients"], list) or not isinstance(f["share_nonces"], list):
            raise EncodingError("keystore: malformed secrets")
        pending = None
        if f["pending"] is not None:
            pf = codec.fields(f["pending"], {"request", "sections"}, "keystore.pending")
            if not isinstance(pf["sections"], dict):
                raise EncodingError("keystore: malformed pending nonces")
            pending = PendingNonces(_bytes(pf["request"], "request", 32), _scalar_sections(g, pf["sections"]))
        return TrusteeSecrets(
            g,
            _bytes(f["H_B"], "H_B", 32),
            _int(f["i"], "i", 1),
            tuple(_scalar(g, a, "coefficient") for a in f["coefficients"]),
            codec.dec_guardian(g, f["public"]),
            {_int(e[0], "ell", 1): _scalar(g, e[1], "xi") for e in f["share_nonces"]},
            None if f["P_i"] is None else _scalar(g, f["P_i"], "P_i"),
            pending,
        )


def _kdf_params() -> tuple[int, int]:
    if os.environ.get("E2EVOTE_TEST_FAST_KDF") == "1":
        return _FAST_KDF
    return KDF_OPSLIMIT, KDF_MEMLIMIT


def _derive(passphrase: str, salt: bytes, ops: int, mem: int) -> bytes:
    if not passphrase:
        raise KeystoreError("the passphrase must not be empty")
    key: bytes = nacl.pwhash.argon2id.kdf(
        nacl.bindings.crypto_aead_xchacha20poly1305_ietf_KEYBYTES,
        passphrase.encode("utf-8"),
        salt,
        opslimit=ops,
        memlimit=mem,
    )
    return key


class Keystore:
    """A passphrase-encrypted file of :class:`TrusteeSecrets` (specs/11-cli.md §Keystore).

    File: canonical msgpack ``{format, kdf: {alg, ops, mem, salt}, aead, nonce, ct}``; ``ct`` is
    XChaCha20-Poly1305 under Argon2id(passphrase, salt) with the header (everything but ``ct``,
    canonically packed) as associated data. Written atomically with mode 0600; every save uses a
    fresh nonce.
    """

    __slots__ = ("path", "_key", "_kdf")

    def __init__(self, path: Path, key: bytes, kdf: dict[str, Any]) -> None:
        self.path = path
        self._key = key
        self._kdf = kdf

    def __repr__(self) -> str:
        return f"Keystore({str(self.path)!r})"

    @staticmethod
    def create(path: str | os.PathLike[str], passphrase: str, secrets_: TrusteeSecrets) -> Keystore:
        p = Path(path)
        if p.exists():
            raise KeystoreError(f"{p} already exists; refusing to overwrite a key file")
        kdf, key = _new_key(passphrase)
        ks = Keystore(p, key, kdf)
        ks.save(secrets_)
        return ks

    @staticmethod
    def open(path: str | os.PathLike[str], passphrase: str) -> tuple[Keystore, TrusteeSecrets]:
        p = Path(path)
        if not p.is_file():
            raise KeystoreError(f"{p}: no key file (run `e2evote trustee keygen` first)")
        kdf, key, plain = _open_sealed(
            read_bytes(p, 16 * 1024 * 1024), passphrase, KEYSTORE_FORMAT, None, str(p)
        )
        try:
            secrets_ = TrusteeSecrets.from_bytes(plain)
        except (E2EVoteError, ValueError) as exc:
            raise KeystoreError(f"{p}: key file content is malformed") from exc
        return Keystore(p, key, kdf), secrets_

    def save(self, secrets_: TrusteeSecrets) -> None:
        header = {"format": KEYSTORE_FORMAT, "kdf": self._kdf, "aead": KEYSTORE_AEAD}
        write_atomic(self.path, _encrypt(self._key, header, secrets_.to_bytes()), private=True)


def _new_key(passphrase: str) -> tuple[dict[str, Any], bytes]:
    """A fresh KDF header (this process's cost, a new salt) and the key it derives from ``passphrase``."""
    ops, mem = _kdf_params()
    salt = secrets.token_bytes(nacl.pwhash.argon2id.SALTBYTES)
    return {"alg": KEYSTORE_KDF, "ops": ops, "mem": mem, "salt": salt}, _derive(passphrase, salt, ops, mem)


def _encrypt(key: bytes, header: Mapping[str, Any], plaintext: bytes) -> bytes:
    """The file ``header + {nonce, ct}``: ``plaintext`` under XChaCha20-Poly1305 with a fresh nonce and
    the canonically packed header (nonce included, ``ct`` not) as associated data."""
    nonce = secrets.token_bytes(nacl.bindings.crypto_aead_xchacha20poly1305_ietf_NPUBBYTES)
    full = {**header, "nonce": nonce}
    ct = nacl.bindings.crypto_aead_xchacha20poly1305_ietf_encrypt(plaintext, pack(full), nonce, key)
    return pack({**full, "ct": ct})


def _open_sealed(
    data: bytes, passphrase: str, fmt: str, kind: str | None, where: str
) -> tuple[dict[str, Any], bytes, bytes]:
    """(kdf header, derived key, plaintext) of a keystore (``kind`` None) or sealed file. The KDF
    cost is bounded before deriving; any header or authentication failure is a
    :class:`WrongPassphraseError`, a sealed file of another kind a :class:`KeystoreError`."""
    names = {"format", "kdf", "aead", "nonce", "ct"} | (set() if kind is None else {"kind"})
    what = "key file" if kind in (None, "board-key") else "sealed file"
    try:
        f = codec.fields(unpack(data), names, "sealed file")
        kdf = codec.fields(f["kdf"], {"alg", "ops", "mem", "salt"}, "sealed file kdf")
        if f["format"] != fmt or f["aead"] != KEYSTORE_AEAD or kdf["alg"] != KEYSTORE_KDF:
            raise EncodingError(f"unknown format (expected {fmt})")
        ops = _int(kdf["ops"], "ops", nacl.pwhash.argon2id.OPSLIMIT_MIN, _KDF_MAX[0])
        mem = _int(kdf["mem"], "mem", nacl.pwhash.argon2id.MEMLIMIT_MIN, _KDF_MAX[1])
        salt = _bytes(kdf["salt"], "salt", nacl.pwhash.argon2id.SALTBYTES)
        nonce = _bytes(f["nonce"], "nonce", nacl.bindings.crypto_aead_xchacha20poly1305_ietf_NPUBBYTES)
        ct = _bytes(f["ct"], "ct")
        if kind is not None:
            _str(f["kind"], "kind")
    except EncodingError as exc:
        raise WrongPassphraseError(where, what) from exc
    if kind is not None and f["kind"] != kind:
        if f["kind"] not in SEALED_KINDS:  # unauthenticated: never echoed
            raise WrongPassphraseError(where, what)
        raise KeystoreError(f"{where}: holds a sealed {f['kind']!r}, not a {kind!r}")
    key = _derive(passphrase, salt, ops, mem)
    aad = pack({k: v for k, v in f.items() if k != "ct"})
    try:
        plain: bytes = nacl.bindings.crypto_aead_xchacha20poly1305_ietf_decrypt(ct, aad, nonce, key)
    except nacl.exceptions.CryptoError:
        raise WrongPassphraseError(where, what) from None
    return dict(kdf), key, plain


def seal(kind: str, passphrase: str, plaintext: bytes) -> bytes:
    """A sealed file (specs/11-cli.md §4.1) of ``kind`` holding ``plaintext``: encrypted under
    Argon2id(passphrase) with a fresh salt and nonce; ``kind`` is authenticated with it."""
    if kind not in SEALED_KINDS:
        raise ValueError(f"unknown sealed-file kind {kind!r}")
    kdf, key = _new_key(passphrase)
    return _encrypt(
        key, {"format": SEALED_FORMAT, "kind": kind, "kdf": kdf, "aead": KEYSTORE_AEAD}, plaintext
    )


def unseal(data: bytes, kind: str, passphrase: str, where: str = "sealed file") -> bytes:
    """The plaintext of a sealed file of ``kind`` (:func:`seal`); :class:`WrongPassphraseError` if the
    passphrase is wrong or the file was changed, :class:`KeystoreError` if it is of another kind."""
    return _open_sealed(data, passphrase, SEALED_FORMAT, kind, where)[2]


def is_sealed(data: bytes) -> bool:
    """Whether ``data`` is a sealed file (of any kind); says nothing of its integrity."""
    try:
        obj = unpack(data)
    except EncodingError:
        return False
    return isinstance(obj, dict) and obj.get("format") == SEALED_FORMAT
