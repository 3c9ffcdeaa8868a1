"""The baseline's first cells: read the files, find the target, and find what else the data holds.

The cells decide from the data they see, as a generic Kaggler's script would, never from the
competition's id: images named after the row ids (or listed by file name in a column), `.npy`
arrays with one entry per row (signals), free-text columns, extra tables that join on shared
columns, and the target's type (boolean, integer, string or real) when the spec leaves the
task open ("other", as for an added MLE-bench or MLE-Dojo competition).

Each cell runs in the agent's kernel, so it may import only the agent's toolbox (numpy,
pandas, scipy, scikit-learn, torch, matplotlib and what they bring, such as Pillow).
"""

from __future__ import annotations

from typing import Any


def load_cell(spec: dict[str, Any]) -> str:
    """Read train, test and the sample submission; settle what to learn and what to write."""
    settings = (f"ID, SUBMIT = {spec['id_column']!r}, {list(spec['target_columns'])!r}\n"
                f"TASK, PREDICTION, METRIC = {spec['task']!r}, {spec['prediction']!r}, {spec['metric']!r}")
    return settings + "\n" + LOAD


LOAD = r'''import os
import numpy as np
import pandas as pd

random_state = SEED if SEED is not None else 0


def is_strings(values):
    return pd.api.types.is_object_dtype(values) or pd.api.types.is_string_dtype(values)


def read_table(stem):
    """DATA_DIR's `<stem>.csv` (or .csv.gz / .csv.zip, or else `<stem>_labels.csv` and the like), ids as text."""
    names = sorted(os.listdir(DATA_DIR))
    for name in sorted(names, key=lambda name: name.split(".")[0] != stem):
        if name.startswith(stem) and name.endswith((".csv", ".csv.gz", ".csv.zip")):
            head = pd.read_csv(os.path.join(DATA_DIR, name), nrows=0).columns
            dtype = {ID: str} if ID in head else None
            return pd.read_csv(os.path.join(DATA_DIR, name), low_memory=False, dtype=dtype)
    raise FileNotFoundError(f"no {stem}.csv in {DATA_DIR}")


train, test = read_table("train"), read_table("test")
sample = read_table("sample_submission")
ids = test[ID] if ID in test.columns else sample[ID]

# What to learn: the submission's columns when train has them, otherwise the columns only train has.
train_only = [c for c in train.columns if c not in test.columns and c != ID]
if all(c in train.columns for c in SUBMIT):
    Y_COLS = list(SUBMIT)
elif len(SUBMIT) > 1 and len(train_only) == 1:
    Y_COLS = train_only  # one label column; the submission has one probability column per class
else:
    Y_COLS = (train_only or [c for c in train.columns if c != ID])[-len(SUBMIT):]
labels = train[Y_COLS[0]].dropna()
whole = pd.api.types.is_numeric_dtype(labels) and labels.dtype != bool and bool((labels % 1 == 0).all())
if TASK in ("binary", "multiclass", "multilabel"):
    CLASSIFY = True
elif TASK == "regression":
    CLASSIFY = False
else:  # an open task: booleans, strings and a few whole numbers are classes
    CLASSIFY = labels.dtype == bool or not pd.api.types.is_numeric_dtype(labels) or (whole and labels.nunique() <= 20)
# One-hot class columns: one probability per class, summing to one (not independent labels).
ONE_HOT = len(SUBMIT) > 1 and TASK != "multilabel" and (
    Y_COLS != list(SUBMIT) or bool(np.allclose(train[Y_COLS].sum(axis=1), 1)))
if PREDICTION in ("probability", "label"):
    PROBA = PREDICTION == "probability"
else:  # the sample file tells: its values are classes (labels) or anything else (probabilities)
    PROBA = CLASSIFY and (ONE_HOT or not set(sample[SUBMIT[0]].dropna().unique()) <= set(labels.unique()))
ORDINAL = CLASSIFY and not PROBA and METRIC == "qwk" and whole  # graded classes: fit a value, round it
LOG_TARGET = not CLASSIFY and METRIC in ("rmsle", "smape") and bool((labels >= 0).all())
COUNTS = not CLASSIFY and "poisson" in METRIC  # counts scored by a deviance: fit a Poisson model, keep values > 0
ROUND = not CLASSIFY and PREDICTION == "other" and whole and pd.api.types.is_integer_dtype(sample[SUBMIT[0]])
others = sorted(set(os.listdir(DATA_DIR)) - {"train.csv", "test.csv", "sample_submission.csv"})
print("train", train.shape, "| test", test.shape, "| submission columns", list(sample.columns))
print("other files:", others[:10], "..." if len(others) > 10 else "")
print(f"learn {Y_COLS} ->", "classes" if CLASSIFY else "values", "| write",
      "one probability per class" if ONE_HOT else "probabilities" if PROBA else "labels" if CLASSIFY else "values",
      "| ordinal" if ORDINAL else "", "| log target" if LOG_TARGET else "", "| counts" if COUNTS else "")
train.head()'''


