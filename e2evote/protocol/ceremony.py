"""The key ceremony as a state machine (EG 2.0 §3.2; specs/06-ceremony.md).

Each guardian runs::

    g = GuardianSetup.start(params, i)             # secret polynomial, commitments K_ij + proofs
    s = g.receive_public_keys(all_public_keys)     # checks every proof; makes encrypted shares
    c = s.receive_shares(shares_addressed_to_i)    # decrypts and checks each share (eq. 21)
    key = c.finalize(resolutions)                  # P(i), K, H_E — the guardian's decryption key

A state can be used once: calling a transition twice raises. Anything wrong aborts with a
:class:`~e2evote.errors.CeremonyError` naming the guardian to blame (identifiable abort). A share
that fails to check produces a :class:`Complaint`; the accused answers with a :class:`ShareReveal`
that anybody checks (:func:`check_reveal`); a bad reveal excludes the accused.

Shares, complaints and reveals are signed by their author with its key K_{i,0} (e2evote extension,
specs/06-ceremony.md §5.1): a message whose signature fails is damaged or forged in transit — it
blames nobody and is never acted on (a share is to be resent; a complaint is not answered), so only
the author of a share can make a guardian complain about it and only the complainant can make the
accused reveal P_j(ℓ).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from e2evote.elgamal import HashedCiphertext, decrypt_share, encrypt_share
from e2evote.errors import CeremonyError, DecryptionError, VerificationError
from e2evote.groups.base import Element, Group, Scalar
from e2evote.hashing import EXT, CeremonyKind, H_ext, b_file, b_str, b_u32
from e2evote.proofs.schnorr import (
    SchnorrProof,
    prove_schnorr,
    sign_message,
    verify_message_signature,
    verify_schnorr,
)
from e2evote.protocol.election import ElectionContext, ElectionParameters

__all__ = [
    "GuardianPublicKeys",
    "EncryptedShare",
    "Complaint",
    "ShareReveal",
    "GuardianSetup",
    "AwaitingShares",
    "SharesChecked",
    "GuardianKey",
    "verify_public_keys",
    "check_reveal",
    "check_share",
    "check_complaint",
    "check_republished",
    "check_share_check",
    "check_key_confirmation",
    "keys_fingerprint",
    "joint_key",
    "public_share_key",
    "build_context",
]


@dataclass(frozen=True, slots=True)
class GuardianPublicKeys:
    """Guardian i's commitments K_{i,j} = g^{a_{i,j}} with Schnorr proofs (eq. 10-12)."""

    i: int
    K: tuple[Element, ...]
    proofs: tuple[SchnorrProof, ...]

    @property
    def public_key(self) -> Element:
        """K_i = K_{i,0}"""
        return self.K[0]


@dataclass(frozen=True, slots=True)
class EncryptedShare:
    """E_ℓ(P_i(ℓ)) from guardian i to guardian ℓ (eq. 18), signed by i (specs/06-ceremony.md §5.1)."""

    i: int
    ell: int
    ct: HashedCiphertext
    sigma: SchnorrProof
    """guardian i's signature (specs/06-ceremony.md §5.1)"""

    def message(self) -> bytes:
        return _share_message(self.i, self.ell, self.ct)


@dataclass(frozen=True, slots=True)
class Complaint:
    """Guardian ``ell`` reports that the share from guardian ``i`` did not check; signed by ℓ."""

    ell: int
    i: int
    reason: str
    sigma: SchnorrProof
    """guardian ℓ's signature (specs/06-ceremony.md §5.1)"""

    def message(self) -> bytes:
        return _complaint_message(self.ell, self.i, self.reason)


