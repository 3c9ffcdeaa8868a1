"""The baseline agent: a fixed, sensible sequence of cells for any tabular competition. No LLM.

It reads the data, looks at it, builds features (dates split into parts, text as
categories), cross-validates a histogram gradient-boosting model (one multiclass model
for one-hot class columns, the log of the target for RMSLE), writes `submission.csv`,
validates and submits. For ranking tasks it ranks each row's candidate items by how often
they were the answer in train. Its cells come from `baseline_cells`, which the leaderboard
script also runs, so the baseline is a real entry on each ladder.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pandas as pd

# scikit-learn scorer names for the metrics the baseline can cross-validate on.
CV_SCORING = {
    "roc_auc": "roc_auc", "accuracy": "accuracy", "log_loss": "neg_log_loss", "rmse": "neg_root_mean_squared_error",
    "mae": "neg_mean_absolute_error", "macro_f1": "f1_macro", "r2": "r2", "rmsle": "neg_root_mean_squared_error",
    "qwk": "accuracy", "smape": "neg_mean_absolute_error",
}


def _load_cell(id_col: str, targets: list[str]) -> str:
    return f"""import os
import numpy as np
import pandas as pd

train = pd.read_csv(f"{{DATA_DIR}}/train.csv", low_memory=False)
test = pd.read_csv(f"{{DATA_DIR}}/test.csv", low_memory=False)
sample = pd.read_csv(f"{{DATA_DIR}}/sample_submission.csv")
ID, TARGETS = {id_col!r}, {targets!r}
others = sorted(set(os.listdir(DATA_DIR)) - {{"train.csv", "test.csv", "sample_submission.csv"}})
print("train", train.shape, "| test", test.shape, "| submission columns", list(sample.columns), "| other files", others)
train.head()"""


def _ranking_cells(spec: dict[str, Any]) -> list[tuple[str, str]]:
    """Rank each row's candidates (a column of lists of item ids) by how often they were the answer in train."""
    target = spec["target_columns"][0]
    metric = spec["metric"]
    k = int(metric.split("@", 1)[1]) if "@" in metric else 10
    look = f"""from collections import Counter

K, TARGET = {k}, {target!r}
answers = Counter(item for cell in train[TARGET].astype(str) for item in cell.split())
print(f"{{len(answers):,}} distinct items in the answers; most common:", answers.most_common(5))
candidates = None  # a column whose cells list item ids, e.g. the items shown for this query
for col in test.columns:
    if col == ID or col not in train.columns or pd.api.types.is_numeric_dtype(test[col]):
        continue
    tokens = test[col].astype(str).str.split()
    vocabulary = {{item for cell in tokens for item in cell}}
    if tokens.str.len().mean() > 1 and len(set(answers) & vocabulary) > 0.5 * len(answers):
        candidates = col
print("candidate column:", candidates)"""
    rank = """seen = Counter(item for cell in train[candidates].astype(str) for item in cell.split()) if candidates else Counter()

def rate(item):  # smoothed share of the times an item was a candidate that it was the answer
    return (answers[item] + 0.1) / (seen[item] + 10) if candidates else answers[item]

popular = [item for item, _ in answers.most_common(K)]
def rank(cell):
    ranked = sorted(str(cell).split(), key=lambda item: -rate(item))[:K]  # stable: ties keep their order
    return " ".join(ranked or popular)

rows = test[candidates] if candidates else pd.Series([""] * len(test))
submission = pd.DataFrame({ID: test[ID], TARGET: [rank(cell) for cell in rows]})
fit_rows = train[candidates] if candidates else pd.Series([""] * len(train))
hits = [len(set(rank(c).split()[:1]) & set(str(t).split())) for c, t in zip(fit_rows, train[TARGET])]
print(f"on train, the first item is right {np.mean(hits):.3f} of the time")
submission = submission[sample.columns]
submission.to_csv(SUBMISSION_PATH, index=False)
submission.head()"""
    return [
        ("Load the data and look at its shape.", _load_cell(spec["id_column"], [target])),
        ("Find what was ranked before and which column lists each row's candidates.", look),
        ("Rank each row's candidates by their past answer rate and write the submission.", rank),
    ]


