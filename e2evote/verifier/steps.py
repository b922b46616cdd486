"""The verification steps, named as in specs/10-verification.md.

EG 2.0 §6.2: V1 parameters, V2 guardian keys, V3 joint key, V4 H_E, V5 selection range proofs,
V6 contest limits, V7 confirmation codes (and chaining), V8 aggregation, V9 tally decryption proofs,
V10 tally values and labels, V12-V14 challenged ballots (V11, tally contest data, is not used by
e2evote records). e2evote: R1 record authentication, R2 record decoding, V19 consistency of counts,
V20 outcomes.
"""

from __future__ import annotations

import hashlib
import os
import secrets
import sys
from array import array
from collections import deque
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from e2evote.elgamal import Ciphertext, decrypt_contest_data
from e2evote.encoding import pack
from e2evote.errors import E2EVoteError, EncodingError, RecordError, VerificationError
from e2evote.groups.base import Element, Group
from e2evote.hashing import SPEC_VERSION, Tag, extended_base_hash
from e2evote.proofs.chaum_pedersen import DecryptionStatement, verify_decryption, verify_decryption_many
from e2evote.proofs.range import RangeBatch, RangeStatement, start_range_batch
from e2evote.proofs.schnorr import verify_schnorr
from e2evote.protocol.ballot import (
    BallotState,
    EncryptedBallot,
    alpha_key,
    ballot_checks,
    ballot_id_bytes,
    chain_close_hash,
    device_info,
    expected_baux,
)
from e2evote.protocol.election import ElectionContext
from e2evote.protocol.manifest import Contest
from e2evote.protocol.preencrypt import verify_opening
from e2evote.protocol.tally import DecryptedBallot, DecryptedTally, TallyAccumulator, contest_data_statement
from e2evote.record import codec
from e2evote.record.model import ElectionRecord, RecordIssue
from e2evote.record.native import CHUNK_SIZE, chunk_length, is_native_record, read_record
from e2evote.verifier.report import Report

__all__ = [
    "verify_record",
    "verify_path",
    "verify_ballots",
    "ballot_pass",
    "empty_partial",
    "fingerprint_key",
    "wants_large_tables",
    "BallotIndex",
    "BallotPartial",
    "BallotRunner",
    "Progress",
]

Progress = Callable[[str, int, int], None]
"""progress(phase, done, total); total is 0 when unknown"""


def verify_path(
    path: str | os.PathLike[str],
    *,
    progress: Progress | None = None,
    partial: bool = False,
    runner: BallotRunner | None = None,
) -> Report:
    """Read a native or egk-layout record directory and verify it (never raises on bad input).

    ``partial``: the record is published mid-election (before the tally or the openings); the
    parts not yet due are reported as warnings instead of failures (specs/10-verification.md §Phases).
    """
    report = Report(source=str(path))
    try:
        if not os.path.isdir(path):
            raise RecordError(f"{path} is not a directory")
        if is_native_record(path):
            record = read_record(path)
        elif not os.path.isfile(os.path.join(path, "election_config.json")):
            raise RecordError(f"{path} is neither an e2evote nor an egk election record")
        else:
            from e2evote.record.egk import is_egk_record, read_egk_record

            if not is_egk_record(path):
                raise RecordError(f"{path} is neither an e2evote nor an egk election record")
            record = read_egk_record(path)
    except (RecordError, EncodingError, OSError) as exc:
        report.fail("R1.A", str(path), str(exc))
        return report
    except Exception as exc:  # an unexpected defect while reading: a failure, never a traceback
        report.fail("R2.B", "record", _unexpected(exc))
        return report
    return verify_record(record, progress=progress, report=report, partial=partial, runner=runner)


BallotRunner = Callable[[ElectionRecord, ElectionContext, Report, "Progress | None"], "BallotPartial"]


@dataclass
class _State:
    ctx: ElectionContext
    cast: int = 0
    challenged_ids: set[str] | None = None
    contest_cast: dict[int, int] | None = None
    """ind_c -> number of cast ballots carrying the contest"""
    partial: bool = False
    runner: BallotRunner | None = None
    """runs the per-ballot pass elsewhere (local processes, a Dask cluster)"""


def verify_record(
    record: ElectionRecord,
    *,
    progress: Progress | None = None,
    report: Report | None = None,
    partial: bool = False,
    runner: BallotRunner | None = None,
) -> Report:
    """Run every step; each failure is recorded with its step id and object. ``runner`` spreads
    the per-ballot checks over processes or a cluster (e2evote.verifier.distributed)."""
    report = report if report is not None else Report(source=record.source)
    report.summary["source"] = record.source
    for issue in record.issues:
        report.fail(issue.step, issue.obj, issue.detail)
    try:
        ctx = _parameters(record, report)
        _guardians(record, report)
        if runner is None and wants_large_tables(record):
            ctx.key.prepare(12)
        st = _State(ctx, partial=partial, runner=runner)
        if partial:
            report.warnings.append("partial verification: the tally and openings may not be published yet")
        acc = _ballots(record, st, report, progress)
        _aggregation(record, st, acc, report)
        _tally(record, st, report)
        _challenged(record, st, report)
        _consistency(record, st, report)
        _outcomes(record, st, report)
        _extensions(record, st, report)
    except E2EVoteError as exc:  # a defect that stops the run is still a reported failure
        step = exc.step if isinstance(exc, VerificationError) else "R2.B"
        report.fail(step, "record", str(exc))
    except Exception as exc:  # specs/10 §3: reported (R2.B, obj record), never raised
        report.fail("R2.B", "record", _unexpected(exc))
    return report


def _unexpected(exc: BaseException) -> str:
    """The detail of a failure for an error no check anticipated (its type and message)."""
    text = str(exc)
    return f"unexpected {type(exc).__name__}" + (f": {text}" if text else "")


def wants_large_tables(record: ElectionRecord) -> bool:
    """More than ~2000 ballots (egk files hold one; a native chunk's length is read from its header,
    CHUNK_SIZE when unknown): 12-bit fixed-base tables, ~1.5 s to build for g and K, then pay for
    themselves (specs/02-groups.md §Tables)."""
    if record.source != "native":
        return len(record.chunks) > 2000
    n = 0
    for chunk in record.chunks:
        n += chunk_length(Path(record.path), chunk) if record.path is not None else CHUNK_SIZE
        if n > 2000:
            return True
    return False


