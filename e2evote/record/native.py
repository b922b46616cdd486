"""The native e2evote election record: a directory of canonical msgpack files whose every byte is
authenticated by RECORD.msgpack (specs/07-record.md).

Layout::

    manifest.json          the manifest file hashed into H_M (canonical JSON)
    election.msgpack       group, version, n, k, H_P, H_M, H_B, guardians' commitments and proofs, K, H_E
    ballots/000000.msgpack chunks of encrypted ballots (cast and challenged), in submission order
    tally.msgpack          encrypted tally and its decryption
    challenged.msgpack     opened challenged ballots (released nonces or guardian decryptions)
    devices.msgpack        closing hashes of the devices' confirmation-code chains
    outcomes.msgpack       published outcomes per contest (specs/09-outcomes.md)
    RECORD.msgpack         {format, files: [[path, sha256]], root}:
                           root = H_ext(H_E; "E2EVOTE-RECORD-ROOT-v1", b_str(path) || sha256 …)
                           over every file in path order
"""

from __future__ import annotations

import hashlib
import os
import re
import stat
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

from e2evote.encoding import pack, read_regular_file, unpack
from e2evote.errors import EncodingError, RecordError
from e2evote.groups import Group, group_by_name
from e2evote.hashing import EG20, EGK, EXT, H_ext, b_str
from e2evote.protocol.ballot import EncryptedBallot
from e2evote.protocol.ceremony import GuardianPublicKeys
from e2evote.protocol.election import ElectionContext, ElectionParameters
from e2evote.protocol.manifest import Manifest
from e2evote.protocol.tally import DecryptedTally, EncryptedTally
from e2evote.record import codec
from e2evote.record.model import ChallengedBallot, ElectionRecord, RecordIssue, StatedHashes

__all__ = [
    "RecordWriter",
    "read_record",
    "read_chunk",
    "chunk_length",
    "decode_ballots",
    "write_record",
    "RECORD_FORMAT",
    "CHUNK_SIZE",
    "is_native_record",
]

RECORD_FORMAT = "e2evote-record-v1"
CHUNK_SIZE = 500
"""ballots per chunk file unless the writer is told otherwise"""
RECORD_INDEX = "RECORD.msgpack"
MAX_FILE = 256 * 1024 * 1024
MANDATORY_FILES = ("election.msgpack", "manifest.json")
"""files every sealed record lists (specs/07-record.md §1; RECORD.msgpack does not list itself)"""


def _atomic_write(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "wb") as fh:
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)


def record_root(H_E: bytes, files: Sequence[tuple[str, bytes]]) -> bytes:
    parts = []
    for path, digest in files:
        parts += [b_str(path), digest]
    return H_ext(H_E, EXT.RECORD_ROOT, *parts)


