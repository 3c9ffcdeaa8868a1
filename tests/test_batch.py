"""Many episodes in parallel: each in its own worker process and sandboxed kernel; a failure stops no other."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from datetime import datetime
from pathlib import Path

import nbformat
import pytest

from nbdojo.batch import EpisodeFailure, EpisodePlan, run_plans
from nbdojo.env import Limits
from nbdojo.runner import EpisodeResult

pytestmark = pytest.mark.kernel


def test_cli_runs_episodes_in_parallel_with_consecutive_seeds(prepared_home, tmp_path):
    out = tmp_path / "runs"
    proc = subprocess.run([sys.executable, "-m", "nbdojo.cli", "run", "loan-default", "--episodes", "3",
                           "--workers", "2", "--seed", "5", "--out", str(out)],
                          capture_output=True, text=True, env={**os.environ, "COLUMNS": "200"}, timeout=600)
    assert proc.returncode == 0, proc.stderr + proc.stdout
    assert "3/3 episodes finished" in proc.stdout and "mean score" in proc.stdout
    summary = Path(re.search(r"summary (\S+\.jsonl)", proc.stdout).group(1))
    rows = [json.loads(line) for line in summary.read_text().splitlines()]
    assert [r["seed"] for r in rows] == [5, 6, 7]
    spans = []
    for row in rows:
        nb = nbformat.read(row["notebook"], as_version=4)
        nbformat.validate(nb)
        meta = nb.metadata["nbdojo"]
        assert meta["seed"] == row["seed"] and meta["final"]["score"] == row["score"]
        assert nb.cells[-1].metadata.get("tags") == ["nbdojo-scorer"]
        spans.append((datetime.fromisoformat(meta["started"]), datetime.fromisoformat(meta["ended"])))
    assert len({r["notebook"] for r in rows}) == 3
    spans.sort()
    assert any(later[0] < earlier[1] for earlier, later in zip(spans, spans[1:])), spans  # two ran at once


def test_a_failed_episode_is_reported_and_the_others_finish(prepared_home, tmp_path):
    limits = Limits(max_steps=10)
    plans = [EpisodePlan("loan-default", 0, "replay:" + str(tmp_path / "missing.ipynb"), out_dir=str(tmp_path),
                         limits=limits),
             EpisodePlan("loan-default", 1, "baseline", out_dir=str(tmp_path), limits=limits)]
    seen = []
    outcomes = run_plans(plans, workers=2, on_done=lambda plan, outcome: seen.append(plan.seed))
    assert isinstance(outcomes[0], EpisodeFailure) and "missing.ipynb" in outcomes[0].error
    assert isinstance(outcomes[1], EpisodeResult) and outcomes[1].score is not None and outcomes[1].seed == 1
    assert sorted(seen) == [0, 1]


def test_an_unknown_competition_fails_in_one_line_before_any_worker(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "nbdojo.cli", "run", "loan-defualt", "--episodes", "2",
                           "--out", str(tmp_path)], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 1
    assert len(proc.stderr.strip().splitlines()) == 1 and "loan-default" in proc.stderr  # "Did you mean"
    assert not list(tmp_path.iterdir())


def test_cpu_slots_split_the_machine(monkeypatch):
    from nbdojo import batch

    monkeypatch.setattr(batch.os, "sched_getaffinity", lambda pid: set(range(8)))
    assert batch.cpu_slots(1) == [list(range(8))]
    assert batch.cpu_slots(2) == [[0, 1, 2, 3], [4, 5, 6, 7]]
    assert batch.cpu_slots(3) == [[0, 1], [2, 3], [4, 5]]
    assert batch.cpu_slots(10)[8:] == [[0], [1]]


def test_each_worker_kernel_gets_its_own_cpus_and_thread_count(prepared_home, tmp_path):
    probe = nbformat.v4.new_notebook(cells=[
        nbformat.v4.new_code_cell(
            "import os\nprint('CPUS', sorted(os.sched_getaffinity(0)), 'OMP', os.environ.get('OMP_NUM_THREADS'))"),
        nbformat.v4.new_code_cell("import shutil\nshutil.copy(f'{DATA_DIR}/sample_submission.csv', SUBMISSION_PATH)"),
    ])
    path = tmp_path / "probe.ipynb"
    nbformat.write(probe, str(path))
    plans = [EpisodePlan("loan-default", seed, f"replay:{path}", out_dir=str(tmp_path / "runs"),
                         limits=Limits(max_steps=5)) for seed in (0, 1)]
    outcomes = run_plans(plans, workers=2)
    seen = []
    for outcome in outcomes:
        assert isinstance(outcome, EpisodeResult), outcome
        text = "".join("".join(o.get("text", "")) for c in nbformat.read(str(outcome.notebook), as_version=4).cells
                       if c.cell_type == "code" for o in c.get("outputs", []))
        match = re.search(r"CPUS (\[[\d, ]*\]) OMP (\d+)", text)
        assert match, text
        cpus, omp = match.groups()
        seen.append(set(json.loads(cpus)))
        assert int(omp) == len(seen[-1]), (omp, seen)
    share = max(1, len(os.sched_getaffinity(0)) // 2)
    assert [len(s) for s in seen] == [share, share], (seen, sorted(os.sched_getaffinity(0)))
    if len(os.sched_getaffinity(0)) >= 2:
        assert not seen[0] & seen[1], seen


def test_run_episodes_in_a_script_without_a_main_guard(prepared_home, tmp_path):
    """The README's snippet pasted into a script as is: the workers must not run the script again."""
    notebook = tmp_path / "copy.ipynb"
    nbformat.write(nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(
        "import shutil\nshutil.copy(f'{DATA_DIR}/sample_submission.csv', SUBMISSION_PATH)")]), str(notebook))
    script = tmp_path / "batch_script.py"
    script.write_text(
        "from nbdojo import run_episodes\nfrom nbdojo.limits import Limits\n"
        "print('SCRIPT STARTED', flush=True)\n"
        f"outcomes = run_episodes('loan-default', agent='replay:{notebook}', seeds=[0, 1], workers=2,\n"
        f"                        out_dir={str(tmp_path / 'runs')!r}, limits=Limits(max_steps=4))\n"
        "print('OUTCOMES', [type(o).__name__ for o in outcomes], [getattr(o, 'score', None) for o in outcomes])\n")
    proc = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=600, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert proc.stdout.count("SCRIPT STARTED") == 1, proc.stdout
    assert "OUTCOMES ['EpisodeResult', 'EpisodeResult']" in proc.stdout, proc.stdout + proc.stderr[-3000:]
