"""Metrics, submission validation, leaderboard position, HumanRank, medals and the reference ladder."""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn import metrics as skm

from nbdojo.competitions import ladder
from nbdojo.competitions.search import dense_rungs
from nbdojo.competitions import CompetitionData
from nbdojo.errors import ConfigError, SubmissionError
from nbdojo.grading import (
    METRICS,
    Grade,
    grade,
    human_rank,
    load_leaderboard,
    medal,
    medal_thresholds,
    position,
    score_submission,
    validate_submission,
)

# --------------------------------------------------------------------------- metrics

rng = np.random.default_rng(0)
Y_BIN = rng.integers(0, 2, 200)
P_BIN = np.clip(Y_BIN * 0.3 + rng.random(200) * 0.7, 0, 1)
Y_MC = rng.integers(0, 3, 200)
L_MC = np.where(rng.random(200) < 0.6, Y_MC, rng.integers(0, 3, 200))
P_MC = rng.dirichlet([1, 1, 1], 200)
Y_REG = rng.normal(size=200)
P_REG = Y_REG + rng.normal(scale=0.5, size=200)


@pytest.mark.parametrize(
    ("name", "y_true", "y_pred", "expected"),
    [
        ("roc_auc", Y_BIN, P_BIN, skm.roc_auc_score(Y_BIN, P_BIN)),
        ("roc_auc", [0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8], 0.75),
        ("roc_auc", [0, 1, 0, 1], [0.5, 0.5, 0.5, 0.5], 0.5),
        ("log_loss", Y_BIN, P_BIN, skm.log_loss(Y_BIN, P_BIN)),
        ("log_loss", [1, 0], [0.5, 0.5], math.log(2)),
        ("log_loss", np.eye(3)[Y_MC], P_MC, skm.log_loss(Y_MC, P_MC)),
        ("accuracy", Y_MC, L_MC, skm.accuracy_score(Y_MC, L_MC)),
        ("accuracy", ["a", "b", "c", "a"], ["a", "b", "a", "a"], 0.75),
        ("macro_f1", Y_MC, L_MC, skm.f1_score(Y_MC, L_MC, average="macro")),
        ("rmse", Y_REG, P_REG, math.sqrt(skm.mean_squared_error(Y_REG, P_REG))),
        ("rmse", [0, 0], [3, 4], math.sqrt(12.5)),
        ("mae", Y_REG, P_REG, skm.mean_absolute_error(Y_REG, P_REG)),
        ("mae", [1, 2, 3], [2, 2, 5], 1.0),
    ],
)
def test_metric_values(name: str, y_true: object, y_pred: object, expected: float) -> None:
    assert METRICS[name](y_true, y_pred) == pytest.approx(expected, rel=1e-9, abs=1e-12)


def test_metric_directions_and_needs() -> None:
    table = {name: (METRICS[name].higher_is_better, METRICS[name].needs)
             for name in ("roc_auc", "log_loss", "accuracy", "macro_f1", "rmse", "mae")}
    assert table == {
        "roc_auc": (True, "probability"), "log_loss": (False, "probability"), "accuracy": (True, "label"),
        "macro_f1": (True, "label"), "rmse": (False, "value"), "mae": (False, "value"),
    }
    assert all(m.formula for m in METRICS.values())  # the full table is in test_metrics.py


def test_log_loss_clips_certain_mistakes() -> None:
    assert math.isfinite(METRICS["log_loss"]([1, 0], [0.0, 1.0]))


# --------------------------------------------------------------------------- rank, HumanRank, medals


