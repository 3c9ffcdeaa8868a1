"""Competitions prepared elsewhere: the MLE-bench and MLE-Dojo layouts, added, loaded and graded."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from nbdojo.competitions import (
    add_competition,
    get_competition,
    is_prepared,
    list_competitions,
    load,
    prepare,
    remove_competition,
)
from nbdojo.errors import ChecksumMismatchError, ConfigError, SubmissionError, UnknownCompetitionError
from nbdojo.competitions.layouts import detect_layout, spec_from_folder
from nbdojo.grading import grade

N_TEST = 40


@pytest.fixture()
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fresh NBDOJO_HOME (external.json and checksums live there), visible to subprocesses too."""
    monkeypatch.setenv("NBDOJO_HOME", str(tmp_path / "home"))
    return tmp_path / "home"


def _write(frame: pd.DataFrame, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    frame.to_csv(path, index=False)


def make_mle_bench(root: Path, competition_id: str = "tiny-titanic") -> Path:
    """A small competition in the MLE-bench layout: config.yaml, grade.py, leaderboard.csv, prepared data."""
    folder = root / competition_id
    rng = np.random.default_rng(0)
    ids = np.arange(1, 121)
    survived = rng.random(120) < 0.4
    frame = pd.DataFrame({"PassengerId": ids, "Age": rng.integers(1, 80, 120), "Survived": survived})
    train, test = frame.iloc[:-N_TEST], frame.iloc[-N_TEST:]
    _write(train, folder / "prepared" / "public" / "train.csv")
    _write(test.drop(columns="Survived"), folder / "prepared" / "public" / "test.csv")
    _write(test.assign(Survived=False)[["PassengerId", "Survived"]],
           folder / "prepared" / "public" / "sample_submission.csv")
    _write(test[["PassengerId", "Survived"]], folder / "prepared" / "private" / "test.csv")
    (folder / "config.yaml").write_text(textwrap.dedent(f"""\
        id: {competition_id}
        name: Tiny Titanic
        competition_type: simple
        awards_medals: true
        prizes: null
        description: mlebench/competitions/{competition_id}/description.md
        dataset:
          answers: {competition_id}/prepared/private/test.csv
          sample_submission: {competition_id}/prepared/public/sample_submission.csv
        grader:
          name: accuracy
          grade_fn: mlebench.competitions.{competition_id}.grade:grade
        preparer: mlebench.competitions.{competition_id}.prepare:prepare
        """))
    (folder / "grade.py").write_text(textwrap.dedent("""\
        import pandas as pd
        from mlebench.grade_helpers import InvalidSubmissionError

        def grade(submission: pd.DataFrame, answers: pd.DataFrame) -> float:
            if len(submission) != len(answers):
                raise InvalidSubmissionError("Submission and answers must have the same length")
            merged = answers.merge(submission, on="PassengerId", suffixes=("", "_pred"))
            if merged["Survived_pred"].dtype != bool:
                raise InvalidSubmissionError("Survived must be True or False")
            return float((merged["Survived"] == merged["Survived_pred"]).mean())
        """))
    (folder / "description.md").write_text("# Tiny Titanic\n\nPredict who survived.\n")
    scores = np.linspace(0.95, 0.55, 30).round(4)  # best first: higher is better
    pd.DataFrame({"teamName": [f"team{i}" for i in range(30)], "score": scores}).to_csv(
        folder / "leaderboard.csv", index=False)
    return folder


def make_mle_dojo(root: Path, name: str = "tiny-credit") -> Path:
    """A small competition in the MLE-Dojo layout: data/public, data/private/test_answer.csv, boards, metric class."""
    folder = root / name
    rng = np.random.default_rng(1)
    ids = np.arange(1000, 1100)
    y = (rng.random(100) < 0.3).astype(int)
    public, private = folder / "data" / "public", folder / "data" / "private"
    _write(pd.DataFrame({"Id": ids[:60], "x": rng.normal(size=60), "SeriousDlqin2yrs": y[:60]}), public / "train.csv")
    _write(pd.DataFrame({"Id": ids[60:], "x": rng.normal(size=40)}), public / "test.csv")
    _write(pd.DataFrame({"Id": ids[60:], "Probability": 0.5}), public / "sample_submission.csv")
    (public / "description.txt").write_text("# Tiny Credit\n\nPredict the probability of distress.\n")
    _write(pd.DataFrame({"Id": ids[60:], "Probability": y[60:]}), private / "test_answer.csv")
    (folder / "utils").mkdir()
    (folder / "utils" / "metric.py").write_text(textwrap.dedent("""\
        from typing import Any
        import pandas as pd
        from sklearn.metrics import roc_auc_score
        from mledojo.metrics.base import CompetitionMetrics, InvalidSubmissionError

        class TinyCreditMetrics(CompetitionMetrics):
            def __init__(self, value: str = "Probability", higher_is_better: bool = True):
                super().__init__(higher_is_better)
                self.value = value

            def evaluate(self, y_true: pd.DataFrame, y_pred: pd.DataFrame) -> float:
                y_true = y_true.sort_values(by=y_true.columns[0]).reset_index(drop=True)
                y_pred = y_pred.sort_values(by=y_pred.columns[0]).reset_index(drop=True)
                return roc_auc_score(y_true[self.value], y_pred[self.value])

            def validate_submission(self, submission: Any, ground_truth: Any) -> str:
                if len(submission) != len(ground_truth):
                    raise InvalidSubmissionError("Number of rows does not match the ground truth.")
                if not submission[self.value].between(0, 1).all():
                    raise InvalidSubmissionError("Probabilities must lie in [0, 1].")
                return "Submission is valid."
        """))
    (folder / "info").mkdir()
    pd.DataFrame({"rank": range(1, 21), "score": np.linspace(0.99, 0.60, 20).round(4)}).to_csv(
        folder / "info" / "private_leaderboard.csv", index=False)
    pd.DataFrame({"rank": range(1, 11), "score": np.linspace(0.97, 0.70, 10).round(4)}).to_csv(
        folder / "info" / "public_leaderboard.csv", index=False)
    return folder


def _submission(tmp_path: Path, frame: pd.DataFrame, name: str = "submission.csv") -> Path:
    path = tmp_path / name
    frame.to_csv(path, index=False)
    return path


# --------------------------------------------------------------------------- reading the layouts


def test_layouts_are_detected_and_anything_else_is_refused_in_one_line(tmp_path: Path) -> None:
    assert detect_layout(make_mle_bench(tmp_path)) == "mle-bench"
    assert detect_layout(make_mle_dojo(tmp_path)) == "mle-dojo"
    (tmp_path / "other" / "stuff").mkdir(parents=True)
    with pytest.raises(ConfigError, match="neither the MLE-bench layout") as info:
        detect_layout(tmp_path / "other")
    assert "\n" not in str(info.value)


def test_mle_bench_spec_reads_config_and_data(tmp_path: Path) -> None:
    spec = spec_from_folder(make_mle_bench(tmp_path))
    assert (spec.id, spec.title, spec.metric, spec.layout) == ("tiny-titanic", "Tiny Titanic", "accuracy", "mle-bench")
    assert spec.higher_is_better is True  # inferred from the leaderboard, as MLE-bench does
    assert (spec.id_column, spec.target_columns) == ("PassengerId", ("Survived",))
    assert spec.grader == "grade:grade"  # grade.py sits in the folder
    assert spec.data_root == tmp_path / "tiny-titanic" / "prepared"
    assert spec.description.startswith("# Tiny Titanic")


def test_lower_is_better_is_inferred_from_an_ascending_board(tmp_path: Path) -> None:
    folder = make_mle_bench(tmp_path)
    board = pd.read_csv(folder / "leaderboard.csv")
    board.assign(score=board["score"][::-1].to_numpy()).to_csv(folder / "leaderboard.csv", index=False)
    assert spec_from_folder(folder).higher_is_better is False


def test_mle_dojo_spec_reads_metric_class_and_boards(tmp_path: Path) -> None:
    spec = spec_from_folder(make_mle_dojo(tmp_path))
    assert (spec.id, spec.title, spec.layout, spec.metric) == ("tiny-credit", "Tiny Credit", "mle-dojo", "TinyCredit")
    assert spec.grader == "utils.metric:TinyCreditMetrics" and spec.higher_is_better is True
    assert spec.leaderboard_path.name == "private_leaderboard.csv"
    assert spec.public_leaderboard_path.name == "public_leaderboard.csv"
    assert spec.data_root == tmp_path / "tiny-credit" / "data"


# --------------------------------------------------------------------------- registering, loading, grading


def test_mle_bench_competition_is_added_loaded_and_graded(tmp_path: Path, home: Path) -> None:
    folder = make_mle_bench(tmp_path)
    spec = add_competition(folder)
    assert get_competition("tiny-titanic") == spec and spec in list_competitions()
    assert json.loads((home / "external.json").read_text()) == {
        "tiny-titanic": {"path": str(folder), "layout": "mle-bench"}}
    assert is_prepared(spec)
    data = load("tiny-titanic")
    assert data.answers_path == folder / "prepared" / "private" / "test.csv"

    answers = pd.read_csv(data.answers_path)
    perfect = grade("tiny-titanic", _submission(tmp_path, answers))
    assert perfect.score == 1.0 and perfect.position == 1 and perfect.human_rank == 1.0 and perfect.medal == "gold"
    flipped = answers.assign(Survived=~answers["Survived"])
    worst = grade("tiny-titanic", _submission(tmp_path, flipped, "bad.csv"))
    assert worst.score == 0.0 and worst.position == 31 and worst.human_rank == 0.0 and worst.medal == "none"
    half = answers.assign(Survived=np.arange(N_TEST) % 2 == 0)
    middle = grade("tiny-titanic", _submission(tmp_path, half, "half.csv"))
    expected = float((half["Survived"] == answers["Survived"]).mean())
    assert middle.score == pytest.approx(expected) and middle.leaderboard_size == 30
    public = grade("tiny-titanic", _submission(tmp_path, half, "half.csv"), part="public")
    assert public.part == "public" and 0.0 <= public.score <= 1.0  # scored on a seeded 30% of the rows


def test_mle_bench_submission_errors_are_one_clear_sentence(tmp_path: Path, home: Path) -> None:
    add_competition(make_mle_bench(tmp_path))
    answers = pd.read_csv(load("tiny-titanic").answers_path)
    with pytest.raises(SubmissionError, match="ids of the sample submission"):
        grade("tiny-titanic", _submission(tmp_path, answers.iloc[:-1]))
    with pytest.raises(SubmissionError, match="expected exactly PassengerId, Survived"):
        grade("tiny-titanic", _submission(tmp_path, answers.rename(columns={"Survived": "survived"})))
    with pytest.raises(SubmissionError, match="grader rejected the submission: Survived must be True or False"):
        grade("tiny-titanic", _submission(tmp_path, answers.assign(Survived=0.5)))


def test_added_competition_survives_the_process_and_checksums_guard_answers(tmp_path: Path, home: Path) -> None:
    folder = make_mle_bench(tmp_path)
    add_competition(folder)
    listing = subprocess.run([sys.executable, "-m", "nbdojo", "competitions", "show", "tiny-titanic"],
                             capture_output=True, text=True, timeout=120)
    assert listing.returncode == 0, listing.stderr
    assert "Tiny Titanic" in listing.stdout and "accuracy" in listing.stdout
    answers = folder / "prepared" / "private" / "test.csv"
    answers.write_text(answers.read_text().replace("True", "False"))
    with pytest.raises(ChecksumMismatchError, match="competitions add PATH --replace"):
        load("tiny-titanic")
    prepare("tiny-titanic", force=True)  # re-hashes data prepared elsewhere; it is never rebuilt
    load("tiny-titanic")
    remove_competition("tiny-titanic")
    with pytest.raises(UnknownCompetitionError):
        get_competition("tiny-titanic")


def test_added_ids_cannot_shadow_built_ins_or_each_other(tmp_path: Path, home: Path) -> None:
    with pytest.raises(ConfigError, match="taken by a built-in"):
        add_competition(make_mle_bench(tmp_path, "loan-default"))
    add_competition(make_mle_bench(tmp_path / "a"), competition_id="copy")
    with pytest.raises(ConfigError, match="already added"):
        add_competition(make_mle_bench(tmp_path / "b"), competition_id="copy")
    assert add_competition(make_mle_bench(tmp_path / "b"), competition_id="copy", replace=True).folder == \
        tmp_path / "b" / "tiny-titanic"


def test_mle_dojo_competition_is_graded_with_its_metric_class_and_boards(tmp_path: Path, home: Path) -> None:
    add_competition(make_mle_dojo(tmp_path))
    data = load("tiny-credit")
    answers = pd.read_csv(data.answers_path)
    good = grade("tiny-credit", _submission(tmp_path, answers.assign(Probability=answers["Probability"] * 0.8 + 0.1)))
    assert good.score == 1.0 and good.position == 1 and good.leaderboard_size == 20 and good.medal == "gold"
    bad = grade("tiny-credit", _submission(tmp_path, answers.assign(Probability=1 - answers["Probability"]), "b.csv"))
    assert bad.score == 0.0 and bad.position == 21 and bad.human_rank == 0.0
    public = grade("tiny-credit", _submission(tmp_path, answers.assign(Probability=0.5), "c.csv"), part="public")
    assert public.score == 0.5 and public.leaderboard_size == 10  # placed on the public board
    with pytest.raises(SubmissionError, match=r"Probabilities must lie in \[0, 1\]"):
        grade("tiny-credit", _submission(tmp_path, answers.assign(Probability=2.0), "d.csv"))


def test_cli_add_lists_and_refuses_other_folders(tmp_path: Path, home: Path) -> None:
    from typer.testing import CliRunner

    from nbdojo.cli.app import app

    runner = CliRunner()
    result = runner.invoke(app, ["competitions", "add", str(make_mle_dojo(tmp_path)), "--id", "dojo-credit"])
    assert result.exit_code == 0, result.output
    assert "dojo-credit" in result.output and "mle-dojo" in result.output
    listing = runner.invoke(app, ["competitions", "list"], env={"COLUMNS": "200"})
    assert "dojo-credit" in listing.output and "external" in listing.output
    (tmp_path / "empty").mkdir()
    bad = subprocess.run([sys.executable, "-m", "nbdojo", "competitions", "add", str(tmp_path / "empty")],
                         capture_output=True, text=True, timeout=120)
    assert bad.returncode == 1
    assert bad.stderr.strip().startswith("error:") and "neither the MLE-bench layout" in bad.stderr
    assert len(bad.stderr.strip().splitlines()) == 1
