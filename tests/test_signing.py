"""Verifiable results: every grade nbdojo writes is signed; `compare`, `export` and `score` believe only those.

A notebook is anyone's to write: a result written by hand, altered after grading or copied from another
notebook must read as unverified and never be ranked. The real episode is the session's shared baseline run.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from nbdojo.tools.compare import collect, participants, ranked

pytestmark = pytest.mark.timeout(900)

NBDOJO = [sys.executable, "-m", "nbdojo.cli"]
GOLD = {"how": "submitted", "competition": "loan-default", "metric": "roc_auc", "higher_is_better": True,
        "score": 0.99, "part": "private", "position": 1, "leaderboard_size": 100, "human_rank": 1.0, "medal": "gold"}


def nbdojo(*args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "COLUMNS": "300"}  # rich tables unwrapped
    return subprocess.run([*NBDOJO, *args], capture_output=True, text=True, env=env, timeout=600)


def code_cell(source: str, **nbdojo_meta) -> dict:
    return {"cell_type": "code", "execution_count": None, "metadata": {"nbdojo": nbdojo_meta}, "outputs": [],
            "source": source}


def hand_written(path: Path, *, model: str = "gpt-forged", final: dict | None = None, **meta) -> Path:
    """A notebook of the shape nbdojo writes, claiming a gold result nbdojo never graded."""
    nb = {"nbformat": 4, "nbformat_minor": 5, "cells": [
        code_cell("import pandas as pd\npd.read_csv(f'{DATA_DIR}/test.csv').assign(default=0.5)"
                  ".to_csv('submission.csv')", step=1, action="execute_code", status="ok"),
        {**code_cell("from nbdojo.grading import grade", step=2, action="score", status="ok"),
         "metadata": {"tags": ["nbdojo-scorer"], "nbdojo": {"step": 2, "action": "score", "grade": GOLD}}},
    ], "metadata": {"nbdojo": {
        "version": "0.1.0", "competition": "loan-default", "agent": "llm", "model": model, "seed": 0,
        "started": "2026-01-01T10:00:00+00:00", "ended": "2026-01-01T10:20:00+00:00",
        "final": dict(final or GOLD), "usage": {"prompt_tokens": 0, "completion_tokens": 0, "cost": 0.0},
        **meta}}}
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(nb))
    return path


def edit(path: Path, change) -> Path:
    nb = json.loads(path.read_text())
    change(nb)
    path.write_text(json.dumps(nb))
    return path


@pytest.fixture
def baseline(baseline_cli_run, tmp_path) -> Path:
    """A copy of the session's baseline episode (`nbdojo run ... --agent baseline`) under tmp_path/runs."""
    _, path = baseline_cli_run
    copy = tmp_path / "runs" / path.parent.name / "trajectory.ipynb"
    copy.parent.mkdir(parents=True)
    shutil.copy(path, copy)
    return copy


def test_a_real_episode_is_verified(baseline_cli_run):
    _, path = baseline_cli_run
    runs = collect([path])
    assert [r.verified for r in runs] == [True]
    assert ranked(runs)["loan-default"] == runs and participants(runs)[0].runs == 1
    nb = json.loads(path.read_text())
    meta, scorer = nb["metadata"]["nbdojo"], nb["cells"][-1]["metadata"]["nbdojo"]
    assert meta["signature"]["alg"] == "hmac-sha256" and len(meta["signature"]["value"]) == 64
    assert scorer["grade"] == meta["final"] and scorer["signature"] == meta["signature"]  # the grade, signed once
    proc = nbdojo("compare", str(path), "-o", str(path.parent.parent / "report.html"))
    assert proc.returncode == 0, proc.stderr
    assert "baseline" in proc.stdout and "unverified" not in proc.stdout


