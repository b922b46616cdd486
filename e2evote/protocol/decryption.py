"""k-of-n verifiable decryption (EG 2.0 §3.6; specs/06-decryption.md).

A decryption *target* is one value A to be raised to the joint secret s (M = A^s), together with the
statement its challenge binds: (A, B) with tag 0x30 for an ElGamal ciphertext (eq. 71), or
(C0, C1, C2) with tag 0x31 for contest data (eq. 81). Two rounds, any h >= k available guardians U:

1. each guardian i ∈ U: :meth:`DecryptingGuardian.commit` → M_i = A^{P(i)}, (a_i, b_i) = (g^{u_i}, A^{u_i})
   (eq. 66, 69); it keeps the u_i in its :class:`PendingDecryption`;
2. the coordinator: :func:`challenges` combines M = Π M_i^{w_i} (eq. 67-68), a = Π a_i, b = Π b_i (eq. 70),
   c = H(…) and c_i = c·w_i (eq. 71-72);
3. each guardian: :meth:`PendingDecryption.respond` → v_i = u_i − c_i P(i) (eq. 73);
4. the coordinator: :func:`combine` checks every v_i against the public commitments (eq. 74-75),
   naming a cheating guardian, and publishes (c, v = Σ v_i) (eq. 76).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from e2evote.errors import CeremonyError, DecryptionError
from e2evote.groups.base import Element, Group, Scalar
from e2evote.hashing import Tag
from e2evote.proofs.chaum_pedersen import DecryptionProof, decryption_challenge
from e2evote.protocol.ceremony import GuardianKey, GuardianPublicKeys, public_share_key
from e2evote.protocol.election import ElectionContext

__all__ = [
    "Target",
    "PartialDecryption",
    "PendingDecryption",
    "DecryptionChallenge",
    "DecryptionResponse",
    "CombinedDecryption",
    "DecryptingGuardian",
    "lagrange_coefficients",
    "challenges",
    "combine",
    "decrypt_with_quorum",
]


@dataclass(frozen=True, slots=True)
class Target:
    """A value A to decrypt and the statement its proof binds (specs/06-decryption.md §Targets)."""

    A: Element
    statement: tuple[bytes, ...]
    tag: int = Tag.DECRYPTION_PROOF

    @staticmethod
    def ciphertext(A: Element, B: Element) -> Target:
        return Target(A, (A.to_bytes(), B.to_bytes()), Tag.DECRYPTION_PROOF)


@dataclass(frozen=True, slots=True)
class PartialDecryption:
    """Guardian i's round-1 message: M_i and commitments (a_i, b_i) per target."""

    i: int
    M: tuple[Element, ...]
    a: tuple[Element, ...]
    b: tuple[Element, ...]


@dataclass(frozen=True, slots=True)
class DecryptionChallenge:
    """Round-2 message to guardian i: c_i = c·w_i per target."""

    i: int
    c: tuple[Scalar, ...]


@dataclass(frozen=True, slots=True)
class DecryptionResponse:
    """Guardian i's round-2 message: v_i = u_i − c_i P(i) per target."""

    i: int
    v: tuple[Scalar, ...]


@dataclass(frozen=True, slots=True)
class CombinedDecryption:
    """The published result per target: M = A^s and the proof (c, v)."""

    M: tuple[Element, ...]
    proofs: tuple[DecryptionProof, ...]

    def __post_init__(self) -> None:
        if len(self.M) != len(self.proofs):
            raise DecryptionError(f"{len(self.M)} decryptions with {len(self.proofs)} proofs")


def lagrange_coefficients(group: Group, U: Sequence[int]) -> dict[int, Scalar]:
    """w_i = Π_{ℓ ∈ U∖{i}} ℓ / (ℓ − i) mod q (eq. 67)."""
    if len(set(U)) != len(U):
        raise DecryptionError("repeated guardian index in the decrypting set")
    out = {}
    for i in U:
        num = group.scalar(1)
        den = group.scalar(1)
        for ell in U:
            if ell != i:
                num = num * group.scalar_reduce(ell)
                den = den * group.scalar_reduce(ell - i)
        out[i] = num * den.inverse()
    return out


class PendingDecryption:
    """Guardian state between the rounds: holds the secret nonces u_i (never printed)."""

    __slots__ = ("guardian", "targets", "_u", "_used")

    def __init__(self, guardian: DecryptingGuardian, targets: tuple[Target, ...], u: tuple[Scalar, ...]):
        self.guardian = guardian
        self.targets = targets
        self._u = u
        self._used = False

    def __repr__(self) -> str:
        return f"PendingDecryption(i={self.guardian.i}, targets={len(self.targets)})"

    def nonces(self) -> tuple[Scalar, ...]:
        """For the encrypted key store only."""
        return self._u

    def respond(self, challenge: DecryptionChallenge) -> DecryptionResponse:
        if self._used:
            raise CeremonyError("this decryption round was already answered; nonces are never reused")
        self._used = True
        if challenge.i != self.guardian.i or len(challenge.c) != len(self.targets):
            raise DecryptionError("challenge is not for this guardian's pending decryption")
        P = self.guardian.P_i
        return DecryptionResponse(
            self.guardian.i, tuple(u - c * P for u, c in zip(self._u, challenge.c, strict=True))
        )