@dataclass(frozen=True, slots=True)
class ShareReveal:
    """Guardian i publishes P_i(ℓ) and the nonce ξ_{i,ℓ} to answer a complaint (§3.2.2); signed by i."""

    i: int
    ell: int
    share: Scalar = field(repr=False)
    xi: Scalar = field(repr=False)
    sigma: SchnorrProof
    """guardian i's signature (specs/06-ceremony.md §5.1)"""

    def message(self) -> bytes:
        return _reveal_message(self.i, self.ell, self.share, self.xi)


# What each signed ceremony message's σ signs, and its ``kind`` (specs/06-ceremony.md §5.1).
_SHARE, _COMPLAINT, _REVEAL = CeremonyKind.SHARE, CeremonyKind.COMPLAINT, CeremonyKind.REVEAL


def _share_message(i: int, ell: int, ct: HashedCiphertext) -> bytes:
    """b(i,4) ‖ b(ℓ,4) ‖ E(C0) ‖ b_file(C1) ‖ C2"""
    return b_u32(i) + b_u32(ell) + ct.C0.to_bytes() + b_file(ct.C1) + ct.C2


def _complaint_message(ell: int, i: int, reason: str) -> bytes:
    """b(ℓ,4) ‖ b(i,4) ‖ b_str(reason)"""
    return b_u32(ell) + b_u32(i) + b_str(reason)


def _share_check_message(ell: int, complaints: Sequence[Complaint]) -> bytes:
    """What guardian ℓ signs for its share-check report: b(ℓ,4) ‖ b(count,4) ‖ each complaint's
    signed bytes (the report "ok" is the empty list)."""
    return b_u32(ell) + b_u32(len(complaints)) + b"".join(c.message() for c in complaints)


def _key_confirmation_message(i: int, H_E: bytes) -> bytes:
    """What guardian i signs to confirm its key share: b(i,4) ‖ H_E."""
    return b_u32(i) + H_E


def _reveal_message(i: int, ell: int, share: Scalar, xi: Scalar) -> bytes:
    """b(i,4) ‖ b(ℓ,4) ‖ S(P_i(ℓ)) ‖ S(ξ_{i,ℓ})"""
    return b_u32(i) + b_u32(ell) + share.to_bytes() + xi.to_bytes()


def _check_signed(
    params: ElectionParameters, author: GuardianPublicKeys, kind: bytes, message: bytes, sigma: SchnorrProof
) -> None:
    """σ must be guardian ``author.i``'s signature under K_{i,0}; a failure blames nobody: the
    message was damaged or forged on its way (it is not acted on)."""
    try:
        verify_message_signature(params.group, params.H_B, author.i, author.public_key, kind, message, sigma)
    except VerificationError as exc:
        raise CeremonyError(
            f"{kind.decode()} claimed from guardian {author.i} is not signed by it: damaged or forged in "
            f"transit, so it is not acted on ({exc.detail})"
        ) from exc


def _signed_by(
    params: ElectionParameters, author: GuardianPublicKeys, kind: bytes, message: bytes, sigma: SchnorrProof
) -> bool:
    try:
        _check_signed(params, author, kind, message, sigma)
    except CeremonyError:
        return False
    return True


def check_share(params: ElectionParameters, share: EncryptedShare, sender: GuardianPublicKeys) -> None:
    """The share is signed by its sender (specs/06-ceremony.md §5.1)."""
    if sender.i != share.i:
        raise CeremonyError(f"share from guardian {share.i} checked against guardian {sender.i}'s key")
    _check_signed(params, sender, _SHARE, share.message(), share.sigma)


def check_share_check(
    params: ElectionParameters,
    author: GuardianPublicKeys,
    complaints: Sequence[Complaint],
    sigma: SchnorrProof,
) -> None:
    """Guardian ``author.i``'s share-check report ("ok" when ``complaints`` is empty) is signed by it;
    else :class:`CeremonyError` blaming nobody (specs/06-ceremony.md §5.1)."""
    message = _share_check_message(author.i, complaints)
    _check_signed(params, author, CeremonyKind.SHARE_CHECK, message, sigma)


