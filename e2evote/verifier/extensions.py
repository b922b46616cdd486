"""Verification steps of e2evote's record extensions (specs/10-verification.md §Extensions).

Each extension module registers its checker in ``EXTENSION_CHECKS`` under the name of its
``ext/<name>.msgpack`` file.
"""

from __future__ import annotations

__all__: list[str] = []
