"""Reference ladder for ticket-routing: priors, keyword rules, metadata, bag-of-words and tf-idf models, ensembles."""

from __future__ import annotations

import numpy as np
import pandas as pd

from nbdojo.competitions import CompetitionData
from nbdojo.competitions.ladder import Rung
from nbdojo.competitions.reference import Ladder, TextFeatures, fraction_rows

TEAMS = ["billing", "account", "technical", "shipping", "security", "cancellation"]
# What a first-day support lead would search for.
KEYWORDS = {
    "billing": ["charge", "invoice", "refund", "bill", "payment", "fee", "card"],
    "account": ["login", "log in", "password", "account", "username", "email"],
    "technical": ["crash", "update", "wifi", "bluetooth", "screen", "charging", "work"],
    "shipping": ["package", "parcel", "delivery", "tracking", "courier", "arrived"],
    "security": ["hack", "phishing", "suspicious", "unknown", "two-factor", "alert"],
    "cancellation": ["cancel", "close my account", "stop", "renewal", "return"],
}


def _text(frame: pd.DataFrame) -> list[str]:
    return (frame["subject"].fillna("") + " | " + frame["body"].fillna("")).tolist()


def rungs(data: CompetitionData) -> list[Rung]:
    from sklearn.ensemble import HistGradientBoostingClassifier
    from sklearn.linear_model import LogisticRegression
    from sklearn.naive_bayes import MultinomialNB
    from sklearn.svm import LinearSVC

    train = pd.read_csv(data.train_path, dtype={"id": str})
    test = pd.read_csv(data.test_path, dtype={"id": str})
    Y = train[TEAMS].to_numpy()
    text = TextFeatures(_text(train), _text(test))
    ladder = Ladder(data, test["id"].tolist(), TEAMS, kind="columns")

    def per_team(make_model, kind: str, fraction: float = 1.0, seed: int = 0):
        def predict() -> np.ndarray:
            X, Xt = text(kind) if isinstance(kind, str) else kind()
            rows = fraction_rows(len(Y), fraction, seed)
            out = np.zeros((Xt.shape[0], len(TEAMS)))
            for j in range(len(TEAMS)):
                model = make_model().fit(X[rows], Y[rows, j])
                out[:, j] = (model.predict_proba(Xt)[:, 1] if hasattr(model, "predict_proba")
                             else 1 / (1 + np.exp(-model.decision_function(Xt))))
            return out
        return predict

    def keywords() -> np.ndarray:
        lower = pd.Series(_text(test)).str.lower()
        return np.column_stack([sum(lower.str.contains(w, regex=False).astype(float) for w in KEYWORDS[t]) / 3
                                for t in TEAMS]).clip(0, 1)

    def metadata() -> tuple[np.ndarray, np.ndarray]:
        both = pd.get_dummies(pd.concat([train, test])[["channel", "customer_tier"]], dtype=float).to_numpy()
        return both[: len(train)], both[len(train):]

    logistic = lambda c=4.0: LogisticRegression(C=c, max_iter=500)  # noqa: E731
    ladder.add("sample_submission", "the sample file: each team's training share for every ticket",
               lambda: pd.read_csv(data.sample_submission_path)[TEAMS].to_numpy())
    ladder.add("random_scores", "uniformly random scores", lambda: np.random.default_rng(0).random((len(test), 6)))
    ladder.add("metadata_logistic", "logistic regression on channel and customer tier only",
               per_team(logistic, metadata))
    ladder.add("keyword_rules", "counts of hand-picked keywords per team", keywords)
    ladder.add("naive_bayes_1pct", "naive Bayes on word counts, 1% of train", per_team(MultinomialNB, "counts", 0.01),
               fraction=0.01)
    ladder.add("naive_bayes", "naive Bayes on word counts, one model per team", per_team(MultinomialNB, "counts"))
    for fraction in (0.01, 0.03, 0.1, 0.3):
        ladder.add(f"tfidf_logistic_{round(fraction * 100)}pct", f"logistic regression on tf-idf words, "
                   f"{fraction:.0%} of train", per_team(logistic, "words", fraction), fraction=fraction)
    ladder.add("tfidf_logistic", "logistic regression on tf-idf words, one model per team",
               per_team(logistic, "words"))
    ladder.add("bigram_logistic", "logistic regression on tf-idf 1-2 grams", per_team(logistic, "bigrams"))
    ladder.add("bigram_logistic_weak", "logistic regression on tf-idf 1-2 grams, strong regularisation (C=0.05)",
               per_team(lambda: LogisticRegression(C=0.05, max_iter=500), "bigrams"))
    ladder.add("char_ngram_svm", "linear SVM on character 2-5 grams, scores through a sigmoid",
               per_team(lambda: LinearSVC(C=0.2), "chars"))
    ladder.add("char_ngram_logistic", "logistic regression on character 2-5 grams", per_team(logistic, "chars"))
    ladder.add("lsa_boosting", "gradient boosting on 100 LSA components of 1-2 grams",
               per_team(lambda: HistGradientBoostingClassifier(max_iter=150, learning_rate=0.1, random_state=0),
                        "svd"))
    _searched_rungs(ladder, per_team, keywords)
    ladder.blend("ensemble_bigram_char", ["bigram_logistic", "char_ngram_logistic"])
    ladder.blend("ensemble_all_linear", ["bigram_logistic", "char_ngram_logistic", "tfidf_logistic",
                                         "char_ngram_svm"])
    ladder.blend("ensemble_linear_boosting", ["bigram_logistic", "char_ngram_logistic", "lsa_boosting"],
                 weights=[1.0, 1.0, 0.5])
    return ladder.rungs


