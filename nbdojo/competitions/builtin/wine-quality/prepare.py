"""Build the wine-quality competition: seeded physico-chemical lab results and tasting grades.

Modelled on the Vinho Verde study of Cortez et al. (2009): red and white wines, eleven lab
measurements, and a grade from 0 to 10 given by a panel (in practice 3 to 9, mostly 5 and 6).
The panel's latent opinion rises with alcohol and sulphates (up to a point), falls with
volatile acidity and chlorides, depends on the colour, and is noisy: tasters disagree, which
keeps the best quadratic weighted kappa well below 1.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from nbdojo.competitions.prepare_kit import test_mask, write_csv, write_oracle

N_TRAIN = 5_000
N_TEST = 30_000
ID = "id"
TARGET = "quality"


#: The panel's grade boundaries on its opinion (grades 3 to 9).
CUTS = [-1.95, -1.25, -0.3, 0.62, 1.45, 2.3]


def simulate(seed: int, n: int = N_TRAIN + N_TEST) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    red = rng.random(n) < 0.28
    vintage = rng.integers(2004, 2010, n)
    body = rng.normal(0.0, 1.0, n)  # latent ripeness: more alcohol, less acid, denser before fermentation
    fixed_acidity = np.where(red, 8.3, 6.85) + np.where(red, 1.6, 0.8) * rng.normal(0, 1, n) - 0.3 * body
    volatile_acidity = np.exp(np.where(red, np.log(0.50), np.log(0.26)) + 0.33 * rng.normal(0, 1, n))
    citric = np.clip(np.where(red, 0.27, 0.33) + 0.15 * rng.normal(0, 1, n) - 0.2 * (volatile_acidity - 0.35), 0, 1.2)
    sugar = np.exp(np.where(red, np.log(2.2), np.log(4.5)) + np.where(red, 0.35, 0.8) * rng.normal(0, 1, n))
    chlorides = np.exp(np.where(red, np.log(0.08), np.log(0.043)) + 0.3 * rng.normal(0, 1, n))
    free_so2 = np.exp(np.where(red, np.log(14), np.log(33)) + 0.5 * rng.normal(0, 1, n))
    total_so2 = free_so2 + np.exp(np.where(red, np.log(28), np.log(100)) + 0.35 * rng.normal(0, 1, n))
    alcohol = np.clip(10.4 + 1.0 * body + 0.55 * rng.normal(0, 1, n) - 0.04 * (sugar - 4), 8.0, 14.9)
    density = 0.9978 - 0.0011 * (alcohol - 10.4) + 0.00037 * (sugar - 4) + np.where(red, 0.0009, 0) \
        + 0.0004 * rng.normal(0, 1, n)
    ph = np.clip(3.2 + 0.15 * rng.normal(0, 1, n) - 0.05 * (fixed_acidity - 7.5) + np.where(red, 0.1, 0), 2.7, 4.0)
    sulphates = np.exp(np.where(red, np.log(0.64), np.log(0.48)) + 0.22 * rng.normal(0, 1, n))

    taste = (  # what the panel would say without its mood: the oracle's grade comes from it
        0.38 * (alcohol - 10.4)
        - 1.6 * (volatile_acidity - np.where(red, 0.5, 0.26)) * np.where(red, 1.0, 2.2)
        + np.where(red, 2.2, 0.8) * np.minimum(sulphates - 0.55, 0.25) - 2.0 * np.clip(sulphates - 0.95, 0, None)
        - 3.5 * (chlorides - 0.05)
        + 0.004 * np.clip(free_so2, None, 45) - 0.01 * np.clip(free_so2 - 55, 0, None)
        - 0.0015 * np.clip(total_so2 - 150, 0, None)
        + 0.15 * citric * red - 0.2 * (ph > 3.55)
        + 0.06 * np.sin(vintage)  # vintages differ
    )
    opinion = taste + 0.62 * rng.normal(0, 1, n)  # the panel's own mood
    grade = np.digitize(opinion, CUTS) + 3
    frame = pd.DataFrame({
        "color": np.where(red, "red", "white"),
        "vintage": vintage,
        "fixed_acidity": fixed_acidity.round(1),
        "volatile_acidity": volatile_acidity.round(3),
        "citric_acid": citric.round(2),
        "residual_sugar": sugar.round(1),
        "chlorides": chlorides.round(3),
        "free_sulfur_dioxide": free_so2.round(0),
        "total_sulfur_dioxide": total_so2.round(0),
        "density": density.round(5),
        "pH": ph.round(2),
        "sulphates": sulphates.round(2),
        "alcohol": alcohol.round(1),
        TARGET: grade,
        "_taste": taste,  # the noise-free opinion, never published: the oracle's grade comes from it
    })
    for column in ("citric_acid", "residual_sugar", "pH", "sulphates"):
        frame.loc[rng.random(n) < 0.03, column] = np.nan  # instrument downtime
    frame.insert(0, ID, [f"W{i + 1:05d}" for i in range(n)])
    return frame


def _qwk(a: np.ndarray, b: np.ndarray, k: int = 7) -> float:
    """Quadratic weighted kappa of two grade arrays (3..9)."""
    seen = np.zeros((k, k))
    np.add.at(seen, (a - 3, b - 3), 1)
    weights = (np.subtract.outer(np.arange(k), np.arange(k)) ** 2) / (k - 1) ** 2
    expected = np.outer(seen.sum(1), seen.sum(0)) / seen.sum()
    return 1.0 - (weights * seen).sum() / (weights * expected).sum()


def oracle_grades(taste: np.ndarray, seed: int) -> np.ndarray:
    """The grade that knows each wine's true taste, with cut points tuned for QWK on a fresh draw of the panel's
    mood (its own generator: QWK rewards spread, so the plain noise-free grade is not the best a knower can do)."""
    rng = np.random.default_rng(seed + 7919)
    panel = np.digitize(taste + 0.62 * rng.normal(0, 1, len(taste)), CUTS) + 3
    cuts = np.array(CUTS, dtype=float)
    best = _qwk(panel, np.digitize(taste, cuts) + 3)
    for step in (0.2, 0.1, 0.05, 0.02):
        for _ in range(3):
            for i in range(len(cuts)):
                for move in (-step, step):
                    trial = cuts.copy()
                    trial[i] += move
                    if np.all(np.diff(trial) > 0):
                        score = _qwk(panel, np.digitize(taste, trial) + 3)
                        if score > best:
                            best, cuts = score, trial
    return np.digitize(taste, cuts) + 3


def prepare(public_dir: Path, private_dir: Path, seed: int) -> None:
    frame = simulate(seed)
    oracle = pd.Series(oracle_grades(frame.pop("_taste").to_numpy(), seed), index=frame.index)
    is_test = test_mask(len(frame), N_TEST, seed)
    train, test = frame.loc[~is_test], frame.loc[is_test]
    write_csv(train, public_dir / "train.csv")
    write_csv(test.drop(columns=TARGET), public_dir / "test.csv")
    mode = int(train[TARGET].mode().iloc[0])
    write_csv(pd.DataFrame({ID: test[ID], TARGET: mode}), public_dir / "sample_submission.csv")
    write_csv(test[[ID, TARGET]], private_dir / "answers.csv")
    write_oracle(pd.DataFrame({ID: test[ID], TARGET: oracle[is_test]}), private_dir)
