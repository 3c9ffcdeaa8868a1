"""Reference ladder for sensor-activity: dummy, summary statistics, spectral features, 1-D CNNs, ensembles."""

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


def _statistics(signals: np.ndarray) -> np.ndarray:
    """Mean, spread and range of each channel (n, steps, 6) -> (n, 18)."""
    return np.concatenate([signals.mean(1), signals.std(1), np.ptp(signals, axis=1)], axis=1)


def _spectral(signals: np.ndarray) -> np.ndarray:
    """Statistics, gravity direction, magnitude statistics and the low-frequency power spectrum of each channel."""
    acc = signals[..., :3]
    magnitude = np.linalg.norm(acc, axis=2)
    gravity = acc.mean(1) / (np.linalg.norm(acc.mean(1), axis=1, keepdims=True) + 1e-6)
    centred = signals - signals.mean(1, keepdims=True)
    power = np.abs(np.fft.rfft(centred, axis=1))[:, 1:13, :]  # up to ~4.7 Hz
    return np.concatenate([_statistics(signals), gravity, magnitude.mean(1, keepdims=True),
                           magnitude.std(1, keepdims=True), np.log1p(power.reshape(len(signals), -1))], axis=1)


def rungs(data: CompetitionData) -> list[Rung]:
    from sklearn.ensemble import HistGradientBoostingClassifier, RandomForestClassifier
    from sklearn.linear_model import LogisticRegression
    from sklearn.neighbors import KNeighborsClassifier
    from sklearn.neural_network import MLPClassifier
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    train = pd.read_csv(data.train_path, dtype={"id": str})
    test = pd.read_csv(data.test_path, dtype={"id": str})
    S = np.load(data.public_dir / "train_signals.npy")
    St = np.load(data.public_dir / "test_signals.npy")
    classes = sorted(train["activity"].unique())
    y = train["activity"].map({c: i for i, c in enumerate(classes)}).to_numpy()
    ladder = Ladder(data, test["id"].tolist(), classes)
    features = {"raw": (S.reshape(len(S), -1), St.reshape(len(St), -1)), "stats": (_statistics(S), _statistics(St)),
                "spectral": (_spectral(S), _spectral(St))}

    def fitted(make_model, kind: str, fraction: float = 1.0, seed: int = 0):
        def predict() -> np.ndarray:
            X, Xt = features[kind]
            rows = fraction_rows(len(y), fraction, seed)
            model = make_model().fit(X[rows], y[rows])
            proba = np.zeros((len(Xt), len(classes)))
            proba[:, model.classes_] = model.predict_proba(Xt)
            return proba
        return predict

    def cnn(config: CNNConfig, fraction: float = 1.0, seed: int = 0):
        def predict() -> np.ndarray:
            rows = fraction_rows(len(y), fraction, seed)
            model = train_signal_cnn(S[rows], y[rows], config, seed=seed, outputs=len(classes))
            return predict_signal_cnn(model, St)
        return predict

    logistic = lambda: make_pipeline(StandardScaler(), LogisticRegression(max_iter=300))  # noqa: E731
    hgb = lambda: HistGradientBoostingClassifier(max_iter=200, learning_rate=0.08, random_state=0)  # noqa: E731
    prior = np.bincount(y, minlength=len(classes)) / len(y)
    ladder.add("sample_submission", "the sample file: walking for every window",
               lambda: ladder.one_hot(pd.read_csv(data.sample_submission_path)["activity"].tolist()))
    ladder.add("majority_class", "the most frequent training activity", lambda: np.tile(prior, (len(St), 1)))
    ladder.add("random_activity", "activities drawn at random with the training shares",
               lambda: ladder.one_hot(list(np.random.default_rng(0).choice(classes, size=len(St), p=prior))))
    ladder.add("raw_signal_logistic", "logistic regression on the raw 64x6 samples", fitted(logistic, "raw"))
    ladder.add("raw_signal_knn", "k-nearest neighbours (k=15) on raw samples",
               fitted(lambda: make_pipeline(StandardScaler(), KNeighborsClassifier(15)), "raw"))
    ladder.add("statistics_logistic", "logistic regression on per-channel mean, spread and range",
               fitted(logistic, "stats"))
    ladder.add("statistics_forest", "random forest on per-channel statistics",
               fitted(lambda: RandomForestClassifier(200, min_samples_leaf=3, n_jobs=2, random_state=0), "stats"))
    ladder.add("statistics_boosting", "gradient boosting on per-channel statistics", fitted(hgb, "stats"))
    ladder.add("spectral_logistic", "logistic regression on statistics, gravity direction and spectra",
               fitted(logistic, "spectral"))
    ladder.add("spectral_forest", "random forest on spectral features",
               fitted(lambda: RandomForestClassifier(200, min_samples_leaf=2, n_jobs=2, random_state=0), "spectral"))
    ladder.add("spectral_boosting_5pct", "gradient boosting on spectral features, 5% of train",
               fitted(hgb, "spectral", 0.05), fraction=0.05)
    ladder.add("spectral_boosting_20pct", "gradient boosting on spectral features, 20% of train",
               fitted(hgb, "spectral", 0.2), fraction=0.2)
    ladder.add("spectral_boosting", "gradient boosting on spectral features", fitted(hgb, "spectral"))
    add_searched_rungs(ladder, fitted, ("stats", "spectral", "raw"), rows=len(y))
    for hidden in (64, 256):
        for fraction in (0.2, 1.0):
            ladder.add(f"spectral_mlp_{hidden}_{round(fraction * 100)}pct", f"MLP ({hidden} units) on spectral "
                       f"features, {fraction:.0%} of train",
                       fitted(lambda h=hidden: make_pipeline(StandardScaler(), MLPClassifier((h,), max_iter=80,
                                                                                            early_stopping=True,
                                                                                            random_state=0)),
                              "spectral", fraction, 20), fraction=fraction, seed=20)
    for fraction in (0.5, 1.0):
        for seed in (1, 2):
            ladder.add(f"spectral_boosting_{round(fraction * 100)}pct_seed{seed}", f"gradient boosting on spectral "
                       f"features, {fraction:.0%} of train", fitted(
                           lambda s=seed: HistGradientBoostingClassifier(max_iter=200, learning_rate=0.08,
                                                                        random_state=s), "spectral", fraction, seed),
                       fraction=fraction, seed=seed)
    for fraction in (0.05, 0.2, 1.0):
        ladder.add(f"spectral_logistic_c10_{round(fraction * 100)}pct", f"logistic regression (C 10) on spectral "
                   f"features, {fraction:.0%} of train",
                   fitted(lambda: make_pipeline(StandardScaler(), LogisticRegression(C=10.0, max_iter=300)),
                          "spectral", fraction, 21), fraction=fraction, seed=21)
    small = CNNConfig(widths=(32, 64), epochs=8, batch_size=64, lr=3e-3)
    for fraction in (0.05, 0.1, 0.2, 0.5):
        ladder.add(f"cnn1d_{round(fraction * 100)}pct", f"1-D CNN 32-64, 8 epochs on {fraction:.0%} of train",
                   cnn(small, fraction), fraction=fraction)
    ladder.add("cnn1d", "1-D CNN 32-64, 8 epochs", cnn(small))
    ladder.add("cnn1d_deep_shifted", "1-D CNN 32-64-128, 12 epochs, random time shifts",
               cnn(CNNConfig(widths=(32, 64, 128), epochs=12, batch_size=64, lr=3e-3, shift=8, dropout=0.2), seed=1),
               seed=1)
    ladder.blend("ensemble_cnns", ["cnn1d", "cnn1d_deep_shifted"])
    ladder.blend("ensemble_cnn_boosting", ["cnn1d", "cnn1d_deep_shifted", "spectral_boosting"])
    ladder.blend("ensemble_boosting_logistic", ["spectral_boosting", "spectral_logistic"])
    return ladder.rungs
