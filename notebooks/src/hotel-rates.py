# %% [markdown]
# # Hotel Room Rates (real bookings, split in time): a reference solution
#
# **Task.** Predict the average price per room night of a resort hotel's upcoming bookings.
# **Metric:** mean absolute error (euros), so the model should aim at the *median* price of a
# booking like this one, and is fitted with an absolute-error loss.
#
# **The difficulty.** The test months are the early and high summer; train holds the previous
# summer's end and the off-season. Prices swing with the season far more than with anything else,
# and a tree cannot extrapolate to price levels it has not seen. The data gives the way out:
# `historical_adr`, the hotel's average rate for the same arrival week in an earlier year. So the
# model predicts the **ratio** of a booking's price to that seasonal level (what the room type,
# segment, lead time and guests add or take off), and the seasonal level is multiplied back.
#
# Validation matches the test: the last two months of train are held out, the model is fitted on
# what came before.

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
from sklearn.ensemble import HistGradientBoostingRegressor

train = pd.read_csv(f"{DATA_DIR}/train.csv", parse_dates=["arrival_date"])
test = pd.read_csv(f"{DATA_DIR}/test.csv", parse_dates=["arrival_date"])
target = "avg_price_per_room"
print(train.shape, test.shape, train["arrival_date"].min().date(), train["arrival_date"].max().date(), "->",
      test["arrival_date"].min().date(), test["arrival_date"].max().date())
print(train[[target, "historical_adr"]].corr().round(3))

# %% [markdown]
# ## Features

# %%
CATEGORIES = [c for c in train.columns if not pd.api.types.is_numeric_dtype(train[c]) and c not in (
    "booking_id", "arrival_date")]


def features(df: pd.DataFrame) -> pd.DataFrame:
    out = df.drop(columns=["booking_id", "arrival_date", target] + CATEGORIES, errors="ignore").astype(float)
    date = df["arrival_date"]
    out["day_of_year"] = date.dt.dayofyear
    out["weekday"] = date.dt.weekday
    out["nights"] = df["stays_in_weekend_nights"] + df["stays_in_week_nights"]
    out["weekend_share"] = df["stays_in_weekend_nights"] / out["nights"].clip(lower=1)
    out["guests"] = df["adults"] + df["children"].fillna(0) + df["babies"]
    out["room_changed"] = (df["reserved_room_type"] != df["assigned_room_type"]).astype(float)
    for col in CATEGORIES:
        out[col] = pd.Categorical(df[col], categories=sorted(train[col].dropna().unique()))
    return out


X, X_test = features(train), features(test)
level, level_test = train["historical_adr"].clip(lower=20).to_numpy(), test["historical_adr"].clip(lower=20).to_numpy()
ratio = train[target].to_numpy() / level
print(X.shape, f"price / seasonal level: median {np.median(ratio):.2f}")

# %% [markdown]
# ## Holdout: the last two months of train

# %%
def make_model(seed: int) -> HistGradientBoostingRegressor:
    return HistGradientBoostingRegressor(loss="absolute_error", learning_rate=0.05, max_iter=600, max_leaf_nodes=31,
                                         min_samples_leaf=20, l2_regularization=1.0,
                                         categorical_features="from_dtype", random_state=seed)


cut = train["arrival_date"].max() - pd.DateOffset(months=2)
early = (train["arrival_date"] <= cut).to_numpy()
y_hold = train.loc[~early, target].to_numpy()
direct = make_model(SEED).fit(X[early], train.loc[early, target]).predict(X[~early])
relative = make_model(SEED).fit(X[early], ratio[early]).predict(X[~early]) * level[~early]
print(f"holdout MAE: median price {np.mean(np.abs(y_hold - np.median(train.loc[early, target]))):.2f}, "
      f"price directly {np.mean(np.abs(y_hold - direct)):.2f}, ratio to the seasonal level "
      f"{np.mean(np.abs(y_hold - relative)):.2f}")

# %% [markdown]
# ## Fit on all bookings and write the submission (ratio model, two seeds)

# %%
pred = np.mean([make_model(SEED + k).fit(X, ratio).predict(X_test) for k in range(2)], axis=0) * level_test
submission = pd.DataFrame({"booking_id": test["booking_id"], target: np.maximum(pred, 0).round(2)})
submission.to_csv(SUBMISSION_PATH, index=False)
submission.describe().round(2)
