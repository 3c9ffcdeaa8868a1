"""`nbdojo compare` on hand-made notebooks of the shapes nbdojo writes (fast; the report checked in a real browser)."""

from __future__ import annotations

import json
import math
import os
from pathlib import Path

import pytest
from nbformat.v4 import new_code_cell

from nbdojo.tools.compare import (
    collect,
    participants,
    ranked,
    read_run,
    render_html,
    summary_table,
)
from nbdojo.trajectory import Trajectory

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]


@pytest.fixture(autouse=True)
def home(tmp_path, monkeypatch):
    """nbdojo's home (its signing key) in tmp_path, not the user's."""
    monkeypatch.setenv("NBDOJO_HOME", str(tmp_path / "nbdojo-home"))


def final(score: float, human_rank: float, medal: str, competition: str = "loan-default") -> dict:
    return {"how": "submitted", "competition": competition, "metric": "roc_auc", "higher_is_better": True,
            "score": score, "part": "private", "position": 3, "leaderboard_size": 30, "human_rank": human_rank,
            "medal": medal}


def agent_run(folder: Path, name: str, *, agent: str, model: str | None, grade: dict | None, public: list[float],
              tokens: int = 0, cost: float = 0.0, competition: str = "loan-default", errors: int = 0,
              seed: int = 0) -> Path:
    traj = Trajectory(folder / name / "trajectory.ipynb", {"competition": competition, "agent": agent,
                                                           "model": model, "seed": seed})
    traj.meta["started"] = "2026-01-01T10:00:00+00:00"  # before grading: the start is signed with the grade
    step = 0
    for i in range(errors + 2):
        step += 1
        traj.add_code("x = 1", step=step, action="execute_code", status="error" if i < errors else "ok",
                      started="2026-01-01T10:00:00+00:00", duration_s=1.0, outputs=[], execution_count=step)
    for value in public:
        step += 1
        traj.add_markdown("**validate**", step=step, action="validate", status="ok", public_score=value)
    if grade is not None:
        step += 1
        traj.add_scorer(competition, "report", step=step, grade=grade)
    traj.finish(grade)
    traj.meta["ended"] = "2026-01-01T10:05:00+00:00"
    traj.set_usage({"prompt_tokens": tokens, "completion_tokens": 0, "cost": cost})
    return traj.save()


def person_run(folder: Path, name: str, grade: dict | None) -> Path:
    traj = Trajectory(folder / name / "loan-default.ipynb",
                      {"competition": "loan-default", "agent": "human", "participant": name, "model": None})
    traj.nb.cells.append(new_code_cell("print(1)"))
    if grade is not None:
        traj.add_scorer("loan-default", "report", step=2, grade=grade)
        traj.meta.update({"cells_run": 1, "errors": 0, "wall_time_s": 90.0})
    traj.finish(grade)
    return traj.save()


@pytest.fixture
def runs(tmp_path: Path) -> Path:
    agent_run(tmp_path / "runs", "a1", agent="llm", model="m1", grade=final(0.80, 0.9, "gold"), public=[0.7, 0.78],
              tokens=1000, cost=0.5, errors=1)
    agent_run(tmp_path / "runs", "a2", agent="llm", model="m1", grade=final(0.70, 0.3, "none"), public=[])
    agent_run(tmp_path / "runs", "a3", agent="llm", model="m1", grade=None, public=[])  # closed before submitting
    agent_run(tmp_path / "runs", "b1", agent="baseline", model=None, grade=final(0.75, 0.6, "above_median"),
              public=[0.74])
    person_run(tmp_path / "plays", "alice", final(0.85, 0.95, "gold"))
    person_run(tmp_path / "plays", "bob", None)  # still playing: not a run yet
    # not runs: a replay, a notebook an agent wrote in its workspace, a checkpoint
    replay = json.loads((tmp_path / "runs" / "a1" / "trajectory.ipynb").read_text())
    replay["metadata"]["nbdojo"]["replay_of"] = "elsewhere"
    (tmp_path / "runs" / "a1" / "trajectory.replay.ipynb").write_text(json.dumps(replay))
    (tmp_path / "runs" / "a1" / "workspace").mkdir()
    (tmp_path / "runs" / "a1" / "workspace" / "forged.ipynb").write_text(json.dumps(replay | {"metadata": {
        "nbdojo": {"competition": "loan-default", "agent": "human", "final": final(1.0, 1.0, "gold")}}}))
    return tmp_path


