"""The run list of `nbdojo watch` (`nbdojo.tools.lab_runs`) on hand-made run folders: which runs it finds, which
it calls live, and what an agent's files cannot make it show (fast; the page itself is served in test_watch)."""

from __future__ import annotations

import json
import os
from pathlib import Path

from nbdojo.tools.lab_runs import list_runs, render


def make_run(folder: Path) -> Path:
    (folder / "workspace").mkdir(parents=True)
    (folder / "trajectory.ipynb").write_text("{}")
    return folder


def test_runs_live_first_with_batches_and_no_agent_made_runs(tmp_path):
    old = make_run(tmp_path / "old-run")
    os.utime(old / "trajectory.ipynb", (1, 1))
    live = make_run(tmp_path / "batch-1" / "live-run")
    make_run(tmp_path / "new-run")
    # what an agent can write: a run-shaped folder in its workspace (even before its run has a notebook),
    # and a link out of it
    make_run(tmp_path / "starting" / "workspace" / "fake-run")
    make_run(live / "workspace" / "fake-run")
    (tmp_path / "linked").symlink_to(tmp_path / "new-run")
    (tmp_path / ".kernels").mkdir()
    (tmp_path / ".kernels" / "batch-1__live-run.json").write_text(json.dumps({"nbdojo_run": str(live), "key": "k"}))

    runs = list_runs(tmp_path)
    assert [(r.path, r.live) for r in runs] == [("batch-1/live-run", True), ("new-run", False), ("old-run", False)]


def test_run_names_are_escaped(tmp_path):
    make_run(tmp_path / "<img src=x onerror=alert(1)>")
    page = render(list_runs(tmp_path), "/")
    assert "<img" not in page and "&lt;img src=x onerror=alert(1)&gt;" in page
    assert 'href="/lab/tree/%3Cimg%20src%3Dx%20onerror%3Dalert%281%29%3E/trajectory.ipynb"' in page
