"""The demo path, as a user runs it: `nbdojo run` with the baseline, then papermill on the notebook."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import nbformat
import papermill
import pytest

from nbdojo.agents.baseline import baseline_cells
from nbdojo.competitions import get_competition

pytestmark = [pytest.mark.kernel, pytest.mark.timeout(900)]

NBDOJO = [sys.executable, "-m", "nbdojo.cli"]
#: The baseline's code cells on a tabular competition; its steps add request_info, validate and submit.
CELLS = len(baseline_cells(get_competition("loan-default").agent_view()))


def nbdojo(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([*NBDOJO, *args], capture_output=True, text=True, cwd=cwd, env=os.environ.copy(), timeout=600)


@pytest.fixture
def baseline_run(baseline_cli_run):
    return baseline_cli_run


def scorer_text(nb) -> str:
    cell = nb.cells[-1]
    assert "nbdojo-scorer" in cell.metadata.get("tags", [])
    return "".join(o.get("text", "") for o in cell.outputs)


def test_run_prints_score_and_a_valid_notebook_with_every_step(baseline_run):
    stdout, path = baseline_run
    score = float(re.search(r"score (\d\.\d+)", stdout).group(1))
    assert 0.7 < score < 0.95  # gradient boosting clearly beats the constant 0.5
    for action in ("request_info", "execute_code", "validate", "submit"):
        assert action in stdout
    nb = nbformat.read(str(path), as_version=4)
    nbformat.validate(nb)
    meta = nb.metadata["nbdojo"]
    assert meta["agent"] == "baseline" and meta["seed"] == 0 and meta["final"]["score"] == pytest.approx(score, rel=1e-4)
    steps = [c.metadata["nbdojo"] for c in nb.cells if c.metadata.get("nbdojo", {}).get("step")]
    seen = [s["step"] for s in steps]
    assert seen == sorted(seen) and set(seen) == set(range(1, max(seen) + 1)) and max(seen) == 3 + CELLS
    code = [c for c in nb.cells if c.cell_type == "code" and c.metadata["nbdojo"]["action"] == "execute_code"]
    assert len(code) == CELLS and all(c.metadata["nbdojo"]["status"] == "ok" and c.outputs for c in code)
    assert all(c.execution_count for c in code)
    assert f"{score:.4f}"[:5] in scorer_text(nb)
    assert (path.parent / "workspace" / "submission.csv").exists()


def test_papermill_rerun_reaches_the_same_score(baseline_run, tmp_path):
    _, path = baseline_run
    out = tmp_path / "rerun.ipynb"
    papermill.execute_notebook(str(path), str(out), kernel_name="python3", progress_bar=False,
                               cwd=str(tmp_path))
    original = nbformat.read(str(path), as_version=4)
    rerun = nbformat.read(str(out), as_version=4)
    assert scorer_text(rerun) == scorer_text(original)


def test_unknown_competition_is_one_clear_line(tmp_path):
    proc = nbdojo("run", "loan-defualt", "--out", str(tmp_path))
    assert proc.returncode == 1
    lines = [ln for ln in proc.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1 and "Did you mean 'loan-default'" in lines[0]
    assert not list(tmp_path.iterdir())


def test_bad_options_are_refused_before_anything_runs(tmp_path):
    proc = nbdojo("run", "loan-default", "--max-steps", "0", "--out", str(tmp_path))
    assert proc.returncode == 2 and "max-steps" in (proc.stderr + proc.stdout)
    proc = nbdojo("run", "loan-default", "--agent", "wizard", "--out", str(tmp_path))
    assert proc.returncode == 1 and "Unknown agent 'wizard'" in proc.stderr
    proc = nbdojo("run", "loan-default", "--seed", "-1", "--out", str(tmp_path))
    assert proc.returncode == 2 and "greater than or equal to 0" in proc.stderr and "Traceback" not in proc.stderr
    assert not list(tmp_path.iterdir())


def test_version_and_run_folder_names(loan_default_data, tmp_path):
    from nbdojo._package import __version__
    from nbdojo.env import DojoEnv

    proc = nbdojo("--version")
    assert proc.returncode == 0 and proc.stdout.strip() == f"nbdojo {__version__}"
    with DojoEnv("loan-default", out_dir=tmp_path) as env:
        with pytest.raises(ValueError, match="non-negative"):
            env.reset(seed=-1)
        env.reset(seed=7)
        seeded = env.run_dir.name
        env.reset()
        unseeded = env.run_dir.name
    assert seeded.startswith("loan-default-api-s7-")
    assert re.match(r"loan-default-api-r[0-9a-f]{6}-\d{8}-\d{6}$", unseeded), unseeded


def test_competitions_list_shows_loan_default():
    proc = nbdojo("competitions", "list")
    assert proc.returncode == 0 and "loan-default" in proc.stdout and "roc_auc" in proc.stdout


def _run_env(**changes: str | None) -> dict:
    env = os.environ.copy()
    for key, value in changes.items():
        if value is None:
            env.pop(key, None)
        else:
            env[key] = value
    return env


def test_llm_without_a_key_is_one_line_before_any_kernel(tmp_path):
    proc = subprocess.run([*NBDOJO, "run", "loan-default", "--agent", "llm", "--model", "m", "--out", str(tmp_path)],
                          capture_output=True, text=True, env=_run_env(OPENAI_API_KEY=None), timeout=120)
    lines = [ln for ln in proc.stderr.splitlines() if ln.strip()]
    assert proc.returncode == 1 and len(lines) == 1 and "OPENAI_API_KEY" in lines[0], proc.stderr
    assert not list(tmp_path.iterdir())


def test_llm_with_an_unreachable_server_is_one_line_before_any_kernel(tmp_path):
    proc = subprocess.run([*NBDOJO, "run", "loan-default", "--agent", "llm", "--model", "m", "--out", str(tmp_path),
                           "--base-url", "http://127.0.0.1:9/v1"],
                          capture_output=True, text=True, env=_run_env(OPENAI_API_KEY="sk-test"), timeout=300)
    lines = [ln for ln in proc.stderr.splitlines() if ln.strip()]
    assert proc.returncode == 1 and len(lines) == 1 and "cannot reach" in lines[0], proc.stderr
    assert not list(tmp_path.iterdir())


def test_run_json_prints_one_object_then_a_list_for_a_batch(prepared_home, tmp_path):
    """`run --json`: stdout is JSON alone (the step lines and tables go to stderr); --episodes N gives a list."""
    import json

    keys = {"competition", "agent", "model", "seed", "score", "metric", "human_rank", "medal", "position",
            "leaderboard_size", "normalized_score", "standard_error", "notebook", "steps", "status", "duration_s",
            "error"}
    proc = nbdojo("run", "penguins", "--agent", "baseline", "--seed", "3", "--out", str(tmp_path / "one"), "--json")
    assert proc.returncode == 0, proc.stderr
    one = json.loads(proc.stdout)
    assert set(one) == keys and one["status"] == "finished" and one["seed"] == 3 and one["steps"] == 3 + CELLS
    assert one["competition"] == "penguins" and one["medal"] and 0 < one["human_rank"] <= 1
    assert one["normalized_score"] > 0 and 0 < one["standard_error"] < 0.1  # above the sample; a real error
    nb = nbformat.read(one["notebook"], as_version=4)
    assert nb.metadata["nbdojo"]["final"]["score"] == pytest.approx(one["score"])
    assert "submit" in proc.stderr  # the progress, on stderr

    batch = nbdojo("run", "penguins", "--agent", "baseline", "--episodes", "2", "--workers", "2",
                   "--out", str(tmp_path / "batch"), "--json")
    assert batch.returncode == 0, batch.stderr
    runs = json.loads(batch.stdout)
    assert [r["seed"] for r in runs] == [0, 1] and all(set(r) == keys and r["score"] is not None for r in runs)
    assert all(Path(r["notebook"]).is_file() for r in runs)