class RecordWriter:
    """Writes a native record incrementally (ballots streamed in chunks), then seals it."""

    def __init__(
        self,
        directory: str | os.PathLike[str],
        ctx: ElectionContext,
        guardians: Sequence[GuardianPublicKeys],
        *,
        chunk_size: int = CHUNK_SIZE,
    ) -> None:
        self.dir = Path(directory)
        self.dir.mkdir(parents=True, exist_ok=True)
        if (self.dir / RECORD_INDEX).exists():
            raise RecordError(f"{self.dir} already holds a sealed record")
        self.ctx = ctx
        self.chunk_size = chunk_size
        self._chunk: list[dict[str, Any]] = []
        self._chunks = 0
        self.ballot_count = 0
        p = ctx.parameters
        _atomic_write(self.dir / "manifest.json", p.manifest.raw)
        election = {
            "format": RECORD_FORMAT,
            "group": p.group.name,
            "version": p.version,
            "dialect": p.dialect.name,
            "n": p.n,
            "k": p.k,
            "H_P": p.H_P,
            "H_M": p.H_M,
            "H_B": p.H_B,
            "guardians": [codec.enc_guardian(g) for g in sorted(guardians, key=lambda g: g.i)],
            "K": ctx.K.to_bytes(),
            "H_E": ctx.H_E,
        }
        _atomic_write(self.dir / "election.msgpack", pack(election))

    def add_ballot(self, ballot: EncryptedBallot) -> None:
        self._chunk.append(codec.enc_ballot(ballot))
        self.ballot_count += 1
        if len(self._chunk) >= self.chunk_size:
            self._flush()

    def _flush(self) -> None:
        if self._chunk:
            _atomic_write(self.dir / "ballots" / f"{self._chunks:06d}.msgpack", pack(self._chunk))
            self._chunks += 1
            self._chunk = []

    def set_tally(self, encrypted: EncryptedTally, decrypted: DecryptedTally | None) -> None:
        doc = {
            "encrypted": codec.enc_encrypted_tally(encrypted),
            "decrypted": codec.enc_decrypted_tally(decrypted) if decrypted is not None else None,
        }
        _atomic_write(self.dir / "tally.msgpack", pack(doc))

    def set_challenged(self, opened: Sequence[ChallengedBallot]) -> None:
        items = []
        for c in opened:
            items.append(
                {
                    "id": c.ballot_id,
                    "nonce": c.nonce,
                    "claimed": codec.enc_plaintext(c.claimed) if c.claimed is not None else None,
                    "decrypted": codec.enc_decrypted_ballot(c.decrypted) if c.decrypted is not None else None,
                }
            )
        _atomic_write(self.dir / "challenged.msgpack", pack(items))

    def set_device_closes(self, closes: Mapping[str, bytes]) -> None:
        _atomic_write(self.dir / "devices.msgpack", pack(dict(closes)))

    def set_outcomes(self, outcomes: Mapping[str, Mapping[str, Any]]) -> None:
        _atomic_write(self.dir / "outcomes.msgpack", pack({k: dict(v) for k, v in outcomes.items()}))

    def set_extension(self, name: str, tree: Any) -> None:
        """An e2evote extension object (e.g. precinct subtotals), stored as ext/<name>.msgpack and
        handed to the verifier's extension steps undecoded (specs/07-record.md §Extensions)."""
        _check_ext_name(name)
        _atomic_write(self.dir / "ext" / f"{name}.msgpack", pack(tree))

    def add_extension_file(self, name: str, filename: str, data: bytes) -> None:
        """A companion file of extension ``name``, stored as ext/<name>/<filename>: authenticated by
        RECORD.msgpack like every file but not loaded by :func:`read_record` — the extension's
        checker reads it from the record directory when it needs it, so a large extension (the board
        log, specs/08-board.md §12.3) is written and read in bounded chunks (specs/07-record.md)."""
        _check_ext_name(name)
        if not _EXT_FILE.fullmatch(filename):
            raise RecordError(f"bad extension file name {filename!r}")
        _atomic_write(self.dir / "ext" / name / filename, data)

    def seal(self) -> bytes:
        """Flush ballots and write RECORD.msgpack; returns the record root."""
        self._flush()
        files = []
        regular, irregular = _scan(self.dir)
        if irregular:
            path, kind = sorted(irregular.items())[0]
            raise RecordError(f"{self.dir}: {path} is {kind}; a record holds regular files only")
        for path in sorted(regular):
            if path == RECORD_INDEX:
                continue
            files.append((path, hashlib.sha256(_read(self.dir / path)).digest()))
        root = record_root(self.ctx.H_E, files)
        _atomic_write(
            self.dir / RECORD_INDEX,
            pack({"format": RECORD_FORMAT, "files": [[p, d] for p, d in files], "root": root}),
        )
        return root


_EXT_FILE = re.compile(r"[A-Za-z0-9_-][A-Za-z0-9_.-]{0,127}")


def _check_ext_name(name: str) -> None:
    if not name.replace("-", "").replace("_", "").isalnum() or len(name) > 64:
        raise RecordError(f"bad extension name {name!r}")


