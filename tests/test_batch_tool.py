"""Batches that behave like a tool: several competitions and suites, retries, Ctrl-C, resume and aggregates.

The kernel tests run real sandboxed episodes (a replay notebook that copies the sample submission, or,
for seed 1, sleeps) through the real CLI or `run_plans_on`; the Ctrl-C test sends a real SIGINT to a real
`nbdojo run` batch, then resumes it.
"""

from __future__ import annotations

import json
import math
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import nbformat
import pytest

from nbdojo.backends import round_robin_gpus, run_plans_on
from nbdojo.batch import EpisodeFailure, EpisodePlan
from nbdojo.competitions import get_competition
from nbdojo.competitions.suites import suite_competitions
from nbdojo.errors import ConfigError
from nbdojo.grading.aggregate import OVERALL, aggregate
from nbdojo.limits import Limits
from nbdojo.runner import EpisodeResult

COPY = "import shutil\nshutil.copy(f'{DATA_DIR}/sample_submission.csv', SUBMISSION_PATH)"
SLEEP_ON_SEED_1 = ("import pathlib, time\nif SEED == 1:\n    pathlib.Path('started').write_text('yes')\n"
                   "    time.sleep(600)\n" + COPY)


def write_notebook(path: Path, *sources: str) -> Path:
    nbformat.write(nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(s) for s in sources]), str(path))
    return path


def test_aggregates_per_agent_and_competition_over_seeds():
    def result(comp: str, seed: int, score: float, normalized: float, rank: float, medal: str) -> dict:
        return {"competition": comp, "agent": "baseline", "model": None, "seed": seed, "score": score,
                "human_rank": rank, "medal": medal, "final": {"normalized_score": normalized}}

    rows = [result("a", 0, 0.80, 0.5, 0.40, "bronze"), result("a", 1, 0.90, 0.7, 0.60, "none"),
            result("a", 2, 0.70, 0.3, 0.20, "none"),
            result("b", 0, 10.0, 0.1, 0.10, "none"), result("b", 1, 12.0, 0.3, 0.30, "none"),
            {"competition": "b", "agent": "baseline", "seed": 2, "error": "RuntimeError: boom"}]
    cells = {a.competition: a for a in aggregate(rows)}
    a, b, overall = cells["a"], cells["b"], cells[OVERALL]
    assert (a.episodes, a.finished, a.failed, a.k) == (3, 3, 0, 3)
    assert a.score_mean == pytest.approx(0.8) and a.score_se == pytest.approx(0.1 / math.sqrt(3))
    assert a.normalized_mean == pytest.approx(0.5) and a.normalized_se == pytest.approx(0.2 / math.sqrt(3))
    assert a.human_rank_mean == pytest.approx(0.4)
    assert a.any_medal == pytest.approx(1 / 3) and a.pass_at_k == 1.0
    assert (b.episodes, b.finished, b.failed, b.k) == (3, 2, 1, 2)
    assert b.score_mean == pytest.approx(11.0) and b.score_se == pytest.approx(1.0)
    assert b.any_medal == 0.0 and b.pass_at_k == 0.0
    assert overall.score_mean is None  # raw scores of two metrics are not averaged
    assert overall.normalized_mean == pytest.approx((0.5 + 0.2) / 2)
    assert overall.normalized_se == pytest.approx(math.sqrt(a.normalized_se ** 2 + b.normalized_se ** 2) / 2)
    assert overall.any_medal == pytest.approx((1 / 3 + 0) / 2) and overall.pass_at_k == 0.5


def test_suites_are_declared_once_and_lite_has_one_competition_per_kind():
    lite = suite_competitions("lite")
    kinds = [get_competition(c).category for c in lite]
    assert len(set(kinds)) == len(kinds) == len({s.category for s in map(get_competition, suite_competitions("all"))})
    assert set(suite_competitions("synthetic")) | set(suite_competitions("real")) == set(suite_competitions("all"))
    with pytest.raises(ConfigError, match="Did you mean 'lite'"):
        suite_competitions("lit")


def test_an_unknown_suite_is_one_line_before_anything_runs(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "nbdojo.cli", "run", "--suite", "lite2", "--out", str(tmp_path)],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 1
    assert proc.stderr.strip().splitlines() == ["error: Unknown suite 'lite2'. Did you mean 'lite'? "
                                                "(suites: all, lite, real, synthetic)"]
    assert not list(tmp_path.iterdir())


