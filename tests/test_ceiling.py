"""The ceiling and the noise of a grade: the oracle tops every ladder, the normalized score runs from the sample
submission (0) to the oracle or best entry (1), the bootstrap error shrinks with the private part, old grades load."""

from __future__ import annotations

import math
import os
from pathlib import Path

import pandas as pd
import pytest

from nbdojo.competitions import (
    CompetitionData,
    CompetitionSpec,
    list_competitions,
    prepare,
)
from nbdojo.grading import Grade, grade, load_leaderboard
from nbdojo.grading import ceiling as ceiling_module
from nbdojo.grading import grader as grader_module
from nbdojo.grading.grader import part_arrays, validate_submission
from nbdojo.grading.noise import bootstrap_se

FULL = os.environ.get("NBDOJO_FULL_TESTS") == "1"
#: Built only with NBDOJO_FULL_TESTS=1: a million rows, or 50,000 tiles.
HEAVY = {"click-through", "land-cover"}
SYNTHETIC = [s.id for s in list_competitions() if s.origin == "synthetic" and not s.is_external]
CHECKED = [cid for cid in SYNTHETIC if FULL or cid not in HEAVY]
SCALE_FIELDS = ("normalized_score", "standard_error", "dummy_score", "ceiling_score", "ceiling")


# --------------------------------------------------------------------------- the oracle of each synthetic competition


@pytest.mark.parametrize("cid", CHECKED)
def test_the_oracle_beats_or_ties_every_ladder_entry(prepared_home: Path, cid: str) -> None:
    data = prepare(cid)  # the session's shared cache: the competition tests build the same data
    oracle = data.private_dir / "oracle.csv"
    assert oracle.is_file() and not (data.public_dir / "oracle.csv").exists()
    result = grade(data, oracle)
    board = load_leaderboard(data.spec)
    assert result.position == 1, (result.score, board.head(3).to_dict("records"))  # nothing scores strictly better
    assert result.ceiling == "oracle" and result.normalized_score == pytest.approx(1.0)
    sample = grade(data, data.sample_submission_path)
    assert sample.normalized_score == pytest.approx(0.0, abs=1e-12)
    assert sample.dummy_score == result.dummy_score and sample.ceiling_score == result.score


def test_every_synthetic_competition_is_checked_or_named_heavy() -> None:
    assert len(SYNTHETIC) >= 15 and set(SYNTHETIC) - set(CHECKED) <= HEAVY


# --------------------------------------------------------------------------- toy competitions of any size

TOY_PREPARE = '''
import numpy as np, pandas as pd

def prepare(public_dir, private_dir, seed):
    rng = np.random.default_rng(seed)
    n = 200 + {n_test}
    x = rng.normal(size=n)
    signal = 2.0 * x
    y = signal + rng.normal(size=n)
    frame = pd.DataFrame({"key": [f"K{i}" for i in range(n)], "x": x, "y": y})
    train, test = frame.iloc[:200], frame.iloc[200:]
    train.to_csv(public_dir / "train.csv", index=False)
    test.drop(columns="y").to_csv(public_dir / "test.csv", index=False)
    pd.DataFrame({"key": test["key"], "y": 0.0}).to_csv(public_dir / "sample_submission.csv", index=False)
    test[["key", "y"]].to_csv(private_dir / "answers.csv", index=False)
    pd.DataFrame({"key": test["key"], "y": signal[200:]}).to_csv(private_dir / "oracle.csv", index=False)
'''
BOARD = pd.DataFrame({"entry": ["linear", "tree", "mean"], "score": [1.2, 1.6, 2.2]})  # RMSE, lower is better


def _toy(root: Path, cid: str, *, n_test: int = 400, origin: str = "synthetic") -> CompetitionData:
    folder = root / cid
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "prepare.py").write_text(TOY_PREPARE.replace("{n_test}", str(n_test)))
    BOARD.to_csv(folder / "leaderboard.csv", index=False)
    spec = CompetitionSpec(id=cid, title=cid, category="tabular", metric="rmse", higher_is_better=False,
                           id_column="key", target_columns=("y",), task="regression", prediction="value",
                           split_seed=3, source="test", origin=origin, folder=folder)
    return prepare(spec, force=True)


def _submit(data: CompetitionData, path: Path, shrink: float) -> Path:
    """A prediction `shrink` of the way from the sample (0) to the oracle's signal (1)."""
    oracle = pd.read_csv(data.private_dir / "oracle.csv", dtype={"key": str})
    oracle["y"] = shrink * oracle["y"]
    oracle.to_csv(path, index=False)
    return path