def _scan(directory: Path) -> tuple[set[str], dict[str, str]]:
    """The regular files under ``directory`` (relative POSIX paths), and every other entry — symbolic
    link, FIFO, device, socket, unreadable directory — with what it is. Links are never followed."""
    regular: set[str] = set()
    irregular: dict[str, str] = {}
    stack = [directory]
    while stack:
        here = stack.pop()
        try:
            with os.scandir(here) as it:
                entries = list(it)
        except OSError as exc:
            irregular[here.relative_to(directory).as_posix()] = (
                f"a directory that cannot be listed ({exc.strerror or type(exc).__name__})"
            )
            continue
        for entry in entries:
            path = Path(entry.path)
            rel = path.relative_to(directory).as_posix()
            try:
                mode = entry.stat(follow_symlinks=False).st_mode
            except OSError:
                irregular[rel] = "an entry that cannot be examined"
                continue
            if stat.S_ISDIR(mode):
                stack.append(path)
            elif stat.S_ISREG(mode):
                regular.add(rel)
            else:
                irregular[rel] = (
                    "a symbolic link"
                    if stat.S_ISLNK(mode)
                    else "a FIFO"
                    if stat.S_ISFIFO(mode)
                    else "a device"
                    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode)
                    else "a socket"
                    if stat.S_ISSOCK(mode)
                    else "not a regular file"
                )
    return regular, irregular


def is_native_record(directory: str | os.PathLike[str]) -> bool:
    return (Path(directory) / RECORD_INDEX).is_file() or (Path(directory) / "election.msgpack").is_file()


def _read(path: Path) -> bytes:
    """A record file: a regular file (not a link, FIFO or device) of at most :data:`MAX_FILE` bytes;
    raises :class:`EncodingError` (FileNotFoundError if it is missing)."""
    return read_regular_file(path, MAX_FILE)


def _check_index_path(path: str) -> None:
    parts = path.split("/")
    if not path or path.startswith("/") or any(p in ("", ".", "..") for p in parts):
        raise EncodingError(f"malformed file path {path[:100]!r}")
    if path == RECORD_INDEX:
        raise EncodingError(f"{RECORD_INDEX} must not list itself")


def _read_index(d: Path) -> tuple[dict[str, bytes], bytes]:
    """R1.A: RECORD.msgpack decoded and well formed — its format, a non-empty list of unique
    [path, sha256] entries in path order naming the mandatory files, and a 32-byte root."""
    idx = codec.fields(unpack(_read(d / RECORD_INDEX)), {"format", "files", "root"}, RECORD_INDEX)
    if idx["format"] != RECORD_FORMAT:
        raise EncodingError(f"unknown record format {str(idx['format'])[:100]!r}")
    if not isinstance(idx["files"], list) or not idx["files"]:
        raise EncodingError("files must be a non-empty list")
    if not isinstance(idx["root"], bytes) or len(idx["root"]) != 32:
        raise EncodingError("root must be 32 bytes")
    listed: dict[str, bytes] = {}
    previous = ""
    for entry in idx["files"]:
        if not (
            isinstance(entry, list)
            and len(entry) == 2
            and isinstance(entry[0], str)
            and isinstance(entry[1], bytes)
        ):
            raise EncodingError("malformed file entry")
        path, digest = entry
        _check_index_path(path)
        if len(digest) != 32:
            raise EncodingError(f"{path}: the digest must be 32 bytes")
        if listed and path <= previous:  # str order is code-point order, i.e. UTF-8 byte order
            raise EncodingError("file entries must be unique and in path order")
        listed[path] = digest
        previous = path
    missing = [f for f in MANDATORY_FILES if f not in listed]
    if missing:
        raise EncodingError(f"the mandatory file(s) {', '.join(missing)} are not listed")
    return listed, idx["root"]


def _str_in(value: Any, ids: frozenset[str]) -> bool:
    return isinstance(value, str) and value in ids


def read_chunk(
    directory: Path,
    group: Group,
    path: str,
    ids: frozenset[str] | None = None,
    digest: bytes | None = None,
    part: tuple[int, int] = (0, 1),
) -> Iterator[EncryptedBallot | RecordIssue]:
    """The ballots of one chunk file, decoded with batched membership tests; an undecodable ballot
    appears as a RecordIssue in its place (specs/07-record.md §4). With ``ids``, only the ballots
    whose unpacked tree names one of them are decoded (the others are skipped undecoded). With
    ``digest`` (the file's listed SHA-256) bytes that no longer match are one R1.B issue instead.
    ``part = (k, m)``: only the k-th of m consecutive runs of the chunk's ballots (by position); a
    failure of the whole file comes in part 0 only, so the parts read in order give the whole chunk."""
    k, m = part
    if not 0 <= k < m or (ids is not None and m > 1):
        raise ValueError(f"part {k} of {m}")
    try:
        data = _read(directory / path)
        if digest is not None and hashlib.sha256(data).digest() != digest:
            if k == 0:
                yield RecordIssue("R1.B", path, "changed after the record was authenticated")
            return
        items = unpack(data)
        if not isinstance(items, list):
            raise EncodingError("expected a list of ballots")
    except (EncodingError, OSError) as exc:
        if k == 0:
            yield RecordIssue("R2.B", path, str(exc))
        return
    if ids is not None:
        items = [it for it in items if isinstance(it, dict) and _str_in(it.get("id"), ids)]
    start, stop = len(items) * k // m, len(items) * (k + 1) // m
    yield from decode_ballots(group, items[start:stop], path, start)