def check_key_confirmation(
    params: ElectionParameters, author: GuardianPublicKeys, H_E: bytes, sigma: SchnorrProof
) -> None:
    """Guardian ``author.i``'s confirmation of H_E is signed by it; else :class:`CeremonyError`
    blaming nobody (specs/06-ceremony.md §5.1)."""
    message = _key_confirmation_message(author.i, H_E)
    _check_signed(params, author, CeremonyKind.KEY_CONFIRMATION, message, sigma)


def check_republished(
    params: ElectionParameters, copy: EncryptedShare, published: EncryptedShare, sender: GuardianPublicKeys
) -> None:
    """A copy of a share re-published by its sender (e.g. with a reveal) must be signed by it and
    carry the same ciphertexts as the signed share published: two different signed shares blame the
    sender (specs/06-ceremony.md §5); an unsigned copy blames nobody."""
    check_share(params, copy, sender)
    if (copy.i, copy.ell) != (published.i, published.ell) or copy.ct != published.ct:
        raise CeremonyError(
            f"guardian {sender.i} signed two different shares for guardian {published.ell} (the one "
            "published and the one it re-published)",
            [sender.i],
        )


def check_complaint(
    params: ElectionParameters, complaint: Complaint, complainant: GuardianPublicKeys
) -> None:
    """The complaint is signed by the guardian who makes it (specs/06-ceremony.md §5.1)."""
    if complainant.i != complaint.ell:
        raise CeremonyError(
            f"complaint of guardian {complaint.ell} checked against guardian {complainant.i}'s key"
        )
    _check_signed(params, complainant, _COMPLAINT, complaint.message(), complaint.sigma)


def verify_public_keys(params: ElectionParameters, pk: GuardianPublicKeys) -> None:
    """Verification 2 and 3.A for one guardian; raises CeremonyError naming it."""
    if not 1 <= pk.i <= params.n:
        raise CeremonyError(f"guardian index {pk.i} outside 1..{params.n}", [pk.i] if pk.i > 0 else [])
    if len(pk.K) != params.k or len(pk.proofs) != params.k:
        raise CeremonyError(f"guardian {pk.i} published {len(pk.K)} commitments, expected {params.k}", [pk.i])
    for j, (K_ij, proof) in enumerate(zip(pk.K, pk.proofs, strict=True)):
        if K_ij.is_identity():
            raise CeremonyError(f"guardian {pk.i} commitment {j} is the identity", [pk.i])
        try:
            verify_schnorr(params.group, params.H_P, pk.i, j, K_ij, proof)
        except VerificationError as exc:
            raise CeremonyError(f"guardian {pk.i} coefficient {j}: {exc}", [pk.i]) from exc


def keys_fingerprint(params: ElectionParameters, commitments: Sequence[GuardianPublicKeys]) -> bytes:
    """H_ext(H_B; CEREMONY_KEYS, b(i,4) ‖ E(K_{i,0}) ‖ … ‖ E(K_{i,k−1}) for i = 1..n): what guardians
    compare out of band before round 2, so that each knows it holds the others' genuine keys
    (specs/06-ceremony.md §5.1)."""
    parts = [
        b_u32(pk.i) + b"".join(K.to_bytes() for K in pk.K) for pk in sorted(commitments, key=lambda p: p.i)
    ]
    return H_ext(params.H_B, EXT.CEREMONY_KEYS, *parts)


def public_share_key(group: Group, commitments: Sequence[GuardianPublicKeys], ell: int) -> Element:
    """g^{P(ℓ)} = Π_j Π_m K_{j,m}^{ℓ^m} (eq. 13, 21, 74), computed from public commitments only."""
    acc = group.identity()
    for pk in commitments:
        acc = acc * _eval_commitments(group, pk.K, ell)
    return acc