def test_a_hand_written_gold_is_unverified_and_not_ranked(baseline, tmp_path):
    hand_written(tmp_path / "forged" / "run" / "trajectory.ipynb")
    runs = collect([tmp_path / "runs", tmp_path / "forged"])
    assert [r.participant for r in ranked(runs)["loan-default"]] == ["baseline"]  # 0.99 would rank first
    assert [p.name for p in participants(runs)] == ["baseline"]  # no gold counted, no average
    report = tmp_path / "report.html"
    proc = nbdojo("compare", str(tmp_path / "runs"), str(tmp_path / "forged"), "-o", str(report))
    assert proc.returncode == 0, proc.stderr
    shown, _, apart = proc.stdout.partition("unverified results")
    assert "baseline" in shown and "gpt-forged" not in shown and "gold" not in shown
    assert "llm · gpt-forged" in apart and "0.99" in apart and "unverified: unsigned" in apart
    top, _, bottom = report.read_text().partition("id='unverified'")
    assert "gpt-forged" not in top and "llm · gpt-forged" in bottom and "unverified: unsigned" in bottom
    as_json = nbdojo("compare", str(tmp_path / "runs"), str(tmp_path / "forged"), "-o", str(report), "--json")
    assert as_json.returncode == 0, as_json.stderr
    data = json.loads(as_json.stdout)
    shown = {r["participant"]: (r["verified"], r["ranked"], r["medal"]) for r in data["runs"]}
    assert shown["llm · gpt-forged"] == (False, False, "gold") and shown["baseline"][:2] == (True, True)
    assert [p["name"] for p in data["participants"]] == ["baseline"]


def test_altering_a_signed_result_makes_it_unverified(baseline):
    original = baseline.read_text()
    runs = collect([edit(baseline, lambda nb: nb["metadata"]["nbdojo"]["final"].update(
        score=0.99, human_rank=1.0, medal="gold"))])
    assert ranked(runs) == {} and participants(runs) == []  # not ranked, in no average
    assert not runs[0].verified and runs[0].medal == "gold"
    assert runs[0].trust == "altered, or copied from another notebook"
    for change in (
        lambda nb: nb["metadata"]["nbdojo"].update(model="gpt-5"),  # someone else's result
        lambda nb: nb["metadata"]["nbdojo"].update(seed=1),
        lambda nb: next(c for c in nb["cells"] if c["cell_type"] == "code"
                        and c["metadata"]["nbdojo"].get("action") == "execute_code")["source"].append("\n# better"),
    ):
        baseline.write_text(original)
        assert not collect([edit(baseline, change)])[0].verified
    baseline.write_text(original)
    assert collect([baseline])[0].verified  # as signed, it verifies again


def test_a_signature_copied_into_another_notebook_is_unverified(baseline, tmp_path):
    real = json.loads(baseline.read_text())["metadata"]["nbdojo"]
    # the signed grade and its signature, pasted into a hand-written notebook
    pasted = hand_written(tmp_path / "forged" / "a" / "trajectory.ipynb", final=real["final"],
                          signature=real["signature"], run_id=real["run_id"])
    # the whole signed metadata, on other code
    whole = hand_written(tmp_path / "forged" / "b" / "trajectory.ipynb")
    edit(whole, lambda nb: nb["metadata"].update(nbdojo=real))
    # the notebook itself, copied: one result counts once
    twin = tmp_path / "forged" / "c" / "trajectory.ipynb"
    twin.parent.mkdir()
    shutil.copy(baseline, twin)
    runs = {r.path: r for r in collect([tmp_path / "runs", tmp_path / "forged"])}
    assert [r.path for r in ranked(list(runs.values()))["loan-default"]] == [twin]
    assert not runs[pasted].verified and not runs[whole].verified
    assert [r.verified for r in (runs[baseline], runs[twin])] == [False, True]  # sorted by path: forged/c first
    assert runs[baseline].trust == f"a copy of {twin}"
    assert participants(list(runs.values()))[0].runs == 1


def test_export_marks_every_record_and_verified_only_drops_the_forged_one(baseline, tmp_path):
    forged = tmp_path / "forged" / "run" / "trajectory.ipynb"
    forged.parent.mkdir(parents=True)
    shutil.copy(baseline, forged)
    edit(forged, lambda nb: nb["metadata"]["nbdojo"].update(agent="llm", model="gpt-forged", final=GOLD))
    everything = tmp_path / "all.jsonl"
    proc = nbdojo("export", str(tmp_path / "runs"), str(forged), "-f", "rl", "-o", str(everything), "--keep-duplicates")
    assert proc.returncode == 0, proc.stderr
    assert "1 of them unverified" in proc.stderr
    rows = {r["metadata"]["model"]: r["metadata"] for r in map(json.loads, everything.read_text().splitlines())}
    assert {m: r["verified"] for m, r in rows.items()} == {None: True, "gpt-forged": False}
    kept = tmp_path / "verified.jsonl"
    proc = nbdojo("export", str(tmp_path / "runs"), str(forged), "-f", "sft", "-o", str(kept), "--verified-only",
                  "--keep-duplicates")
    assert proc.returncode == 0, proc.stderr
    rows = [json.loads(line)["metadata"] for line in kept.read_text().splitlines()]
    assert [(r["agent"], r["verified"]) for r in rows] == [("baseline", True)] and "1 filtered out" in proc.stdout