def verify_ballots(
    ctx: ElectionContext,
    ballots: Callable[[], Iterator[EncryptedBallot | RecordIssue]],
    *,
    progress: Progress | None = None,
    runner: BallotRunner | None = None,
) -> Report:
    """Steps V5-V7 alone over a stream of ballots (a board accepting ballots, benchmarks).
    ``runner`` does the per-ballot pass elsewhere (distributed.blob_runner); ``ballots`` is then
    read only to confirm a duplicate."""
    from e2evote.record.model import StatedHashes

    p = ctx.parameters
    record = ElectionRecord(
        parameters=p,
        stated=StatedHashes(p.H_P, p.H_M, p.H_B, ctx.H_E),
        guardians=(),
        K=ctx.K,
        ballots=ballots,
    )
    report = Report(source="ballots")
    _ballots(record, _State(ctx, runner=runner), report, progress)
    return report


# ---------------------------------------------------------------------------------------------------
# V1-V4
# ---------------------------------------------------------------------------------------------------


def _parameters(record: ElectionRecord, report: Report) -> ElectionContext:
    p = record.parameters
    report.checked("V1")
    if p.version != SPEC_VERSION:
        report.fail(
            "V1.A", "parameters", f"record is version {p.version!r}, verifier implements {SPEC_VERSION!r}"
        )
    report.summary["group"] = p.group.name
    if p.group.name == "modp-test-511":
        report.warnings.append("the record uses the INSECURE 511-bit test group; its ballots are not private")
    elif p.group.name != "modp-4096":
        report.warnings.append(
            f"the record uses the e2evote extension group {p.group.name}, not the EG 2.0 group"
        )
    problem = _checked_parameters(p.group)  # V1.B-E: the built-in constants' structure (02-groups §2.3)
    if problem:
        report.fail("V1.B", "parameters", problem)
    for step, name, stated, computed in (
        ("V1.F", "H_P", record.stated.H_P, p.H_P),
        ("V1.G", "H_M", record.stated.H_M, p.H_M),
        ("V1.H", "H_B", record.stated.H_B, p.H_B),
    ):
        if stated != computed:
            report.fail(step, name, f"stated {stated.hex()[:16]}… but computed {computed.hex()[:16]}…")
    ctx = ElectionContext(p, record.K)
    report.checked("V4")
    if record.stated.H_E != extended_base_hash(p.H_B, record.K.to_bytes()):
        report.fail("V4.A", "H_E", "extended base hash does not equal H(H_B; 0x12, K)")
    return ctx


_PARAMETER_CHECKS: dict[Group, str] = {}


def _checked_parameters(group: Group) -> str:
    """The group's self-check, once per process: its structure; the built-in groups' primes are known
    (specs/02-groups.md §2.3: the test suite re-proves them, ~0.2 s for 4096 bits)."""
    if group not in _PARAMETER_CHECKS:
        try:
            group.check_parameters()
            _PARAMETER_CHECKS[group] = ""
        except ValueError as exc:
            _PARAMETER_CHECKS[group] = str(exc)
    return _PARAMETER_CHECKS[group]


def _guardians(record: ElectionRecord, report: Report) -> None:
    p = record.parameters
    g = p.group
    indices = sorted(pk.i for pk in record.guardians)
    # compare the counts first: n comes from the record and must not size anything (a huge n)
    if len(indices) != p.n or indices != list(range(1, len(indices) + 1)):
        shown = indices if len(indices) <= 20 else f"{len(indices)} guardians"
        report.fail("V2.A", "guardians", f"expected guardians 1..{p.n}, record has {shown}")
    K = g.identity()
    for pk in record.guardians:
        obj = f"guardian {pk.i}"
        report.checked("V2")
        if len(pk.K) != p.k or len(pk.proofs) != p.k:
            report.fail("V2.A", obj, f"{len(pk.K)} commitments and {len(pk.proofs)} proofs, expected {p.k}")
        for j, (K_ij, proof) in enumerate(zip(pk.K, pk.proofs, strict=False)):
            if K_ij.is_identity():
                report.fail("V2.A", f"{obj} coefficient {j}", "commitment is the identity (a_ij = 0)")
            try:
                verify_schnorr(g, p.H_P, pk.i, j, K_ij, proof)
            except VerificationError as exc:
                report.fail(exc.step, f"{obj} coefficient {j}", exc.detail)
        report.checked("V3")
        if pk.K and pk.K[0].is_identity():
            report.fail("V3.A", obj, "public key K_i is the identity")
        if pk.K:
            K = K * pk.K[0]
    if K != record.K or record.K.is_identity():
        report.fail("V3.B", "joint key K", "K is not the product of the guardians' keys (or is 1)")


# ---------------------------------------------------------------------------------------------------
# V5-V7 per ballot, accumulating V8
# ---------------------------------------------------------------------------------------------------


_FP_MASK = (1 << 64) - 1
"""fingerprints are 64 bits; tests narrow this mask to force collisions (which must change nothing)"""


def fingerprint_key() -> bytes:
    """A fresh random key for one run's fingerprints: the record's author cannot aim collisions."""
    return secrets.token_bytes(32)


def _fp(key: bytes, data: bytes) -> int:
    return int.from_bytes(hashlib.blake2b(data, digest_size=8, key=key).digest(), "little") & _FP_MASK


