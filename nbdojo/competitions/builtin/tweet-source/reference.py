"""Reference ladder for tweet-source: constants, single clues (hour, links, length, likes), tf-idf linear models
on words and characters with growing shares of the tweets, the text with the time and response, and blends."""

from __future__ import annotations

import numpy as np
import pandas as pd

from nbdojo.competitions import CompetitionData
from nbdojo.competitions.ladder import Rung
from nbdojo.competitions.reference import Ladder, TextFeatures, fraction_rows

ID, TARGET = "tweet_id", "android"
KINDS = {"counts": "word counts", "words": "tf-idf words", "bigrams": "tf-idf 1-2 grams", "chars": "tf-idf character grams"}


def _side(frame: pd.DataFrame) -> pd.DataFrame:
    """What a tweet shows besides its words: hour, weekday, links, quotes, replies, length, response."""
    when = pd.to_datetime(frame["created_at"])
    text = frame["text"].fillna("")
    return pd.DataFrame({
        "hour": when.dt.hour, "weekday": when.dt.day_of_week,
        "link": text.str.contains("https?://", regex=True).astype(float),
        "quote": text.str.startswith('"').astype(float), "reply": frame["is_reply"].astype(float),
        "length": text.str.len().astype(float), "exclaim": text.str.count("!").astype(float),
        "likes": np.log1p(frame["favorite_count"].astype(float)),
        "retweets": np.log1p(frame["retweet_count"].astype(float)),
    })


