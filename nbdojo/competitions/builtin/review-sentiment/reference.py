"""Reference ladder for review-sentiment: dummy, lexicon, bag-of-words and tf-idf linear models, ensembles."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd

from nbdojo.competitions import CompetitionData
from nbdojo.competitions.ladder import Rung
from nbdojo.competitions.reference import Ladder, TextFeatures, fraction_rows

STARS = [1, 2, 3, 4, 5]
# A generic sentiment lexicon (not the generator's vocabulary).
POSITIVE = {"good", "great", "excellent", "amazing", "love", "perfect", "nice", "best", "recommend", "happy",
            "fantastic", "awesome", "wonderful", "solid"}
NEGATIVE = {"bad", "terrible", "awful", "poor", "worst", "broke", "return", "returning", "disappointed",
            "disappointing", "waste", "avoid", "cheap", "useless", "never"}


def _text(frame: pd.DataFrame) -> list[str]:
    return (frame["title"].fillna("") + " . " + frame["text"].fillna("")).tolist()


def _expected_to_stars(value: np.ndarray, cuts: np.ndarray | None = None) -> np.ndarray:
    cuts = np.array([1.5, 2.5, 3.5, 4.5]) if cuts is None else cuts
    return np.digitize(value, cuts) + 1


def _fit_cuts(value: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Thresholds on a continuous score that maximise QWK on the given (out-of-fold) rows, by coordinate search."""
    from sklearn.metrics import cohen_kappa_score

    cuts = np.array([1.5, 2.5, 3.5, 4.5])
    for _ in range(2):
        for j in range(4):
            best, best_kappa = cuts[j], -1.0
            for candidate in np.linspace(cuts[j] - 0.6, cuts[j] + 0.6, 25):
                trial = cuts.copy()
                trial[j] = candidate
                if np.all(np.diff(trial) > 0):
                    kappa = cohen_kappa_score(y, _expected_to_stars(value, trial), weights="quadratic")
                    if kappa > best_kappa:
                        best, best_kappa = candidate, kappa
            cuts[j] = best
    return cuts


