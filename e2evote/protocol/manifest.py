"""Election manifest: contests, options, limits, ballot styles (EG 2.0 §3.1.3; specs/06-manifest.md).

The manifest *file* is what H_M hashes (eq. 6). e2evote's native manifest is canonical JSON
(UTF-8, keys sorted, no insignificant whitespace); :func:`Manifest.from_bytes` accepts exactly the
canonical bytes, and :func:`Manifest.from_json` builds one from a friendlier JSON document. egk
manifests are imported by e2evote.record.egk into the same model (their raw bytes are hashed).
"""

from __future__ import annotations

import json
import unicodedata
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from e2evote.errors import ManifestError
from e2evote.protocol.shortcodes import SHORT_CODES

__all__ = ["Option", "Contest", "BallotStyle", "Manifest", "MANIFEST_FORMAT", "canonical_json"]

MANIFEST_FORMAT = "e2evote-manifest-v1"
MAX_INDEX = 2**31 - 1
MAX_LABEL_BYTES = 256
MAX_MANIFEST_BYTES = 16 * 1024 * 1024


def canonical_json(obj: Any) -> bytes:
    """UTF-8 JSON, keys sorted, separators without spaces, no NaN (specs/06-manifest.md §Bytes)."""
    return json.dumps(
        obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
    ).encode()


def _label(value: Any, what: str) -> str:
    """EG 2.0 §3.1.3 labels: short, no control characters, no leading/trailing whitespace."""
    if not isinstance(value, str) or not value:
        raise ManifestError(f"{what}: label must be a non-empty string")
    if value != value.strip():
        raise ManifestError(f"{what}: label {value!r} has leading or trailing whitespace")
    if any(unicodedata.category(ch).startswith("C") for ch in value):
        raise ManifestError(f"{what}: label {value!r} contains control characters")
    if len(value.encode()) > MAX_LABEL_BYTES:
        raise ManifestError(f"{what}: label longer than {MAX_LABEL_BYTES} bytes")
    return value


def _int(value: Any, what: str, lo: int, hi: int = MAX_INDEX) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not lo <= value <= hi:
        raise ManifestError(f"{what}: expected an integer in [{lo}, {hi}], got {value!r}")
    return value


@dataclass(frozen=True, slots=True)
class Option:
    """A selectable option λ with its 1-based option index ind_o(λ) (§3.1.3)."""

    index: int
    label: str


@dataclass(frozen=True, slots=True)
class Contest:
    """A contest Λ: options, option selection limit R and contest selection limit L (§3.1.3)."""

    index: int
    """ind_c(Λ), 1-based (egk: the manifest's sequence_order)"""
    label: str
    options: tuple[Option, ...]
    option_limit: int
    """R: the largest value one option may receive"""
    contest_limit: int
    """L: the largest total of the contest's selections"""
    data_blocks: int = 2
    """b_D: contest data is 32·b_D bytes (§3.3.6)"""
    kind: str = "plurality"
    """informational: plurality, approval, k-of-n, cumulative, list, referendum"""
    district: str | None = None
    outcome: Mapping[str, Any] | None = field(default=None, compare=False)
    """outcome rule (specs/09-outcomes.md), recomputed by the verifier"""

    def option(self, label: str) -> Option:
        for o in self.options:
            if o.label == label:
                return o
        raise ManifestError(f"contest {self.label!r} has no option {label!r}")


@dataclass(frozen=True, slots=True)
class BallotStyle:
    """A ballot style: the set of contest indices a voter of this style receives (§3.1.3)."""

    index: int
    label: str
    contests: tuple[int, ...]