def _eval_commitments(group: Group, K: Sequence[Element], ell: int) -> Element:
    """Π_m K_m^{ℓ^m mod q} (eq. 13, 21)."""
    exps = [group.scalar_reduce(pow(ell, m, int(group.q))) for m in range(len(K))]
    return group.multi_pow(list(K), exps)


def joint_key(group: Group, commitments: Sequence[GuardianPublicKeys]) -> Element:
    """K = Π_i K_i (eq. 8)."""
    K = group.identity()
    for pk in commitments:
        K = K * pk.public_key
    if K.is_identity():
        raise CeremonyError("joint key is the identity")
    return K


def build_context(params: ElectionParameters, commitments: Sequence[GuardianPublicKeys]) -> ElectionContext:
    """Check every guardian's public keys and form K and H_E (Verifications 2-4)."""
    seen = sorted(pk.i for pk in commitments)
    if seen != list(range(1, params.n + 1)):
        raise CeremonyError(f"expected public keys of guardians 1..{params.n}, got {seen}")
    for pk in commitments:
        verify_public_keys(params, pk)
    return ElectionContext(params, joint_key(params.group, commitments))


def check_reveal(
    params: ElectionParameters,
    reveal: ShareReveal,
    published: EncryptedShare,
    sender: GuardianPublicKeys,
    recipient: GuardianPublicKeys,
) -> None:
    """The reveal and the published share must be signed by the sender; the revealed share must
    re-encrypt to the published ciphertext and satisfy eq. 21."""
    g = params.group
    if (
        (reveal.i, reveal.ell) != (published.i, published.ell)
        or sender.i != reveal.i
        or recipient.i != reveal.ell
    ):
        raise CeremonyError("reveal does not match the disputed share")
    check_share(params, published, sender)
    _check_signed(params, sender, _REVEAL, reveal.message(), reveal.sigma)
    again = encrypt_share(g, params.H_P, reveal.i, reveal.ell, recipient.public_key, reveal.share, reveal.xi)
    if again != published.ct:
        raise CeremonyError(f"guardian {reveal.i}'s revealed share does not match its encryption", [reveal.i])
    if g.g_pow_sec(reveal.share) != _eval_commitments(g, sender.K, reveal.ell):
        raise CeremonyError(f"guardian {reveal.i}'s revealed share contradicts its commitments", [reveal.i])


class _Once:
    __slots__ = ("_used",)

    def __init__(self) -> None:
        self._used = False

    def _consume(self) -> None:
        if self._used:
            raise CeremonyError("this ceremony state was already used; steps cannot be repeated")
        self._used = True


