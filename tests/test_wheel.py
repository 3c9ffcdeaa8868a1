"""nbdojo as a user installs it: a wheel, installed non-editable into a fresh environment, used from another folder."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import pytest

from nbdojo.kernel.toolbox import find_toolbox

REPO = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.kernel


@pytest.fixture(scope="module")
def installed(tmp_path_factory) -> Path:
    """A fresh venv holding only the built wheel; the heavy dependencies come from this environment's
    site-packages by a plain path entry (so this checkout's editable install is not seen)."""
    tmp = tmp_path_factory.mktemp("wheel")
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w",
                    str(tmp / "dist"), str(REPO)], check=True, capture_output=True, timeout=600)
    (wheel,) = (tmp / "dist").glob("nbdojo-*.whl")
    venv = tmp / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True, timeout=120)
    python = venv / "bin" / "python"
    purelib = subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                             check=True, capture_output=True, text=True).stdout.strip()
    (Path(purelib) / "zz_host_deps.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    subprocess.run([sys.executable, "-m", "pip", "--python", str(python), "install", "--no-deps", "-q", str(wheel)]
                   if _pip_has_python_flag() else
                   [sys.executable, "-m", "pip", "install", "--no-deps", "-q", "--target", purelib, str(wheel)],
                   check=True, capture_output=True, timeout=600)
    return python


def _pip_has_python_flag() -> bool:
    out = subprocess.run([sys.executable, "-m", "pip", "--version"], capture_output=True, text=True).stdout
    major, minor = map(int, re.match(r"pip (\d+)\.(\d+)", out).groups())
    return (major, minor) >= (22, 3)


def _run(python: Path, *args: str, cwd: Path, home: Path) -> subprocess.CompletedProcess:
    hidden = ("PYTHONPATH", "NBDOJO_COMPETITIONS_DIR", "NBDOJO_KERNEL_ENV")
    env = {k: v for k, v in os.environ.items() if k not in hidden}
    env["NBDOJO_HOME"], env["COLUMNS"] = str(home), "200"
    return subprocess.run([str(python), *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=900)


def test_the_wheel_carries_competitions_kernel_specs_and_startup_files(installed) -> None:
    (wheel,) = installed.parents[2].glob("dist/nbdojo-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    assert sum(n.endswith("/competition.yaml") for n in names) >= 15
    assert "nbdojo/kernel/specs/nbdojo/kernel.json" in names
    assert "nbdojo/kernel/startup/chunked_streams.py" in names
    assert not any("__pycache__" in n or n.endswith(".pyc") for n in names)


def test_installed_nbdojo_lists_competitions_and_runs_a_sandboxed_episode(installed, tmp_path) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    where = _run(installed, "-c", "import nbdojo; print(nbdojo.__file__)", cwd=elsewhere, home=tmp_path / "home")
    assert str(REPO) not in where.stdout and "site-packages" in where.stdout, where.stdout + where.stderr
    listing = _run(installed, "-m", "nbdojo", "competitions", "list", cwd=elsewhere, home=tmp_path / "home")
    assert listing.returncode == 0, listing.stderr
    builtin = sorted(p.parent.name for p in (REPO / "nbdojo" / "competitions" / "builtin").glob("*/competition.yaml"))
    assert len(builtin) >= 15 and all(cid in listing.stdout for cid in builtin), listing.stdout
    # No toolbox yet (a pip user before `nbdojo toolbox build`): one line saying how to get one, nothing run.
    bare = _run(installed, "-m", "nbdojo", "run", "penguins", "--out", "runs", cwd=elsewhere, home=tmp_path / "home")
    assert bare.returncode == 1 and "nbdojo toolbox build" in bare.stderr and not (elsewhere / "runs").exists(), \
        bare.stdout + bare.stderr
    # With one (this checkout's, named as a user names their own): a sandboxed episode in it.
    run = _run(installed, "-m", "nbdojo", "run", "penguins", "--agent", "baseline", "--out", "runs", "--seed", "0",
               "--kernel-env", str(find_toolbox().path), cwd=elsewhere, home=tmp_path / "home")
    assert run.returncode == 0, run.stdout + run.stderr
    assert "HumanRank" in run.stdout
    notebook = re.search(r"notebook (\S+\.ipynb)", run.stdout).group(1)
    assert (elsewhere / notebook).is_file() or Path(notebook).is_file()