@dataclass(frozen=True, slots=True)
class Manifest:
    """The election manifest model; ``raw`` is the exact file hashed into H_M."""

    label: str
    contests: tuple[Contest, ...]
    ballot_styles: tuple[BallotStyle, ...]
    raw: bytes = field(repr=False)
    eligible_voters: int | None = None
    """if stated, the verifier checks ballots cast <= eligible voters (V19.A)"""
    chaining: bool = False
    """whether devices chain confirmation codes (§3.4.3)"""
    device_info: bytes = b""
    """B_aux,0 default device information"""
    short_code: str | None = None
    """the hash-trimming function Ω of pre-encrypted ballots (EG §4.1.4), by name, if stated"""
    metadata: Mapping[str, str] = field(default_factory=dict, compare=False)

    # --- look-ups --------------------------------------------------------------------------------

    def contest(self, label: str) -> Contest:
        for c in self.contests:
            if c.label == label:
                return c
        raise ManifestError(f"no contest {label!r} in the manifest")

    def contest_by_index(self, index: int) -> Contest:
        for c in self.contests:
            if c.index == index:
                return c
        raise ManifestError(f"no contest with index {index}")

    def style(self, label: str) -> BallotStyle:
        for s in self.ballot_styles:
            if s.label == label:
                return s
        raise ManifestError(f"no ballot style {label!r} in the manifest")

    def contests_of_style(self, label: str) -> tuple[Contest, ...]:
        idx = set(self.style(label).contests)
        return tuple(c for c in self.contests if c.index in idx)

    # --- native format ---------------------------------------------------------------------------

    @staticmethod
    def from_json(doc: Mapping[str, Any]) -> Manifest:
        """Validate a native manifest document and return it with its canonical bytes."""
        if not isinstance(doc, Mapping):
            raise ManifestError("manifest must be a JSON object")
        if doc.get("format", MANIFEST_FORMAT) != MANIFEST_FORMAT:
            raise ManifestError(f"unknown manifest format {doc.get('format')!r}")
        known = {
            "format",
            "label",
            "contests",
            "ballot_styles",
            "eligible_voters",
            "chaining",
            "device_info",
            "short_code",
            "metadata",
        }
        extra = set(doc) - known
        if extra:
            raise ManifestError(f"unknown manifest field(s): {', '.join(sorted(extra))}")
        label = _label(doc.get("label"), "manifest")
        raw_contests = doc.get("contests")
        if not isinstance(raw_contests, list) or not raw_contests:
            raise ManifestError("manifest needs a non-empty list of contests")
        contests: list[Contest] = []
        canon_contests: list[dict[str, Any]] = []
        for ci, rc in enumerate(raw_contests, start=1):
            c, canon = _contest(ci, rc)
            contests.append(c)
            canon_contests.append(canon)
        if len({c.label for c in contests}) != len(contests):
            raise ManifestError("contest labels must be unique")
        raw_styles = doc.get("ballot_styles")
        if raw_styles is None:
            raw_styles = [{"label": "default", "contests": [c.index for c in contests]}]
        if not isinstance(raw_styles, list) or not raw_styles:
            raise ManifestError("ballot_styles must be a non-empty list")
        styles: list[BallotStyle] = []
        canon_styles: list[dict[str, Any]] = []
        for si, rs in enumerate(raw_styles, start=1):
            if not isinstance(rs, Mapping) or set(rs) - {"label", "contests"}:
                raise ManifestError(f"ballot style {si}: expected {{label, contests}}")
            sl = _label(rs.get("label"), f"ballot style {si}")
            idx = rs.get("contests")
            if not isinstance(idx, list) or not idx:
                raise ManifestError(f"ballot style {sl!r}: needs a non-empty list of contest indices")
            cis = tuple(sorted(_int(x, f"ballot style {sl!r} contest", 1, len(contests)) for x in idx))
            if len(set(cis)) != len(cis):
                raise ManifestError(f"ballot style {sl!r}: repeated contest index")
            styles.append(BallotStyle(si, sl, cis))
            canon_styles.append({"label": sl, "contests": list(cis)})
        if len({s.label for s in styles}) != len(styles):
            raise ManifestError("ballot style labels must be unique")
        eligible = doc.get("eligible_voters")
        if eligible is not None:
            eligible = _int(eligible, "eligible_voters", 0, 2**53)
        chaining = doc.get("chaining", False)
        if not isinstance(chaining, bool):
            raise ManifestError("chaining must be true or false")
        device_info = doc.get("device_info", "")
        if not isinstance(device_info, str) or len(device_info.encode()) > 1024:
            raise ManifestError("device_info must be a string of at most 1024 bytes")
        short = doc.get("short_code")
        if short is not None and (not isinstance(short, str) or short not in SHORT_CODES):
            raise ManifestError(f"short_code must be one of {', '.join(SHORT_CODES)}")
        metadata = doc.get("metadata", {})
        if not isinstance(metadata, Mapping) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in metadata.items()
        ):
            raise ManifestError("metadata must map strings to strings")
        canon_doc: dict[str, Any] = {
            "format": MANIFEST_FORMAT,
            "label": label,
            "contests": canon_contests,
            "ballot_styles": canon_styles,
            "chaining": chaining,
            "device_info": device_info,
            "metadata": dict(metadata),
        }
        if eligible is not None:
            canon_doc["eligible_voters"] = eligible
        if short is not None:
            canon_doc["short_code"] = short
        raw = canonical_json(canon_doc)
        if len(raw) > MAX_MANIFEST_BYTES:
            raise ManifestError("manifest too large")
        return Manifest(
            label=label,
            contests=tuple(contests),
            ballot_styles=tuple(styles),
            raw=raw,
            eligible_voters=eligible,
            chaining=chaining,
            device_info=device_info.encode(),
            short_code=short,
            metadata=dict(metadata),
        )

    @staticmethod
    def from_bytes(raw: bytes) -> Manifest:
        """Decode a native manifest file; only the canonical bytes are accepted."""
        if len(raw) > MAX_MANIFEST_BYTES:
            raise ManifestError("manifest too large")
        try:
            doc = json.loads(raw.decode("utf-8"))
        except RecursionError:
            raise ManifestError("manifest JSON is nested too deeply") from None
        except ValueError as exc:  # UnicodeDecodeError, JSONDecodeError, an int of over 4300 digits
            raise ManifestError(f"manifest is not valid UTF-8 JSON: {str(exc)[:200]}") from None
        try:
            m = Manifest.from_json(doc)
        except RecursionError:  # e.g. deeply nested metadata, re-encoded by canonical_json
            raise ManifestError("manifest JSON is nested too deeply") from None
        if m.raw != raw:
            raise ManifestError("manifest file is not in canonical form (specs/06-manifest.md §Bytes)")
        return m


