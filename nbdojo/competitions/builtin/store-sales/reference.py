"""Reference rungs for store-sales: classic forecasts, then gradient boosting on level features.

Naive forecasts (zeros, constants, recent means and medians, seasonal naive, weekday profiles),
a few generic tabular rungs (which take `store_transactions` at face value), and a direct
multi-horizon booster: for past cutoffs, features known at the cutoff (recent levels of the
series, its weekday profile) plus what is known about each target day (calendar, promotion,
price, holiday), fitted on log(1 + sales) over more or fewer past windows.
"""

from __future__ import annotations

import functools

import numpy as np
import pandas as pd
from sklearn.ensemble import HistGradientBoostingRegressor

from nbdojo.competitions import CompetitionData, ladder
from nbdojo.competitions.search import dense_rungs

KEY = ["store", "item"]
CATEGORICAL = ["store", "item", "family", "store_type", "holiday"]
HORIZON = 28


@functools.lru_cache(maxsize=2)
def _frames(train_path: str, test_path: str) -> tuple[pd.DataFrame, pd.DataFrame]:
    train = pd.read_csv(train_path, parse_dates=["date"], dtype={"id": str}, keep_default_na=False,
                        na_values={"price": [""]})
    test = pd.read_csv(test_path, parse_dates=["date"], dtype={"id": str}, keep_default_na=False,
                       na_values={"price": [""]})
    return train, test


def _load(data: CompetitionData) -> tuple[pd.DataFrame, pd.DataFrame]:
    return _frames(str(data.train_path), str(data.test_path))


def _submit(data: CompetitionData, values: np.ndarray) -> pd.DataFrame:
    _, test = _load(data)
    return pd.DataFrame({"id": test["id"], "sales": np.clip(values, 0, None)})


def _recent(train: pd.DataFrame, days: int) -> pd.DataFrame:
    return train[train["date"] > train["date"].max() - pd.Timedelta(days=days)]


def _by_series(data: CompetitionData, days: int, how: str) -> pd.DataFrame:
    train, test = _load(data)
    level = _recent(train, days).groupby(KEY)["sales"].agg(how).rename("level").reset_index()
    return _submit(data, test.merge(level, on=KEY, how="left")["level"].fillna(0).to_numpy())


def _weekday_profile(data: CompetitionData, weeks: int) -> pd.DataFrame:
    train, test = _load(data)
    recent = _recent(train, 7 * weeks).assign(dow=lambda f: f["date"].dt.day_of_week)
    profile = recent.groupby([*KEY, "dow"])["sales"].mean().rename("level").reset_index()
    merged = test.assign(dow=test["date"].dt.day_of_week).merge(profile, on=[*KEY, "dow"], how="left")
    return _submit(data, merged["level"].fillna(0).to_numpy())


def _seasonal_naive(data: CompetitionData) -> pd.DataFrame:
    train, test = _load(data)
    last_week = _recent(train, 7).assign(dow=lambda f: f["date"].dt.day_of_week)[[*KEY, "dow", "sales"]]
    merged = test.assign(dow=test["date"].dt.day_of_week).merge(last_week, on=[*KEY, "dow"], how="left")
    return _submit(data, merged["sales"].fillna(0).to_numpy())


def _level_times_factors(data: CompetitionData, promo: bool, days: int = 28) -> pd.DataFrame:
    """Recent level of the series x its family's weekday factor (x a promotion lift)."""
    train, test = _load(data)
    level = _recent(train, days).groupby(KEY)["sales"].mean().rename("level").reset_index()
    year = _recent(train, 364).assign(dow=lambda f: f["date"].dt.day_of_week)
    dow = (year.groupby(["family", "dow"])["sales"].mean() / year.groupby("family")["sales"].mean()).rename("dow_f")
    merged = test.assign(dow=test["date"].dt.day_of_week).merge(level, on=KEY, how="left")
    merged = merged.merge(dow.reset_index(), on=["family", "dow"], how="left")
    values = merged["level"].fillna(0) * merged["dow_f"].fillna(1)
    if promo:
        rates = year.groupby(["family", "onpromotion"])["sales"].mean().unstack()
        lift = (rates[1] / rates[0]).rename("lift").reset_index()
        merged = merged.merge(lift, on="family", how="left")
        values = values * np.where(merged["onpromotion"] == 1, merged["lift"], 1.0)
    return _submit(data, values.to_numpy())


