"""Import of egk (electionguard-kotlin-multiplatform) election records into e2evote's model
(specs/egk-compat.md §9 layout, §"Import into e2evote" mapping).

An egk record is a directory of JSON files (egk-docs/ElectionRecordJson.md)::

    constants.json  manifest.json  election_config.json  election_initialized.json
    encrypted_ballots/<device>/eballot-<ballotId>.json   (cast and challenged ballots)
    encrypted_tally.json  tally.json
    challenged_ballots/dballot-<ballotId>.json           (guardian decryptions of challenged ballots)

:func:`read_egk_record` loads it into an :class:`~e2evote.record.model.ElectionRecord` with the egk
hashing dialect (:data:`e2evote.hashing.EGK`). Conventions follow e2evote.record.native: problems in
the data become :class:`~e2evote.record.model.RecordIssue` entries naming the object (``R2.A`` for
record files, ``R2.B`` for ballots — ``V5.A``/``V5.C`` when a ballot's element is not a group member or
a scalar is not in Z_q, as the native reader does — and ``V1.B``-``V1.E`` for foreign group constants);
only a record whose election parameters cannot be built raises :class:`~e2evote.errors.RecordError`.

Every group element is validated (subgroup membership, through ``Group.elements_batch`` / ``Group.element``)
and every scalar decoded strictly (``Group.scalar_from_bytes``). Ballots are streamed: the reader
pre-scans each ballot file once (structure, hex, manifest labels; no group arithmetic) to report
structural problems as issues, and :attr:`ElectionRecord.ballots` re-reads the files lazily in sorted
path order, validating every element; a ballot whose elements fail validation is yielded as a
:class:`~e2evote.record.model.RecordIssue` naming the object, and the stream goes on.
"""

from __future__ import annotations

import functools
import json
import os
import stat
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar, cast

from e2evote.elgamal import Ciphertext, HashedCiphertext, decrypt_contest_data
from e2evote.encoding import hex_to_fixed, read_regular_file
from e2evote.errors import E2EVoteError, EncodingError, ManifestError, RecordError
from e2evote.groups import STANDARD
from e2evote.groups.base import Element, Group, Scalar
from e2evote.hashing import EGK
from e2evote.proofs.chaum_pedersen import DecryptionProof
from e2evote.proofs.range import RangeProof
from e2evote.proofs.schnorr import SchnorrProof
from e2evote.protocol.ballot import (
    BallotState,
    ContestStatus,
    EncryptedBallot,
    EncryptedContest,
    EncryptedSelection,
)
from e2evote.protocol.ceremony import GuardianPublicKeys
from e2evote.protocol.election import ElectionParameters
from e2evote.protocol.manifest import MAX_MANIFEST_BYTES, BallotStyle, Contest, Manifest, Option
from e2evote.protocol.tally import (
    DecryptedBallot,
    DecryptedBallotContest,
    DecryptedContest,
    DecryptedContestData,
    DecryptedSelection,
    DecryptedTally,
    EncryptedTally,
)
from e2evote.record.model import ChallengedBallot, ElectionRecord, RecordIssue, StatedHashes

__all__ = [
    "read_egk_record",
    "is_egk_record",
    "EGK_BALLOT_STATES",
    "EGK_CONTEST_STATUS",
    "EgkContestData",
]

GROUP: Group = cast("Group", STANDARD)
"""egk records of the EG 2.0 era use the standard 4096-bit group only"""
_P, _Q, _R, _G = int(STANDARD.p), int(STANDARD.q), int(STANDARD.r), int(STANDARD.g)

#: egk BallotState -> e2evote state ("UNKNOWN", a ballot neither cast nor challenged, is refused)
EGK_BALLOT_STATES: Mapping[str, BallotState] = {
    "CAST": BallotState.CAST,
    "SPOILED": BallotState.CHALLENGED,
    "CHALLENGED": BallotState.CHALLENGED,
}

#: egk ContestDataStatus names -> e2evote status codes (same numbering as egk's protobuf enum)
EGK_CONTEST_STATUS: Mapping[str, int] = {
    "normal": ContestStatus.NORMAL,
    "null_vote": ContestStatus.NULL_VOTE,
    "over_vote": ContestStatus.OVERVOTE,
    "under_vote": ContestStatus.UNDERVOTE,
}

MAX_FILE = 256 * 1024 * 1024
MAX_BALLOT_FILE = 64 * 1024 * 1024
MAX_ITEMS = 100_000
MAX_TERMS = 1001
MAX_BAUX = 4096
MAX_DATA = 64 * 32
MAX_INDEX = 2**31 - 1

BALLOT_DIR = "encrypted_ballots"
CHALLENGED_DIR = "challenged_ballots"


# ---------------------------------------------------------------------------------------------------
# errors and JSON primitives
# ---------------------------------------------------------------------------------------------------


class _Bad(EncodingError):
    """A value of the record that does not decode; ``obj`` names it as the verifier reports it."""

    def __init__(self, obj: str, detail: str, kind: str = "") -> None:
        self.obj = obj
        self.detail = detail
        self.kind = kind
        """"element" (not a group member), "scalar" (not in Z_q) or "" (malformed)"""
        super().__init__(f"{obj}: {detail}")

    @property
    def ballot_step(self) -> str:
        """As e2evote.record.native: failed membership is V5.A, a scalar out of range V5.C, else R2.B."""
        return {"element": "V5.A", "scalar": "V5.C"}.get(self.kind, "R2.B")


def _no_constant(name: str) -> Any:
    raise ValueError(f"JSON constant {name} is not allowed")


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k, v in pairs:
        if k in out:
            raise ValueError(f"duplicate key {k!r}")
        out[k] = v
    return out