class BallotIndex:
    """What the checks across ballots (V7.C-H, V19.E) keep of the ballots: fixed-size data per ballot.

    Per ballot with an entry (its own checks did not raise), in record order: 64-bit fingerprints
    (BLAKE2b keyed with ``key``, random per run) of its id, its confirmation code and the last 16 bytes
    of each selection's α, and its number of selections; besides, the ids of the challenged ballots
    and, with chaining, each device's chain state (V7.D-E are checked as the ballots come, a device's
    first ballot of a part once the part before is known). Fingerprints only select candidates: a
    duplicate is reported after the full values were compared (specs/10-verification.md §1.6)."""

    __slots__ = (
        "key",
        "ids",
        "codes",
        "alphas",
        "widths",
        "skipped",
        "challenged",
        "heads",
        "tails",
        "links",
        "chain_failures",
    )

    def __init__(self, key: bytes) -> None:
        self.key = key
        self.ids: array[int] = array("Q")
        self.codes: array[int] = array("Q")
        self.alphas: array[int] = array("Q")
        """every selection's α fingerprint, ballot after ballot"""
        self.widths: array[int] = array("I")
        """selections per ballot"""
        self.skipped: list[int] = []
        """positions in the ballot stream (RecordIssues not counted) of ballots without an entry"""
        self.challenged: list[str] = []
        self.heads: dict[str, tuple[int, str, bytes]] = {}
        """device -> (entry, ballot id, B_aux) of the device's first ballot here (its check waits)"""
        self.tails: dict[str, bytes] = {}
        """device -> confirmation code of the device's last ballot here"""
        self.links: list[tuple[int, str, str, bytes, bytes]] = []
        """(entry, ballot id, device, B_aux, previous code): chain links between merged parts"""
        self.chain_failures: list[tuple[int, str]] = []
        """(entry, ballot id): V7.E failures found within the part"""

    def add(self, ctx: ElectionContext, ballot: EncryptedBallot) -> None:
        key = self.key
        k = len(self.codes)
        bid = ballot.ballot_id
        self.ids.append(_fp(key, ballot_id_bytes(bid)))
        self.codes.append(_fp(key, ballot.code))
        width = 0
        for ec in ballot.contests:
            for sel in ec.selections:
                self.alphas.append(_fp(key, alpha_key(sel.ct.alpha)))
                width += 1
        self.widths.append(width)
        if ballot.state != BallotState.CAST:
            self.challenged.append(bid)
        if ctx.manifest.chaining and ballot.pre is None:  # pre-encrypted ballots chain to no device
            device = ballot.device
            last = self.tails.get(device)
            if last is None:
                self.heads[device] = (k, bid, ballot.B_aux)
            elif ballot.B_aux != expected_baux(ctx, device_info(ctx, device), last):
                self.chain_failures.append((k, bid))
            self.tails[device] = ballot.code

    def merge(self, other: BallotIndex, stream_offset: int) -> None:
        """Append ``other`` (the next part in record order, starting at ``stream_offset``)."""
        if other.key != self.key:
            raise ValueError("parts fingerprinted with different keys cannot be merged")
        k0 = len(self.codes)
        self.ids.extend(other.ids)
        self.codes.extend(other.codes)
        self.alphas.extend(other.alphas)
        self.widths.extend(other.widths)
        self.skipped.extend(p + stream_offset for p in other.skipped)
        self.challenged.extend(other.challenged)
        self.chain_failures.extend((k + k0, bid) for k, bid in other.chain_failures)
        self.links.extend((k + k0, bid, d, baux, last) for k, bid, d, baux, last in other.links)
        for device, (k, bid, baux) in other.heads.items():
            last = self.tails.get(device)
            if last is None:
                self.heads[device] = (k + k0, bid, baux)
            else:
                self.links.append((k + k0, bid, device, baux, last))
        self.tails.update(other.tails)

    def to_wire(self) -> dict[str, Any]:
        """A msgpack-able tree (arrays as little-endian bytes), for a worker's results."""
        return {
            "ids": _packed(self.ids),
            "codes": _packed(self.codes),
            "alphas": _packed(self.alphas),
            "widths": _packed(self.widths),
            "skipped": list(self.skipped),
            "challenged": list(self.challenged),
            "heads": [[d, k, bid, baux] for d, (k, bid, baux) in self.heads.items()],
            "tails": [[d, code] for d, code in self.tails.items()],
            "links": [list(link) for link in self.links],
            "chain_failures": [[k, bid] for k, bid in self.chain_failures],
        }

    @classmethod
    def from_wire(cls, key: bytes, obj: Mapping[str, Any]) -> BallotIndex:
        idx = cls(key)
        idx.ids = _unpacked("Q", obj["ids"])
        idx.codes = _unpacked("Q", obj["codes"])
        idx.alphas = _unpacked("Q", obj["alphas"])
        idx.widths = _unpacked("I", obj["widths"])
        idx.skipped = list(obj["skipped"])
        idx.challenged = list(obj["challenged"])
        idx.heads = {d: (k, bid, baux) for d, k, bid, baux in obj["heads"]}
        idx.tails = {d: code for d, code in obj["tails"]}
        idx.links = [(k, bid, d, baux, last) for k, bid, d, baux, last in obj["links"]]
        idx.chain_failures = [(k, bid) for k, bid in obj["chain_failures"]]
        return idx


def _packed(a: array[int]) -> bytes:
    if sys.byteorder == "big":
        a = array(a.typecode, a)
        a.byteswap()
    return a.tobytes()


def _unpacked(typecode: str, blob: bytes) -> array[int]:
    a: array[int] = array(typecode)
    a.frombytes(blob)
    if sys.byteorder == "big":
        a.byteswap()
    return a


@dataclass
class BallotPartial:
    """What one pass over a run of ballots contributes (specs/10-verification.md §Parallel runs).

    Checks needing only the ballot itself (V5, V6, V7.A-B, V5.E) are done in the pass; the index
    feeds the checks across ballots (V7.C-H, V19.E), done once over all partials in record order."""

    acc: dict[int, dict[int, list[Element]]]
    index: BallotIndex
    cast: int = 0
    contest_cast: dict[int, int] | None = None
    done: int = 0
    seen: bytes = b""
    """for one run of a split stream (``slice_of`` m > 1): a digest of what the run read, so that the
    runs can be checked to have read the same ballot (specs/10 §1.5); empty otherwise"""

    def merge(self, other: BallotPartial) -> None:
        for ci, row in other.acc.items():
            mine = self.acc.setdefault(ci, {})
            for oi, (a, b) in row.items():
                cell = mine.get(oi)
                if cell is None:
                    mine[oi] = [a, b]
                else:
                    cell[0] = cell[0] * a
                    cell[1] = cell[1] * b
        self.index.merge(other.index, self.done)
        self.cast += other.cast
        self.done += other.done
        cc = self.contest_cast if self.contest_cast is not None else {}
        for ci, n in (other.contest_cast or {}).items():
            cc[ci] = cc.get(ci, 0) + n
        self.contest_cast = cc


def empty_partial(ctx: ElectionContext, key: bytes | None = None) -> BallotPartial:
    """``key``: the run's fingerprint key (every partial merged together must share it)."""
    one = ctx.group.identity()
    acc = {c.index: {o.index: [one, one] for o in c.options} for c in ctx.manifest.contests}
    return BallotPartial(acc, BallotIndex(key if key is not None else fingerprint_key()), 0, {}, 0)


