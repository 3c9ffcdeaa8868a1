# %% [markdown]
# # Product Search Re-Ranking: a reference solution
#
# **Task.** Re-order the 20 products shown in each search session so that what the shopper bought
# comes first. **Metric:** MAP@5; a purchase ranked first counts 1, second 1/2, and so on.
#
# **Plan.** Learning to rank in its simplest strong form, *pointwise*:
# 1. one row per (session, shown product) with a 0/1 label "bought";
# 2. features of the product (price against its category, rating, reviews, age), of the match (is it
#    in the category searched for), of the shopper (segment, device) so the model can learn that a
#    budget shopper and a premium shopper want different prices, and the position it was shown at;
# 3. how often each product and brand was bought when shown, computed **out of fold** so a row never
#    sees its own label;
# 4. a gradient boosting classifier; sort each session by its probability. Validation splits by
#    session, and the metric is MAP@5 itself.

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
from sklearn.model_selection import KFold

products = pd.read_csv(f"{DATA_DIR}/products.csv", parse_dates=["launch_date"])
train = pd.read_csv(f"{DATA_DIR}/train.csv", parse_dates=["date"])
test = pd.read_csv(f"{DATA_DIR}/test.csv", parse_dates=["date"])
print(products.shape, train.shape, test.shape)


def explode(sessions: pd.DataFrame) -> pd.DataFrame:
    """One row per shown product, with its position (0 = top of the page) and, in train, the label."""
    rows = sessions.assign(product_id=sessions["shown"].str.split(" ")).explode("product_id")
    rows["position"] = rows.groupby("session_id").cumcount()
    if "purchased" in sessions:
        bought = sessions.set_index("session_id")["purchased"].str.split(" ")
        rows["bought"] = [p in bought[s] for s, p in zip(rows["session_id"], rows["product_id"])]
        rows["bought"] = rows["bought"].astype(int)
    return rows.drop(columns=["shown", "purchased"], errors="ignore").reset_index(drop=True)


train_rows, test_rows = explode(train), explode(test)
print(train_rows.shape, test_rows.shape)
print("bought share by position:", train_rows.groupby("position")["bought"].mean().round(3).head(8).to_dict())

# %% [markdown]
# ## Features
#
# Price is compared with the median price of the product's category, and the shopper's segment is
# kept beside it so the trees can split on "budget shopper x expensive for its category". Ratings
# without reviews are missing, not zero.

# %%
cat_price = products.groupby("category")["price"].transform("median")
catalogue = products.assign(
    rel_price=products["price"] / cat_price,
    log_price=np.log(products["price"]),
    log_reviews=np.log1p(products["n_reviews"]),
    brand_code=products["brand"].str[6:].astype(int),
    category_code=products["category"].str[4:].astype(int),
)
SEGMENTS = ["budget", "mainstream", "family", "premium"]
DEVICES = ["mobile", "desktop", "tablet", "app"]


def features(rows: pd.DataFrame) -> pd.DataFrame:
    df = rows.merge(catalogue, on="product_id", how="left")
    df["in_query_category"] = (df["category"] == df["query_category"]).astype(float)
    df["age_days"] = (df["date"] - df["launch_date"]).dt.days
    df["segment"] = pd.Categorical(df["user_segment"], categories=SEGMENTS)
    df["device_c"] = pd.Categorical(df["device"], categories=DEVICES)
    # within the session: how this product compares with the other 19 shown
    g = df.groupby("session_id")
    df["price_rank"] = g["price"].rank(pct=True)
    df["rating_rank"] = g["rating"].rank(pct=True)
    df["reviews_rank"] = g["n_reviews"].rank(pct=True)
    df["n_in_category"] = g["in_query_category"].transform("sum")
    return df


train_df, test_df = features(train_rows), features(test_rows)

# %% [markdown]
# ## Out-of-fold purchase rates
#
# A product's (and a brand's) share of "bought when shown", smoothed towards the global rate with 20
# pseudo-views. For training rows it is computed from the other folds' sessions only; test rows use
# all of train.

# %%
PRIOR = 20.0


def rate(source: pd.DataFrame, key: str, target: pd.DataFrame) -> np.ndarray:
    base = source["bought"].mean()
    stats = source.groupby(key)["bought"].agg(["sum", "count"])
    smoothed = (stats["sum"] + PRIOR * base) / (stats["count"] + PRIOR)
    return target[key].map(smoothed).fillna(base).to_numpy()


sessions = train["session_id"].to_numpy()
folds = list(KFold(5, shuffle=True, random_state=SEED).split(sessions))
for key in ("product_id", "brand"):
    train_df[f"{key}_rate"] = 0.0
    for fit_idx, val_idx in folds:
        fit_rows = train_df["session_id"].isin(sessions[fit_idx])
        train_df.loc[~fit_rows, f"{key}_rate"] = rate(train_df[fit_rows], key, train_df[~fit_rows])
    test_df[f"{key}_rate"] = rate(train_df, key, test_df)

FEATURES = ["position", "price", "log_price", "rel_price", "rating", "log_reviews", "age_days", "in_query_category",
            "segment", "device_c", "brand_code", "category_code", "price_rank", "rating_rank", "reviews_rank",
            "n_in_category", "product_id_rate", "brand_rate"]

# %% [markdown]
# ## Validation by session, scored with MAP@5

# %%
def map_at_5(df: pd.DataFrame, score: np.ndarray) -> float:
    ranked = df.assign(score=score).sort_values(["session_id", "score"], ascending=[True, False])
    top = ranked.groupby("session_id").head(5).copy()
    top["rank"] = top.groupby("session_id").cumcount() + 1
    top["hits"] = top.groupby("session_id")["bought"].cumsum()
    top["precision"] = top["hits"] / top["rank"] * top["bought"]
    n_bought = df.groupby("session_id")["bought"].sum().clip(upper=5)
    return float((top.groupby("session_id")["precision"].sum() / n_bought).mean())


def make_model(seed: int) -> HistGradientBoostingClassifier:
    return HistGradientBoostingClassifier(learning_rate=0.1, max_iter=150, max_leaf_nodes=31, min_samples_leaf=100,
                                          l2_regularization=1.0, categorical_features="from_dtype",
                                          random_state=seed)


fit_idx, val_idx = folds[0]
fit_rows = train_df["session_id"].isin(sessions[fit_idx])
model = make_model(SEED).fit(train_df.loc[fit_rows, FEATURES], train_df.loc[fit_rows, "bought"])
val = train_df[~fit_rows]
print(f"MAP@5 on held-out sessions: shown order {map_at_5(val, -val['position'].to_numpy()):.4f}, "
      f"model {map_at_5(val, model.predict_proba(val[FEATURES])[:, 1]):.4f}")

# %% [markdown]
# ## Fit on all sessions and write the submission

# %%
model = make_model(SEED).fit(train_df[FEATURES], train_df["bought"])
test_df["score"] = model.predict_proba(test_df[FEATURES])[:, 1]
top5 = test_df.sort_values(["session_id", "score"], ascending=[True, False]).groupby("session_id").head(5)
lists = top5.groupby("session_id")["product_id"].agg(" ".join)
submission = pd.DataFrame({"session_id": test["session_id"], "purchased": test["session_id"].map(lists)})
submission.to_csv(SUBMISSION_PATH, index=False)
submission.head()