def _read_file(path: Path, name: str, max_bytes: int = MAX_FILE) -> bytes:
    """A record file: a regular file (not a link, FIFO or device) of at most ``max_bytes`` bytes."""
    try:
        return read_regular_file(path, max_bytes)
    except FileNotFoundError:
        raise _Bad(name, "file is missing") from None
    except (EncodingError, OSError) as exc:
        raise _Bad(name, f"cannot read: {str(exc).removeprefix(os.fspath(path) + ': ')}") from None


def _load_json(path: Path, name: str, max_bytes: int = MAX_FILE) -> Any:
    """Strict JSON: UTF-8, no NaN/Infinity, no duplicate keys, bounded size, a regular file."""
    raw = _read_file(path, name, max_bytes)
    try:
        return json.loads(raw.decode("utf-8"), parse_constant=_no_constant, object_pairs_hook=_unique_keys)
    except RecursionError:
        raise _Bad(name, "not valid JSON: nested too deeply") from None
    except ValueError as exc:  # UnicodeDecodeError, JSONDecodeError, duplicate keys, huge integers
        raise _Bad(name, f"not valid JSON: {str(exc)[:200]}") from None


def _map(obj: Any, what: str) -> Mapping[str, Any]:
    if not isinstance(obj, dict):
        raise _Bad(what, "expected a JSON object")
    return obj


def _get(obj: Mapping[str, Any], key: str, what: str) -> Any:
    if key not in obj:
        raise _Bad(what, f"missing field {key!r}")
    return obj[key]


def _list(obj: Any, what: str, max_items: int = MAX_ITEMS) -> list[Any]:
    if not isinstance(obj, list) or len(obj) > max_items:
        raise _Bad(what, f"expected a list of at most {max_items} items")
    return obj


def _str(obj: Any, what: str, max_len: int = 4096) -> str:
    if not isinstance(obj, str) or len(obj) > max_len:
        raise _Bad(what, f"expected a string of at most {max_len} characters")
    return obj


def _int(obj: Any, what: str, lo: int = 0, hi: int = 2**63 - 1) -> int:
    if isinstance(obj, bool) or not isinstance(obj, int) or not lo <= obj <= hi:
        raise _Bad(what, f"expected an integer in [{lo}, {hi}], got {obj!r}"[:200])
    return obj


def _bool(obj: Any, what: str) -> bool:
    if not isinstance(obj, bool):
        raise _Bad(what, "expected true or false")
    return obj


def _hex(text: Any, width: int, what: str) -> bytes:
    """egk's fixed-width upper-case hex (UInt256, ElementModQ, ElementModP), via hex_to_fixed."""
    try:
        return hex_to_fixed(text, width)
    except EncodingError as exc:
        raise _Bad(what, str(exc)) from exc


def _hex_var(text: Any, what: str, max_len: int) -> bytes:
    """egk's byte arrays (code_baux, c1): hex of any even length, "" allowed."""
    if not isinstance(text, str) or len(text) > 2 * max_len or len(text) % 2:
        raise _Bad(what, f"expected hex of an even number of digits, at most {max_len} bytes")
    if text.strip("0123456789abcdefABCDEF"):  # bytes.fromhex alone would skip whitespace
        raise _Bad(what, "not hex")
    return bytes.fromhex(text)


def _h32(text: Any, what: str) -> bytes:
    return _hex(text, 32, what)


def _scalar(text: Any, what: str) -> Scalar:
    try:
        return GROUP.scalar_from_bytes(_hex(text, GROUP.scalar_bytes, what))
    except _Bad:
        raise
    except EncodingError as exc:
        raise _Bad(what, str(exc), "scalar") from exc


# ---------------------------------------------------------------------------------------------------
# element validation: one batched subgroup test per object tree
# ---------------------------------------------------------------------------------------------------


ElemFn = Callable[[Any, str], Element]
_T = TypeVar("_T")


class _Collect:
    """First pass: range-checks every element and remembers its bytes; returns placeholders."""

    def __init__(self) -> None:
        self.blobs: list[bytes] = []
        self.names: list[str] = []

    def __call__(self, text: Any, what: str) -> Element:
        raw = _hex(text, GROUP.element_bytes, what)
        x = int.from_bytes(raw, "big")
        if not 0 < x < _P:
            raise _Bad(what, f"value not in [1, p) for {GROUP.name}", "element")
        self.blobs.append(raw)
        self.names.append(what)
        return GROUP.identity()

    def validate(self) -> Mapping[bytes, Element]:
        """Batch-validate the collected elements; on failure name the first non-member."""
        try:
            elems = GROUP.elements_batch(self.blobs)
        except EncodingError:
            for raw, what in zip(self.blobs, self.names, strict=True):
                try:
                    GROUP.element(raw)
                except EncodingError as exc:
                    raise _Bad(what, str(exc), "element") from exc
            raise
        return dict(zip(self.blobs, elems, strict=True))


def _lookup(valid: Mapping[bytes, Element]) -> ElemFn:
    def elem(text: Any, what: str) -> Element:
        return valid[_hex(text, GROUP.element_bytes, what)]

    return elem


def _validated(build: Callable[[ElemFn], _T]) -> _T:
    """Run ``build`` twice: once collecting and validating every element, once with the elements."""
    col = _Collect()
    build(col)
    return build(_lookup(col.validate()))


def _ct(obj: Any, elem: ElemFn, what: str) -> Ciphertext:
    m = _map(obj, what)
    return Ciphertext(elem(_get(m, "pad", what), what + " pad"), elem(_get(m, "data", what), what + " data"))


