"""Build the click-through competition: twelve days of mobile ad impressions, 1.3 million rows.

In the style of the Avazu click logs: every categorical field is an anonymised hash, most are of
high cardinality with a long tail (sites, apps, device models, creatives, users), and the click
probability is a sum of per-level effects (drawn once from the seed) plus hour-of-day and
position terms, a site-category x hour interaction, creative fatigue (a creative's appeal fades
with the days since it first ran) and a per-user propensity. Train is the first nine days, test
the next three: a split in time, as in production. About 15% of impressions are clicked. Three
test days of 100,000 impressions (about 111,000 a day in train) give the private part the rows
it needs for the medal lines of the ladder to stand clear of its bootstrap noise.

`prepare` takes `n_train` / `n_test` so the tests can build a small copy with the same story.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from nbdojo.competitions.prepare_kit import write_oracle

N_TRAIN = 1_000_000
N_TEST = 300_000
ID = "id"
TARGET = "click"
TRAIN_DAYS, TEST_DAYS = 9, 3
DAYS = TRAIN_DAYS + TEST_DAYS
FIRST_DAY = pd.Timestamp("2024-10-19")  # the last test day is 30 October
LEVELS = {  # field: (number of levels, Zipf exponent, spread of the effect on the click logit)
    "site_id": (3000, 1.15, 0.55),
    "app_id": (2500, 1.2, 0.55),
    "device_model": (2000, 1.05, 0.25),
    "creative_id": (1200, 0.9, 0.45),
    "user_id": (250_000, 0.75, 0.75),
    "c21": (60, 0.8, 0.3),
}
N_SITE_CATEGORIES = 22
N_APP_CATEGORIES = 28
BANNER = ((0, 0.72, 0.0), (1, 0.26, 0.25), (2, 0.005, -0.3), (3, 0.005, 0.5), (4, 0.004, 0.1),
          (5, 0.003, -0.2), (7, 0.003, 0.6))
DEVICE_TYPE = ((1, 0.92, 0.0), (0, 0.05, 0.25), (4, 0.02, -0.4), (5, 0.01, -0.3))
CONN_TYPE = ((0, 0.86, 0.0), (2, 0.08, -0.35), (3, 0.05, -0.6), (5, 0.01, -0.2))
SIZES = ((320, 50, 0.0), (300, 250, 0.35), (728, 90, -0.25), (216, 36, -0.4), (320, 480, 0.6))


def _hashes(rng: np.random.Generator, n: int) -> np.ndarray:
    values = rng.choice(2**32, size=n, replace=False)
    return np.array([f"{v:08x}" for v in values])


def _zipf(rng: np.random.Generator, levels: int, exponent: float, n: int) -> np.ndarray:
    weights = 1.0 / np.arange(1, levels + 1) ** exponent
    return rng.choice(levels, size=n, p=weights / weights.sum())


def _table(rng: np.random.Generator, table: tuple, n: int) -> tuple[np.ndarray, np.ndarray]:
    shares = np.array([row[-2] for row in table])
    pick = rng.choice(len(table), size=n, p=shares / shares.sum())
    return pick, np.array([row[-1] for row in table])[pick]


def day_sizes(n_train: int, n_test: int) -> np.ndarray:
    """Impressions per day: `n_train` spread evenly over the train days, `n_test` over the test days."""
    def spread(n: int, days: int) -> np.ndarray:
        return np.diff(np.round(np.linspace(0, n, days + 1)).astype(int))

    return np.append(spread(n_train, TRAIN_DAYS), spread(n_test, TEST_DAYS))


def simulate(seed: int, sizes: np.ndarray) -> pd.DataFrame:
    """`sizes[d]` impressions of day `d`, in order of day."""
    rng = np.random.default_rng(seed)
    day = np.repeat(np.arange(DAYS), sizes)
    n = len(day)
    hour_of_day = rng.choice(24, size=n, p=(w := np.exp(np.sin((np.arange(24) - 9) / 24 * 2 * np.pi))) / w.sum())
    hour = ((FIRST_DAY.year % 100) * 1_000_000 + FIRST_DAY.month * 10_000
            + (FIRST_DAY.day + day) * 100 + hour_of_day)

    codes, effects, names = {}, {}, {}
    for field, (levels, exponent, spread) in LEVELS.items():
        codes[field] = _zipf(rng, levels, exponent, n)
        effects[field] = rng.normal(0.0, spread, levels)
        names[field] = _hashes(rng, levels)
    is_app = rng.random(n) < 0.35  # app traffic has no site, web traffic no app (placeholder hashes)
    site_category_of = rng.integers(0, N_SITE_CATEGORIES, LEVELS["site_id"][0])
    app_category_of = rng.integers(0, N_APP_CATEGORIES, LEVELS["app_id"][0])
    site_cat = np.where(is_app, N_SITE_CATEGORIES, site_category_of[codes["site_id"]])
    app_cat = np.where(is_app, app_category_of[codes["app_id"]], N_APP_CATEGORIES)
    banner, banner_eff = _table(rng, BANNER, n)
    device_type, device_eff = _table(rng, DEVICE_TYPE, n)
    conn, conn_eff = _table(rng, CONN_TYPE, n)
    size = rng.choice(len(SIZES), size=n, p=[0.8, 0.1, 0.05, 0.03, 0.02])
    c18 = rng.choice(4, size=n, p=[0.45, 0.1, 0.1, 0.35])

    creative_start = rng.integers(-20, TRAIN_DAYS, LEVELS["creative_id"][0])  # every creative started by the last train day
    age = np.clip(day - creative_start[codes["creative_id"]], 0, None)
    cat_hour = rng.normal(0.0, 0.3, (N_SITE_CATEGORIES + 1, 24))
    logit = (
        -1.95
        + np.where(is_app, effects["app_id"][codes["app_id"]] + 0.15, effects["site_id"][codes["site_id"]])
        + effects["device_model"][codes["device_model"]] + effects["creative_id"][codes["creative_id"]]
        + effects["user_id"][codes["user_id"]] + effects["c21"][codes["c21"]]
        + banner_eff + device_eff + conn_eff + np.array([s[2] for s in SIZES])[size]
        + 0.25 * np.sin((hour_of_day - 14) / 24 * 2 * np.pi) + cat_hour[site_cat, hour_of_day]
        - 0.35 * np.log1p(age / 4.0) + 0.2 * (c18 == 3) * (device_type == 0)
    )
    click = (rng.random(n) < 1.0 / (1.0 + np.exp(-logit))).astype(np.int8)

    site_cat_names, app_cat_names = _hashes(rng, N_SITE_CATEGORIES + 1), _hashes(rng, N_APP_CATEGORIES + 1)
    site_names = np.append(names["site_id"], "85f751fd")  # the placeholder site of app traffic
    app_names = np.append(names["app_id"], "ecad2386")  # the placeholder app of web traffic
    return pd.DataFrame({
        "hour": hour,
        "banner_pos": np.array([b[0] for b in BANNER])[banner],
        "site_id": site_names[np.where(is_app, len(site_names) - 1, codes["site_id"])],
        "site_category": site_cat_names[site_cat],
        "app_id": app_names[np.where(is_app, codes["app_id"], len(app_names) - 1)],
        "app_category": app_cat_names[app_cat],
        "device_model": names["device_model"][codes["device_model"]],
        "device_type": np.array([d[0] for d in DEVICE_TYPE])[device_type],
        "device_conn_type": np.array([c[0] for c in CONN_TYPE])[conn],
        "user_id": names["user_id"][codes["user_id"]],
        "creative_id": names["creative_id"][codes["creative_id"]],
        "banner_width": np.array([s[0] for s in SIZES])[size],
        "banner_height": np.array([s[1] for s in SIZES])[size],
        "c18": c18,
        "c21": names["c21"][codes["c21"]],
        TARGET: click,
        "_p": 1.0 / (1.0 + np.exp(-logit)),  # the true click probability: the oracle's prediction, never published
    })


def _write(frame: pd.DataFrame, path: Path) -> None:
    frame.to_csv(path, index=False, lineterminator="\n")


def prepare(public_dir: Path, private_dir: Path, seed: int, *, n_train: int = N_TRAIN, n_test: int = N_TEST) -> None:
    """Train is days 1-9, test days 10-12; `n_train` / `n_test` pick the sizes (same story)."""
    frame = simulate(seed, day_sizes(n_train, n_test))
    oracle = frame.pop("_p")
    train, test = frame.iloc[:n_train], frame.iloc[n_train:]
    train.insert(0, ID, [f"T{i:07d}" for i in range(len(train))])
    test.insert(0, ID, [f"Q{i:07d}" for i in range(len(test))])
    _write(train, public_dir / "train.csv")
    _write(test.drop(columns=TARGET), public_dir / "test.csv")
    prior = round(float(train[TARGET].mean()), 4)
    _write(pd.DataFrame({ID: test[ID], TARGET: prior}), public_dir / "sample_submission.csv")
    _write(test[[ID, TARGET]], private_dir / "answers.csv")
    write_oracle(pd.DataFrame({ID: test[ID], TARGET: oracle[test.index]}), private_dir)
