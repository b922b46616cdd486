"""Record objects: encode/decode round trips; a flipped byte never decodes to the same object, and
what still decodes fails verification (specs/07-record.md §Objects)."""

from __future__ import annotations

import functools
from collections.abc import Callable

from hypothesis import given, settings
from hypothesis import strategies as st

from e2evote.encoding import pack, unpack
from e2evote.errors import E2EVoteError
from e2evote.groups import ED25519, TEST, Group
from e2evote.protocol.ballot import EncryptedBallot, PlaintextBallot, encrypt_ballot
from e2evote.protocol.election import ElectionContext, ElectionParameters
from e2evote.protocol.manifest import Manifest, simple_manifest
from e2evote.protocol.preencrypt import pre_encrypt_ballot, record_pre_encrypted
from e2evote.record import codec
from e2evote.verifier import verify_ballots

MANIFEST = simple_manifest("t", [("A", ["a", "b", "c"], 1), ("B", ["x", "y"], 2)])


@functools.cache
def _ballot(group: Group) -> tuple[ElectionContext, EncryptedBallot, bytes]:
    ctx = ElectionContext(ElectionParameters(group, MANIFEST, 1, 1), group.g_pow(group.random_scalar()))
    enc, _ = encrypt_ballot(ctx, PlaintextBallot("b", "default", {"A": {"b": 1}, "B": {"x": 1, "y": 1}}))
    return ctx, enc, pack(codec.enc_ballot(enc))


@functools.cache
def _pre_ballot(group: Group) -> tuple[ElectionContext, EncryptedBallot, bytes]:
    doc = {
        "label": "t",
        "short_code": "omega2",
        "contests": [
            {"label": "A", "options": ["a", "b", "c"]},
            {"label": "B", "options": ["x", "y"], "contest_limit": 2},
        ],
    }
    ctx = ElectionContext(
        ElectionParameters(group, Manifest.from_json(doc), 1, 1), group.g_pow(group.random_scalar())
    )
    _, xi = pre_encrypt_ballot(ctx, "default")
    enc = record_pre_encrypted(ctx, "default", xi, {"A": ["b"], "B": ["y"]}, ballot_id="p").ballot
    return ctx, enc, pack(codec.enc_ballot(enc))


@settings(max_examples=100, deadline=None)
@given(st.sampled_from([TEST, ED25519]), st.sampled_from([_ballot, _pre_ballot]), st.data())
def test_ballot_roundtrip_and_single_byte_flips(
    group: Group, make: Callable[[Group], tuple[ElectionContext, EncryptedBallot, bytes]], data: st.DataObject
) -> None:
    """An ordinary and a recorded pre-encrypted ballot (specs/13): a flipped byte never decodes to the
    same ballot, and one that changes anything bound fails verification (V5-V7, or V15-V18)."""
    ctx, enc, blob = make(group)
    assert codec.dec_ballot(group, unpack(blob)) == enc
    assert verify_ballots(ctx, lambda: iter([enc])).ok
    pos = data.draw(st.integers(0, len(blob) - 1))
    bit = data.draw(st.integers(0, 7))
    mutated = blob[:pos] + bytes([blob[pos] ^ (1 << bit)]) + blob[pos + 1 :]
    try:
        decoded = codec.dec_ballot(group, unpack(mutated))
    except (E2EVoteError, ValueError, TypeError):
        return  # rejected while decoding
    assert decoded != enc
    report = verify_ballots(ctx, lambda: iter([decoded]))

    # A changed id/device/time/state is not cryptographic, and EG 2.0 authenticates the contest data
    # (C0, C1, C2) only by its MAC when it is decrypted (V14; specs/05-proofs.md §4: eq. 57-58 hash
    # only the selection ciphertexts). A flipped C0 that is still a group element (e.g. the sign bit
    # of an Ed25519 point: -C0) therefore decodes and verifies. Everything else must fail verification.
    def bound(b: EncryptedBallot) -> object:
        return (
            [(c.index, c.selections, c.proof, c.chi) for c in b.contests],
            b.code,
            b.B_aux,
            b.style,
            b.pre,
        )

    if bound(decoded) != bound(enc):
        assert not report.ok, (pos, bit)
