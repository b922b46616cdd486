"""Two-round majority: deriving the second round's manifest from the first round
(specs/12-election-types.md §2).

When the first round's ``majority_runoff`` contest publishes a runoff pair (specs/09 §4), the second
round is a new election whose manifest is *derived* from the first: one contest between the pair, in
the published order, with a plurality rule, and manifest metadata linking it to the first round's
record (its H_E and record root). The derivation is deterministic, so a verifier holding both records
re-derives the second manifest and compares bytes (e2evote.verifier.extensions.verify_runoff_link).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

from e2evote.errors import ManifestError
from e2evote.protocol.manifest import Manifest
from e2evote.protocol.outcomes import Method, OutcomeError, OutcomeResult, OutcomeRule

__all__ = [
    "RUNOFF_KEYS",
    "RunoffLink",
    "derive_runoff_manifest",
    "runoff_contest",
]

_PREFIX: Final = "e2evote.runoff."
RUNOFF_KEYS: Final = (
    "e2evote.runoff.round1.H_E",
    "e2evote.runoff.round1.root",
    "e2evote.runoff.round1.contest",
    "e2evote.runoff.contest",
    "e2evote.runoff.first",
    "e2evote.runoff.second",
)
"""the manifest metadata keys of a runoff link, all required (specs/12 §2.2)"""
_HEX32: Final = re.compile(r"[0-9a-f]{64}")


@dataclass(frozen=True, slots=True)
class RunoffLink:
    """What ties a second round to its first round (stored as manifest metadata)."""

    H_E: bytes
    """the first round's extended base hash"""
    root: bytes
    """the first round's record root (RECORD.msgpack ``root``)"""
    round1_contest: str
    """the label of the first round's majority_runoff contest"""
    contest: str
    """the label of the second round's contest"""
    pair: tuple[str, str]
    """the runoff pair as published by the first round (more votes first)"""

    def __post_init__(self) -> None:
        for name in ("H_E", "root"):
            v = getattr(self, name)
            if not isinstance(v, bytes) or len(v) != 32:
                raise ManifestError(f"runoff link {name} must be 32 bytes")
        if len(self.pair) != 2 or self.pair[0] == self.pair[1]:
            raise ManifestError("a runoff is between two distinct candidates")

    def to_metadata(self) -> dict[str, str]:
        return dict(
            zip(
                RUNOFF_KEYS,
                (self.H_E.hex(), self.root.hex(), self.round1_contest, self.contest, *self.pair),
                strict=True,
            )
        )

    @staticmethod
    def from_metadata(metadata: Mapping[str, str]) -> RunoffLink:
        """Strict: every key present, hashes as 64 lowercase hex digits; raises ManifestError."""
        missing = [k for k in RUNOFF_KEYS if k not in metadata]
        if missing:
            raise ManifestError(f"not a runoff manifest: metadata lacks {', '.join(missing)}")
        extra = sorted(k for k in metadata if k.startswith(_PREFIX) and k not in RUNOFF_KEYS)
        if extra:
            raise ManifestError(f"unknown runoff metadata key(s) {', '.join(extra)}")
        h, r = metadata[RUNOFF_KEYS[0]], metadata[RUNOFF_KEYS[1]]
        if not _HEX32.fullmatch(h) or not _HEX32.fullmatch(r):
            raise ManifestError("runoff link hashes must be 64 lowercase hex digits")
        return RunoffLink(
            bytes.fromhex(h),
            bytes.fromhex(r),
            metadata[RUNOFF_KEYS[2]],
            metadata[RUNOFF_KEYS[3]],
            (metadata[RUNOFF_KEYS[4]], metadata[RUNOFF_KEYS[5]]),
        )


def runoff_contest(round1: Manifest, outcomes: Mapping[str, Mapping[str, Any] | OutcomeResult]) -> str:
    """The label of the unique contest of ``round1`` whose published outcome is a runoff."""
    found = []
    for c in round1.contests:
        raw = outcomes.get(c.label)
        if raw is None:
            continue
        res = raw if isinstance(raw, OutcomeResult) else OutcomeResult.from_dict(dict(raw))
        if res.runoff is not None:
            found.append(c.label)
    if len(found) != 1:
        raise ManifestError(f"expected exactly one contest with a runoff outcome, found {found}")
    return found[0]


def derive_runoff_manifest(
    round1: Manifest,
    outcome: OutcomeResult | Mapping[str, Any],
    *,
    contest: str,
    H_E: bytes,
    root: bytes,
    label: str | None = None,
) -> Manifest:
    """The second round's manifest (specs/12 §2.1).

    ``outcome`` is round 1's published (and verified) result of ``contest``; it must be a
    ``majority_runoff`` result naming a runoff pair. The derived manifest has:

    * label ``label`` or ``"<round-1 label> - round 2"``;
    * one contest with round 1's contest label, options = the pair in published order, R = L = 1,
      kind ``"plurality"``, no district, the round-1 contest's ``data_blocks``, and the outcome rule
      ``plurality`` with round 1's tie seed;
    * one ballot style ``"default"``; round 1's ``eligible_voters``, ``chaining`` and ``device_info``;
    * metadata: round 1's metadata without ``e2evote.runoff.*`` keys, plus the :class:`RunoffLink`.
    """
    try:
        result = outcome if isinstance(outcome, OutcomeResult) else OutcomeResult.from_dict(dict(outcome))
    except (OutcomeError, TypeError) as exc:
        raise ManifestError(f"round-1 outcome of {contest!r} is malformed: {exc}") from exc
    c1 = round1.contest(contest)
    if c1.outcome is None:
        raise ManifestError(f"round-1 contest {contest!r} has no outcome rule")
    try:
        rule1 = OutcomeRule.from_dict(dict(c1.outcome))
    except OutcomeError as exc:
        raise ManifestError(f"round-1 contest {contest!r}: {exc}") from exc
    if rule1.method is not Method.MAJORITY_RUNOFF or result.method is not Method.MAJORITY_RUNOFF:
        raise ManifestError(f"contest {contest!r} is not decided by majority_runoff")
    if result.runoff is None:
        raise ManifestError(
            f"contest {contest!r} was decided in round 1 (winner {result.winner!r}); no runoff"
        )
    options = {o.label for o in c1.options}
    if not set(result.runoff) <= options:
        raise ManifestError(f"runoff pair {result.runoff} is not among the options of {contest!r}")
    link = RunoffLink(H_E, root, contest, contest, result.runoff)
    rule2 = OutcomeRule(Method.PLURALITY, tie_seed=rule1.tie_seed)
    metadata = {k: v for k, v in round1.metadata.items() if not k.startswith(_PREFIX)}
    metadata.update(link.to_metadata())
    doc: dict[str, Any] = {
        "label": label if label is not None else f"{round1.label} - round 2",
        "contests": [
            {
                "label": contest,
                "options": list(result.runoff),
                "option_limit": 1,
                "contest_limit": 1,
                "data_blocks": c1.data_blocks,
                "kind": "plurality",
                "outcome": rule2.to_dict(),
            }
        ],
        "ballot_styles": [{"label": "default", "contests": [1]}],
        "chaining": round1.chaining,
        "device_info": round1.device_info.decode("utf-8"),
        "metadata": metadata,
    }
    if round1.eligible_voters is not None:
        doc["eligible_voters"] = round1.eligible_voters
    return Manifest.from_json(doc)
