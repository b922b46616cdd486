"""Disjunctive Chaum–Pedersen range proofs: (α, β) encrypts some ℓ in {0, …, R}
(EG 2.0 eq. 44-48 and 56, Verifications 5 and 6; specs/05-proofs.md §Range)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from e2evote.elgamal import Ciphertext, PublicKey
from e2evote.errors import BallotError, VerificationError
from e2evote.groups.base import Element, FixedBase, Group, Scalar
from e2evote.groups.parallel import SharedJob, start_shared, workers
from e2evote.hashing import H, Tag

__all__ = [
    "RangeProof",
    "RangeStatement",
    "prove_range",
    "verify_range",
    "verify_range_many",
    "RangeBatch",
    "start_range_batch",
    "range_challenge",
    "range_commitments",
    "range_commitments_many",
]


@dataclass(frozen=True, slots=True)
class RangeProof:
    """Challenges c_0…c_R and responses v_0…v_R (specs/05-proofs.md §Range)."""

    c: tuple[Scalar, ...]
    """c_j ∈ Z_q"""
    v: tuple[Scalar, ...]
    """v_j ∈ Z_q"""

    @property
    def R(self) -> int:
        return len(self.c) - 1


def range_challenge(H_E: bytes, K: Element, ct: Ciphertext, commitments: Sequence[Element]) -> bytes:
    """c = H(H_E; 0x21, K, α, β, a_0, b_0, …, a_R, b_R) (eq. 46, 56)."""
    return H(
        H_E,
        Tag.RANGE_PROOF,
        K.to_bytes(),
        ct.alpha.to_bytes(),
        ct.beta.to_bytes(),
        *(x.to_bytes() for x in commitments),
    )


def prove_range(key: PublicKey, H_E: bytes, ct: Ciphertext, ell: int, R: int, xi: Scalar) -> RangeProof:
    """Prove ``ct = Enc(ell, xi)`` with 0 <= ell <= R (eq. 44-48)."""
    if not 0 <= ell <= R:
        raise BallotError(f"plaintext {ell} outside the range 0..{R}")
    g = key.group
    # the same work for every j, whichever is the plaintext (its position is what a timing observer
    # of the encrypting device must not learn): a c_j is drawn for every j, and t_j = u_j + (ℓ - j) c_j
    # is computed for every j (for j = ℓ it is u_ℓ); c_ℓ is then overwritten (eq. 44-48)
    u = [g.random_scalar() for _ in range(R + 1)]
    cs: list[Scalar] = [g.random_scalar() for _ in range(R + 1)]
    commitments: list[Element] = []
    for j in range(R + 1):
        t_j = u[j] + g.scalar_reduce(ell - j) * cs[j]
        commitments += [g.g_pow(u[j]), key.K_pow(t_j)]
    c = g.scalar_reduce(int.from_bytes(range_challenge(H_E, key.K, ct, commitments), "big"))
    others = g.scalar(0)
    for c_j in cs:
        others = others + c_j
    cs[ell] = c - (others - cs[ell])
    v = tuple(u[j] - cs[j] * xi for j in range(R + 1))
    return RangeProof(tuple(cs), v)


def range_commitments_many(g: Group, K_table: FixedBase, ct: Ciphertext, proof: RangeProof) -> list[Element]:
    """:func:`range_commitments` with the powers of each base computed as lists (``pow_exp_list``,
    ``FixedBase.pow_many``): [a_0, b_0, …, a_R, b_R]."""
    c, v = proof.c, proof.v
    ac = g.pow_exp_list(ct.alpha, c)
    bc = g.pow_exp_list(ct.beta, c)
    gv = g.pow_exp_list(g.generator(), v)
    kw = K_table.pow_many(  # w_j = v_j - j c_j (c_j, v_j are of g: checked by the two lines above)
        [g.scalar_reduce(v_j.value - j * c_j.value) for j, (c_j, v_j) in enumerate(zip(c, v, strict=True))]
    )
    out: list[Element] = []
    for j in range(len(c)):
        out += [gv[j] * ac[j], kw[j] * bc[j]]
    return out


def range_commitments(key: PublicKey, ct: Ciphertext, proof: RangeProof) -> list[Element]:
    """Recompute a_j = g^{v_j} α^{c_j}, b_j = K^{w_j} β^{c_j}, w_j = v_j - j c_j (5.1, 5.2 / 6.3, 6.4)."""
    g = key.group
    out: list[Element] = []
    for j, (c_j, v_j) in enumerate(zip(proof.c, proof.v, strict=True)):
        a_j = g.g_pow(v_j) * (ct.alpha**c_j)
        w_j = v_j - g.scalar_reduce(j) * c_j
        b_j = key.K_pow(w_j) * (ct.beta**c_j)
        out += [a_j, b_j]
    return out


def verify_range(
    key: PublicKey, H_E: bytes, ct: Ciphertext, proof: RangeProof, R: int, *, step: str, obj: str
) -> None:
    """Verification 5 (selections, ``step="V5"``) or 6 (contest limits, ``step="V6"``).

    (x.A) membership of α, β holds because Elements are validated on decoding; (x.B)/(x.C) hold
    because c_j, v_j are Scalars in Z_q; this checks the arity and (x.D) the challenge sum.
    """
    g = key.group
    if len(proof.c) != R + 1 or len(proof.v) != R + 1:
        raise VerificationError(f"{step}.B", obj, f"range proof has {len(proof.c)} terms, expected {R + 1}")
    for x in (*proof.c, *proof.v):
        if x.group != g:
            raise VerificationError(f"{step}.C", obj, "proof value of another group")
    if ct.alpha.group != g or ct.beta.group != g:
        raise VerificationError(f"{step}.A", obj, "ciphertext of another group")
    commitments = range_commitments(key, ct, proof)
    c = int.from_bytes(range_challenge(H_E, key.K, ct, commitments), "big")
    total = sum(int(c_j) for c_j in proof.c) % g.q
    if c % g.q != total:
        raise VerificationError(f"{step}.D", obj, "challenge does not equal the sum of the c_j")


@dataclass(frozen=True, slots=True)
class RangeStatement:
    """One range proof to check in a batch: ``ct`` encrypts a value in 0..R (step "V5" or "V6")."""

    ct: Ciphertext
    proof: RangeProof
    R: int
    step: str
    obj: str


class RangeBatch:
    """A batch of range proofs in flight: :func:`start_range_batch` has submitted the variable-base
    powers to the worker threads and computed the fixed-base ones; :meth:`finish` collects, hashes
    and compares. Keeping one batch in flight while the next is prepared overlaps the two kinds of
    work (specs/10-verification.md §1.5).

    A group whose fixed-base powers are no cheaper than variable-base ones and release the GIL too
    (``fixed_base_on_workers``, Ed25519) has the workers compute whole commitments instead: this
    thread then only hashes."""

    __slots__ = ("key", "H_E", "_malformed", "_ok", "_at", "_fixed", "_var", "_whole")

    def __init__(self, key: PublicKey, H_E: bytes, items: Sequence[RangeStatement]) -> None:
        g = key.group
        self.key = key
        self.H_E = H_E
        self._malformed: list[tuple[int, VerificationError]] = []
        """(position in ``items``, failure) of the statements refused before any arithmetic"""
        ok: list[RangeStatement] = []
        at: list[int] = []
        for n, it in enumerate(items):
            if len(it.proof.c) != it.R + 1 or len(it.proof.v) != it.R + 1:
                terms = f"range proof has {len(it.proof.c)} terms, expected {it.R + 1}"
                self._malformed.append((n, VerificationError(f"{it.step}.B", it.obj, terms)))
            elif any(x.group != g for x in (*it.proof.c, *it.proof.v)) or not (
                it.ct.alpha.group == g == it.ct.beta.group
            ):
                self._malformed.append(
                    (n, VerificationError(f"{it.step}.C", it.obj, "value of another group"))
                )
            else:
                ok.append(it)
                at.append(n)
        self._ok = ok
        self._at = at
        self._fixed: list[tuple[list[Element], list[Element]]] = []
        self._whole: SharedJob[RangeStatement, list[Element]] | None = None
        self._var: SharedJob[RangeStatement, tuple[Sequence[Element], Sequence[Element]]] | None = None
        if getattr(g, "fixed_base_on_workers", False):
            K_table = key.table

            def whole(chunk: Sequence[RangeStatement]) -> list[list[Element]]:
                return [range_commitments_many(g, K_table, it.ct, it.proof) for it in chunk]

            self._whole = start_shared(whole, ok, chunk=2)
            return

        # one thread to a core (e.g. a worker process): the shared-squaring powers are cheaper than
        # GMP's powmod but hold the GIL; with several threads the GIL-free powmods scale instead
        pw = g.pow_shared if workers() == 1 else g.pow_exp_list

        def var_part(chunk: Sequence[RangeStatement]) -> list[tuple[Sequence[Element], Sequence[Element]]]:
            return [(pw(it.ct.alpha, it.proof.c), pw(it.ct.beta, it.proof.c)) for it in chunk]

        # shared: in finish() this thread computes the chunks no worker has started instead of waiting
        self._var = start_shared(var_part, ok, chunk=4)
        for it in ok:
            gv = [g.g_pow(v) for v in it.proof.v]
            kw = [
                key.K_pow(v - g.scalar_reduce(j) * c)
                for j, (c, v) in enumerate(zip(it.proof.c, it.proof.v, strict=True))
            ]
            self._fixed.append((gv, kw))

    def __len__(self) -> int:
        return len(self._ok) + len(self._malformed)

    def finish(self) -> list[VerificationError]:
        """The failures, in the order of the statements (whatever check failed)."""
        return [f for _, f in self.finish_at()]

    def finish_at(self) -> list[tuple[int, VerificationError]]:
        """(position of the statement in ``items``, its failure), in statement order."""
        all_commitments: list[list[Element]] = []
        if self._whole is not None:
            all_commitments = self._whole.result()
        else:
            var = self._var.result() if self._var is not None else []
            for it, (gv, kw), (ac, bc) in zip(self._ok, self._fixed, var, strict=True):
                commitments: list[Element] = []
                for j in range(it.R + 1):
                    commitments += [gv[j] * ac[j], kw[j] * bc[j]]
                all_commitments.append(commitments)
        q = self.key.group.q
        failures = list(self._malformed)
        for n, it, commitments in zip(self._at, self._ok, all_commitments, strict=True):
            c = int.from_bytes(range_challenge(self.H_E, self.key.K, it.ct, commitments), "big")
            if c % q != sum(int(c_j) for c_j in it.proof.c) % q:
                wrong = VerificationError(
                    f"{it.step}.D", it.obj, "challenge does not equal the sum of the c_j"
                )
                failures.append((n, wrong))
        return sorted(failures, key=lambda t: t[0])


def start_range_batch(key: PublicKey, H_E: bytes, items: Sequence[RangeStatement]) -> RangeBatch:
    """Start checking ``items`` (see :class:`RangeBatch`)."""
    return RangeBatch(key, H_E, items)


def verify_range_many(key: PublicKey, H_E: bytes, items: Sequence[RangeStatement]) -> list[VerificationError]:
    """Check many range proofs; returns the failures (empty if all hold). Same checks as
    :func:`verify_range`; the variable-base powers α^{c_j}, β^{c_j} run on the worker threads
    (GIL-free) while this thread computes the fixed-base g^{v_j}, K^{w_j} from the tables."""
    return RangeBatch(key, H_E, items).finish()
