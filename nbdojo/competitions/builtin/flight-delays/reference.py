"""Reference ladder for flight-delays: the dense tabular search on the flights alone, then solutions that
join the other tables (the origin's weather at the departure hour, the plane, the destination airport)."""

from __future__ import annotations

import functools

import numpy as np
import pandas as pd

from nbdojo.competitions import CompetitionData
from nbdojo.competitions.ladder import Features, Rung
from nbdojo.competitions.reference import fraction_rows
from nbdojo.competitions.search import dense_rungs

ID, TARGET = "flight_id", "delayed"
WEATHER = ["temp", "dewp", "humid", "wind_dir", "wind_speed", "wind_gust", "precip", "pressure", "visib"]


@functools.lru_cache(maxsize=2)
def _joined(folder: str) -> tuple[pd.DataFrame, np.ndarray, pd.DataFrame, pd.Series]:
    """Train and test flights with their weather, plane and destination columns, all numeric."""
    train, test = pd.read_csv(f"{folder}/train.csv"), pd.read_csv(f"{folder}/test.csv")
    weather = pd.read_csv(f"{folder}/weather.csv")
    planes = pd.read_csv(f"{folder}/planes.csv")[["tailnum", "year", "seats", "engines"]].rename(
        columns={"year": "plane_year"})
    airports = pd.read_csv(f"{folder}/airports.csv")[["faa", "lat", "lon", "alt"]].rename(columns={"faa": "dest"})
    both = pd.concat([train.drop(columns=TARGET), test], ignore_index=True)
    when = pd.to_datetime(both["date"])
    both["time_hour"] = both["date"] + " " + (both["sched_dep_time"] // 100).astype(str).str.zfill(2) + ":00"
    both = (both.merge(weather, on=["origin", "time_hour"], how="left").merge(planes, on="tailnum", how="left")
            .merge(airports, on="dest", how="left"))
    X = pd.DataFrame({
        "month": when.dt.month, "weekday": when.dt.day_of_week, "dep": both["sched_dep_time"],
        "arr": both["sched_arr_time"], "distance": both["distance"],
        **{c: pd.Categorical(both[c]).codes.astype(float) for c in ("carrier", "origin", "dest")},
        **{c: both[c] for c in [*WEATHER, "plane_year", "seats", "engines", "lat", "lon", "alt"]},
    })
    n = len(train)
    return X.iloc[:n].reset_index(drop=True), train[TARGET].to_numpy(), X.iloc[n:].reset_index(drop=True), test[ID]


def _boosted(data: CompetitionData, columns: tuple[str, ...] | None, fraction: float, seed: int,
             max_iter: int = 300) -> pd.DataFrame:
    from sklearn.ensemble import HistGradientBoostingClassifier

    X, y, Xt, ids = _joined(str(data.public_dir))
    keep = list(columns) if columns else list(X.columns)
    rows = fraction_rows(len(y), fraction, seed)
    model = HistGradientBoostingClassifier(max_iter=max_iter, learning_rate=0.06, random_state=seed,
                                           categorical_features=[c in ("carrier", "origin", "dest") for c in keep])
    model.fit(X.loc[rows, keep], y[rows])
    return pd.DataFrame({ID: ids, TARGET: model.predict_proba(Xt[keep])[:, 1]})


def _linear(data: CompetitionData) -> pd.DataFrame:
    from sklearn.impute import SimpleImputer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    X, y, Xt, ids = _joined(str(data.public_dir))
    model = make_pipeline(SimpleImputer(strategy="median"), StandardScaler(), LogisticRegression(max_iter=2000))
    return pd.DataFrame({ID: ids, TARGET: model.fit(X, y).predict_proba(Xt)[:, 1]})


def rungs(data: CompetitionData) -> list[Rung]:
    p = functools.partial
    schedule = ("month", "weekday", "dep", "arr", "distance", "carrier", "origin", "dest")
    out = dense_rungs(Features.from_data(data))
    out += [
        Rung("joined_linear", "logistic regression on the flights joined with weather, planes and airports",
             submit=_linear),
        Rung("joined_boosted_schedule", "gradient boosting on the schedule, route and carrier only",
             submit=p(_boosted, columns=schedule, fraction=1.0, seed=0)),
        Rung("joined_boosted_weather", "gradient boosting on the schedule with the origin's weather",
             submit=p(_boosted, columns=(*schedule, *WEATHER), fraction=1.0, seed=0)),
    ]
    for fraction in (0.05, 0.2, 0.5, 1.0):
        out.append(Rung(f"joined_boosted_{round(fraction * 100)}pct",
                        "gradient boosting on every joined table, a share of the flights",
                        submit=p(_boosted, columns=None, fraction=fraction, seed=1), fraction=fraction, seed=1))
    return out
