"""Reference ladder for digits-noisy: dummy, pixel, gradient-histogram and small-CNN rungs (see nbdojo.competitions.reference)."""

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
    classes = sorted(train["digit"].unique())
    y = train["digit"].map({c: i for i, c in enumerate(classes)}).to_numpy()
    X = load_images(data.public_dir / "train_images", train["id"].tolist())[..., :1]  # grayscale scans
    Xt = load_images(data.public_dir / "test_images", test["id"].tolist())[..., :1]

    ladder = Ladder(data, test["id"].tolist(), classes)
    ladder.add("sample_submission", "the sample file: the digit 0 for every scan",
               lambda: ladder.one_hot(pd.read_csv(data.sample_submission_path)["digit"].tolist()))
    add_classic_image_rungs(ladder, X, y, Xt, pixels=16)
    tiny = CNNConfig(widths=(16, 32), epochs=6, batch_size=64)
    small = CNNConfig(widths=(16, 32, 64), epochs=10, batch_size=64)
    for fraction in (0.05, 0.1, 0.25, 0.5):
        add_cnn_rung(ladder, f"cnn_small_{round(fraction * 100)}pct", X, y, Xt, small, fraction=fraction)
    add_cnn_rung(ladder, "cnn_tiny", X, y, Xt, tiny)
    add_cnn_rung(ladder, "cnn_small", X, y, Xt, small)
    add_cnn_rung(ladder, "cnn_small_shifted_seed1", X, y, Xt, CNNConfig(widths=(16, 32, 64), epochs=10, batch_size=64,
                                                                       shift=3), seed=1)
    add_cnn_rung(ladder, "cnn_wide_shifted_seed2", X, y, Xt, CNNConfig(widths=(32, 64, 96), epochs=12, batch_size=64,
                                                                      shift=3, dropout=0.2), seed=2)
    quick = CNNConfig(widths=(16, 32), epochs=4, batch_size=64)
    for fraction, seed in ((0.1, 3), (0.2, 3), (0.3, 3), (0.4, 3), (0.6, 3), (0.8, 3), (0.3, 4), (0.6, 4),
                           (0.15, 5), (0.25, 5), (0.5, 5)):
        name = f"cnn_quick_{round(fraction * 100)}pct_seed{seed}"
        add_cnn_rung(ladder, name, X, y, Xt, quick, fraction=fraction, seed=seed)
        add_cnn_rung(ladder, f"{name}_tta", X, y, Xt, quick, fraction=fraction, seed=seed, tta=True)
    ladder.blend("ensemble_cnns", ["cnn_small", "cnn_small_shifted_seed1", "cnn_wide_shifted_seed2"])
    ladder.blend("ensemble_cnns_mlp", ["cnn_small", "cnn_small_shifted_seed1", "cnn_wide_shifted_seed2",
                                       "gradient_histograms_mlp"], weights=[1.0, 1.0, 1.0, 0.5])
    return ladder.rungs
