"""Reading egk's JSON (its 13 test vectors and the ``allAvailable`` election record) into e2evote values.

Nothing here computes an EG hash or proof: it only locates the reference files, decodes egk's JSON
(upper-case fixed-width hex, specs/egk-compat.md §9) into validated library objects
(:class:`~e2evote.groups.base.Element`, :class:`~e2evote.groups.base.Scalar`,
:class:`~e2evote.elgamal.Ciphertext`, …) and offers small test utilities (bit flips, a minimal
protobuf codec for egk's ``ContestData`` plaintext, duck-typed election contexts for vectors whose
H_E is given rather than derivable).

The reference material is read in place from ``tests/conftest.py``'s ``REFERENCE`` directory
(``../shared/reference/electionguard-2.0``); it is never copied into the repository.
"""

from __future__ import annotations

import functools
import importlib.util
import json
import os
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

import pytest

from e2evote.elgamal import Ciphertext, HashedCiphertext, PublicKey
from e2evote.encoding import hex_to_fixed
from e2evote.groups import STANDARD
from e2evote.groups.base import Element, Group, Scalar
from e2evote.hashing import EGK, Dialect
from e2evote.proofs import DecryptionProof, RangeProof, SchnorrProof
from e2evote.protocol.ballot import (
    BallotState,
    ContestStatus,
    EncryptedBallot,
    EncryptedContest,
    EncryptedSelection,
)
from e2evote.protocol.ceremony import GuardianPublicKeys
from e2evote.protocol.decryption import DecryptingGuardian
from e2evote.protocol.election import ElectionContext

GROUP: Group = STANDARD
"""every egk artifact uses the EG 2.0 standard 4096-bit group"""


# ---------------------------------------------------------------------------------------------------
# locating the reference files
# ---------------------------------------------------------------------------------------------------


def _root_reference() -> Path:
    """``REFERENCE`` from tests/conftest.py (already imported by pytest; loaded by path otherwise)."""
    root_conftest = Path(__file__).resolve().parents[1] / "conftest.py"
    for mod in list(sys.modules.values()):
        f = getattr(mod, "__file__", None)
        if f and hasattr(mod, "REFERENCE") and Path(f).resolve() == root_conftest:
            return Path(mod.REFERENCE)
    spec = importlib.util.spec_from_file_location("_e2evote_tests_root_conftest", root_conftest)
    assert spec is not None and spec.loader is not None
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return Path(mod.REFERENCE)


REFERENCE = _root_reference()
VECTORS = REFERENCE / "egk-testvectors"
RECORD = REFERENCE / "egk-record-allAvailable"

#: the 13 vector files (egk @194b9c78, egklib/src/commonTest/data/testvectors/)
VECTOR_NAMES = (
    "Parameters",
    "KeyCeremony",
    "ShareEncryption",
    "BallotEncryption",
    "ConfirmationCode",
    "BallotChaining",
    "BallotAggregation",
    "TallyDecryption",
    "TallyPartialDecryption",
    "DecryptWithNonce",
    "DecryptBallot",
    "PreEncryption",
    "PreEncryptionRecorded",
)


def require_reference() -> None:
    """Skip the calling test module when the reference checkout is not beside the repository."""
    if not VECTORS.is_dir() or not RECORD.is_dir():
        if os.environ.get("CI"):  # CI always has shared/ beside the clone: a skip there would hide a failure
            pytest.fail(f"egk reference material not found at {REFERENCE}", pytrace=False)
        pytest.skip(f"egk reference material not found at {REFERENCE}", allow_module_level=True)


@functools.cache
def load_vector(name: str) -> Any:
    """``<name>TestVector.json`` parsed (cached; callers must not mutate it — use copy.deepcopy)."""
    return json.loads((VECTORS / f"{name}TestVector.json").read_text(encoding="utf-8"))


def record_bytes(rel: str) -> bytes:
    return (RECORD / rel).read_bytes()