def test_collect_reads_agents_and_scored_people_only(runs):
    found = collect([runs / "runs", runs / "plays", runs / "runs" / "a1" / "trajectory.ipynb"])
    assert sorted(r.participant for r in found) == ["alice (human)", "baseline", "llm · m1", "llm · m1", "llm · m1"]
    a1 = next(r for r in found if r.path.parent.name == "a1")
    assert a1.steps == 6 and a1.errors == 1 and a1.tokens == 1000 and a1.cost == 0.5 and a1.wall_time_s == 300
    assert a1.curve == [(4, 0.7, "public"), (5, 0.78, "public"), (6, 0.8, "final")]
    quitter = next(r for r in found if r.path.parent.name == "a3")
    assert quitter.status == "no submission" and quitter.human_rank == 0.0 and quitter.score is None
    alice = next(r for r in found if r.kind == "human")
    assert alice.steps == 1 and alice.wall_time_s == 90.0 and alice.position == 3 and alice.entries == 31


def test_participants_mean_human_rank_and_medal_rate(runs):
    rows = {p.name: p for p in participants(collect([runs]))}
    assert rows["llm · m1"].runs == 3 and rows["llm · m1"].mean_human_rank == pytest.approx((0.9 + 0.3 + 0.0) / 3)
    assert rows["llm · m1"].medal_rate == pytest.approx(1 / 3)  # above_median is no medal
    assert rows["baseline"].medal_rate == 0 and rows["alice (human)"].medal_rate == 1
    assert [p.name for p in participants(collect([runs]))][0] == "alice (human)"  # best mean HumanRank first


def test_no_leaderboard_means_no_human_rank(tmp_path):
    nan_grade = final(0.3, math.nan, "none", competition="penguins")
    path = agent_run(tmp_path, "p", agent="baseline", model=None, grade=nan_grade, public=[], competition="penguins")
    run = read_run(path)
    assert run.human_rank is None and participants([run])[0].mean_human_rank is None


def test_best_score_first_and_terminal_tables(runs):
    group = ranked(collect([runs]))["loan-default"]
    assert [r.score for r in group] == [0.85, 0.80, 0.75, 0.70, None]
    tables = summary_table(collect([runs]))
    assert [t.title for t in tables] == ["loan-default (roc_auc)", "participants"]


def test_terminal_tables_fit_80_columns_and_never_cut_a_score(runs):
    from rich.console import Console

    console = Console(width=80, record=True, file=open(os.devnull, "w"))  # noqa: SIM115
    for table in summary_table(collect([runs]), width=80):
        console.print(table)
    text = console.export_text()
    assert max(map(len, text.splitlines())) <= 80
    assert "…" not in text  # nothing cut: optional columns were dropped instead
    for score in ("0.85", "0.8", "0.75", "0.7"):
        assert score in text


def test_human_rank_across_competitions_is_labelled_and_kept_apart(tmp_path):
    agent_run(tmp_path, "l", agent="llm", model="m1", grade=final(0.8, 0.9, "gold"), public=[])
    agent_run(tmp_path, "l2", agent="llm", model="m1", grade=final(0.7, 0.5, "none"), public=[], seed=1)
    agent_run(tmp_path, "p", agent="llm", model="m1", grade=final(0.6, 0.2, "none", competition="penguins"),
              public=[], competition="penguins")
    row = participants(collect([tmp_path]))[0]
    assert row.human_ranks == pytest.approx({"loan-default": 0.7, "penguins": 0.2})
    assert row.mean_human_rank == pytest.approx(0.45)  # each competition weighs the same, whatever its runs
    html = render_html(collect([tmp_path]), tmp_path / "report.html").read_text()
    assert "45.0% (mean HumanRank over 2 competitions)" in html
    assert "<th>HumanRank · loan-default</th>" in html and "<td>70.0%</td>" in html and "<td>20.0%</td>" in html


