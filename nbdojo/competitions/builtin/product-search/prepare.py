"""Build the product-search competition: shoppers' search sessions on a web shop and what they bought.

A catalogue of 1,500 products (category, brand, price, rating, reviews, launch date) and 38,000
search sessions. The shop's current search engine shows 20 products per session, ranked by an
old, noisy relevance score (popularity and category match). The shopper buys the product with the
highest utility among those shown (a second one in about one session in seven): a hidden product
appeal, the rating, price against the shopper segment's price sensitivity, brand taste by
segment, whether it is in the searched category, novelty for premium shoppers, and a position
bias (people look at the top first), plus Gumbel noise. The task is to re-rank the shown
products so the bought ones come first.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from nbdojo.competitions.prepare_kit import write_oracle

N_PRODUCTS = 1_500
N_TRAIN = 30_000
N_TEST = 8_000
N_SHOWN = 20
ID = "session_id"
TARGET = "purchased"
N_CATEGORIES = 20
N_BRANDS = 90
SEGMENTS = {"budget": (0.3, -1.4), "mainstream": (0.4, -0.7), "family": (0.18, -0.9), "premium": (0.12, 0.2)}
DEVICES = ("mobile", "desktop", "tablet", "app")


def catalogue(rng: np.random.Generator) -> pd.DataFrame:
    category = rng.choice(N_CATEGORIES, size=N_PRODUCTS, p=rng.dirichlet(np.full(N_CATEGORIES, 4.0)))
    brand = rng.choice(N_BRANDS, size=N_PRODUCTS, p=rng.dirichlet(np.full(N_BRANDS, 1.0)))
    category_price = np.exp(rng.normal(3.3, 0.8, N_CATEGORIES))
    price = np.round(category_price[category] * np.exp(rng.normal(0.0, 0.45, N_PRODUCTS)), 2)
    appeal = rng.normal(0.0, 0.7, N_PRODUCTS)
    reviews = rng.negative_binomial(1.2, 1.2 / (1.2 + np.exp(3.0 + 0.8 * appeal)))
    rating = np.clip(3.9 + 0.35 * appeal + rng.normal(0, 0.35, N_PRODUCTS) / np.sqrt(1 + reviews / 20), 1.0, 5.0)
    launch = pd.Timestamp("2024-06-01") - pd.to_timedelta(rng.gamma(1.5, 300, N_PRODUCTS).astype(int), unit="D")
    return pd.DataFrame({
        "product_id": [f"P{i:05d}" for i in rng.permutation(N_PRODUCTS) + 10_000],
        "category": [f"cat_{c:02d}" for c in category],
        "brand": [f"brand_{b:03d}" for b in brand],
        "price": price,
        "rating": np.where(reviews > 0, rating.round(1), np.nan),
        "n_reviews": reviews,
        "launch_date": launch.strftime("%Y-%m-%d"),
        "_appeal": appeal,
        "_category": category,
        "_brand": brand,
    })


def simulate(seed: int, n: int = N_TRAIN + N_TEST) -> tuple[pd.DataFrame, pd.DataFrame]:
    rng = np.random.default_rng(seed)
    products = catalogue(rng)
    segment_names = np.array(list(SEGMENTS))
    segment = rng.choice(len(SEGMENTS), size=n, p=[v[0] for v in SEGMENTS.values()])
    sensitivity = np.array([v[1] for v in SEGMENTS.values()])
    brand_taste = rng.normal(0.0, 0.5, (len(SEGMENTS), N_BRANDS))
    query = rng.choice(N_CATEGORIES, size=n, p=np.bincount(products["_category"], minlength=N_CATEGORIES) / N_PRODUCTS)
    device = rng.choice(len(DEVICES), size=n, p=[0.5, 0.3, 0.08, 0.12])
    day = pd.Timestamp("2024-06-01") + pd.to_timedelta(rng.integers(0, 183, n), unit="D")

    by_category = [np.flatnonzero(products["_category"].to_numpy() == c) for c in range(N_CATEGORIES)]
    popularity = np.log1p(products["n_reviews"].to_numpy()) + 0.3 * products["_appeal"].to_numpy()
    log_price = np.log(products["price"].to_numpy())
    category_mean_price = pd.Series(log_price).groupby(products["_category"]).transform("mean").to_numpy()
    age_days = (pd.Timestamp("2024-06-01") - pd.to_datetime(products["launch_date"])).dt.days.to_numpy()
    rating = products["rating"].fillna(3.9).to_numpy()

    appeal = products["_appeal"].to_numpy()
    category = products["_category"].to_numpy()
    brand = products["_brand"].to_numpy()
    names = products["product_id"].to_numpy()
    position = np.arange(N_SHOWN)
    shown_lists, bought_lists, oracle_lists = [], [], []
    for s in range(n):
        own = by_category[query[s]]
        n_own = min(len(own), int(rng.integers(12, 19)))
        others = rng.choice(N_PRODUCTS, size=N_SHOWN, replace=False)
        pool = pd.unique(np.concatenate([rng.choice(own, size=n_own, replace=False), others]))[:N_SHOWN]
        match = category[pool] == query[s]
        engine = popularity[pool] + 1.5 * match + rng.normal(0.0, 1.5, N_SHOWN)
        order = np.argsort(-engine, kind="stable")
        shown, match = pool[order], match[order]
        value = (  # the shopper's utility but its Gumbel noise: the oracle ranks by it
            appeal[shown] + 0.6 * (rating[shown] - 3.9)
            + sensitivity[segment[s]] * (log_price[shown] - category_mean_price[shown])
            + brand_taste[segment[s], brand[shown]]
            + 1.4 * match + 0.6 * (segment[s] == 3) * (age_days[shown] < 90)
            - 0.5 * np.log1p(position) - 0.15 * (device[s] == 0) * position / 5
        )
        utility = value + rng.gumbel(0.0, 0.55, N_SHOWN)
        oracle_lists.append(" ".join(names[shown[np.argsort(-value, kind="stable")]]))
        best = np.argsort(-utility, kind="stable")
        bought = shown[best[:2]] if rng.random() < 0.15 else shown[best[:1]]
        shown_lists.append(" ".join(names[shown]))
        bought_lists.append(" ".join(names[bought]))
    sessions = pd.DataFrame({
        ID: [f"S{i:06d}" for i in rng.permutation(n) + 100_000],
        "date": day.strftime("%Y-%m-%d"),
        "user_segment": segment_names[segment],
        "device": np.array(DEVICES)[device],
        "query_category": [f"cat_{c:02d}" for c in query],
        "shown": shown_lists,
        TARGET: bought_lists,
        "_oracle": oracle_lists,  # never published
    })
    return products.drop(columns=["_appeal", "_category", "_brand"]), sessions


def _write(frame: pd.DataFrame, path: Path) -> None:
    frame.to_csv(path, index=False, lineterminator="\n", float_format="%.6g")


def prepare(public_dir: Path, private_dir: Path, seed: int) -> None:
    products, sessions = simulate(seed)
    sessions = sessions.sort_values("date", kind="stable").reset_index(drop=True)
    oracle = sessions.pop("_oracle")
    is_test = np.zeros(len(sessions), dtype=bool)
    is_test[np.random.default_rng(seed + 1).choice(len(sessions), size=N_TEST, replace=False)] = True
    train, test = sessions.loc[~is_test], sessions.loc[is_test]
    _write(products.sort_values("product_id"), public_dir / "products.csv")
    _write(train, public_dir / "train.csv")
    _write(test.drop(columns=TARGET), public_dir / "test.csv")
    first_five = test["shown"].str.split().str[:5].str.join(" ")
    _write(pd.DataFrame({ID: test[ID], TARGET: first_five}), public_dir / "sample_submission.csv")
    _write(test[[ID, TARGET]], private_dir / "answers.csv")
    write_oracle(pd.DataFrame({ID: test[ID], TARGET: oracle[is_test]}), private_dir)