def _range_proof(obj: Any, what: str) -> RangeProof:
    m = _map(obj, what)
    terms = _list(_get(m, "proofs", what), what, MAX_TERMS)
    if not terms:
        raise _Bad(what, "range proof has no terms")
    cs: list[Scalar] = []
    vs: list[Scalar] = []
    for j, t in enumerate(terms):
        tw = f"{what} term {j}"
        tm = _map(t, tw)
        cs.append(_scalar(_get(tm, "challenge", tw), tw + " challenge"))
        vs.append(_scalar(_get(tm, "response", tw), tw + " response"))
    return RangeProof(tuple(cs), tuple(vs))


def _dproof(obj: Any, what: str) -> DecryptionProof:
    m = _map(obj, what)
    return DecryptionProof(
        _h32(_get(m, "challenge", what), what + " challenge"),
        _scalar(_get(m, "response", what), what + " response"),
    )


def _hashed_ct(obj: Any, elem: ElemFn, what: str) -> HashedCiphertext:
    m = _map(obj, what)
    C1 = _hex_var(_get(m, "c1", what), what + " c1", MAX_DATA)
    n = _int(_get(m, "numBytes", what), what + " numBytes", 1, MAX_DATA)
    if n != len(C1):
        raise _Bad(what, f"numBytes {n} but c1 has {len(C1)} bytes")
    return HashedCiphertext(
        elem(_get(m, "c0", what), what + " c0"), C1, _h32(_get(m, "c2", what), what + " c2")
    )


# ---------------------------------------------------------------------------------------------------
# manifest, configuration, guardians
# ---------------------------------------------------------------------------------------------------


def _manifest(raw: bytes, config: Mapping[str, Any]) -> Manifest:
    """egk manifest.json -> Manifest; ``raw`` stays the exact file (H_M hashes it, egk-compat §2)."""
    if len(raw) > MAX_MANIFEST_BYTES:
        raise ManifestError("manifest too large")
    try:
        doc = json.loads(raw.decode("utf-8"), parse_constant=_no_constant, object_pairs_hook=_unique_keys)
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise ManifestError(f"manifest.json is not valid JSON: {exc}") from exc
    m = _map(doc, "manifest.json")
    contests: list[Contest] = []
    for n, rc in enumerate(_list(_get(m, "contests", "manifest.json"), "manifest contests")):
        cw = f"manifest contest {n}"
        c = _map(rc, cw)
        label = _str(_get(c, "object_id", cw), cw + " object_id")
        cw = f"manifest contest {label}"
        index = _int(_get(c, "sequence_order", cw), cw + " sequence_order", 0, MAX_INDEX)
        L = _int(_get(c, "votes_allowed", cw), cw + " votes_allowed", 1, 1000)
        options: list[Option] = []
        for k, rs in enumerate(_list(_get(c, "ballot_selections", cw), cw + " ballot_selections")):
            sw = f"{cw} selection {k}"
            s = _map(rs, sw)
            options.append(
                Option(
                    _int(_get(s, "sequence_order", sw), sw + " sequence_order", 0, MAX_INDEX),
                    _str(_get(s, "object_id", sw), sw + " object_id"),
                )
            )
        options.sort(key=lambda o: o.index)
        if not options:
            raise ManifestError(f"{cw}: no selections")
        if len({o.index for o in options}) != len(options) or len({o.label for o in options}) != len(options):
            raise ManifestError(f"{cw}: selection sequence_order or object_id repeated")
        district = c.get("electoral_district_id")
        kind = c.get("vote_variation")
        contests.append(
            Contest(
                index=index,
                label=label,
                options=tuple(options),
                option_limit=1,
                contest_limit=L,
                data_blocks=L + 1,
                kind=kind if isinstance(kind, str) and kind else "plurality",
                district=district if isinstance(district, str) else None,
            )
        )
    contests.sort(key=lambda c: c.index)
    if not contests:
        raise ManifestError("manifest has no contests")
    if len({c.index for c in contests}) != len(contests) or len({c.label for c in contests}) != len(contests):
        raise ManifestError("manifest contest sequence_order or object_id repeated")
    styles: list[BallotStyle] = []
    for n, rs in enumerate(_list(m.get("ballot_styles", []), "manifest ballot_styles"), start=1):
        sw = f"manifest ballot style {n}"
        s = _map(rs, sw)
        units = {_str(u, sw + " geopolitical unit") for u in _list(_get(s, "geopolitical_unit_ids", sw), sw)}
        # egk: a style holds the contests whose electoral_district_id is one of its geopolitical units
        styles.append(
            BallotStyle(
                n,
                _str(_get(s, "object_id", sw), sw + " object_id"),
                tuple(sorted(c.index for c in contests if c.district in units)),
            )
        )
    if len({s.label for s in styles}) != len(styles):
        raise ManifestError("manifest ballot style object_id repeated")
    # B_aux,0: a JSON array of byte values (0..255 in records, signed Kotlin bytes in vectors)
    baux0 = bytes(
        _int(b, "election_config baux0", -128, 255) & 0xFF
        for b in _list(config.get("baux0", []), "election_config baux0", MAX_BAUX)
    )
    metadata = config.get("metadata", {})
    return Manifest(
        label=_str(m.get("election_scope_id", "egk"), "manifest election_scope_id"),
        contests=tuple(contests),
        ballot_styles=tuple(styles),
        raw=raw,
        chaining=_bool(
            config.get("chain_confirmation_codes", False), "election_config chain_confirmation_codes"
        ),
        device_info=baux0,
        metadata={k: v for k, v in metadata.items() if isinstance(k, str) and isinstance(v, str)}
        if isinstance(metadata, dict)
        else {},
    )


