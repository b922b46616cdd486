"""Board behaviour on every storage backend (the same suite runs on SQLite and PostgreSQL)."""

from __future__ import annotations

import dataclasses
import threading

import pytest

from e2evote.board import (
    BallotSubmission,
    Board,
    BoardKey,
    BoardStateError,
    CredentialRejected,
    DuplicateBallot,
    EventKind,
    InvalidBallot,
    MalformedSubmission,
    NotFound,
    PhaseViolation,
    Receipt,
    SignedTreeHead,
    Storage,
    counted_set,
    issue_credentials,
    read_record,
    record_stream,
    verify_consistency,
    verify_inclusion,
    verify_log,
    verify_receipt,
)
from e2evote.board.credentials import ChallengeRequest
from e2evote.board.events import BallotAuth, Event
from e2evote.errors import VerificationError

from .conftest import StorageFactory
from .fakes import BOARD_ID, ELECTION_HASH, fake_validator


def sub(body: str) -> BallotSubmission:
    return BallotSubmission(b"ballot:" + body.encode())


def test_create_and_reopen(storage_factory: StorageFactory, board_key: BoardKey) -> None:
    s = storage_factory()
    b = Board.create(s, board_key, fake_validator, board_id=BOARD_ID, election_hash=ELECTION_HASH)
    r = b.submit(sub("a"))
    assert r.leaf_index == 1 and r.sth.tree_size == 2
    with pytest.raises(BoardStateError) as ei:
        Board.create(s, board_key, fake_validator, board_id=BOARD_ID, election_hash=ELECTION_HASH)
    assert ei.value.reason == "exists"
    again = Board(storage_factory(), board_key, fake_validator)
    assert again.latest_sth() == b.latest_sth()
    assert again.lookup(r.confirmation_code).receipt == r
    with pytest.raises(BoardStateError) as ei:
        Board(storage_factory(), BoardKey.generate(), fake_validator)
    assert ei.value.reason == "wrong_key"


def test_open_empty_storage_refused(storage_factory: StorageFactory, board_key: BoardKey) -> None:
    with pytest.raises(BoardStateError) as ei:
        Board(storage_factory(), board_key, fake_validator)
    assert ei.value.reason == "no_board"


def test_receipts_and_proofs(board: Board, board_key: BoardKey) -> None:
    receipts = [board.submit(sub(str(i))) for i in range(20)]
    latest = board.latest_sth()
    latest.verify(board_key.public_key)
    for r in receipts:
        verify_receipt(r, board_key.public_key, board_id=BOARD_ID)
        assert board.sth_at(r.sth.tree_size) == r.sth
        # inclusion in the latest head and consistency of the receipt's head with it
        look = board.lookup(r.confirmation_code)
        verify_inclusion(r.leaf_hash, r.leaf_index, look.sth.tree_size, look.audit_path, look.sth.root_hash)
        proof = board.consistency_proof(r.sth.tree_size, latest.tree_size)
        verify_consistency(r.sth.tree_size, latest.tree_size, r.sth.root_hash, latest.root_hash, proof)
    assert [r.leaf_index for r in receipts] == list(range(1, 21))
    for m in range(0, latest.tree_size + 1):
        board.consistency_proof(m, latest.tree_size)
    with pytest.raises(NotFound):
        board.consistency_proof(3, latest.tree_size + 1)
    with pytest.raises(NotFound):
        board.lookup(b"\x00" * 32)
    with pytest.raises(NotFound):
        board.sth_at(999)


def test_receipt_forgery_detected(board: Board, board_key: BoardKey) -> None:
    r = board.submit(sub("x"))
    for bad in (
        Receipt(b"\x01" * 32, r.leaf_index, r.leaf_hash, r.sth, r.signature, r.audit_path),
        Receipt(r.confirmation_code, r.leaf_index, b"\x02" * 32, r.sth, r.signature, r.audit_path),
    ):
        with pytest.raises(VerificationError) as ei:
            verify_receipt(bad, board_key.public_key)
        assert ei.value.step == "B2.A"
    with pytest.raises(VerificationError):
        verify_receipt(r, BoardKey.generate().public_key)
    assert Receipt.from_bytes(r.to_bytes()) == r == Receipt.from_json(r.to_json())