class GuardianSetup(_Once):
    """State 1: guardian i has its secret polynomial and published commitments (eq. 9-12)."""

    __slots__ = ("params", "i", "_coefficients", "public")

    def __init__(
        self, params: ElectionParameters, i: int, coefficients: Sequence[Scalar], public: GuardianPublicKeys
    ):
        super().__init__()
        self.params = params
        self.i = i
        self._coefficients = tuple(coefficients)
        self.public = public

    def __repr__(self) -> str:
        return f"GuardianSetup(i={self.i})"

    @staticmethod
    def start(
        params: ElectionParameters,
        i: int,
        coefficients: Sequence[Scalar] | None = None,
        proof_nonces: Sequence[Scalar] | None = None,
    ) -> GuardianSetup:
        """Sample 0 < a_{i,j} < q for j < k and publish K_{i,j} with proofs (``coefficients`` and
        ``proof_nonces`` only for test vectors)."""
        g = params.group
        if not 1 <= i <= params.n:
            raise CeremonyError(f"guardian index {i} outside 1..{params.n}")
        if coefficients is None:
            coefficients = []
            while len(coefficients) < params.k:
                a = g.random_scalar()
                if a:
                    coefficients.append(a)
        if len(coefficients) != params.k:
            raise CeremonyError(f"need {params.k} coefficients")
        Ks, proofs = [], []
        for j, a in enumerate(coefficients):
            u = proof_nonces[j] if proof_nonces is not None else None
            K_ij, proof = prove_schnorr(g, params.H_P, i, j, a, u)
            Ks.append(K_ij)
            proofs.append(proof)
        return GuardianSetup(params, i, coefficients, GuardianPublicKeys(i, tuple(Ks), tuple(proofs)))

    def P(self, x: int) -> Scalar:
        """P_i(x) = Σ_j a_{i,j} x^j mod q (eq. 9)."""
        g = self.params.group
        acc = g.scalar(0)
        xs = g.scalar_reduce(x)
        for a in reversed(self._coefficients):
            acc = acc * xs + a
        return acc

    def _sign(self, kind: bytes, message: bytes) -> SchnorrProof:
        return sign_message(self.params.group, self.params.H_B, self.i, self._coefficients[0], kind, message)

    def sign_share(self, ell: int, ct: HashedCiphertext) -> EncryptedShare:
        """The share E_ℓ(P_i(ℓ)) = ``ct`` as sent to guardian ℓ, signed."""
        return EncryptedShare(self.i, ell, ct, self._sign(_SHARE, _share_message(self.i, ell, ct)))

    def sign_complaint(self, i: int, reason: str) -> Complaint:
        """This guardian's complaint against guardian i, signed."""
        return Complaint(self.i, i, reason, self._sign(_COMPLAINT, _complaint_message(self.i, i, reason)))

    def sign_share_check(self, complaints: Sequence[Complaint]) -> SchnorrProof:
        """This guardian's signature on its share-check report (:func:`check_share_check`)."""
        return self._sign(CeremonyKind.SHARE_CHECK, _share_check_message(self.i, complaints))

    def sign_key_confirmation(self, H_E: bytes) -> SchnorrProof:
        """This guardian's signature confirming H_E (:func:`check_key_confirmation`)."""
        return self._sign(CeremonyKind.KEY_CONFIRMATION, _key_confirmation_message(self.i, H_E))

    def sign_reveal(self, ell: int, xi: Scalar) -> ShareReveal:
        """This guardian's answer to ℓ's complaint: P_i(ℓ) and the share's nonce ξ_{i,ℓ}, signed."""
        share = self.P(ell)
        return ShareReveal(
            self.i, ell, share, xi, self._sign(_REVEAL, _reveal_message(self.i, ell, share, xi))
        )

    def secret_coefficients(self) -> tuple[Scalar, ...]:
        """For the encrypted key store only."""
        return self._coefficients

    def receive_public_keys(
        self, all_public: Sequence[GuardianPublicKeys], share_nonces: Mapping[int, Scalar] | None = None
    ) -> AwaitingShares:
        """Check everybody's commitments and proofs, then encrypt P_i(ℓ) for every ℓ ≠ i (eq. 14-19)."""
        self._consume()
        by_i = {pk.i: pk for pk in all_public}
        if sorted(by_i) != list(range(1, self.params.n + 1)) or len(by_i) != len(all_public):
            raise CeremonyError(f"expected exactly one public-key message per guardian 1..{self.params.n}")
        if by_i[self.i] != self.public:
            raise CeremonyError(f"the public keys published as guardian {self.i} are not this guardian's")
        for pk in all_public:
            verify_public_keys(self.params, pk)
        g = self.params.group
        out = []
        nonces: dict[int, Scalar] = {}
        for ell, pk in sorted(by_i.items()):
            if ell == self.i:
                continue
            xi = share_nonces[ell] if share_nonces is not None else g.random_scalar()
            nonces[ell] = xi
            ct = encrypt_share(g, self.params.H_P, self.i, ell, pk.public_key, self.P(ell), xi)
            out.append(self.sign_share(ell, ct))
        return AwaitingShares(self, tuple(sorted(by_i.values(), key=lambda p: p.i)), tuple(out), nonces)


