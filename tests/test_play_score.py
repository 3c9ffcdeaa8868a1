"""A person plays as the agents do: `nbdojo play`, their notebook run on the sandboxed kernel, `nbdojo score`,
then `nbdojo compare` shows them beside agent runs."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import nbclient
import nbformat
import pytest
from nbformat.v4 import new_code_cell

from nbdojo.env import DojoEnv
from nbdojo.tools.play import play

pytestmark = pytest.mark.kernel

NBDOJO = [sys.executable, "-m", "nbdojo.cli"]
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]

PERSON_CELLS = [
    # what the kernel can see: the agents' view
    "import os, socket\nprint(socket.gethostname(), os.path.isdir(DATA_DIR), os.getcwd() == WORKSPACE)\n"
    "print('private visible:', any('private' in p for p in os.listdir(os.path.dirname(DATA_DIR))))",
    "try:\n    open(os.path.join(DATA_DIR, 'mine.txt'), 'w')\nexcept OSError as exc:\n    print('data is read-only')",
    'import pandas as pd\ntrain = pd.read_csv(f"{DATA_DIR}/train.csv")\ntest = pd.read_csv(f"{DATA_DIR}/test.csv")',
    "from sklearn.linear_model import LogisticRegression\n"
    'cols = ["interest_rate", "term_months", "credit_history_years", "inquiries_6m"]\n'
    'model = LogisticRegression(max_iter=500).fit(train[cols], train["default"])\n'
    'pd.DataFrame({"id": test["id"], "default": model.predict_proba(test[cols])[:, 1]})'
    ".to_csv(SUBMISSION_PATH, index=False)",
    "1 / 0",
]


def nbdojo(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([*NBDOJO, *args], capture_output=True, text=True, timeout=300, env=env or os.environ.copy())


@pytest.fixture(scope="module")
def jupyter_env(prepared_home, tmp_path_factory):
    """A temp Jupyter data dir (where a global kernel spec would go); the play's spec is under
    NBDOJO_HOME, found by nbclient through JUPYTER_PATH as `nbdojo play` says."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("JUPYTER_DATA_DIR", str(tmp_path_factory.mktemp("jupyter-data")))
        mp.setenv("JUPYTER_PATH", str(prepared_home / "jupyter"))
        yield os.environ.copy()


@pytest.fixture(scope="module")
def played(loan_default_data, jupyter_env, tmp_path_factory):
    """`nbdojo play`, the person's cells run with nbclient on the notebook's own (sandboxed) kernel."""
    plays = tmp_path_factory.mktemp("plays")
    proc = nbdojo("play", "loan-default", "--name", "alice", "--out", str(plays), env=jupyter_env)
    assert proc.returncode == 0, proc.stderr
    path = Path(re.search(r"notebook\s+(\S+\.ipynb)", proc.stdout).group(1))
    nb = nbformat.read(str(path), as_version=4)
    nb.cells[-1:] = [new_code_cell(src) for src in PERSON_CELLS]
    nbclient.NotebookClient(nb, allow_errors=True, timeout=120).execute()  # kernel from metadata.kernelspec
    nbformat.write(nb, str(path))
    return plays, path


@pytest.fixture(scope="module")
def agent_runs(loan_default_data, tmp_path_factory):
    """An agent run with a model, tokens and cost (a scripted stand-in for an LLM agent), and one that gives up."""
    runs = tmp_path_factory.mktemp("runs")
    with DojoEnv("loan-default", out_dir=runs, agent="llm", model="tiny-model") as env:
        env.reset(seed=0)
        env.record_usage(prompt_tokens=1200, completion_tokens=300, cost=0.0021)
        env.step({"action": "execute_code", "code": PERSON_CELLS[2]})
        env.step({"action": "execute_code", "code": PERSON_CELLS[3].replace('"inquiries_6m"', "")})
        env.step({"action": "validate"})
        env.step({"action": "execute_code", "code": PERSON_CELLS[3]})
        env.step({"action": "validate"})
        *_, info = env.step({"action": "submit"})
        assert info["final"]["score"] is not None
    with DojoEnv("loan-default", out_dir=runs, agent="quitter") as env:
        env.reset(seed=1)
        env.step({"action": "execute_code", "code": "1 + 1"})
    return runs


def test_play_makes_a_sandboxed_starter_notebook(played, jupyter_env):
    _, path = played
    nb = nbformat.read(str(path), as_version=4)
    name = nb.metadata["kernelspec"]["name"]
    spec = json.loads((Path(os.environ["NBDOJO_HOME"]) / "jupyter" / "kernels" / name / "kernel.json").read_text())
    assert "nbdojo.kernel.launcher" in spec["argv"]
    assert spec["metadata"]["kernel_provisioner"]["provisioner_name"] == "nbdojo-sandbox"
    assert nb.metadata["nbdojo"]["agent"] == "human" and nb.metadata["nbdojo"]["participant"] == "alice"
    assert "parameters" in nb.cells[1].metadata["tags"] and "How to submit" in "".join(c.source for c in nb.cells)
    outputs = ["".join(o.get("text", "") for o in c.outputs) for c in nb.cells if c.cell_type == "code"]
    assert "nbdojo True True" in outputs[2] and "private visible: False" in outputs[2]  # the agents' view
    assert "data is read-only" in outputs[3]


