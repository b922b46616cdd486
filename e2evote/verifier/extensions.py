"""Verification steps of e2evote's record extensions (specs/12-election-types.md; specs/10-verification.md
§Extensions).

Each extension registers its checker in :data:`e2evote.verifier.steps.EXTENSION_CHECKS` under the name
of its ``ext/<name>.msgpack`` file:

* ``precincts`` — per-precinct subtotals, steps V22.A-F;
* ``interim`` — interim checkpoints, steps V23.A-G.

This module also holds the canonical trees of both extensions (:func:`encode_precincts`,
:func:`decode_precincts`, :func:`encode_interim`, :func:`decode_interim`; the tally trees inside are
those of tally.msgpack, e2evote.record.codec) and the runoff link check between two records,
steps V21.A-E (:func:`verify_runoff_link`, :func:`runoff_manifest_from_record`).
"""

from __future__ import annotations

import os
import weakref
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

from e2evote.encoding import MAX_OBJECT_BYTES, read_regular_file, unpack
from e2evote.errors import E2EVoteError, EncodingError, RecordError, VerificationError
from e2evote.groups.base import Group
from e2evote.proofs.chaum_pedersen import verify_decryption
from e2evote.protocol.ballot import BallotState
from e2evote.protocol.election import ElectionContext
from e2evote.protocol.manifest import Manifest
from e2evote.protocol.outcomes import OutcomeResult
from e2evote.protocol.runoff import RunoffLink, derive_runoff_manifest, runoff_contest
from e2evote.protocol.subtally import (
    Aggregate,
    InterimTallies,
    PrecinctAccumulator,
    PrecinctKey,
    PrecinctSubtotals,
    SubtallyError,
    Subtotal,
    check_gap_rule,
    manifest_min_gap,
)
from e2evote.protocol.tally import DecryptedTally, EncryptedTally
from e2evote.record import codec
from e2evote.record.model import ElectionRecord, RecordIssue
from e2evote.verifier.report import Report
from e2evote.verifier.steps import EXTENSION_CHECKS

__all__ = [
    "PRECINCTS_FORMAT",
    "INTERIM_FORMAT",
    "encode_precincts",
    "decode_precincts",
    "encode_interim",
    "decode_interim",
    "check_precincts",
    "check_interim",
    "verify_runoff_link",
    "runoff_manifest_from_record",
]

PRECINCTS_FORMAT: Final = "e2evote-precincts-v1"
INTERIM_FORMAT: Final = "e2evote-interim-v1"
MAX_SUBTOTALS: Final = 100_000


# ---------------------------------------------------------------------------------------------------
# trees (specs/12 §3.1, §4.1)
# ---------------------------------------------------------------------------------------------------


def _enc_subtotal(s: Subtotal, labelled: bool) -> dict[str, Any]:
    tree: dict[str, Any] = {
        "encrypted": codec.enc_encrypted_tally(s.encrypted),
        "decrypted": codec.enc_decrypted_tally(s.decrypted),
    }
    if labelled:
        tree["label"] = s.label
    return tree


def _dec_subtotal(group: Group, obj: Any, what: str, labelled: bool) -> Subtotal:
    keys = {"encrypted", "decrypted"} | ({"label"} if labelled else set())
    f = codec.fields(obj, keys, what)
    label = f["label"] if labelled else ""
    if labelled and (not isinstance(label, str) or not label or len(label) > 256):
        raise EncodingError(f"{what}: label must be a non-empty string of at most 256 characters")
    what = f"{what} {label!r}" if labelled else what
    enc = codec.dec_encrypted_tally(group, f["encrypted"])
    dec = codec.dec_decrypted_tally(group, f["decrypted"])
    if enc.ballots != dec.ballots:
        raise EncodingError(f"{what}: encrypted and decrypted ballot counts differ")
    if enc.ballots < 1:
        raise EncodingError(f"{what}: a subtotal aggregates at least one ballot")
    e_cells = [(ci, oi) for ci, oi, _ in enc.items()]
    d_cells = [(dc.index, s.index) for dc in dec.contests for s in dc.selections]
    if e_cells != d_cells:
        raise EncodingError(f"{what}: decrypted options differ from the encrypted ones")
    if e_cells != sorted(set(e_cells)) or [ci for ci, _ in enc.contests] != sorted(
        {ci for ci, _ in enc.contests}
    ):
        raise EncodingError(f"{what}: contests and options must be in strictly increasing index order")
    return Subtotal(label, enc, dec)


