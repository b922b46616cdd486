"""Verification report (specs/10-verification.md §Report)."""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

__all__ = ["Failure", "Report"]


@dataclass(frozen=True, slots=True)
class Failure:
    """One failed check: the specs/ step id, the object, and what was wrong."""

    step: str
    obj: str
    detail: str

    def __str__(self) -> str:
        return f"[{self.step}] {self.obj}: {self.detail}" if self.detail else f"[{self.step}] {self.obj}"


@dataclass
class Report:
    """The verifier's findings; ``ok`` iff no check failed."""

    source: str = ""
    failures: list[Failure] = field(default_factory=list)
    checks: Counter[str] = field(default_factory=Counter)
    """step group (e.g. "V5") -> number of objects checked"""
    summary: dict[str, Any] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    """facts a reader must see that are not failures (e.g. an insecure test group)"""
    max_failures: int = 10_000

    @property
    def ok(self) -> bool:
        return not self.failures

    def fail(self, step: str, obj: str, detail: str = "") -> None:
        if len(self.failures) < self.max_failures:
            self.failures.append(Failure(step, obj, detail))

    def checked(self, group: str, n: int = 1) -> None:
        self.checks[group] += n

    def steps_failed(self) -> set[str]:
        return {f.step for f in self.failures}

    def to_json(self) -> str:
        return json.dumps(
            {
                "ok": self.ok,
                "source": self.source,
                "failures": [{"step": f.step, "object": f.obj, "detail": f.detail} for f in self.failures],
                "checks": dict(sorted(self.checks.items())),
                "summary": self.summary,
                "warnings": self.warnings,
            },
            sort_keys=True,
        )