@functools.cache
def load_record(rel: str) -> Any:
    return json.loads(record_bytes(rel).decode("utf-8"))


def record_files(pattern: str) -> list[str]:
    """Paths relative to the record directory, sorted by name."""
    return sorted(str(p.relative_to(RECORD)) for p in RECORD.glob(pattern))


# ---------------------------------------------------------------------------------------------------
# egk JSON values -> library values
# ---------------------------------------------------------------------------------------------------


def hb(text: str) -> bytes:
    """A byte array written as hex of arbitrary even length (code_baux, codeBaux, c1, c2)."""
    return bytes.fromhex(text)


def h32(text: str) -> bytes:
    """A UInt256 (hash value, ballot nonce) as its 32 bytes."""
    return hex_to_fixed(text, 32)


def up(b: bytes) -> str:
    """egk's rendering of bytes: upper-case hex."""
    return b.hex().upper()


def elem(text: str, group: Group = GROUP) -> Element:
    """An ElementModP: fixed-width hex -> validated group element (library decoding)."""
    return group.element(hex_to_fixed(text, group.element_bytes))


def scalar(text: str, group: Group = GROUP) -> Scalar:
    """An ElementModQ: hex -> Scalar (strict, never reduced)."""
    return group.scalar(int.from_bytes(hex_to_fixed(text, group.scalar_bytes), "big"))


def ciphertext(obj: Mapping[str, str]) -> Ciphertext:
    """egk ``{pad, data}`` = (α, β)."""
    return Ciphertext(elem(obj["pad"]), elem(obj["data"]))


def hashed_ciphertext(obj: Mapping[str, Any]) -> HashedCiphertext:
    """egk ``{c0, c1, c2, numBytes}`` (contest data / shares)."""
    return HashedCiphertext(elem(obj["c0"]), hb(obj["c1"]), hb(obj["c2"]))


def range_proof(
    proofs: Sequence[Mapping[str, str]], c_key: str = "challenge", v_key: str = "response"
) -> RangeProof:
    """egk ``proof.proofs[j] = {challenge c_j, response v_j}`` as a library RangeProof."""
    return RangeProof(tuple(scalar(p[c_key]) for p in proofs), tuple(scalar(p[v_key]) for p in proofs))


def decryption_proof(obj: Mapping[str, str]) -> DecryptionProof:
    """egk ``{challenge, response}`` (ChaumPedersenProof) as a library DecryptionProof."""
    return DecryptionProof(h32(obj["challenge"]), scalar(obj["response"]))


def schnorr_proof(obj: Mapping[str, str]) -> SchnorrProof:
    return SchnorrProof(h32(obj["challenge"]), scalar(obj["response"]))


def signed_bytes(values: Sequence[int]) -> bytes:
    """A JSON array of Kotlin Bytes (-128..127) or plain 0..255 values."""
    return bytes(v & 0xFF for v in values)


EGK_STATE = {
    "CAST": BallotState.CAST,
    "SPOILED": BallotState.CHALLENGED,
    "CHALLENGED": BallotState.CHALLENGED,
}


def encrypted_ballot(obj: Mapping[str, Any]) -> EncryptedBallot:
    """An egk EncryptedBallot (record layout, §9) as the library's EncryptedBallot.

    Indices are egk's ``sequence_order`` values as given (1-based in the record, 0-based in vectors).
    """
    contests = []
    for c in obj["contests"]:
        sels = tuple(
            EncryptedSelection(
                s["sequence_order"], ciphertext(s["encrypted_vote"]), range_proof(s["proof"]["proofs"])
            )
            for s in c["selections"]
        )
        data = hashed_ciphertext(c["encrypted_contest_data"]) if c.get("encrypted_contest_data") else None
        contests.append(
            EncryptedContest(
                c["sequence_order"], sels, range_proof(c["proof"]["proofs"]), h32(c["contest_hash"]), data
            )
        )
    return EncryptedBallot(
        obj["ballot_id"],
        obj["ballot_style_id"],
        tuple(contests),
        h32(obj["confirmation_code"]),
        hb(obj["code_baux"]),
        EGK_STATE[obj["state"]],
        obj.get("encrypting_device", ""),
        obj.get("timestamp", 0),
    )