def _searched_rungs(ladder: Ladder, per_team, keywords) -> None:
    """The wider search: settings and shares of train for the cheap per-team text models."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.naive_bayes import MultinomialNB
    from sklearn.svm import LinearSVC

    def logistic(c: float, balanced: bool = False):
        return lambda: LogisticRegression(C=c, max_iter=300, class_weight="balanced" if balanced else None)

    for c in (0.1, 0.5, 2.0, 8.0):
        for fraction in (0.01, 0.02, 0.03, 0.05, 0.1, 0.2, 0.3, 0.5, 1.0):
            ladder.add(f"tfidf_logistic_c{c:g}_{fraction * 100:g}pct", f"logistic regression (C {c:g}) on tf-idf "
                       f"words, {fraction:.0%} of train", per_team(logistic(c), "words", fraction, seed=1),
                       fraction=fraction, seed=1)
    for c in (0.5, 4.0):
        for fraction in (0.1, 1.0):
            ladder.add(f"tfidf_logistic_balanced_c{c:g}_{fraction * 100:g}pct", f"class-balanced logistic regression "
                       f"(C {c:g}) on tf-idf words, {fraction:.0%} of train",
                       per_team(logistic(c, True), "words", fraction, seed=2), fraction=fraction, seed=2)
    for alpha in (0.1, 1.0, 3.0):
        for fraction in (0.005, 0.02, 0.1, 0.3):
            ladder.add(f"naive_bayes_a{alpha:g}_{fraction * 100:g}pct", f"naive Bayes (alpha {alpha:g}) on word "
                       f"counts, {fraction:.1%} of train", per_team(lambda a=alpha: MultinomialNB(alpha=a), "counts",
                                                                    fraction, seed=3), fraction=fraction, seed=3)
    for alpha in (0.01, 0.1):
        for fraction in (0.1, 1.0):
            ladder.add(f"tfidf_naive_bayes_a{alpha:g}_{fraction * 100:g}pct", f"naive Bayes (alpha {alpha:g}) on "
                       f"tf-idf words, {fraction:.0%} of train",
                       per_team(lambda a=alpha: MultinomialNB(alpha=a), "words", fraction, seed=4),
                       fraction=fraction, seed=4)
    for c in (0.05, 0.5, 4.0):
        for fraction in (0.03, 0.1, 0.3):
            ladder.add(f"bigram_logistic_c{c:g}_{fraction * 100:g}pct", f"logistic regression (C {c:g}) on tf-idf 1-2 "
                       f"grams, {fraction:.0%} of train", per_team(logistic(c), "bigrams", fraction, seed=5),
                       fraction=fraction, seed=5)
    for c in (0.05, 0.2, 1.0):
        for fraction in (0.1, 1.0):
            ladder.add(f"word_svm_c{c:g}_{fraction * 100:g}pct", f"linear SVM (C {c:g}) on tf-idf words, scores "
                       f"through a sigmoid, {fraction:.0%} of train",
                       per_team(lambda c=c: LinearSVC(C=c), "words", fraction, seed=6), fraction=fraction, seed=6)
    for c in (0.1, 0.5):
        for fraction in (0.3, 1.0):
            ladder.add(f"bigram_svm_c{c:g}_{fraction * 100:g}pct", f"linear SVM (C {c:g}) on tf-idf 1-2 grams, "
                       f"{fraction:.0%} of train", per_team(lambda c=c: LinearSVC(C=c), "bigrams", fraction, seed=7),
                       fraction=fraction, seed=7)
    for c in (0.1, 1.0):
        for fraction in (0.05, 0.3):
            ladder.add(f"count_logistic_c{c:g}_{fraction * 100:g}pct", f"logistic regression (C {c:g}) on raw word "
                       f"counts, {fraction:.0%} of train", per_team(logistic(c), "counts", fraction, seed=8),
                       fraction=fraction, seed=8)
    for fraction in (0.1, 0.3):
        ladder.add(f"char_ngram_logistic_{fraction * 100:g}pct", f"logistic regression on character 2-5 grams, "
                   f"{fraction:.0%} of train", per_team(logistic(4.0), "chars", fraction, seed=9), fraction=fraction,
                   seed=9)
    for scale in (1.0, 2.0, 5.0):
        ladder.add(f"keyword_rules_scaled{scale:g}", f"hand-picked keyword counts per team, divided by {scale:g}",
                   lambda scale=scale: (keywords() * 3 / scale).clip(0, 1))
