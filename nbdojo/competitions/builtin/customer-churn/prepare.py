"""Build the customer-churn competition: a seeded telecom subscriber base and who left.

About 7% of subscribers leave in the quarter after their snapshot. Churn depends on the
contract (month-to-month subscribers leave far more), tenure, price increases, network
problems (dropped calls, support calls), falling usage and the payment method, through
nonlinear terms and interactions.

The trap: `retention_offer` is a field from the CRM that looks like an ordinary feature. In
the training snapshot (last year's, with outcomes) it was filled in *after* the quarter, so it
is mostly set for subscribers who called to cancel and were offered a discount: it nearly
reveals the answer. In the test snapshot (this quarter) nobody has called yet, and the field
only marks the few proactive offers of the marketing team, unrelated to churn. A model that
leans on it looks excellent in cross-validation and is badly miscalibrated on the test set.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from nbdojo.competitions.prepare_kit import write_oracle

N_TRAIN = 20_000
N_TEST = 80_000
ID = "customer_id"
TARGET = "churned"

CONTRACTS = {"month-to-month": (0.52, 1.1), "one-year": (0.27, -0.4), "two-year": (0.21, -1.3)}
PAYMENTS = {"credit_card": (0.3, -0.15), "bank_transfer": (0.3, -0.2), "electronic_check": (0.28, 0.4),
            "mailed_check": (0.12, 0.05)}
INTERNET = {"fiber": (0.45, 0.3), "dsl": (0.35, -0.1), "none": (0.2, -0.5)}
REGIONS = ("north", "south", "east", "west", "central")


def _pick(rng: np.random.Generator, table: dict, n: int) -> tuple[np.ndarray, np.ndarray]:
    names = np.array(list(table))
    shares = np.array([v[0] for v in table.values()])
    picked = names[rng.choice(len(names), size=n, p=shares / shares.sum())]
    return picked, pd.Series(picked).map({k: v[1] for k, v in table.items()}).to_numpy(float)


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))


def simulate(seed: int, n: int, snapshot: str) -> pd.DataFrame:
    """Subscribers of one snapshot ('past' has outcomes filled after the fact, 'current' does not)."""
    rng = np.random.default_rng(seed)
    contract, contract_eff = _pick(rng, CONTRACTS, n)
    payment, payment_eff = _pick(rng, PAYMENTS, n)
    internet, internet_eff = _pick(rng, INTERNET, n)
    region = np.array(REGIONS)[rng.choice(len(REGIONS), n, p=[0.2, 0.25, 0.2, 0.2, 0.15])]
    region_eff = pd.Series(region).map(dict(zip(REGIONS, (0.0, 0.15, -0.1, 0.05, 0.25), strict=True))).to_numpy()
    tenure = np.where(contract == "month-to-month", rng.gamma(1.2, 14, n), rng.gamma(2.5, 16, n)).astype(int) + 1
    tenure = np.minimum(tenure, 96)
    lines = 1 + rng.poisson(0.5, n)
    streaming = (rng.random(n) < np.where(internet == "none", 0.0, 0.45)).astype(int)
    monthly = (18 + 22 * (internet == "dsl") + 45 * (internet == "fiber") + 9 * (lines - 1) + 11 * streaming
               + rng.normal(0, 6, n)).clip(15).round(2)
    increase = np.where(rng.random(n) < 0.18, rng.uniform(5, 25, n), 0.0).round(1)  # price rise in %, last 6 months
    total = (monthly * tenure * rng.uniform(0.92, 1.02, n)).round(2)
    age = np.clip(rng.normal(44, 15, n), 18, 90).round()
    dropped = rng.poisson(np.where(internet == "fiber", 1.0, 2.2) * np.exp(0.4 * (region == "central")))
    support = rng.poisson(0.5 + 0.25 * dropped)
    usage = np.round(rng.gamma(2.0, 8.0 + 10 * (internet == "fiber"), n) * (internet != "none"), 1)
    trend = np.round(np.exp(rng.normal(0.0, 0.25, n)), 2)  # usage last month over the 6-month average
    paperless = (rng.random(n) < 0.6).astype(int)
    senior = (age >= 65).astype(int)

    logit = (
        -3.25 + contract_eff + payment_eff + internet_eff + region_eff
        - 0.55 * np.log1p(tenure) + 1.2 * (tenure <= 3)
        + 0.035 * increase + 0.6 * (increase > 15) * (contract == "month-to-month")
        + 0.18 * np.minimum(dropped, 6) + 0.35 * np.minimum(support, 4) + 0.5 * (support >= 3) * (internet == "fiber")
        - 1.6 * np.log(trend) + 0.01 * (monthly - 60) - 0.25 * (lines - 1) + 0.2 * paperless
        + 0.25 * senior * (payment == "electronic_check") + rng.normal(0, 0.45, n)
    )
    churned = (rng.random(n) < _sigmoid(logit)).astype(int)
    proactive = rng.random(n) < 0.03
    if snapshot == "past":  # filled in after the quarter: cancellation calls got an offer
        offer = proactive | ((churned == 1) & (rng.random(n) < 0.62))
    else:
        offer = proactive
    signup = pd.Timestamp("2024-03-31" if snapshot == "past" else "2025-03-31") - pd.to_timedelta(
        tenure * 30.4 + rng.integers(0, 30, n), unit="D")

    frame = pd.DataFrame({
        "signup_date": signup.strftime("%Y-%m-%d"),
        "region": region,
        "age": age.astype(int),
        "contract": contract,
        "payment_method": payment,
        "paperless_billing": paperless,
        "internet_service": internet,
        "streaming": streaming,
        "phone_lines": lines,
        "tenure_months": tenure,
        "monthly_charges": monthly,
        "total_charges": total,
        "price_increase_pct": increase,
        "dropped_calls_90d": dropped,
        "support_calls_90d": support,
        "data_usage_gb": usage,
        "usage_trend": trend,
        "retention_offer": offer.astype(int),
        TARGET: churned,
        "_p": _sigmoid(logit),  # the true churn probability: the oracle's prediction, never published
    })
    frame.loc[frame["tenure_months"] <= 1, "total_charges"] = np.nan  # not billed yet
    frame.loc[rng.random(n) < 0.04, "age"] = np.nan
    frame.loc[rng.random(n) < 0.05, "data_usage_gb"] = np.nan
    frame["age"] = frame["age"].astype("Int64")
    return frame


def _write(frame: pd.DataFrame, path: Path) -> None:
    frame.to_csv(path, index=False, lineterminator="\n", float_format="%.6g")


def prepare(public_dir: Path, private_dir: Path, seed: int) -> None:
    train = simulate(seed, N_TRAIN, "past")
    test = simulate(seed + 1, N_TEST, "current")
    train.pop("_p")
    oracle = test.pop("_p")
    ids = np.random.default_rng(seed + 2).permutation(N_TRAIN + N_TEST)
    train.insert(0, ID, [f"C{i + 100000}" for i in ids[:N_TRAIN]])
    test.insert(0, ID, [f"C{i + 100000}" for i in ids[N_TRAIN:]])
    _write(train, public_dir / "train.csv")
    _write(test.drop(columns=TARGET), public_dir / "test.csv")
    prior = round(float(train[TARGET].mean()), 3)
    _write(pd.DataFrame({ID: test[ID], TARGET: prior}), public_dir / "sample_submission.csv")
    _write(test[[ID, TARGET]], private_dir / "answers.csv")
    write_oracle(pd.DataFrame({ID: test[ID], TARGET: oracle}), private_dir)
