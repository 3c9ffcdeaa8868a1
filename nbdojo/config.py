"""Where nbdojo keeps things: the files it ships (inside the package) and its home (data, records, keys)."""

from __future__ import annotations

import os
from pathlib import Path

#: The installed package: built-in competitions, kernel specs and startup files ship inside it.
PACKAGE_ROOT = Path(__file__).resolve().parent


def nbdojo_home() -> Path:
    """Root of nbdojo's data, records and keys; `NBDOJO_HOME` overrides `~/.cache/nbdojo`."""
    env = os.environ.get("NBDOJO_HOME")
    if env:
        return Path(env).expanduser().resolve()
    xdg = os.environ.get("XDG_CACHE_HOME")
    base = Path(xdg).expanduser() if xdg else Path.home() / ".cache"
    return (base / "nbdojo").resolve()


def competitions_dir() -> Path:
    """Folder of built-in competitions (package data); `NBDOJO_COMPETITIONS_DIR` overrides it."""
    env = os.environ.get("NBDOJO_COMPETITIONS_DIR")
    return Path(env).expanduser().resolve() if env else PACKAGE_ROOT / "competitions" / "builtin"


def kernel_specs_dir() -> Path:
    """Folder holding nbdojo's kernel specs (one folder with a kernel.json each)."""
    return PACKAGE_ROOT / "kernel" / "specs"


def startup_dir() -> Path:
    """Folder holding the code every kernel runs at start."""
    return PACKAGE_ROOT / "kernel" / "startup"
