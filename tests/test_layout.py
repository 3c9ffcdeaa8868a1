"""The package's shape: it parses on every Python it claims, and stdlib modules newer than that are guarded."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "nbdojo"
SOURCES = sorted(PACKAGE.rglob("*.py"))
#: Standard-library modules that appeared after Python 3.10, the oldest version pyproject.toml accepts.
NEWER_STDLIB = {"tomllib": (3, 11), "wsgiref.types": (3, 11)}


def _guarded(tree: ast.Module, node: ast.AST) -> bool:
    """True when the import sits under an `if sys.version_info ...` or a `try` (a fallback exists)."""
    for parent in ast.walk(tree):
        if isinstance(parent, (ast.If, ast.Try)) and node in list(ast.walk(parent)) and parent is not node:
            if isinstance(parent, ast.Try) or "version_info" in ast.unparse(parent.test):
                return True
    return False


@pytest.mark.parametrize("path", SOURCES, ids=lambda p: str(p.relative_to(PACKAGE.parent)))
def test_parses_on_python_3_10_and_guards_newer_stdlib(path: Path) -> None:
    source = path.read_text(encoding="utf-8")
    tree = ast.parse(source, feature_version=(3, 10))
    for node in ast.walk(tree):
        names = [a.name for a in node.names] if isinstance(node, ast.Import) else (
            [node.module] if isinstance(node, ast.ImportFrom) and node.module else [])
        for name in names:
            if name in NEWER_STDLIB:
                assert _guarded(tree, node), f"{path}: `import {name}` needs a Python 3.10 fallback"
