"""Build the store-sales competition: two years of daily unit sales of 25 items in 8 stores.

Each store-item series is a negative-binomial count around a level made of: the store's and the
item's size and their interaction, a per-item trend, a weekly profile per product family, a yearly
season per family (drinks peak in summer, produce in spring), holidays (and the days before them;
stores close on Christmas and Thanksgiving), paydays, promotions with a family-specific lift, the
item's price against its usual price, and a store-level daily shock that follows an AR(1) (weather,
local events) shared by all the store's items. Two items launch part-way through the history (zeros
before), one is slowly being delisted.

`store_transactions` is a trap: in train it is the store's actual checkout count of that day,
which carries the same daily shock as the sales (it is only known after the day is over); the
test period has not happened yet, so there the column holds the store's plan: the mean of the
same weekday over the last eight weeks of train. A model that leans on it learns a relation that
does not hold in the test period.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from nbdojo.competitions.prepare_kit import write_oracle

ID = "id"
TARGET = "sales"
TRAIN_START = "2021-04-01"
TEST_START = "2023-03-20"
HORIZON = 28
N_STORES = 8
N_ITEMS = 25
FAMILIES = {  # family: (weekly profile Mon..Sun, yearly amplitude, peak day of year, promo lift)
    "GROCERY": ((0.95, 0.9, 0.92, 0.97, 1.1, 1.25, 0.95), 0.05, 340, 0.35),
    "BEVERAGES": ((0.9, 0.88, 0.9, 0.95, 1.15, 1.3, 1.05), 0.28, 200, 0.6),
    "DAIRY": ((1.0, 0.97, 0.98, 1.0, 1.05, 1.12, 0.9), 0.04, 30, 0.25),
    "PRODUCE": ((1.05, 0.95, 1.0, 0.98, 1.05, 1.2, 0.8), 0.18, 120, 0.3),
    "CLEANING": ((0.9, 0.95, 0.95, 0.95, 1.0, 1.35, 1.1), 0.06, 90, 0.8),
}
STORE_TYPES = ("A", "A", "B", "B", "B", "C", "C", "D")
CITIES = ("Riverton", "Riverton", "Lakeside", "Lakeside", "Hillcrest", "Hillcrest", "Brookfield", "Brookfield")
HOLIDAYS = {  # name: (dates, effect on the day, effect on the two days before)
    "New Year": (("2022-01-01", "2023-01-01"), -0.5, 0.15),
    "Good Friday": (("2021-04-02", "2022-04-15", "2023-04-07"), -0.1, 0.1),
    "Easter": (("2021-04-04", "2022-04-17", "2023-04-09"), -0.35, 0.3),
    "Memorial Day": (("2021-05-31", "2022-05-30"), 0.15, 0.2),
    "Independence Day": (("2021-07-04", "2022-07-04"), 0.1, 0.35),
    "Labor Day": (("2021-09-06", "2022-09-05"), 0.1, 0.15),
    "Thanksgiving": (("2021-11-25", "2022-11-24"), -9.0, 0.6),
    "Christmas": (("2021-12-25", "2022-12-25"), -9.0, 0.45),
}


def _holiday_table(dates: pd.DatetimeIndex) -> tuple[np.ndarray, np.ndarray]:
    names = np.full(len(dates), "", dtype=object)
    effect = np.zeros(len(dates))
    position = {d: i for i, d in enumerate(dates)}
    for name, (days, on_day, before) in HOLIDAYS.items():
        for day in pd.to_datetime(list(days)):
            if day in position:
                names[position[day]] = name
                effect[position[day]] += on_day
            for lag in (1, 2):
                if day - pd.Timedelta(days=lag) in position:
                    effect[position[day - pd.Timedelta(days=lag)]] += before / lag
    return names, effect


def simulate(seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    dates = pd.date_range(TRAIN_START, pd.Timestamp(TEST_START) + pd.Timedelta(days=HORIZON - 1), freq="D")
    n_days = len(dates)
    t = np.arange(n_days) / 365.25
    doy = np.asarray(dates.day_of_year)
    dow = np.asarray(dates.day_of_week)
    holiday, holiday_eff = _holiday_table(dates)
    payday = np.asarray((dates.day == 15) | dates.is_month_end) * 0.08

    families = np.array(list(FAMILIES))[np.arange(N_ITEMS) % len(FAMILIES)]
    item_level = rng.normal(3.3, 0.7, N_ITEMS)
    item_trend = rng.normal(0.0, 0.12, N_ITEMS)
    item_price = np.round(np.exp(rng.normal(1.2, 0.5, N_ITEMS)), 2)
    elasticity = rng.uniform(1.0, 2.5, N_ITEMS)
    launch = np.full(N_ITEMS, -1)
    launch[[7, 19]] = [int(n_days * 0.45), int(n_days * 0.7)]
    delisted = 12
    store_level = rng.normal(0.0, 0.35, N_STORES) + np.array([0.4, 0.3, 0.0, 0.0, -0.1, -0.2, -0.3, -0.4])
    store_price = np.round(rng.uniform(0.95, 1.08, N_STORES), 3)
    interaction = rng.normal(0.0, 0.25, (N_STORES, N_ITEMS))

    # A store-level daily shock (weather, local events), AR(1), shared by the store's items.
    shock = np.zeros((N_STORES, n_days))
    innovations = rng.normal(0.0, 0.16, (N_STORES, n_days))
    for day in range(1, n_days):
        shock[:, day] = 0.6 * shock[:, day - 1] + innovations[:, day]

    rows = []
    for s in range(N_STORES):
        for i in range(N_ITEMS):
            family = families[i]
            weekly, amplitude, peak, lift = FAMILIES[family]
            promo = np.zeros(n_days, dtype=int)
            for start in rng.choice(n_days - 10, size=rng.integers(6, 14), replace=False):
                promo[start:start + rng.integers(3, 11)] = 1
            base_price = item_price[i] * store_price[s] * (1 + 0.03 * np.floor(t))  # yearly price list
            price = np.round(base_price * np.where(promo == 1, rng.uniform(0.75, 0.9), 1.0), 2)
            log_mu = (
                item_level[i] + store_level[s] + interaction[s, i]
                + item_trend[i] * t
                + np.log(np.array(weekly))[dow]
                + amplitude * np.cos(2 * np.pi * (doy - peak) / 365.25)
                + holiday_eff + payday
                + lift * promo - elasticity[i] * np.log(price / base_price) * (promo == 0)
                + shock[s]
            )
            if i == delisted:
                log_mu -= np.clip(t - 1.0, 0, None) * 1.2
            mu = np.exp(log_mu)
            if launch[i] >= 0:
                mu = np.where(np.arange(n_days) < launch[i], 0.0,
                              mu * np.clip((np.arange(n_days) - launch[i]) / 60, 0.2, 1.0))
            dispersion = 25.0
            sales = rng.negative_binomial(dispersion, dispersion / (dispersion + mu + 1e-12))
            rows.append(pd.DataFrame({
                "date": dates, "store": f"S{s + 1:02d}", "item": f"I{i + 1:03d}", "family": family,
                "price": price, "onpromotion": promo, TARGET: sales,
                "_mu": mu,  # the expected sales: the oracle's forecast, never published
            }))
    frame = pd.concat(rows, ignore_index=True)
    stores = pd.DataFrame({"store": [f"S{s + 1:02d}" for s in range(N_STORES)], "city": CITIES,
                           "store_type": STORE_TYPES})
    frame = frame.merge(stores, on="store", how="left")
    frame["holiday"] = np.tile(holiday, N_STORES * N_ITEMS)

    # Actual checkouts per store-day: same daily shock and calendar as the sales.
    store_day = frame.groupby(["store", "date"], sort=True)[TARGET].sum().rename("units").reset_index()
    noise = rng.normal(0.0, 0.04, len(store_day))
    store_day["store_transactions"] = np.round(store_day["units"] * 0.31 * np.exp(noise)).astype(int)
    frame = frame.merge(store_day[["store", "date", "store_transactions"]], on=["store", "date"], how="left")
    frame = frame.sort_values(["date", "store", "item"], kind="stable").reset_index(drop=True)
    frame.insert(0, ID, (1_000_000 + np.arange(len(frame))).astype(str))
    return frame


def _plan(train: pd.DataFrame, test: pd.DataFrame) -> pd.Series:
    """The store's planned checkouts: its mean of the same weekday over the last eight weeks of train."""
    last = train[train["date"] >= train["date"].max() - pd.Timedelta(days=55)]
    daily = last.drop_duplicates(["store", "date"])[["store", "date", "store_transactions"]]
    plan = daily.groupby(["store", daily["date"].dt.day_of_week])["store_transactions"].mean()
    keys = list(zip(test["store"], test["date"].dt.day_of_week, strict=True))
    return pd.Series((np.round(plan.loc[keys].to_numpy() / 10) * 10).astype(int), index=test.index)


COLUMNS = [ID, "date", "store", "city", "store_type", "item", "family", "price", "onpromotion", "holiday",
           "store_transactions", TARGET]


def _write(frame: pd.DataFrame, path: Path) -> None:
    frame.to_csv(path, index=False, lineterminator="\n", float_format="%.6g", date_format="%Y-%m-%d")


def prepare(public_dir: Path, private_dir: Path, seed: int) -> None:
    full = simulate(seed)
    frame = full[COLUMNS]
    is_test = (frame["date"] >= pd.Timestamp(TEST_START)).to_numpy()
    train, test = frame.loc[~is_test].copy(), frame.loc[is_test].copy()
    test["store_transactions"] = _plan(train, test)
    _write(train, public_dir / "train.csv")
    _write(test.drop(columns=TARGET), public_dir / "test.csv")
    _write(pd.DataFrame({ID: test[ID], TARGET: 0}), public_dir / "sample_submission.csv")
    _write(test[[ID, TARGET]], private_dir / "answers.csv")
    write_oracle(pd.DataFrame({ID: test[ID], TARGET: full.loc[test.index, "_mu"]}), private_dir)