def rungs(data: CompetitionData) -> list[Rung]:
    from sklearn.ensemble import HistGradientBoostingClassifier
    from sklearn.linear_model import LogisticRegression, Ridge
    from sklearn.model_selection import cross_val_predict
    from sklearn.naive_bayes import MultinomialNB
    from sklearn.svm import LinearSVC

    train = pd.read_csv(data.train_path, dtype={"id": str})
    test = pd.read_csv(data.test_path, dtype={"id": str})
    y = train["rating"].to_numpy()
    text = TextFeatures(_text(train), _text(test))
    ladder = Ladder(data, test["id"].tolist(), STARS)
    one_hot = ladder.one_hot

    def fitted(make_model, kind: str, fraction: float = 1.0, seed: int = 0):
        def predict() -> np.ndarray:
            X, Xt = text(kind)
            rows = fraction_rows(len(y), fraction, seed)
            model = make_model().fit(X[rows], y[rows])
            if hasattr(model, "predict_proba"):
                proba = np.zeros((Xt.shape[0], 5))
                proba[:, np.searchsorted(STARS, model.classes_)] = model.predict_proba(Xt)
                return proba
            return one_hot(model.predict(Xt).tolist())
        return predict

    def regression(kind: str, tuned: bool, alpha: float = 1.5, fraction: float = 1.0, seed: int = 0):
        def predict() -> np.ndarray:
            X, Xt = text(kind)
            rows = fraction_rows(len(y), fraction, seed)
            model = Ridge(alpha=alpha)
            cuts = _fit_cuts(cross_val_predict(model, X[rows], y[rows], cv=3), y[rows]) if tuned else None
            return one_hot(_expected_to_stars(model.fit(X[rows], y[rows]).predict(Xt), cuts).tolist())
        return predict

    def lexicon() -> np.ndarray:
        def score(frame: pd.DataFrame) -> np.ndarray:
            words = [re.findall(r"[a-z']+", t.lower()) for t in _text(frame)]
            return np.array([sum(w in POSITIVE for w in ws) - sum(w in NEGATIVE for w in ws) for ws in words], float)
        cuts = _fit_cuts(score(train) / 2 + 3, y)
        return one_hot(_expected_to_stars(score(test) / 2 + 3, cuts).tolist())

    def from_expected(name: str, make_model=None, kinds: tuple[str, ...] = ()):
        """Expected stars of a probabilistic rung, rounded; thresholds tuned on out-of-fold train predictions."""
        def predict() -> np.ndarray:
            value = ladder.prediction(name) @ np.array(STARS, float)
            cuts = None
            if make_model is not None:
                folds = [cross_val_predict(make_model(), text(kind)[0], y, cv=3, method="predict_proba")
                         for kind in kinds]
                cuts = _fit_cuts(np.mean(folds, axis=0) @ np.array(STARS, float), y)
            return one_hot(_expected_to_stars(value, cuts).tolist())
        return predict

    logistic = lambda c=2.0: LogisticRegression(C=c, max_iter=300)  # noqa: E731
    prior = np.bincount(y, minlength=6)[1:] / len(y)
    ladder.add("sample_submission", "the sample file: five stars for every review",
               lambda: one_hot(pd.read_csv(data.sample_submission_path)["rating"].tolist()))
    ladder.add("random_stars", "stars drawn at random with the training shares",
               lambda: one_hot(np.random.default_rng(0).choice(STARS, size=len(test), p=prior).tolist()))
    ladder.add("title_length_only", "logistic regression on text length and punctuation counts", lambda: (
        lambda f, ft: LogisticRegression(max_iter=500).fit(f, y).predict_proba(ft))(
            *(np.c_[np.log1p(d["text"].str.len()), d["text"].str.count("!"), d["helpful_votes"]]
              for d in (train, test))))
    ladder.add("lexicon_count", "count of generic positive minus negative words, thresholds fitted", lexicon)
    ladder.add("naive_bayes_2pct", "multinomial naive Bayes on word counts, 2% of train",
               fitted(MultinomialNB, "counts", 0.02), fraction=0.02)
    ladder.add("naive_bayes", "multinomial naive Bayes on word counts", fitted(MultinomialNB, "counts"))
    for fraction in (0.01, 0.05, 0.25):
        ladder.add(f"tfidf_logistic_{round(fraction * 100)}pct", f"logistic regression on tf-idf words, "
                   f"{fraction:.0%} of train", fitted(logistic, "words", fraction), fraction=fraction)
    ladder.add("tfidf_logistic", "logistic regression on tf-idf words", fitted(logistic, "words"))
    ladder.add("tfidf_logistic_expected", "tf-idf logistic, expected stars rounded", from_expected("tfidf_logistic"))
    ladder.add("bigram_logistic", "logistic regression on tf-idf 1-2 grams (sees negations)",
               fitted(logistic, "bigrams"))
    ladder.add("bigram_logistic_expected_tuned", "bigram logistic, expected stars, QWK-tuned thresholds",
               from_expected("bigram_logistic", logistic, ("bigrams",)))
    ladder.add("char_ngram_svm", "linear SVM on character 2-5 grams (robust to typos)",
               fitted(lambda: LinearSVC(C=0.3), "chars"))
    ladder.add("char_ngram_logistic", "logistic regression on character 2-5 grams", fitted(logistic, "chars"))
    ladder.add("bigram_ridge_rounded", "ridge regression on tf-idf 1-2 grams, rounded", regression("bigrams", False))
    ladder.add("bigram_ridge_tuned", "ridge regression on 1-2 grams, QWK-tuned thresholds (out of fold)",
               regression("bigrams", True))
    ladder.add("lsa_boosting", "gradient boosting on 100 LSA components of 1-2 grams",
               fitted(lambda: HistGradientBoostingClassifier(max_iter=200, learning_rate=0.1, random_state=0), "svd"))
    _searched_rungs(ladder, fitted, regression, from_expected)
    ladder.blend("ensemble_logistic", ["bigram_logistic", "char_ngram_logistic"])
    ladder.add("ensemble_logistic_expected_tuned", "mean of bigram and char logistic, expected stars, tuned thresholds",
               from_expected("ensemble_logistic", logistic, ("bigrams", "chars")))
    return ladder.rungs


