"""Build the diabetes-progression competition: new patients drawn from a model of scikit-learn's diabetes data.

The 442 patients of Efron et al. (2004), as shipped by scikit-learn (`load_diabetes`,
unscaled), are not published here: they only fit a model (once, offline, by
scripts/fit_diabetes_copula.py, into `copula.json`: no row of the data is kept), and every
patient of the competition is drawn from it. Per sex, a Gaussian copula (each column's own distribution,
the correlations of their normal scores) is fitted to the eight independent quantities
(age, BMI, blood pressure, total cholesterol, HDL, log triglycerides, glucose and the
progression score) and new patients are sampled from it; LDL and the TC/HDL ratio are then
computed from them, as the lab computed them (Friedewald's formula). No row is a real
patient and no score a real score, so looking patients up in `load_diabetes` finds
strangers: the lookup is a one-nearest-neighbour model of other patients, far worse than a
ridge regression on train.csv (tests/test_leaks.py checks it). The patients are then assigned (seeded) to four clinics;
one reports glucose in mmol/L instead of mg/dL and another has a slightly miscalibrated
blood-pressure cuff; some lab values are missing; `heart_rate` is noise and `waist_cm` a
noisy echo of the BMI. The ten baseline measurements explain the score only in part
(R² about 0.5 at best), as in the real data.
"""

from __future__ import annotations

from pathlib import Path

import json

import numpy as np
import pandas as pd
from scipy.special import ndtr, ndtri

from nbdojo.competitions.prepare_kit import test_mask, write_csv, write_oracle

N_TRAIN = 310
N_TEST = 12_000
ID = "patient_id"
TARGET = "progression"
#: The independent quantities the copula is fitted to: the rest of the real columns follow from them.
FITTED = {"age": "age", "bmi": "bmi", "bp": "blood_pressure", "s1": "total_cholesterol", "s3": "hdl",
          "s5": "log_triglycerides", "s6": "glucose", "target": TARGET}
DECIMALS = {"age": 0, "bmi": 1, "blood_pressure": 0, "total_cholesterol": 0, "hdl": 0, "log_triglycerides": 4,
            "glucose": 0, TARGET: 0}
COLUMNS = ["age", "sex", "bmi", "blood_pressure", "total_cholesterol", "ldl", "hdl", "tc_hdl_ratio",
           "log_triglycerides", "glucose", TARGET]
CLINICS = {"north": 0.3, "south": 0.25, "east": 0.25, "west": 0.2}


MODEL = Path(__file__).with_name("copula.json")


def load_model() -> dict:
    """The fitted copula: per sex, each column's sorted real values and the normal scores' correlations."""
    return json.loads(MODEL.read_text(encoding="utf-8"))


def normal_scores(values: np.ndarray) -> np.ndarray:
    ranks = pd.Series(values).rank(method="average").to_numpy()
    return ndtri(ranks / (len(values) + 1))


def _quantile(sorted_values: np.ndarray, u: np.ndarray) -> np.ndarray:
    """The column's empirical quantile function, linear between the sorted real values."""
    n = len(sorted_values)
    return np.interp(u * (n + 1) - 1, np.arange(n), sorted_values)


def sample_patients(fitted: dict, n: int, rng: np.random.Generator) -> pd.DataFrame:
    """`n` new patients of one sex from the Gaussian copula fitted to the real patients of that sex."""
    corr = np.asarray(fitted["correlation"])
    latent = rng.multivariate_normal(np.zeros(len(FITTED)), corr, size=n, method="cholesky")
    out = pd.DataFrame({name: _quantile(np.asarray(fitted["marginals"][column]), ndtr(latent[:, k]))
                        for k, (column, name) in enumerate(FITTED.items())})
    out["_oracle"] = expected_score(fitted, latent[:, :-1])
    return out.round(DECIMALS)


def expected_score(fitted: dict, features: np.ndarray) -> np.ndarray:
    """The oracle: E[progression | the patient's true quantities], from the copula (never published).

    The score's normal score given the others is normal (mean `shift`, sd `spread`); its expected
    value through the score's quantile function is taken by Gauss-Hermite quadrature.
    """
    corr = np.asarray(fitted["correlation"])
    beta = np.linalg.solve(corr[:-1, :-1], corr[:-1, -1])
    shift, spread = features @ beta, np.sqrt(max(1.0 - float(corr[-1, :-1] @ beta), 0.0))
    nodes, weights = np.polynomial.hermite_e.hermegauss(60)
    scores = _quantile(np.asarray(fitted["marginals"]["target"]), ndtr(shift[:, None] + spread * nodes[None, :]))
    return scores @ (weights / weights.sum())


def simulate(seed: int, n: int = N_TRAIN + N_TEST) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    model = load_model()
    sex = np.where(rng.random(n) < model["male_share"], "M", "F")
    frame = pd.concat([sample_patients(model["sexes"][s], int((sex == s).sum()), rng) for s in "FM"])
    frame["sex"] = np.repeat(["F", "M"], [(sex == "F").sum(), (sex == "M").sum()])
    frame = frame.iloc[rng.permutation(n)].reset_index(drop=True)  # mix the sexes
    frame["ldl"] = (frame["total_cholesterol"] - frame["hdl"] - np.exp(frame["log_triglycerides"]) / 5).round(1)
    frame["tc_hdl_ratio"] = (frame["total_cholesterol"] / frame["hdl"]).round(2)
    oracle = frame["_oracle"]
    frame = frame[COLUMNS]

    clinic = np.array(list(CLINICS))[rng.choice(len(CLINICS), n, p=list(CLINICS.values()))]
    frame.insert(0, "clinic", clinic)
    frame["glucose"] = np.where(clinic == "east", (frame["glucose"] / 18.016).round(1), frame["glucose"])
    frame["blood_pressure"] = np.where(clinic == "west", frame["blood_pressure"] + 6, frame["blood_pressure"]).round(0)
    frame.insert(1, "visit_date", (pd.Timestamp("2001-01-08") + pd.to_timedelta(rng.integers(0, 730, n), unit="D"))
                 .strftime("%Y-%m-%d"))
    frame.insert(len(frame.columns) - 1, "heart_rate", rng.normal(72, 11, n).round(0).astype(int))
    frame.insert(len(frame.columns) - 1, "waist_cm", (frame["bmi"] * 3.4 + rng.normal(0, 9, n)).round(0))
    for column, share in (("ldl", 0.06), ("hdl", 0.04), ("tc_hdl_ratio", 0.05), ("glucose", 0.05)):
        frame.loc[rng.random(n) < share, column] = np.nan
    frame["age"] = frame["age"].astype(int)
    frame[TARGET] = frame[TARGET].astype(int)
    frame.insert(0, ID, [f"D{i + 1:04d}" for i in rng.permutation(n)])
    frame["_oracle"] = oracle
    return frame


def prepare(public_dir: Path, private_dir: Path, seed: int) -> None:
    frame = simulate(seed)
    oracle = frame.pop("_oracle")
    is_test = test_mask(len(frame), N_TEST, seed)
    train, test = frame.loc[~is_test].sort_values(ID), frame.loc[is_test].sort_values(ID)
    write_csv(train, public_dir / "train.csv")
    write_csv(test.drop(columns=TARGET), public_dir / "test.csv")
    mean = round(float(train[TARGET].mean()), 1)
    write_csv(pd.DataFrame({ID: test[ID], TARGET: mean}), public_dir / "sample_submission.csv")
    write_csv(test[[ID, TARGET]], private_dir / "answers.csv")
    write_oracle(pd.DataFrame({ID: test[ID], TARGET: oracle[test.index]}), private_dir)
