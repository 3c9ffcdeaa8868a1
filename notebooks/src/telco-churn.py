# %% [markdown]
# # Telecom Customer Churn (real customers): a reference solution
#
# **Task.** The probability that each of 180,000 telecom customers left (each redrawn from one of 3,000 real
# held-out customers and a similar one). **Metric:** ROC-AUC,
# so the order of the predictions is what counts.
#
# **What is known about this data.** This is IBM's well-studied Telco sample: churn is driven by the
# contract (month-to-month customers leave, two-year ones rarely), tenure (new customers leave),
# fibre internet (expensive, churn-prone), electronic-check payment, and the absence of
# support add-ons. The relationships are mostly smooth and additive, so a **regularised logistic
# regression on well-chosen features is as strong as boosting here**, and with 4,000 rows it is
# also the more stable choice. The notebook checks that claim with 5-fold cross-validation and
# blends the two.

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
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import StratifiedKFold
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

train = pd.read_csv(f"{DATA_DIR}/train.csv")
test = pd.read_csv(f"{DATA_DIR}/test.csv")
y = train["churn"].to_numpy()
print(train.shape, test.shape, f"churn rate {y.mean():.3f}")
print(train.groupby("contract")["churn"].mean().round(3).to_dict())

# %% [markdown]
# ## Features
#
# Categories one-hot; tenure also on a log scale and in bands (the first year is when most customers
# leave); the number of add-on services; the average monthly bill over the customer's life against
# the current one (a recent price rise); a missing total for brand-new customers becomes 0.

# %%
CATEGORIES = ["multiple_lines", "internet_service", "online_security", "online_backup", "device_protection",
              "tech_support", "streaming_tv", "streaming_movies", "contract", "payment_method"]
ADDONS = ["online_security", "online_backup", "device_protection", "tech_support", "streaming_tv",
          "streaming_movies"]


def features(df: pd.DataFrame) -> pd.DataFrame:
    out = df.drop(columns=["customer_id", "churn"] + CATEGORIES, errors="ignore").copy()
    out["total_charges"] = df["total_charges"].fillna(0.0)
    out["log_tenure"] = np.log1p(df["tenure"])
    for low, high in ((0, 6), (6, 12), (12, 24), (24, 48)):
        out[f"tenure_{low}_{high}"] = df["tenure"].between(low, high - 1).astype(float)
    out["addons"] = (df[ADDONS] == "Yes").sum(axis=1)
    out["avg_bill"] = out["total_charges"] / df["tenure"].clip(lower=1)
    out["bill_rise"] = df["monthly_charges"] - out["avg_bill"]
    for col in CATEGORIES:
        for level in sorted(train[col].dropna().unique()):
            out[f"{col}={level}"] = (df[col] == level).astype(float)
    return out


X, X_test = features(train), features(test)
print(X.shape)

# %% [markdown]
# ## Logistic regression and boosting, out of fold

# %%
def make_linear():
    return make_pipeline(StandardScaler(), LogisticRegression(C=0.3, max_iter=3000))


def make_hgb(seed: int) -> HistGradientBoostingClassifier:
    return HistGradientBoostingClassifier(learning_rate=0.03, max_iter=300, max_leaf_nodes=8, min_samples_leaf=40,
                                          l2_regularization=2.0, random_state=seed)


oof = {"linear": np.zeros(len(X)), "hgb": np.zeros(len(X))}
for fit_idx, val_idx in StratifiedKFold(5, shuffle=True, random_state=SEED).split(X, y):
    oof["linear"][val_idx] = make_linear().fit(X.iloc[fit_idx], y[fit_idx]).predict_proba(X.iloc[val_idx])[:, 1]
    oof["hgb"][val_idx] = make_hgb(SEED).fit(X.iloc[fit_idx], y[fit_idx]).predict_proba(X.iloc[val_idx])[:, 1]
rank = {k: pd.Series(v).rank(pct=True).to_numpy() for k, v in oof.items()}
for name, p in oof.items():
    print(f"{name:7s} CV AUC {roc_auc_score(y, p):.4f}")
print(f"rank blend 0.6/0.4 CV AUC {roc_auc_score(y, 0.6 * rank['linear'] + 0.4 * rank['hgb']):.4f}")

# %% [markdown]
# ## Fit on all customers and write the submission
#
# The blend averages *ranks* (AUC only sees order, and the two models' probabilities are on
# different scales); ranks are divided by their count so the file holds numbers in [0, 1].

# %%
linear = make_linear().fit(X, y).predict_proba(X_test)[:, 1]
hgb = make_hgb(SEED).fit(X, y).predict_proba(X_test)[:, 1]
score = 0.6 * pd.Series(linear).rank(pct=True) + 0.4 * pd.Series(hgb).rank(pct=True)
submission = pd.DataFrame({"customer_id": test["customer_id"], "churn": score.round(6).to_numpy()})
submission.to_csv(SUBMISSION_PATH, index=False)
submission.describe()