def encode_precincts(p: PrecinctSubtotals) -> dict[str, Any]:
    """The tree of ext/precincts.msgpack."""
    return {
        "format": PRECINCTS_FORMAT,
        "by": p.by.value,
        "contests": list(p.contests),
        "precincts": [_enc_subtotal(s, True) for s in p.precincts],
    }


def _contest_list(obj: Any, what: str) -> tuple[int, ...]:
    if (
        not isinstance(obj, list)
        or not obj
        or len(obj) > MAX_SUBTOTALS
        or not all(isinstance(c, int) and not isinstance(c, bool) and 1 <= c <= 2**31 - 1 for c in obj)
        or obj != sorted(set(obj))
    ):
        raise EncodingError(f"{what}: contests must be a non-empty increasing list of contest indices")
    return tuple(obj)


def decode_precincts(group: Group, tree: Any) -> PrecinctSubtotals:
    """Strict inverse of :func:`encode_precincts` (raises EncodingError)."""
    f = codec.fields(tree, {"format", "by", "contests", "precincts"}, "precincts")
    if f["format"] != PRECINCTS_FORMAT:
        raise EncodingError(f"precincts: unknown format {f['format']!r}")
    if f["by"] not in {k.value for k in PrecinctKey}:
        raise EncodingError(f"precincts: unknown grouping {f['by']!r}")
    contests = _contest_list(f["contests"], "precincts")
    items = f["precincts"]
    if not isinstance(items, list) or not items or len(items) > MAX_SUBTOTALS:
        raise EncodingError("precincts: expected a non-empty list")
    subs = tuple(_dec_subtotal(group, x, f"precinct {n}", True) for n, x in enumerate(items))
    labels = [s.label for s in subs]
    if labels != sorted(set(labels)):
        raise EncodingError("precincts: labels must be unique and in increasing order")
    for s in subs:
        if not {ci for ci, _ in s.encrypted.contests} <= set(contests):
            raise EncodingError(f"precinct {s.label!r}: covers a contest that is not declared")
    return PrecinctSubtotals(PrecinctKey(f["by"]), contests, subs)


def encode_interim(i: InterimTallies) -> dict[str, Any]:
    """The tree of ext/interim.msgpack."""
    return {
        "format": INTERIM_FORMAT,
        "min_gap": i.min_gap,
        "contests": list(i.contests),
        "checkpoints": [_enc_subtotal(s, False) for s in i.checkpoints],
    }


def decode_interim(group: Group, tree: Any) -> InterimTallies:
    """Strict inverse of :func:`encode_interim` (raises EncodingError)."""
    f = codec.fields(tree, {"format", "min_gap", "contests", "checkpoints"}, "interim")
    if f["format"] != INTERIM_FORMAT:
        raise EncodingError(f"interim: unknown format {f['format']!r}")
    min_gap = f["min_gap"]
    if isinstance(min_gap, bool) or not isinstance(min_gap, int) or not 1 <= min_gap <= 2**31:
        raise EncodingError("interim: min_gap must be a positive integer")
    contests = _contest_list(f["contests"], "interim")
    items = f["checkpoints"]
    if not isinstance(items, list) or not items or len(items) > MAX_SUBTOTALS:
        raise EncodingError("interim: expected a non-empty list of checkpoints")
    cps = tuple(_dec_subtotal(group, x, f"checkpoint {n + 1}", False) for n, x in enumerate(items))
    for n, cp in enumerate(cps, 1):
        if tuple(ci for ci, _ in cp.encrypted.contests) != contests:
            raise EncodingError(f"checkpoint {n}: covers contests other than the declared ones")
    return InterimTallies(min_gap, contests, cps)


