"""The baseline agent beats the sample submission on every built-in competition, and reads added ones' targets.

Each built-in competition is prepared once into the session's shared NBDOJO_HOME (the
`prepared_home` fixture) and played by `BaselineAgent` in a real sandboxed kernel, as
`nbdojo run ID --agent baseline` plays it. Its private score must be strictly better than the
sample submission's: a baseline that fails and falls back to the sample file ties it.

The kernel runs with one OpenMP thread: on a busy two-core machine, gradient boosting with
spinning threads runs ten times slower.
"""

from __future__ import annotations

import textwrap
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from nbdojo.agents.baseline import BaselineAgent, baseline_submission, recipe_in
from nbdojo.competitions import add_competition, load, prepare
from nbdojo.config import competitions_dir
from nbdojo.env import DojoEnv
from nbdojo.grading import grade
from nbdojo.runner import run_episode

BUILTIN = sorted(path.parent.name for path in competitions_dir().glob("*/competition.yaml"))


def _better(score: float, sample: float, higher_is_better: bool) -> bool:
    return score > sample if higher_is_better else score < sample


def _failed_cells(notebook: Path | None) -> str:
    """The first error a cell of the episode's notebook printed, for the failure message."""
    import nbformat

    if notebook is None or not Path(notebook).is_file():
        return "no notebook"
    for cell in nbformat.read(notebook, as_version=4).cells:
        for output in cell.get("outputs", []):
            if output.get("output_type") == "error":
                return f"{output['ename']}: {output['evalue']} in\n{cell.source[:300]}"
    return "no cell failed"


@pytest.mark.kernel
@pytest.mark.timeout(900)
@pytest.mark.parametrize("cid", BUILTIN)
def test_the_baseline_beats_the_sample_submission(cid: str, prepared_home: Path, tmp_path: Path,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    data = prepare(cid)
    monkeypatch.setenv("OMP_NUM_THREADS", "1")  # the kernel keeps it (nbdojo.kernel.sandbox.KEPT_ENV)
    with DojoEnv(cid, out_dir=tmp_path, agent="baseline", cell_timeout_s=400) as env:
        result = run_episode(env, BaselineAgent(), seed=0)
    spec = data.spec
    sample = grade(data, data.sample_submission_path).score
    assert result.score is not None and _better(result.score, sample, spec.higher_is_better), (
        f"{cid}: the baseline's private {spec.metric} is {result.score} against the sample submission's "
        f"{sample:.6g} ({'higher' if spec.higher_is_better else 'lower'} is better); "
        f"{_failed_cells(result.notebook)}; notebook {result.notebook}")


# --------------------------------------------------------------------------- added competitions

N_TRAIN, N_TEST = 400, 200
GRADE = '''\
import pandas as pd
from mlebench.grade_helpers import InvalidSubmissionError

def grade(submission: pd.DataFrame, answers: pd.DataFrame) -> float:
    merged = answers.merge(submission, on="row_id", suffixes=("", "_pred"), how="left")
    if merged["label_pred"].isna().any() or merged["label_pred"].dtype != answers["label"].dtype:
        raise InvalidSubmissionError(f"label must be {answers['label'].dtype}, not {merged['label_pred'].dtype}")
    return float((merged["label"] == merged["label_pred"]).mean())
'''


def _labels(kind: str, x: np.ndarray) -> pd.Series:
    """The label of each row, a step function of x, as a boolean, whole-number or string column."""
    step = np.digitize(x, [-0.5, 0.5])  # 0, 1 or 2
    if kind == "bool":
        return pd.Series(x > 0.3)
    if kind == "int":
        return pd.Series(step * 10 + 1)
    return pd.Series(np.array(["low", "middle", "high"])[step])


def make_added(root: Path, kind: str) -> Path:
    """An MLE-bench-layout competition whose target `label` is boolean, whole numbers or strings; graded by
    accuracy with the answers' own dtype, so a regression's floats are refused."""
    folder = root / f"tiny-{kind}"
    rng = np.random.default_rng(7)
    x = rng.normal(size=N_TRAIN + N_TEST)
    frame = pd.DataFrame({"row_id": np.arange(N_TRAIN + N_TEST) + 100, "x": x, "noise": rng.normal(size=len(x)),
                          "colour": rng.choice(["red", "blue"], size=len(x)), "label": _labels(kind, x)})
    train, test = frame.iloc[:N_TRAIN], frame.iloc[N_TRAIN:]
    public, private = folder / "prepared" / "public", folder / "prepared" / "private"
    public.mkdir(parents=True)
    private.mkdir(parents=True)
    train.to_csv(public / "train.csv", index=False)
    test.drop(columns="label").to_csv(public / "test.csv", index=False)
    most = train["label"].mode().iloc[0]
    test[["row_id"]].assign(label=most).to_csv(public / "sample_submission.csv", index=False)
    test[["row_id", "label"]].to_csv(private / "test.csv", index=False)
    (folder / "grade.py").write_text(GRADE)
    (folder / "description.md").write_text(f"# Tiny {kind}\n\nPredict `label` from `x`.\n")
    (folder / "config.yaml").write_text(textwrap.dedent(f"""\
        id: tiny-{kind}
        name: Tiny {kind}
        competition_type: simple
        dataset:
          answers: tiny-{kind}/prepared/private/test.csv
          sample_submission: tiny-{kind}/prepared/public/sample_submission.csv
        grader:
          name: accuracy
          grade_fn: mlebench.competitions.tiny-{kind}.grade:grade
        """))
    pd.DataFrame({"teamName": [f"t{i}" for i in range(20)], "score": np.linspace(0.99, 0.4, 20)}).to_csv(
        folder / "leaderboard.csv", index=False)
    return folder


@pytest.mark.parametrize("kind", ["bool", "int", "str"])
def test_an_added_competition_gets_labels_of_its_target_type(kind: str, tmp_path: Path,
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NBDOJO_HOME", str(tmp_path / "home"))
    spec = add_competition(make_added(tmp_path, kind))
    assert (spec.task, spec.prediction) == ("other", "other")  # the layout says nothing: the data must tell
    data = load(spec.id)
    submission = baseline_submission(str(data.public_dir), spec.agent_view(), seed=0)
    answers = pd.read_csv(data.public_dir / "train.csv")["label"]
    assert submission["label"].dtype == answers.dtype, submission.head()
    path = tmp_path / "submission.csv"
    submission.to_csv(path, index=False)
    score, sample = grade(data, path).score, grade(data, data.sample_submission_path).score
    assert score > sample + 0.2, (kind, score, sample)


def test_the_survey_line_picks_the_recipe() -> None:
    assert recipe_in("images: 10 train files\nrecipe: images\n") == "images"
    assert recipe_in("text columns: ['body']\nrecipe: features") == "features"
    assert recipe_in("Traceback ... NameError") == "features"  # a failed survey: the recipe that needs least