SURVEY = r'''IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".gif", ".webp")
folders = [DATA_DIR] + [os.path.join(DATA_DIR, d) for d in others if os.path.isdir(os.path.join(DATA_DIR, d))]


def image_paths(frame, part):
    """Paths of the images of each row: files named after the ids, or a column of file names."""
    row_ids = frame[ID].astype(str) if ID in frame.columns else ids.astype(str)
    ordered = sorted(folders, key=lambda folder: part not in os.path.basename(folder))  # train_images first
    for folder in ordered:
        names = set(os.listdir(folder))
        for ext in IMAGE_EXTENSIONS:
            if all(f"{i}{ext}" in names for i in row_ids.head(50)):
                return [os.path.join(folder, f"{i}{ext}") for i in row_ids]
    for col in frame.columns:
        values = frame[col].astype(str)
        if values.str.lower().str.endswith(IMAGE_EXTENSIONS).mean() > 0.9:
            for folder in ordered:
                if os.path.exists(os.path.join(folder, values.iloc[0])):
                    return [os.path.join(folder, v) for v in values]
    return None


def arrays(part, rows):
    """`.npy` files named for this part (train_signals.npy) with one entry per row."""
    found = []
    for name in others:
        if name.endswith(".npy") and part in name:
            array = np.load(os.path.join(DATA_DIR, name), mmap_mode="r")
            if array.ndim >= 2 and len(array) == rows:
                found.append((name, array))
    return found


def is_text(values):
    """Free text: strings of several words, mostly distinct."""
    values = values.dropna().astype(str)
    if values.empty:
        return False
    words = values.head(2000).str.split().str.len().mean()
    return words >= 4 or (words >= 2 and values.nunique() > 0.3 * len(values))


train_images, test_images = image_paths(train, "train"), image_paths(test, "test")
IMAGES = train_images is not None and test_images is not None
train_arrays, test_arrays = arrays("train", len(train)), arrays("test", len(test))
SIGNALS = [(a, b) for (_, a), (_, b) in zip(train_arrays, test_arrays) if a.shape[1:] == b.shape[1:]]
FEATURES = [c for c in test.columns if c in train.columns and c != ID and c not in Y_COLS]
TEXT = [c for c in FEATURES if is_strings(train[c]) and is_text(train[c])]

# Extra tables (e.g. weather, products) join on the columns they share with train, when those are a key.
for name in others:
    if not name.endswith(".csv") or name.startswith(("sample", "train", "test")):
        continue
    table = pd.read_csv(os.path.join(DATA_DIR, name), low_memory=False)
    keys = [c for c in table.columns if c in FEATURES]
    if keys and len(table) < 2_000_000 and not table.duplicated(subset=keys).any():
        extra = table.rename(columns={c: f"{name[:-4]}_{c}" for c in table.columns if c not in keys})
        for frame_name in ("train", "test"):
            frame = globals()[frame_name]
            for key in keys:
                if frame[key].dtype != extra[key].dtype:
                    frame[key], extra[key] = frame[key].astype(str), extra[key].astype(str)
            globals()[frame_name] = frame.merge(extra, on=keys, how="left")
        FEATURES += [c for c in extra.columns if c not in keys]
        print(f"joined {name} on {keys}: {len(extra.columns) - len(keys)} columns")

missing = train[FEATURES].isna().mean()
print("images:", f"{len(train_images):,} train files like {train_images[0]}" if IMAGES else "none")
print("arrays:", [(n, a.shape) for n, a in train_arrays] or "none")
print("text columns:", TEXT or "none")
print("missing values:", missing[missing > 0].round(3).to_dict() or "none")
for col in Y_COLS:
    counts = train[col].value_counts(normalize=True)
    print(f"{col}:", counts.head(10).round(3).to_dict() if len(counts) <= 20 else train[col].describe().round(3).to_dict())
print("recipe:", "images" if IMAGES else "features")'''