def _check_constants(d: Path, issues: list[RecordIssue]) -> None:
    """constants.json must be the standard group (V1.B-V1.E)."""
    try:
        c = _map(_load_json(d / "constants.json", "constants.json"), "constants.json")
        for step, key, want in (
            ("V1.B", "large_prime", _P),
            ("V1.C", "small_prime", _Q),
            ("V1.D", "cofactor", _R),
            ("V1.E", "generator", _G),
        ):
            text = _str(_get(c, key, "constants.json"), f"constants.json {key}", 2048)
            try:
                value = int(text, 16)
            except ValueError:
                value = -1
            if value != want:
                issues.append(
                    RecordIssue(step, f"constants.json {key}", f"not the EG 2.0 standard group's {key}")
                )
    except _Bad as exc:
        issues.append(RecordIssue("R2.A", exc.obj, exc.detail))


def _guardian(obj: Any, n: int, elem: ElemFn) -> GuardianPublicKeys:
    what = f"guardian {n}"
    g = _map(obj, what)
    gid = g.get("guardian_id")
    if isinstance(gid, str):
        what = f"guardian {gid}"
    i = _int(_get(g, "x_coordinate", what), what + " x_coordinate", 1, MAX_INDEX)
    Ks: list[Element] = []
    proofs: list[SchnorrProof] = []
    for j, p in enumerate(_list(_get(g, "coefficient_proofs", what), what, 1000)):
        pw = f"{what} coefficient {j}"
        pm = _map(p, pw)
        Ks.append(elem(_get(pm, "public_key", pw), pw + " public_key"))
        proofs.append(
            SchnorrProof(
                _h32(_get(pm, "challenge", pw), pw + " challenge"),
                _scalar(_get(pm, "response", pw), pw + " response"),
            )
        )
    return GuardianPublicKeys(i, tuple(Ks), tuple(proofs))


# ---------------------------------------------------------------------------------------------------
# ballots
# ---------------------------------------------------------------------------------------------------


@dataclass
class _BallotInfo:
    path: Path
    name: str
    ballot_id: str
    state: BallotState
    device: str


@dataclass
class _Context:
    manifest: Manifest
    H_E: bytes
    by_index: Mapping[int, Contest] = field(init=False)

    def __post_init__(self) -> None:
        self.by_index = {c.index: c for c in self.manifest.contests}


def _ballot(
    ctx: _Context, doc: Any, name: str, elem: ElemFn, notes: list[tuple[str, str]] | None
) -> tuple[EncryptedBallot, str, bytes | None]:
    """One eballot file -> (EncryptedBallot, egk state, primary nonce). Hard problems raise
    :class:`_Bad`; soft ones (labels disagreeing with the manifest, election_id) go to ``notes``."""
    b = _map(doc, name)
    bid = _str(_get(b, "ballot_id", name), name + " ballot_id")
    what = f"ballot {bid}"

    def note(obj: str, detail: str) -> None:
        if notes is not None:
            notes.append((obj, detail))

    raw_state = _str(_get(b, "state", what), what + " state")
    state = EGK_BALLOT_STATES.get(raw_state)
    if state is None:
        raise _Bad(what, f"state {raw_state!r} is neither cast nor challenged")
    if _h32(_get(b, "election_id", what), what + " election_id") != ctx.H_E:
        note(what, "election_id is not the record's extended base hash H_E")
    if b.get("is_preencrypt") is True:
        note(what, "pre-encrypted ballot (confirmation code of eq. 95) is not supported")
    nonce_text = b.get("primary_nonce")
    nonce = _h32(nonce_text, what + " primary_nonce") if nonce_text is not None else None
    contests: list[EncryptedContest] = []
    for n, rc in enumerate(_list(_get(b, "contests", what), what + " contests", 10_000)):
        c = _map(rc, f"{what} contest {n}")
        cid = _str(_get(c, "contest_id", f"{what} contest {n}"), f"{what} contest {n} contest_id")
        cw = f"{what} contest {cid}"
        ci = _int(_get(c, "sequence_order", cw), cw + " sequence_order", 0, MAX_INDEX)
        mc = ctx.by_index.get(ci)
        if mc is not None and mc.label != cid:
            note(cw, f"sequence_order {ci} is contest {mc.label!r} in the manifest")
        L = _int(_get(c, "votes_allowed", cw), cw + " votes_allowed", 0, MAX_INDEX)
        if mc is not None and L != mc.contest_limit:
            note(cw, f"votes_allowed {L} but the manifest says {mc.contest_limit}")
        sels: list[EncryptedSelection] = []
        for k, rs in enumerate(_list(_get(c, "selections", cw), cw + " selections", 10_000)):
            s = _map(rs, f"{cw} selection {k}")
            sid = _str(_get(s, "selection_id", f"{cw} selection {k}"), f"{cw} selection {k} selection_id")
            sw = f"{cw} option {sid}"
            oi = _int(_get(s, "sequence_order", sw), sw + " sequence_order", 0, MAX_INDEX)
            if mc is not None and not any(o.index == oi and o.label == sid for o in mc.options):
                note(sw, f"sequence_order {oi} / selection_id do not match the manifest")
            sels.append(
                EncryptedSelection(
                    oi,
                    _ct(_get(s, "encrypted_vote", sw), elem, sw),
                    _range_proof(_get(s, "proof", sw), sw + " proof"),
                )
            )
        cd = c.get("encrypted_contest_data")
        data = None if cd is None else _hashed_ct(cd, elem, cw + " encrypted_contest_data")
        contests.append(
            EncryptedContest(
                ci,
                tuple(sels),
                _range_proof(_get(c, "proof", cw), cw + " proof"),
                _h32(_get(c, "contest_hash", cw), cw + " contest_hash"),
                data,
            )
        )
    ballot = EncryptedBallot(
        ballot_id=bid,
        style=_str(_get(b, "ballot_style_id", what), what + " ballot_style_id"),
        contests=tuple(contests),
        code=_h32(_get(b, "confirmation_code", what), what + " confirmation_code"),
        B_aux=_hex_var(_get(b, "code_baux", what), what + " code_baux", MAX_BAUX),
        state=state,
        device=_str(_get(b, "encrypting_device", what), what + " encrypting_device"),
        timestamp=_int(_get(b, "timestamp", what), what + " timestamp"),
    )
    return ballot, raw_state, nonce


