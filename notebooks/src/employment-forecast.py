# %% [markdown]
# # Industry Employment Forecasting: a reference solution
#
# **Task.** Forecast 24 months of employment for each of 480 monthly series (120 industries in
# 4 regions), from 15 years of history. **Metric:** SMAPE (in percent), every series weighing the
# same whatever its size: the task is about *relative* errors, so everything below works on the
# log scale, relative to each series' recent level.
#
# **Plan.**
# 1. Backtest the way the test is set: cut train 24 months before its end, forecast those 24 months
#    from what came before.
# 2. Two classical baselines to know what "good" means: the seasonal naive forecast (last year
#    again) and a level x seasonal index x damped trend.
# 3. One **global direct model**: a gradient boosting fitted across all series and many past
#    forecast origins, that takes a series' last three years (scaled to its level) plus the horizon
#    and calendar month and predicts the log ratio of the month ahead to today's level. Series share
#    their seasonal shapes and their ways of leaving a recession, and the model learns both.

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

train = pd.read_csv(f"{DATA_DIR}/train.csv")
test = pd.read_csv(f"{DATA_DIR}/test.csv")
wide = train.pivot(index="date", columns="series", values="employed")  # months x series
Y = np.log(wide.to_numpy().T)  # series x months, log scale
MONTH = pd.PeriodIndex(wide.index, freq="M").month.to_numpy()
H, LAGS = 24, 36
print(Y.shape, wide.index[0], "->", wide.index[-1], "| test", test["date"].min(), "->", test["date"].max())
print("mean seasonal profile (log, centred):",
      np.round(pd.DataFrame(Y - Y.mean(axis=1, keepdims=True)).T.groupby(MONTH).mean().mean(axis=1).to_numpy(), 3))


def smape(actual: np.ndarray, forecast: np.ndarray) -> float:
    return float(100 * np.mean(np.abs(forecast - actual) / ((np.abs(actual) + np.abs(forecast)) / 2)))

# %% [markdown]
# ## Baselines on the backtest
#
# The backtest origin is month 156 of 180: history up to 2014-12, forecast 2015-01 to 2016-12.
# The seasonal index is each calendar month's share of its year, averaged over the last three years;
# the trend is last year's growth, damped by half.

# %%
ORIGIN = Y.shape[1] - H
history, future = np.exp(Y[:, :ORIGIN]), np.exp(Y[:, ORIGIN:])
seasonal_naive = np.tile(history[:, -12:], 2)
years = history[:, -36:].reshape(len(history), 3, 12)
index = (years / years.mean(axis=2, keepdims=True)).mean(axis=1)
level, before = history[:, -12:].mean(axis=1, keepdims=True), history[:, -24:-12].mean(axis=1, keepdims=True)
damped = level * np.tile(index, 2) * (1 + 0.5 * (level / before - 1) * np.arange(1, H + 1) / 12)
print(f"seasonal naive       SMAPE {smape(future, seasonal_naive):.3f}")
print(f"level x index x trend SMAPE {smape(future, damped):.3f}")

# %% [markdown]
# ## A global direct model
#
# Each training row is one series at one past forecast origin and one horizon h (1-24): the features
# are the series' last 36 log values minus its mean of the last 12 months (so every series is on the
# same scale), the horizon, the calendar month being forecast, the value of that calendar month last
# year, and last year's growth. The target is the log of the value h months ahead, minus the same
# level. Origins every 3 months give about 150,000 rows. The loss is the absolute error: on the log
# scale that targets the median ratio, which is what SMAPE rewards.

# %%
def rows(origin: int) -> tuple[np.ndarray, np.ndarray | None, np.ndarray]:
    """Features of every series and horizon at one origin, the target (where known) and each row's level."""
    hist = Y[:, origin - LAGS:origin]
    level = hist[:, -12:].mean(axis=1, keepdims=True)
    lags = hist - level
    n = len(Y)
    h = np.tile(np.arange(1, H + 1), n)
    month = (MONTH[origin - 1] + h - 1) % 12 + 1
    same_month_last_year = lags[np.repeat(np.arange(n), H), LAGS - 12 + (h - 1) % 12]
    growth = np.repeat(hist[:, -12:].mean(axis=1) - hist[:, -24:-12].mean(axis=1), H)
    X = np.column_stack([np.repeat(lags, H, axis=0), h, month, same_month_last_year, growth])
    target = (Y[:, origin:origin + H] - level).ravel() if origin + H <= Y.shape[1] else None
    return X, target, np.repeat(level[:, 0], H)


def training_rows(last_origin: int) -> tuple[np.ndarray, np.ndarray]:
    parts = [rows(o) for o in range(LAGS, last_origin - H + 1, 3)]
    return np.vstack([p[0] for p in parts]), np.concatenate([p[1] for p in parts])


def make_model() -> HistGradientBoostingRegressor:
    return HistGradientBoostingRegressor(loss="absolute_error", learning_rate=0.1, max_iter=300, max_leaf_nodes=31,
                                         min_samples_leaf=50, random_state=SEED)


X_fit, y_fit = training_rows(ORIGIN)  # only windows that end by the backtest origin
model = make_model().fit(X_fit, y_fit)
X_val, y_val, level_val = rows(ORIGIN)
direct = np.exp(model.predict(X_val) + level_val).reshape(len(Y), H)
print(X_fit.shape, f"global direct booster SMAPE {smape(future, direct):.3f}")
by_horizon = [smape(future[:, k], direct[:, k]) for k in range(H)]
print("SMAPE by horizon:", np.round(by_horizon, 2))

# %% [markdown]
# ## Refit with every window and forecast the test months
#
# The same model, now also trained on the windows that end in the last 24 months of train, and applied
# at the end of train (month 180). The forecasts go back to the series' own units.

# %%
X_all, y_all = training_rows(Y.shape[1])
model = make_model().fit(X_all, y_all)
X_test, _, level_test = rows(Y.shape[1])
forecast = pd.DataFrame(np.exp(model.predict(X_test) + level_test).reshape(len(Y), H), index=wide.columns,
                        columns=pd.period_range(pd.Period(wide.index[-1], "M") + 1, periods=H, freq="M").strftime("%Y-%m"))
long = forecast.stack().rename("employed").reset_index()
long["id"] = long["series"] + "_" + long["level_1"]
submission = test[["id"]].merge(long[["id", "employed"]], on="id", how="left")
assert submission["employed"].notna().all()
submission.to_csv(SUBMISSION_PATH, index=False)
submission.head()
