"""Shared fixtures: every test that takes ``group`` runs over every group (specs/02-groups.md)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

from e2evote.groups import ALL_GROUPS, Group

settings.register_profile("ci", max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.register_profile("dev", max_examples=10, deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))

#: the read-only reference material beside the repository (never copied into it)
REFERENCE = Path(__file__).resolve().parents[2] / "shared" / "reference" / "electionguard-2.0"


@pytest.fixture(params=ALL_GROUPS, ids=lambda g: g.name)
def group(request: pytest.FixtureRequest) -> Group:
    return request.param  # type: ignore[no-any-return]


@pytest.fixture(params=[g for g in ALL_GROUPS if g.name != "modp-4096"], ids=lambda g: g.name)
def fast_group(request: pytest.FixtureRequest) -> Group:
    """The groups cheap enough for many hypothesis examples."""
    return request.param  # type: ignore[no-any-return]


@pytest.fixture(autouse=True)
def _fast_kdf(monkeypatch: pytest.MonkeyPatch) -> None:
    """Sealed files and keystores written in-process use libsodium's minimum Argon2id cost (the
    parameters are stored in each file, so they open anywhere); production keeps the default."""
    monkeypatch.setenv("E2EVOTE_TEST_FAST_KDF", "1")
