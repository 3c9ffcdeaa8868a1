"""The image, text and signal competitions: their data on disk, their reference ladders, their graders.

land-cover (50,000 JPEG tiles, about a minute to build) is built here only when NBDOJO_FULL_TESTS=1;
its committed leaderboard is checked in every run.
"""

from __future__ import annotations

import math
import os
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from nbdojo.competitions import CompetitionData, get_competition, load_module, prepare
from nbdojo.grading import grade, validate_submission
from nbdojo.competitions.ladder import build_ladder

FULL = os.environ.get("NBDOJO_FULL_TESTS") == "1"
COMPETITIONS = {  # id: (category, task, metric)
    "shapes-cv": ("cv", "multiclass", "accuracy"),
    "digits-noisy": ("cv", "multiclass", "accuracy"),
    "land-cover": ("cv", "multiclass", "accuracy"),
    "review-sentiment": ("nlp", "multiclass", "qwk"),
    "ticket-routing": ("nlp", "multilabel", "roc_auc"),
    "sensor-activity": ("signal", "multiclass", "macro_f1"),
}
IMAGES = {"shapes-cv": (".png", (32, 32), "RGB"), "digits-noisy": (".png", (32, 32), "L"),
          "land-cover": (".jpg", (64, 64), "RGB")}
BUILT = [c for c in COMPETITIONS if c != "land-cover" or FULL]
# For each ladder: a rung without learning and the best rung that does not learn the task's structure.
WEAK_STRONG = {
    "shapes-cv": ("coarse_pixels_logistic", "cnn_small"),
    "digits-noisy": ("gray_pixels_logistic", "cnn_small"),
    "land-cover": ("coarse_pixels_logistic", "cnn_64px_20pct"),
    "review-sentiment": ("title_length_only", "bigram_logistic"),
    "ticket-routing": ("metadata_logistic", "bigram_logistic"),
    "sensor-activity": ("raw_signal_logistic", "cnn1d"),
}


@pytest.fixture(scope="module")
def built(prepared_home: Path) -> dict[str, CompetitionData]:
    return {cid: prepare(cid) for cid in BUILT}


@pytest.mark.parametrize("cid", sorted(COMPETITIONS))
def test_spec_and_description(cid: str) -> None:
    spec = get_competition(cid)
    assert (spec.category, spec.task, spec.metric) == COMPETITIONS[cid]
    text = spec.description
    for heading in ("## Overview", "## Data", "## Evaluation", "## Submission format", "## Public and private",
                    "## Leaderboard"):
        assert heading in text, heading
    assert "not a Kaggle leaderboard" in text
    assert f"{spec.id_column}," in text and "```" in text, "a sample of the submission"
    assert spec.extra["rows"] and spec.extra["prepare_seconds"]


@pytest.mark.parametrize("cid", BUILT)
def test_tables_follow_the_contract(built: dict[str, CompetitionData], cid: str) -> None:
    data = built[cid]
    spec = data.spec
    train, test = pd.read_csv(data.train_path), pd.read_csv(data.test_path)
    answers = pd.read_csv(data.answers_path)
    assert (len(train), len(test)) == (spec.extra["rows"]["train"], spec.extra["rows"]["test"])
    assert not set(spec.target_columns) & set(test.columns)
    assert set(answers[spec.id_column]) == set(test[spec.id_column]) and not set(train["id"]) & set(test["id"])
    assert answers["Usage"].value_counts(normalize=True).round(1).to_dict() == {"Private": 0.7, "Public": 0.3}
    for column in spec.target_columns:  # every class is seen in train, with no class swamping the rest
        shares = train[column].value_counts(normalize=True)
        assert set(answers[column]) <= set(shares.index)
        assert shares.max() < (0.95 if spec.task == "multilabel" else 0.5)
    assert len(validate_submission(data, data.sample_submission_path)) == len(test)
    assert math.isfinite(grade(data, data.sample_submission_path).score)


@pytest.mark.parametrize("cid", [c for c in IMAGES if c in BUILT])
def test_images_are_real_files_one_per_row(built: dict[str, CompetitionData], cid: str) -> None:
    data = built[cid]
    suffix, size, mode = IMAGES[cid]
    for part in ("train", "test"):
        ids = pd.read_csv(data.public_dir / f"{part}.csv", usecols=["id"])["id"]
        files = sorted(p.name for p in (data.public_dir / f"{part}_images").iterdir())
        assert files == sorted(f"{i}{suffix}" for i in ids)
        for name in ids.sample(20, random_state=0):
            with Image.open(data.public_dir / f"{part}_images" / f"{name}{suffix}") as image:
                assert (image.size, image.mode, image.format) == (size, mode, suffix[1:].upper().replace("JPG", "JPEG"))
                pixels = np.asarray(image)
                assert pixels.std() > 5  # not blank


