"""Reference rungs for product-search: orderings of the shown products, from random to learned.

Simple orders (random, the engine's, popularity, purchase rates, one product feature) and
pointwise models: every (session, shown product) pair becomes a row labelled 1 if the product
was bought, with its position, price against the category, rating, reviews, age, category match
and the shopper's segment and device; a model's probability re-ranks each session's products.
"""

from __future__ import annotations

import functools

import numpy as np
import pandas as pd
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from nbdojo.competitions import CompetitionData, ladder

ID, TARGET, K = "session_id", "purchased", 5
CATEGORICAL = ["user_segment", "device", "brand", "category"]


@functools.lru_cache(maxsize=2)
def _frames(folder: str) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    read = functools.partial(pd.read_csv, dtype={ID: str})
    return read(f"{folder}/train.csv"), read(f"{folder}/test.csv"), pd.read_csv(f"{folder}/products.csv")


def _load(data: CompetitionData) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    return _frames(str(data.public_dir))


def _ranked(data: CompetitionData, score_lists: list[np.ndarray]) -> pd.DataFrame:
    """Each test session's shown products sorted by score, best first (ties keep the shown order)."""
    _, test, _ = _load(data)
    shown = test["shown"].str.split()
    top = [" ".join(np.asarray(items)[np.argsort(-np.asarray(scores), kind="stable")][:K])
           for items, scores in zip(shown, score_lists, strict=True)]
    return pd.DataFrame({ID: test[ID], TARGET: top})


def _by_item_score(data: CompetitionData, score: pd.Series) -> pd.DataFrame:
    _, test, _ = _load(data)
    return _ranked(data, [score.reindex(items).fillna(score.min() if len(score) else 0).to_numpy()
                          for items in test["shown"].str.split()])