def _contest(ci: int, rc: Any) -> tuple[Contest, dict[str, Any]]:
    if not isinstance(rc, Mapping):
        raise ManifestError(f"contest {ci}: expected an object")
    known = {
        "label",
        "options",
        "option_limit",
        "contest_limit",
        "data_blocks",
        "kind",
        "district",
        "outcome",
    }
    extra = set(rc) - known
    if extra:
        raise ManifestError(f"contest {ci}: unknown field(s) {', '.join(sorted(extra))}")
    label = _label(rc.get("label"), f"contest {ci}")
    raw_opts = rc.get("options")
    if not isinstance(raw_opts, list) or not raw_opts:
        raise ManifestError(f"contest {label!r}: needs a non-empty list of options")
    opts = tuple(Option(oi, _label(o, f"contest {label!r} option {oi}")) for oi, o in enumerate(raw_opts, 1))
    if len({o.label for o in opts}) != len(opts):
        raise ManifestError(f"contest {label!r}: option labels must be unique")
    L = _int(rc.get("contest_limit", 1), f"contest {label!r} contest_limit", 1, 1000)
    R = _int(rc.get("option_limit", 1), f"contest {label!r} option_limit", 1, 1000)
    if R > L:
        raise ManifestError(f"contest {label!r}: option_limit {R} exceeds contest_limit {L}")
    blocks = _int(rc.get("data_blocks", 2), f"contest {label!r} data_blocks", 1, 64)
    kind = rc.get("kind", "plurality")
    if not isinstance(kind, str) or not kind:
        raise ManifestError(f"contest {label!r}: kind must be a string")
    district = rc.get("district")
    if district is not None:
        district = _label(district, f"contest {label!r} district")
    outcome = rc.get("outcome")
    if outcome is not None and not isinstance(outcome, Mapping):
        raise ManifestError(f"contest {label!r}: outcome must be an object")
    canon: dict[str, Any] = {
        "label": label,
        "options": [o.label for o in opts],
        "option_limit": R,
        "contest_limit": L,
        "data_blocks": blocks,
        "kind": kind,
    }
    if district is not None:
        canon["district"] = district
    if outcome is not None:
        canon["outcome"] = dict(outcome)
    return (
        Contest(
            ci, label, opts, R, L, blocks, kind, district, dict(outcome) if outcome is not None else None
        ),
        canon,
    )


def simple_manifest(label: str, contests: Sequence[tuple[str, Sequence[str], int]], **extra: Any) -> Manifest:
    """Convenience: contests as (label, options, contest_limit) with option limit 1."""
    return Manifest.from_json(
        {
            "label": label,
            "contests": [
                {"label": cl, "options": list(opts), "contest_limit": L, "option_limit": 1}
                for cl, opts, L in contests
            ],
            **extra,
        }
    )
