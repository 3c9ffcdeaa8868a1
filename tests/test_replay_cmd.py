"""`nbdojo replay`: papermill in a fresh sandboxed kernel, regraded on the host, with a fidelity report."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import nbclient
import nbformat
import pytest
from nbformat.v4 import new_code_cell

from nbdojo.tools.play import play, score
from nbdojo.tools.replay import normalize, output_text, replay_notebook

NBDOJO = [sys.executable, "-m", "nbdojo.cli"]

PERSON_CELLS = [
    'import pandas as pd\ntrain = pd.read_csv(f"{DATA_DIR}/train.csv")\ntest = pd.read_csv(f"{DATA_DIR}/test.csv")\n'
    "print(train.shape, test.shape)",
    'cols = ["interest_rate", "term_months", "credit_history_years", "inquiries_6m"]\nprint(len(cols), "features")',
    "from sklearn.linear_model import LogisticRegression\n"
    'model = LogisticRegression(max_iter=500).fit(train[cols], train["default"])\n'
    'pd.DataFrame({"id": test["id"], "default": model.predict_proba(test[cols])[:, 1]})'
    ".to_csv(SUBMISSION_PATH, index=False)\nprint('written')",
    "undefined_name + 1  # a mistake the person left in",
]


def replay_cli(path: Path, *args: str) -> tuple[int, dict]:
    proc = subprocess.run([*NBDOJO, "replay", str(path), "--json", *args], capture_output=True, text=True,
                          timeout=600, env=os.environ.copy())
    assert proc.stdout.strip().startswith("{"), proc.stderr + proc.stdout
    return proc.returncode, json.loads(proc.stdout)


@pytest.fixture(scope="module")
def jupyter_data(prepared_home, tmp_path_factory):
    """A temp Jupyter data dir; nbclient finds the play's kernel spec under NBDOJO_HOME through JUPYTER_PATH."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("JUPYTER_DATA_DIR", str(tmp_path_factory.mktemp("jupyter-data")))
        mp.setenv("JUPYTER_PATH", str(prepared_home / "jupyter"))
        yield


@pytest.fixture(scope="module")
def baseline_trajectory(baseline_cli_run) -> Path:
    """The demo's trajectory (shared with the end-to-end tests)."""
    return baseline_cli_run[1]


@pytest.fixture(scope="module")
def person_notebook(loan_default_data, jupyter_data, tmp_path_factory) -> Path:
    """A person's play: the starter notebook, their cells run on the sandboxed kernel, then scored."""
    started = play("loan-default", out=tmp_path_factory.mktemp("plays"), name="bob")
    nb = nbformat.read(str(started.notebook), as_version=4)
    nb.cells[-1:] = [new_code_cell(src) for src in PERSON_CELLS]
    nbclient.NotebookClient(nb, allow_errors=True, timeout=120).execute()
    nbformat.write(nb, str(started.notebook))
    result = score(started.notebook)
    assert result.errors == 1 and result.cells_run == len(PERSON_CELLS)
    return started.notebook


@pytest.mark.kernel
@pytest.mark.timeout(900)  # the baseline episode it replays runs in its setup: slow on a busy machine
def test_replay_reproduces_a_baseline_trajectory(baseline_trajectory):
    code, report = replay_cli(baseline_trajectory)
    assert code == 0, report
    assert report["score_reproduced"] and report["replayed_score"] == pytest.approx(report["recorded_score"], abs=1e-4)
    assert report["first_divergence"] is None, report["divergence"]
    assert report["cells"] and all(c["recorded"] == c["replayed"] == "ok" for c in report["cells"])
    n = len(report["cells"])  # --json: the per-cell fidelity summary, beside the cells themselves
    assert report["fidelity"] == {"cells": n, "status_same": n, "outputs_same": n, "outputs_differ": 0,
                                  "outputs_not_compared": 0, "first_divergence": None, "divergence": ""}
    out = Path(report["output"])
    assert out == baseline_trajectory.with_name("trajectory.replay.ipynb")
    nb = nbformat.read(str(out), as_version=4)
    nbformat.validate(nb)
    scorer = nb.cells[-1]
    assert "nbdojo-scorer" in scorer.metadata["tags"] and scorer.metadata["nbdojo"]["grader"] == "trusted"
    assert sum("nbdojo-scorer" in (c.metadata.get("tags") or []) for c in nb.cells) == 1
    injected = next(c for c in nb.cells if "injected-parameters" in (c.metadata.get("tags") or []))
    assert report["workspace"] in injected.source and report["workspace"] != nb.metadata["nbdojo"]["replay_of"]
    assert (Path(report["workspace"]) / "submission.csv").exists()
    assert nb.metadata["nbdojo"]["replay"]["score_reproduced"] is True