# ---------------------------------------------------------------------------------------------------
# one pass over the cast ballots for both extensions
# ---------------------------------------------------------------------------------------------------


@dataclass
class _Scan:
    cast: int = 0
    precincts: dict[str, EncryptedTally] | None = None
    checkpoints: list[EncryptedTally] = field(default_factory=list)
    error: str | None = None


@dataclass
class _Decoded:
    precincts: PrecinctSubtotals | None = None
    precincts_error: str | None = None
    interim: InterimTallies | None = None
    interim_error: str | None = None
    scan: _Scan = field(default_factory=_Scan)


_cache: tuple[weakref.ref[ElectionRecord], _Decoded] | None = None


def _decoded(record: ElectionRecord, ctx: ElectionContext) -> _Decoded:
    """Decode both extension trees and scan the cast ballots once per record (cached for the run)."""
    global _cache
    if _cache is not None and _cache[0]() is record:
        return _cache[1]
    g = ctx.group
    out = _Decoded()
    if "precincts" in record.extensions:
        try:
            out.precincts = decode_precincts(g, record.extensions["precincts"])
        except (EncodingError, ValueError, TypeError, LookupError) as exc:
            out.precincts_error = str(exc)
    if "interim" in record.extensions:
        try:
            out.interim = decode_interim(g, record.extensions["interim"])
        except (EncodingError, ValueError, TypeError, LookupError) as exc:
            out.interim_error = str(exc)
    pacc: PrecinctAccumulator | None = None
    if out.precincts is not None:
        try:
            pacc = PrecinctAccumulator(ctx, out.precincts.by, out.precincts.contests)
        except SubtallyError as exc:
            out.precincts_error = str(exc)
            out.precincts = None
            pacc = None
    positions: Sequence[int] = out.interim.positions if out.interim is not None else ()
    iacc: Aggregate | None = None
    if out.interim is not None:
        try:
            iacc = Aggregate(ctx, out.interim.contests, dense=True)
        except SubtallyError as exc:
            out.interim_error = str(exc)
            out.interim = None
    scan = out.scan
    try:
        for ballot in record.ballots():
            if isinstance(ballot, RecordIssue):
                raise EncodingError(f"[{ballot.step}] {ballot.obj}: {ballot.detail}")
            if ballot.state != BallotState.CAST:
                continue
            scan.cast += 1
            if pacc is not None:
                pacc.add(ballot)
            if iacc is not None:
                iacc.add(ballot)
                n = len(scan.checkpoints)
                if n < len(positions) and iacc.ballots == positions[n]:
                    scan.checkpoints.append(iacc.result())
    except (E2EVoteError, ValueError, OSError) as exc:
        scan.error = f"cannot re-read the ballots: {exc}"
    if pacc is not None:
        scan.precincts = pacc.result()
    _cache = (weakref.ref(record), out)
    return out


def _check_cells(
    ctx: ElectionContext, s: Subtotal, expected: EncryptedTally | None, step: str, obj: str, report: Report
) -> None:
    """Steps .C (aggregate), .D (proof) and .E (T = K^t, bounds) for one subtotal."""
    g = ctx.group
    m = ctx.manifest
    exp = {(ci, oi): ct for ci, oi, ct in expected.items()} if expected is not None else {}
    dec = {(dc.index, sel.index): sel for dc in s.decrypted.contests for sel in dc.selections}
    sums: dict[int, int] = {}
    for ci, oi, ct in s.encrypted.items():
        cobj = f"{obj} contest {ci} option {oi}"
        report.checked(step.split(".")[0])
        e = exp.get((ci, oi))
        if expected is not None and (e is None or e.alpha != ct.alpha or e.beta != ct.beta):
            report.fail(f"{step}.C", cobj, "(A, B) is not the product of the covered cast ballots")
        sel = dec[(ci, oi)]
        try:
            verify_decryption(
                g,
                ctx.H_E,
                ctx.K,
                ct.alpha,
                ct.beta / sel.T,
                sel.proof,
                (ct.alpha.to_bytes(), ct.beta.to_bytes()),
                step=f"{step}.D",
                obj=cobj,
            )
        except VerificationError as exc:
            report.fail(f"{step}.D", cobj, exc.detail)
        R = m.contest_by_index(ci).option_limit
        if not 0 <= sel.t <= s.encrypted.ballots * R:
            report.fail(f"{step}.E", cobj, f"t = {sel.t} outside 0..{s.encrypted.ballots}·{R}")
        elif ctx.key.K_pow(g.scalar_reduce(sel.t)) != sel.T:
            report.fail(f"{step}.E", cobj, f"T is not K^{sel.t}")
        sums[ci] = sums.get(ci, 0) + sel.t
    for ci, total in sums.items():
        L = m.contest_by_index(ci).contest_limit
        if total > s.encrypted.ballots * L:
            report.fail(
                f"{step}.E", f"{obj} contest {ci}", f"counts sum to {total} > {s.encrypted.ballots}·{L}"
            )