def _random(data: CompetitionData, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    _, test, _ = _load(data)
    return _ranked(data, [rng.random(len(items)) for items in test["shown"].str.split()])


def _shown_order(data: CompetitionData, reverse: bool = False) -> pd.DataFrame:
    _, test, _ = _load(data)
    sign = 1.0 if reverse else -1.0
    return _ranked(data, [sign * np.arange(len(items)) for items in test["shown"].str.split()])


def _popular_anywhere(data: CompetitionData) -> pd.DataFrame:
    train, test, _ = _load(data)
    top = " ".join(train[TARGET].str.split().explode().value_counts().index[:K])
    return pd.DataFrame({ID: test[ID], TARGET: top})


def _counts(data: CompetitionData) -> tuple[pd.Series, pd.Series]:
    train, _, _ = _load(data)
    bought = train[TARGET].str.split().explode().value_counts()
    shown = train["shown"].str.split().explode().value_counts()
    return bought.reindex(shown.index, fill_value=0), shown


def _purchase_count(data: CompetitionData) -> pd.DataFrame:
    bought, _ = _counts(data)
    return _by_item_score(data, bought.astype(float))


def _purchase_rate(data: CompetitionData, prior: float) -> pd.DataFrame:
    bought, shown = _counts(data)
    base = bought.sum() / shown.sum()
    return _by_item_score(data, (bought + prior * base) / (shown + prior))


def _rate_and_position(data: CompetitionData, prior: float, weight: float) -> pd.DataFrame:
    """A hand-tuned mix: `weight` x the purchase rate's rank + (1 - `weight`) x the engine's order."""
    bought, shown = _counts(data)
    _, test, _ = _load(data)
    rate = (bought + prior * bought.sum() / shown.sum()) / (shown + prior)
    scores = []
    for items in test["shown"].str.split():
        item_rank = pd.Series(rate.reindex(items).fillna(rate.min()).to_numpy()).rank(pct=True).to_numpy()
        engine = 1.0 - np.arange(len(items)) / len(items)
        scores.append(weight * item_rank + (1 - weight) * engine)
    return _ranked(data, scores)


def _product_column(data: CompetitionData, column: str, ascending: bool) -> pd.DataFrame:
    _, _, products = _load(data)
    values = products.set_index("product_id")[column].astype(float)
    return _by_item_score(data, -values if ascending else values.fillna(values.median()))


# --------------------------------------------------------------------------- pointwise models


def _pairs(sessions: pd.DataFrame, products: pd.DataFrame, rates: pd.Series | None) -> pd.DataFrame:
    shown = sessions["shown"].str.split()
    pairs = pd.DataFrame({
        "row": np.repeat(np.arange(len(sessions)), shown.str.len()),
        "product_id": np.concatenate(shown.to_numpy()),
        "position": np.concatenate([np.arange(len(items)) for items in shown]),
    })
    pairs = pairs.join(sessions[["date", "user_segment", "device", "query_category"]].reset_index(drop=True),
                       on="row")
    pairs = pairs.merge(products, on="product_id", how="left")
    pairs["match"] = (pairs["category"] == pairs["query_category"]).astype(int)
    pairs["log_price"] = np.log(pairs["price"])
    pairs["price_vs_category"] = pairs["log_price"] - pairs.groupby("category")["log_price"].transform("mean")
    pairs["age_days"] = (pd.to_datetime(pairs["date"]) - pd.to_datetime(pairs["launch_date"])).dt.days
    pairs["log_reviews"] = np.log1p(pairs["n_reviews"])
    if rates is not None:
        pairs["item_rate"] = pairs["product_id"].map(rates).astype(float)
    for column in CATEGORICAL:
        pairs[column] = pairs[column].astype("category")
    return pairs.drop(columns=["date", "launch_date", "query_category", "price", "n_reviews"])


@functools.lru_cache(maxsize=2)
def _pair_frames(folder: str) -> tuple[pd.DataFrame, np.ndarray, pd.DataFrame]:
    train, test, products = _frames(folder)
    bought_sets = train[TARGET].str.split().map(set)
    bought = train[TARGET].str.split().explode().value_counts()
    shown = train["shown"].str.split().explode().value_counts()
    rates = (bought.reindex(shown.index, fill_value=0) + 1.0) / (shown + 20.0)
    X = _pairs(train, products, rates)
    y = np.array([pid in bought_sets.iat[row] for row, pid in zip(X["row"], X["product_id"], strict=True)], dtype=int)
    # out-of-fold purchase rates on train (sessions in 5 folds), so a row never sees its own label
    fold = X["row"].to_numpy() % 5
    rate = np.empty(len(X))
    for k in range(5):
        inside = fold == k
        shown_k = X.loc[~inside, "product_id"].value_counts()
        bought_k = X.loc[~inside & (y == 1), "product_id"].value_counts()
        fold_rates = (bought_k.reindex(shown_k.index, fill_value=0) + 1.0) / (shown_k + 20.0)
        rate[inside] = X.loc[inside, "product_id"].map(fold_rates).fillna(1.0 / 20.0).to_numpy()
    X["item_rate"] = rate
    X_test = _pairs(test, products, rates)
    for column in CATEGORICAL:
        categories = X[column].cat.categories.union(X_test[column].cat.categories)
        X[column] = X[column].cat.set_categories(categories)
        X_test[column] = X_test[column].cat.set_categories(categories)
    return X, y, X_test


@functools.lru_cache(maxsize=256)
def _scores(folder: str, model: str, fraction: float = 1.0, seed: int = 0, drop: tuple[str, ...] = ()) -> np.ndarray:
    """Test-pair scores of a pointwise model fitted on a share of the training sessions."""
    X, y, X_test = _pair_frames(folder)
    sessions = X["row"].unique()
    keep = np.random.default_rng(seed).permutation(sessions)[: max(50, int(fraction * len(sessions)))]
    rows = X["row"].isin(keep).to_numpy()
    columns = [c for c in X.columns if c not in ("row", "product_id", *drop)]
    if model == "linear":
        numeric = [c for c in columns if c not in CATEGORICAL]
        fit_X, fit_test = X.loc[rows, numeric].fillna(X[numeric].median()), X_test[numeric].fillna(X[numeric].median())
        estimator = make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000))
    else:
        fit_X, fit_test = X.loc[rows, columns], X_test[columns]
        tuned = model == "hgb_tuned"
        leaves, rounds = {"hgb_small": (7, 50), "hgb_deep": (63, 300)}.get(model, (31, 400 if tuned else 150))
        estimator = HistGradientBoostingClassifier(
            categorical_features="from_dtype", learning_rate=0.05 if tuned else 0.1, max_iter=rounds,
            max_leaf_nodes=leaves, l2_regularization=1.0 if tuned else 0.0, random_state=seed)
    estimator.fit(fit_X, y[rows])
    return estimator.predict_proba(fit_test)[:, 1]


def _as_lists(data: CompetitionData, scores: np.ndarray) -> pd.DataFrame:
    _, test, _ = _load(data)
    lengths = test["shown"].str.split().str.len().to_numpy()
    return _ranked(data, np.split(scores, np.cumsum(lengths)[:-1]))


def _model(data: CompetitionData, model: str, fraction: float = 1.0, seed: int = 0,
           drop: tuple[str, ...] = ()) -> pd.DataFrame:
    return _as_lists(data, _scores(str(data.public_dir), model, fraction, seed, drop))


def _ensemble(data: CompetitionData, members: tuple[tuple[str, int], ...]) -> pd.DataFrame:
    folder = str(data.public_dir)
    ranks = [pd.Series(_scores(folder, m, 1.0, s, ())).rank(pct=True).to_numpy() for m, s in members]
    return _as_lists(data, np.mean(ranks, axis=0))


