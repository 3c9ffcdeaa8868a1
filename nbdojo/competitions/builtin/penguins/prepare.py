"""Build the penguins competition: a field survey resampled from the Palmer penguins data.

The 344 real birds measured at Palmer Station (Gorman et al., shipped in the
`palmerpenguins` package) seed a larger, noisier survey, the way Kaggle's playground
series grows a small real set: each row copies a real bird, jitters its measurements
by a share of their within-species spread, and passes through one of five field teams
(one team weighs in pounds, all have small calibration biases). Bill length, the most
telling measurement, is often missing, and about 4% of the birds were misidentified in
the field (mostly Adelie and Chinstrap, which share Dream Island), so no model is sure
of every bird.
"""

from __future__ import annotations

import importlib.resources
from pathlib import Path

import numpy as np
import pandas as pd

from nbdojo.competitions.prepare_kit import write_oracle

N_TRAIN = 2_000
N_TEST = 10_000
ID = "id"
SPECIES = ("Adelie", "Chinstrap", "Gentoo")
MEASUREMENTS = ("bill_length_mm", "bill_depth_mm", "flipper_length_mm", "body_mass_g")
TEAMS = {  # team: calibration factor per measurement (bill length, bill depth, flipper, mass)
    "T1": (1.00, 1.00, 1.00, 1.00),
    "T2": (1.03, 0.98, 1.00, 1.02),
    "T3": (0.97, 1.02, 0.99, 0.98),
    "T4": (1.01, 1.04, 1.02, 1.00),
    "T5": (0.99, 0.99, 0.98, 1.00),  # weighs in pounds
}
MISSING = {"bill_length_mm": 0.22, "bill_depth_mm": 0.08, "flipper_length_mm": 0.08, "body_mass": 0.05, "sex": 0.06}
LABEL_NOISE = 0.04


def load_real() -> pd.DataFrame:
    """The real birds with all four measurements (342 of 344)."""
    path = importlib.resources.files("palmerpenguins") / "data" / "penguins.csv"
    with importlib.resources.as_file(path) as csv:
        real = pd.read_csv(csv)
    return real.dropna(subset=list(MEASUREMENTS)).reset_index(drop=True)


def simulate(seed: int, n: int = N_TRAIN + N_TEST) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    real = load_real()
    base = real.iloc[rng.integers(0, len(real), n)].reset_index(drop=True)
    spread = real.groupby("species")[list(MEASUREMENTS)].std().loc[base["species"]].to_numpy()
    values = base[list(MEASUREMENTS)].to_numpy(float) + rng.normal(0.0, 0.55, (n, 4)) * spread
    team = np.array(list(TEAMS))[rng.choice(len(TEAMS), n, p=[0.3, 0.25, 0.2, 0.15, 0.1])]
    values *= np.array([TEAMS[t] for t in team])
    values[:, :3] += rng.normal(0.0, 0.3, (n, 3))  # reading a calliper
    mass = np.where(team == "T5", values[:, 3] / 453.592, values[:, 3])
    mass = np.where(team == "T5", mass.round(1), (mass / 25).round() * 25)

    species = base["species"].to_numpy(object).copy()
    wrong = rng.random(n) < LABEL_NOISE
    confusable = {"Adelie": ["Chinstrap", "Chinstrap", "Gentoo"], "Chinstrap": ["Adelie", "Adelie", "Gentoo"],
                  "Gentoo": ["Adelie", "Chinstrap", "Chinstrap"]}
    species[wrong] = [confusable[s][k] for s, k in zip(species[wrong], rng.integers(0, 3, wrong.sum()), strict=True)]

    season_start = pd.to_datetime(base["year"].astype(str) + "-11-05")
    visit = season_start + pd.to_timedelta(rng.integers(0, 35, n), unit="D")
    frame = pd.DataFrame({
        "island": base["island"],
        "bill_length_mm": values[:, 0].round(1),
        "bill_depth_mm": values[:, 1].round(1),
        "flipper_length_mm": values[:, 2].round(0),
        "body_mass": mass,
        "sex": base["sex"],
        "visit_date": visit.dt.strftime("%Y-%m-%d"),
        "team": team,
    })
    for column, share in MISSING.items():
        frame.loc[rng.random(n) < share, column] = np.nan
    frame["flipper_length_mm"] = frame["flipper_length_mm"].astype("Int64")
    for name in SPECIES:
        frame[name] = (species == name).astype(int)
    truth = base["species"].to_numpy(object)
    for name in SPECIES:  # the oracle: how likely each label is, knowing the bird's true species (never published)
        frame[f"_p_{name}"] = [(1 - LABEL_NOISE) * (t == name) + LABEL_NOISE * confusable[t].count(name) / 3
                               for t in truth]
    frame.insert(0, ID, [f"P{i + 1:05d}" for i in rng.permutation(n)])
    return frame


def _write(frame: pd.DataFrame, path: Path) -> None:
    frame.to_csv(path, index=False, lineterminator="\n", float_format="%.6g")


def prepare(public_dir: Path, private_dir: Path, seed: int) -> None:
    frame = simulate(seed)
    hidden = [f"_p_{name}" for name in SPECIES]
    oracle, frame = frame[hidden], frame.drop(columns=hidden)
    train, test = frame.iloc[:N_TRAIN], frame.iloc[N_TRAIN:].sort_values(ID)
    _write(train.sort_values(ID), public_dir / "train.csv")
    _write(test.drop(columns=list(SPECIES)), public_dir / "test.csv")
    prior = train[list(SPECIES)].mean().round(3)
    prior.iloc[-1] = round(1.0 - prior.iloc[:-1].sum(), 3)
    _write(pd.DataFrame({ID: test[ID], **{s: prior[s] for s in SPECIES}}), public_dir / "sample_submission.csv")
    _write(test[[ID, *SPECIES]], private_dir / "answers.csv")
    write_oracle(pd.concat([test[[ID]], oracle.loc[test.index].set_axis(list(SPECIES), axis=1)], axis=1), private_dir)
