"""Canonical msgpack: strict decoding, size bounds, no maps/floats/ext; events and heads round-trip."""

from __future__ import annotations

import pickle

import msgpack  # type: ignore[import-untyped]
import pytest

from e2evote.board import (
    BallotSubmission,
    BoardKey,
    BoardSetup,
    CredentialList,
    Event,
    EventKind,
    SignedTreeHead,
    VoterCredential,
    issue_credentials,
)
from e2evote.board.codec import pack, unpack
from e2evote.board.events import BallotAuth
from e2evote.errors import EncodingError
from e2evote.hashing import EXT


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"\xc1",  # never used
        b"\x91\x01\x00",  # trailing byte
        b"\xcc\x05",  # uint8 for a fixint
        b"\xd9\x01a",  # str8 for a fixstr
        b"\xc5\x00\x01a",  # bin16 for bin8
        b"\xdc\x00\x01\x01",  # array16 for a fixarray
        b"\xcb\x3f\xf0\x00\x00\x00\x00\x00\x00",  # float
        b"\xc3",  # boolean
        b"\x81\x01\x02",  # map
        b"\xd6\xff\x00\x00\x00\x00",  # timestamp extension
        b"\xa2\xff\xfe",  # invalid UTF-8
    ],
)
def test_strict_decoding_rejects(data: bytes) -> None:
    with pytest.raises(EncodingError):
        unpack(data, what="test")


def test_size_bounds() -> None:
    big = pack([b"x" * 1000])
    assert unpack(big, what="t", max_bytes=2000) == [b"x" * 1000]
    with pytest.raises(EncodingError):
        unpack(big, what="t", max_bytes=100)
    # a header announcing a huge bin is refused without allocating it
    with pytest.raises(EncodingError):
        unpack(b"\xc6\x7f\xff\xff\xff", what="t", max_bytes=100)


def test_event_round_trip_and_shape() -> None:
    auth = BallotAuth(b"\x01" * 32, b"\x02" * 64)
    ev = Event(5, EventKind.BALLOT, 1234, b"ballot bytes", code=b"\x03" * 32, auth=auth)
    raw = ev.to_bytes()
    assert msgpack.unpackb(raw) == [
        1,
        5,
        "ballot",
        1234,
        b"ballot bytes",
        b"\x03" * 32,
        None,
        [b"\x01" * 32, b"\x02" * 64],
    ]
    assert Event.from_bytes(raw) == ev
    assert "ballot bytes" not in repr(ev)
    for bad in (
        dict(kind=EventKind.BALLOT),  # no code
        dict(kind=EventKind.TALLY, code=b"x"),
        dict(kind=EventKind.CHALLENGE),  # no ref
        dict(kind=EventKind.CLOSE, auth=auth),
    ):
        with pytest.raises(EncodingError):
            Event(index=1, timestamp_ms=1, payload=b"", **bad)
    with pytest.raises(EncodingError):
        Event.from_bytes(pack([1, 0, "vote", 0, b"", None, None, None]))
    with pytest.raises(EncodingError):
        Event.from_bytes(pack([2, 0, "setup", 0, b"", None, None, None]))


def test_setup_and_sth_round_trip() -> None:
    s = BoardSetup("b-1", b"\x01" * 32, b"\x02" * 32, None, b"manifest")
    assert BoardSetup.from_bytes(s.to_bytes()) == s
    with pytest.raises(EncodingError):
        BoardSetup("bad id with spaces", b"\x01" * 32, b"\x02" * 32, None)
    key = BoardKey(b"\x07" * 32)
    sth = SignedTreeHead.sign(key, "b-1", 3, 99, b"\xab" * 32)
    assert SignedTreeHead.from_bytes(sth.to_bytes()) == sth == SignedTreeHead.from_json(sth.to_json())
    sth.verify(key.public_key)
    # exact signed-byte layout (specs/08-board.md §4.1)
    tag = EXT.BOARD_STH
    assert sth.signed_bytes() == (
        len(tag).to_bytes(4, "big")
        + tag
        + b"\x00\x00\x00\x03b-1"
        + (3).to_bytes(8, "big")
        + (99).to_bytes(8, "big")
        + b"\xab" * 32
    )
    bad = dict(sth.to_json())
    bad["root_hash"] = str(bad["root_hash"]).upper()
    with pytest.raises(EncodingError):
        SignedTreeHead.from_json(bad)


def test_credentials() -> None:
    creds, clist = issue_credentials(3)
    assert CredentialList.from_bytes(clist.to_bytes()) == clist
    assert all(c.public_key in clist for c in creds)
    with pytest.raises(EncodingError):
        CredentialList((creds[0].public_key, creds[0].public_key))
    with pytest.raises(EncodingError):
        CredentialList.of([creds[0].public_key] * 2)
    s = creds[0].sign_ballot(b"\x00" * 32, b"ballot")
    assert BallotSubmission.from_bytes(s.to_bytes()) == s
    assert s.signature_valid(b"\x00" * 32) and not s.signature_valid(b"\x01" * 32)
    with pytest.raises(EncodingError):
        BallotSubmission(b"x", creds[0].public_key, None)


def test_secrets_stay_secret() -> None:
    seed = b"\x42" * 32
    for obj in (BoardKey(seed), VoterCredential(seed)):
        assert seed.hex() not in repr(obj) and "42424242" not in repr(obj)
        with pytest.raises(TypeError):
            pickle.dumps(obj)