def test_rejections_are_typed(board: Board) -> None:
    with pytest.raises(MalformedSubmission) as e1:
        board.submit(b"\xc1not msgpack")
    assert e1.value.reason == "malformed"
    with pytest.raises(InvalidBallot) as e2:
        board.submit(BallotSubmission(b"garbage"))
    assert e2.value.reason == "invalid_ballot"
    board.submit(sub("v1"))
    with pytest.raises(DuplicateBallot) as e3:
        board.submit(sub("v1"))  # byte-identical replay
    assert e3.value.reason == "replay"
    with pytest.raises(DuplicateBallot) as e4:
        board.submit(sub("v1#rewrapped"))  # same ciphertexts, different wrapper
    assert e4.value.reason == "replay"
    board.submit(sub("collide-1"))
    with pytest.raises(DuplicateBallot) as e5:
        board.submit(sub("collide-2"))
    assert e5.value.reason == "confirmation_code_collision"
    cred = issue_credentials(1)[0][0]
    with pytest.raises(CredentialRejected) as e6:
        board.submit(cred.sign_ballot(ELECTION_HASH, b"ballot:signed"))
    assert e6.value.reason == "unexpected_credential"
    # refusals leave no trace
    assert board.latest_sth().tree_size == 3


def test_phases(board: Board, board_key: BoardKey) -> None:
    board.append_event(EventKind.GUARDIAN_COMMITMENTS, b"commitments")
    board.append_event(EventKind.GUARDIAN_SHARES, b"shares")
    r = board.submit(sub("p"))
    with pytest.raises(PhaseViolation) as ei:
        board.append_event(EventKind.GUARDIAN_SHARES, b"late")
    assert ei.value.reason == "phase"
    with pytest.raises(PhaseViolation) as ei:
        board.append_event(EventKind.TALLY, b"early")
    assert ei.value.reason == "not_closed"
    with pytest.raises(CredentialRejected) as ci:  # a board without credentials takes no signed request
        board.challenge(issue_credentials(1)[0][0].sign_challenge(ELECTION_HASH, r.confirmation_code))
    assert ci.value.reason == "unexpected_credential"
    board.challenge(r.confirmation_code, b"spoil")
    with pytest.raises(PhaseViolation) as ei:
        board.challenge(r.confirmation_code)
    assert ei.value.reason == "already_challenged"
    with pytest.raises(NotFound):
        board.challenge(b"\x09" * 32)
    board.close_voting()
    with pytest.raises(PhaseViolation) as ei:
        board.submit(sub("late"))
    assert ei.value.reason == "closed"
    with pytest.raises(PhaseViolation):
        board.close_voting()
    board.append_event(EventKind.TALLY, b"tally")
    board.append_event(EventKind.DECRYPTION, b"shares")
    board.append_event(EventKind.RESULT, b"result")
    with pytest.raises(PhaseViolation):
        board.append_event(EventKind.TALLY, b"again")
    _, chunks = record_stream(board)
    summary = verify_log(
        list(board.iter_events()), board.latest_sth(), board.public_key, validator=fake_validator
    )
    assert summary.closed and summary.ballots == 1 and summary.challenged == 1 and summary.counted == ()
    assert read_record(b"".join(chunks)).events == tuple(board.iter_events())
    # B1.H: a challenge carrying a credential signature on a board without credentials
    events = list(board.iter_events())
    at = next(i for i, e in enumerate(events) if Event.from_bytes(e).kind is EventKind.CHALLENGE)
    signed = issue_credentials(1)[0][0].sign_challenge(ELECTION_HASH, r.confirmation_code)
    auth = BallotAuth(signed.credential or b"", signed.signature or b"")
    events[at] = dataclasses.replace(Event.from_bytes(events[at]), auth=auth).to_bytes()
    with pytest.raises(VerificationError, match="on a board without credentials") as vi:
        verify_log(events, _resign(events, board_key), board.public_key)
    assert vi.value.step == "B1.H"