# ---------------------------------------------------------------------------------------------------
# trustees
# ---------------------------------------------------------------------------------------------------


def poly_eval(coefficients: Sequence[Scalar], x: int, group: Group = GROUP) -> Scalar:
    """P(x) = Σ_j a_j x^j mod q with library Scalar arithmetic (EG 2.0 eq. 9)."""
    acc = group.scalar(0)
    xs = group.scalar_reduce(x)
    for a in reversed(coefficients):
        acc = acc * xs + a
    return acc


def commitments_from_coefficients(
    i: int, coefficients: Sequence[Scalar], group: Group = GROUP
) -> GuardianPublicKeys:
    """K_{i,j} = g^{a_{i,j}} (library g_pow); no Schnorr proofs (the vectors publish none)."""
    return GuardianPublicKeys(i, tuple(group.g_pow(a) for a in coefficients), ())


@dataclass(frozen=True)
class Trustee:
    x: int
    coefficients: tuple[Scalar, ...]
    key_share: Scalar
    missing: bool = False

    def guardian(self, group: Group = GROUP) -> DecryptingGuardian:
        return DecryptingGuardian(self.x, self.key_share, group)

    def commitments(self, group: Group = GROUP) -> GuardianPublicKeys:
        return commitments_from_coefficients(self.x, self.coefficients, group)


def vector_trustees(v: Mapping[str, Any]) -> list[Trustee]:
    """``trustees[]{xCoordinate, polynomial_coefficients, keyShare, missing}`` of the decryption vectors."""
    return [
        Trustee(
            t["xCoordinate"],
            tuple(scalar(a) for a in t["polynomial_coefficients"]),
            scalar(t["keyShare"]),
            bool(t["missing"]),
        )
        for t in v["trustees"]
    ]


# ---------------------------------------------------------------------------------------------------
# contexts for vectors whose H_E is an input (not derivable from a manifest)
# ---------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class VectorContest:
    index: int
    label: str
    option_limit: int = 1
    contest_limit: int = 1


@dataclass(frozen=True)
class VectorManifest:
    contests: tuple[VectorContest, ...]

    def contest_by_index(self, index: int) -> VectorContest:
        for c in self.contests:
            if c.index == index:
                return c
        raise KeyError(index)


@dataclass(frozen=True)
class VectorParameters:
    n: int
    k: int


@dataclass(frozen=True)
class VectorContext:
    """Duck-typed stand-in for :class:`e2evote.protocol.election.ElectionContext`.

    egk's vectors give K and H_E directly (H_E is not derivable: there is no manifest), so a real
    ElectionContext cannot be built; this offers exactly the attributes the library's decryption
    functions read (group, K, H_E, key, parameters.n/.k, manifest.contest_by_index, dialect).
    """

    K: Element
    H_E: bytes
    parameters: VectorParameters
    manifest: VectorManifest = VectorManifest(())
    dialect: Dialect = EGK
    group: Group = GROUP
    key: PublicKey = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "key", PublicKey(self.group, self.K))

    def as_context(self) -> ElectionContext:
        """This stand-in, typed as what the library's functions accept."""
        return cast(ElectionContext, self)


# ---------------------------------------------------------------------------------------------------
# egk's contest-data plaintext: protobuf ContestData padded with a "*" filler (egk-compat §6)
# ---------------------------------------------------------------------------------------------------

EGK_STATUS = {
    "normal": ContestStatus.NORMAL,
    "null_vote": ContestStatus.NULL_VOTE,
    "over_vote": ContestStatus.OVERVOTE,
    "under_vote": ContestStatus.UNDERVOTE,
}