@pytest.mark.parametrize(
    ("score", "board", "higher", "rank", "place"),
    [
        (0.8, [0.9, 0.8, 0.8, 0.7], True, 0.75, 2),  # ties count for the submission
        (0.95, [0.9, 0.8, 0.8, 0.7], True, 1.0, 1),
        (0.6, [0.9, 0.8, 0.8, 0.7], True, 0.0, 5),
        (0.7, [0.9, 0.8, 0.8, 0.7], True, 0.25, 4),
        (0.8, [0.9, 0.8, 0.8, 0.7], False, 0.75, 2),  # lower is better: beats 0.9 and ties both 0.8
        (0.1, [0.9, 0.8, 0.8, 0.7], False, 1.0, 1),
        (1.0, [0.9, 0.8, 0.8, 0.7], False, 0.0, 5),
        (0.5, [0.5], True, 1.0, 1),
    ],
)
def test_human_rank_and_position(score: float, board: list[float], higher: bool, rank: float, place: int) -> None:
    assert human_rank(score, board, higher) == pytest.approx(rank)
    assert position(score, board, higher) == place


def test_empty_leaderboard() -> None:
    assert math.isnan(human_rank(0.5, [], True))
    assert position(0.5, [], True) == 1
    assert medal(0.5, [], True) == "none"


# (N, gold place, silver place, bronze place), as MLE-bench computes them.
BRACKETS = [
    (5, 1, 1, 2),
    (10, 1, 2, 4),
    (30, 3, 6, 12),
    (99, 9, 19, 39),
    (100, 10, 20, 40),
    (150, 10, 30, 60),
    (249, 10, 49, 99),
    (250, 10, 50, 100),
    (999, 11, 50, 100),
    (1000, 12, 50, 100),
    (2000, 14, 100, 200),
]


@pytest.mark.parametrize(("n", "gold", "silver", "bronze"), BRACKETS)
@pytest.mark.parametrize("higher", [True, False])
def test_medal_thresholds_by_leaderboard_size(n: int, gold: int, silver: int, bronze: int, higher: bool) -> None:
    # Place k (1 = best) has score n - k + 1 when higher is better, k when lower is better.
    board = np.arange(1, n + 1, dtype=float)
    rng.shuffle(board)

    def at(place: int) -> float:
        return float(n - place + 1) if higher else float(place)

    def nudge(place: int) -> float:  # a score just worse than `place`
        return at(place) - 0.5 if higher else at(place) + 0.5

    assert medal_thresholds(board, higher) == (at(gold), at(silver), at(bronze))
    assert medal(at(1), board, higher) == "gold"
    assert medal(at(gold), board, higher) == "gold"
    assert medal(nudge(gold), board, higher) == ("silver" if silver > gold else "bronze" if bronze > gold else "none")
    assert medal(at(silver), board, higher) == ("gold" if silver == gold else "silver")
    assert medal(nudge(silver), board, higher) == "bronze"
    assert medal(at(bronze), board, higher) == "bronze"
    median_place = (n + 1) / 2
    assert medal(nudge(bronze), board, higher) == ("above_median" if bronze + 0.5 < median_place else "none")
    assert medal(at(n), board, higher) == "none"


def test_above_median_is_strict() -> None:
    board = [float(x) for x in range(1, 11)]  # median 5.5; bronze needs 7
    assert medal(6.0, board, True) == "above_median"
    assert medal(5.5, board, True) == "none"
    assert medal(5.0, board, False) == "above_median"


# --------------------------------------------------------------------------- validation


def _csv(frame: pd.DataFrame, **kwargs: object) -> Callable[[Path], None]:
    return lambda path: frame.to_csv(path, **{"index": False, **kwargs})


def _with(sample: pd.DataFrame, row: int, value: object) -> pd.DataFrame:
    """The sample with one prediction replaced (held as objects, so anything can go in)."""
    broken = sample.astype({"default": object})
    broken.loc[row, "default"] = value
    return broken