def test_gpus_per_episode_go_round_robin():
    plans = [EpisodePlan("penguins", seed) for seed in range(5)]
    assert [p.gpus for p in round_robin_gpus(plans, 1, [0, 1, 2])] == [(0,), (1,), (2,), (0,), (1,)]
    assert [p.gpus for p in round_robin_gpus(plans, 2, [0, 1, 2, 3])] == [(0, 1), (2, 3), (0, 1), (2, 3), (0, 1)]
    assert {p.gpus for p in round_robin_gpus(plans, 0, [0, 1])} == {()}
    with pytest.raises(ConfigError, match="has 1 GPU"):
        round_robin_gpus(plans, 2, [0])


@pytest.mark.kernel
def test_retries_run_a_failed_episode_again(prepared_home, tmp_path):
    """The first attempt fails (its replay notebook is missing); the retry, once it exists, finishes."""
    notebook = tmp_path / "later.ipynb"
    plans = [EpisodePlan("loan-default", 0, f"replay:{notebook}", out_dir=str(tmp_path / "runs"),
                         limits=Limits(max_steps=4)),
             EpisodePlan("loan-default", 1, f"replay:{write_notebook(tmp_path / 'now.ipynb', COPY)}",
                         out_dir=str(tmp_path / "runs"), limits=Limits(max_steps=4))]
    retried, done = [], []

    def on_retry(plan: EpisodePlan, failure: EpisodeFailure, attempt: int) -> None:
        retried.append((plan.seed, failure.error, attempt))
        write_notebook(notebook, COPY)

    outcomes = run_plans_on(plans, workers=2, retries=2, on_retry=on_retry,
                            on_done=lambda plan, outcome: done.append(plan.seed))
    assert [(seed, attempt) for seed, _, attempt in retried] == [(0, 2)]
    assert "later.ipynb" in retried[0][1]
    assert all(isinstance(o, EpisodeResult) and o.score is not None for o in outcomes), outcomes
    assert sorted(done) == [0, 1]  # each episode's final outcome is reported once

    # without retries the failure is the outcome
    notebook.unlink()
    (outcome,) = run_plans_on(plans[:1], workers=1)
    assert isinstance(outcome, EpisodeFailure) and "later.ipynb" in outcome.error


@pytest.mark.kernel
@pytest.mark.timeout(900)
def test_ctrl_c_leaves_the_jsonl_and_aggregates_and_resume_runs_only_the_rest(prepared_home, tmp_path):
    """Two competitions × seeds 0, 1: seed 0 finishes, seed 1 sleeps until a real SIGINT stops the batch.
    `--resume` then runs only the two interrupted episodes and reports all four."""
    from nbdojo.competitions import prepare

    prepare("penguins")
    replay = write_notebook(tmp_path / "agent.ipynb", SLEEP_ON_SEED_1)
    out = tmp_path / "runs"
    command = [sys.executable, "-m", "nbdojo.cli", "run", "loan-default", "penguins", "--agent", f"replay:{replay}",
               "--episodes", "2", "--workers", "2", "--max-steps", "4", "--out", str(out)]
    env = {**os.environ, "COLUMNS": "250"}
    proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    deadline = time.monotonic() + 600
    while len(list(out.glob("*/workspace/started"))) < 2:
        assert proc.poll() is None, proc.communicate()
        assert time.monotonic() < deadline, "the seed-1 episodes never started"
        time.sleep(0.3)
    proc.send_signal(signal.SIGINT)
    stdout, stderr = proc.communicate(timeout=180)
    assert proc.returncode == 130, stdout + stderr
    assert "Traceback" not in stdout + stderr and "batch interrupted (SIGINT)" in stdout, stdout + stderr
    jsonl = Path(re.search(r"summary (\S+\.jsonl)", stdout).group(1))
    rows = [json.loads(line) for line in jsonl.read_text().splitlines()]
    assert sorted((r["competition"], r["seed"], r.get("error")) for r in rows) == [
        ("loan-default", 0, None), ("loan-default", 1, "interrupted (SIGINT)"),
        ("penguins", 0, None), ("penguins", 1, "interrupted (SIGINT)")]
    summary = json.loads(Path(re.search(r"aggregates (\S+\.summary\.json)", stdout).group(1)).read_text())
    assert summary["interrupted"] == "SIGINT" and summary["came_back"] == 4
    assert {(a["competition"], a["finished"], a["failed"]) for a in summary["aggregates"]} == {
        ("loan-default", 1, 1), ("penguins", 1, 1), (OVERALL, 2, 2)}

    write_notebook(replay, COPY)  # the same agent (same path) now finishes at once
    proc = subprocess.run([*command, "--resume"], capture_output=True, text=True, env=env, timeout=600)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "resuming: 2 of 4 episodes already finished" in proc.stdout, proc.stdout
    assert len(re.findall(r"^\s+\S+ seed \d: score", proc.stdout, re.M)) == 2  # only the two left ran
    rows = [json.loads(line) for line in
            Path(re.search(r"summary (\S+\.jsonl)", proc.stdout).group(1)).read_text().splitlines()]
    assert [(r["competition"], r["seed"], "error" in r, bool(r.get("resumed"))) for r in rows] == [
        ("loan-default", 0, False, True), ("loan-default", 1, False, False),
        ("penguins", 0, False, True), ("penguins", 1, False, False)]
    assert len(list(out.glob("*/trajectory.ipynb"))) == 6  # 4 of the first batch (2 interrupted), 2 resumed
    summary = json.loads(Path(re.search(r"aggregates (\S+\.summary\.json)", proc.stdout).group(1)).read_text())
    cells = {a["competition"]: a for a in summary["aggregates"]}
    assert cells["penguins"]["finished"] == cells["loan-default"]["finished"] == 2 and cells[OVERALL]["k"] == 2
    assert "4/4 episodes finished" in proc.stdout