def chunk_length(directory: Path, path: str) -> int:
    """How many ballots the chunk file at ``path`` says it holds (its msgpack array header), without
    reading it; ``CHUNK_SIZE`` when that cannot be told. A hint for sizing work, never a check."""
    flags = (
        os.O_RDONLY
        | getattr(os, "O_NONBLOCK", 0)
        | getattr(os, "O_NOFOLLOW", 0)
        | getattr(os, "O_CLOEXEC", 0)
    )
    try:
        # a link or FIFO put there since the record was read is not followed, nor waited on
        fd = os.open(directory / path, flags)
        try:
            if not stat.S_ISREG(os.fstat(fd).st_mode):
                return CHUNK_SIZE
            head = os.read(fd, 5)
        finally:
            os.close(fd)
    except OSError:
        return CHUNK_SIZE
    if head[:1] and 0x90 <= head[0] <= 0x9F:
        return head[0] - 0x90
    if head[:1] == b"\xdc" and len(head) >= 3:
        return int.from_bytes(head[1:3], "big")
    if head[:1] == b"\xdd" and len(head) >= 5:
        return int.from_bytes(head[1:5], "big")
    return CHUNK_SIZE


def decode_ballots(
    group: Group, items: list[Any], where: str, start: int = 0
) -> Iterator[EncryptedBallot | RecordIssue]:
    """Decode unpacked ballots 64 at a time, each 64 with one batched membership test; a ballot that
    does not decode appears as a RecordIssue naming ``where`` and its position (``start`` + its
    index in ``items``), in its place."""
    for i in range(0, len(items), 64):
        batch = items[i : i + 64]
        try:
            yield from codec.dec_ballots(group, batch)
        except (EncodingError, ValueError, TypeError):
            for n, item in enumerate(batch):  # isolate the culprit(s); the rest still verify
                try:
                    yield codec.dec_ballot(group, item)
                except (EncodingError, ValueError, TypeError) as exc:
                    yield RecordIssue(
                        codec.decode_failure_step(exc), f"{where} ballot {start + i + n}", str(exc)
                    )