def _broken_cases(s: pd.DataFrame) -> dict[str, tuple[Callable[[Path], object] | None, tuple[str, ...]]]:
    """case -> (how to write the file at a path, fragments the message must contain)."""
    return {
        "missing file": (None, ("was not found", "to_csv")),
        "folder": (lambda p: p.mkdir(), ("is a folder",)),
        "empty file": (lambda p: p.write_text(""), ("is empty",)),
        "header only": (lambda p: p.write_text("id,default\n"), ("header but no rows",)),
        "binary": (lambda p: p.write_bytes(b"\x89PNG\r\n\x1a\n\x00\xff\xfe" * 50), ("not a text CSV",)),
        "semicolons": (_csv(s, sep=";"), ("commas",)),
        "no target column": (_csv(s[["id"]]), ("missing column(s) 'default'", "expected columns: id, default")),
        "wrong case": (_csv(s.rename(columns={"default": "Default"})), ("case-sensitive",)),
        "no id column": (_csv(s.rename(columns={"id": "loan_id"})), ("missing column(s) 'id'",)),
        "extra column": (_csv(s.assign(extra=1)), ("unexpected column(s) 'extra'",)),
        "index saved": (_csv(s, index=True), ("index=False",)),
        "duplicated ids": (_csv(pd.concat([s, s.head(3)])), ("3 duplicated id value(s)", "'L000001'")),
        "missing ids": (_csv(s.iloc[10:]), (f"has {len(s) - 10:,} rows but test.csv has {len(s):,}", "10 id(s)",
                                            "missing")),
        "unknown ids": (_csv(s.assign(id=s["id"].where(s.index > 0, "X1"))),
                        ("does not have the ids of test.csv", "not in test.csv", "'X1'")),
        "NaN": (_csv(_with(s, 5, np.nan)), ("1 missing", "NaN")),
        "nan text": (_csv(_with(_with(s, 0, "nan"), 1, "")), ("2 missing",)),
        "infinite": (_csv(_with(s, 2, np.inf)), ("infinite",)),
        "non-numeric": (_csv(_with(s, 4, "high")), ("non-numeric", "'high'")),
        "above one": (_csv(_with(s, 7, 1.5)), ("outside [0, 1]", "1.5", "predict_proba")),
        "negative": (_csv(s.assign(default=-s["default"])), (f"{len(s):,} value(s)", "outside [0, 1]")),
        "labels as text": (_csv(s.assign(default=np.where(s.index % 2, "yes", "no"))), ("non-numeric",)),
    }


@pytest.mark.parametrize("case", sorted(_broken_cases(pd.DataFrame({"id": [], "default": []}))))
def test_broken_submission_is_one_helpful_sentence(
    loan_default_data: CompetitionData, tmp_path: Path, case: str
) -> None:
    sample = pd.read_csv(loan_default_data.sample_submission_path)
    write, expected = _broken_cases(sample)[case]
    path = tmp_path / "submission.csv"
    if write is not None:
        write(path)
    with pytest.raises(SubmissionError) as info:
        validate_submission(loan_default_data, path)
    message = str(info.value)
    assert message.startswith("submission.csv ") and message.endswith(".")
    assert "\n" not in message and "Traceback" not in message and len(message) < 400
    for fragment in expected:
        assert fragment in message, (fragment, message)


def test_valid_submission_is_parsed_and_aligned(loan_default_data: CompetitionData, tmp_path: Path) -> None:
    sample = pd.read_csv(loan_default_data.sample_submission_path)
    shuffled = sample.assign(default=np.linspace(0, 1, len(sample))).sample(frac=1.0, random_state=0)
    path = tmp_path / "sub.csv"
    shuffled[["default", "id"]].to_csv(path, index=False)  # column order and row order do not matter
    parsed = validate_submission(loan_default_data, path)
    assert list(parsed.columns) == ["id", "default"]
    assert list(parsed["id"]) == list(sample["id"])
    assert parsed["default"].to_numpy() == pytest.approx(np.linspace(0, 1, len(sample)))


# --------------------------------------------------------------------------- grade


def _answers_as_submission(data: CompetitionData, path: Path) -> Path:
    answers = pd.read_csv(data.answers_path)
    answers[["id", "default"]].to_csv(path, index=False)
    return path