class AwaitingShares(_Once):
    """State 2: commitments checked; ``outgoing`` shares are to be sent to the other guardians."""

    __slots__ = ("setup", "all_public", "outgoing", "_nonces", "_revealed")

    def __init__(
        self,
        setup: GuardianSetup,
        all_public: tuple[GuardianPublicKeys, ...],
        outgoing: tuple[EncryptedShare, ...],
        nonces: Mapping[int, Scalar],
    ):
        super().__init__()
        self.setup = setup
        self.all_public = all_public
        self.outgoing = outgoing
        self._nonces = dict(nonces)
        self._revealed: set[int] = set()

    def __repr__(self) -> str:
        return f"AwaitingShares(i={self.setup.i})"

    def share_nonces(self) -> dict[int, Scalar]:
        """ξ_{i,ℓ} per recipient ℓ — for the encrypted key store only (needed to answer complaints)."""
        return dict(self._nonces)

    def reveal(self, complaint: Complaint) -> ShareReveal:
        """Answer a complaint against this guardian by publishing the share and its nonce."""
        return self.reveal_all([complaint])[0]

    def reveal_all(self, complaints: Sequence[Complaint]) -> list[ShareReveal]:
        """Answer complaints against this guardian (specs/06-ceremony.md §Complaints). Refused, with
        nothing revealed, if the shares published would number k or more: k points of P_i determine
        it, and with it this guardian's secret a_{i,0}; the ceremony must then restart without it.
        A complaint not signed by its complainant is refused first, with nothing revealed: only
        guardian ℓ can make this guardian publish P_i(ℓ), which ℓ holds already."""
        pubs = {pk.i: pk for pk in self.all_public}
        ells: list[int] = []
        for c in complaints:
            if c.i != self.setup.i or c.ell not in self._nonces:
                raise CeremonyError("complaint is not about a share this guardian sent")
            check_complaint(self.setup.params, c, pubs[c.ell])
            if c.ell not in ells:
                ells.append(c.ell)
        k = self.setup.params.k
        if len(self._revealed | set(ells)) >= k:
            raise CeremonyError(
                f"{len(self._revealed | set(ells))} complaints against guardian {self.setup.i} with quorum "
                f"{k}: answering would reveal its secret key; the ceremony must restart without it",
                [self.setup.i],
            )
        self._revealed.update(ells)
        return [self.setup.sign_reveal(ell, self._nonces[ell]) for ell in ells]

    def receive_shares(self, incoming: Sequence[EncryptedShare]) -> SharesChecked:
        """Decrypt and check every share addressed to this guardian (eq. 20-21); complain (signed)
        about each validly signed share that does not decrypt or contradicts its sender's
        commitments.

        Before anything is consumed, every expected share must be present, addressed to this
        guardian and signed by its sender: otherwise :class:`CeremonyError` (blaming nobody, since
        a file lost, damaged or forged in transit is nobody's proven fault) and the call can be
        repeated once the shares are resent. Two different validly signed shares from one sender
        blame it."""
        params = self.setup.params
        g = params.group
        me = self.setup.i
        pubs = {pk.i: pk for pk in self.all_public}
        by_sender: dict[int, EncryptedShare] = {}
        for sh in incoming:
            if sh.i not in pubs or sh.i == me:
                raise CeremonyError(
                    f"share from guardian {sh.i}, which is not another guardian of this ceremony"
                )
            check_share(params, sh, pubs[sh.i])
            if sh.ell != me:
                raise CeremonyError(f"share from guardian {sh.i} is addressed to guardian {sh.ell}, not {me}")
            seen = by_sender.setdefault(sh.i, sh)
            if seen.ct != sh.ct:  # the same share signed twice (resent) is one share
                raise CeremonyError(f"guardian {sh.i} signed two different shares for guardian {me}", [sh.i])
        missing = sorted(set(pubs) - {me} - set(by_sender))
        if missing:
            raise CeremonyError(
                f"no share yet from guardian(s) {', '.join(map(str, missing))}: a missing share is resent, "
                "not complained about"
            )
        self._consume()
        received: dict[int, Scalar] = {me: self.setup.P(me)}
        complaints: list[Complaint] = []
        K_me = pubs[me].public_key
        s_me = self.setup._coefficients[0]
        for i, sh in sorted(by_sender.items()):
            try:
                value = decrypt_share(g, params.H_P, i, me, K_me, s_me, sh.ct)
            except (DecryptionError, ValueError) as exc:
                complaints.append(self.setup.sign_complaint(i, f"share does not decrypt: {exc}"))
                continue
            if g.g_pow_sec(value) != _eval_commitments(g, pubs[i].K, me):
                complaints.append(
                    self.setup.sign_complaint(i, "share contradicts the sender's commitments (eq. 21)")
                )
                continue
            received[i] = value
        return SharesChecked(self, received, tuple(complaints), tuple(by_sender.values()))


