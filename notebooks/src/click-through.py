# %% [markdown]
# # Mobile Ad Click-Through Prediction: a reference solution
#
# **Task.** The probability that each ad impression of the three test days is clicked. **Metric:** log loss.
#
# **What the data is.** A million impressions over nine days (19 to 27 October) in train; the test is
# the **next three days**, 28 to 30 October. Almost every column is a hashed category with thousands of levels
# (sites, apps, devices, users, creatives). So:
# * validation is a **time split**: the last training day is held out, as the test days will be;
# * high-cardinality hashes become numbers a tree can use: how often a value occurs (counted over
#   train *and* test, which needs no labels) and its smoothed click rate, computed only from days
#   *before* the row's own day, so no row ever sees its own click, just as the test only sees the past;
# * the hour of day, and how many impressions the same user saw that hour (fatigue, bots).
#
# Then one gradient boosting on those numbers, fitted on a random 40% of the rows: with a handful of
# strong encoded features, hundreds of thousands of rows are plenty for trees of this size, and two
# busy CPU cores fit them in a fraction of the time.

# %% tags=["parameters"]
# nbdojo sets these itself when it replays or plays this notebook; the values here are for running it elsewhere.
DATA_DIR = "data"
WORKSPACE = "."
SUBMISSION_PATH = "submission.csv"
SEED = 0

# %%
import os

os.environ.setdefault("OMP_NUM_THREADS", "1")  # 2 shared cores: one OpenMP thread per model avoids oversubscription
import numpy as np
import pandas as pd
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.metrics import log_loss

train = pd.read_csv(f"{DATA_DIR}/train.csv")
test = pd.read_csv(f"{DATA_DIR}/test.csv")
print(train.shape, test.shape, f"click rate {train['click'].mean():.4f}")
print("train hours", train["hour"].min(), "-", train["hour"].max(), "; test", test["hour"].min(), "-", test["hour"].max())

# %% [markdown]
# ## Encodings
#
# `day` is the day of the month. For each hashed column (and a few pairs), the click rate of a value
# on day *d* comes from days before *d* only, smoothed towards the overall rate with 50 pseudo-views.
# The first training day has no past, so it is used for the rates of later days, not for fitting.

# %%
HASHES = ["site_id", "site_category", "app_id", "app_category", "device_model", "user_id", "creative_id", "c21"]
PAIRS = [("site_id", "creative_id"), ("app_id", "creative_id"), ("site_id", "banner_pos")]
full = pd.concat([train, test.assign(click=np.nan)], ignore_index=True)
full["day"] = full["hour"] // 100 % 100
full["hour_of_day"] = full["hour"] % 100
for a, b in PAIRS:
    full[f"{a}+{b}"] = full.groupby([a, b], sort=False).ngroup()
KEYS = HASHES + [f"{a}+{b}" for a, b in PAIRS]
for key in KEYS:
    full[f"{key}_count"] = full.groupby(key)[key].transform("size")
full["user_hour_count"] = full.groupby(["user_id", "hour"])["user_id"].transform("size")
full["user_day_count"] = full.groupby(["user_id", "day"])["user_id"].transform("size")

PRIOR = 50.0
days = sorted(full["day"].unique())
labelled_days = full["click"].notna()
day_clicks = full[labelled_days].groupby("day")["click"].agg(["sum", "count"]).reindex(days, fill_value=0)
base_before = (day_clicks["sum"].cumsum().shift(1) / day_clicks["count"].cumsum().shift(1))  # rate of earlier days
for key in KEYS:
    # clicks and views of each value per day, summed over the days strictly before each day
    per_day = full[labelled_days].groupby([key, "day"])["click"].agg(["sum", "count"])
    clicks = per_day["sum"].unstack("day").reindex(columns=days).fillna(0.0)
    views = per_day["count"].unstack("day").reindex(columns=days).fillna(0.0)
    clicks_before = clicks.cumsum(axis=1).shift(1, axis=1).fillna(0.0).stack().rename("clicks_before")
    views_before = views.cumsum(axis=1).shift(1, axis=1).fillna(0.0).stack().rename("views_before")
    past = pd.concat([clicks_before, views_before], axis=1)
    looked_up = past.reindex(pd.MultiIndex.from_arrays([full[key], full["day"]]))
    base = full["day"].map(base_before).to_numpy()
    rate = (looked_up["clicks_before"].fillna(0.0).to_numpy() + PRIOR * base) / (
        looked_up["views_before"].fillna(0.0).to_numpy() + PRIOR)
    full[f"{key}_rate"] = rate  # NaN on the first day, which has no past
print(full.shape)

# %% [markdown]
# ## Time-split validation: fit on days 20-26, check on day 27

# %%
FEATURES = (["banner_pos", "device_type", "device_conn_type", "banner_width", "banner_height", "c18", "hour_of_day",
             "user_hour_count", "user_day_count"] + [f"{k}_count" for k in KEYS] + [f"{k}_rate" for k in KEYS])
labelled = full[full["click"].notna() & (full["day"] > days[0])]
test_rows = full[full["click"].isna()]


def make_model(seed: int) -> HistGradientBoostingClassifier:
    return HistGradientBoostingClassifier(learning_rate=0.1, max_iter=200, max_leaf_nodes=63, min_samples_leaf=200,
                                          l2_regularization=1.0, random_state=seed)


SHARE = 0.4
last = labelled["day"].max()
fit, hold = labelled[labelled["day"] < last], labelled[labelled["day"] == last]
fit = fit.sample(frac=SHARE, random_state=SEED)
model = make_model(SEED).fit(fit[FEATURES], fit["click"])
p = model.predict_proba(hold[FEATURES])[:, 1]
print(f"day {last}: constant rate {log_loss(hold['click'], np.full(len(hold), fit['click'].mean())):.4f}, "
      f"boosting {log_loss(hold['click'], p):.4f}")

# %% [markdown]
# ## Fit on (a sample of) every labelled day and write the submission

# %%
sample = labelled.sample(frac=SHARE, random_state=SEED)
model = make_model(SEED).fit(sample[FEATURES], sample["click"])
pred = np.clip(model.predict_proba(test_rows[FEATURES])[:, 1], 1e-4, 1 - 1e-4)
submission = pd.DataFrame({"id": test_rows["id"].to_numpy(), "click": pred.round(6)})
submission.to_csv(SUBMISSION_PATH, index=False)
print(f"mean predicted click rate {pred.mean():.4f}")