def test_score_replaces_a_claimed_result_with_a_signed_grade(loan_default_data, tmp_path, monkeypatch):
    from nbdojo.tools.play import play

    monkeypatch.setenv("JUPYTER_DATA_DIR", str(tmp_path / "jupyter"))  # the play's kernel spec goes there
    made = play("loan-default", out=tmp_path / "plays", name="mallory")
    shutil.copy(loan_default_data.sample_submission_path, made.workspace / "submission.csv")
    path = edit(made.notebook, lambda nb: nb["metadata"]["nbdojo"].update(final=GOLD))  # claimed, never graded
    assert [r.verified for r in collect([path])] == [False] and participants(collect([path])) == []
    proc = nbdojo("score", str(path))
    assert proc.returncode == 0, proc.stderr
    assert "earlier result was unverified (unsigned)" in proc.stdout and "result signed: verified" in proc.stdout
    run = collect([path])[0]
    assert run.verified and run.participant == "mallory (human)" and run.score != 0.99
    assert [p.name for p in participants([run])] == ["mallory (human)"]


def test_the_key_is_made_once_private_and_racing_processes_agree(tmp_path):
    home, go = tmp_path / "home", tmp_path / "go"
    script = ("import sys, time, pathlib\nfrom nbdojo.grading import signing\n"
              "pathlib.Path(sys.argv[1]).touch()\n"
              "while not pathlib.Path(sys.argv[2]).exists(): time.sleep(0.001)\n"
              "print(signing.load_key().hex())")
    env = {**os.environ, "NBDOJO_HOME": str(home)}
    procs = [subprocess.Popen([sys.executable, "-c", script, str(tmp_path / f"ready-{i}"), str(go)], env=env,
                              stdout=subprocess.PIPE, text=True) for i in range(8)]
    deadline = time.monotonic() + 120
    while not all((tmp_path / f"ready-{i}").exists() for i in range(8)) and time.monotonic() < deadline:
        time.sleep(0.01)
    go.touch()  # all eight make the key at once
    keys = {p.communicate(timeout=120)[0].strip() for p in procs}
    assert all(p.returncode == 0 for p in procs)
    key = home / "signing.key"
    assert len(keys) == 1 and bytes.fromhex(keys.pop()) == key.read_bytes() and len(key.read_bytes()) == 32
    assert key.stat().st_mode & 0o777 == 0o600 and sorted(p.name for p in home.iterdir()) == ["signing.key"]


def test_a_reader_makes_no_key_and_believes_nothing_without_one(tmp_path, monkeypatch):
    from nbdojo.grading import signing

    monkeypatch.setenv("NBDOJO_HOME", str(tmp_path / "home-a"))
    identity = {"run_id": "r", "competition": "loan-default"}
    signature = signing.sign(GOLD, identity)
    assert signing.verify(GOLD, identity, signature)
    assert not signing.verify({**GOLD, "score": 0.991}, identity, signature)
    assert not signing.verify(GOLD, {**identity, "run_id": "s"}, signature)
    flipped = signature[:-1] + ("1" if signature.endswith("0") else "0")
    assert not signing.verify(GOLD, identity, None) and not signing.verify(GOLD, identity, flipped)
    monkeypatch.setenv("NBDOJO_HOME", str(tmp_path / "home-b"))  # another home: another key, or none
    assert not signing.verify(GOLD, identity, signature) and not (tmp_path / "home-b").exists()


@pytest.mark.kernel
def test_no_kernel_sees_the_key(loan_default_data, tmp_path):
    """The key sits in nbdojo's home; the sandbox binds only the public data folder below it."""
    from nbdojo.env import DojoEnv
    from nbdojo.grading.signing import key_path, load_key

    load_key()
    code = (f"import os\nprint('key visible:', os.path.exists({str(key_path())!r}))\n"
            f"print('home holds:', sorted(os.listdir({str(key_path().parent)!r})))")
    with DojoEnv("loan-default", out_dir=tmp_path, agent="prober") as env:
        env.reset(seed=0)
        obs, *_ = env.step({"action": "execute_code", "code": code})
    assert "key visible: False" in obs and "home holds: ['data']" in obs, obs
