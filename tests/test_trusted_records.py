"""Only registered competitions, and only trusted records (issue 10, point 2).

`score` and `replay` take the workspace, the competition and the limits from nbdojo's own
record of the play or run (`nbdojo.records`), never from the notebook; a competition id
from anywhere names a registered competition or nothing; a replay is never less capped
than nbdojo's defaults.
"""

from __future__ import annotations

import copy
import json
import os
import shutil
import subprocess
import sys
from dataclasses import asdict
from pathlib import Path

import nbformat
import pytest
import yaml

from nbdojo.competitions import CompetitionSpec, get_competition
from nbdojo.config import competitions_dir
from nbdojo.env import Limits
from nbdojo.errors import ConfigError, SubmissionError, UnknownCompetitionError
from nbdojo.tools.play import notebook_parameters, play, score
from nbdojo.records import find_record
from nbdojo.tools.replay import replay_notebook

NBDOJO = [sys.executable, "-m", "nbdojo.cli"]
GIB = 1024**3


@pytest.fixture(autouse=True)
def jupyter_data(tmp_path, monkeypatch):
    """Play kernel specs go to a temp Jupyter data dir, not the user's."""
    monkeypatch.setenv("JUPYTER_DATA_DIR", str(tmp_path / "jupyter-data"))


@pytest.fixture
def marker(tmp_path) -> Path:
    return tmp_path / "HOST-CODE-RAN"


def craft_competition(root: Path, marker: Path) -> Path:
    """What a play's kernel can write in its workspace: a folder named like a prepared competition, whose
    competition.yaml names its own grader; its grader.py and prepare.py leave `marker` when imported."""
    folder = root / "loan-default"
    folder.mkdir(parents=True)
    real = yaml.safe_load((competitions_dir() / "loan-default" / "competition.yaml").read_text())
    (folder / "competition.yaml").write_text(yaml.safe_dump({**real, "grader": "grader:grade"}))
    code = f"open({str(marker)!r}, 'a').write('host code ran\\n')\n"
    (folder / "grader.py").write_text(code + "def grade(submission, answers):\n    return 1.0\n")
    (folder / "prepare.py").write_text(code + "def prepare(public_dir, private_dir, seed):\n    pass\n")
    shutil.copy(competitions_dir() / "loan-default" / "leaderboard.csv", folder / "leaderboard.csv")
    return folder


def new_play(tmp_path: Path, name: str, **kwargs):
    return play("loan-default", out=tmp_path / "plays", name=name, **kwargs)


def submit(data, workspace: Path) -> None:
    """The person's (or agent's) submission, written as their kernel would: the sample submission."""
    shutil.copy(data.sample_submission_path, workspace / "submission.csv")


def edit(path: Path, *, meta: dict | None = None, params: dict | None = None, to: Path | None = None) -> Path:
    """A person editing their notebook: metadata.nbdojo and the parameters cell say what they like."""
    nb = nbformat.read(str(path), as_version=4)
    nb.metadata["nbdojo"].update(meta or {})
    if params:
        cell = next(c for c in nb.cells if "parameters" in (c.metadata.get("tags") or []))
        cell.source += "".join(f"\n{key} = {value!r}" for key, value in params.items())
    target = to or path
    nbformat.write(nb, str(target))
    return target


def one_line_error(proc: subprocess.CompletedProcess) -> str:
    assert proc.returncode == 1, proc.stdout + proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error:"), proc.stderr
    return lines[0]


