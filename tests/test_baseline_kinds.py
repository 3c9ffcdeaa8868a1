"""The baseline finds what a competition's files hold: free text, `.npy` signals, images, an extra table.

Each test writes a tiny data folder where only that kind of data carries the label, runs the
baseline's cells in-process (`baseline_submission`, as the leaderboard script does) and checks
the accuracy of its answers. A baseline that drops the text, ignores the arrays, fails on the
images or never joins the table guesses at chance.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
from threadpoolctl import threadpool_limits

from nbdojo.agents.baseline import baseline_submission

SPEC = {"id_column": "id", "target_columns": ["label"], "task": "multiclass", "prediction": "label",
        "metric": "accuracy"}


def _write(folder: Path, frame: pd.DataFrame, n_train: int) -> pd.Series:
    """train.csv, test.csv (without the label) and a constant sample; the test answers are returned."""
    folder.mkdir(parents=True, exist_ok=True)
    train, test = frame.iloc[:n_train], frame.iloc[n_train:]
    train.to_csv(folder / "train.csv", index=False)
    test.drop(columns="label").to_csv(folder / "test.csv", index=False)
    test[["id"]].assign(label=train["label"].iloc[0]).to_csv(folder / "sample_submission.csv", index=False)
    return test.set_index("id")["label"]


def _accuracy(folder: Path, answers: pd.Series, spec: dict = SPEC) -> float:
    with threadpool_limits(limits=1):
        submission = baseline_submission(str(folder), spec, seed=0).set_index("id")["label"]
    return float((submission.reindex(answers.index).astype(str) == answers.astype(str)).mean())


def test_free_text_is_read(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    n = 600
    label = rng.choice(["refund", "login", "delivery"], size=n)
    cue = {"refund": "charged twice money back", "login": "password reset locked out", "delivery": "parcel late courier"}
    filler = ["hello team", "thanks a lot", "please help", "order number 12", "asap"]
    text = [f"{rng.choice(filler)} {' '.join(rng.permutation(cue[c].split())[:2])} {rng.choice(filler)} #{i}"
            for i, c in enumerate(label)]
    frame = pd.DataFrame({"id": [f"T{i}" for i in range(n)], "channel": rng.choice(["mail", "chat"], n),
                          "message": text, "label": label})
    answers = _write(tmp_path, frame, 450)
    assert _accuracy(tmp_path, answers) > 0.9


def test_npy_signals_are_summarised(tmp_path: Path) -> None:
    rng = np.random.default_rng(1)
    n, steps = 500, 48
    label = rng.integers(0, 2, size=n)
    t = np.arange(steps)[None, :]
    freq = np.where(label == 1, 0.25, 0.06)[:, None]
    wave = np.sin(2 * np.pi * freq * t + rng.uniform(0, 6.3, size=(n, 1)))
    signals = np.stack([wave + rng.normal(0, 0.3, (n, steps)), rng.normal(0, 1, (n, steps))], axis=2)
    frame = pd.DataFrame({"id": [f"W{i}" for i in range(n)], "wearer": [f"S{i}" for i in range(n)],
                          "label": np.where(label == 1, "running", "walking")})
    answers = _write(tmp_path, frame, 400)
    np.save(tmp_path / "train_signals.npy", signals[:400].astype(np.float32))
    np.save(tmp_path / "test_signals.npy", signals[400:].astype(np.float32))
    assert _accuracy(tmp_path, answers) > 0.9


def test_images_named_by_id_are_learned(tmp_path: Path) -> None:
    from PIL import Image

    rng = np.random.default_rng(2)
    n = 360
    label = rng.integers(0, 2, size=n)
    frame = pd.DataFrame({"id": [f"I{i:03d}" for i in range(n)], "label": np.where(label == 1, "left", "right")})
    answers = _write(tmp_path, frame, 280)
    for part, rows in (("train", range(280)), ("test", range(280, n))):
        folder = tmp_path / f"{part}_images"
        folder.mkdir()
        for i in rows:
            pixels = rng.integers(0, 60, size=(16, 16), dtype=np.uint8)
            columns = slice(0, 8) if label[i] == 1 else slice(8, 16)
            pixels[:, columns] += 150
            Image.fromarray(pixels, mode="L").save(folder / f"I{i:03d}.png")
    assert _accuracy(tmp_path, answers) > 0.9


def test_an_extra_table_is_joined_on_its_key(tmp_path: Path) -> None:
    rng = np.random.default_rng(3)
    shops = pd.DataFrame({"shop": [f"shop{i}" for i in range(300)], "size": rng.uniform(0, 1, 300)})
    n = 800
    shop = np.concatenate([rng.choice(shops["shop"][:150], 600), rng.choice(shops["shop"][150:], 200)])
    size = shops.set_index("shop").loc[shop, "size"].to_numpy()
    frame = pd.DataFrame({"id": [f"R{i}" for i in range(n)], "shop": shop, "noise": rng.normal(size=n),
                          "label": np.where(size > 0.5, "big", "small")})
    answers = _write(tmp_path, frame, 600)  # test shops never appear in train: only the table tells their size
    shops.to_csv(tmp_path / "shops.csv", index=False)
    assert _accuracy(tmp_path, answers) > 0.9


def test_probabilities_go_where_the_sample_holds_them(tmp_path: Path) -> None:
    """An MLE-Dojo-style file: the submission's column (Probability) is not train's label column."""
    rng = np.random.default_rng(4)
    n = 500
    x = rng.normal(size=n)
    frame = pd.DataFrame({"id": [f"C{i}" for i in range(n)], "x": x, "label": (x > 0).astype(int)})
    frame.iloc[:400].to_csv(tmp_path / "train.csv", index=False)
    frame.iloc[400:].drop(columns="label").to_csv(tmp_path / "test.csv", index=False)
    frame.iloc[400:][["id"]].assign(Probability=0.5).to_csv(tmp_path / "sample_submission.csv", index=False)
    spec = dict(SPEC, target_columns=["Probability"], task="other", prediction="other")
    with threadpool_limits(limits=1):
        submission = baseline_submission(str(tmp_path), spec, seed=0)
    p = submission["Probability"].to_numpy()
    assert ((p > 0) & (p < 1)).all() and p[frame["x"].iloc[400:].to_numpy() > 0].mean() > 0.8
