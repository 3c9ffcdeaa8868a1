"""Build the loan-default competition: a seeded synthetic credit book.

Every row is drawn from a fixed generative story so the data is rebuilt offline,
byte for byte, from the seed alone. The default probability depends on the observed
columns through nonlinear terms and interactions, on the application date (a mild
drift), and on a hidden "distress" factor that is only seen through which fields are
missing; the hidden part keeps the best achievable ROC-AUC below about 0.9.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from nbdojo.competitions.prepare_kit import test_mask, write_csv, write_oracle

N_TRAIN = 40_000
N_TEST = 30_000
#: More test applications from the same book, drawn on a stream of their own (train and the first
#: 30,000 test rows stay byte-identical): 75,000 test rows keep the private score's bootstrap error
#: well below half the gap between the ladder's medal lines.
N_MORE_TEST = 45_000
MORE_STREAM = 1_000_003
TARGET = "default"
ID = "id"

START = np.datetime64("2018-01-01")
END = np.datetime64("2023-12-31")

GRADES = np.array(list("ABCDEFG"))
PURPOSES = {  # name: (share, effect on the default logit)
    "debt_consolidation": (0.38, 0.10),
    "credit_card": (0.20, -0.05),
    "home_improvement": (0.10, -0.25),
    "car": (0.08, -0.30),
    "small_business": (0.05, 0.45),
    "medical": (0.05, 0.30),
    "education": (0.04, 0.15),
    "moving": (0.03, 0.20),
    "wedding": (0.02, -0.10),
    "other": (0.05, 0.20),
}
HOMES = {"RENT": (0.40, 0.15), "MORTGAGE": (0.42, -0.15), "OWN": (0.15, 0.0), "OTHER": (0.03, 0.35)}
EMPLOYMENT = {  # name: (share, effect, mean log-income shift)
    "salaried": (0.60, -0.10, 0.05),
    "self_employed": (0.13, 0.15, 0.10),
    "contract": (0.12, 0.20, -0.05),
    "part_time": (0.08, 0.35, -0.55),
    "retired": (0.07, -0.05, -0.30),
}
STATES = (
    "CA", "TX", "FL", "NY", "IL", "PA", "OH", "GA", "NC", "MI", "NJ", "VA", "WA",
    "AZ", "MA", "TN", "IN", "MO", "MD", "WI", "CO", "MN", "SC", "AL", "LA",
)
CHANNELS = ("web", "branch", "partner", "phone")


def _pick(rng: np.random.Generator, table: dict, n: int) -> np.ndarray:
    names = np.array(list(table))
    shares = np.array([v[0] for v in table.values()], dtype=float)
    return names[rng.choice(len(names), size=n, p=shares / shares.sum())]


def _effect(values: np.ndarray, table: dict, slot: int = 1) -> np.ndarray:
    return pd.Series(values).map({k: v[slot] for k, v in table.items()}).to_numpy(float)


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))


def _world(seed: int, n: int = N_TRAIN + N_TEST) -> tuple[np.ndarray, np.ndarray]:
    """The book's states (their shares and raw effects) as `simulate(seed, n)` draws them."""
    rng = np.random.default_rng(seed)
    rng.beta(1.4, 1.0, n)
    shares = rng.dirichlet(np.full(len(STATES), 3.0))
    rng.choice(len(STATES), size=n, p=shares)
    return shares, rng.normal(0.0, 0.45, len(STATES))