def _check_manifest_cells(ctx: ElectionContext, s: Subtotal, step: str, obj: str, report: Report) -> bool:
    """Each covered contest is a manifest contest with all of its options (step .A)."""
    ok = True
    for ci, sels in s.encrypted.contests:
        try:
            contest = ctx.manifest.contest_by_index(ci)
        except E2EVoteError:
            report.fail(f"{step}.A", f"{obj} contest {ci}", "not a contest of the manifest")
            ok = False
            continue
        if [oi for oi, _ in sels] != [o.index for o in contest.options]:
            report.fail(f"{step}.A", f"{obj} contest {ci}", "options differ from the manifest's")
            ok = False
    return ok


def _final_counts(record: ElectionRecord) -> dict[tuple[int, int], int] | None:
    d: DecryptedTally | None = record.decrypted_tally
    if d is None:
        return None
    return {(dc.index, s.index): s.t for dc in d.contests for s in dc.selections}


# ---------------------------------------------------------------------------------------------------
# V22 precinct subtotals
# ---------------------------------------------------------------------------------------------------


def check_precincts(record: ElectionRecord, ctx: ElectionContext, report: Report) -> None:
    """Steps V22.A-F (specs/12 §3.2)."""
    obj0 = "ext/precincts"
    dd = _decoded(record, ctx)
    report.checked("V22")
    if dd.precincts is None:
        report.fail("V22.A", obj0, dd.precincts_error or "undecodable")
        return
    if dd.scan.error is not None or dd.scan.precincts is None:
        report.fail("V22.B", obj0, dd.scan.error or "cast ballots unavailable")
        return
    p = dd.precincts
    actual = dd.scan.precincts
    published = {s.label: s for s in p.precincts}
    for label in sorted(set(actual) - set(published)):
        report.fail(
            "V22.B", f"precinct {label!r}", f"{actual[label].ballots} cast ballot(s) in no published precinct"
        )
    for label in sorted(set(published) - set(actual)):
        report.fail("V22.B", f"precinct {label!r}", "published precinct holds no cast ballot")
    for s in p.precincts:
        obj = f"precinct {s.label!r}"
        if not _check_manifest_cells(ctx, s, "V22", obj, report):
            continue
        exp = actual.get(s.label)
        if exp is None:
            continue
        if exp.ballots != s.encrypted.ballots:
            report.fail("V22.B", obj, f"claims {s.encrypted.ballots} ballots, the record holds {exp.ballots}")
        if [ci for ci, _ in exp.contests] != [ci for ci, _ in s.encrypted.contests]:
            report.fail("V22.B", obj, "covered contests differ from the contests on the precinct's ballots")
            _check_cells(ctx, s, None, "V22", obj, report)
            continue
        _check_cells(ctx, s, exp, "V22", obj, report)
    final = _final_counts(record)
    if final is None:
        return
    final = {cell: t for cell, t in final.items() if cell[0] in p.contests}
    sums: dict[tuple[int, int], int] = {}
    for s in p.precincts:
        for dc in s.decrypted.contests:
            for sel in dc.selections:
                sums[(dc.index, sel.index)] = sums.get((dc.index, sel.index), 0) + sel.t
    for cell in sorted(set(final) | set(sums)):
        if sums.get(cell, 0) != final.get(cell, 0):
            report.fail(
                "V22.F",
                f"contest {cell[0]} option {cell[1]}",
                f"precincts sum to {sums.get(cell, 0)}, the tally says {final.get(cell, 0)}",
            )


