"""Reference ladder for land-cover: dummy, colour, pixel and gradient rungs, and CNNs on growing shares of the data.

The CNN rungs train a few epochs on CPU-sized shares of the 40,000 tiles (a full ladder
stays within minutes on two cores); a CNN trained for many epochs on every tile, which a
GPU makes quick, scores well above the top of this ladder.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from nbdojo.competitions import CompetitionData
from nbdojo.competitions.ladder import Rung
from nbdojo.competitions.reference import (
    CNNConfig,
    Ladder,
    add_classic_image_rungs,
    add_cnn_rung,
    fraction_rows,
    load_images,
)


def _colour_histograms(images: np.ndarray, bins: int = 8) -> np.ndarray:
    """Per-channel intensity histograms plus a coarse 2x2 grid of colour means (no structure)."""
    n = len(images)
    flat = images.reshape(n, -1, 3)
    hist = [np.stack([np.bincount(row, minlength=bins) for row in (flat[..., c] // (256 // bins))]) for c in range(3)]
    grid = images.reshape(n, 2, 32, 2, 32, 3).mean(axis=(2, 4)).reshape(n, -1)
    return np.concatenate([*hist, grid / 255.0, flat.std(axis=1) / 255.0], axis=1).astype(np.float32)


def rungs(data: CompetitionData) -> list[Rung]:
    from sklearn.ensemble import HistGradientBoostingClassifier

    train = pd.read_csv(data.train_path, dtype={"id": str})
    test = pd.read_csv(data.test_path, dtype={"id": str})
    classes = sorted(train["land_cover"].unique())
    y = train["land_cover"].map({c: i for i, c in enumerate(classes)}).to_numpy()
    X = load_images(data.public_dir / "train_images", train["id"].tolist(), suffix=".jpg")
    Xt = load_images(data.public_dir / "test_images", test["id"].tolist(), suffix=".jpg")
    half = X.reshape(len(X), 32, 2, 32, 2, 3).mean(axis=(2, 4)).round().astype(np.uint8)  # 32x32 copies
    half_t = Xt.reshape(len(Xt), 32, 2, 32, 2, 3).mean(axis=(2, 4)).round().astype(np.uint8)

    ladder = Ladder(data, test["id"].tolist(), classes)
    ladder.add("sample_submission", "the sample file: Forest for every tile",
               lambda: ladder.one_hot(pd.read_csv(data.sample_submission_path)["land_cover"].tolist()))
    add_classic_image_rungs(ladder, half, y, half_t, pixels=16, search_rows=6_000)  # 40,000 tiles: cheap grid

    def histogram_boosting(fraction: float):
        def predict() -> np.ndarray:
            rows = fraction_rows(len(y), fraction, 0)
            model = HistGradientBoostingClassifier(max_iter=150, learning_rate=0.1, random_state=0)
            model.fit(_colour_histograms(X[rows]), y[rows])
            return model.predict_proba(_colour_histograms(Xt))
        return predict

    ladder.add("colour_histogram_boosting_10pct", "gradient boosting on colour histograms, 10% of train",
               histogram_boosting(0.1), fraction=0.1)
    ladder.add("colour_histogram_boosting", "gradient boosting on colour histograms and a 2x2 colour grid",
               histogram_boosting(1.0))
    small = CNNConfig(widths=(16, 32, 64), epochs=2)
    for fraction in (0.02, 0.05, 0.1, 0.25):
        add_cnn_rung(ladder, f"cnn_32px_{round(fraction * 100)}pct", half, y, half_t, small, fraction=fraction)
    add_cnn_rung(ladder, "cnn_32px_25pct_tta", half, y, half_t, small, fraction=0.25, tta=True)
    add_cnn_rung(ladder, "cnn_64px_20pct", X, y, Xt, CNNConfig(widths=(16, 32, 64, 64), epochs=2), fraction=0.2,
                 seed=1)
    ladder.blend("ensemble_cnns", ["cnn_32px_25pct_tta", "cnn_64px_20pct"])
    ladder.blend("ensemble_cnns_boosting", ["cnn_32px_25pct_tta", "cnn_64px_20pct", "colour_histogram_boosting"],
                 weights=[1.0, 1.0, 0.5])
    return ladder.rungs