def _searched_rungs(ladder: Ladder, fitted, regression, from_expected) -> None:
    """The wider search: settings and shares of train for the cheap text models (a leaderboard's middle)."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.naive_bayes import ComplementNB, MultinomialNB
    from sklearn.svm import LinearSVC

    for alpha in (0.1, 1.0, 3.0):
        for fraction in (0.005, 0.01, 0.05, 0.1, 0.3):
            ladder.add(f"naive_bayes_a{alpha:g}_{fraction * 100:g}pct", f"multinomial naive Bayes (alpha {alpha:g}) on "
                       f"word counts, {fraction:.1%} of train", fitted(lambda a=alpha: MultinomialNB(alpha=a), "counts",
                                                                       fraction, seed=1), fraction=fraction, seed=1)
    for alpha in (0.3, 1.0):
        for kind in ("counts", "words"):
            ladder.add(f"complement_nb_a{alpha:g}_{kind}", f"complement naive Bayes (alpha {alpha:g}) on {kind}",
                       fitted(lambda a=alpha: ComplementNB(alpha=a), kind))
    for c in (0.03, 0.1, 0.5, 2.0, 8.0):
        for fraction in (0.01, 0.03, 0.1, 0.3, 1.0):
            ladder.add(f"tfidf_logistic_c{c:g}_{fraction * 100:g}pct", f"logistic regression (C {c:g}) on tf-idf words, "
                       f"{fraction:.0%} of train", fitted(lambda c=c: LogisticRegression(C=c, max_iter=300), "words",
                                                          fraction, seed=2), fraction=fraction, seed=2)
    for c in (0.5, 8.0):
        for fraction in (0.01, 0.05, 0.2, 1.0):
            ladder.add(f"bigram_logistic_c{c:g}_{fraction * 100:g}pct", f"logistic regression (C {c:g}) on tf-idf 1-2 "
                       f"grams, {fraction:.0%} of train", fitted(lambda c=c: LogisticRegression(C=c, max_iter=300),
                                                                 "bigrams", fraction, seed=3), fraction=fraction, seed=3)
    for c in (0.1, 1.0):
        for fraction in (0.05, 0.3, 1.0):
            ladder.add(f"count_logistic_c{c:g}_{fraction * 100:g}pct", f"logistic regression (C {c:g}) on raw word "
                       f"counts, {fraction:.0%} of train", fitted(lambda c=c: LogisticRegression(C=c, max_iter=200),
                                                                  "counts", fraction, seed=4), fraction=fraction, seed=4)
    for c in (0.05, 0.3, 1.0):
        for fraction in (0.1, 1.0):
            ladder.add(f"word_svm_c{c:g}_{fraction * 100:g}pct", f"linear SVM (C {c:g}) on tf-idf words, "
                       f"{fraction:.0%} of train", fitted(lambda c=c: LinearSVC(C=c), "words", fraction, seed=5),
                       fraction=fraction, seed=5)
    for c in (0.1, 0.5):
        for fraction in (0.3, 1.0):
            ladder.add(f"bigram_svm_c{c:g}_{fraction * 100:g}pct", f"linear SVM (C {c:g}) on tf-idf 1-2 grams, "
                       f"{fraction:.0%} of train", fitted(lambda c=c: LinearSVC(C=c), "bigrams", fraction, seed=7),
                       fraction=fraction, seed=7)
    for fraction in (0.05, 0.1, 0.3):
        ladder.add(f"char_ngram_logistic_{fraction * 100:g}pct", f"logistic regression on character 2-5 grams, "
                   f"{fraction:.0%} of train", fitted(lambda: LogisticRegression(C=2.0, max_iter=300), "chars",
                                                      fraction, seed=8), fraction=fraction, seed=8)
    for alpha in (0.5, 5.0, 20.0):
        for kind in ("words", "bigrams"):
            ladder.add(f"ridge_{kind}_a{alpha:g}_rounded", f"ridge regression (alpha {alpha:g}) on tf-idf {kind}, "
                       "rounded", regression(kind, False, alpha))
    for fraction in (0.05, 0.2):
        ladder.add(f"ridge_bigrams_tuned_{fraction * 100:g}pct", f"ridge on 1-2 grams, QWK-tuned thresholds, "
                   f"{fraction:.0%} of train", regression("bigrams", True, 1.5, fraction, seed=6), fraction=fraction,
                   seed=6)
    for c in (0.03, 0.1, 0.5, 8.0):
        ladder.add(f"tfidf_logistic_c{c:g}_expected", f"tf-idf logistic (C {c:g}), expected stars rounded",
                   from_expected(f"tfidf_logistic_c{c:g}_100pct"))