def ballot_pass(
    ctx: ElectionContext,
    ballots: Iterator[EncryptedBallot | RecordIssue],
    report: Report,
    progress: Progress | None = None,
    *,
    key: bytes | None = None,
    slice_of: tuple[int, int] = (0, 1),
) -> BallotPartial:
    """Per-ballot checks over a stream; range proofs verified in batches on the worker threads.

    ``slice_of = (k, m)`` splits the work on a stream of *one* ballot m ways (specs/10 §1.5): the
    k-th run checks only the k-th of m consecutive slices of the ballot's range proofs, and only run 0
    does and reports everything else. Their reports, concatenated in k order, are the whole pass's."""
    k, m = slice_of
    if not 0 <= k < m:
        raise ValueError(f"slice {k} of {m}")
    part = empty_partial(ctx, key)
    tally = TallyAccumulator(ctx)  # V8's aggregate (eq. 62), as the official computes it
    pipe = _Pipeline(ctx, report)
    # run k > 0 reports its range proofs only; run 0's other failures go through the pipeline, in order
    mine: _Failures = pipe if k == 0 else Report(source=report.source)
    seen = 0
    read: list[Any] = []  # what a split run read (m > 1), for part.seen
    try:
        while True:
            try:
                ballot = next(ballots)
            except StopIteration:
                break
            except (EncodingError, ValueError, OSError) as exc:
                mine.fail("R2.B", "ballots", f"undecodable ballot data: {exc}")
                if m > 1:
                    read.append(["error", str(exc)])
                break
            if isinstance(ballot, RecordIssue):
                mine.fail(ballot.step, ballot.obj, ballot.detail)
                if m > 1:
                    read.append(["issue", ballot.step, ballot.obj, ballot.detail])
                continue
            seen += 1
            if m > 1:
                if seen > 1:
                    raise ValueError("a ballot pass is split only over a stream of one ballot")
                read.append(["ballot", hashlib.sha256(pack(codec.enc_ballot(ballot))).digest()])
            if k == 0:
                part.done += 1
                if progress is not None and part.done % 16 == 0:
                    progress("ballots", part.done, 0)
            obj = f"ballot {ballot.ballot_id}"
            try:
                statements = _ballot(ctx, ballot, mine)
            except E2EVoteError as exc:
                mine.fail(getattr(exc, "step", "V5.A"), obj, str(exc))
                if k == 0:
                    part.index.skipped.append(part.done - 1)
                continue
            except Exception as exc:  # specs/10 §2: reported under V5.A, the run goes on
                mine.fail("V5.A", obj, _unexpected(exc))
                if k == 0:
                    part.index.skipped.append(part.done - 1)
                continue
            if m > 1:
                n = len(statements)
                statements = statements[n * k // m : n * (k + 1) // m]
            pipe.pending.extend(statements)
            if k > 0:
                continue
            if len(pipe.pending) >= BATCH:
                pipe.flush()
            part.index.add(ctx, ballot)
            if ballot.state == BallotState.CAST:
                tally.add(ballot)  # its contests and options are the manifest's (V5.E held)
    except BaseException:
        pipe.release()  # the failures found so far are reported even if the pass stops here
        raise
    pipe.flush(last=True)
    if m > 1:
        part.seen = hashlib.sha256(pack(read)).digest()
    part.acc = {ci: {oi: [ct.alpha, ct.beta] for oi, ct in row} for ci, row in tally.result().contests}
    part.cast = tally.ballots
    part.contest_cast = tally.contest_cast
    return part


def _ballots(
    record: ElectionRecord, st: _State, report: Report, progress: Progress | None
) -> dict[int, dict[int, Ciphertext]]:
    ctx = st.ctx
    if st.runner is not None:
        part = st.runner(record, ctx, report, progress)
    else:
        part = ballot_pass(ctx, record.ballots(), report, progress)
    if progress is not None:
        progress("ballots", part.done, part.done)
    _across_ballots(record, ctx, part, st, report)
    st.cast = part.cast
    st.contest_cast = part.contest_cast or {}
    report.summary["ballots"] = part.done
    report.summary["cast"] = part.cast
    report.summary["challenged"] = len(st.challenged_ids or ())
    return {ci: {oi: Ciphertext(a, b) for oi, (a, b) in row.items()} for ci, row in part.acc.items()}


def _across_ballots(
    record: ElectionRecord, ctx: ElectionContext, part: BallotPartial, st: _State, report: Report
) -> None:
    """V7.C unique codes, V7.H no copied ciphertext, V19.E unique ids, V7.D-G device chains.

    Failures come in record order and, per ballot, in the order V7.H, V19.E, V7.C, V7.D/E."""
    idx = part.index
    if idx.codes:
        report.checked("V7", len(idx.codes))
    found = _duplicates(record, idx)
    if ctx.manifest.chaining:
        broken = "B_aux does not continue the device's chain"
        for device, (k, bid, baux) in idx.heads.items():
            if baux != expected_baux(ctx, device_info(ctx, device), None):
                found.append((k, 3, 0, "V7.D", f"ballot {bid}", broken))
        for k, bid, device, baux, last in idx.links:
            if baux != expected_baux(ctx, device_info(ctx, device), last):
                found.append((k, 3, 0, "V7.E", f"ballot {bid}", broken))
        found.extend((k, 3, 0, "V7.E", f"ballot {bid}", broken) for k, bid in idx.chain_failures)
    found.sort(key=lambda f: f[:3])
    for _k, _rank, _n, step, obj, detail in found:
        report.fail(step, obj, detail)
    if ctx.manifest.chaining:
        for device, last in idx.tails.items():
            report.checked("V7")
            close = record.device_closes.get(device)
            if close is None:
                report.fail("V7.F", f"device {device}", "no closing hash published")
            elif close != chain_close_hash(ctx.H_E, last, device_info(ctx, device)):
                report.fail("V7.G", f"device {device}", "closing hash is wrong")
    chained = idx.tails if ctx.manifest.chaining else {}
    for device in sorted(set(record.device_closes) - set(chained), key=repr):
        report.checked("V7")
        report.fail(
            "V7.F", f"device {device}", "closing hash published for a device without a chain of ballots"
        )
    st.challenged_ids = set(idx.challenged)


_Found = tuple[int, int, int, str, str, str]
"""(entry, rank within the entry, selection, step, obj, detail), sorted into report order"""


def _duplicates(record: ElectionRecord, idx: BallotIndex) -> list[_Found]:
    """V19.E, V7.C, V7.H: equal fingerprints make candidates; the candidates' full values (id, code,
    α's last 16 bytes), read again from the record, decide. Without a second reading the failures are
    reported on the fingerprints, naming ballots by their position, and say so."""
    ids = _repeated(idx.ids)
    codes = _repeated(idx.codes)
    sels = _selections(idx.widths, _repeated(idx.alphas))
    if not (ids or codes or sels):
        return []
    wanted: dict[int, tuple[int, list[int]]] = {k: (0, []) for k in (*ids, *codes)}
    wanted.update(sels)
    full = _reread(record, idx, wanted)
    if isinstance(full, str):
        return _fingerprint_evidence(idx, ids, codes, sels, full)
    found: list[_Found] = []
    seen: set[str] = set()
    for k in ids:
        bid = full[k][0]
        if bid in seen:
            found.append((k, 1, 0, "V19.E", f"ballot {bid}", "ballot id appears twice"))
        seen.add(bid)
    last: dict[bytes, str] = {}  # code -> id of its latest ballot
    for k in codes:
        bid, code, _ = full[k]
        if code in last:
            detail = f"confirmation code duplicates ballot {last[code]}"
            found.append((k, 2, 0, "V7.C", f"ballot {bid}", detail))
        last[code] = bid
    owner: dict[bytes, str] = {}  # α's last 16 bytes -> id of its first ballot
    for k, (_start, ns) in sorted(sels.items()):
        bid, _, alphas = full[k]
        for n in ns:
            prev = owner.get(alphas[n])
            if prev is None:
                owner[alphas[n]] = bid
            elif prev != bid:
                detail = f"ciphertext copied from ballot {prev}"
                found.append((k, 0, n, "V7.H", f"ballot {bid} selection {n + 1}", detail))
    return found


def _repeated(values: array[int]) -> list[int]:
    """The indices, ascending, of the values that occur more than once.

    The values are sorted bucket by bucket (by their top bits), so that only a few thousand are Python
    ints at a time; the buckets are filled in 4 passes over the values, a quarter of the value range
    each, so that the copy held at a time is a quarter of the array."""
    n = len(values)
    if n < 2:
        return []
    bits = (n // 4096).bit_length()
    repeated: set[int] = set()
    if bits == 0:
        s = sorted(values)
        repeated.update(a for a, b in zip(s, s[1:], strict=False) if a == b)
    else:
        passes = min(bits, 2)
        top = 64 - bits
        mask = (1 << (bits - passes)) - 1
        width = 1 << (64 - passes)
        for part in range(1 << passes):
            lo, hi = part * width, (part + 1) * width
            buckets = [array("Q") for _ in range(mask + 1)]
            add = [b.append for b in buckets]
            for v in values:
                if lo <= v < hi:
                    add[(v >> top) & mask](v)
            for i in range(len(buckets)):
                s = sorted(buckets[i])
                buckets[i] = array("Q")  # free it as we go
                repeated.update(a for a, b in zip(s, s[1:], strict=False) if a == b)
    if not repeated:
        return []
    return [i for i, v in enumerate(values) if v in repeated]


def _selections(widths: array[int], flat: list[int]) -> dict[int, tuple[int, list[int]]]:
    """Flat selection indices (ascending) -> {entry: (its first flat index, [selection numbers])}."""
    out: dict[int, tuple[int, list[int]]] = {}
    if not flat:
        return out
    it = iter(flat)
    f = next(it, None)
    start = 0
    for k, w in enumerate(widths):
        end = start + w
        while f is not None and f < end:
            out.setdefault(k, (start, []))[1].append(f - start)
            f = next(it, None)
        if f is None:
            break
        start = end
    return out


def _reread(
    record: ElectionRecord, idx: BallotIndex, wanted: dict[int, tuple[int, list[int]]]
) -> dict[int, tuple[str, bytes, dict[int, bytes]]] | str:
    """A second reading of the record for the wanted entries: {entry: (id, code, {selection: α's
    last 16 bytes})}, checked against the first reading's fingerprints; or why it failed."""
    key = idx.key
    skipped = set(idx.skipped)
    out: dict[int, tuple[str, bytes, dict[int, bytes]]] = {}
    p = k = -1
    try:
        for b in record.ballots():
            if not isinstance(b, EncryptedBallot):
                continue
            p += 1
            if p in skipped:
                continue
            k += 1
            want = wanted.get(k)
            if want is None:
                continue
            start, ns = want
            alphas = [alpha_key(sel.ct.alpha) for ec in b.contests for sel in ec.selections]
            if (
                _fp(key, ballot_id_bytes(b.ballot_id)) != idx.ids[k]
                or _fp(key, b.code) != idx.codes[k]
                or len(alphas) != idx.widths[k]
                or any(_fp(key, alphas[n]) != idx.alphas[start + n] for n in ns)
            ):
                return f"ballot #{p} differs between two readings of the record"
            out[k] = (b.ballot_id, b.code, {n: alphas[n] for n in ns})
            if len(out) == len(wanted):
                return out
    except (E2EVoteError, ValueError, TypeError, KeyError, OSError) as exc:
        return f"the record could not be read again: {exc}"
    return "the record could not be read again: it has fewer ballots than on the first reading"


def _fingerprint_evidence(
    idx: BallotIndex, ids: list[int], codes: list[int], sels: dict[int, tuple[int, list[int]]], why: str
) -> list[_Found]:
    """The fallback of _duplicates: equal fingerprints taken for equal values; ballots named
    ``ballot #<position in the record's ballot stream, from 0>``."""
    note = f" (fingerprint evidence only: {why})"
    skipped = sorted(idx.skipped)

    def pos(k: int) -> int:
        p = k
        for s in skipped:
            if s > p:
                break
            p += 1
        return p

    found: list[_Found] = []
    seen: set[int] = set()
    for k in ids:
        if idx.ids[k] in seen:
            found.append((k, 1, 0, "V19.E", f"ballot #{pos(k)}", "ballot id appears twice" + note))
        seen.add(idx.ids[k])
    last: dict[int, int] = {}
    for k in codes:
        fp = idx.codes[k]
        if fp in last:
            detail = f"confirmation code duplicates ballot #{pos(last[fp])}{note}"
            found.append((k, 2, 0, "V7.C", f"ballot #{pos(k)}", detail))
        last[fp] = k
    owner: dict[int, int] = {}
    for k, (start, ns) in sorted(sels.items()):
        for n in ns:
            fp = idx.alphas[start + n]
            first = owner.get(fp)
            if first is None:
                owner[fp] = k
            elif idx.ids[first] != idx.ids[k]:
                detail = f"ciphertext copied from ballot #{pos(first)}{note}"
                found.append((k, 0, n, "V7.H", f"ballot #{pos(k)} selection {n + 1}", detail))
    return found


BATCH = 64
"""range proofs verified per batch (their variable-base powers run on the worker threads)"""


class _Pipeline:
    """Range statements verified in batches, one batch in flight while the next one is prepared.

    Failures leave in stream order whatever the batch boundaries: a failure found on the way
    (:meth:`fail`: a record issue, V5.E, V7.A-B) waits until the range statements submitted before it
    are reported, and a batch's failures come in statement order. So a ballot's failures are never
    interleaved with the next ballot's, and a run over the whole stream reports what the per-file
    runs of specs/10 §1.5 report, concatenated. Held failures arrive in stream order and are merged,
    not sorted (linear), and at most ``MAX_HELD`` wait: then the pending statements are checked."""

    MAX_HELD = 1024

    __slots__ = ("ctx", "report", "pending", "_inflight", "_submitted", "_reported", "_held")

    def __init__(self, ctx: ElectionContext, report: Report) -> None:
        self.ctx = ctx
        self.report = report
        self.pending: list[RangeStatement] = []
        self._inflight: tuple[int, RangeBatch] | None = None
        self._submitted = 0  # statements handed to batches so far
        self._reported = 0  # statements whose failures have been reported
        self._held: deque[tuple[int, str, str, str]] = deque()
        """failures found on the way, waiting: (position in the statement stream, step, obj, detail)"""

    def fail(self, step: str, obj: str, detail: str = "") -> None:
        position = self._submitted + len(self.pending)
        if not self._held and position <= self._reported:
            self.report.fail(step, obj, detail)
            return
        self._held.append((position, step, obj, detail))
        if len(self._held) >= self.MAX_HELD:
            self.flush(last=True)

    def checked(self, group: str, n: int = 1) -> None:
        self.report.checked(group, n)

    def flush(self, *, last: bool = False) -> None:
        batch = None
        if self.pending:
            batch = (self._submitted, start_range_batch(self.ctx.key, self.ctx.H_E, self.pending))
            self._submitted += len(self.pending)
        self.pending = []
        if self._inflight is not None:
            self._report(*self._inflight)
        self._inflight = batch
        if last:
            if self._inflight is not None:
                self._report(*self._inflight)
                self._inflight = None
            self.release()

    def release(self, upto: int | None = None) -> None:
        """Report the held failures at positions up to ``upto`` (all of them if None)."""
        held = self._held
        while held and (upto is None or held[0][0] <= upto):
            _, step, obj, detail = held.popleft()
            self.report.fail(step, obj, detail)

    def _report(self, start: int, batch: RangeBatch) -> None:
        for n, exc in batch.finish_at():
            self.release(start + n)  # what was found before statement start + n comes first
            self.report.fail(exc.step, exc.obj, exc.detail)
        self._reported = start + len(batch)
        self.release(self._reported)


class _Failures(Protocol):
    """Where per-ballot checks report: the pipeline (in stream order) or a report."""

    def fail(self, step: str, obj: str, detail: str = "") -> None: ...

    def checked(self, group: str, n: int = 1) -> None: ...


def _ballot(ctx: ElectionContext, ballot: EncryptedBallot, report: _Failures) -> list[RangeStatement]:
    """V5.E, V7.A-B now (a pre-encrypted ballot: V17-V18 instead of V7.B), every failure reported:
    the ballot box's own checks (:func:`ballot_checks`); returns the V5/V6 range statements (V15/V16
    for a pre-encrypted ballot) to verify in a batch."""
    checks = ballot_checks(ctx, ballot)
    for s in checks.statements:
        report.checked(s.step)
    if ballot.pre is not None:
        report.checked("V17")
        report.checked("V18")
    for f in checks.failures:
        report.fail(f.step, f.obj, f.detail)
    return list(checks.statements)


# ---------------------------------------------------------------------------------------------------
# V8-V10
# ---------------------------------------------------------------------------------------------------


def _aggregation(
    record: ElectionRecord, st: _State, acc: dict[int, dict[int, Ciphertext]], report: Report
) -> None:
    t = record.encrypted_tally
    if t is None:
        if st.cast and not st.partial:
            report.fail("V8.A", "encrypted tally", "the record has cast ballots but no encrypted tally")
        return
    stated = _cells(t.contests, report)
    for ci, row in acc.items():
        for oi, ct in row.items():
            report.checked("V8")
            s = stated.get(ci, {}).get(oi)
            obj = f"tally contest {ci} option {oi}"
            if s is None:
                report.fail("V8.A", obj, "missing from the encrypted tally")
                continue
            if s.alpha != ct.alpha:
                report.fail("V8.A", obj, "A is not the product of the cast ballots' α")
            if s.beta != ct.beta:
                report.fail("V8.B", obj, "B is not the product of the cast ballots' β")
    extra = {(ci, oi) for ci, sels in stated.items() for oi in sels} - {
        (ci, oi) for ci, row in acc.items() for oi in row
    }
    for ci, oi in sorted(extra):
        report.fail("V8.A", f"tally contest {ci} option {oi}", "not an option of the manifest")
    if t.ballots != st.cast:
        report.fail(
            "V19.D", "encrypted tally", f"claims {t.ballots} cast ballots, the record holds {st.cast}"
        )


def _cells(
    contests: tuple[tuple[int, tuple[tuple[int, Ciphertext], ...]], ...], report: Report | None
) -> dict[int, dict[int, Ciphertext]]:
    """The encrypted tally as {ind_c: {ind_o: (A, B)}}; with ``report``, a cell stated twice fails
    V8.A (the native codec already rejects it, specs/07-record.md §3.4; other readers may not)."""
    out: dict[int, dict[int, Ciphertext]] = {}
    for ci, sels in contests:
        row = out.setdefault(ci, {})
        for oi, ct in sels:
            if oi in row and report is not None:
                obj = f"tally contest {ci} option {oi}"
                report.fail("V8.A", obj, "appears more than once in the encrypted tally")
            row[oi] = ct
    return out


def _tally(record: ElectionRecord, st: _State, report: Report) -> None:
    ctx = st.ctx
    g = ctx.group
    d = record.decrypted_tally
    e = record.encrypted_tally
    if d is None or e is None:
        if e is not None and not st.partial:
            report.fail("R2.C", "decrypted tally", "the record has an encrypted tally but no decrypted tally")
        elif d is not None:
            report.fail("R2.C", "encrypted tally", "the record has a decrypted tally but no encrypted tally")
        return
    enc = _cells(e.contests, None)  # duplicates were reported by V8.A
    seen_cells: set[tuple[int, int]] = set()
    for dc in d.contests:
        for sel in dc.selections:
            if (dc.index, sel.index) in seen_cells:
                obj = f"tally contest {dc.index} option {sel.index}"
                report.fail("V10.C", obj, "appears more than once in the decrypted tally")
            seen_cells.add((dc.index, sel.index))
    proofs = _tally_proofs(ctx, d, enc)
    seen_contests = set()
    for i, dc in enumerate(d.contests):
        try:
            contest = ctx.manifest.contest_by_index(dc.index)
        except E2EVoteError:
            report.fail("V10.B", f"tally contest {dc.index}", "not a contest of the manifest")
            continue
        seen_contests.add(dc.index)
        options = {o.index for o in contest.options}
        got = {s.index for s in dc.selections}
        for oi in sorted(got - options):
            report.fail("V10.C", f"tally {contest.label} option {oi}", "not an option of the contest")
        for oi in sorted(options - got):
            report.fail(
                "V10.D", f"tally {contest.label} option {oi}", "manifest option missing from the tally"
            )
        for j, sel in enumerate(dc.selections):
            obj = f"tally {contest.label} option {sel.index}"
            ct = enc.get(dc.index, {}).get(sel.index)
            if ct is None:
                report.fail("V10.C", obj, "decrypted option has no encrypted tally")
                continue
            report.checked("V9")
            failure = proofs[i, j]
            if failure is not None:
                report.fail(failure.step, obj, failure.detail)
            report.checked("V10")
            if sel.t < 0 or ctx.key.K_pow(g.scalar_reduce(sel.t)) != sel.T:
                report.fail("V10.A", obj, f"T is not K^{sel.t}")
    for ci in sorted(set(enc) - seen_contests):
        report.fail("V10.E", f"tally contest {ci}", "contest of the ballots missing from the decrypted tally")
    if d.ballots != st.cast:
        report.fail(
            "V19.D", "decrypted tally", f"claims {d.ballots} cast ballots, the record holds {st.cast}"
        )


def _tally_proofs(
    ctx: ElectionContext, d: DecryptedTally, enc: dict[int, dict[int, Ciphertext]]
) -> dict[tuple[int, int], VerificationError | None]:
    """V9 for every decrypted option that has an encrypted one, in one batch (the variable-base
    powers on the worker threads): (position of the contest in the tally, position of the option
    in the contest) -> None or the failure."""
    keys: list[tuple[int, int]] = []
    items: list[DecryptionStatement] = []
    for i, dc in enumerate(d.contests):
        for j, sel in enumerate(dc.selections):
            ct = enc.get(dc.index, {}).get(sel.index)
            if ct is None:
                continue
            keys.append((i, j))
            M = ct.beta / sel.T  # (9.1)
            statement = (ct.alpha.to_bytes(), ct.beta.to_bytes())
            items.append(DecryptionStatement(ct.alpha, M, sel.proof, statement, "V9", ""))
    failures = verify_decryption_many(ctx.group, ctx.H_E, ctx.K, items, K_table=ctx.key.table)
    return dict(zip(keys, failures, strict=True))


# ---------------------------------------------------------------------------------------------------
# V12-V14 challenged ballots
# ---------------------------------------------------------------------------------------------------


def _challenged(record: ElectionRecord, st: _State, report: Report) -> None:
    ctx = st.ctx
    wanted = st.challenged_ids or set()
    opened = {c.ballot_id: c for c in record.challenged}
    for bid in sorted(wanted - set(opened)):
        if st.partial:
            report.warnings.append(f"challenged ballot {bid} is not opened yet")
        else:
            report.fail("V13.G", f"ballot {bid}", "challenged ballot was not opened")
    for bid in sorted(set(opened) - wanted):
        report.fail("V13.G", f"ballot {bid}", "opened ballot is not a challenged ballot of the record")
    if not opened:
        return
    by_id: dict[str, EncryptedBallot] = {}
    select = record.ballots_with_ids
    for b in select(frozenset(opened)) if select is not None else record.ballots():
        if isinstance(b, EncryptedBallot) and b.ballot_id in opened:
            by_id[b.ballot_id] = b
    for bid, ch in sorted(opened.items()):
        ballot = by_id.get(bid)
        if ballot is None:
            continue
        obj = f"ballot {bid}"
        report.checked("V13")
        if ch.nonce is None and ch.decrypted is None:
            report.fail("V13.G", obj, "neither a nonce nor a decryption is published")
            continue
        if ch.nonce is not None and ch.decrypted is not None:
            # one opening per ballot; both parts are still checked (nothing goes unchecked)
            report.fail("V13.G", obj, "both a nonce and a decryption are published")
        if ch.nonce is None and ch.claimed is not None:
            report.fail("V13.N.A", obj, "claimed selections published without a nonce")
        if ch.nonce is not None:
            if ch.claimed is None:
                report.fail("V13.N.A", obj, "nonce released without the claimed selections")
            else:
                try:
                    verify_opening(ctx, ballot, ch.nonce, ch.claimed)
                except VerificationError as exc:
                    report.fail(exc.step, obj, exc.detail)
                except E2EVoteError as exc:
                    report.fail("V13.B", obj, str(exc))
                except Exception as exc:  # malformed but decodable: a failure, not a crash
                    report.fail("V13.N.A", obj, _unexpected(exc))
        if ch.decrypted is not None:
            try:
                _decrypted_ballot(ctx, ballot, ch.decrypted, report)
            except Exception as exc:  # malformed but decodable: a failure, not a crash
                report.fail("V13.D", obj, _unexpected(exc))


def _decrypted_ballot(
    ctx: ElectionContext, ballot: EncryptedBallot, dec: DecryptedBallot, report: Report
) -> None:
    g = ctx.group
    obj = f"ballot {ballot.ballot_id}"
    enc = {ec.index: ec for ec in ballot.contests}
    if sorted(enc) != sorted(dc.index for dc in dec.contests):
        report.fail("V13.D", obj, "decrypted contests differ from the encrypted ballot's")
    for dc in dec.contests:
        ec = enc.get(dc.index)
        if ec is None:
            continue
        try:
            contest: Contest = ctx.manifest.contest_by_index(dc.index)
        except E2EVoteError:
            report.fail("V13.D", f"{obj} contest {dc.index}", "not a contest of the manifest")
            continue
        cobj = f"{obj} contest {contest.label}"
        if [s[0] for s in dc.selections] != [s.index for s in ec.selections]:
            report.fail("V13.E", cobj, "decrypted options differ from the encrypted ballot's")
            continue
        total = 0
        for (oi, sigma, proof), sel in zip(dc.selections, ec.selections, strict=True):
            sobj = f"{cobj} option {oi}"
            report.checked("V12")
            if not 0 <= sigma <= contest.option_limit:
                report.fail("V13.B", sobj, f"σ = {sigma} outside 0..{contest.option_limit}")
                continue
            total += sigma
            S = ctx.key.K_pow(g.scalar(sigma))  # 13.A holds by construction: S = K^σ
            M = sel.ct.beta / S  # (12.1)
            try:
                verify_decryption(
                    g,
                    ctx.H_E,
                    ctx.K,
                    sel.ct.alpha,
                    M,
                    proof,
                    (sel.ct.alpha.to_bytes(), sel.ct.beta.to_bytes()),
                    step="V12",
                    obj=sobj,
                    K_table=ctx.key.table,
                )
            except VerificationError as exc:
                report.fail(exc.step, sobj, exc.detail)
        if total > contest.contest_limit:
            report.fail("V13.C", cobj, f"selections sum to {total} > limit {contest.contest_limit}")
        if dc.data is not None and ec.data is not None:
            report.checked("V14")
            stmt = contest_data_statement(g, ec.data, ctx.dialect)
            try:
                verify_decryption(
                    g,
                    ctx.H_E,
                    ctx.K,
                    ec.data.C0,
                    dc.data.beta,
                    dc.data.proof,
                    stmt,
                    tag=Tag.CONTEST_DATA_DECRYPTION_PROOF,
                    step="V14",
                    obj=cobj,
                    K_table=ctx.key.table,
                )
                D = decrypt_contest_data(
                    ctx.H_E,
                    ctx.K,
                    ec.index,
                    ec.data,
                    dc.data.beta,
                    contest_label=contest.label,
                    dialect=ctx.dialect,
                )
                if D != dc.data.data:
                    report.fail("V14.C", cobj, "published contest data differs from the decryption")
            except VerificationError as exc:
                report.fail(exc.step, cobj, exc.detail)
            except (E2EVoteError, ValueError, ArithmeticError) as exc:
                report.fail("V14.C", cobj, str(exc))
        elif ec.data is not None and ctx.dialect.name != "eg2.0":
            # egk's guardians decrypt contest data; e2evote's never do (specs/06-decryption.md §4)
            report.fail("V14.C", cobj, "contest data of a challenged ballot was not decrypted")


# ---------------------------------------------------------------------------------------------------
# V19 consistency, V20 outcomes
# ---------------------------------------------------------------------------------------------------


def _consistency(record: ElectionRecord, st: _State, report: Report) -> None:
    ctx = st.ctx
    m = ctx.manifest
    report.checked("V19")
    if m.eligible_voters is not None and st.cast > m.eligible_voters:
        report.fail(
            "V19.A", "turnout", f"{st.cast} ballots cast but only {m.eligible_voters} eligible voters"
        )
    d = record.decrypted_tally
    if d is None:
        return
    for dc in d.contests:
        try:
            c = m.contest_by_index(dc.index)
        except E2EVoteError:
            continue
        total = 0
        cast = (st.contest_cast or {}).get(dc.index, 0)
        for s in dc.selections:
            total += s.t
            if s.t > cast * c.option_limit:
                report.fail(
                    "V19.B",
                    f"tally {c.label} option {s.index}",
                    f"count {s.t} exceeds {cast} ballots × {c.option_limit}",
                )
        if total > cast * c.contest_limit:
            report.fail(
                "V19.C",
                f"tally {c.label}",
                f"counts sum to {total}, more than {cast} ballots × {c.contest_limit}",
            )
        report.summary.setdefault("counts", {})[c.label] = {
            o.label: next((s.t for s in dc.selections if s.index == o.index), None) for o in c.options
        }


def _outcomes(record: ElectionRecord, st: _State, report: Report) -> None:
    from e2evote.protocol.outcomes import OutcomeResult, ThresholdBase, contest_rule, verify_outcome

    ctx = st.ctx
    d = record.decrypted_tally
    known = {c.label for c in ctx.manifest.contests}
    for label in sorted(set(record.outcomes) - known, key=repr):
        report.fail(
            "V20.A", f"outcome {label}", "published outcome for a label that is not a contest of the manifest"
        )
    for contest in ctx.manifest.contests:
        if contest.outcome is None:
            if contest.label in record.outcomes:
                report.fail(
                    "V20.A", f"outcome {contest.label}", "published outcome for a contest without a rule"
                )
            continue
        obj = f"outcome {contest.label}"
        report.checked("V20")
        try:
            rule = contest_rule(contest)
        except E2EVoteError as exc:
            report.fail("V20.A", obj, str(exc))
            continue
        assert rule is not None  # the contest names one
        if d is None:
            continue
        dc = next((c for c in d.contests if c.index == contest.index), None)
        if dc is None:
            continue
        labels = {o.index: o.label for o in contest.options}
        counts = {labels[s.index]: s.t for s in dc.selections if s.index in labels}
        raw = record.outcomes.get(contest.label)
        try:
            published = OutcomeResult.from_dict(dict(raw)) if raw is not None else None
        except (E2EVoteError, TypeError, ValueError) as exc:
            report.fail("V20.C", obj, f"published outcome is malformed: {exc}")
            continue
        try:
            cast = (st.contest_cast or {}).get(contest.index, 0)
            needs_cast = rule.threshold_base is ThresholdBase.BALLOTS_CAST
            verify_outcome(rule, counts, published, ballots_cast=cast if needs_cast else None, obj=obj)
        except VerificationError as exc:
            report.fail(exc.step, obj, exc.detail)
        except E2EVoteError as exc:
            report.fail("V20.B", obj, str(exc))
        except Exception as exc:  # malformed but decodable: a failure, not a crash
            report.fail("V20.B", obj, _unexpected(exc))


# ---------------------------------------------------------------------------------------------------
# extensions (V22, V23, the board B*): each registered checker receives the record, the context and the report
# ---------------------------------------------------------------------------------------------------

ExtensionCheck = Callable[[ElectionRecord, ElectionContext, Report], None]
EXTENSION_CHECKS: dict[str, ExtensionCheck] = {}
"""extension name (ext/<name>.msgpack) -> its verification steps (specs/10-verification.md §Extensions)"""


EXTENSION_MODULES = ("e2evote.verifier.extensions", "e2evote.verifier.ext_board")
"""modules whose import registers extension checkers"""


def _extensions(record: ElectionRecord, st: _State, report: Report) -> None:
    import importlib

    if not record.extensions:  # the checkers' modules (the board's among them) are not even imported
        return
    for mod in EXTENSION_MODULES:
        try:
            importlib.import_module(mod)
        except ModuleNotFoundError:
            continue

    for name in sorted(record.extensions):
        check = EXTENSION_CHECKS.get(name)
        if check is None:
            report.fail("R2.A", f"ext/{name}.msgpack", "unknown extension; the verifier cannot check it")
            continue
        try:
            check(record, st.ctx, report)
        except E2EVoteError as exc:
            report.fail(getattr(exc, "step", "R2.A"), f"ext/{name}", str(exc))
        except Exception as exc:  # malformed but decodable: a failure, not a crash
            report.fail("R2.A", f"ext/{name}", _unexpected(exc))