# --------------------------------------------------------------------------- direct multi-horizon booster


def _window(history: pd.DataFrame, target: pd.DataFrame, cutoff: pd.Timestamp) -> pd.DataFrame:
    """Features of the target rows (days after `cutoff`) from the history up to `cutoff`."""
    past = history[history["date"] <= cutoff]
    out = target[["date", "store", "item", "family", "store_type", "onpromotion", "price", "holiday"]].copy()
    for days in (7, 28, 91):
        stats = past[past["date"] > cutoff - pd.Timedelta(days=days)].groupby(KEY)["sales"].mean()
        out = out.merge(stats.rename(f"mean_{days}").reset_index(), on=KEY, how="left")
    recent = past[past["date"] > cutoff - pd.Timedelta(days=56)].assign(dow=lambda f: f["date"].dt.day_of_week)
    profile = recent.groupby([*KEY, "dow"])["sales"].mean().rename("dow_mean_8w").reset_index()
    price = past[past["date"] > cutoff - pd.Timedelta(days=91)].groupby(KEY)["price"].median().rename("usual_price")
    out["dow"] = out["date"].dt.day_of_week
    out = out.merge(profile, on=[*KEY, "dow"], how="left").merge(price.reset_index(), on=KEY, how="left")
    out["price_ratio"] = out["price"] / out["usual_price"]
    out["horizon"] = (out["date"] - cutoff).dt.days
    out["doy"] = out["date"].dt.dayofyear
    out["day"] = out["date"].dt.day
    return out.drop(columns=["date", "price", "usual_price"])


def _direct_booster(data: CompetitionData, windows: int, seed: int, iterations: int = 300) -> pd.DataFrame:
    train, test = _load(data)
    end = train["date"].max()
    parts = []
    for j in range(windows):
        cutoff = end - pd.Timedelta(days=HORIZON + 14 * j)
        days = train[(train["date"] > cutoff) & (train["date"] <= cutoff + pd.Timedelta(days=HORIZON))]
        parts.append((_window(train, days, cutoff), np.log1p(days["sales"].to_numpy())))
    X = pd.concat([p[0] for p in parts], ignore_index=True)
    y = np.concatenate([p[1] for p in parts])
    X_test = _window(train, test, end)
    for column in CATEGORICAL:
        categories = sorted(set(X[column]) | set(X_test[column]))
        X[column] = pd.Categorical(X[column], categories=categories)
        X_test[column] = pd.Categorical(X_test[column], categories=categories)
    model = HistGradientBoostingRegressor(categorical_features="from_dtype", learning_rate=0.06,
                                          max_iter=iterations, max_leaf_nodes=31, random_state=seed)
    model.fit(X, y)
    return _submit(data, np.expm1(model.predict(X_test)))