# ---------------------------------------------------------------------------------------------------
# V23 interim checkpoints
# ---------------------------------------------------------------------------------------------------


def check_interim(record: ElectionRecord, ctx: ElectionContext, report: Report) -> None:
    """Steps V23.A-G (specs/12 §4.2)."""
    obj0 = "ext/interim"
    dd = _decoded(record, ctx)
    report.checked("V23")
    if dd.interim is None:
        report.fail("V23.A", obj0, dd.interim_error or "undecodable")
        return
    it = dd.interim
    if dd.scan.error is not None:
        report.fail("V23.C", obj0, dd.scan.error)
        return
    cast = dd.scan.cast
    positions = it.positions
    # V23.B the gap rule, with the manifest's floor
    try:
        floor = manifest_min_gap(ctx.manifest)
        if floor is not None and it.min_gap < floor:
            raise SubtallyError(f"min_gap {it.min_gap} is below the manifest's {floor}")
        check_gap_rule(positions, cast, it.min_gap)
    except SubtallyError as exc:
        report.fail("V23.B", obj0, str(exc))
    if positions[-1] > cast:
        report.fail("V23.A", obj0, f"checkpoint {positions[-1]} exceeds the {cast} cast ballots")
    prev: Subtotal | None = None
    for j, cp in enumerate(it.checkpoints):
        obj = f"checkpoint {j + 1} (N = {cp.encrypted.ballots})"
        if not _check_manifest_cells(ctx, cp, "V23", obj, report):
            prev = None
            continue
        exp = dd.scan.checkpoints[j] if j < len(dd.scan.checkpoints) else None
        if exp is None:
            report.fail("V23.C", obj, "the record has fewer cast ballots")
        _check_cells(ctx, cp, exp, "V23", obj, report)
        if prev is not None:
            before = {(dc.index, s.index): s.t for dc in prev.decrypted.contests for s in dc.selections}
            for dc in cp.decrypted.contests:
                for s in dc.selections:
                    b = before.get((dc.index, s.index), 0)
                    if s.t < b:
                        report.fail(
                            "V23.F",
                            f"{obj} contest {dc.index} option {s.index}",
                            f"count fell from {b} to {s.t}",
                        )
        prev = cp
    final = _final_counts(record)
    last = it.checkpoints[-1]
    if final is not None and last.encrypted.ballots == cast:
        for dc in last.decrypted.contests:
            for s in dc.selections:
                f = final.get((dc.index, s.index))
                if f != s.t:
                    report.fail(
                        "V23.G",
                        f"last checkpoint contest {dc.index} option {s.index}",
                        f"covers every cast ballot but says {s.t}, the tally says {f}",
                    )


EXTENSION_CHECKS["precincts"] = check_precincts
EXTENSION_CHECKS["interim"] = check_interim


# ---------------------------------------------------------------------------------------------------
# V21 runoff link (specs/12 §2.3)
# ---------------------------------------------------------------------------------------------------


def _record_root(path: str | os.PathLike[str]) -> bytes:
    from e2evote.record.native import RECORD_INDEX

    try:
        idx = unpack(read_regular_file(Path(path) / RECORD_INDEX, MAX_OBJECT_BYTES))
    except (OSError, EncodingError) as exc:
        raise RecordError(f"{path}: cannot read {RECORD_INDEX}: {exc}") from exc
    root = idx.get("root") if isinstance(idx, dict) else None
    if not isinstance(root, bytes) or len(root) != 32:
        raise RecordError(f"{path}: {RECORD_INDEX} has no 32-byte root")
    return root


def _read(path: str | os.PathLike[str], step: str, what: str) -> ElectionRecord:
    from e2evote.record.native import read_record

    try:
        return read_record(path)
    except (RecordError, EncodingError, OSError) as exc:
        raise VerificationError(step, what, str(exc)) from exc


