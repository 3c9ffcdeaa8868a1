"""Nearest-row matching shared by the leak probes (tests/test_leaks.py and tests/leak_probes/<id>.py)."""

from __future__ import annotations

import numpy as np
import pandas as pd


def nearest_rows(rows: pd.DataFrame, source: pd.DataFrame) -> np.ndarray:
    """For each row, the index of the nearest source row on the shared (same-named, numeric) columns."""
    def standardised(frame: pd.DataFrame) -> np.ndarray:
        values = frame.to_numpy(float)
        return (values - np.nanmean(values, axis=0)) / np.nanstd(values, axis=0)

    gaps = np.sort(np.abs(standardised(rows)[:, None, :] - standardised(source[rows.columns])[None, :, :]), axis=2)
    keep = max(1, int(0.7 * len(rows.columns)))  # the closest 70% of the columns (missing ones sort last)
    with np.errstate(all="ignore"):
        distance = np.nanmean(gaps[:, :, :keep], axis=2)  # all-NaN pairs give NaN: never the nearest
    return np.argmin(np.nan_to_num(distance, nan=np.inf), axis=1)