def _placeholder(text: Any, what: str) -> Element:
    """Pre-scan: elements are only range-checked (membership is tested when the ballot is streamed)."""
    raw = _hex(text, GROUP.element_bytes, what)
    if not 0 < int.from_bytes(raw, "big") < _P:
        raise _Bad(what, f"value not in [1, p) for {GROUP.name}")
    return GROUP.identity()


def _ballot_only(ctx: _Context, doc: Any, name: str, elem: ElemFn) -> EncryptedBallot:
    return _ballot(ctx, doc, name, elem, None)[0]


def _stream(ctx: _Context, files: Sequence[tuple[Path, str]]) -> Iterator[EncryptedBallot | RecordIssue]:
    """Read the ballot files one by one, validating every element; a ballot that does not decode is
    yielded as a RecordIssue naming the object (the stream goes on with the next file)."""
    for path, name in files:
        try:
            doc = _load_json(path, name, MAX_BALLOT_FILE)
            yield _validated(functools.partial(_ballot_only, ctx, doc, name))
        except _Bad as exc:
            yield RecordIssue(exc.ballot_step, exc.obj, f"{exc.detail} ({name}; ballot not verified)")
        except E2EVoteError as exc:
            yield RecordIssue("R2.B", name, f"{exc} (ballot not verified)")


def _entries(
    d: Path, sub: str, prefix: str, issues: list[RecordIssue], recurse: bool
) -> list[tuple[Path, str]]:
    """The regular files ``<prefix>*.json`` under ``d/sub`` (in its subdirectories if ``recurse``),
    sorted by path. Links are not followed: a symbolic link, FIFO, device or socket there (or ``sub``
    itself being a link) is an R2.A issue naming it, and is not read."""
    out: list[tuple[Path, str]] = []
    stack = [d / sub]
    while stack:
        here = stack.pop()
        rel = here.relative_to(d).as_posix()
        try:
            mode = os.lstat(here).st_mode
            if stat.S_ISDIR(mode):
                with os.scandir(here) as it:
                    entries = [Path(e.path) for e in it]
            else:
                entries = []
        except FileNotFoundError:
            continue
        except OSError as exc:
            issues.append(RecordIssue("R2.A", rel, f"cannot be listed ({exc.strerror}); not read"))
            continue
        if not stat.S_ISDIR(mode):
            if here == d / sub and stat.S_ISREG(mode):
                continue  # not a directory: nothing to read (as if absent)
            issues.append(RecordIssue("R2.A", rel, "not a regular file or directory; not read"))
            continue
        for path in entries:
            name = path.relative_to(d).as_posix()
            try:
                mode = os.lstat(path).st_mode
            except OSError:
                issues.append(RecordIssue("R2.A", name, "cannot be examined; not read"))
                continue
            if stat.S_ISDIR(mode):
                if recurse:
                    stack.append(path)
            elif stat.S_ISREG(mode):
                if path.name.startswith(prefix) and path.name.endswith(".json"):
                    out.append((path, name))
            else:
                issues.append(
                    RecordIssue("R2.A", name, "not a regular file (a link, FIFO or device); not read")
                )
    return sorted(out, key=lambda t: t[1])


def _ballot_files(d: Path, issues: list[RecordIssue]) -> list[tuple[Path, str]]:
    return _entries(d, BALLOT_DIR, "eballot-", issues, recurse=True)


def _prescan(
    ctx: _Context, files: Sequence[tuple[Path, str]], issues: list[RecordIssue]
) -> list[_BallotInfo]:
    infos: list[_BallotInfo] = []
    for path, name in files:
        notes: list[tuple[str, str]] = []
        try:
            doc = _load_json(path, name, MAX_BALLOT_FILE)
            ballot, _, _ = _ballot(ctx, doc, name, _placeholder, notes)
        except _Bad as exc:
            issues.append(RecordIssue(exc.ballot_step, exc.obj, f"{exc.detail} ({name}; ballot not read)"))
            continue
        except E2EVoteError as exc:
            issues.append(RecordIssue("R2.B", name, f"{exc} (ballot not read)"))
            continue
        for obj, detail in notes:
            issues.append(RecordIssue("R2.B", obj, detail))
        infos.append(_BallotInfo(path, name, ballot.ballot_id, ballot.state, ballot.device))
    return infos


# ---------------------------------------------------------------------------------------------------
# tallies and decrypted challenged ballots
# ---------------------------------------------------------------------------------------------------