def simulate(seed: int, n: int = N_TRAIN + N_TEST, *, world: tuple[np.ndarray, np.ndarray] | None = None,
             first_id: int = 1) -> pd.DataFrame:
    """All rows with the target and the true default probability (`_p`, not published).

    `world` (from `_world`) draws the rows of another book's states, so that more rows of the same book
    come from a new seed; the rows are numbered from `first_id`."""
    rng = np.random.default_rng(seed)
    days = int((END - START).astype(int))
    t = rng.beta(1.4, 1.0, n)  # the book grows: more recent applications
    date = START + np.floor(t * days).astype("timedelta64[D]")
    month = (date.astype("datetime64[M]").astype(int) % 12) + 1

    shares = rng.dirichlet(np.full(len(STATES), 3.0))
    state = np.array(STATES)[rng.choice(len(STATES), size=n, p=shares if world is None else world[0])]
    state_draw = rng.normal(0.0, 0.45, len(STATES)) if world is None else world[1]
    state_effect = dict(zip(STATES, state_draw - state_draw.mean(), strict=True))
    purpose = _pick(rng, PURPOSES, n)
    home = _pick(rng, HOMES, n)
    employment = _pick(rng, EMPLOYMENT, n)
    channel = np.array(CHANNELS)[rng.choice(len(CHANNELS), size=n, p=[0.55, 0.2, 0.15, 0.1])]

    age = np.clip(rng.normal(41, 12, n), 19, 85)
    age = np.where(employment == "retired", np.clip(age + 22, 55, 90), age).round()
    emp_years = np.clip(rng.gamma(1.6, 4.0, n), 0, age - 18)
    emp_years = np.where(employment == "retired", 0.0, emp_years).round(1)
    history = np.clip((age - 18) * rng.beta(2.5, 1.8, n), 0.2, None).round(1)

    quality = rng.normal(0.0, 1.0, n)  # latent creditworthiness, seen through grade and the bureau fields
    distress = rng.normal(0.0, 1.0, n)  # hidden; only visible through missingness

    log_income = (
        np.log(56_000) + _effect(employment, EMPLOYMENT, 2) + 0.18 * quality
        + 0.012 * (age - 40) - 0.0004 * (age - 45) ** 2 + rng.normal(0.0, 0.5, n)
    )
    income = np.exp(log_income)
    grade_score = quality + rng.normal(0.0, 0.6, n)
    grade_idx = np.digitize(-grade_score, [-1.35, -0.55, 0.1, 0.7, 1.3, 1.9])
    grade = GRADES[grade_idx]
    term = np.where(rng.random(n) < 0.28 + 0.05 * grade_idx, 60, 36)
    rate = (6.0 + 3.1 * grade_idx + 0.0 * (term == 60) + 1.2 * (term == 60)
            + 0.9 * (t - 0.5) + rng.normal(0.0, 2.4, n))
    rate = np.clip(rate, 5.0, 31.0).round(2)
    purpose_size = np.where(purpose == "small_business", 1.5, np.where(purpose == "wedding", 0.7, 1.0))
    loan = np.exp(np.log(0.2 * income * purpose_size) + rng.normal(0.0, 0.55, n))
    loan = (np.clip(loan, 1_000, 40_000) / 25).round() * 25
    dti = np.clip(rng.gamma(4.0, 4.6, n) - 2.5 * quality, 0, 60).round(2)
    open_acc = rng.poisson(np.exp(2.1 + 0.12 * quality + 0.006 * (age - 40)))
    delinq = rng.poisson(np.exp(-1.7 - 0.65 * quality))
    months_since_delinq = np.where(delinq > 0, rng.integers(1, 120, n), -1)
    inquiries = rng.poisson(np.exp(-0.2 - 0.35 * quality + 0.3 * (distress > 1)))
    util = np.clip(rng.beta(2.0, 2.6, n) - 0.12 * quality + 0.05 * distress, 0.0, 1.25).round(3)

    # Monthly payment against monthly income: the real burden, nonlinear in four columns.
    r = rate / 1200.0
    payment = loan * r / (1.0 - (1.0 + r) ** -term)
    pti = payment / (income / 12.0)

    logit = (
        -2.9
        + 0.02 * grade_idx + 0.04 * grade_idx**2
        + 2.0 * np.clip(pti - 0.08, 0, None) + 25.0 * np.clip(pti - 0.16, 0, None)
        + 0.002 * dti + 0.003 * np.clip(dti - 28, 0, None) ** 2
        + 5.0 * (util - 0.45) ** 2 + 1.5 * np.clip(util - 0.9, 0, None)
        - 0.38 * np.log1p(history)
        + 0.28 * np.minimum(delinq, 3) - 0.35 * (months_since_delinq > 48)
        + 0.10 * np.minimum(inquiries, 5)
        + 0.30 * (emp_years < 1) * (employment != "retired")
        + 0.025 * np.abs(age - 45)
        + 2.5 * (_effect(purpose, PURPOSES) + _effect(home, HOMES) + _effect(employment, EMPLOYMENT))
        + 0.90 * ((purpose == "small_business") & (employment == "self_employed"))
        + 0.80 * ((home == "RENT") & (dti > 35))
        + 0.80 * ((term == 60) & (grade_idx >= 4))
        + pd.Series(state).map(state_effect).to_numpy(float)
        + 0.60 * (t - 0.5)  # drift: the book gets riskier
        + 0.40 * ((date >= np.datetime64("2020-03-15")) & (date < np.datetime64("2020-10-01")))
        + 0.06 * np.cos(2 * np.pi * (month - 1) / 12)
        + 0.40 * distress
    )
    p = _sigmoid(logit)
    y = (rng.random(n) < p).astype(int)

    # Missing values: a few MCAR, and some driven by the hidden distress (informative).
    inc_missing = rng.random(n) < _sigmoid(-3.6 + 1.1 * distress + 0.9 * (employment == "self_employed"))
    emp_missing = rng.random(n) < 0.05
    dti_missing = rng.random(n) < 0.02
    util_missing = rng.random(n) < _sigmoid(-3.9 + 0.8 * distress)
    age_missing = rng.random(n) < 0.03

    frame = pd.DataFrame({
        "application_date": pd.to_datetime(date).strftime("%Y-%m-%d"),
        "loan_amount": loan.astype(int),
        "term_months": term,
        "interest_rate": rate,
        "grade": grade,
        "purpose": purpose,
        "annual_income": pd.array(np.where(inc_missing, np.nan, (income / 100).round() * 100), dtype="Int64"),
        "employment_type": employment,
        "employment_years": np.where(emp_missing, np.nan, emp_years),
        "home_ownership": home,
        "state": state,
        "age": pd.array(np.where(age_missing, np.nan, age), dtype="Int64"),
        "debt_to_income": np.where(dti_missing, np.nan, dti),
        "credit_history_years": history,
        "open_accounts": open_acc,
        "delinquencies_2y": delinq,
        "months_since_last_delinquency": pd.array(np.where(delinq > 0, months_since_delinq, np.nan), dtype="Int64"),
        "inquiries_6m": inquiries,
        "revolving_utilization": np.where(util_missing, np.nan, util),
        "application_channel": channel,
        "noise_score": rng.normal(650.0, 40.0, n).round(1),
        "noise_ratio": rng.random(n).round(4),
        TARGET: y,
        "_p": p,
    })
    frame.insert(0, ID, [f"L{i + first_id:06d}" for i in range(n)])
    return frame


def prepare(public_dir: Path, private_dir: Path, seed: int) -> None:
    """Write train/test/sample_submission (public), and answers and the oracle (private) for `seed`."""
    frame = simulate(seed)
    is_test = test_mask(len(frame), N_TEST, seed)
    more = simulate(seed + MORE_STREAM, N_MORE_TEST, world=_world(seed), first_id=len(frame) + 1)
    train = frame.loc[~is_test].drop(columns="_p")
    tested = pd.concat([frame.loc[is_test], more], ignore_index=True)
    test = tested.drop(columns="_p")

    write_csv(train, public_dir / "train.csv")
    write_csv(test.drop(columns=TARGET), public_dir / "test.csv")
    prior = round(float(train[TARGET].mean()), 2)
    write_csv(pd.DataFrame({ID: test[ID], TARGET: prior}), public_dir / "sample_submission.csv")
    write_csv(test[[ID, TARGET]], private_dir / "answers.csv")
    write_oracle(tested[[ID, "_p"]].rename(columns={"_p": TARGET}), private_dir)  # true probabilities