def read_record(directory: str | os.PathLike[str]) -> ElectionRecord:
    """Load a native record. Integrity problems (R1) and undecodable parts (R2) are collected as
    issues for the verifier to report; only a record too broken to have parameters raises."""
    d = Path(directory)
    issues: list[RecordIssue] = []
    # R1: every byte authenticated
    index: tuple[dict[str, bytes], bytes] | None = None  # (listed files, stated root) once R1.A holds
    try:
        index = _read_index(d)
    except FileNotFoundError:
        issues.append(RecordIssue("R1.A", RECORD_INDEX, "missing: the record is not sealed"))
    except (EncodingError, RecordError, OSError) as exc:
        issues.append(RecordIssue("R1.A", RECORD_INDEX, str(exc)))
    present, irregular = _scan(d)
    present.discard(RECORD_INDEX)
    for path, kind in sorted(irregular.items()):
        issues.append(RecordIssue("R1.C", path, f"{kind}: a record holds regular files only"))
    if index is not None:
        listed = index[0]
        for path in sorted(present - set(listed)):
            issues.append(RecordIssue("R1.C", path, "file not listed in RECORD.msgpack"))
        for path, digest in listed.items():
            if path in irregular:
                continue  # reported above
            if path not in present:
                issues.append(RecordIssue("R1.B", path, "listed file is missing"))
                continue
            try:
                if hashlib.sha256(_read(d / path)).digest() != digest:
                    issues.append(RecordIssue("R1.B", path, "file digest does not match RECORD.msgpack"))
            except (EncodingError, OSError) as exc:
                issues.append(RecordIssue("R1.B", path, f"cannot read: {exc}"))
    # parameters
    try:
        manifest_raw = _read(d / "manifest.json")
        election = codec.fields(
            unpack(_read(d / "election.msgpack")),
            {"format", "group", "version", "dialect", "n", "k", "H_P", "H_M", "H_B", "guardians", "K", "H_E"},
            "election.msgpack",
        )
        if election["format"] != RECORD_FORMAT:
            raise EncodingError(f"unknown record format {election['format']!r}")
        group = group_by_name(election["group"])
        dialect = {EG20.name: EG20, EGK.name: EGK}.get(election["dialect"])
        if dialect is None:
            raise EncodingError(f"unknown dialect {election['dialect']!r}")
        if not isinstance(election["version"], str) or not isinstance(election["group"], str):
            raise EncodingError("version and group must be strings")
        for key in ("n", "k"):
            if isinstance(election[key], bool) or not isinstance(election[key], int):
                raise EncodingError(f"{key} must be an integer")
        if not isinstance(election["guardians"], list) or len(election["guardians"]) > 10_000:
            raise EncodingError("guardians must be a list")
        manifest = Manifest.from_bytes(manifest_raw)
        params = ElectionParameters(
            group, manifest, election["n"], election["k"], election["version"], dialect
        )
        guardians = tuple(codec.dec_guardian(group, g) for g in election["guardians"])
        K = codec.dec_elem(group, election["K"], "election.K")
        stated = StatedHashes(
            *(codec._bytes(election[h], f"election.{h}", 32) for h in ("H_P", "H_M", "H_B", "H_E"))
        )
    except (OSError, EncodingError, RecordError, ValueError, TypeError, KeyError) as exc:
        raise RecordError(f"cannot read the election parameters: {exc}") from exc
    if index is not None and record_root(stated.H_E, list(index[0].items())) != index[1]:
        issues.append(RecordIssue("R1.D", RECORD_INDEX, "record root does not match the listed digests"))

    chunk_paths = sorted(p for p in present if p.startswith("ballots/"))

    digests: dict[str, bytes] = dict(index[0]) if index is not None else {}

    def chunk_part(path: str, k: int, m: int) -> Iterator[EncryptedBallot | RecordIssue]:
        return read_chunk(d, group, path, digest=digests.get(path), part=(k, m))

    def one_chunk(path: str) -> Iterator[EncryptedBallot | RecordIssue]:
        return chunk_part(path, 0, 1)

    def ballots() -> Iterator[EncryptedBallot | RecordIssue]:
        for path in chunk_paths:
            yield from one_chunk(path)

    def ballots_with_ids(ids: frozenset[str]) -> Iterator[EncryptedBallot | RecordIssue]:
        for path in chunk_paths:
            yield from read_chunk(d, group, path, ids, digests.get(path))

    enc_tally = dec_tally = None
    if "tally.msgpack" in present:
        try:
            t = codec.fields(unpack(_read(d / "tally.msgpack")), {"encrypted", "decrypted"}, "tally.msgpack")
            enc_tally = codec.dec_encrypted_tally(group, t["encrypted"])
            if t["decrypted"] is not None:
                dec_tally = codec.dec_decrypted_tally(group, t["decrypted"])
        except (EncodingError, ValueError, OSError) as exc:
            issues.append(RecordIssue("R2.A", "tally.msgpack", str(exc)))
    challenged: list[ChallengedBallot] = []
    opened: set[str] = set()
    if "challenged.msgpack" in present:
        try:
            items = unpack(_read(d / "challenged.msgpack"))
            if not isinstance(items, list):
                raise EncodingError("expected a list")
            for item in items:
                f = codec.fields(item, {"id", "nonce", "claimed", "decrypted"}, "challenged ballot")
                if not isinstance(f["id"], str) or f["id"] in opened:
                    raise EncodingError(f"challenged ballot id {f['id']!r} is not a string or appears twice")
                opened.add(f["id"])
                challenged.append(
                    ChallengedBallot(
                        f["id"],
                        codec._bytes(f["nonce"], "nonce", 32) if f["nonce"] is not None else None,
                        codec.dec_plaintext(f["claimed"]) if f["claimed"] is not None else None,
                        codec.dec_decrypted_ballot(group, f["decrypted"])
                        if f["decrypted"] is not None
                        else None,
                    )
                )
        except (EncodingError, ValueError, TypeError, OSError) as exc:
            issues.append(RecordIssue("R2.A", "challenged.msgpack", str(exc)))
    closes: dict[str, bytes] = {}
    if "devices.msgpack" in present:
        try:
            raw = unpack(_read(d / "devices.msgpack"))
            if not isinstance(raw, dict) or not all(
                isinstance(v, bytes) and len(v) == 32 for v in raw.values()
            ):
                raise EncodingError("devices.msgpack must map device names to 32-byte hashes")
            closes = raw
        except (EncodingError, OSError) as exc:
            issues.append(RecordIssue("R2.A", "devices.msgpack", str(exc)))
    outcomes: dict[str, Any] = {}
    if "outcomes.msgpack" in present:
        try:
            raw = unpack(_read(d / "outcomes.msgpack"))
            if not isinstance(raw, dict):
                raise EncodingError("outcomes.msgpack must be a map")
            outcomes = raw
        except (EncodingError, OSError) as exc:
            issues.append(RecordIssue("R2.A", "outcomes.msgpack", str(exc)))
    extensions: dict[str, Any] = {}
    # only top-level ext/<name>.msgpack are extensions; ext/<name>/… are their companion files
    for path in sorted(p for p in present if p.startswith("ext/") and p.endswith(".msgpack")):
        name = path[len("ext/") : -len(".msgpack")]
        if "/" in name:
            continue
        try:
            extensions[name] = unpack(_read(d / path))
        except (EncodingError, OSError) as exc:
            issues.append(RecordIssue("R2.A", path, str(exc)))
    return ElectionRecord(
        path=str(d),
        digests=digests,
        chunks=tuple(chunk_paths),
        read_chunk=one_chunk,
        read_chunk_part=chunk_part,
        ballots_with_ids=ballots_with_ids,
        extensions=extensions,
        parameters=params,
        stated=stated,
        guardians=guardians,
        K=K,
        ballots=ballots,
        encrypted_tally=enc_tally,
        decrypted_tally=dec_tally,
        challenged=tuple(challenged),
        device_closes=closes,
        outcomes=outcomes,
        source="native",
        issues=tuple(issues),
    )


