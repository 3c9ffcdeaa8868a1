"""The baseline's ranking cells: rank each row's candidate items by how often they were the answer in train.

A column whose cells list item ids (the items a session was shown, say) holds the
candidates; each candidate is scored by its smoothed rate of being the answer when it was
a candidate. Without such a column every row gets the items most often answered.
"""

from __future__ import annotations

from typing import Any


def ranking_cells(spec: dict[str, Any]) -> list[tuple[str, str]]:
    """(thought, code) pairs after the load cell, for a ranking task (metric like map@5)."""
    metric = spec["metric"]
    k = int(metric.split("@", 1)[1]) if "@" in metric else 10
    look = f"K, TARGET = {k}, Y_COLS[0]\n" + LOOK
    return [
        ("Find what was ranked before and which column lists each row's candidates.", look),
        ("Rank each row's candidates by their past answer rate and write the submission.", RANK),
    ]


LOOK = r'''from collections import Counter

train[TARGET] = train[TARGET].fillna("")  # a row may have no answer
answers = Counter(item for cell in train[TARGET].astype(str) for item in cell.split())
print(f"{len(answers):,} distinct items in the answers; most common:", answers.most_common(5))
candidates = None  # a column whose cells list item ids, e.g. the items shown for this query
for col in test.columns:
    if col == ID or col not in train.columns or pd.api.types.is_numeric_dtype(test[col]):
        continue
    tokens = test[col].astype(str).str.split()
    vocabulary = {item for cell in tokens for item in cell}
    if tokens.str.len().mean() > 1 and len(set(answers) & vocabulary) > 0.5 * len(answers):
        candidates = col
print("candidate column:", candidates)'''


RANK = r'''seen = Counter(item for cell in train[candidates].astype(str) for item in cell.split()) if candidates else Counter()


def rate(item):  # smoothed share of the times an item was a candidate that it was the answer
    return (answers[item] + 0.1) / (seen[item] + 10) if candidates else answers[item]


popular = [item for item, _ in answers.most_common(K)]


def rank(cell):
    ranked = sorted(str(cell).split(), key=lambda item: -rate(item))[:K]  # stable: ties keep their order
    return " ".join(ranked or popular)


rows = test[candidates] if candidates else pd.Series([""] * len(test))
submission = pd.DataFrame({ID: ids.to_numpy(), SUBMIT[0]: [rank(cell) for cell in rows]})
fit_rows = train[candidates] if candidates else pd.Series([""] * len(train))
hits = [len(set(rank(c).split()[:1]) & set(str(t).split())) for c, t in zip(fit_rows, train[TARGET])]
print(f"on train, the first item is right {np.mean(hits):.3f} of the time")
submission = submission[sample.columns]
submission.to_csv(SUBMISSION_PATH, index=False)
submission.head()'''
