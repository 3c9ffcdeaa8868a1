"""Reference ladder for shapes-cv: dummy, pixel, gradient-histogram and small-CNN rungs (see nbdojo.competitions.reference)."""

from __future__ import annotations

import pandas as pd

from nbdojo.competitions import CompetitionData
from nbdojo.competitions.ladder import Rung
from nbdojo.competitions.reference import (
    CNNConfig,
    Ladder,
    add_classic_image_rungs,
    add_cnn_rung,
    load_images,
)


def rungs(data: CompetitionData) -> list[Rung]:
    train = pd.read_csv(data.train_path, dtype={"id": str})
    test = pd.read_csv(data.test_path, dtype={"id": str})
    classes = sorted(train["label"].unique())
    y = train["label"].map({c: i for i, c in enumerate(classes)}).to_numpy()
    X = load_images(data.public_dir / "train_images", train["id"].tolist())
    Xt = load_images(data.public_dir / "test_images", test["id"].tolist())

    ladder = Ladder(data, test["id"].tolist(), classes)
    ladder.add("sample_submission", "the sample file: one class for every image",
               lambda: ladder.one_hot(pd.read_csv(data.sample_submission_path)["label"].tolist()))
    add_classic_image_rungs(ladder, X, y, Xt, pixels=16)
    small = CNNConfig(widths=(16, 32, 64), epochs=3)
    for fraction in (0.05, 0.1, 0.25):
        add_cnn_rung(ladder, f"cnn_small_{round(fraction * 100)}pct", X, y, Xt, small, fraction=fraction)
    add_cnn_rung(ladder, "cnn_small", X, y, Xt, small)
    add_cnn_rung(ladder, "cnn_small_tta", X, y, Xt, small, seed=0, tta=True)
    add_cnn_rung(ladder, "cnn_small_augmented_seed1", X, y, Xt, CNNConfig(widths=(16, 32, 64), epochs=3,
                                                                         augment=True), seed=1, tta=True)
    ladder.blend("ensemble_cnns", ["cnn_small_tta", "cnn_small_augmented_seed1"])
    ladder.blend("ensemble_cnns_boosting", ["cnn_small_tta", "cnn_small_augmented_seed1",
                                            "gradient_histograms_boosting"], weights=[1.0, 1.0, 0.5])
    return ladder.rungs

