"""Reference rungs for customer-churn: the dense search, plus careful variants without the leak.

The searched rungs use every column, `retention_offer` included, as a first attempt would; the
careful rungs leave it out (it is filled in after the outcome in train only, see prepare.py).
"""

from __future__ import annotations

import dataclasses

from nbdojo.competitions import CompetitionData, ladder
from nbdojo.competitions.search import dense_rungs

LEAK = ("retention_offer",)


def rungs(data: CompetitionData) -> list[ladder.Rung]:
    standard = dense_rungs(ladder.Features.from_data(data))
    careful = [
        ladder.Rung("careful_linear", "logistic regression without the leaky column", "onehot_dates",
                    ladder._linear, drop=LEAK),
        ladder.Rung("careful_forest", "random forest without the leaky column", "ordinal_dates",
                    ladder._forest(None, 10), drop=LEAK),
        ladder.Rung("careful_hgb", "hist gradient boosting without the leaky column", "native_dates",
                    ladder._hgb, drop=LEAK),
        ladder.Rung("careful_hgb_tuned", "tuned hist gradient boosting without the leaky column", "native_dates",
                    ladder._tuned_hgb, drop=LEAK),
        ladder.Rung("careful_hgb_tuned_seed1", "tuned hist gradient boosting without the leak, seed 1",
                    "native_dates", ladder._tuned_hgb, seed=1, drop=LEAK),
        ladder.Rung("careful_ensemble", "mean of careful boosters, forest and linear model", "native_dates",
                    blend=("careful_hgb_tuned", "careful_hgb_tuned_seed1", "careful_forest", "careful_linear")),
    ]
    searched = [dataclasses.replace(r, name=f"careful_{r.name}", method=f"{r.method}, without the leaky column",
                                    drop=LEAK, blend=tuple(f"careful_{b}" for b in r.blend))
                for r in dense_rungs(ladder.Features.from_data(data, drop=LEAK))[1:]]
    taken = {r.name for r in careful}
    return standard + careful + [r for r in searched if r.name not in taken]