def test_credentials_and_revoting(storage: Storage, board_key: BoardKey) -> None:
    creds, clist = issue_credentials(4)
    outsider = issue_credentials(1)[0][0]
    assert "seed" not in repr(creds[0]) and creds[0].seed().hex() not in repr(creds[0])
    b = Board.create(
        storage,
        board_key,
        fake_validator,
        board_id=BOARD_ID,
        election_hash=ELECTION_HASH,
        credentials=clist,
    )
    first = b.submit(creds[0].sign_ballot(ELECTION_HASH, b"ballot:alice-1"))
    b.submit(creds[1].sign_ballot(ELECTION_HASH, b"ballot:bob-1"))
    last = b.submit(creds[0].sign_ballot(ELECTION_HASH, b"ballot:alice-2"))  # re-vote
    spoiled = b.submit(creds[2].sign_ballot(ELECTION_HASH, b"ballot:carol-1"))
    # only the credential that cast a ballot can challenge it (§6.2); a refusal appends nothing
    code = spoiled.confirmation_code
    carol = creds[2].sign_challenge(ELECTION_HASH, code)
    size = b.latest_sth().tree_size
    for bad_request, reason in [
        (code, "credential_required"),
        (ChallengeRequest(code), "credential_required"),
        (outsider.sign_challenge(ELECTION_HASH, code), "unknown_credential"),
        (creds[2].sign_challenge(b"\x00" * 32, code), "bad_signature"),
        (dataclasses.replace(carol, confirmation_code=first.confirmation_code), "bad_signature"),
        (creds[0].sign_challenge(ELECTION_HASH, code), "wrong_credential"),  # alice cannot spoil carol's
    ]:
        with pytest.raises(CredentialRejected) as ci:
            b.challenge(bad_request)
        assert ci.value.reason == reason
    assert b.latest_sth().tree_size == size
    b.challenge(carol)
    b.challenge(creds[0].sign_challenge(ELECTION_HASH, first.confirmation_code))  # alice's older ballot
    for bad, reason in [
        (BallotSubmission(b"ballot:anon"), "credential_required"),
        (outsider.sign_ballot(ELECTION_HASH, b"ballot:eve"), "unknown_credential"),
        (creds[3].sign_ballot(b"\x00" * 32, b"ballot:wrong-election"), "bad_signature"),
        (
            BallotSubmission(
                b"ballot:stolen",
                creds[3].public_key,
                creds[0].sign_ballot(ELECTION_HASH, b"ballot:stolen").signature,
            ),
            "bad_signature",
        ),
    ]:
        with pytest.raises(CredentialRejected) as ei:
            b.submit(bad)
        assert ei.value.reason == reason
    with pytest.raises(DuplicateBallot):  # another voter cannot replay alice's ciphertexts
        b.submit(creds[3].sign_ballot(ELECTION_HASH, b"ballot:alice-1#copy"))
    events = list(b.iter_events())
    summary = verify_log(events, b.latest_sth(), b.public_key, credentials=clist, validator=fake_validator)
    counted = summary.counted
    assert summary.challenged == 2  # B1.H holds for carol's and for a re-voter's older ballot
    assert [c.credential for c in counted] == [creds[1].public_key, creds[0].public_key]
    assert counted[1].confirmation_code == last.confirmation_code
    assert first.confirmation_code not in {c.confirmation_code for c in counted}
    assert counted == counted_set(Event.from_bytes(e) for e in events)
    with pytest.raises(VerificationError) as vi:
        verify_log(events, b.latest_sth(), b.public_key)
    assert vi.value.step == "B1.E"
    with pytest.raises(VerificationError) as vi:
        verify_log(events, b.latest_sth(), b.public_key, credentials=issue_credentials(2)[1])
    assert vi.value.step == "B1.E"
    reopened = Board(b.storage, board_key, fake_validator)
    assert reopened.credentials == clist
    # B1.H: a challenge event not signed by the ballot's credential (a board spoiling a ballot on its
    # own) fails verification, as does a signature over another code
    at = next(i for i, e in enumerate(events) if Event.from_bytes(e).kind is EventKind.CHALLENGE)
    ev = Event.from_bytes(events[at])
    assert ev.auth is not None and ev.auth.credential == creds[2].public_key
    other = creds[0].sign_challenge(ELECTION_HASH, ev.ref or b"")
    logged = [Event.from_bytes(e) for e in events]
    carols = next(e.auth for e in logged if e.auth is not None and e.auth.credential == creds[2].public_key)
    for auth, why in [
        (None, "carries no credential signature"),
        (carols, "signature does not verify"),  # carol's ballot-submission signature replayed
        (BallotAuth(creds[0].public_key, other.signature or b""), "not signed by the credential that cast"),
        (BallotAuth(creds[2].public_key, other.signature or b""), "signature does not verify"),
    ]:
        doctored = [*events]
        doctored[at] = dataclasses.replace(ev, auth=auth).to_bytes()
        with pytest.raises(VerificationError, match=why) as vi:
            verify_log(doctored, _resign(doctored, board_key), b.public_key, credentials=clist)
        assert vi.value.step == "B1.H"


