"""Reference rungs for employment-forecast: classic monthly forecasts, Holt-Winters, a direct booster, blends.

Every series has the same 180 training months, so the training table is read into one
(series x months) array and each rung forecasts the next 24 months of every row of it.
"""

from __future__ import annotations

import functools

import numpy as np
import pandas as pd
from sklearn.ensemble import HistGradientBoostingRegressor

from nbdojo.competitions import CompetitionData
from nbdojo.competitions.ladder import Rung

HORIZON = 24
LAGS = 36


@functools.lru_cache(maxsize=2)
def _history(train_path: str, test_path: str) -> tuple[np.ndarray, list[str], pd.DataFrame]:
    train = pd.read_csv(train_path, dtype={"id": str}).sort_values(["series", "date"], kind="stable")
    test = pd.read_csv(test_path, dtype={"id": str})
    wide = train.pivot(index="series", columns="date", values="employed")
    return wide.to_numpy(float), list(wide.index), test


def _submit(data: CompetitionData, forecast: np.ndarray) -> pd.DataFrame:
    """A (series x HORIZON) forecast as the submission frame, in test.csv's row order."""
    _, names, test = _history(str(data.train_path), str(data.test_path))
    row = {name: i for i, name in enumerate(names)}
    step = test.groupby("series").cumcount().to_numpy()
    values = forecast[[row[s] for s in test["series"]], step]
    return pd.DataFrame({"id": test["id"], "employed": np.clip(values, 0.0, None)})


def _rung(name: str, method: str, forecast, **kw: object) -> Rung:
    """A rung whose forecast(y) maps the (series x months) history to a (series x HORIZON) forecast."""
    def submit(data: CompetitionData) -> pd.DataFrame:
        y, _, _ = _history(str(data.train_path), str(data.test_path))
        return _submit(data, forecast(y))
    return Rung(name, method, submit=submit, **kw)