def test_grade_perfect_submission(loan_default_data: CompetitionData, tmp_path: Path) -> None:
    path = _answers_as_submission(loan_default_data, tmp_path / "submission.csv")
    result = grade("loan-default", path)
    board = load_leaderboard(loan_default_data.spec)
    placed = Grade(
        competition="loan-default", metric="roc_auc", higher_is_better=True, score=1.0, part="private",
        position=1, leaderboard_size=len(board), human_rank=1.0, medal="gold",
    )
    scale = {"normalized_score", "standard_error", "dummy_score", "ceiling_score", "ceiling"}
    assert {k: v for k, v in result.to_dict().items() if k not in scale} == {
        k: v for k, v in placed.to_dict().items() if k not in scale}
    assert result.standard_error == 0.0 and result.dummy_score == 0.5 and result.ceiling == "oracle"
    assert result.normalized_score > 1  # the answers themselves beat the oracle's true probabilities
    assert grade(loan_default_data, path, part="public").score == 1.0
    report = result.report()
    assert "loan-default: private score 1.00000 (roc_auc, higher is better)" in report
    assert f"Position: 1 / {len(board) + 1}" in report
    assert "HumanRank: 100.0%" in report and "Medal: gold" in report
    assert result.to_dict()["medal"] == "gold" and set(result.to_dict()) == {f.name for f in dataclasses.fields(Grade)}


def test_grade_constant_submission(loan_default_data: CompetitionData) -> None:
    result = grade(loan_default_data, loan_default_data.sample_submission_path)
    board = load_leaderboard(loan_default_data.spec)
    assert result.score == 0.5 and result.medal == "none"
    assert result.position == 1 + int((board["score"] > 0.5).sum())
    assert result.human_rank == pytest.approx((board["score"] <= 0.5).mean())
    assert "Medal: none" in result.report() and f"/ {len(board) + 1}" in result.report()


def test_grade_rejects_unknown_part(loan_default_data: CompetitionData) -> None:
    with pytest.raises(ConfigError, match="part must be one of public, private"):
        grade(loan_default_data, loan_default_data.sample_submission_path, part="all")


# --------------------------------------------------------------------------- leaderboard and ladder


def test_committed_leaderboard(loan_default_data: CompetitionData) -> None:
    board = load_leaderboard(loan_default_data.spec)
    assert list(board.columns) == ["entry", "score", "public_score", "method", "fraction", "seed"]
    assert len(board) >= 20 and board["score"].round(6).nunique() >= 20
    assert board["score"].is_monotonic_decreasing
    scores = board.set_index("entry")["score"]
    assert scores["constant"] == 0.5
    assert 0.68 <= scores["linear_numeric_c1_100pct"] <= 0.74
    assert 0.78 <= scores["hgb_native_100pct"] <= 0.82 and scores.max() < 0.9


def test_ladder_rungs_reproduce_the_committed_scores(loan_default_data: CompetitionData) -> None:
    """Guards against a stale leaderboard.csv after the data generator changes."""
    features = ladder.Features.from_data(loan_default_data)
    rungs = [r for r in dense_rungs(features) if r.name in ("constant", "linear_numeric_c1_100pct", "tree_depth_3")]
    assert len(rungs) == 3
    rebuilt = ladder.build_ladder(loan_default_data, rungs=rungs, threads=1).set_index("entry")["score"]
    committed = load_leaderboard(loan_default_data.spec).set_index("entry")["score"]
    for name, score in rebuilt.items():
        assert score == pytest.approx(committed[name], abs=1e-6), name


def test_add_entry_hook(loan_default_data: CompetitionData, tmp_path: Path) -> None:
    spec = dataclasses.replace(loan_default_data.spec, folder=tmp_path)
    data = dataclasses.replace(loan_default_data, spec=spec)
    (tmp_path / "leaderboard.csv").write_bytes(loan_default_data.spec.leaderboard_path.read_bytes())
    answers = pd.read_csv(data.answers_path)
    perfect = answers[["id", "default"]].astype({"default": float})
    board = ladder.add_entry(data, "oracle", perfect, method="answers")
    assert board.iloc[0]["entry"] == "oracle" and board.iloc[0]["score"] == 1.0
    assert len(load_leaderboard(spec)) == len(load_leaderboard(loan_default_data.spec)) + 1
    ladder.add_entry(data, "oracle", perfect)  # same name again replaces, not duplicates
    assert (load_leaderboard(spec)["entry"] == "oracle").sum() == 1
    assert score_submission(data, validate_submission(data, data.sample_submission_path)) == 0.5