def test_without_ray_the_ray_backend_says_how_to_install_it_in_one_line(tmp_path):
    code = ("import sys; sys.modules['ray'] = None\nfrom nbdojo.cli import main\n"
            f"sys.exit(main(['run', 'penguins', '--backend', 'ray', '--out', {str(tmp_path / 'runs')!r}]))")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert proc.stderr.strip().splitlines() == ["error: the Ray backend needs Ray: pip install 'nbdojo[ray]'"]
    assert not (tmp_path / "runs").exists()
    code = "import sys; sys.modules['ray'] = None\nimport nbdojo\nnbdojo.remote_env('penguins')"
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert "pip install 'nbdojo[ray]'" in proc.stderr.strip().splitlines()[-1]


@pytest.mark.kernel
def test_a_batch_of_several_agents_is_aggregated_per_agent(prepared_home, tmp_path):
    """`--agent` twice: competitions × agents × seeds, and an aggregate row per agent and competition."""
    first, second = write_notebook(tmp_path / "a.ipynb", COPY), write_notebook(tmp_path / "b.ipynb", "x = 1", COPY)
    out = tmp_path / "runs"
    proc = subprocess.run([sys.executable, "-m", "nbdojo.cli", "run", "loan-default", "--agent", f"replay:{first}",
                           "--agent", f"replay:{second}", "--max-steps", "4", "--out", str(out)],
                          capture_output=True, text=True, env={**os.environ, "COLUMNS": "250"}, timeout=600)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    rows = [json.loads(line) for line in
            Path(re.search(r"summary (\S+\.jsonl)", proc.stdout).group(1)).read_text().splitlines()]
    assert [(r["plan"]["agent"], r["seed"], r["steps"]) for r in rows] == [(f"replay:{first}", 0, 3),
                                                                          (f"replay:{second}", 0, 4)]
    summary = json.loads(Path(re.search(r"aggregates (\S+\.summary\.json)", proc.stdout).group(1)).read_text())
    assert sorted((a["agent"], a["competition"], a["finished"]) for a in summary["aggregates"]) == [
        (f"replay:{first}", "loan-default", 1), (f"replay:{second}", "loan-default", 1)]


def test_run_pool_size_reaches_every_plan_of_a_batch(monkeypatch, tmp_path):
    """`nbdojo run ... --pool-size N` gives each local worker a warm pool: every plan carries N."""
    from typer.testing import CliRunner

    import nbdojo.cli.batch as cli_batch
    from nbdojo.cli import app

    seen: list[EpisodePlan] = []

    def fake_run_batch(plans, **options):
        seen.extend(plans)
        return 0

    monkeypatch.setattr(cli_batch, "run_batch", fake_run_batch)
    result = CliRunner().invoke(app, ["run", "penguins", "--episodes", "3", "--pool-size", "1", "--out",
                                      str(tmp_path)])
    assert result.exit_code == 0, result.output
    assert len(seen) == 3 and {plan.pool_size for plan in seen} == {1}
    refused = CliRunner().invoke(app, ["run", "penguins", "--episodes", "2", "--pool-size", "-1"])
    assert refused.exit_code != 0