def runoff_manifest_from_record(
    round1_path: str | os.PathLike[str], *, contest: str | None = None, label: str | None = None
) -> Manifest:
    """Derive the second round's manifest from a sealed first-round record (specs/12 §2.1).

    ``contest`` defaults to the unique contest whose published outcome is a runoff. The caller should
    have verified the first round (e2evote.verifier.verify_path) before using its outcome.
    """
    record = _read(round1_path, "V21.B", "round 1")
    m = record.parameters.manifest
    name = contest if contest is not None else runoff_contest(m, record.outcomes)
    raw = record.outcomes.get(name)
    if raw is None:
        raise VerificationError("V21.D", f"round 1 contest {name}", "no published outcome")
    return derive_runoff_manifest(
        m, raw, contest=name, H_E=record.stated.H_E, root=_record_root(round1_path), label=label
    )


def verify_runoff_link(
    round1_path: str | os.PathLike[str], round2_path: str | os.PathLike[str], *, verify_round1: bool = True
) -> None:
    """Steps V21.A-E: the second round's manifest is the one derived from the (verified) first round.

    V21.A the round-2 manifest carries a well-formed link; V21.B the round-1 record is authentic and its
    H_E and record root are the linked ones; V21.C the round-1 record verifies (skipped with
    ``verify_round1=False``, e.g. when the caller already verified it); V21.D round 1 published a
    runoff for the linked contest with the linked pair; V21.E re-deriving the round-2 manifest from
    round 1 gives the round-2 manifest byte for byte. Raises :class:`VerificationError`.
    The round-2 record itself is verified separately (verify_path).
    """
    r2 = _read(round2_path, "V21.A", "round 2")
    m2 = r2.parameters.manifest
    try:
        link = RunoffLink.from_metadata(m2.metadata)
    except E2EVoteError as exc:
        raise VerificationError("V21.A", "round 2 manifest", str(exc)) from exc
    r1 = _read(round1_path, "V21.B", "round 1")
    issues = [i for i in r1.issues if i.step.startswith("R1")]
    if issues:
        raise VerificationError(
            "V21.B", "round 1", f"record is not authentic: [{issues[0].step}] {issues[0].detail}"
        )
    try:
        root = _record_root(round1_path)
    except RecordError as exc:
        raise VerificationError("V21.B", "round 1", str(exc)) from exc
    if r1.stated.H_E != link.H_E:
        raise VerificationError("V21.B", "round 1 H_E", "differs from the H_E the round-2 manifest names")
    if root != link.root:
        raise VerificationError(
            "V21.B", "round 1 root", "differs from the record root the round-2 manifest names"
        )
    if verify_round1:
        from e2evote.verifier.steps import verify_record

        rep = verify_record(r1)
        if not rep.ok:
            first = rep.failures[0]
            raise VerificationError("V21.C", "round 1", f"{len(rep.failures)} failure(s), first: {first}")
    raw = r1.outcomes.get(link.round1_contest)
    if raw is None:
        raise VerificationError("V21.D", f"round 1 contest {link.round1_contest}", "no published outcome")
    try:
        result = OutcomeResult.from_dict(dict(raw))
    except (E2EVoteError, TypeError) as exc:
        raise VerificationError("V21.D", f"round 1 contest {link.round1_contest}", str(exc)) from exc
    if result.runoff != link.pair:
        raise VerificationError(
            "V21.D",
            f"round 1 contest {link.round1_contest}",
            f"published runoff {result.runoff} but round 2 is between {link.pair}",
        )
    try:
        expected = derive_runoff_manifest(
            r1.parameters.manifest,
            result,
            contest=link.round1_contest,
            H_E=link.H_E,
            root=link.root,
            label=m2.label,
        )
    except E2EVoteError as exc:
        raise VerificationError(
            "V21.E", "round 2 manifest", f"cannot be derived from round 1: {exc}"
        ) from exc
    if expected.raw != m2.raw:
        raise VerificationError("V21.E", "round 2 manifest", "differs from the manifest derived from round 1")