@pytest.mark.kernel
def test_the_replay_table_keeps_its_header_at_80_columns(baseline_trajectory, tmp_path):
    proc = subprocess.run([*NBDOJO, "replay", str(baseline_trajectory), "-o", str(tmp_path / "again.ipynb")],
                          capture_output=True, text=True, timeout=600, env={**os.environ, "COLUMNS": "80"})
    assert proc.returncode == 0, proc.stderr + proc.stdout
    lines = proc.stdout.splitlines()
    header = next(line for line in lines if "recorded" in line)
    assert all(word in header for word in ("cell", "step", "recorded", "replayed", "outputs", "code")), header
    assert max(len(line) for line in lines if line[:1] in "┏┃┡│└") <= 80  # the table; prose wraps in the terminal


@pytest.mark.kernel
def test_replay_reproduces_a_person_notebook_and_its_error_cell(person_notebook):
    report = replay_notebook(person_notebook)
    assert report.score_reproduced, report.summary()
    assert report.first_divergence is None, report.divergence
    statuses = [(c.recorded, c.replayed) for c in report.cells if c.step]
    assert statuses == [("ok", "ok")] * 3 + [("error", "error")]
    assert report.output == person_notebook.with_name(f"{person_notebook.stem}.replay.ipynb")


@pytest.mark.kernel
def test_an_edited_notebook_diverges_at_the_edited_cell(person_notebook, tmp_path):
    nb = nbformat.read(str(person_notebook), as_version=4)
    edited = next(i for i, c in enumerate(nb.cells) if c.cell_type == "code" and "features" in c.source)
    nb.cells[edited].source = nb.cells[edited].source.replace('"credit_history_years", ', "")
    path = tmp_path / "edited.ipynb"
    nbformat.write(nb, str(path))
    code, report = replay_cli(path)
    assert report["first_divergence"] == edited
    assert "'[stdout] 4 features'" in report["divergence"] and "'[stdout] 3 features'" in report["divergence"]
    assert not report["score_reproduced"] and code == 1  # one feature fewer: another score


@pytest.mark.kernel
def test_recorded_timeouts_are_skipped_with_a_note(person_notebook, tmp_path):
    nb = nbformat.read(str(person_notebook), as_version=4)
    slow = nbformat.v4.new_code_cell("import time\ntime.sleep(3600)", metadata={
        "nbdojo": {"step": 9, "action": "execute_code", "status": "timeout"}})
    position = next(i for i, c in enumerate(nb.cells) if "nbdojo-scorer" in (c.metadata.get("tags") or []))
    nb.cells.insert(position, slow)
    path = tmp_path / "with-timeout.ipynb"
    nbformat.write(nb, str(path))
    report = replay_notebook(path, cell_timeout=30)
    skipped = [c for c in report.cells if c.replayed == "skipped"]
    assert [c.index for c in skipped] == [position] and skipped[0].recorded == "timeout"
    assert report.score_reproduced
    out = nbformat.read(str(report.output), as_version=4)
    assert "not run" in out.cells[_cell_of(out, position)].outputs[0]["text"]


def _cell_of(nb, source_index: int) -> int:
    return next(i for i, c in enumerate(nb.cells)
                if (c.metadata.get("nbdojo_replay") or {}).get("source_cell") == source_index)


def test_noise_is_normalised_away():
    a = "<object at 0x7f3a2b1c> took 1.23 s (3.4 it/s) at 2026-11-24 19:52:08 in /tmp/ipykernel_2/29941.py:9\r99%\r100%"
    b = "<object at 0x55d00e1f> took 10 ms (12.0 it/s) at 2026-11-25T01:02:03.5 in /tmp/ipykernel_812/29941.py:9\r100%"
    assert normalize(a) == normalize(b)
    assert normalize("/ws/a/submission.csv", {"/ws/a": "<WORKSPACE>"}) == normalize(
        "/ws/b/submission.csv", {"/ws/b": "<WORKSPACE>"})
    assert normalize("score 0.81") != normalize("score 0.82")


def test_output_text_ignores_tracebacks_and_html_but_not_values():
    cell = {"outputs": [
        {"output_type": "stream", "name": "stdout", "text": "a\n"},
        {"output_type": "stream", "name": "stdout", "text": "b\n"},
        {"output_type": "execute_result", "data": {"text/plain": "42", "text/html": "<b>42</b>"}},
        {"output_type": "error", "ename": "ValueError", "evalue": "bad", "traceback": ["File /x/y.py line 3"]},
    ]}
    same = {"outputs": [
        {"output_type": "stream", "name": "stdout", "text": "a\nb\n"},
        {"output_type": "execute_result", "data": {"text/plain": "42", "text/html": "<i>42</i>"}},
        {"output_type": "error", "ename": "ValueError", "evalue": "bad", "traceback": ["File /z.py line 9"]},
    ]}
    assert output_text(cell) == output_text(same)
    same["outputs"][1]["data"]["text/plain"] = "43"
    assert output_text(cell) != output_text(same)