@pytest.fixture
def report_runs(tmp_path: Path) -> Path:
    """Runs on two competitions: three seeds of one agent and model, a baseline, a person; one short episode."""
    grade = final
    agent_run(tmp_path / "runs", "s0", agent="llm", model="m1", grade=grade(0.80, 0.9, "gold"), public=[0.7, 0.78])
    agent_run(tmp_path / "runs", "s1", agent="llm", model="m1", grade=grade(0.72, 0.4, "none"), public=[0.6, 0.71],
              seed=1)
    agent_run(tmp_path / "runs", "s2", agent="llm", model="m2", grade=grade(0.70, 0.3, "none"), public=[], seed=2)
    agent_run(tmp_path / "runs", "b", agent="baseline", model=None, grade=grade(0.75, 0.6, "above_median"),
              public=[0.74])
    person_run(tmp_path / "plays", "alice", grade(0.85, 0.95, "gold"))
    penguins = grade(0.9, 0.5, "none", competition="penguins")
    agent_run(tmp_path / "runs", "p", agent="llm", model="m1", grade=penguins, public=[0.8], competition="penguins",
              )  # validate at step 3, final at 4: a one-step axis, where matplotlib would tick 3.0, 3.2, ...
    return tmp_path


READ_CHARTS = """() => [...document.querySelectorAll('svg.chart')].map(svg => {
  const id = svg.dataset.chart;
  const box = el => { const r = el.getBoundingClientRect(); return [r.left, r.right, (r.left + r.right) / 2]; };
  const group = (kind, i) => document.getElementById(`${id}-${kind}-${i}`);
  const legend = document.getElementById(`${id}-legend`);
  const steps = document.getElementById(`${id}-steps`);
  const runs = [];
  for (let i = 0; group('public', i) || group('final', i); i++) {
    const line = group('public', i) && group('public', i).querySelector('path');
    runs.push({
      points: line ? (line.getAttribute('d').match(/[ML]/g) || []).length : 0,
      line: line ? box(line) : null,
      final: group('final', i) ? box(group('final', i)) : null,
    });
  }
  return {
    id,
    legend: legend ? [...legend.querySelectorAll('text')].map(t => t.textContent) : [],
    ticks: steps ? [...steps.querySelectorAll('g[id*="xtick_"] text')].map(t => t.textContent) : [],
    runs,
  };
})"""


@pytest.mark.browser
def test_html_report_tells_runs_apart_and_keeps_the_final_score_apart(report_runs, tmp_path):
    from playwright.sync_api import sync_playwright

    report = render_html(collect([report_runs]), tmp_path / "out" / "report.html")
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1200, "height": 900})
            page.goto(report.as_uri())
            charts = {c["id"]: c for c in page.evaluate(READ_CHARTS)}
            headers = page.eval_on_selector_all("th", "ths => ths.map(t => t.textContent)")
            cells = page.eval_on_selector_all("td", "tds => tds.map(t => t.textContent)")
            page.screenshot(path=os.environ.get("NBDOJO_REPORT_SCREENSHOT", str(tmp_path / "report.png")),
                            full_page=True)
        finally:
            browser.close()
    assert set(charts) == {"human-rank", "curve-loan-default", "curve-penguins"}
    loan = charts["curve-loan-default"]
    # every legend entry names agent, model and seed (a person: their name); the two m1 seeds differ
    assert loan["legend"] == ["agent · model · seed", "alice (human)", "baseline · no model · seed 0",
                              "llm · m1 · seed 0", "llm · m1 · seed 1", "llm · m2 · seed 2"]
    for chart in ("curve-loan-default", "curve-penguins"):
        ticks = charts[chart]["ticks"]
        assert ticks and all(t.isdigit() for t in ticks), ticks  # whole steps only: no 1.5
    assert charts["curve-penguins"]["ticks"] == ["3", "4"]
    # the public-score line stops at the last validate: the final score is a marker of its own, further right
    for i, run in enumerate(loan["runs"]):
        assert run["final"] is not None
        if run["line"]:
            assert run["line"][1] < run["final"][2] - 5, (i, run)
    assert [r["points"] for r in loan["runs"]] == [0, 1, 2, 2, 0]  # as many vertices as validate scores
    # HumanRank: per competition beside a mean that says what it averages; the bars never pool competitions
    assert "HumanRank · loan-default" in headers and "HumanRank · penguins" in headers
    assert "mean HumanRank" not in headers
    assert any("(mean HumanRank over 2 competitions)" in c for c in cells)
    assert charts["human-rank"]["legend"] == ["competition", "loan-default", "penguins"]
    assert "llm · m1 · seed 1" in cells  # run tables name the seed too