def rungs(data: CompetitionData) -> list[Rung]:
    from scipy.sparse import csr_matrix, hstack
    from sklearn.ensemble import HistGradientBoostingClassifier
    from sklearn.linear_model import LogisticRegression
    from sklearn.naive_bayes import MultinomialNB
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    train = pd.read_csv(data.train_path, dtype={ID: str})
    test = pd.read_csv(data.test_path, dtype={ID: str})
    y = train[TARGET].to_numpy()
    text = TextFeatures(train["text"].fillna("").tolist(), test["text"].fillna("").tolist())
    side, side_test = _side(train), _side(test)
    ladder = Ladder(data, test[ID].tolist(), kind="value")

    def side_sparse() -> tuple[csr_matrix, csr_matrix]:
        onehot = OneHotEncoder(handle_unknown="ignore").fit(side[["hour", "weekday"]])
        numeric = ["link", "quote", "reply", "length", "exclaim", "likes", "retweets"]
        scale = StandardScaler().fit(side[numeric])
        return tuple(hstack([onehot.transform(f[["hour", "weekday"]]), csr_matrix(scale.transform(f[numeric]))]).tocsr()
                     for f in (side, side_test))

    def logistic(kind: str, C: float = 4.0, fraction: float = 1.0, seed: int = 0, with_side: bool = False):
        def predict() -> np.ndarray:
            X, Xt = text(kind)
            if with_side:
                S, St = side_sparse()
                X, Xt = hstack([X, S]).tocsr(), hstack([Xt, St]).tocsr()
            rows = fraction_rows(len(y), fraction, seed)
            return LogisticRegression(C=C, max_iter=3000).fit(X[rows], y[rows]).predict_proba(Xt)[:, 1]
        return predict

    def column_rate(values: pd.Series, values_test: pd.Series, prior: float = 20.0):
        def predict() -> np.ndarray:
            stats = pd.Series(y).groupby(values.to_numpy()).agg(["sum", "count"])
            rate = (stats["sum"] + prior * y.mean()) / (stats["count"] + prior)
            return values_test.map(rate).fillna(y.mean()).to_numpy(float)
        return predict

    def naive_bayes(alpha: float, fraction: float = 1.0, seed: int = 0):
        def predict() -> np.ndarray:
            X, Xt = text("counts")
            rows = fraction_rows(len(y), fraction, seed)
            return MultinomialNB(alpha=alpha).fit(X[rows], y[rows]).predict_proba(Xt)[:, 1]
        return predict

    def boosted_side(fraction: float = 1.0, seed: int = 0):
        def predict() -> np.ndarray:
            rows = fraction_rows(len(y), fraction, seed)
            model = HistGradientBoostingClassifier(max_iter=200, learning_rate=0.05, random_state=seed)
            return model.fit(side.iloc[rows], y[rows]).predict_proba(side_test)[:, 1]
        return predict

    ladder.add("constant", "training share of Android tweets", lambda: np.full(len(test), y.mean()))
    for seed in range(3):
        ladder.add(f"random_seed{seed}", "uniform random guesses",
                   lambda s=seed: np.random.default_rng(s).random(len(test)), seed=seed)
    ladder.add("hour_rate", "Android share by hour of the day", column_rate(side["hour"], side_test["hour"]))
    ladder.add("link_rate", "Android share with and without a link", column_rate(side["link"], side_test["link"]))
    ladder.add("shorter_first", "shorter tweets more likely Android",
               lambda: 1.0 / (1.0 + side_test["length"].to_numpy()))
    ladder.add("side_boosted", "gradient boosting on hour, weekday, links, quotes, length and response",
               boosted_side())
    for alpha in (0.3, 1.0, 3.0):
        ladder.add(f"naive_bayes_alpha{alpha:g}", f"multinomial naive Bayes on word counts (alpha {alpha:g})",
                   naive_bayes(alpha))
    for fraction in (0.05, 0.1, 0.25, 0.5, 1.0):
        ladder.add(f"words_{round(fraction * 100)}pct", "tf-idf words, logistic regression, a share of the tweets",
                   logistic("words", fraction=fraction), fraction=fraction)
    for C in (0.3, 1.0, 4.0, 16.0):
        ladder.add(f"bigrams_C{C:g}", f"tf-idf 1-2 grams, logistic regression (C {C:g})", logistic("bigrams", C=C))
    ladder.add("chars", "tf-idf character 2-5 grams, logistic regression", logistic("chars"))
    ladder.add("bigrams_side", "tf-idf 1-2 grams with hour, weekday, links, length and response",
               logistic("bigrams", with_side=True))
    ladder.add("chars_side", "tf-idf character grams with hour, weekday, links, length and response",
               logistic("chars", with_side=True))
    # the wider search a leaderboard holds: each text representation x regularisation x share of the tweets
    for kind in ("counts", "words", "bigrams", "chars"):
        for C in (0.1, 0.5, 2.0, 8.0):
            for fraction, seed in ((0.1, 1), (0.3, 2), (0.6, 3), (1.0, 0)):
                share = f"{round(fraction * 100)}pct"
                ladder.add(f"{kind}_C{C:g}_{share}", f"{KINDS[kind]}, logistic regression (C {C:g}), {share[:-3]}% of "
                           "the tweets", logistic(kind, C=C, fraction=fraction, seed=seed), fraction=fraction, seed=seed)
        for C in (0.5, 2.0):
            ladder.add(f"{kind}_side_C{C:g}", f"{KINDS[kind]} with hour, weekday, links, length and response (C {C:g})",
                       logistic(kind, C=C, with_side=True))
    for C in (0.1, 1.0, 10.0):
        ladder.add(f"svd_C{C:g}", f"logistic regression (C {C:g}) on 100 LSA components of the 1-2 grams",
                   logistic("svd", C=C))
    for fraction, seed in ((0.1, 1), (0.3, 2), (0.6, 3)):
        for alpha in (0.3, 1.0):
            ladder.add(f"naive_bayes_alpha{alpha:g}_{round(fraction * 100)}pct", f"multinomial naive Bayes on word "
                       f"counts (alpha {alpha:g}), {round(fraction * 100)}% of the tweets",
                       naive_bayes(alpha, fraction, seed), fraction=fraction, seed=seed)
    for fraction, seed in ((0.2, 1), (0.5, 2), (1.0, 3)):
        ladder.add(f"side_boosted_{round(fraction * 100)}pct_seed{seed}", "gradient boosting on the side clues, "
                   f"{round(fraction * 100)}% of the tweets", boosted_side(fraction, seed), fraction=fraction, seed=seed)
    ladder.blend("blend_text_side", ["bigrams_side", "chars_side", "side_boosted"])
    ladder.blend("blend_words_chars_side", ["words_side_C2", "chars_side_C2", "side_boosted"])
    ladder.blend("blend_small_shares", ["words_C2_30pct", "chars_C2_30pct", "bigrams_C2_30pct"])
    ladder.blend("blend_text", ["bigrams_C4", "chars"])
    return ladder.rungs