def rungs(data: CompetitionData) -> list[ladder.Rung]:
    p = functools.partial
    train, test = _load(data)
    constant = float(_recent(train, 28)["sales"].mean())
    out = [
        ladder.Rung("zeros", "all zeros (the sample submission)", submit=lambda d: _submit(d, np.zeros(len(test)))),
        ladder.Rung("constant_recent_mean", "mean of all sales in the last 28 days",
                    submit=lambda d: _submit(d, np.full(len(test), constant))),
        ladder.Rung("series_mean_all", "mean of each store-item series over all of train",
                    submit=p(_by_series, days=10_000, how="mean")),
        ladder.Rung("last_value", "each series' last day repeated", submit=p(_by_series, days=1, how="mean")),
        ladder.Rung("seasonal_naive", "each series' last week repeated", submit=_seasonal_naive),
    ]
    for days in (3, 7, 10, 14, 21, 28, 42, 56, 84, 112, 182, 364):
        out.append(ladder.Rung(f"series_mean_{days}d", f"mean of each series over the last {days} days",
                               submit=p(_by_series, days=days, how="mean")))
    for days in (7, 14, 28, 56, 112):
        out.append(ladder.Rung(f"series_median_{days}d", f"median of each series over the last {days} days",
                               submit=p(_by_series, days=days, how="median")))
    for weeks in (1, 2, 3, 4, 6, 8, 12, 16, 26, 52):
        out.append(ladder.Rung(f"weekday_profile_{weeks}w", f"each series' weekday means over the last {weeks} weeks",
                               submit=p(_weekday_profile, weeks=weeks)))
    out += [
        ladder.Rung("level_x_weekday", "28-day level x the family's weekday factor",
                    submit=p(_level_times_factors, promo=False)),
        ladder.Rung("level_x_weekday_x_promo", "28-day level x weekday factor x promotion lift",
                    submit=p(_level_times_factors, promo=True)),
    ]
    for days in (7, 14, 56, 112):
        for promo in (False, True):
            out.append(ladder.Rung(f"level_{days}d_x_weekday{'_x_promo' if promo else ''}",
                                   f"{days}-day level x the family's weekday factor" + (" x promotion lift" if promo
                                                                                         else ""),
                                   submit=p(_level_times_factors, promo=promo, days=days)))
    generic = {r.name: r for r in ladder.default_rungs(ladder.Features.from_data(data))}
    for name in ("linear_onehot_dates", "tree_depth_6", "hgb_5pct", "hgb_100pct"):
        rung = generic[name]
        out.append(ladder.Rung(f"tabular_{name}", f"{rung.method} (all columns, as given)", rung.features,
                               rung.make, fraction=rung.fraction, seed=rung.seed))
    for rung in dense_rungs(ladder.Features.from_data(data), max_rows=30_000):  # a first tabular attempt, searched
        taken = {r.name for r in out}
        if rung.name.startswith(("linear_onehot_dates", "tree_depth", "hgb_lr", "forest")) and not rung.blend \
                and f"tabular_{rung.name}" not in taken:
            out.append(ladder.Rung(f"tabular_{rung.name}", f"{rung.method} (all columns, as given)", rung.features,
                                   rung.make, fraction=rung.fraction, seed=rung.seed))
    out.append(ladder.Rung("tabular_hgb_no_transactions", "hist gradient boosting, without store_transactions",
                           "native_dates", ladder._hgb, drop=("store_transactions",)))
    for windows in (1, 4, 12):
        out.append(ladder.Rung(f"direct_hgb_{windows}w", f"direct booster on level features, {windows} past windows",
                               submit=p(_direct_booster, windows=windows, seed=0), fraction=windows / 24))
    for windows in (2, 6):
        for iterations in (50, 150):
            out.append(ladder.Rung(f"direct_hgb_{windows}w_{iterations}it",
                                   f"direct booster on level features, {windows} past windows, {iterations} iterations",
                                   submit=p(_direct_booster, windows=windows, seed=2, iterations=iterations),
                                   fraction=windows / 24, seed=2))
    out += [
        ladder.Rung("direct_hgb_24w", "direct booster on level features, 24 past windows",
                    submit=p(_direct_booster, windows=24, seed=0), fraction=1.0),
        ladder.Rung("direct_hgb_24w_seed1", "direct booster, 24 windows, 600 iterations, seed 1",
                    submit=p(_direct_booster, windows=24, seed=1, iterations=600), seed=1),
        ladder.Rung("ensemble_direct_weekday", "mean of the direct booster and the 8-week weekday profile",
                    blend=("direct_hgb_24w", "weekday_profile_8w")),
        ladder.Rung("ensemble_direct", "mean of two direct boosters", blend=("direct_hgb_24w", "direct_hgb_24w_seed1")),
    ]
    return out