# --------------------------------------------------------------------------- label and value tasks (toy competitions)

TOY_PREPARE = '''
import numpy as np, pandas as pd

def prepare(public_dir, private_dir, seed):
    rng = np.random.default_rng(seed)
    n = 400
    x = rng.normal(size=n)
    colour = rng.choice(["red", "blue"], n)
    z = x + (colour == "red") + rng.normal(scale=0.3, size=n)
    y = {target}
    frame = pd.DataFrame({"key": [f"K{i}" for i in range(n)], "x": x, "colour": colour, "y": y})
    train, test = frame.iloc[:300], frame.iloc[300:]
    train.to_csv(public_dir / "train.csv", index=False)
    test.drop(columns="y").to_csv(public_dir / "test.csv", index=False)
    pd.DataFrame({"key": test["key"], "y": {sample}}).to_csv(public_dir / "sample_submission.csv", index=False)
    test[["key", "y"]].to_csv(private_dir / "answers.csv", index=False)
'''
TOYS = {
    "toy-labels": (dict(metric="accuracy", higher_is_better=True, task="multiclass", prediction="label"),
                   'np.where(z < 0, "low", np.where(z < 1, "mid", "high"))', '"mid"'),
    "toy-codes": (dict(metric="macro_f1", higher_is_better=True, task="multiclass", prediction="label"),
                  "np.digitize(z, [0, 1])", "1"),
    "toy-values": (dict(metric="rmse", higher_is_better=False, task="regression", prediction="value"), "z", "0.0"),
}


@pytest.fixture(scope="module")
def toys(tmp_path_factory: pytest.TempPathFactory) -> dict[str, CompetitionData]:
    from nbdojo.competitions import CompetitionSpec, prepare

    root = tmp_path_factory.mktemp("toys")
    built = {}
    for cid, (fields, target, sample) in TOYS.items():
        (root / cid).mkdir()
        (root / cid / "prepare.py").write_text(TOY_PREPARE.replace("{target}", target).replace("{sample}", sample))
        spec = CompetitionSpec(id=cid, title=cid, category="tabular", id_column="key", target_columns=("y",),
                               split_seed=5, source="test", folder=root / cid, **fields)
        built[cid] = prepare(spec)
    return built


def test_label_and_value_submissions(toys: dict[str, CompetitionData], tmp_path: Path) -> None:
    labels = toys["toy-labels"]
    answers = pd.read_csv(labels.answers_path)
    path = tmp_path / "submission.csv"
    answers[["key", "y"]].to_csv(path, index=False)
    result = grade(labels, path)
    assert (result.score, result.leaderboard_size, result.medal) == (1.0, 0, "none")
    assert "n/a (no leaderboard)" in result.report()
    answers.assign(y=answers["y"].where(answers.index > 0, "huge"))[["key", "y"]].to_csv(path, index=False)
    with pytest.raises(SubmissionError, match=r"1 label.*never occur in train.csv.*'huge'.*high, low, mid"):
        validate_submission(labels, path)

    codes = toys["toy-codes"]
    answers = pd.read_csv(codes.answers_path)
    answers[["key", "y"]].astype({"y": float}).to_csv(path, index=False)  # 2.0 is the label 2
    assert grade(codes, path).score == 1.0
    answers.assign(y=answers["y"] + 0.5)[["key", "y"]].to_csv(path, index=False)
    with pytest.raises(SubmissionError, match=r"never occur in train\.csv"):
        validate_submission(codes, path)

    values = toys["toy-values"]
    answers = pd.read_csv(values.answers_path)
    answers.assign(y=answers["y"] + 2.0)[["key", "y"]].to_csv(path, index=False)
    assert grade(values, path).score == pytest.approx(2.0)
    answers.assign(y=answers["y"] * 1e6)[["key", "y"]].to_csv(path, index=False)  # no range limit on values
    assert grade(values, path, part="public").score > 1.0


