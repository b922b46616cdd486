"""Groups: the EG 2.0 standard 4096-bit group, a small test group, and Ed25519 (specs/02-groups.md)."""

from e2evote.groups.base import Element, FixedBase, Group, Scalar
from e2evote.groups.ed25519 import ED25519, Ed25519Element, Ed25519Group
from e2evote.groups.modp import STANDARD, TEST, ModPElement, ModPGroup

__all__ = [
    "Element",
    "FixedBase",
    "Group",
    "Scalar",
    "ED25519",
    "Ed25519Element",
    "Ed25519Group",
    "STANDARD",
    "TEST",
    "ModPElement",
    "ModPGroup",
    "group_by_name",
    "ALL_GROUPS",
]

ALL_GROUPS: tuple[Group, ...] = (STANDARD, TEST, ED25519)


def group_by_name(name: str) -> Group:
    """The group with this stable name (``modp-4096``, ``modp-test-511``, ``ed25519``)."""
    for g in ALL_GROUPS:
        if g.name == name:
            return g
    from e2evote.errors import EncodingError

    raise EncodingError(f"unknown group {name!r}")
