"""Helpers shared by competitions' `prepare.py`: byte-stable CSVs, a seeded test split, the oracle file."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd


def write_csv(frame: pd.DataFrame, path: Path) -> None:
    """The same frame always gives the same bytes: fixed float format and line endings."""
    frame.to_csv(path, index=False, lineterminator="\n", float_format="%.6g")


def test_mask(n_rows: int, n_test: int, seed: int) -> np.ndarray:
    """A boolean mask picking `n_test` of `n_rows` rows for the test set, seeded by `seed + 1`."""
    mask = np.zeros(n_rows, dtype=bool)
    mask[np.random.default_rng(seed + 1).choice(n_rows, size=n_test, replace=False)] = True
    return mask


#: The oracle's submission, in private/ beside the answers: what a synthetic competition's generator knows
#: (true probabilities, noise-free values, the true ranking or labels). Its score is the grade's ceiling.
ORACLE_FILE = "oracle.csv"


def write_oracle(frame: pd.DataFrame, private_dir: Path) -> None:
    """Write the oracle submission (the submission's columns, one row per test id) into private/."""
    write_csv(frame, private_dir / ORACLE_FILE)