def test_answers_are_read_once_per_file_version(toys: dict[str, CompetitionData], tmp_path: Path,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    """A ladder build scores 100+ entries: answers.csv is read once, and read again when it is rewritten."""
    from nbdojo.grading import grader

    data = toys["toy-values"]
    original = data.answers_path.read_bytes()  # put back byte for byte: its checksum is recorded in NBDOJO_HOME
    answers = pd.read_csv(data.answers_path)
    submission = validate_submission(data, data.sample_submission_path)
    reads = []
    real_read_csv = pd.read_csv
    monkeypatch.setattr(grader.pd, "read_csv", lambda path, *a, **k: reads.append(str(path)) or real_read_csv(path, *a, **k))
    first = [score_submission(data, submission, part=part) for part in ("public", "private") for _ in range(3)]
    assert len(set(first[:3])) == 1 and len(set(first[3:])) == 1
    assert reads.count(str(data.answers_path)) <= 1
    try:
        answers.assign(y=answers["y"] + 1.0).to_csv(data.answers_path, index=False)  # a re-prepared answers file
        assert score_submission(data, submission, part="private") != first[3]
        assert reads.count(str(data.answers_path)) <= 2
    finally:
        data.answers_path.write_bytes(original)
    assert score_submission(data, submission, part="private") == first[3]


def test_a_caller_changing_the_answers_it_was_given_changes_no_later_grade(toys: dict[str, CompetitionData]) -> None:
    """The answers are cached per file version: the frame handed out is a copy, so a caller's edit stays its own."""
    from nbdojo.grading import grader

    data = toys["toy-values"]
    submission = validate_submission(data, data.sample_submission_path)
    before = score_submission(data, submission, part="private")
    answers = grader._answers(data, "private")
    answers["y"] = 0.0  # what the sample predicts: its score would become 0
    answers.loc[0, "key"] = "changed"
    assert score_submission(data, submission, part="private") == before


@pytest.mark.parametrize("cid", sorted(TOYS))
def test_ladder_works_from_the_spec_alone(toys: dict[str, CompetitionData], cid: str) -> None:
    data = toys[cid]
    wanted = {"constant", "random", "linear_onehot", "tree_depth_2", "hgb_100pct", "hgb_tuned", "hgb_tuned_seed1",
              "hgb_tuned_seed2", "ensemble_hgb_seeds"}
    rungs = [r for r in ladder.default_rungs(ladder.Features.from_data(data)) if r.name in wanted]
    board = ladder.build_ladder(data, rungs=rungs, threads=1)  # tiny data: threads only add overhead
    assert set(board["entry"]) == wanted
    scores = board.set_index("entry")["score"]
    better = (lambda a, b: a > b) if data.spec.higher_is_better else (lambda a, b: a < b)
    assert better(scores["hgb_100pct"], scores["constant"])
    assert list(board["score"]) == sorted(board["score"], reverse=data.spec.higher_is_better)


# --------------------------------------------------------------------------- new shapes: class columns, labels, lists

SHAPES_PREPARE = '''
import numpy as np, pandas as pd

def prepare(public_dir, private_dir, seed):
    rng = np.random.default_rng(seed)
    n = 240
    x = rng.normal(size=n)
    ids = [f"R{i:03d}" for i in range(n)]
    frame = pd.DataFrame({"key": ids, "x": x})
    KIND
    train, test = frame.iloc[:160], frame.iloc[160:]
    train.to_csv(public_dir / "train.csv", index=False)
    test.drop(columns=TARGETS).to_csv(public_dir / "test.csv", index=False)
    sample = test[["key", *TARGETS]].copy()
    SAMPLE
    sample.to_csv(public_dir / "sample_submission.csv", index=False)
    test[["key", *TARGETS]].to_csv(private_dir / "answers.csv", index=False)
'''
SHAPES = {
    "toy-species": (
        dict(metric="log_loss", higher_is_better=False, task="multiclass", prediction="probability",
             target_columns=("A", "B", "C")),
        """TARGETS = ["A", "B", "C"]
    cls = np.digitize(x + rng.normal(scale=0.5, size=n), [-0.5, 0.5])
    for j, c in enumerate(TARGETS):
        frame[c] = (cls == j).astype(int)""",
        "sample[TARGETS] = [0.3, 0.4, 0.3]",
    ),
    "toy-tags": (
        dict(metric="roc_auc", higher_is_better=True, task="multilabel", prediction="probability",
             target_columns=("t1", "t2")),
        """TARGETS = ["t1", "t2"]
    frame["t1"] = (x + rng.normal(size=n) > 0).astype(int)
    frame["t2"] = (rng.random(n) < 0.3).astype(int)""",
        "sample[TARGETS] = 0.5",
    ),
    "toy-rank": (
        dict(metric="map@3", higher_is_better=True, task="ranking", prediction="ranking",
             target_columns=("bought",), extra={"items": {"file": "items.csv", "column": "item"}}),
        """TARGETS = ["bought"]
    items = [f"I{j}" for j in range(10)]
    pd.DataFrame({"item": items, "size": range(10)}).to_csv(public_dir / "items.csv", index=False)
    frame["bought"] = [" ".join(rng.choice(items[:6], size=rng.integers(1, 3), replace=False)) for _ in range(n)]""",
        'sample["bought"] = "I0 I1 I2"',
    ),
    "toy-prices": (
        dict(metric="rmsle", higher_is_better=False, task="regression", prediction="value", target_columns=("price",)),
        """TARGETS = ["price"]
    frame["price"] = np.exp(10 + x).round(0)""",
        'sample["price"] = 20000.0',
    ),
}


@pytest.fixture(scope="module")
def shapes(prepared_home: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, CompetitionData]:
    from nbdojo.competitions import CompetitionSpec, prepare

    root = tmp_path_factory.mktemp("shapes")
    built = {}
    for cid, (fields, kind, sample) in SHAPES.items():
        (root / cid).mkdir()
        (root / cid / "prepare.py").write_text(SHAPES_PREPARE.replace("KIND", kind).replace("SAMPLE", sample))
        spec = CompetitionSpec(id=cid, title=cid, category="tabular", id_column="key", split_seed=11, source="test",
                               folder=root / cid, **fields)
        built[cid] = prepare(spec)
    return built


def _answers(data: CompetitionData) -> pd.DataFrame:
    return pd.read_csv(data.answers_path, dtype={"key": str}).drop(columns="Usage")


def _one_sentence(data: CompetitionData, frame: pd.DataFrame, tmp_path: Path) -> str:
    path = tmp_path / "submission.csv"
    frame.to_csv(path, index=False)
    with pytest.raises(SubmissionError) as info:
        validate_submission(data, path)
    message = str(info.value)
    assert message.startswith("submission.csv ") and message.endswith(".") and "\n" not in message, message
    return message


def _set(frame: pd.DataFrame, row: int, column: str, value: object) -> pd.DataFrame:
    broken = frame.astype({column: object})
    broken.loc[row, column] = value
    return broken


def test_class_probability_columns(shapes: dict[str, CompetitionData], tmp_path: Path) -> None:
    data = shapes["toy-species"]
    answers = _answers(data)
    soft = answers.assign(A=answers["A"] * 0.7 + 0.1, B=answers["B"] * 0.7 + 0.1, C=answers["C"] * 0.7 + 0.1)
    path = tmp_path / "ok.csv"
    soft.round(3).to_csv(path, index=False)
    parsed = validate_submission(data, path)
    truth = answers.set_index("key").loc[parsed["key"]]
    private = pd.read_csv(data.answers_path, dtype={"key": str}).set_index("key")["Usage"] == "Private"
    rows = private.loc[parsed["key"]].to_numpy()
    expected = skm.log_loss(truth.to_numpy().argmax(axis=1)[rows], parsed[["A", "B", "C"]].to_numpy()[rows],
                            labels=[0, 1, 2])
    assert score_submission(data, parsed) == pytest.approx(expected)
    assert grade(data, data.sample_submission_path).score > grade(data, path).score  # lower is better

    message = _one_sentence(data, soft.assign(A=soft["A"] + 0.2), tmp_path)
    assert "80 row(s) whose probabilities over A, B, C do not sum to 1" in message and "1.2" in message
    assert "P.sum(axis=1" in message
    message = _one_sentence(data, _set(soft, 3, "B", 1.4), tmp_path)
    assert "outside [0, 1]" in message and "'B'" in message
    message = _one_sentence(data, soft.drop(columns="C"), tmp_path)
    assert "missing column(s) 'C'" in message and "key, A, B, C" in message
    message = _one_sentence(data, _set(soft, 0, "A", "nan"), tmp_path)
    assert "1 missing" in message and "'A'" in message
    nearly = soft.assign(A=soft["A"] + 0.004)  # rounding slack is accepted
    nearly.to_csv(path, index=False)
    validate_submission(data, path)


def test_multilabel_columns(shapes: dict[str, CompetitionData], tmp_path: Path) -> None:
    data = shapes["toy-tags"]
    answers = _answers(data)
    path = tmp_path / "ok.csv"
    answers.assign(t1=0.9 * answers["t1"], t2=1.0).to_csv(path, index=False)  # rows need not sum to 1
    result = grade(data, path)
    assert result.score == pytest.approx(0.75)  # t1 perfect, t2 constant
    message = _one_sentence(data, answers.assign(t2=answers["t2"] * 3.0), tmp_path)
    assert "outside [0, 1]" in message


def test_ranked_lists(shapes: dict[str, CompetitionData], tmp_path: Path) -> None:
    data = shapes["toy-rank"]
    answers = _answers(data)
    path = tmp_path / "ok.csv"
    answers.to_csv(path, index=False)
    assert grade(data, path).score == 1.0
    answers.assign(bought="I9 " + answers["bought"]).to_csv(path, index=False)  # a miss ranked first
    assert 0.5 <= grade(data, path).score < 2 / 3
    padded = answers.assign(bought=answers["bought"] + " I9 I8 I7 I6")  # longer lists are fine; top 3 count
    padded.to_csv(path, index=False)
    assert grade(data, path).score == 1.0
    assert 0.0 < grade(data, data.sample_submission_path).score < 1.0

    cases = {
        "empty": (_set(answers, 2, "bought", ""), ("1 empty ranked list(s) in 'bought'", "separated by spaces")),
        "nan": (_set(answers, 2, "bought", "nan"), ("1 empty ranked list(s)",)),
        "repeat": (_set(answers, 4, "bought", "I1 I2 I1"), ("repeat an item", "'I1'", "at most once")),
        "unknown": (_set(answers, 1, "bought", "I1 X77"), ("not in items.csv", "'X77'", "rank only ids of items.csv")),
        "commas": (_set(answers, 1, "bought", "I1,I2"), ("'I1,I2'", "spaces, not commas")),
        "duplicated ids": (pd.concat([answers, answers.head(2)]), ("2 duplicated key value(s)",)),
        "missing ids": (answers.iloc[5:], ("has 75 rows but test.csv has 80", "5 id(s) of test.csv are missing")),
        "wrong column": (answers.rename(columns={"bought": "items"}), ("missing column(s) 'bought'",)),
    }
    for case, (frame, fragments) in cases.items():
        message = _one_sentence(data, frame, tmp_path)
        for fragment in fragments:
            assert fragment in message, (case, message)


def test_values_below_the_metric_floor(shapes: dict[str, CompetitionData], tmp_path: Path) -> None:
    data = shapes["toy-prices"]
    answers = _answers(data)
    message = _one_sentence(data, _set(answers, 3, "price", -5.0), tmp_path)
    assert "1 value(s) in 'price' below 0" in message and "rmsle" in message and "np.clip" in message
    path = tmp_path / "ok.csv"
    answers.assign(price=answers["price"] * np.e - 0.0).to_csv(path, index=False)
    assert grade(data, path).score == pytest.approx(1.0, abs=0.01)
