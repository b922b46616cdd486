"""Imports only look down (CONVENTIONS §1, specs/00-overview.md §Layers).

errors, encoding ← groups ← hashing ← elgamal ← proofs ← protocol ← record ← board ← verifier ← cli
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

LAYERS = [
    ("e2evote.errors", 0),
    ("e2evote.encoding", 0),
    ("e2evote.groups", 1),
    ("e2evote.hashing", 2),
    ("e2evote.elgamal", 3),
    ("e2evote.proofs", 4),
    ("e2evote.protocol", 5),
    ("e2evote.record", 6),
    ("e2evote.board", 7),
    ("e2evote.verifier", 8),
    ("e2evote", 9),  # package-level helpers (e.g. e2evote.demo) may use everything below
    ("cli", 10),
]


def layer_of(module: str) -> int:
    best = None
    for prefix, level in LAYERS:
        if (module == prefix or module.startswith(prefix + ".")) and (
            best is None or len(prefix) > len(best[0])
        ):
            best = (prefix, level)
    assert best is not None, module
    return best[1]


def _module_name(path: Path) -> str:
    rel = path.relative_to(ROOT).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def test_imports_only_look_down() -> None:
    violations = []
    files = list((ROOT / "e2evote").rglob("*.py")) + list((ROOT / "cli").rglob("*.py"))
    assert files
    for path in files:
        mod = _module_name(path)
        here = layer_of(mod)
        tree = ast.parse(path.read_text(), filename=str(path))
        for node in ast.walk(tree):
            targets: list[str] = []
            if isinstance(node, ast.Import):
                targets = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                targets = [node.module]
            for t in targets:
                if t.split(".")[0] not in ("e2evote", "cli"):
                    continue
                if layer_of(t) > here:
                    violations.append(f"{mod} (layer {here}) imports {t} (layer {layer_of(t)})")
    assert not violations, "\n".join(violations)


def test_no_pickle_anywhere() -> None:
    for path in list((ROOT / "e2evote").rglob("*.py")) + list((ROOT / "cli").rglob("*.py")):
        text = path.read_text()
        assert "import pickle" not in text and "from pickle" not in text, path