class SharesChecked(_Once):
    """State 3: shares checked; ``complaints`` (if any) must be resolved before finalizing."""

    __slots__ = ("awaiting", "_received", "complaints", "incoming")

    def __init__(
        self,
        awaiting: AwaitingShares,
        received: Mapping[int, Scalar],
        complaints: tuple[Complaint, ...],
        incoming: tuple[EncryptedShare, ...],
    ):
        super().__init__()
        self.awaiting = awaiting
        self._received = dict(received)
        self.complaints = complaints
        self.incoming = incoming

    def __repr__(self) -> str:
        return f"SharesChecked(i={self.awaiting.setup.i}, complaints={len(self.complaints)})"

    def finalize(self, reveals: Sequence[ShareReveal] = ()) -> GuardianKey:
        """Resolve complaints with the accused guardians' reveals, then P(i) = Σ_j P_j(i) (eq. 22).
        A reveal not signed by the accused is refused before this state is used (it blames nobody;
        call again with the accused's own reveal)."""
        setup = self.awaiting.setup
        params = setup.params
        me = setup.i
        by_sender = {sh.i: sh for sh in self.incoming}
        pubs = {pk.i: pk for pk in self.awaiting.all_public}
        answers: list[tuple[ShareReveal, EncryptedShare]] = []
        for complaint in self.complaints:
            candidates = [r for r in reveals if r.i == complaint.i and r.ell == me]
            if not candidates:
                raise CeremonyError(f"unanswered complaint: {complaint.reason}", [complaint.i])
            # the accused's signed reveal: a forged one listed first cannot hide it
            signed = [r for r in candidates if _signed_by(params, pubs[r.i], _REVEAL, r.message(), r.sigma)]
            if not signed:
                raise CeremonyError(
                    f"reveal claimed from guardian {complaint.i} is not signed by it: damaged or forged in "
                    "transit, so it is not acted on"
                )
            answers.append((signed[0], by_sender[complaint.i]))
        self._consume()
        received = dict(self._received)
        for reveal, published in answers:
            check_reveal(params, reveal, published, pubs[reveal.i], pubs[me])
            received[reveal.i] = reveal.share
        g = params.group
        total = g.scalar(0)
        for v in received.values():
            total = total + v
        ctx = build_context(params, self.awaiting.all_public)
        key = GuardianKey(ctx, me, total, self.awaiting.all_public)
        if g.g_pow_sec(total) != public_share_key(g, self.awaiting.all_public, me):
            raise CeremonyError("own key share contradicts the commitments", [me])
        return key


@dataclass(frozen=True, slots=True)
class GuardianKey:
    """A guardian's result: its share P(i) of the joint secret, and everything public (§3.2.2)."""

    context: ElectionContext
    i: int
    P_i: Scalar = field(repr=False)
    """P(i) = Σ_j P_j(i) mod q — secret"""
    commitments: tuple[GuardianPublicKeys, ...] = field(repr=False)