def test_normalized_score_is_0_for_the_sample_and_1_for_the_oracle(prepared_home: Path, tmp_path: Path) -> None:
    data = _toy(tmp_path, "toy-ceiling")
    sample, oracle = grade(data, data.sample_submission_path), grade(data, data.private_dir / "oracle.csv")
    assert sample.normalized_score == 0.0 and oracle.normalized_score == 1.0
    assert oracle.ceiling == "oracle" and oracle.ceiling_score == oracle.score < BOARD["score"].min()
    half = grade(data, _submit(data, tmp_path / "half.csv", 0.5))
    assert 0.0 < half.normalized_score < 1.0
    assert half.normalized_score == pytest.approx((half.score - sample.score) / (oracle.score - sample.score))
    public = grade(data, data.private_dir / "oracle.csv", part="public")  # each part has its own dummy and oracle
    assert public.normalized_score == 1.0 and public.ceiling_score != oracle.ceiling_score
    report = half.report()
    assert f"Normalized score: {half.normalized_score:.3f} (0 = the sample submission at {sample.score:.5f}, " \
           f"1 = the oracle at {oracle.score:.5f})" in report
    assert f"Standard error: {half.standard_error:.5f} (bootstrap over the private rows" in report


def test_a_real_competition_is_scaled_to_its_best_reference_entry(prepared_home: Path, tmp_path: Path) -> None:
    data = _toy(tmp_path, "toy-real", origin="real")  # its prepare.py writes an oracle: a real one never uses it
    result = grade(data, _submit(data, tmp_path / "sub.csv", 0.8))
    sample = grade(data, data.sample_submission_path)
    assert result.ceiling == "best reference entry" and result.ceiling_score == BOARD["score"].min()
    assert result.dummy_score == sample.score and sample.normalized_score == 0.0
    assert result.normalized_score == pytest.approx((result.score - sample.score) / (1.2 - sample.score))
    assert result.normalized_score > 1  # better than the best entry: above the ceiling, as it should read
    assert math.isfinite(result.standard_error) and result.standard_error > 0
    assert "1 = the best reference entry at 1.20000" in result.report()


def test_the_error_shrinks_as_the_private_part_grows(prepared_home: Path, tmp_path: Path) -> None:
    errors = []
    for n_test in (300, 3_000, 30_000):
        data = _toy(tmp_path, f"toy-n{n_test}", n_test=n_test)
        result = grade(data, _submit(data, tmp_path / f"sub{n_test}.csv", 0.7))
        y_true, y_pred = part_arrays(data, validate_submission(data, tmp_path / f"sub{n_test}.csv"))
        assert result.standard_error == bootstrap_se("rmse", y_true, y_pred)  # the grade's error is the module's
        errors.append(result.standard_error)
    assert errors[0] > errors[1] > errors[2] > 0
    assert errors[0] / errors[2] == pytest.approx(10, rel=0.35)  # 1 / sqrt(rows): 100 times the rows