def _repeat_year(y: np.ndarray) -> np.ndarray:
    return np.tile(y[:, -12:], HORIZON // 12)


def _grown(y: np.ndarray, damp: float, years: int) -> np.ndarray:
    """The last year repeated, grown each year by `damp` times the mean yearly growth of the last `years`."""
    yearly = (y[:, -12:].sum(axis=1) / y[:, -12 * (years + 1):-12 * years].sum(axis=1)) ** (1 / years)
    factors = np.repeat(yearly[:, None] ** (damp * np.arange(1, HORIZON // 12 + 1)), 12, axis=1)
    return _repeat_year(y) * factors


def _level_season(y: np.ndarray, months: int, years: int) -> np.ndarray:
    """Seasonal profile (ratio to each year's mean, averaged over `years`) x the deseasonalised recent level."""
    ratios = [y[:, -12 * (k + 1):y.shape[1] - 12 * k] for k in range(years)]
    profile = np.mean([r / r.mean(axis=1, keepdims=True) for r in ratios], axis=0)
    level = (y[:, -months:] / profile[:, -months:] if months <= 12 else y[:, -months:]).mean(axis=1)
    return np.tile(profile, HORIZON // 12) * level[:, None]


def _holt_winters(y: np.ndarray, alpha: float, beta: float, gamma: float, phi: float) -> np.ndarray:
    """Multiplicative-season Holt-Winters with a damped additive trend, all series at once."""
    season = y[:, :12] / y[:, :12].mean(axis=1, keepdims=True)
    level, trend = y[:, :12].mean(axis=1), np.zeros(len(y))
    season = season.copy()
    for t in range(12, y.shape[1]):
        s = season[:, t % 12]
        previous = level
        level = alpha * y[:, t] / s + (1 - alpha) * (level + phi * trend)
        trend = beta * (level - previous) + (1 - beta) * phi * trend
        season[:, t % 12] = gamma * y[:, t] / level + (1 - gamma) * s
    steps = np.cumsum(phi ** np.arange(1, HORIZON + 1))
    months = (y.shape[1] + np.arange(HORIZON)) % 12
    return (level[:, None] + steps[None, :] * trend[:, None]) * season[:, months]


def _direct_booster(y: np.ndarray, cutoffs: int, seed: int, iterations: int = 300) -> np.ndarray:
    """One booster for all horizons: the last LAGS months over the last year's mean -> month h over that mean."""
    def features(history: np.ndarray) -> np.ndarray:
        scale = history[:, -12:].mean(axis=1, keepdims=True)
        return history[:, -LAGS:] / scale, scale

    rows, targets = [], []
    for c in range(cutoffs):
        end = y.shape[1] - HORIZON - 6 * c
        if end < LAGS + 12:
            break
        X, scale = features(y[:, :end])
        for h in range(HORIZON):
            rows.append(np.column_stack([X, np.full(len(X), h), np.full(len(X), (end + h) % 12)]))
            targets.append(y[:, end + h] / scale[:, 0])
    model = HistGradientBoostingRegressor(max_iter=iterations, learning_rate=0.05, max_leaf_nodes=15,
                                          l2_regularization=1.0, random_state=seed)
    model.fit(np.vstack(rows), np.concatenate(targets))
    X, scale = features(y)
    out = np.zeros((len(y), HORIZON))
    for h in range(HORIZON):
        out[:, h] = model.predict(np.column_stack([X, np.full(len(X), h), np.full(len(X), (y.shape[1] + h) % 12)]))
    return out * scale


def rungs(data: CompetitionData) -> list[Rung]:
    out = [_rung("last_value", "each series' last month repeated (the sample submission)",
                 lambda y: np.repeat(y[:, -1:], HORIZON, axis=1))]
    for months in (3, 6, 9, 12, 18, 24):
        out.append(_rung(f"mean_last_{months}m", f"mean of the last {months} months",
                         lambda y, m=months: np.repeat(y[:, -m:].mean(axis=1, keepdims=True), HORIZON, axis=1)))
    out.append(_rung("seasonal_naive", "the last year repeated", _repeat_year))
    for years in (1, 2, 3):
        for damp in (0.25, 0.5, 0.75, 1.0):
            out.append(_rung(f"seasonal_growth_{years}y_d{damp}",
                             f"last year repeated, grown by {damp} x the mean yearly growth of the last {years} years",
                             functools.partial(_grown, damp=damp, years=years)))
    for months in (1, 3, 12):
        for years in (2, 3, 5):
            out.append(_rung(f"level{months}m_season{years}y",
                             f"deseasonalised level of the last {months} months x "
                             f"the seasonal profile of {years} years",
                             functools.partial(_level_season, months=months, years=years)))
    for alpha in (0.2, 0.5, 0.8):
        for beta, phi in ((0.0, 1.0), (0.05, 0.9), (0.1, 0.95)):
            out.append(_rung(f"holt_winters_a{alpha}_b{beta}_phi{phi}",
                             f"Holt-Winters, multiplicative season, alpha {alpha}, beta {beta}, damping {phi}",
                             functools.partial(_holt_winters, alpha=alpha, beta=beta, gamma=0.1, phi=phi)))
    for cutoffs in (1, 4, 12):
        out.append(_rung(f"direct_booster_{cutoffs}cutoffs", f"direct booster on scaled lags, {cutoffs} past cutoffs",
                         functools.partial(_direct_booster, cutoffs=cutoffs, seed=0), fraction=cutoffs / 12))
    out.append(_rung("direct_booster_12cutoffs_seed1", "direct booster, 12 cutoffs, 500 rounds, seed 1",
                     functools.partial(_direct_booster, cutoffs=12, seed=1, iterations=500), seed=1))
    # the wider search a leaderboard holds: more smoothing settings, seasons and booster budgets
    for alpha in (0.1, 0.3, 0.45, 0.65, 0.8):
        for beta, phi in ((0.0, 1.0), (0.02, 0.8), (0.05, 0.9), (0.1, 0.98)):
            for gamma in (0.05, 0.2):
                out.append(_rung(f"holt_winters_a{alpha}_b{beta}_phi{phi}_g{gamma}",
                                 f"Holt-Winters, multiplicative season, alpha {alpha}, beta {beta}, damping {phi}, "
                                 f"season smoothing {gamma}",
                                 functools.partial(_holt_winters, alpha=alpha, beta=beta, gamma=gamma, phi=phi)))
    for months in (2, 6, 24):
        for years in (1, 4):
            out.append(_rung(f"level{months}m_season{years}y",
                             f"deseasonalised level of the last {months} months x "
                             f"the seasonal profile of {years} years",
                             functools.partial(_level_season, months=months, years=years)))
    for years in (4, 5):
        for damp in (0.25, 0.5, 1.0):
            out.append(_rung(f"seasonal_growth_{years}y_d{damp}",
                             f"last year repeated, grown by {damp} x the mean yearly growth of the last {years} years",
                             functools.partial(_grown, damp=damp, years=years)))
    for years, damp in ((1, 0.6), (1, 0.9), (2, 0.6), (2, 0.9)):
        out.append(_rung(f"seasonal_growth_{years}y_d{damp}",
                         f"last year repeated, grown by {damp} x the mean yearly growth of the last {years} years",
                         functools.partial(_grown, damp=damp, years=years)))
    for alpha in (0.25, 0.35):
        out.append(_rung(f"holt_winters_a{alpha}_b0.1_phi0.98_g0.2",
                         f"Holt-Winters, multiplicative season, alpha {alpha}, beta 0.1, damping 0.98, "
                         "season smoothing 0.2",
                         functools.partial(_holt_winters, alpha=alpha, beta=0.1, gamma=0.2, phi=0.98)))
    for cutoffs in (1, 2, 3, 5, 6, 8, 10, 12):
        for seed, iterations in ((2, 100), (3, 300), (4, 200)):
            if (cutoffs in (1, 5, 10, 12)) == (seed != 4):
                continue  # the grid's corners: 100 and 300 rounds on 2-8 cutoffs, 200 rounds on 1-12
            out.append(_rung(f"direct_booster_{cutoffs}cutoffs_{iterations}rounds_seed{seed}",
                             f"direct booster on scaled lags, {cutoffs} past cutoffs, {iterations} rounds, seed {seed}",
                             functools.partial(_direct_booster, cutoffs=cutoffs, seed=seed, iterations=iterations),
                             fraction=cutoffs / 12, seed=seed))
    out += [
        Rung("ensemble_boosters", "mean of two direct boosters",
             blend=("direct_booster_12cutoffs", "direct_booster_12cutoffs_seed1")),
        Rung("ensemble_booster_growth", "mean of the booster and the damped seasonal growth",
             blend=("direct_booster_12cutoffs", "seasonal_growth_1y_d0.5")),
        Rung("ensemble_classic", "mean of damped seasonal growth and Holt-Winters",
             blend=("seasonal_growth_2y_d0.5", "holt_winters_a0.5_b0.05_phi0.9")),
        Rung("ensemble_small_boosters", "mean of four direct boosters on 2 to 8 cutoffs",
             blend=tuple(f"direct_booster_{c}cutoffs_300rounds_seed3" for c in (2, 3, 6, 8))),
        Rung("ensemble_holt_winters", "mean of three Holt-Winters settings",
             blend=("holt_winters_a0.3_b0.05_phi0.9_g0.05", "holt_winters_a0.5_b0.05_phi0.9",
                    "holt_winters_a0.65_b0.02_phi0.8_g0.2")),
        Rung("ensemble_level_season", "mean of level x season forecasts (1, 3, 12 months; 3 years)",
             blend=("level1m_season3y", "level3m_season3y", "level12m_season3y")),
        Rung("ensemble_booster_classic", "mean of the booster, Holt-Winters and seasonal growth",
             blend=("direct_booster_12cutoffs", "holt_winters_a0.5_b0.05_phi0.9", "seasonal_growth_1y_d0.5")),
    ]
    return out
