"""Reference rungs for crash-fatalities: the dense search, plus the death-rate tables a first notebook makes.

Before any model, a Kaggler tabulates the death rate by impact speed, then by speed and seat belt, and
so on, and submits the table. Each table here is an m-estimate: a group's rate shrunk towards the
overall rate with the weight of `PRIOR_ROWS` occupants, so a group seen a handful of times stays near
the mean. They rank among the weaker models (bronze and below), as first attempts do on a real board.
The entry cache knows a rung by its name and method text: change `PRIOR_ROWS` or `AGE_BANDS` and the
ladder's cache must be emptied (or the names changed) for the tables to be refitted.
"""

from __future__ import annotations

import functools

import numpy as np
import pandas as pd

from nbdojo.competitions import CompetitionData, ladder
from nbdojo.competitions.search import dense_rungs

ID, TARGET = "occupant_id", "dead"
PRIOR_ROWS = 20
AGE_BANDS = (0, 20, 30, 45, 65, 200)
#: name -> the columns of the table
TABLES = {
    "speed": ("impact_speed",),
    "speed_belt": ("impact_speed", "seatbelt"),
    "speed_belt_frontal": ("impact_speed", "seatbelt", "frontal_impact"),
    "speed_belt_age": ("impact_speed", "seatbelt", "age_band"),
    "speed_belt_airbag": ("impact_speed", "seatbelt", "airbag_status"),
    "speed_belt_frontal_age": ("impact_speed", "seatbelt", "frontal_impact", "age_band"),
    "belt_age_sex": ("seatbelt", "age_band", "sex"),
}


@functools.lru_cache(maxsize=2)
def _frames(folder: str) -> tuple[pd.DataFrame, pd.DataFrame]:
    train, test = pd.read_csv(f"{folder}/train.csv"), pd.read_csv(f"{folder}/test.csv")
    for frame in (train, test):
        frame["age_band"] = pd.cut(frame["age"], AGE_BANDS, right=False).astype(str)
    return train, test


def _rate_table(data: CompetitionData, columns: tuple[str, ...]) -> pd.DataFrame:
    """Each test occupant's m-estimated death rate in their group of `columns` (unseen groups: the mean)."""
    train, test = _frames(str(data.public_dir))
    overall = float(train[TARGET].mean())
    groups = train.groupby(list(columns), dropna=False)[TARGET].agg(["sum", "count"])
    rate = (groups["sum"] + PRIOR_ROWS * overall) / (groups["count"] + PRIOR_ROWS)
    keys = pd.MultiIndex.from_frame(test[list(columns)]) if len(columns) > 1 else pd.Index(test[columns[0]])
    predicted = rate.reindex(keys).to_numpy(dtype=float)
    return pd.DataFrame({ID: test[ID], TARGET: np.where(np.isnan(predicted), overall, predicted)})


def rungs(data: CompetitionData) -> list[ladder.Rung]:
    tables = [ladder.Rung(f"rate_by_{name}", f"death-rate table by {', '.join(columns)} (shrunk to the mean)",
                          submit=functools.partial(_rate_table, columns=columns)) for name, columns in TABLES.items()]
    return dense_rungs(ladder.Features.from_data(data)) + tables