@dataclass(frozen=True, slots=True)
class DecryptingGuardian:
    """Guardian i with its share P(i) (from :class:`GuardianKey`)."""

    i: int
    P_i: Scalar = field(repr=False)
    group: Group

    @staticmethod
    def from_key(key: GuardianKey) -> DecryptingGuardian:
        return DecryptingGuardian(key.i, key.P_i, key.context.group)

    def commit(
        self, targets: Sequence[Target], nonces: Sequence[Scalar] | None = None
    ) -> tuple[PartialDecryption, PendingDecryption]:
        g = self.group
        u = tuple(nonces) if nonces is not None else tuple(g.random_scalar() for _ in targets)
        Ms, As, Bs = [], [], []
        for t, ui in zip(targets, u, strict=True):
            Ms.append(g.pow_sec(t.A, self.P_i))  # eq. 66
            As.append(g.g_pow_sec(ui))  # eq. 69
            Bs.append(g.pow_sec(t.A, ui))
        pending = PendingDecryption(self, tuple(targets), u)
        return PartialDecryption(self.i, tuple(Ms), tuple(As), tuple(Bs)), pending


def _combined(
    ctx: ElectionContext, targets: Sequence[Target], partials: Mapping[int, PartialDecryption]
) -> tuple[dict[int, Scalar], list[Element], list[bytes]]:
    g = ctx.group
    U = sorted(partials)
    if len(U) < ctx.parameters.k:
        raise DecryptionError(f"{len(U)} guardians available, the quorum is {ctx.parameters.k}")
    for i in U:
        p = partials[i]
        if p.i != i or not 1 <= i <= ctx.parameters.n:
            raise CeremonyError("partial decryption from an unknown guardian", [i] if i > 0 else [])
        if not len(p.M) == len(p.a) == len(p.b) == len(targets):
            raise CeremonyError(f"guardian {i} answered {len(p.M)} targets, expected {len(targets)}", [i])
    w = lagrange_coefficients(g, U)
    Ms: list[Element] = []
    cs: list[bytes] = []
    for n, t in enumerate(targets):
        M = g.multi_pow([partials[i].M[n] for i in U], [w[i] for i in U])  # eq. 68
        a = g.identity()
        b = g.identity()
        for i in U:
            a = a * partials[i].a[n]
            b = b * partials[i].b[n]
        Ms.append(M)
        cs.append(decryption_challenge(ctx.H_E, t.tag, ctx.K, t.statement, a, b, M))  # eq. 71
    return w, Ms, cs


def challenges(
    ctx: ElectionContext, targets: Sequence[Target], partials: Sequence[PartialDecryption]
) -> list[DecryptionChallenge]:
    """The coordinator's round-2 messages c_i = c·w_i (eq. 72)."""
    by_i = {p.i: p for p in partials}
    if len(by_i) != len(partials):
        raise DecryptionError("two partial decryptions from one guardian")
    w, _, cs = _combined(ctx, targets, by_i)
    g = ctx.group
    return [
        DecryptionChallenge(i, tuple(g.scalar_reduce(int.from_bytes(c, "big")) * w[i] for c in cs))
        for i in sorted(by_i)
    ]


def combine(
    ctx: ElectionContext,
    commitments: Sequence[GuardianPublicKeys],
    targets: Sequence[Target],
    partials: Sequence[PartialDecryption],
    responses: Sequence[DecryptionResponse],
) -> CombinedDecryption:
    """Check each guardian's responses (eq. 74-75) and publish M with the proof (c, v) (eq. 76)."""
    g = ctx.group
    by_i = {p.i: p for p in partials}
    w, Ms, cs = _combined(ctx, targets, by_i)
    resp = {r.i: r for r in responses}
    if sorted(resp) != sorted(by_i):
        raise DecryptionError(f"responses from {sorted(resp)} but partial decryptions from {sorted(by_i)}")
    v_total = [g.scalar(0) for _ in targets]
    for i in sorted(by_i):
        r = resp[i]
        if len(r.v) != len(targets):
            raise CeremonyError(f"guardian {i} answered {len(r.v)} challenges", [i])
        gP = public_share_key(g, commitments, i)  # g^{P(i)}
        for n, t in enumerate(targets):
            c_i = g.scalar_reduce(int.from_bytes(cs[n], "big")) * w[i]
            v_i = r.v[n]
            if g.multi_pow([g.generator(), gP], [v_i, c_i]) != by_i[i].a[n]:  # eq. 74
                raise CeremonyError(f"guardian {i}'s decryption response {n} fails eq. 74", [i])
            if g.multi_pow([t.A, by_i[i].M[n]], [v_i, c_i]) != by_i[i].b[n]:  # eq. 75
                raise CeremonyError(f"guardian {i}'s decryption response {n} fails eq. 75", [i])
            v_total[n] = v_total[n] + v_i
    return CombinedDecryption(
        tuple(Ms), tuple(DecryptionProof(c, v) for c, v in zip(cs, v_total, strict=True))
    )


def decrypt_with_quorum(
    ctx: ElectionContext,
    commitments: Sequence[GuardianPublicKeys],
    guardians: Sequence[DecryptingGuardian],
    targets: Sequence[Target],
) -> CombinedDecryption:
    """Both rounds in one process (demo, tests, a coordinator holding all available guardians)."""
    rounds = [gd.commit(targets) for gd in guardians]
    partials = [p for p, _ in rounds]
    chal = {c.i: c for c in challenges(ctx, targets, partials)}
    responses = [pending.respond(chal[pending.guardian.i]) for _, pending in rounds]
    return combine(ctx, commitments, targets, partials, responses)