def write_record(
    record: ElectionRecord, directory: str | os.PathLike[str], *, chunk_size: int = CHUNK_SIZE
) -> bytes:
    """Write any loaded record (native or imported) as a sealed native record; returns its root.

    The stated values are written as stated (an inconsistent record stays inconsistent), so this
    also converts an egk record to the native layout."""
    ctx = _StatedContext(record)
    w = RecordWriter(directory, ctx, record.guardians, chunk_size=chunk_size)  # type: ignore[arg-type]
    for b in record.ballots():
        if isinstance(b, EncryptedBallot):
            w.add_ballot(b)
    if record.encrypted_tally is not None:
        w.set_tally(record.encrypted_tally, record.decrypted_tally)
    if record.challenged:
        w.set_challenged(record.challenged)
    if record.device_closes:
        w.set_device_closes(record.device_closes)
    if record.outcomes:
        w.set_outcomes(record.outcomes)
    for name, tree in record.extensions.items():
        w.set_extension(name, tree)
        companions = Path(record.path or ".") / "ext" / name
        if record.path is not None and companions.is_dir():  # e.g. the board log's event files
            for f in sorted(companions.iterdir()):
                if f.is_file() and _EXT_FILE.fullmatch(f.name):
                    w.add_extension_file(name, f.name, _read(f))
    return w.seal()


class _StatedContext:
    """Duck-typed ElectionContext carrying the record's *stated* K and hashes."""

    def __init__(self, record: ElectionRecord) -> None:
        p = record.parameters
        self.K = record.K
        self.H_E = record.stated.H_E
        self.parameters = _StatedParameters(p, record.stated)


class _StatedParameters:
    def __init__(self, p: ElectionParameters, stated: StatedHashes) -> None:
        self.group = p.group
        self.manifest = p.manifest
        self.n = p.n
        self.k = p.k
        self.version = p.version
        self.dialect = p.dialect
        self.H_P = stated.H_P
        self.H_M = stated.H_M
        self.H_B = stated.H_B
