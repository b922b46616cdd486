"""Canonical msgpack trees for every record object (specs/07-record.md §Objects).

``encode_*`` is total; ``decode_*`` is its strict inverse: exact key sets, exact byte widths,
group membership of every element and range of every scalar, bounded counts. Decoding errors are
:class:`~e2evote.errors.EncodingError` naming the object.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from e2evote.elgamal import Ciphertext, HashedCiphertext
from e2evote.errors import EncodingError, InvalidElementError, InvalidScalarError
from e2evote.groups.base import Element, Group, Scalar
from e2evote.proofs.chaum_pedersen import DecryptionProof
from e2evote.proofs.range import RangeProof
from e2evote.proofs.schnorr import SchnorrProof
from e2evote.protocol.ballot import (
    BallotState,
    EncryptedBallot,
    EncryptedContest,
    EncryptedSelection,
    PlaintextBallot,
    PreRecordContest,
    PreSelectedVector,
)
from e2evote.protocol.ceremony import EncryptedShare, GuardianPublicKeys
from e2evote.protocol.tally import (
    DecryptedBallot,
    DecryptedBallotContest,
    DecryptedContest,
    DecryptedContestData,
    DecryptedSelection,
    DecryptedTally,
    EncryptedTally,
)

__all__ = [
    "decode_failure_step",
    "enc_elem",
    "dec_elem",
    "enc_guardian",
    "dec_guardian",
    "enc_ballot",
    "dec_ballot",
    "dec_ballot_unchecked",
    "dec_ballots",
    "enc_encrypted_tally",
    "dec_encrypted_tally",
    "enc_decrypted_tally",
    "dec_decrypted_tally",
    "enc_decrypted_ballot",
    "dec_decrypted_ballot",
    "enc_plaintext",
    "dec_plaintext",
    "enc_share",
    "enc_schnorr",
    "dec_schnorr",
    "dec_share",
    "fields",
]

MAX_ITEMS = 100_000
MAX_TEXT = 4096


def fields(obj: Any, keys: set[str], what: str, optional: set[str] = frozenset()) -> Mapping[str, Any]:  # type: ignore[assignment]
    """Require a map with exactly ``keys`` (plus any of ``optional``)."""
    if not isinstance(obj, dict):
        raise EncodingError(f"{what}: expected a map")
    have = set(obj)
    if not keys <= have or have - keys - set(optional):
        raise EncodingError(f"{what}: fields {sorted(have)} (expected {sorted(keys)})")
    return obj


def _list(obj: Any, what: str, max_items: int = MAX_ITEMS) -> list[Any]:
    if not isinstance(obj, list) or len(obj) > max_items:
        raise EncodingError(f"{what}: expected a list of at most {max_items} items")
    return obj


def _exact(obj: Any, n: int, what: str) -> list[Any]:
    """A list of exactly ``n`` items (a pair, a triple…): never an IndexError on a short list."""
    if not isinstance(obj, list) or len(obj) != n:
        raise EncodingError(f"{what}: expected a list of exactly {n} items")
    return obj


def _increasing(indices: Sequence[int], what: str) -> None:
    """Indices of a list of (index, …) entries: strictly increasing, so that each appears once and a
    map built from the entries holds all of them (one encoding per value, specs/07-record.md §3)."""
    if any(a >= b for a, b in zip(indices, indices[1:], strict=False)):
        raise EncodingError(
            f"{what}: indices must be strictly increasing (no duplicates), got {list(indices)}"
        )


def _retyped(exc: EncodingError, msg: str) -> EncodingError:
    """``exc`` with a message naming the object, keeping its class: the verifier classifies decoding
    failures by type only (InvalidElementError → V5.A, InvalidScalarError → V5.C)."""
    if isinstance(exc, InvalidElementError):
        return InvalidElementError(msg)
    if isinstance(exc, InvalidScalarError):
        return InvalidScalarError(msg)
    return EncodingError(msg)


def _int(obj: Any, what: str, lo: int = 0, hi: int = 2**53) -> int:
    if isinstance(obj, bool) or not isinstance(obj, int) or not lo <= obj <= hi:
        raise EncodingError(f"{what}: expected an integer in [{lo}, {hi}]")
    return obj


def _bytes(obj: Any, what: str, width: int | None = None, max_len: int = 1 << 20) -> bytes:
    if not isinstance(obj, bytes) or (width is not None and len(obj) != width) or len(obj) > max_len:
        raise EncodingError(
            f"{what}: expected {width if width is not None else 'at most ' + str(max_len)} bytes"
        )
    return obj


def _str(obj: Any, what: str) -> str:
    if not isinstance(obj, str) or len(obj) > MAX_TEXT:
        raise EncodingError(f"{what}: expected a string of at most {MAX_TEXT} characters")
    return obj


def enc_elem(e: Element) -> bytes:
    return e.to_bytes()


def dec_elem(group: Group, obj: Any, what: str) -> Element:
    try:
        return group.element(_bytes(obj, what, group.element_bytes))
    except EncodingError as exc:
        raise _retyped(exc, f"{what}: {exc}") from exc


def _dec_scalar(group: Group, obj: Any, what: str) -> Scalar:
    try:
        return group.scalar_from_bytes(_bytes(obj, what, group.scalar_bytes))
    except EncodingError as exc:
        raise _retyped(exc, f"{what}: {exc}") from exc


def _enc_ct(ct: Ciphertext) -> list[bytes]:
    return [ct.alpha.to_bytes(), ct.beta.to_bytes()]


def _dec_ct(group: Group, obj: Any, what: str) -> Ciphertext:
    pair = _exact(obj, 2, what + " (a ciphertext is [alpha, beta])")
    return Ciphertext(dec_elem(group, pair[0], what + ".alpha"), dec_elem(group, pair[1], what + ".beta"))


def _enc_range(p: RangeProof) -> dict[str, Any]:
    return {"c": [c.to_bytes() for c in p.c], "v": [v.to_bytes() for v in p.v]}


def _dec_range(group: Group, obj: Any, what: str) -> RangeProof:
    f = fields(obj, {"c", "v"}, what)
    cs = _list(f["c"], what + ".c", 1001)
    vs = _list(f["v"], what + ".v", 1001)
    if len(cs) != len(vs) or not cs:
        raise EncodingError(f"{what}: c and v must be non-empty and of equal length")
    return RangeProof(
        tuple(_dec_scalar(group, c, f"{what}.c[{j}]") for j, c in enumerate(cs)),
        tuple(_dec_scalar(group, v, f"{what}.v[{j}]") for j, v in enumerate(vs)),
    )


def _enc_dproof(p: DecryptionProof) -> dict[str, Any]:
    return {"c": p.c, "v": p.v.to_bytes()}


def _dec_dproof(group: Group, obj: Any, what: str) -> DecryptionProof:
    f = fields(obj, {"c", "v"}, what)
    return DecryptionProof(_bytes(f["c"], what + ".c", 32), _dec_scalar(group, f["v"], what + ".v"))


def _enc_hct(h: HashedCiphertext) -> dict[str, Any]:
    return {"C0": h.C0.to_bytes(), "C1": h.C1, "C2": h.C2}


def _dec_hct(group: Group, obj: Any, what: str) -> HashedCiphertext:
    f = fields(obj, {"C0", "C1", "C2"}, what)
    return HashedCiphertext(
        dec_elem(group, f["C0"], what + ".C0"),
        _bytes(f["C1"], what + ".C1", max_len=64 * 32),
        _bytes(f["C2"], what + ".C2", 32),
    )


# --- guardians --------------------------------------------------------------------------------------


def enc_guardian(pk: GuardianPublicKeys) -> dict[str, Any]:
    return {
        "i": pk.i,
        "K": [k.to_bytes() for k in pk.K],
        "proofs": [enc_schnorr(p) for p in pk.proofs],
    }


def enc_schnorr(p: SchnorrProof) -> dict[str, Any]:
    """A Schnorr proof or ceremony signature (c, v)."""
    return {"c": p.c, "v": p.v.to_bytes()}


def dec_schnorr(group: Group, obj: Any, what: str) -> SchnorrProof:
    pf = fields(obj, {"c", "v"}, what)
    return SchnorrProof(_bytes(pf["c"], f"{what}.c", 32), _dec_scalar(group, pf["v"], f"{what}.v"))


def dec_guardian(group: Group, obj: Any) -> GuardianPublicKeys:
    f = fields(obj, {"i", "K", "proofs"}, "guardian")
    i = _int(f["i"], "guardian.i", 1, 2**31 - 1)
    what = f"guardian {i}"
    Ks = tuple(dec_elem(group, k, f"{what} K[{j}]") for j, k in enumerate(_list(f["K"], what + ".K", 1000)))
    proofs = tuple(
        dec_schnorr(group, p, f"{what} proof {j}")
        for j, p in enumerate(_list(f["proofs"], what + ".proofs", 1000))
    )
    return GuardianPublicKeys(i, Ks, proofs)


def enc_share(sh: EncryptedShare) -> dict[str, Any]:
    return {"i": sh.i, "ell": sh.ell, "ct": _enc_hct(sh.ct), "sigma": enc_schnorr(sh.sigma)}


def dec_share(group: Group, obj: Any) -> EncryptedShare:
    f = fields(obj, {"i", "ell", "ct", "sigma"}, "share")
    return EncryptedShare(
        _int(f["i"], "share.i", 1, 2**31 - 1),
        _int(f["ell"], "share.ell", 1, 2**31 - 1),
        _dec_hct(group, f["ct"], "share.ct"),
        dec_schnorr(group, f["sigma"], "share.sigma"),
    )


# --- ballots ----------------------------------------------------------------------------------------


def enc_ballot(b: EncryptedBallot) -> dict[str, Any]:
    return {
        "id": b.ballot_id,
        "style": b.style,
        "state": b.state.value,
        "code": b.code,
        "baux": b.B_aux,
        "device": b.device,
        "time": b.timestamp,
        "contests": [
            {
                "i": c.index,
                "chi": c.chi,
                "proof": _enc_range(c.proof),
                "data": _enc_hct(c.data) if c.data is not None else None,
                "sel": [
                    {"i": s.index, "ct": _enc_ct(s.ct), "proof": _enc_range(s.proof)} for s in c.selections
                ],
            }
            for c in b.contests
        ],
    } | ({} if b.pre is None else {"pre": [_enc_pre(pc) for pc in b.pre]})


def ballot_alphas(tree: Any, what: str = "ballot") -> list[bytes]:
    """E(α) of every selection of an encoded ballot (:func:`enc_ballot`'s tree), in order, read
    without decoding or validating anything: for comparing a ballot already validated against ones
    stored after validation (V7.H), where the canonical encoding makes equal bytes equal elements.
    A tree without that shape is an EncodingError."""
    try:
        return [bytes(s["ct"][0]) for c in tree["contests"] for s in c["sel"]]
    except (KeyError, IndexError, TypeError, ValueError):
        raise EncodingError(f"{what} has no well-formed ciphertexts") from None


def _enc_pre(pc: PreRecordContest) -> dict[str, Any]:
    return {
        "i": pc.index,
        "chi": pc.chi,
        "psis": list(pc.psis),
        "sel": [{"psi": v.psi, "code": v.code, "cts": [_enc_ct(ct) for ct in v.vector]} for v in pc.selected],
    }


MAX_SHORT_CODE = 64
"""characters of a short code (EG §4.6's are 2-5)"""


def dec_ballot_unchecked(group: Group, obj: Any) -> EncryptedBallot:
    """Like :func:`dec_ballot` but without the subgroup tests: only for ballots this process tree
    has just computed (e2evote.batch); never for input from outside."""
    parsed = _parse_ballot(group, obj)
    elements = [_unchecked(group, blob) for blob in parsed.blobs]
    return parsed.build(group, elements)


def decode_failure_step(exc: Exception) -> str:
    """The verification step of a ballot that failed to decode: decoding failures that are EG checks
    keep their step (5.A subgroup membership, 5.C scalar range); anything else is R2.B. Decided by
    the exception's type alone, never by its message (which quotes the ballot's id)."""
    if isinstance(exc, InvalidElementError):
        return "V5.A"
    if isinstance(exc, InvalidScalarError):
        return "V5.C"
    return "R2.B"


def dec_ballot(group: Group, obj: Any) -> EncryptedBallot:
    """Strict decoding; all of the ballot's ciphertext elements are validated in one batch."""
    return dec_ballots(group, [obj])[0]


def dec_ballots(group: Group, objs: Sequence[Any]) -> list[EncryptedBallot]:
    """Strictly decode many ballots with ONE batched subgroup test over all their ciphertexts
    (specs/02-groups.md §Batch membership); a failure names the ballot, contest and option."""
    parsed = [_parse_ballot(group, o) for o in objs]
    blobs = [b for p in parsed for b in p.blobs]
    names = [n for p in parsed for n in p.names]
    try:
        elements = group.elements_batch(blobs)
    except EncodingError as exc:
        msg = str(exc)
        idx = -1
        if msg.startswith("element "):
            head = msg.split()[1].rstrip(":")
            idx = int(head) if head.isdigit() else -1
        where = names[idx] if 0 <= idx < len(names) else "ballots"
        raise _retyped(exc, f"{where}: {msg.split(': ', 1)[-1]}") from exc
    out = []
    pos = 0
    for p in parsed:
        out.append(p.build(group, elements[pos : pos + len(p.blobs)]))
        pos += len(p.blobs)
    return out


def _unchecked(group: Group, blob: bytes) -> Element:
    unchecked = getattr(group, "element_unchecked", None)
    return unchecked(int.from_bytes(blob, "big")) if unchecked is not None else group.element(blob)


class _ParsedBallot:
    """A ballot whose structure is checked and whose ciphertext elements await validation."""

    __slots__ = ("f", "state", "what", "raw_contests", "raw_pre", "blobs", "names")

    f: Mapping[str, Any]
    state: BallotState
    what: str

    def __init__(self) -> None:
        self.raw_contests: list[tuple[int, str, Mapping[str, Any], list[tuple[int, Any]]]] = []
        self.raw_pre: list[tuple[int, bytes, tuple[bytes, ...], list[tuple[bytes, str, int]]]] | None = None
        self.blobs: list[bytes] = []
        self.names: list[str] = []

    def build(self, group: Group, elements: Sequence[Element]) -> EncryptedBallot:
        it = iter(elements)
        contests = []
        for ci, cw, cf, sels in self.raw_contests:
            enc_sels = []
            for oi, proof in sels:
                ct = Ciphertext(next(it), next(it))
                enc_sels.append(
                    EncryptedSelection(oi, ct, _dec_range(group, proof, f"{cw} option {oi} proof"))
                )
            data = None
            if cf["data"] is not None:  # C0 was parsed (and validated in the batch) after the selections
                df = cf["data"]
                data = HashedCiphertext(
                    next(it),
                    _bytes(df["C1"], cw + ".data.C1", max_len=64 * 32),
                    _bytes(df["C2"], cw + ".data.C2", 32),
                )
            contests.append(
                EncryptedContest(
                    ci,
                    tuple(enc_sels),
                    _dec_range(group, cf["proof"], cw + ".proof"),
                    _bytes(cf["chi"], cw + ".chi", 32),
                    data,
                )
            )
        pre = None
        if self.raw_pre is not None:
            pre = tuple(
                PreRecordContest(
                    ci,
                    chi,
                    psis,
                    tuple(
                        PreSelectedVector(psi, code, tuple(Ciphertext(next(it), next(it)) for _ in range(k)))
                        for psi, code, k in vectors
                    ),
                )
                for ci, chi, psis, vectors in self.raw_pre
            )
        f, what = self.f, self.what
        return EncryptedBallot(
            f["id"],
            _str(f["style"], what + ".style"),
            tuple(contests),
            _bytes(f["code"], what + ".code", 32),
            _bytes(f["baux"], what + ".baux", max_len=4096),
            self.state,
            _str(f["device"], what + ".device"),
            _int(f["time"], what + ".time"),
            pre,
        )


def _parse_ballot(group: Group, obj: Any) -> _ParsedBallot:
    p = _ParsedBallot()
    f = fields(obj, {"id", "style", "state", "code", "baux", "device", "time", "contests"}, "ballot", {"pre"})
    bid = _str(f["id"], "ballot.id")
    what = f"ballot {bid}"
    p.f, p.what = f, what
    try:
        p.state = BallotState(f["state"])
    except ValueError as exc:
        raise EncodingError(f"{what}: unknown state {f['state']!r}") from exc
    for n, c in enumerate(_list(f["contests"], what + ".contests", 10_000)):
        cf = fields(c, {"i", "chi", "proof", "data", "sel"}, f"{what} contest {n}")
        ci = _int(cf["i"], f"{what} contest {n}.i", 1, 2**31 - 1)
        cw = f"{what} contest {ci}"
        sels = []
        for m, s in enumerate(_list(cf["sel"], cw + ".sel", 10_000)):
            sf = fields(s, {"i", "ct", "proof"}, f"{cw} selection {m}")
            oi = _int(sf["i"], f"{cw} selection {m}.i", 1, 2**31 - 1)
            pair = _exact(sf["ct"], 2, f"{cw} option {oi} (a ciphertext is [alpha, beta])")
            for k, part in zip(("alpha", "beta"), pair, strict=True):
                p.blobs.append(_bytes(part, f"{cw} option {oi}.{k}", group.element_bytes))
                p.names.append(f"{cw} option {oi}.{k}")
            sels.append((oi, sf["proof"]))
        if cf["data"] is not None:
            df = fields(cf["data"], {"C0", "C1", "C2"}, cw + ".data")
            p.blobs.append(_bytes(df["C0"], cw + ".data.C0", group.element_bytes))
            p.names.append(cw + ".data.C0")
        p.raw_contests.append((ci, cw, cf, sels))
    if "pre" in f:  # a recorded pre-encrypted ballot (specs/07-record.md §3.3); absent otherwise
        raw_pre = []
        for n, c in enumerate(_list(f["pre"], what + ".pre", 10_000)):
            pf = fields(c, {"i", "chi", "psis", "sel"}, f"{what} pre-encryption {n}")
            pi = _int(pf["i"], f"{what} pre-encryption {n}.i", 1, 2**31 - 1)
            cw = f"{what} pre-encryption of contest {pi}"
            psis = tuple(_bytes(x, cw + ".psis", 32) for x in _list(pf["psis"], cw + ".psis", 11_000))
            vectors = []
            for m, sv in enumerate(_list(pf["sel"], cw + ".sel", 1000), start=1):
                vf = fields(sv, {"psi", "code", "cts"}, f"{cw} selected vector {m}")
                code = _str(vf["code"], f"{cw} selected vector {m}.code")
                if len(code) > MAX_SHORT_CODE:
                    raise EncodingError(
                        f"{cw} selected vector {m}.code: more than {MAX_SHORT_CODE} characters"
                    )
                cts = _list(vf["cts"], f"{cw} selected vector {m}.cts", 10_000)
                for e, pair in enumerate(cts, start=1):
                    name = f"{cw} selected vector {m} encryption {e}"
                    for part, blob in zip(("alpha", "beta"), _exact(pair, 2, name), strict=True):
                        p.blobs.append(_bytes(blob, f"{name}.{part}", group.element_bytes))
                        p.names.append(f"{name}.{part}")
                vectors.append((_bytes(vf["psi"], f"{cw} selected vector {m}.psi", 32), code, len(cts)))
            raw_pre.append((pi, _bytes(pf["chi"], cw + ".chi", 32), psis, vectors))
        p.raw_pre = raw_pre
    return p


def enc_plaintext(b: PlaintextBallot) -> dict[str, Any]:
    return {
        "id": b.ballot_id,
        "style": b.style,
        "votes": {c: dict(v) for c, v in b.votes.items()},
        "write_ins": {c: list(v) for c, v in b.write_ins.items()},
    }


def dec_plaintext(obj: Any) -> PlaintextBallot:
    f = fields(obj, {"id", "style", "votes"}, "plaintext ballot", {"write_ins"})
    votes = f["votes"]
    if not isinstance(votes, dict) or not all(
        isinstance(c, str)
        and isinstance(v, dict)
        and all(isinstance(o, str) and isinstance(x, int) and not isinstance(x, bool) for o, x in v.items())
        for c, v in votes.items()
    ):
        raise EncodingError("plaintext ballot: votes must map contest -> option -> integer")
    wi = f.get("write_ins", {})
    if not isinstance(wi, dict) or not all(
        isinstance(c, str) and isinstance(v, list) and all(isinstance(x, str) for x in v)
        for c, v in wi.items()
    ):
        raise EncodingError("plaintext ballot: write_ins must map contest -> list of strings")
    return PlaintextBallot(_str(f["id"], "ballot id"), _str(f["style"], "ballot style"), votes, wi)


# --- tallies ----------------------------------------------------------------------------------------


def enc_encrypted_tally(t: EncryptedTally) -> dict[str, Any]:
    return {
        "ballots": t.ballots,
        "contests": [[ci, [[oi, _enc_ct(ct)] for oi, ct in sels]] for ci, sels in t.contests],
    }


def dec_encrypted_tally(group: Group, obj: Any) -> EncryptedTally:
    f = fields(obj, {"ballots", "contests"}, "encrypted tally")
    contests = []
    for c in _list(f["contests"], "encrypted tally.contests"):
        c = _exact(c, 2, "encrypted tally contest ([ind_c, selections])")
        ci = _int(c[0], "encrypted tally contest index", 1, 2**31 - 1)
        sels = []
        for s in _list(c[1], f"encrypted tally contest {ci}"):
            s = _exact(s, 2, f"encrypted tally contest {ci} selection ([ind_o, ciphertext])")
            oi = _int(s[0], f"encrypted tally contest {ci} option index", 1, 2**31 - 1)
            sels.append((oi, _dec_ct(group, s[1], f"encrypted tally contest {ci} option {oi}")))
        _increasing([oi for oi, _ in sels], f"encrypted tally contest {ci} options")
        contests.append((ci, tuple(sels)))
    _increasing([ci for ci, _ in contests], "encrypted tally contests")
    return EncryptedTally(tuple(contests), _int(f["ballots"], "encrypted tally.ballots"))


def enc_decrypted_tally(t: DecryptedTally) -> dict[str, Any]:
    return {
        "ballots": t.ballots,
        "contests": [
            {
                "i": c.index,
                "sel": [
                    {"i": s.index, "t": s.t, "T": s.T.to_bytes(), "proof": _enc_dproof(s.proof)}
                    for s in c.selections
                ],
            }
            for c in t.contests
        ],
    }


def dec_decrypted_tally(group: Group, obj: Any) -> DecryptedTally:
    f = fields(obj, {"ballots", "contests"}, "decrypted tally")
    contests = []
    for c in _list(f["contests"], "decrypted tally.contests"):
        cf = fields(c, {"i", "sel"}, "decrypted tally contest")
        ci = _int(cf["i"], "decrypted tally contest index", 1, 2**31 - 1)
        sels = []
        for s in _list(cf["sel"], f"decrypted tally contest {ci}"):
            sf = fields(s, {"i", "t", "T", "proof"}, f"decrypted tally contest {ci} selection")
            oi = _int(sf["i"], "option index", 1, 2**31 - 1)
            w = f"tally contest {ci} option {oi}"
            sels.append(
                DecryptedSelection(
                    oi,
                    _int(sf["t"], w + ".t"),
                    dec_elem(group, sf["T"], w + ".T"),
                    _dec_dproof(group, sf["proof"], w + ".proof"),
                )
            )
        _increasing([s.index for s in sels], f"decrypted tally contest {ci} options")
        contests.append(DecryptedContest(ci, tuple(sels)))
    _increasing([c.index for c in contests], "decrypted tally contests")
    return DecryptedTally(tuple(contests), _int(f["ballots"], "decrypted tally.ballots"))


def enc_decrypted_ballot(b: DecryptedBallot) -> dict[str, Any]:
    return {
        "id": b.ballot_id,
        "contests": [
            {
                "i": c.index,
                "sel": [{"i": oi, "sigma": s, "proof": _enc_dproof(p)} for oi, s, p in c.selections],
                "data": None
                if c.data is None
                else {"beta": c.data.beta.to_bytes(), "proof": _enc_dproof(c.data.proof), "D": c.data.data},
            }
            for c in b.contests
        ],
    }


def dec_decrypted_ballot(group: Group, obj: Any) -> DecryptedBallot:
    f = fields(obj, {"id", "contests"}, "decrypted ballot")
    bid = _str(f["id"], "decrypted ballot id")
    contests = []
    for c in _list(f["contests"], f"decrypted ballot {bid}"):
        cf = fields(c, {"i", "sel", "data"}, f"decrypted ballot {bid} contest")
        ci = _int(cf["i"], "contest index", 1, 2**31 - 1)
        w = f"decrypted ballot {bid} contest {ci}"
        sels = []
        for s in _list(cf["sel"], w):
            sf = fields(s, {"i", "sigma", "proof"}, w + " selection")
            oi = _int(sf["i"], "option index", 1, 2**31 - 1)
            sels.append(
                (
                    oi,
                    _int(sf["sigma"], f"{w} option {oi}.sigma"),
                    _dec_dproof(group, sf["proof"], f"{w} option {oi}.proof"),
                )
            )
        data = None
        if cf["data"] is not None:
            df = fields(cf["data"], {"beta", "proof", "D"}, w + ".data")
            data = DecryptedContestData(
                dec_elem(group, df["beta"], w + ".data.beta"),
                _dec_dproof(group, df["proof"], w + ".data.proof"),
                _bytes(df["D"], w + ".data.D", max_len=64 * 32),
            )
        _increasing([s[0] for s in sels], f"{w} options")
        contests.append(DecryptedBallotContest(ci, tuple(sels), data))
    _increasing([c.index for c in contests], f"decrypted ballot {bid} contests")
    return DecryptedBallot(bid, tuple(contests))


def seq(items: Sequence[Any]) -> list[Any]:
    return list(items)
