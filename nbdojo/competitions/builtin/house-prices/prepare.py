"""Build the house-prices competition: a seeded synthetic market of residential sales.

Prices are log-normal around a hedonic model: neighbourhood (a random effect), living area
with diminishing returns, quality and condition, age and remodelling, garage, basement,
lot size, a slow market trend with a dip, and the terms of the sale (foreclosures and family
sales go cheap). A few huge new houses sold as partial sales at a fraction of their value
(the kind of outliers careful modellers find and drop from training), and many fields are
missing, some for a reason (no garage, no basement).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from nbdojo.competitions.prepare_kit import test_mask, write_csv, write_oracle

N_TRAIN = 6_000
N_TEST = 7_000
ID = "id"
TARGET = "sale_price"

START, END = np.datetime64("2015-01-01"), np.datetime64("2023-12-31")
STYLES = {"1Story": 0.48, "2Story": 0.30, "1.5Story": 0.10, "SplitLevel": 0.07, "Townhouse": 0.05}
ZONING = {"RL": 0.75, "RM": 0.15, "FV": 0.05, "RH": 0.02, "C": 0.03}
SALE = {  # condition: (share, effect on log price)
    "Normal": (0.82, 0.0), "Partial": (0.08, 0.06), "Abnormal": (0.06, -0.18),
    "Family": (0.02, -0.12), "Foreclosure": (0.02, -0.28),
}
HEATING = {"GasA": 0.9, "GasW": 0.04, "Electric": 0.04, "Other": 0.02}
EXTERIOR = ("VinylSd", "HdBoard", "MetalSd", "Wd Sdng", "Plywood", "CemntBd", "BrkFace", "Stucco")


def _choice(rng: np.random.Generator, table: dict, n: int) -> np.ndarray:
    names = np.array(list(table))
    shares = np.array([v[0] if isinstance(v, tuple) else v for v in table.values()], dtype=float)
    return names[rng.choice(len(names), size=n, p=shares / shares.sum())]


def simulate(seed: int, n: int = N_TRAIN + N_TEST) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    n_hoods = 28
    hoods = np.array([f"N{k:02d}" for k in range(n_hoods)])
    hood_level = rng.normal(0.0, 0.22, n_hoods)
    hood_age = rng.uniform(1900, 2015, n_hoods)
    hood_share = rng.dirichlet(np.full(n_hoods, 2.0))
    h = rng.choice(n_hoods, size=n, p=hood_share)
    hood = hoods[h]

    days = int((END - START).astype(int))
    sold = START + rng.integers(0, days + 1, n).astype("timedelta64[D]")
    t = (sold - START).astype(int) / 365.25  # years since 2015
    built = np.clip(np.round(hood_age[h] + rng.normal(0, 14, n)), 1880, (2015 + t).astype(int)).astype(int)
    sale_year = (2015 + t).astype(int)
    age = np.maximum(sale_year - built, 0)
    remodeled = np.where((age > 15) & (rng.random(n) < 0.45), built + (rng.random(n) * age).astype(int), np.nan)

    style = _choice(rng, STYLES, n)
    quality = np.clip(np.round(5.6 + 0.9 * hood_level[h] / 0.22 * 0.6 + rng.normal(0, 1.3, n)), 1, 10).astype(int)
    condition = np.clip(np.round(5.6 + rng.normal(0, 1.0, n) - 0.01 * age + 0.8 * ~np.isnan(remodeled)), 1, 9).astype(int)
    living = np.exp(rng.normal(np.log(1450) + 0.07 * (quality - 6) + 0.25 * (style == "2Story"), 0.3, n))
    living = np.round(np.clip(living, 450, 6500))
    bedrooms = np.clip(np.round(living / 520 + rng.normal(0, 0.7, n)), 0, 8).astype(int)
    baths = np.clip(np.round((living / 900 + rng.normal(0, 0.45, n)) * 2) / 2, 1, 5)
    has_basement = rng.random(n) < 0.9 - 0.3 * (style == "SplitLevel")
    basement = np.where(has_basement, np.round(living * rng.uniform(0.4, 1.05, n)), 0)
    basement_finished = np.where(has_basement, np.round(rng.beta(2, 2, n), 2), np.nan)
    garage_cars = np.where(rng.random(n) < 0.06 + 0.15 * (built < 1940), 0,
                           np.clip(np.round(1.6 + 0.25 * (quality - 5) + rng.normal(0, 0.6, n)), 1, 4)).astype(int)
    garage_year = np.where(garage_cars > 0, np.maximum(built, built + (rng.random(n) < 0.2) * rng.integers(0, 30, n)),
                           np.nan)
    lot = np.round(np.exp(rng.normal(np.log(9000) + 0.3 * (hood_level[h] < 0), 0.45, n)))
    lot_frontage = np.round(np.sqrt(lot) * rng.uniform(0.5, 0.9, n))
    fireplaces = rng.poisson(np.clip(0.3 + 0.12 * (quality - 5), 0.05, None))
    pool = (rng.random(n) < 0.006).astype(int)
    heating = _choice(rng, HEATING, n)
    central_air = np.where((heating == "GasA") & (rng.random(n) < 0.97) | (built > 1975), "Y", "N")
    zoning = _choice(rng, ZONING, n)
    exterior = np.array(EXTERIOR)[rng.integers(0, len(EXTERIOR), n)]
    sale = _choice(rng, SALE, n)
    sale = np.where((age <= 1) & (rng.random(n) < 0.5), "Partial", sale)
    distance = np.round(rng.gamma(2.0, 4.0, n) * (1.0 + 0.4 * (hood_level[h] < 0)), 1)

    market = 0.045 * t - 0.10 * np.exp(-((t - 5.3) ** 2) / 0.5) + 0.02 * np.sin(2 * np.pi * t)  # trend, a dip, spring
    sale_effect = pd.Series(sale).map({k: v[1] for k, v in SALE.items()}).to_numpy(float)
    hedonic = (  # the log price without the sale's own noise: the oracle's prediction comes from it
        np.log(185_000) + hood_level[h] + market
        + 0.62 * np.log(living / 1500) + 0.18 * np.log1p(basement * np.nan_to_num(basement_finished) / 500)
        + 0.085 * (quality - 6) + 0.012 * (quality - 6) ** 2 + 0.04 * (condition - 5)
        - 0.0035 * np.minimum(age, 80) + 0.05 * ~np.isnan(remodeled)
        + 0.05 * np.minimum(garage_cars, 3) + 0.035 * np.minimum(fireplaces, 2) + 0.06 * pool
        + 0.07 * np.log(lot / 9000) + 0.03 * np.minimum(baths - 2, 1.5) - 0.012 * distance * (zoning != "FV")
        + sale_effect - 0.08 * (central_air == "N") - 0.05 * (zoning == "C") + 0.07 * (zoning == "FV")
        - 0.04 * (heating == "Other")
    )
    log_price = hedonic + rng.normal(0.0, 0.11, n)
    price = np.exp(log_price)
    outlier = (living > 4200) & (sale == "Partial")
    outlier |= rng.random(n) < 0.002
    fraction = rng.uniform(0.3, 0.55, n)
    price = np.where(outlier, price * fraction, price)
    noise_free = np.where(outlier, np.exp(hedonic) * fraction, np.exp(hedonic))
    price = np.round(price / 100) * 100

    frame = pd.DataFrame({
        "sale_date": pd.to_datetime(sold).strftime("%Y-%m-%d"),
        "neighborhood": hood,
        "zoning": zoning,
        "lot_area": lot.astype(int),
        "lot_frontage": lot_frontage,
        "house_style": style,
        "overall_quality": quality,
        "overall_condition": condition,
        "year_built": built,
        "year_remodeled": remodeled,
        "exterior": exterior,
        "living_area": living.astype(int),
        "basement_area": basement.astype(int),
        "basement_finished_share": basement_finished,
        "bedrooms": bedrooms,
        "bathrooms": baths,
        "fireplaces": fireplaces,
        "garage_cars": garage_cars,
        "garage_year": garage_year,
        "heating": heating,
        "central_air": central_air,
        "pool": pool,
        "distance_to_center_km": distance,
        "sale_condition": sale,
        TARGET: price.astype(int),
        "_oracle": noise_free,  # never published
    })
    frame.loc[rng.random(n) < 0.17, "lot_frontage"] = np.nan
    frame.loc[rng.random(n) < 0.03, "exterior"] = np.nan
    frame.loc[rng.random(n) < 0.02, "bathrooms"] = np.nan
    for column in ("lot_frontage", "year_remodeled", "garage_year"):
        frame[column] = frame[column].astype("Int64")
    frame.insert(0, ID, [f"H{i + 1:05d}" for i in range(n)])
    return frame


def prepare(public_dir: Path, private_dir: Path, seed: int) -> None:
    frame = simulate(seed)
    oracle = frame.pop("_oracle")
    is_test = test_mask(len(frame), N_TEST, seed)
    train, test = frame.loc[~is_test], frame.loc[is_test]
    write_csv(train, public_dir / "train.csv")
    write_csv(test.drop(columns=TARGET), public_dir / "test.csv")
    median = int(round(train[TARGET].median(), -3))
    write_csv(pd.DataFrame({ID: test[ID], TARGET: median}), public_dir / "sample_submission.csv")
    write_csv(test[[ID, TARGET]], private_dir / "answers.csv")
    write_oracle(pd.DataFrame({ID: test[ID], TARGET: oracle[is_test]}), private_dir)