def _varint(data: bytes, pos: int) -> tuple[int, int]:
    out = shift = 0
    while True:
        if pos >= len(data):
            raise ValueError("truncated varint")
        b = data[pos]
        pos += 1
        out |= (b & 0x7F) << shift
        shift += 7
        if not b & 0x80:
            return out, pos


def _enc_varint(n: int) -> bytes:
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        out.append(b | (0x80 if n else 0))
        if not n:
            return bytes(out)


@dataclass(frozen=True)
class EgkContestData:
    """egk ``ContestData { Status status = 1; repeated uint32 over_votes = 2; repeated string
    write_ins = 3; string filler = 4; }``."""

    status: int
    over_votes: tuple[int, ...]
    write_ins: tuple[str, ...]
    filler: str

    @staticmethod
    def parse(data: bytes) -> EgkContestData:
        status, over, writes, filler = 0, [], [], ""
        pos = 0
        while pos < len(data):
            key, pos = _varint(data, pos)
            fnum, wt = key >> 3, key & 7
            if wt == 0:
                val, pos = _varint(data, pos)
                if fnum == 1:
                    status = val
                elif fnum == 2:
                    over.append(val)
                else:
                    raise ValueError(f"unexpected varint field {fnum}")
            elif wt == 2:
                n, pos = _varint(data, pos)
                body = data[pos : pos + n]
                if len(body) != n:
                    raise ValueError("truncated field")
                pos += n
                if fnum == 2:  # packed over_votes
                    p2 = 0
                    while p2 < len(body):
                        val, p2 = _varint(body, p2)
                        over.append(val)
                elif fnum == 3:
                    writes.append(body.decode("utf-8"))
                elif fnum == 4:
                    filler = body.decode("utf-8")
                else:
                    raise ValueError(f"unexpected field {fnum}")
            else:
                raise ValueError(f"unexpected wire type {wt}")
        return EgkContestData(status, tuple(over), tuple(writes), filler)

    def encode(self, size: int) -> bytes:
        """Proto3 encoding with the filler sized so the whole message is ``size`` bytes (egk's padding)."""
        body = b""
        if self.status:
            body += b"\x08" + _enc_varint(self.status)
        if self.over_votes:
            packed = b"".join(_enc_varint(x) for x in self.over_votes)
            body += b"\x12" + _enc_varint(len(packed)) + packed
        for w in self.write_ins:
            raw = w.encode("utf-8")
            body += b"\x1a" + _enc_varint(len(raw)) + raw
        n = size - len(body) - 2
        if not 0 <= n < 128:
            raise ValueError("contest data does not fit")
        return body + b"\x22" + bytes([n]) + b"*" * n


def expected_status(votes: Sequence[int], limit: int) -> int:
    """egk's contest status from the plaintext votes (null vote, under vote, normal, over vote)."""
    total = sum(votes)
    if total == 0:
        return ContestStatus.NULL_VOTE
    if total > limit:
        return ContestStatus.OVERVOTE
    if total < limit:
        return ContestStatus.UNDERVOTE
    return ContestStatus.NORMAL


# ---------------------------------------------------------------------------------------------------
# mutation helpers for the negative checks
# ---------------------------------------------------------------------------------------------------


def flip(b: bytes, index: int = -1, bit: int = 0) -> bytes:
    """``b`` with one bit flipped (default: the lowest bit of the last byte)."""
    ba = bytearray(b)
    ba[index] ^= 1 << bit
    return bytes(ba)


def bump(s: Scalar) -> Scalar:
    """s + 1 mod q."""
    return s + s.group.scalar(1)


def bump_proof(p: RangeProof, j: int = 0) -> RangeProof:
    """The range proof with response v_j replaced by v_j + 1."""
    v = list(p.v)
    v[j] = bump(v[j])
    return RangeProof(p.c, tuple(v))