def _encrypted_tally(
    ctx: _Context, doc: Any, issues: list[RecordIssue]
) -> tuple[EncryptedTally, tuple[str, ...], dict[tuple[int, int], bytes]]:
    """encrypted_tally.json -> (EncryptedTally, cast_ballot_ids, raw (A,B) bytes per (ci, oi))."""
    name = "encrypted_tally.json"
    t = _map(doc, name)
    eid = t.get("election_id")
    if eid is not None and _h32(eid, name + " election_id") != ctx.H_E:
        issues.append(RecordIssue("R2.A", name, "election_id is not the record's extended base hash H_E"))
    cast = tuple(_str(x, name + " cast_ballot_ids") for x in _list(_get(t, "cast_ballot_ids", name), name))
    if len(set(cast)) != len(cast):
        issues.append(RecordIssue("R2.A", name + " cast_ballot_ids", "a ballot id is listed twice"))
    raw: dict[tuple[int, int], bytes] = {}

    def build(elem: ElemFn) -> EncryptedTally:
        contests = []
        for n, rc in enumerate(_list(_get(t, "contests", name), name + " contests")):
            c = _map(rc, f"encrypted tally contest {n}")
            cid = _str(_get(c, "contest_id", f"encrypted tally contest {n}"), f"encrypted tally contest {n}")
            cw = f"encrypted tally contest {cid}"
            ci = _int(_get(c, "sequence_order", cw), cw + " sequence_order", 0, MAX_INDEX)
            mc = ctx.by_index.get(ci)
            if mc is None or mc.label != cid:
                raise _Bad(cw, f"sequence_order {ci} does not name this contest in the manifest")
            sels = []
            for k, rs in enumerate(_list(_get(c, "selections", cw), cw + " selections")):
                s = _map(rs, f"{cw} selection {k}")
                sid = _str(_get(s, "selection_id", f"{cw} selection {k}"), f"{cw} selection {k}")
                sw = f"{cw} option {sid}"
                oi = _int(_get(s, "sequence_order", sw), sw + " sequence_order", 0, MAX_INDEX)
                if not any(o.index == oi and o.label == sid for o in mc.options):
                    raise _Bad(sw, f"sequence_order {oi} does not name this option in the manifest")
                ct = _ct(_get(s, "encrypted_vote", sw), elem, sw)
                raw[(ci, oi)] = ct.to_bytes()
                sels.append((oi, ct))
            contests.append((ci, tuple(sels)))
        return EncryptedTally(tuple(contests), len(cast))

    tally: EncryptedTally = _validated(build)
    return tally, cast, raw


def _option_index(ctx: _Context, cid: str, sid: str, what: str) -> tuple[int, int]:
    for c in ctx.manifest.contests:
        if c.label == cid:
            for o in c.options:
                if o.label == sid:
                    return c.index, o.index
            raise _Bad(what, f"contest {cid!r} has no selection {sid!r} in the manifest")
    raise _Bad(what, f"no contest {cid!r} in the manifest")


def _decrypted_tally(
    ctx: _Context, doc: Any, ballots: int, enc_raw: Mapping[tuple[int, int], bytes], issues: list[RecordIssue]
) -> DecryptedTally:
    """tally.json -> DecryptedTally (t, T = b_over_m = K^t, proof (c, v)); its copy of (A, B) must equal
    encrypted_tally.json's, which is what the verifier checks the proofs against."""
    name = "tally.json"
    t = _map(doc, name)
    eid = t.get("election_id")
    if eid is not None and _h32(eid, name + " election_id") != ctx.H_E:
        issues.append(RecordIssue("R2.A", name, "election_id is not the record's extended base hash H_E"))

    def build(elem: ElemFn) -> DecryptedTally:
        rows: dict[int, list[DecryptedSelection]] = {}
        for n, rc in enumerate(_list(_get(t, "contests", name), name + " contests")):
            c = _map(rc, f"tally contest {n}")
            cid = _str(_get(c, "contest_id", f"tally contest {n}"), f"tally contest {n} contest_id")
            cw = f"tally contest {cid}"
            for k, rs in enumerate(_list(_get(c, "selections", cw), cw + " selections")):
                s = _map(rs, f"{cw} selection {k}")
                sid = _str(_get(s, "selection_id", f"{cw} selection {k}"), f"{cw} selection {k}")
                sw = f"{cw} option {sid}"
                ci, oi = _option_index(ctx, cid, sid, sw)
                ev = _map(_get(s, "encrypted_vote", sw), sw + " encrypted_vote")
                copy = b"".join(
                    _hex(ev.get(x), GROUP.element_bytes, f"{sw} encrypted_vote {x}") for x in ("pad", "data")
                )
                if not isinstance(elem, _Collect) and enc_raw and enc_raw.get((ci, oi)) != copy:
                    issues.append(RecordIssue("R2.A", sw, "encrypted_vote differs from encrypted_tally.json"))
                rows.setdefault(ci, []).append(
                    DecryptedSelection(
                        oi,
                        _int(_get(s, "tally", sw), sw + " tally"),
                        elem(_get(s, "b_over_m", sw), sw + " b_over_m"),
                        _dproof(_get(s, "proof", sw), sw + " proof"),
                    )
                )
        return DecryptedTally(
            tuple(
                DecryptedContest(ci, tuple(sorted(v, key=lambda x: x.index)))
                for ci, v in sorted(rows.items())
            ),
            ballots,
        )

    result: DecryptedTally = _validated(build)
    return result


