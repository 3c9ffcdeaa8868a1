"""Reference ladder for appliance-loads: the prior, statistics, shape and spectral features, 1-D CNNs, ensembles.

Every probability is smoothed towards uniform by 1% (as a careful log-loss entry is): one confident
miss would otherwise cost more than the whole rest of a submission.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from nbdojo.competitions import CompetitionData
from nbdojo.competitions.ladder import Rung
from nbdojo.competitions.reference import (
    CNNConfig,
    Ladder,
    add_searched_rungs,
    fraction_rows,
    predict_signal_cnn,
    train_signal_cnn,
)

STEPS = 256  # the CNNs' resampled length


def _waves(data: CompetitionData, part: str, lengths: pd.Series) -> list[np.ndarray]:
    signals = np.load(data.public_dir / f"{part}_signals.npy")[:, :, 0]
    return [signals[i, :n].astype(float) for i, n in enumerate(lengths)]


def _resampled(wave: np.ndarray, steps: int) -> np.ndarray:
    return np.interp(np.linspace(0, 1, steps), np.linspace(0, 1, len(wave)), wave)


def _envelope(wave: np.ndarray, width: int = 10) -> np.ndarray:
    swing = np.abs(wave - np.median(wave))
    padded = np.r_[swing, np.repeat(swing[-1], width - 1)]
    return np.lib.stride_tricks.sliding_window_view(padded, width).max(axis=1)


def _stats(wave: np.ndarray) -> np.ndarray:
    return np.r_[len(wave), wave.mean(), wave.std(), np.percentile(wave, [0, 10, 50, 90, 100]),
                 np.abs(np.diff(wave)).mean()]


def _shape(wave: np.ndarray) -> np.ndarray:
    """Statistics and the envelope's course over 24 steps, scaled by its peak, with its peak."""
    envelope = _envelope(wave)
    peak = envelope.max() + 1e-9
    return np.r_[_stats(wave), np.log(peak), _resampled(envelope, 24) / peak]