def _resign(events: list[bytes], key: BoardKey) -> SignedTreeHead:
    """A malicious board re-signing a tree head over a doctored log."""
    from e2evote.board.merkle import leaf_hash, root_from_leaves

    root = root_from_leaves(leaf_hash(e) for e in events)
    ts = Event.from_bytes(events[-1]).timestamp_ms
    return SignedTreeHead.sign(key, BOARD_ID, len(events), ts, root)


def test_verify_log_detects_tampering(board: Board, board_key: BoardKey) -> None:
    for i in range(6):
        board.submit(sub(f"t{i}"))
    events = list(board.iter_events())
    sth = board.latest_sth()
    verify_log(events, sth, board.public_key, validator=fake_validator)

    ev3 = Event.from_bytes(events[3])
    rewritten = Event(ev3.index, ev3.kind, ev3.timestamp_ms, b"ballot:evil", code=ev3.code).to_bytes()
    doctored = events[:3] + [rewritten] + events[4:]
    with pytest.raises(VerificationError) as ei:
        verify_log(doctored, sth, board.public_key)
    assert ei.value.step == "B1.J"
    # even re-signed, the rewritten ballot no longer matches its confirmation code
    with pytest.raises(VerificationError) as ei:
        verify_log(doctored, _resign(doctored, board_key), board.public_key, validator=fake_validator)
    assert ei.value.step == "B1.G"

    with pytest.raises(VerificationError) as ei:  # truncated
        verify_log(events[:-1], sth, board.public_key)
    assert ei.value.step == "B1.J"
    reordered = [events[0], events[2], events[1], *events[3:]]
    with pytest.raises(VerificationError) as ei:
        verify_log(reordered, sth, board.public_key)
    assert ei.value.step == "B1.B"
    with pytest.raises(VerificationError) as ei:  # garbage bytes
        verify_log([events[0], events[1] + b"\x00", *events[2:]], sth, board.public_key)
    assert ei.value.step == "B1.A"
    with pytest.raises(VerificationError) as ei:  # wrong key
        verify_log(events, sth, BoardKey.generate().public_key)
    assert ei.value.step == "B1.C"
    forged = SignedTreeHead(sth.board_id, sth.tree_size, sth.timestamp_ms, sth.root_hash, b"\x00" * 64)
    with pytest.raises(VerificationError) as ei:
        verify_log(events, forged, board.public_key)
    assert ei.value.step == "B1.I"
    # an older head a voter kept proves the truncated-and-extended log is a fork
    old = board.sth_at(4)
    proof = board.consistency_proof(4, sth.tree_size)
    verify_log(events, sth, board.public_key, previous_sths=[(old, proof)])
    forked = events[:3] + [rewritten] + events[4:]
    with pytest.raises(VerificationError) as ei:
        verify_log(forked, _resign(forked, board_key), board.public_key, previous_sths=[(old, proof)])
    assert ei.value.step == "B1.K"


def test_concurrent_submissions(storage_factory: StorageFactory, board_key: BoardKey) -> None:
    Board.create(storage_factory(), board_key, fake_validator, board_id=BOARD_ID, election_hash=ELECTION_HASH)
    per_thread, threads = 15, 8
    receipts: list[Receipt] = []
    errors: list[BaseException] = []
    lock = threading.Lock()

    def client(t: int) -> None:
        b = Board(storage_factory(), board_key, fake_validator)  # each client its own connection(s)
        try:
            for i in range(per_thread):
                r = b.submit(sub(f"{t}-{i}"))
                with lock:
                    receipts.append(r)
                if i % 5 == 0:  # concurrent replays are refused, never duplicated
                    try:
                        b.submit(sub(f"{t}-{i}"))
                    except DuplicateBallot:
                        pass
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    ts = [threading.Thread(target=client, args=(t,)) for t in range(threads)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    assert not errors
    b = Board(storage_factory(), board_key, fake_validator)
    events = list(b.iter_events())
    assert len(events) == 1 + per_thread * threads == len(receipts) + 1
    assert sorted(r.leaf_index for r in receipts) == list(range(1, len(events)))
    summary = verify_log(events, b.latest_sth(), b.public_key, validator=fake_validator)
    assert len(summary.counted) == per_thread * threads
    for r in receipts:
        verify_receipt(r, b.public_key)
        assert Event.from_bytes(events[r.leaf_index]).code == r.confirmation_code