@pytest.mark.browser
def test_html_report_renders_its_charts(runs, tmp_path):
    from playwright.sync_api import sync_playwright

    report = render_html(collect([runs]), tmp_path / "out" / "report.html")
    html = report.read_text()
    assert html.count('<svg class="chart"') == 2 and "alice (human)" in html
    assert "../runs/a1/trajectory.ipynb" in html  # notebooks linked relative to the report
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page()
            page.goto(report.as_uri())
            widths = page.eval_on_selector_all("svg.chart", "svgs => svgs.map(s => s.getBoundingClientRect().width)")
        finally:
            browser.close()
    assert len(widths) == 2 and all(w > 100 for w in widths)


def test_hostile_notebooks_are_read_without_failing(tmp_path):
    """A notebook handed to compare is untrusted: malformed records read as nothing, absurd numbers as none."""
    evil = [
        {"competition": ["x"], "agent": "llm", "final": "gold"},
        {"competition": "loan-default", "agent": "llm", "model": ["m"], "seed": {"s": 1}, "ended": None,
         "final": {"score": "9" * 10_000, "human_rank": 1e999, "medal": "gold" * 1000}, "cells_run": "many",
         "host": {"pid": 2**70, "start_time": "x"}},
    ]
    for i, meta in enumerate(evil):
        cells = [{"cell_type": "code", "source": "x", "metadata": {"nbdojo": "not a dict"}, "outputs": [],
                  "execution_count": None},
                 {"cell_type": "markdown", "source": "", "metadata": {"nbdojo": {
                     "step": 10**30, "action": "validate", "public_score": 1e308}}}, "not a cell"]
        folder = tmp_path / "runs" / f"r{i}"
        folder.mkdir(parents=True)
        (folder / "trajectory.ipynb").write_text(json.dumps(
            {"cells": cells, "metadata": {"nbdojo": meta}, "nbformat": 4, "nbformat_minor": 5}))
    runs = collect([tmp_path / "runs"])
    assert [r.competition for r in runs] == ["loan-default"]
    assert runs[0].curve == [] and not runs[0].verified and len(runs[0].medal) <= 40
    render_html(runs, tmp_path / "report.html")
    assert (tmp_path / "report.html").is_file()
    assert summary_table(runs, width=80)


def test_a_participant_named_in_markup_or_escape_codes_is_shown_as_plain_text(tmp_path, home):
    """A person's notebook names its author: `[/]` must not crash the table, nor an escape code reach the terminal."""
    from rich.console import Console

    name = "[/][link=file:///etc/shadow]click\x1b[2J\x07[/link]"
    person_run(tmp_path, name, final(0.8, 0.5, "bronze"))
    console = Console(width=200, record=True, file=open(os.devnull, "w"))  # noqa: SIM115
    for table in summary_table(collect([tmp_path])):
        console.print(table)
    text = console.export_text()
    assert "[/][link=file:///etc/shadow]click[2J[/link] (human)" in text.replace("\n", "")
    assert "\x1b" not in console.export_text(styles=False) and "\x07" not in text


def test_a_notebook_nested_too_deep_is_skipped_not_a_traceback(tmp_path):
    """A hand-made notebook nested past Python's recursion limit: runs, compare and export skip it in one line."""
    from typer.testing import CliRunner

    from nbdojo.cli import app

    run = tmp_path / "runs" / "deep"
    run.mkdir(parents=True)
    (run / "trajectory.ipynb").write_text('{"cells": [], "metadata": {"nbdojo": ' + "[" * 100_000 + "]" * 100_000
                                          + '}, "nbformat": 4, "nbformat_minor": 5}')
    for args in (["runs", str(tmp_path / "runs")], ["compare", str(tmp_path / "runs")],
                 ["export", str(tmp_path / "runs"), "--format", "sft", "-o", str(tmp_path / "out.jsonl")]):
        result = CliRunner().invoke(app, args)
        assert not isinstance(result.exception, RecursionError), (args, result.output)
        assert "Traceback" not in result.output, (args, result.output)