def _spectral(wave: np.ndarray) -> np.ndarray:
    """Shape, the share of power in 16 frequency bands, and the switch-on surge against the steady state."""
    spectrum = np.abs(np.fft.rfft(wave - wave.mean()))[1:] ** 2
    total = spectrum.sum() + 1e-12
    n = len(wave)
    head, tail = wave[: n // 5], wave[n // 2:]
    return np.r_[_shape(wave), [b.sum() / total for b in np.array_split(spectrum, 16)], np.log(total),
                 spectrum.argmax() / len(spectrum), np.log((head.std() + 1e-6) / (tail.std() + 1e-6)),
                 np.mean(np.diff(np.sign(wave - wave.mean())) != 0)]


def _cnn_input(waves: list[np.ndarray]) -> np.ndarray:
    """(n, STEPS, 2): the current and its envelope, each resampled to STEPS."""
    return np.stack([np.stack([_resampled(w, STEPS), _resampled(_envelope(w), STEPS)], axis=1) for w in waves])


def rungs(data: CompetitionData) -> list[Rung]:
    from sklearn.ensemble import ExtraTreesClassifier, HistGradientBoostingClassifier, RandomForestClassifier
    from sklearn.linear_model import LogisticRegression
    from sklearn.neural_network import MLPClassifier
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    spec = data.spec
    classes = list(spec.target_columns)
    train = pd.read_csv(data.train_path, dtype={"id": str})
    test = pd.read_csv(data.test_path, dtype={"id": str})
    waves, waves_test = _waves(data, "train", train["length"]), _waves(data, "test", test["length"])
    y = train[classes].to_numpy().argmax(axis=1)
    ladder = Ladder(data, test["id"].tolist(), classes, kind="columns")
    features = {name: (np.array([f(w) for w in waves]), np.array([f(w) for w in waves_test]))
                for name, f in (("stats", _stats), ("shape", _shape), ("spectral", _spectral))}
    prior = np.bincount(y, minlength=len(classes)) / len(y)

    def smoothed(proba: np.ndarray) -> np.ndarray:
        return 0.99 * proba + 0.01 / len(classes)

    def fitted(make_model, kind: str, fraction: float = 1.0, seed: int = 0):
        def predict() -> np.ndarray:
            X, Xt = features[kind]
            rows = fraction_rows(len(y), fraction, seed)
            model = make_model().fit(X[rows], y[rows])
            proba = np.zeros((len(Xt), len(classes)))
            proba[:, model.classes_] = model.predict_proba(Xt)
            return smoothed(proba)
        return predict

    def cnn(config: CNNConfig, fraction: float = 1.0, seed: int = 0):
        def predict() -> np.ndarray:
            rows = fraction_rows(len(y), fraction, seed)
            model = train_signal_cnn(_cnn_input([waves[i] for i in rows]), y[rows], config, seed=seed,
                                     outputs=len(classes))
            return smoothed(predict_signal_cnn(model, _cnn_input(waves_test)))
        return predict

    ladder.add("sample_submission", "the sample file: the training share of each type for every recording",
               lambda: pd.read_csv(data.sample_submission_path)[classes].to_numpy(float))
    ladder.add("prior_smoothed", "the training shares, smoothed towards uniform",
               lambda: smoothed(np.tile(prior, (len(test), 1))))
    add_searched_rungs(ladder, fitted, ("stats", "shape", "spectral"), rows=len(y))

    def hgb(lr: float, rounds: int, leaves: int, seed: int = 0):
        return lambda: HistGradientBoostingClassifier(max_iter=rounds, learning_rate=lr, max_leaf_nodes=leaves,
                                                      min_samples_leaf=20, l2_regularization=1.0, random_state=seed)

    for kind in ("shape", "spectral"):
        for lr, rounds, leaves in ((0.03, 300, 8), (0.05, 200, 15), (0.1, 100, 31)):
            for fraction in (0.5, 1.0):
                ladder.add(f"{kind}_hgb_lr{lr:g}_{rounds}r_{leaves}l_{round(fraction * 100)}pct",
                           f"gradient boosting (lr {lr:g}, {rounds} rounds, {leaves} leaves) on {kind} features, "
                           f"{fraction:.0%} of train", fitted(hgb(lr, rounds, leaves), kind, fraction, 30),
                           fraction=fraction, seed=30)
    for seed in range(1, 6):
        ladder.add(f"spectral_hgb_tuned_seed{seed}", "gradient boosting (lr 0.03, 300 rounds, 8 leaves, 80% "
                   "features) on spectral features", fitted(lambda s=seed: HistGradientBoostingClassifier(
                       max_iter=300, learning_rate=0.03, max_leaf_nodes=8, min_samples_leaf=20, l2_regularization=1.0,
                       max_features=0.8, random_state=s), "spectral", 1.0, seed), seed=seed)
    for kind in ("shape", "spectral"):
        for leaf in (1, 3, 8):
            ladder.add(f"{kind}_extra_trees_leaf{leaf}", f"extra trees (300, min leaf {leaf}) on {kind} features",
                       fitted(lambda m=leaf: ExtraTreesClassifier(300, min_samples_leaf=m, max_features=0.3, n_jobs=1,
                                                                  random_state=0), kind, 1.0, 40), seed=40)
            ladder.add(f"{kind}_forest_leaf{leaf}", f"random forest (300, min leaf {leaf}) on {kind} features",
                       fitted(lambda m=leaf: RandomForestClassifier(300, min_samples_leaf=m, n_jobs=1, random_state=0),
                              kind, 1.0, 41), seed=41)
        for hidden in (32, 128):
            for alpha in (1e-3, 1e-1):
                ladder.add(f"{kind}_mlp_{hidden}_a{alpha:g}", f"MLP ({hidden} units, alpha {alpha:g}) on {kind} "
                           "features", fitted(lambda h=hidden, a=alpha: make_pipeline(StandardScaler(), MLPClassifier(
                               (h,), alpha=a, max_iter=300, early_stopping=True, random_state=0)), kind, 1.0, 42),
                           seed=42)
        for c in (3.0, 10.0, 30.0):
            ladder.add(f"{kind}_logistic_c{c:g}", f"logistic regression (C {c:g}) on {kind} features",
                       fitted(lambda c=c: make_pipeline(StandardScaler(), LogisticRegression(C=c, max_iter=1000)),
                              kind, 1.0, 43), seed=43)
    small = CNNConfig(widths=(16, 32, 64), epochs=12, batch_size=64, lr=3e-3, dropout=0.1)
    for fraction in (0.25, 0.5, 1.0):
        ladder.add(f"cnn1d_{round(fraction * 100)}pct", f"1-D CNN 16-32-64, 12 epochs on current and envelope "
                   f"(resampled to {STEPS}), {fraction:.0%} of train", cnn(small, fraction), fraction=fraction)
    ladder.add("cnn1d_shifted", "1-D CNN 16-32-64, 20 epochs, random shifts, on current and envelope",
               cnn(CNNConfig(widths=(16, 32, 64), epochs=20, batch_size=64, lr=3e-3, dropout=0.2, shift=12), seed=1),
               seed=1)
    ladder.blend("ensemble_tuned_boosters", [f"spectral_hgb_tuned_seed{s}" for s in range(1, 6)])
    ladder.blend("ensemble_boosting_trees", ["ensemble_tuned_boosters", "spectral_extra_trees_leaf1"])
    ladder.blend("ensemble_boosting_trees_mlp", ["ensemble_tuned_boosters", "spectral_extra_trees_leaf1",
                                                 "spectral_mlp_128_a0.1"])
    ladder.blend("ensemble_boosting_cnn", ["ensemble_tuned_boosters", "cnn1d_shifted"])
    ladder.blend("ensemble_all", ["ensemble_tuned_boosters", "spectral_extra_trees_leaf1", "spectral_mlp_128_a0.1",
                                  "cnn1d_shifted", "shape_hgb_lr0.03_300r_8l_100pct"])
    return ladder.rungs