def baseline_cells(spec: dict[str, Any]) -> list[tuple[str, str]]:
    """(thought, code) pairs for a competition spec (`info["spec"]`: id_column, target_columns, task, ...)."""
    id_col = spec["id_column"]
    targets = list(spec["target_columns"])
    task, prediction, metric = spec["task"], spec["prediction"], spec["metric"]
    if task == "ranking" or prediction == "ranking":
        return _ranking_cells(spec)
    classify = task in ("binary", "multiclass", "multilabel")
    one_hot = task == "multiclass" and prediction == "probability" and len(targets) > 1
    estimator = "HistGradientBoostingClassifier" if classify else "HistGradientBoostingRegressor"
    scoring = CV_SCORING.get(metric)
    if one_hot:
        scoring = "neg_log_loss" if metric == "log_loss" else None
    elif task == "multilabel":
        scoring = "roc_auc" if metric == "roc_auc" else None
    log_target = metric == "rmsle"
    look = """missing = train.isna().mean()
print("Share of missing values:")
print(missing[missing > 0].sort_values(ascending=False).round(3).to_string() or "none")
for target in TARGETS:
    counts = train[target].value_counts(normalize=True)
    print(f"\\n{target}:", counts.head(10).round(3).to_dict() if len(counts) <= 20 else train[target].describe().round(3).to_dict())"""
    features = """def featurize(df: pd.DataFrame) -> pd.DataFrame:
    X = df.drop(columns=[c for c in [ID, *TARGETS] if c in df.columns])
    for col in list(X.columns):
        if not (pd.api.types.is_object_dtype(X[col]) or pd.api.types.is_string_dtype(X[col])):
            continue
        dates = pd.to_datetime(X[col], errors="coerce", format="ISO8601")
        if dates.notna().mean() > 0.9:
            X[f"{col}_year"], X[f"{col}_month"] = dates.dt.year, dates.dt.month
            X[f"{col}_dayofweek"] = dates.dt.day_of_week
            X[f"{col}_days"] = (dates - pd.Timestamp("2000-01-01")).dt.days
            X = X.drop(columns=col)
        elif X[col].nunique() > 250:
            X = X.drop(columns=col)  # free text or ids: the baseline leaves them out
        else:
            X[col] = X[col].astype("category")
    return X

X, X_test = featurize(train), featurize(test)
X_test = X_test.reindex(columns=X.columns)
for col in X.select_dtypes("category"):
    categories = X[col].cat.categories
    X_test[col] = pd.Categorical(X_test[col], categories=categories)
print(X.shape, dict(X.dtypes.astype(str).value_counts()))"""
    if one_hot:
        target_line = "y = train[TARGETS].idxmax(axis=1)  # one 0/1 column per class: the class is the column with the 1"
    elif log_target:
        target_line = "y = np.log1p(train[TARGETS[0]])  # the metric compares logs: fit the log of the target"
    else:
        target_line = "y = train[TARGETS[0]]"
    model = f"""from sklearn.ensemble import {estimator}
from sklearn.model_selection import cross_val_score

random_state = SEED if SEED is not None else 0
def make_model():
    return {estimator}(categorical_features="from_dtype", max_iter=300, learning_rate=0.06,
        early_stopping=True, random_state=random_state)

{target_line}
rows = X.index if len(X) <= 50_000 else X.sample(50_000, random_state=random_state).index  # CV on a sample
cv = cross_val_score(make_model(), X.loc[rows], y.loc[rows], cv=3, scoring={scoring!r})
print(f"3-fold CV on {{len(rows):,}} rows ({scoring or 'default score'}): {{cv.mean():.4f}} ± {{cv.std():.4f}}")"""
    if one_hot:
        fit = """model = make_model().fit(X, y)
proba = pd.DataFrame(model.predict_proba(X_test), columns=model.classes_).reindex(columns=TARGETS, fill_value=0.0)
proba = proba.div(proba.sum(axis=1), axis=0)
submission = pd.concat([test[[ID]].reset_index(drop=True), proba], axis=1)"""
    else:
        if prediction == "probability":
            predict = "model.predict_proba(X_test)[:, list(model.classes_).index(positive)]"
        elif log_target:
            predict = "np.clip(np.expm1(model.predict(X_test)), 0, None)"
        else:
            predict = "model.predict(X_test)"
        y_fit = "np.log1p(train[target])" if log_target else "train[target]"
        fit = f"""submission = pd.DataFrame({{ID: test[ID]}})
for target in TARGETS:
    model = make_model().fit(X, {y_fit})
    positive = sorted(train[target].unique())[-1]
    submission[target] = {predict}"""
    fit += """
submission = submission[sample.columns]
submission.to_csv(SUBMISSION_PATH, index=False)
print(submission.shape)
submission.head()"""
    return [
        ("Load the data and look at its shape.", _load_cell(id_col, targets)),
        ("Check missing values and the target's distribution.", look),
        ("Build features: split dates into parts, treat text columns as categories.", features),
        ("Cross-validate a histogram gradient-boosting model.", model),
        ("Fit on all the training data and write the submission.", fit),
    ]