def rungs(data: CompetitionData) -> list[ladder.Rung]:
    p = functools.partial
    Rung = ladder.Rung
    out = [Rung("shown_order", "the engine's order (the sample submission)", submit=_shown_order)]
    out += [Rung(f"random_seed{s}", "shown products in random order", submit=p(_random, seed=s), seed=s)
            for s in range(3)]
    out += [
        Rung("popular_anywhere", "the 5 most bought products, whatever was shown", submit=_popular_anywhere),
        Rung("shown_reversed", "the engine's order, reversed", submit=p(_shown_order, reverse=True)),
        Rung("purchase_count", "shown products by times bought in train", submit=_purchase_count),
        Rung("cheapest_first", "shown products by price, cheapest first",
             submit=p(_product_column, column="price", ascending=True)),
        Rung("best_rated_first", "shown products by rating",
             submit=p(_product_column, column="rating", ascending=False)),
        Rung("most_reviewed_first", "shown products by number of reviews",
             submit=p(_product_column, column="n_reviews", ascending=False)),
    ]
    for prior in (1, 5, 20, 50, 200, 1000):
        out.append(Rung(f"purchase_rate_prior{prior}", f"shown products by purchase rate when shown (prior {prior})",
                        submit=p(_purchase_rate, prior=float(prior))))
    for weight in (0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9):
        for prior in (1, 5, 50, 200):
            out.append(Rung(f"rate_and_position_w{weight:g}_prior{prior}",
                            f"hand-tuned mix: {weight:g} x purchase-rate rank + {1 - weight:g} x the engine's order "
                            f"(prior {prior})", submit=p(_rate_and_position, prior=float(prior), weight=weight)))
    for fraction in (0.01, 0.05, 0.2):
        for seed in (1, 2):
            out.append(Rung(f"linear_{round(fraction * 100)}pct_seed{seed}", "pointwise logistic regression, a share "
                            "of the sessions", submit=p(_model, model="linear", fraction=fraction, seed=seed),
                            fraction=fraction, seed=seed))
    for column in ("position", "item_rate", "match", "price_vs_category", "log_reviews", "age_days", "log_price",
                   "rating"):
        out.append(Rung(f"linear_no_{column}", f"pointwise logistic regression without {column}",
                        submit=p(_model, model="linear", drop=(column,))))
    for fraction in (0.01, 0.02, 0.03, 0.05, 0.1, 0.2, 0.3):
        for seed in (1, 2, 6):
            out.append(Rung(f"hgb_{fraction * 100:g}pct_seed{seed}", "pointwise gradient boosting, a share of the "
                            "sessions", submit=p(_model, model="hgb", fraction=fraction, seed=seed),
                            fraction=fraction, seed=seed))
        out.append(Rung(f"hgb_small_{fraction * 100:g}pct", "pointwise gradient boosting, 7 leaves, 50 trees",
                        submit=p(_model, model="hgb_small", fraction=fraction, seed=3), fraction=fraction, seed=3))
    for column in ("position", "item_rate", "match", "price_vs_category", "log_reviews", "age_days", "log_price",
                   "user_segment", "device", "category"):
        out.append(Rung(f"hgb_no_{column}_10pct", f"pointwise gradient boosting without {column}, 10% of sessions",
                        submit=p(_model, model="hgb", fraction=0.1, seed=4, drop=(column,)), fraction=0.1, seed=4))
    for fraction in (0.05, 0.2):
        out.append(Rung(f"hgb_deep_{round(fraction * 100)}pct", "pointwise gradient boosting, 63 leaves, 300 trees",
                        submit=p(_model, model="hgb_deep", fraction=fraction, seed=5), fraction=fraction, seed=5))
        out.append(Rung(f"hgb_tuned_{round(fraction * 100)}pct", "tuned pointwise gradient boosting",
                        submit=p(_model, model="hgb_tuned", fraction=fraction, seed=5), fraction=fraction, seed=5))
    out += [
        Rung("linear_pointwise", "pointwise logistic regression on numeric pair features",
             submit=p(_model, model="linear")),
        Rung("hgb_no_position", "pointwise gradient boosting without the position",
             submit=p(_model, model="hgb", drop=("position",))),
        Rung("hgb_no_shopper", "pointwise gradient boosting without segment and device",
             submit=p(_model, model="hgb", drop=("user_segment", "device"))),
    ]
    for fraction in (0.01, 0.05, 0.2, 0.5, 1.0):
        out.append(Rung(f"hgb_{round(fraction * 100)}pct", "pointwise gradient boosting on a share of the sessions",
                        submit=p(_model, model="hgb", fraction=fraction), fraction=fraction))
    out += [
        Rung("hgb_tuned", "tuned pointwise gradient boosting (lr 0.05, 400 trees)", submit=p(_model, model="hgb_tuned")),
        Rung("hgb_tuned_seed1", "tuned pointwise gradient boosting, seed 1",
             submit=p(_model, model="hgb_tuned", seed=1), seed=1),
        Rung("ensemble_rank_mean", "mean rank of two tuned boosters and the 100% booster",
             submit=p(_ensemble, members=(("hgb_tuned", 0), ("hgb_tuned", 1), ("hgb", 0)))),
    ]
    return out
