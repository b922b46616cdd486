"""Hash-trimming functions Ω: short codes from selection hashes (EG 2.0 §4.1.4, §4.6;
specs/13-pre-encryption.md §3)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Final

__all__ = ["SHORT_CODES", "SHORT_CODE_SPACE", "short_code"]


def _letter(n: int) -> str:
    return chr(ord("A") + n)


SHORT_CODES: Final[dict[str, Callable[[bytes], str]]] = {
    "omega1": lambda psi: f"{psi[-1]:02X}",
    "omega2": lambda psi: f"{psi[-2]:02X}{psi[-1]:02X}",
    "omega3": lambda psi: f"{_letter(psi[-1] // 10)}{psi[-1] % 10}",
    "omega4": lambda psi: f"{psi[-1] // 26}{_letter(psi[-1] % 26)}",
    "omega5": lambda psi: str(psi[-1]),
    "omega6": lambda psi: str(psi[-1] + 1),
    "omega7": lambda psi: str(psi[-1] + 100),
    "omega8": lambda psi: str(psi[-1] + 101),
    "egk-hex5": lambda psi: psi[:3].hex().upper()[:5],
}
"""Ω by the name a manifest gives it (``short_code``)."""

SHORT_CODE_SPACE: Final[dict[str, int]] = {name: 256 for name in SHORT_CODES} | {
    "omega2": 1 << 16,
    "egk-hex5": 1 << 20,
}
"""how many distinct short codes each Ω has"""


def short_code(name: str, psi: bytes) -> str:
    """ω = Ω(ψ) for the function named ``name``; ψ is a 32-byte selection hash."""
    if len(psi) != 32:
        raise ValueError("a selection hash is 32 bytes")
    return SHORT_CODES[name](psi)