class BaselineAgent:
    """Plays `baseline_cells` in order, then validates and submits."""

    name = "baseline"
    model: str | None = None

    def __init__(self) -> None:
        self._plan: list[dict[str, Any]] = []
        self._fell_back = False

    def reset(self, observation: str, info: dict[str, Any]) -> None:
        spec = info["spec"]
        self._fell_back = False
        self._plan = [{"action": "request_info", "topic": "data",
                       "thought": "Read what the data files hold before touching them."}]
        self._plan += [{"action": "execute_code", "code": code, "thought": thought}
                       for thought, code in baseline_cells(spec)]
        self._plan += [
            {"action": "validate", "thought": "Check the file's format and its public score."},
            {"action": "submit", "thought": "Submit the file for the final, private score."},
        ]

    def act(self, observation: str, info: dict[str, Any]) -> dict[str, Any]:
        if info.get("action") in ("validate", "submit") and info.get("status") != "ok" and not self._fell_back:
            # The model's file is broken: fall back to the sample submission, a valid (if weak) answer.
            self._fell_back = True
            self._plan = [
                {"action": "execute_code", "thought": "The submission is not valid; fall back to the sample file.",
                 "code": 'import shutil\nshutil.copy(f"{DATA_DIR}/sample_submission.csv", SUBMISSION_PATH)'},
                {"action": "submit"},
            ]
        if not self._plan:
            return {"action": "get_history", "thought": "Nothing left to try."}
        return self._plan.pop(0)

    def usage(self) -> dict[str, Any] | None:
        return None


def baseline_submission(data_dir: str, spec: dict[str, Any], *, seed: int = 0) -> "pd.DataFrame":
    """Run the baseline's cells in-process (no kernel) and return its submission: its leaderboard entry."""
    import contextlib
    import io
    import os
    import tempfile

    import pandas as pd

    with tempfile.TemporaryDirectory(prefix="nbdojo-baseline-") as workspace:
        namespace: dict[str, Any] = {"DATA_DIR": data_dir, "WORKSPACE": workspace, "SEED": seed,
                                     "SUBMISSION_PATH": os.path.join(workspace, "submission.csv")}
        with contextlib.redirect_stdout(io.StringIO()):
            for _, code in baseline_cells(spec):
                exec(compile(code, "<baseline>", "exec"), namespace)
        return pd.read_csv(namespace["SUBMISSION_PATH"], dtype={spec["id_column"]: str})