@dataclass(frozen=True)
class EgkContestData:
    """egk's contest-data plaintext: protobuf ``ContestData { Status status = 1; repeated uint32
    over_votes = 2; repeated string write_ins = 3; string filler = 4; }`` (egk-compat §6)."""

    status: int
    over_votes: tuple[int, ...]
    write_ins: tuple[str, ...]

    @staticmethod
    def parse(data: bytes) -> EgkContestData:
        status, over, writes = 0, [], []
        pos = 0

        def varint(buf: bytes, at: int) -> tuple[int, int]:
            out = shift = 0
            while True:
                if at >= len(buf) or shift > 63:
                    raise EncodingError("malformed varint in contest data")
                byte = buf[at]
                at += 1
                out |= (byte & 0x7F) << shift
                shift += 7
                if not byte & 0x80:
                    return out, at

        while pos < len(data):
            key, pos = varint(data, pos)
            fnum, wt = key >> 3, key & 7
            if wt == 0 and fnum in (1, 2):
                val, pos = varint(data, pos)
                if fnum == 1:
                    status = val
                else:
                    over.append(val)
            elif wt == 2 and fnum in (2, 3, 4):
                n, pos = varint(data, pos)
                body = data[pos : pos + n]
                if len(body) != n:
                    raise EncodingError("truncated field in contest data")
                pos += n
                if fnum == 2:
                    at = 0
                    while at < len(body):
                        val, at = varint(body, at)
                        over.append(val)
                elif fnum == 3:
                    try:
                        writes.append(body.decode("utf-8"))
                    except UnicodeDecodeError as exc:
                        raise EncodingError("write-in is not UTF-8") from exc
            else:
                raise EncodingError(f"unexpected field {fnum} (wire type {wt}) in contest data")
        return EgkContestData(status, tuple(over), tuple(writes))

    @staticmethod
    def from_json(obj: Any, what: str) -> EgkContestData:
        m = _map(obj, what)
        status = EGK_CONTEST_STATUS.get(_get(m, "status", what))
        if status is None:
            raise _Bad(what, f"unknown status {m.get('status')!r}")
        over = tuple(
            _int(x, what + " over_votes", 0, 2**32 - 1) for x in _list(_get(m, "over_votes", what), what)
        )
        writes = tuple(_str(x, what + " write_ins") for x in _list(_get(m, "write_ins", what), what))
        return EgkContestData(status, over, writes)


def _decrypted_ballot(
    ctx: _Context, K: Element, doc: Any, name: str
) -> tuple[DecryptedBallot, list[RecordIssue]]:
    """dballot-<id>.json (DecryptedTallyOrBallot with decrypted_contest_data) -> DecryptedBallot.

    The contest data plaintext D is recomputed from the published β (the decryption is public once β
    is known) and parsed; the dballot's ``contest_data`` JSON must say the same (else V14.C)."""
    b = _map(doc, name)
    bid = _str(_get(b, "id", name), name + " id")
    what = f"decrypted ballot {bid}"
    notes: list[RecordIssue] = []

    def build(elem: ElemFn) -> DecryptedBallot:
        notes.clear()
        contests = []
        for n, rc in enumerate(_list(_get(b, "contests", what), what + " contests")):
            c = _map(rc, f"{what} contest {n}")
            cid = _str(_get(c, "contest_id", f"{what} contest {n}"), f"{what} contest {n} contest_id")
            cw = f"{what} contest {cid}"
            ci: int | None = None
            sels = []
            for k, rs in enumerate(_list(_get(c, "selections", cw), cw + " selections")):
                s = _map(rs, f"{cw} selection {k}")
                sid = _str(_get(s, "selection_id", f"{cw} selection {k}"), f"{cw} selection {k}")
                sw = f"{cw} option {sid}"
                ci, oi = _option_index(ctx, cid, sid, sw)
                sels.append(
                    (
                        oi,
                        _int(_get(s, "tally", sw), sw + " tally", 0, 2**31),
                        _dproof(_get(s, "proof", sw), sw + " proof"),
                    )
                )
            if ci is None:
                ci = next((mc.index for mc in ctx.manifest.contests if mc.label == cid), None)
                if ci is None:
                    raise _Bad(cw, f"no contest {cid!r} in the manifest")
            data = None
            dcd = c.get("decrypted_contest_data")
            if dcd is not None:
                dw = cw + " decrypted_contest_data"
                dm = _map(dcd, dw)
                ect = _hashed_ct(_get(dm, "encrypted_contest_data", dw), elem, dw + " encrypted_contest_data")
                beta = elem(_get(dm, "beta", dw), dw + " beta")
                claimed = EgkContestData.from_json(_get(dm, "contest_data", dw), dw + " contest_data")
                D = b""
                if not isinstance(elem, _Collect):
                    try:
                        D = decrypt_contest_data(ctx.H_E, K, ci, ect, beta, contest_label=cid, dialect=EGK)
                        if EgkContestData.parse(D) != claimed:
                            notes.append(
                                RecordIssue(
                                    "V14.C", cw, "contest_data differs from the decrypted contest data"
                                )
                            )
                    except E2EVoteError as exc:
                        notes.append(RecordIssue("V14.C", cw, f"contest data does not decrypt with β: {exc}"))
                data = DecryptedContestData(beta, _dproof(_get(dm, "proof", dw), dw + " proof"), D)
            contests.append(DecryptedBallotContest(ci, tuple(sorted(sels, key=lambda x: x[0])), data))
        return DecryptedBallot(bid, tuple(sorted(contests, key=lambda x: x.index)))

    result: DecryptedBallot = _validated(build)
    return result, notes


# ---------------------------------------------------------------------------------------------------
# the reader
# ---------------------------------------------------------------------------------------------------


def is_egk_record(directory: str | os.PathLike[str]) -> bool:
    """True if ``directory`` looks like an egk JSON record (election_config.json and manifest.json)."""
    d = Path(directory)
    return (d / "election_config.json").is_file() and (d / "manifest.json").is_file()