def nbdojo(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([*NBDOJO, *args], capture_output=True, text=True, timeout=300, env=os.environ.copy())


# ----- competition ids: the registry only ------------------------------------------------------------------

def test_a_crafted_competition_folder_is_never_a_competition(loan_default_data, tmp_path, marker):
    crafted = craft_competition(tmp_path / "workspace", marker)
    relative = os.path.relpath(crafted, competitions_dir())
    for cid in (str(crafted), relative, f"{crafted}/", str(crafted / ".." / "loan-default")):
        with pytest.raises(UnknownCompetitionError) as info:
            get_competition(cid)
        assert "\n" not in str(info.value) and "is not a competition id" in str(info.value)
    assert not marker.exists()


@pytest.mark.parametrize("cid", ["../x", "a/b", "a\\b", "x\x00y", "..", "a..b", "", ".hidden", "x" * 101, "x\ny"])
def test_malformed_ids_are_refused_in_one_line(prepared_home, cid):
    with pytest.raises(UnknownCompetitionError) as info:
        get_competition(cid)
    assert "\n" not in str(info.value) and "is not a competition id" in str(info.value)
    with pytest.raises(ConfigError, match="is not a competition id"):
        CompetitionSpec(id=cid, title="t", category="tabular", metric="rmse", higher_is_better=False, id_column="id",
                        target_columns=["y"], task="regression", prediction="value", split_seed=1, source="test")


def test_the_api_refuses_a_path_as_a_competition(loan_default_data, tmp_path, monkeypatch, marker):
    import nbdojo

    comps = tmp_path / "competitions"
    shutil.copytree(competitions_dir() / "loan-default", comps / "loan-default")
    (tmp_path / "x").mkdir()
    real = yaml.safe_load((comps / "loan-default" / "competition.yaml").read_text())
    (tmp_path / "x" / "competition.yaml").write_text(yaml.safe_dump({**real, "id": "x", "grader": "grader:grade"}))
    monkeypatch.setenv("NBDOJO_COMPETITIONS_DIR", str(comps))  # so "../x" is a folder with a competition.yaml
    with pytest.raises(UnknownCompetitionError, match="is not a competition id") as info:
        env = nbdojo.make("../x", out_dir=tmp_path / "runs")
        env.close()
    assert "\n" not in str(info.value)
    assert nbdojo.make("loan-default", out_dir=tmp_path / "runs").competition.id == "loan-default"


def test_adding_a_competition_under_a_path_id_is_refused(prepared_home, tmp_path):
    from nbdojo.competitions import add_competition

    with pytest.raises(ConfigError, match="is not a competition id"):
        add_competition(tmp_path, competition_id="../../etc")


# ----- score: the play's own workspace and competition -----------------------------------------------------

@pytest.mark.slow  # the real CLI, in subprocesses
def test_score_never_imports_a_competition_the_notebook_names(loan_default_data, tmp_path, marker):
    started = new_play(tmp_path, "mallory")
    crafted = craft_competition(started.workspace / "evil", marker)  # the play's kernel can write this
    submit(loan_default_data, started.workspace)
    edit(started.notebook, meta={"competition": str(crafted)})
    result = score(started.notebook)
    assert result.final["competition"] == "loan-default" and result.meta["competition"] == "loan-default"
    assert not marker.exists()
    line = one_line_error(nbdojo("score", str(started.notebook), "--competition", str(crafted)))
    assert "is not a competition id" in line
    assert not marker.exists()


@pytest.mark.slow  # the real CLI, in subprocesses
def test_score_grades_only_the_plays_own_workspace(loan_default_data, tmp_path):
    alice, bob = new_play(tmp_path, "alice"), new_play(tmp_path, "bob")
    submit(loan_default_data, alice.workspace)  # alice submitted; bob did not
    edit(bob.notebook, meta={"workspace": str(alice.workspace)}, params={"WORKSPACE": str(alice.workspace)})
    assert notebook_parameters(nbformat.read(str(bob.notebook), as_version=4))["WORKSPACE"] == str(alice.workspace)
    before = bob.notebook.read_text()
    with pytest.raises(SubmissionError):
        score(bob.notebook)  # bob's own workspace holds nothing: alice's submission is not his
    assert bob.notebook.read_text() == before
    proc = nbdojo("score", str(bob.notebook))
    assert proc.returncode == 1 and "HumanRank" not in proc.stdout
    # a copy of alice's notebook is no play of nbdojo's: no workspace is its own, nothing is graded
    copied = tmp_path / "mine.ipynb"
    shutil.copy(alice.notebook, copied)
    line = one_line_error(nbdojo("score", str(copied)))
    assert "no record" in line and "nbdojo replay" in line
    assert score(alice.notebook).final["score"] is not None  # alice's own notebook still grades
    # bob's kernel links his submission to alice's file (it cannot read it; the host could): refused
    (bob.workspace / "submission.csv").symlink_to(alice.workspace / "submission.csv")
    with pytest.raises(SubmissionError, match="symbolic link"):
        score(bob.notebook)


def test_score_records_the_plays_limits_not_the_edited_ones(loan_default_data, tmp_path):
    started = new_play(tmp_path, "carol")
    submit(loan_default_data, started.workspace)
    edit(started.notebook, meta={"limits": {"memory_bytes": None}, "kernel": "not-the-play-kernel"})
    result = score(started.notebook)
    assert result.meta["limits"] == asdict(Limits()) and result.meta["workspace"] == str(started.workspace)
    record = find_record(started.notebook)
    assert record.kind == "play" and record.workspace == started.workspace and record.competition == "loan-default"


# ----- replay: registered competitions, capped at nbdojo's defaults ----------------------------------------

@pytest.fixture
def fake_papermill(monkeypatch, loan_default_data):
    """papermill without a kernel: what replay hands it (parameters, timeout, kernel policy) is captured,
    and the 'run' writes a valid submission into the replay's workspace."""
    import papermill

    seen: dict = {}

    def execute_notebook(nb, output_path, *, parameters, kernel_name, **kwargs):
        seen.update(kwargs, parameters=parameters, kernel_name=kernel_name)
        timeout_of = kwargs.get("timeout_func") or (lambda cell: kwargs.get("execution_timeout"))
        seen["cell_timeout"] = timeout_of(nbformat.v4.new_code_cell("1"))
        if "kernel_manager_class" in kwargs:
            spec = kwargs["kernel_manager_class"]().kernel_spec_manager.get_kernel_spec(kernel_name)
            seen["policy"] = json.loads(spec.argv[spec.argv.index("--policy") + 1])
        submit(loan_default_data, Path(parameters["WORKSPACE"]))
        nbformat.write(copy.deepcopy(nb), output_path)

    monkeypatch.setattr(papermill, "execute_notebook", execute_notebook)
    return seen


UNCAPPED = {"memory_bytes": None, "max_processes": None, "disk_bytes": None, "output_bytes": 10**12,
            "cell_timeout_s": 1e9, "wall_clock_s": 1e9, "max_steps": 10**6}


@pytest.mark.slow  # the real CLI, in subprocesses
def test_replay_never_imports_a_competition_the_notebook_names(loan_default_data, tmp_path, marker, fake_papermill):
    started = new_play(tmp_path, "mallory")
    crafted = craft_competition(started.workspace / "evil", marker)
    copied = edit(started.notebook, meta={"competition": str(crafted)}, to=tmp_path / "copy.ipynb")  # no record
    with pytest.raises(UnknownCompetitionError, match="is not a competition id") as info:
        replay_notebook(copied)
    assert "\n" not in str(info.value)
    with pytest.raises(ConfigError, match="is not a competition id"):
        replay_notebook(started.notebook, competition=str(crafted))
    edit(started.notebook, meta={"competition": str(crafted)})  # the recorded play: its record decides
    report = replay_notebook(started.notebook)
    assert report.competition == "loan-default" and report.replayed_score is not None
    assert not marker.exists()
    line = one_line_error(nbdojo("replay", str(copied)))
    assert "is not a competition id" in line and not marker.exists()


def test_replay_caps_are_never_looser_than_the_defaults(loan_default_data, tmp_path, fake_papermill):
    started = new_play(tmp_path, "dave")
    copied = edit(started.notebook, meta={"limits": UNCAPPED}, to=tmp_path / "uncapped.ipynb")
    report = replay_notebook(copied)
    default = Limits()
    policy = fake_papermill["policy"]  # what the replay's kernel is started with
    assert policy["memory_bytes"] == default.memory_bytes and policy["max_processes"] == default.max_processes
    assert policy["max_file_bytes"] == default.disk_bytes
    assert fake_papermill["cell_timeout"] <= default.cell_timeout_s
    assert fake_papermill.get("output_bytes") == default.output_bytes
    replayed = nbformat.read(str(report.output), as_version=4).metadata["nbdojo"]
    assert replayed["limits"] == asdict(default) and report.limits == asdict(default)


def test_replay_takes_the_recorded_limits_tightened_never_loosened(loan_default_data, tmp_path, fake_papermill):
    started = new_play(tmp_path, "erin", limits=Limits(memory_bytes=16 * GIB, cell_timeout_s=30, max_processes=64))
    edit(started.notebook, meta={"limits": UNCAPPED})  # the notebook's own say is ignored: the record has it
    report = replay_notebook(started.notebook)
    policy = fake_papermill["policy"]
    assert policy["memory_bytes"] == Limits().memory_bytes  # 16 GiB recorded: held to the default 8 GiB
    assert policy["max_processes"] == 64 and fake_papermill["cell_timeout"] <= 30  # tighter: kept
    assert report.limits["cell_timeout_s"] == 30
    replay_notebook(started.notebook, cell_timeout=10_000)  # an explicit timeout may tighten, never loosen
    assert fake_papermill["cell_timeout"] <= 30


# ----- runs: an agent's trajectory stays the agent's -------------------------------------------------------

@pytest.mark.kernel
def test_score_refuses_an_agents_trajectory_and_keeps_its_label(loan_default_data, tmp_path):
    from nbdojo.env import DojoEnv

    with DojoEnv("loan-default", out_dir=tmp_path / "runs", agent="scripted") as env:
        env.reset(seed=0)
        record = find_record(env.notebook_path)
        assert record.kind == "run" and record.workspace == env.workspace.resolve()
        assert record.limits == asdict(env.limits) and record.competition == "loan-default"
        env.step({"action": "execute_code", "code": "import shutil\nshutil.copy(f'{DATA_DIR}/sample_submission.csv', "
                                                    "SUBMISSION_PATH)"})
        env.step({"action": "submit"})
        path = env.notebook_path
    before = path.read_text()
    with pytest.raises(ConfigError, match="agent's run"):
        score(path)
    line = one_line_error(nbdojo("score", str(path)))
    assert "nbdojo replay" in line
    assert path.read_text() == before
    assert nbformat.read(str(path), as_version=4).metadata["nbdojo"]["agent"] == "scripted"


# ----- a real replay under crafted caps --------------------------------------------------------------------

@pytest.mark.kernel
@pytest.mark.timeout(300)
def test_a_replay_runs_under_the_default_caps_whatever_the_notebook_says(loan_default_data, tmp_path):
    started = new_play(tmp_path, "frank")
    nb = nbformat.read(str(started.notebook), as_version=4)
    nb.cells[-1:] = [nbformat.v4.new_code_cell(src) for src in (
        "import resource\nprint('fsize', resource.getrlimit(resource.RLIMIT_FSIZE)[0])",
        "print('x' * 5_000_000)",
        "import time\ntime.sleep(120)",
    )]
    nb.metadata["nbdojo"]["limits"] = {**UNCAPPED, "wall_clock_s": 25}  # tighter than the default: kept
    path = tmp_path / "crafted.ipynb"  # a notebook from elsewhere: no record
    nbformat.write(nb, str(path))
    report = replay_notebook(path)
    out = nbformat.read(str(report.output), as_version=4)
    texts = ["".join(o.get("text", "") for o in c.get("outputs", [])) for c in out.cells if c.cell_type == "code"]
    assert any(f"fsize {Limits().disk_bytes}" in t for t in texts), texts  # the disk cap reached the kernel
    printed = next(t for t in texts if "xxxx" in t)
    assert len(printed) <= Limits().output_bytes + 200 and "was dropped" in printed
    assert report.error and "wall clock" in report.error
    assert out.metadata["nbdojo"]["limits"]["wall_clock_s"] == 25
    assert out.metadata["nbdojo"]["limits"]["memory_bytes"] == Limits().memory_bytes