def test_review_text_has_real_structure(built: dict[str, CompetitionData]) -> None:
    train = pd.read_csv(built["review-sentiment"].train_path)
    text = train["text"].str.lower()
    assert sorted(train["rating"].unique()) == [1, 2, 3, 4, 5]
    assert text.str.contains(r"\bnot (?:bad|great)", regex=True).mean() > 0.03  # negations
    assert text.str.contains(", but ", regex=False).mean() > 0.15  # contrasts
    assert text.str.contains("oh great|just what i needed", regex=True).sum() > 100  # sarcasm
    mean_length = train.groupby("rating")["text"].apply(lambda t: t.str.len().mean())
    assert mean_length.between(60, 400).all()
    assert train["text"].nunique() > 0.97 * len(train)


def test_tickets_are_multi_label_with_overlapping_words(built: dict[str, CompetitionData]) -> None:
    spec = get_competition("ticket-routing")
    train = pd.read_csv(built["ticket-routing"].train_path)
    labels = train[list(spec.target_columns)]
    assert set(np.unique(labels)) == {0, 1} and (labels.sum(axis=1) >= 1).all()
    assert 0.25 < (labels.sum(axis=1) > 1).mean() < 0.6  # many tickets need more than one team
    body = train["body"].str.lower()
    assert labels["billing"][body.str.contains("refund")].mean() < 0.9  # a keyword is not the answer


def test_sensor_signals_line_up_with_the_tables(built: dict[str, CompetitionData]) -> None:
    data = built["sensor-activity"]
    train, test = pd.read_csv(data.train_path), pd.read_csv(data.test_path)
    signals = np.load(data.public_dir / "train_signals.npy")
    test_signals = np.load(data.public_dir / "test_signals.npy")
    assert signals.shape == (len(train), 64, 6) and test_signals.shape == (len(test), 64, 6)
    assert signals.dtype == np.float32 and np.isfinite(signals).all()
    assert not set(train["subject"]) & set(test["subject"])  # test wearers are new
    gravity = np.linalg.norm(signals[..., :3].mean(axis=1), axis=1)
    assert 0.85 < np.median(gravity) < 1.15  # the accelerometer feels 1 g


@pytest.mark.parametrize("cid", sorted(COMPETITIONS))
def test_reference_ladder_has_a_real_spread(cid: str) -> None:
    spec = get_competition(cid)
    board = pd.read_csv(spec.leaderboard_path)
    assert len(board) >= 20 and board["score"].round(6).nunique() >= 20
    assert board["score"].is_monotonic_decreasing  # every metric here is higher-is-better; best first
    assert board["entry"].is_unique and board["method"].notna().all()
    scores = board.set_index("entry")["score"]
    weak, strong = WEAK_STRONG[cid]
    assert scores[strong] > scores[weak] + 0.1  # the task rewards learning its structure
    assert scores.max() < (0.99 if cid != "land-cover" else 0.97)  # not saturated: room above the ladder
    assert scores.max() - scores.min() > 0.3


@pytest.mark.parametrize("cid", ["digits-noisy", "ticket-routing", "sensor-activity"])
def test_reference_rungs_reproduce_the_committed_scores(built: dict[str, CompetitionData], cid: str) -> None:
    """The cheap rungs of reference.py, scored again through the ladder, give the leaderboard's numbers."""
    data = built[cid]
    module = load_module(data.spec.folder / "reference.py", f"test_reference_{cid.replace('-', '_')}", "rungs")
    rungs = [r for r in module.rungs(data) if r.name in ("sample_submission", "majority_class", "random_labels",
                                                          "random_scores", "random_activity", "keyword_rules")]
    assert len(rungs) >= 2
    board = build_ladder(data, rungs=rungs).set_index("entry")
    committed = pd.read_csv(data.spec.leaderboard_path).set_index("entry")
    # the dummy (the sample submission) is always on the ladder; random rungs may sit below it and are left off
    assert "sample_submission" in set(board.index) & set(committed.index)
    for name in set(board.index) & set(committed.index):
        assert board.loc[name, "score"] == pytest.approx(committed.loc[name, "score"], abs=1e-6), name