def read_egk_record(directory: str | os.PathLike[str]) -> ElectionRecord:
    """Load an egk-layout election record (specs/egk-compat.md §9, §"Import into e2evote").

    Integrity and decoding problems are returned as ``record.issues``; :class:`RecordError` only if
    the election parameters (manifest, configuration, joint key, H_E) are unusable."""
    d = Path(directory)
    issues: list[RecordIssue] = []
    _check_constants(d, issues)
    # --- parameters -------------------------------------------------------------------------------
    try:
        config = _map(_load_json(d / "election_config.json", "election_config.json"), "election_config.json")
        init = _map(
            _load_json(d / "election_initialized.json", "election_initialized.json"),
            "election_initialized.json",
        )
        manifest_raw = _read_file(d / "manifest.json", "manifest.json", MAX_MANIFEST_BYTES)
        manifest = _manifest(manifest_raw, config)
        cw = "election_config.json"
        version = _str(_get(config, "config_version", cw), cw + " config_version", 32)
        n = _int(_get(config, "number_of_guardians", cw), cw + " number_of_guardians", 1, MAX_INDEX)
        k = _int(_get(config, "quorum", cw), cw + " quorum", 1, MAX_INDEX)
        stated_pmb = [
            _h32(_get(config, key, cw), f"{cw} {key}")
            for key in ("parameter_base_hash", "manifest_hash", "election_base_hash")
        ]
        iw = "election_initialized.json"
        H_E = _h32(_get(init, "extended_base_hash", iw), iw + " extended_base_hash")
        K = GROUP.element(
            _hex(_get(init, "joint_public_key", iw), GROUP.element_bytes, iw + " joint_public_key")
        )
        params = ElectionParameters(GROUP, manifest, n, k, version, EGK)
        raw_guardians = _list(_get(init, "guardians", iw), iw + " guardians", 10_000)
    except _Bad as exc:
        raise RecordError(f"cannot read the election parameters: {exc}") from exc
    except (E2EVoteError, ValueError) as exc:
        raise RecordError(f"cannot read the election parameters: {exc}") from exc
    stated = StatedHashes(stated_pmb[0], stated_pmb[1], stated_pmb[2], H_E)
    guardians: list[GuardianPublicKeys] = []
    for gi, rg in enumerate(raw_guardians):
        try:
            guardians.append(_validated(functools.partial(_guardian, rg, gi)))
        except _Bad as exc:
            issues.append(RecordIssue("R2.A", exc.obj, exc.detail + " (guardian not read)"))
    ctx = _Context(manifest, H_E)
    # --- ballots (pre-scan; streamed later) -----------------------------------------------------------
    infos = _prescan(ctx, _ballot_files(d, issues), issues)
    good = tuple((i.path, i.name) for i in infos)

    def ballots() -> Iterator[EncryptedBallot | RecordIssue]:
        return _stream(ctx, good)

    by_name = {name: path for path, name in good}

    def ballots_with_ids(ids: frozenset[str]) -> Iterator[EncryptedBallot | RecordIssue]:
        # the pre-scan read every file's ballot id: only the wanted files are read again
        return _stream(ctx, tuple((i.path, i.name) for i in infos if i.ballot_id in ids))

    def one_file(name: str) -> Iterator[EncryptedBallot | RecordIssue]:
        return _stream(ctx, ((by_name[name], name),))

    cast_ids = [i.ballot_id for i in infos if i.state == BallotState.CAST]
    # --- tallies ------------------------------------------------------------------------------------
    enc_tally: EncryptedTally | None = None
    dec_tally: DecryptedTally | None = None
    listed: tuple[str, ...] | None = None
    enc_raw: dict[tuple[int, int], bytes] = {}
    if os.path.lexists(d / "encrypted_tally.json"):
        try:
            enc_tally, listed, enc_raw = _encrypted_tally(
                ctx, _load_json(d / "encrypted_tally.json", "encrypted_tally.json"), issues
            )
        except _Bad as exc:
            issues.append(RecordIssue("R2.A", exc.obj, exc.detail))
    if listed is not None:
        missing = sorted(set(listed) - set(cast_ids))
        unlisted = sorted(set(cast_ids) - set(listed))
        if missing:
            issues.append(
                RecordIssue(
                    "R2.A",
                    "encrypted_tally.json cast_ballot_ids",
                    f"lists ballots that are not cast ballots of the record: {', '.join(missing[:10])}",
                )
            )
        if unlisted:
            issues.append(
                RecordIssue(
                    "R2.A",
                    "encrypted_tally.json cast_ballot_ids",
                    f"omits cast ballots of the record: {', '.join(unlisted[:10])}",
                )
            )
    if os.path.lexists(d / "tally.json"):
        try:
            dec_tally = _decrypted_tally(
                ctx,
                _load_json(d / "tally.json", "tally.json"),
                len(listed) if listed is not None else len(cast_ids),
                enc_raw,
                issues,
            )
        except _Bad as exc:
            issues.append(RecordIssue("R2.A", exc.obj, exc.detail))
    # --- challenged ballots ----------------------------------------------------------------------------
    challenged: list[ChallengedBallot] = []
    opened: dict[str, str] = {}  # ballot id -> the file that opened it
    for path, name in _entries(d, CHALLENGED_DIR, "dballot-", issues, recurse=False):
        try:
            dec, notes = _decrypted_ballot(ctx, K, _load_json(path, name), name)
        except _Bad as exc:
            issues.append(RecordIssue("R2.A", exc.obj, exc.detail + f" ({name}; not read)"))
            continue
        if dec.ballot_id in opened:
            issues.append(
                RecordIssue(
                    "R2.A",
                    name,
                    f"opens ballot {dec.ballot_id!r} again, already opened by {opened[dec.ballot_id]}"
                    " (not read)",
                )
            )
            continue
        opened[dec.ballot_id] = name
        issues.extend(notes)
        challenged.append(ChallengedBallot(dec.ballot_id, decrypted=dec))
    return ElectionRecord(
        parameters=params,
        stated=stated,
        guardians=tuple(guardians),
        K=K,
        ballots=ballots,
        encrypted_tally=enc_tally,
        decrypted_tally=dec_tally,
        challenged=tuple(challenged),
        source="egk",
        issues=tuple(issues),
        path=str(d),
        chunks=tuple(name for _, name in good),
        read_chunk=one_file,
        ballots_with_ids=ballots_with_ids,
    )