def test_score_grades_the_person_and_records_agent_style_metadata(played):
    _, path = played
    proc = nbdojo("score", str(path))
    assert proc.returncode == 0, proc.stderr
    assert "HumanRank" in proc.stdout and "alice" in proc.stdout and "sandboxed kernel" in proc.stdout
    nb = nbformat.read(str(path), as_version=4)
    nbformat.validate(nb)
    meta = nb.metadata["nbdojo"]
    assert meta["agent"] == "human" and meta["participant"] == "alice" and meta["sandbox"] is True
    assert meta["final"]["score"] > 0.6 and meta["final"]["how"] == "scored"
    assert meta["cells_run"] == len(PERSON_CELLS) and meta["errors"] == 1
    assert meta["timing"] == "cells" and 0 < meta["wall_time_s"] < 600
    scorer = nb.cells[-1]
    assert "nbdojo-scorer" in scorer.metadata["tags"] and "HumanRank" in scorer.outputs[0]["text"]
    steps = [c.metadata["nbdojo"] for c in nb.cells if (c.metadata.get("nbdojo") or {}).get("action") == "execute_code"]
    assert [s["step"] for s in steps] == list(range(1, len(PERSON_CELLS) + 1))
    assert [s["status"] for s in steps] == ["ok"] * 4 + ["error"]
    # scoring again replaces the scorer cell instead of adding a second one
    assert nbdojo("score", str(path), "--name", "Alice B.").returncode == 0
    again = nbformat.read(str(path), as_version=4)
    assert sum("nbdojo-scorer" in (c.metadata.get("tags") or []) for c in again.cells) == 1
    assert again.metadata["nbdojo"]["participant"] == "Alice B."


def test_score_refuses_a_missing_submission_and_leaves_the_notebook(loan_default_data, jupyter_env, tmp_path):
    path = play("loan-default", out=tmp_path, name="carol").notebook
    before = path.read_text()
    proc = nbdojo("score", str(path))
    assert proc.returncode == 1 and "submission" in proc.stderr.lower()
    assert path.read_text() == before


def test_compare_shows_the_person_beside_the_agents_and_the_report_renders(played, agent_runs, tmp_path):
    from playwright.sync_api import sync_playwright

    plays, path = played
    if (nbformat.read(str(path), as_version=4).metadata["nbdojo"].get("final")) is None:
        assert nbdojo("score", str(path)).returncode == 0
    report = tmp_path / "report.html"
    proc = nbdojo("compare", str(agent_runs), str(plays), "-o", str(report))
    assert proc.returncode == 0, proc.stderr
    for who in ("(human)", "llm · tiny-model", "quitter"):
        assert who in proc.stdout
    text = report.read_text()
    assert "(human)" in text and "llm · tiny-model" in text and "1,500" in text and "$0.0021" in text
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page()
            page.goto(report.as_uri())
            widths = page.eval_on_selector_all("svg.chart", "svgs => svgs.map(s => s.getBoundingClientRect().width)")
            rows = page.locator("table").first.locator("tbody tr").count()
        finally:
            browser.close()
    assert len(widths) >= 2 and all(w > 0 for w in widths), widths  # the HumanRank bars and a score curve
    assert rows == 3  # alice, the llm agent, the quitter


def test_play_kernel_spec_lives_under_nbdojo_home_and_goes_with_the_play(loan_default_data, jupyter_env, tmp_path):
    """No global kernel spec: nothing in the user's (or the temp) Jupyter data dir; `play --remove` removes it."""
    jupyter_env = {**jupyter_env, "HOME": str(tmp_path / "home")}  # where a user-level spec would go, too
    proc = nbdojo("play", "loan-default", "--name", "gus", "--out", str(tmp_path / "plays"), env=jupyter_env)
    assert proc.returncode == 0, proc.stderr
    notebook = Path(re.search(r"notebook\s+(\S+\.ipynb)", proc.stdout).group(1))
    name = nbformat.read(str(notebook), as_version=4).metadata["kernelspec"]["name"]
    for data_dir in (Path(jupyter_env["JUPYTER_DATA_DIR"]), Path(jupyter_env["HOME"]) / ".local/share/jupyter"):
        assert not list(data_dir.glob("kernels/nbdojo-*")), data_dir
    home_spec = Path(jupyter_env["NBDOJO_HOME"]) / "jupyter" / "kernels" / name
    assert "nbdojo.kernel.launcher" in json.loads((home_spec / "kernel.json").read_text())["argv"]
    assert f"JUPYTER_PATH={Path(jupyter_env['NBDOJO_HOME']) / 'jupyter'}" in proc.stdout

    removed = nbdojo("play", "--remove", str(notebook.parent), env=jupyter_env)
    assert removed.returncode == 0, removed.stderr
    assert not home_spec.exists() and notebook.is_file()  # the person's files stay
    assert nbdojo("score", str(notebook), env=jupyter_env).returncode != 0  # no longer a play nbdojo knows
    again = nbdojo("play", "--remove", str(notebook), env=jupyter_env)
    assert again.returncode == 1 and "not a play nbdojo knows" in again.stderr