def test_the_dummy_and_oracle_scores_are_kept_not_rescored(prepared_home: Path, tmp_path: Path,
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    data = _toy(tmp_path, "toy-kept")
    first = grade(data, data.sample_submission_path)
    stored = prepared_home / "scales" / "toy-kept.json"
    assert stored.is_file() and '"oracle"' in stored.read_text()

    def refuse(*args: object) -> dict[str, float]:
        raise AssertionError("the sample or the oracle was scored again")

    monkeypatch.setattr(grader_module, "_score_file", refuse)
    assert grade(data, data.sample_submission_path) == first  # from memory
    ceiling_module._memo.clear()
    assert grade(data, data.sample_submission_path) == first  # from NBDOJO_HOME/scales
    monkeypatch.undo()
    rebuilt = _toy(tmp_path, "toy-kept", n_test=500)  # new answers: a new digest, scored afresh
    assert grade(rebuilt, rebuilt.private_dir / "oracle.csv").ceiling_score != first.ceiling_score


def test_a_competition_built_before_oracles_falls_back_to_its_best_entry(prepared_home: Path, tmp_path: Path) -> None:
    data = _toy(tmp_path, "toy-old")
    (data.private_dir / "oracle.csv").chmod(0o644)
    (data.private_dir / "oracle.csv").unlink()  # as in a cache prepared by an older nbdojo
    result = grade(data, data.sample_submission_path)
    assert result.ceiling == "best reference entry" and result.ceiling_score == 1.2 and result.normalized_score == 0


def test_loan_default_grades_carry_both_fields(loan_default_data: CompetitionData) -> None:
    result = grade(loan_default_data, loan_default_data.private_dir / "oracle.csv")
    assert result.ceiling == "oracle" and result.normalized_score == 1.0 and result.dummy_score == 0.5
    assert 0.001 < result.standard_error < 0.02
    assert set(SCALE_FIELDS) <= set(result.to_dict())


# --------------------------------------------------------------------------- grades written before these fields


OLD_FINAL = {"competition": "loan-default", "metric": "roc_auc", "higher_is_better": True, "score": 0.8, "part": "private",
             "position": 3, "leaderboard_size": 30, "human_rank": 0.9, "medal": "silver"}


def test_an_old_grade_record_still_loads_and_reports() -> None:
    old = Grade.from_dict({**OLD_FINAL, "how": "submitted"})  # keys it does not know are left out
    assert all(math.isnan(getattr(old, f)) for f in SCALE_FIELDS[:-1]) and old.ceiling == ""
    report = old.report()
    assert "Standard error: n/a" in report and "Normalized score: n/a" in report and "Medal: silver" in report
    new = Grade.from_dict({**OLD_FINAL, "normalized_score": 0.9, "standard_error": 0.01, "dummy_score": 0.5,
                           "ceiling_score": 0.83, "ceiling": "oracle"})
    assert Grade.from_dict(new.to_dict()) == new


def test_old_and_new_notebooks_read_verified_in_compare_and_export(tmp_path: Path,
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    from nbdojo.tools.compare import collect, render_html
    from nbdojo.tools.export import Episode
    from nbdojo.trajectory import VERIFIED, Trajectory

    monkeypatch.setenv("NBDOJO_HOME", str(tmp_path / "home"))
    new_final = {**OLD_FINAL, "normalized_score": 0.912, "standard_error": 0.004, "dummy_score": 0.5,
                 "ceiling_score": 0.83, "ceiling": "oracle"}
    for name, final in (("old", OLD_FINAL), ("new", new_final)):
        traj = Trajectory(tmp_path / name / "trajectory.ipynb", {"competition": "loan-default", "agent": name,
                                                                  "model": None, "seed": 0})
        traj.add_scorer("loan-default", Grade.from_dict(final).report(), step=1, grade={"how": "submitted", **final})
        traj.finish({"how": "submitted", **final})
        traj.save()
    runs = {run.agent: run for run in collect([tmp_path])}
    assert {run.trust for run in runs.values()} == {VERIFIED}  # the new fields are signed with the grade
    assert runs["old"].normalized_score is None and runs["new"].normalized_score == pytest.approx(0.912)
    assert runs["new"].standard_error == pytest.approx(0.004)
    html = render_html(list(runs.values()), tmp_path / "report.html").read_text()
    assert "<th>normalized</th>" in html and "0.912" in html
    summaries = {name: Episode(tmp_path, {"final": final}, "", []).summary() for name, final in
                 (("old", OLD_FINAL), ("new", new_final))}  # what `nbdojo export` writes per episode
    assert summaries["old"]["normalized_score"] is None and summaries["new"]["standard_error"] == 0.004


def test_nan_scale_fields_sign_and_verify(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """An added competition's grade has no bootstrap error (NaN): its signature still verifies once read back."""
    import nbformat

    from nbdojo.trajectory import VERIFIED, Trajectory, verification

    monkeypatch.setenv("NBDOJO_HOME", str(tmp_path / "home"))
    final = {"how": "submitted", **Grade.from_dict({**OLD_FINAL, "normalized_score": 0.3}).to_dict()}
    assert math.isnan(final["standard_error"])
    traj = Trajectory(tmp_path / "run" / "trajectory.ipynb", {"competition": "loan-default", "agent": "a",
                                                              "model": None, "seed": 0})
    traj.finish(final)
    path = traj.save()
    assert verification(nbformat.read(str(path), as_version=4)) == VERIFIED


def test_an_added_competition_is_scaled_by_its_own_grader_without_an_error(tmp_path: Path,
                                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    from test_external import make_mle_bench

    from nbdojo.competitions import add_competition

    monkeypatch.setenv("NBDOJO_HOME", str(tmp_path / "home"))
    data = prepare(add_competition(make_mle_bench(tmp_path)))
    answers = pd.read_csv(data.answers_path)
    path = tmp_path / "half.csv"
    answers.assign(Survived=answers.index % 2 == 0).to_csv(path, index=False)
    result, sample = grade(data, path), grade(data, data.sample_submission_path)
    best = load_leaderboard(data.spec)["score"].max()
    assert result.ceiling == "best reference entry" and result.ceiling_score == best
    assert result.dummy_score == sample.score and sample.normalized_score == 0.0
    assert result.normalized_score == pytest.approx((result.score - sample.score) / (best - sample.score))
    assert math.isnan(result.standard_error) and "Standard error: n/a" in result.report()


def test_normalized_reads_0_at_the_dummy_in_either_direction() -> None:
    from nbdojo.grading import normalized

    assert str(normalized(6.8, 6.8, 5.1)) == "0.0" and normalized(5.1, 6.8, 5.1) == 1.0  # lower is better
    assert normalized(0.7, 0.5, 0.9) == pytest.approx(0.5) and normalized(1.0, 0.5, 0.9) > 1
    assert math.isnan(normalized(0.7, 0.5, 0.5)) and math.isnan(normalized(0.7, math.nan, 0.9))
