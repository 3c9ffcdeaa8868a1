"""What the package roots need: nbdojo's version (pyproject.toml reads it here) and PEP 562 lazy exports.

A lazily exported name is imported from its module on first use. That keeps `import nbdojo` fast and lets a package export names from modules that import it back
(the grading package and the competition specs) without an import cycle at load time.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from typing import Any

__all__ = ["__version__", "lazy_getattr"]

__version__ = "0.1.0"


def lazy_getattr(package: str, exports: Mapping[str, str], namespace: dict[str, Any]) -> Callable[[str], Any]:
    """A module `__getattr__` that imports `name` from `exports[name]` and keeps it in `namespace`."""

    def __getattr__(name: str) -> Any:
        module = exports.get(name)
        if module is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(module), name)
        namespace[name] = value
        return value

    return __getattr__
