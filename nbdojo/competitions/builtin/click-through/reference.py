"""Reference rungs for click-through: click rates by field, naive Bayes, linear models, tree ensembles.

Everything is vectorised over the million rows: each hashed field is factorised once, then
encoded by its count (train and test together) and by its click rate (smoothed towards the
mean; out-of-fold on train so no row sees its own click), or one-hot (with crosses of fields
for some linear models). Models train on growing samples of the rows, trees on at most a fifth
of them, so the whole ladder runs in minutes on a laptop.
"""

from __future__ import annotations

import functools

import numpy as np
import pandas as pd
from scipy import sparse
from sklearn.calibration import CalibratedClassifierCV
from sklearn.ensemble import ExtraTreesClassifier, HistGradientBoostingClassifier
from sklearn.feature_extraction import FeatureHasher
from sklearn.linear_model import LogisticRegression, SGDClassifier
from sklearn.naive_bayes import BernoulliNB, MultinomialNB

from nbdojo.competitions import CompetitionData, ladder

ID, TARGET = "id", "click"
FIELDS = ["banner_pos", "site_id", "site_category", "app_id", "app_category", "device_model", "device_type",
          "device_conn_type", "user_id", "creative_id", "banner_width", "c18", "c21", "hour_of_day"]
HIGH = ["site_id", "app_id", "device_model", "user_id", "creative_id", "c21"]
FOLDS = 5
#: Crosses of fields for the one-hot linear models: the hour by the kind of site or app, then pairs of placements.
HOUR_CROSSES = (("site_category", "hour_of_day"), ("app_category", "hour_of_day"))
PAIR_CROSSES = (*HOUR_CROSSES, ("banner_pos", "device_type"), ("device_type", "c18"), ("banner_width", "banner_pos"),
                ("device_conn_type", "device_type"))


@functools.lru_cache(maxsize=1)
def _fields(folder: str) -> tuple[dict[str, np.ndarray], np.ndarray, np.ndarray, pd.Series]:
    """Every field factorised over train and test together (train rows first), the clicks, `hour`, the test ids."""
    train = pd.read_csv(f"{folder}/train.csv", dtype=str)
    test = pd.read_csv(f"{folder}/test.csv", dtype=str)
    y = train.pop(TARGET).astype(int).to_numpy()
    both = pd.concat([train, test], ignore_index=True)
    hour = both["hour"].astype(int)
    both["hour_of_day"] = (hour % 100).astype(str)
    return {field: pd.factorize(both[field])[0] for field in FIELDS}, y, hour.to_numpy(), test[ID]


@functools.lru_cache(maxsize=1)
def _encoded(folder: str) -> tuple[pd.DataFrame, np.ndarray, pd.DataFrame, pd.Series]:
    fields, y, hour, test_ids = _fields(folder)
    n = len(y)
    fold = np.arange(n) % FOLDS
    prior = y.mean()
    features = {"hour_of_day": (hour % 100).astype(float), "day": (hour // 100 % 100).astype(float)}
    for field in FIELDS:
        codes = fields[field]
        size = int(codes.max()) + 1
        features[f"{field}_count"] = np.bincount(codes, minlength=size)[codes].astype(float)
        train_codes = codes[:n]
        clicks = np.bincount(train_codes, weights=y, minlength=size)
        shows = np.bincount(train_codes, minlength=size).astype(float)
        rate = np.empty(len(codes))
        rate[n:] = (clicks[codes[n:]] + 20 * prior) / (shows[codes[n:]] + 20)
        for k in range(FOLDS):
            rows = fold == k
            fold_clicks = np.bincount(train_codes[rows], weights=y[rows], minlength=size)
            fold_shows = np.bincount(train_codes[rows], minlength=size)
            other_clicks, other_shows = clicks - fold_clicks, shows - fold_shows
            rate[:n][rows] = (other_clicks[train_codes[rows]] + 20 * prior) / (other_shows[train_codes[rows]] + 20)
        features[f"{field}_rate"] = rate
        if field not in HIGH:
            features[f"{field}_code"] = codes.astype(float)
    frame = pd.DataFrame(features)
    return frame.iloc[:n].reset_index(drop=True), y, frame.iloc[n:].reset_index(drop=True), test_ids


def _load(data: CompetitionData) -> tuple[pd.DataFrame, np.ndarray, pd.DataFrame, pd.Series]:
    return _encoded(str(data.public_dir))


def _submit(data: CompetitionData, p: np.ndarray) -> pd.DataFrame:
    ids = _load(data)[3]
    return pd.DataFrame({ID: ids, TARGET: np.clip(p, 1e-6, 1 - 1e-6)})


def _constant(data: CompetitionData) -> pd.DataFrame:
    _, y, X_test, _ = _load(data)
    return _submit(data, np.full(len(X_test), y.mean()))


def _random(data: CompetitionData, seed: int) -> pd.DataFrame:
    _, _, X_test, _ = _load(data)
    return _submit(data, np.random.default_rng(seed).random(len(X_test)))


def _rate_of(data: CompetitionData, field: str) -> pd.DataFrame:
    _, _, X_test, _ = _load(data)
    return _submit(data, X_test[f"{field}_rate"].to_numpy())


def _naive_sum(data: CompetitionData, shrink: float, fields: tuple[str, ...] = tuple(FIELDS)) -> pd.DataFrame:
    """Add up each field's log-odds lift over the mean (naive Bayes in logit space), shrunk."""
    _, y, X_test, _ = _load(data)
    base = np.log(y.mean() / (1 - y.mean()))
    rates = np.clip(X_test[[f"{f}_rate" for f in fields]].to_numpy(), 1e-4, 1 - 1e-4)
    logit = base + shrink * (np.log(rates / (1 - rates)) - base).sum(axis=1)
    return _submit(data, 1 / (1 + np.exp(-logit)))


def _sample(n: int, fraction: float, seed: int) -> np.ndarray:
    return np.sort(np.random.default_rng(seed).permutation(n)[: int(fraction * n)])


@functools.lru_cache(maxsize=1)
def _hashed(folder: str) -> tuple:
    train = pd.read_csv(f"{folder}/train.csv", dtype=str, usecols=lambda c: c not in (ID, TARGET))
    test = pd.read_csv(f"{folder}/test.csv", dtype=str, usecols=lambda c: c != ID)
    hasher = FeatureHasher(n_features=2**20, input_type="string", alternate_sign=False)

    def tokens(frame: pd.DataFrame) -> list[list[str]]:
        frame = frame.assign(hour=frame["hour"].str[-2:])
        columns = [f"{c}=" + frame[c] for c in frame.columns]
        return [list(row) for row in zip(*columns, strict=True)]

    return hasher.transform(tokens(train)), hasher.transform(tokens(test))


def _linear(data: CompetitionData, fraction: float, alpha: float, seed: int = 0) -> pd.DataFrame:
    X, X_test = _hashed(str(data.public_dir))
    _, y, _, _ = _load(data)
    rows = _sample(X.shape[0], fraction, seed)
    model = SGDClassifier(loss="log_loss", alpha=alpha, max_iter=5, tol=None, random_state=seed)
    model.fit(X[rows], y[rows])
    return _submit(data, model.predict_proba(X_test)[:, 1])


@functools.lru_cache(maxsize=1)
def _onehot(folder: str, crosses: tuple[tuple[str, str], ...] = (),
            without: tuple[str, ...] = ()) -> tuple[sparse.csr_matrix, sparse.csr_matrix]:
    """Exact one-hot columns of the fields (leaving out `without`) and of the `crosses`: (train, test)."""
    fields, y, _, _ = _fields(folder)
    blocks = [fields[f] for f in FIELDS if f not in without]
    blocks += [fields[a] * (int(fields[b].max()) + 1) + fields[b] for a, b in crosses]
    columns, offset = [], 0
    for block in blocks:
        codes, uniques = pd.factorize(block)
        columns.append(codes + offset)
        offset += len(uniques)
    indices = np.stack(columns, axis=1).ravel()
    rows = len(fields[FIELDS[0]])
    X = sparse.csr_matrix((np.ones(len(indices)), indices, np.arange(0, len(indices) + 1, len(blocks))),
                          shape=(rows, offset))
    return X[: len(y)], X[len(y):]


def _onehot_linear(data: CompetitionData, fraction: float, crosses: tuple[tuple[str, str], ...] = (),
                   without: tuple[str, ...] = (), seed: int = 0) -> pd.DataFrame:
    X, X_test = _onehot(str(data.public_dir), crosses, without)
    _, y, _, _ = _load(data)
    rows = _sample(X.shape[0], fraction, seed)
    model = SGDClassifier(loss="log_loss", alpha=1e-4, max_iter=5, tol=None, random_state=seed)
    model.fit(X[rows], y[rows])
    return _submit(data, model.predict_proba(X_test)[:, 1])


def _naive_bayes(data: CompetitionData, fraction: float, alpha: float, bernoulli: bool = False,
                 calibrated: bool = True, without: tuple[str, ...] = ()) -> pd.DataFrame:
    """Naive Bayes on the one-hot counts of the fields (multinomial, or Bernoulli: absent levels count too).

    Its rare levels make it far too sure of itself: `calibrated` maps its log-odds through a sigmoid
    fitted out of fold (Platt scaling).
    """
    X, X_test = _onehot(str(data.public_dir), (), without)
    _, y, _, _ = _load(data)
    rows = _sample(X.shape[0], fraction, 0)
    model = BernoulliNB(alpha=alpha) if bernoulli else MultinomialNB(alpha=alpha)
    if calibrated:
        model = CalibratedClassifierCV(model, method="sigmoid", cv=3)
    model.fit(X[rows], y[rows])
    return _submit(data, model.predict_proba(X_test)[:, 1])


def _stacked_rates(data: CompetitionData, fraction: float, C: float = 1.0) -> pd.DataFrame:
    """Logistic regression on the fields' click-rate log-odds: naive Bayes with a learned weight per field."""
    X, y, X_test, _ = _load(data)
    columns = [f"{f}_rate" for f in FIELDS]

    def logits(frame: pd.DataFrame) -> np.ndarray:
        rates = np.clip(frame[columns].to_numpy(), 1e-4, 1 - 1e-4)
        return np.log(rates / (1 - rates))

    rows = _sample(len(y), fraction, 0)
    model = LogisticRegression(C=C, max_iter=500).fit(logits(X.iloc[rows]), y[rows])
    return _submit(data, model.predict_proba(logits(X_test))[:, 1])


def _extra_trees(data: CompetitionData, fraction: float, leaf: int) -> pd.DataFrame:
    X, y, X_test, _ = _load(data)
    rows = _sample(len(y), fraction, 0)
    model = ExtraTreesClassifier(n_estimators=40, min_samples_leaf=leaf, max_features=0.5, random_state=0)
    model.fit(X.iloc[rows], y[rows])
    return _submit(data, model.predict_proba(X_test)[:, 1])


def _columns(X: pd.DataFrame, without: tuple[str, ...], kinds: tuple[str, ...]) -> list[str]:
    """The encodings (`_count`, `_rate`, `_code`) of `kinds`, leaving out the fields `without`."""
    return [c for c in X.columns if c in ("hour_of_day", "day")
            or (c.rsplit("_", 1)[-1] in kinds and not any(c.startswith(f"{w}_") for w in without))]


@functools.lru_cache(maxsize=64)
def _boosted(folder: str, fraction: float, seed: int, tuned: bool, without: tuple[str, ...],
             kinds: tuple[str, ...], depth: int | None = None) -> np.ndarray:
    X, y, X_test, _ = _encoded(folder)
    columns = _columns(X, without, kinds)
    rows = _sample(len(y), fraction, seed)
    model = HistGradientBoostingClassifier(
        learning_rate=0.1 if tuned else 0.15, max_iter=200 if tuned else 100, max_leaf_nodes=63 if tuned else 31,
        min_samples_leaf=200 if tuned else 20, l2_regularization=1.0 if tuned else 0.0,
        max_depth=depth, early_stopping=tuned, validation_fraction=0.05, n_iter_no_change=20, random_state=seed)
    model.fit(X.loc[rows, columns], y[rows])
    return model.predict_proba(X_test[columns])[:, 1]


def _boost(data: CompetitionData, fraction: float = 1.0, seed: int = 0, tuned: bool = False,
           without: tuple[str, ...] = (), kinds: tuple[str, ...] = ("count", "rate", "code"),
           depth: int | None = None) -> pd.DataFrame:
    return _submit(data, _boosted(str(data.public_dir), fraction, seed, tuned, without, kinds, depth))


def _pct(fraction: float) -> str:
    return f"{fraction * 100:g}pct".replace(".", "_")


def rungs(data: CompetitionData) -> list[ladder.Rung]:
    p = functools.partial
    Rung = ladder.Rung
    out = [
        Rung("constant", "the training click rate", submit=_constant),
        Rung("random", "uniformly random probabilities", submit=p(_random, seed=0)),
    ]
    for field in FIELDS:
        out.append(Rung(f"rate_{field}", f"smoothed click rate of the impression's {field}",
                        submit=p(_rate_of, field=field)))
    for shrink in (1.0, 0.7, 0.5, 0.4, 0.35, 0.3, 0.25, 0.2, 0.15, 0.1, 0.05):
        out.append(Rung(f"naive_logit_sum_{shrink:g}", f"sum of per-field log-odds lifts, shrunk by {shrink:g}",
                        submit=p(_naive_sum, shrink=shrink)))
    for fraction in (0.01, 0.03, 0.1, 0.3, 1.0):
        out.append(Rung(f"hashed_linear_{_pct(fraction)}", "logistic regression on hashed one-hot fields",
                        submit=p(_linear, fraction=fraction, alpha=1e-4), fraction=fraction))
        for alpha in (1e-3, 1e-5):
            out.append(Rung(f"hashed_linear_alpha{alpha:g}_{_pct(fraction)}",
                            f"logistic regression on hashed one-hot fields, L2 {alpha:g}",
                            submit=p(_linear, fraction=fraction, alpha=alpha), fraction=fraction))
    for fraction in (0.002, 0.005, 0.01, 0.02, 0.05):
        for seed in (1, 2, 3):
            out.append(Rung(f"hgb_{_pct(fraction)}_seed{seed}", "gradient boosting on count and click-rate encodings",
                            submit=p(_boost, fraction=fraction, seed=seed), fraction=fraction, seed=seed))
        for kinds in (("count", "code"), ("rate",)):
            out.append(Rung(f"hgb_{'_'.join(kinds)}_{_pct(fraction)}",
                            f"gradient boosting on {' and '.join(kinds)} encodings only",
                            submit=p(_boost, fraction=fraction, kinds=kinds), fraction=fraction))
    low = tuple(f for f in FIELDS if f not in HIGH)
    for shrink in (0.3, 0.6):
        for label, fields in (("high", tuple(HIGH)), ("low", low)):
            out.append(Rung(f"naive_logit_sum_{label}_cardinality_{shrink:g}",
                            f"sum of log-odds lifts of the {label}-cardinality fields, shrunk by {shrink:g}",
                            submit=p(_naive_sum, shrink=shrink, fields=fields)))
    for fraction in (0.01, 0.03):  # the cheap end of a leaderboard: small samples, other seeds
        for alpha in (1e-4, 1e-3):
            for seed in (1, 2):
                out.append(Rung(f"hashed_linear_alpha{alpha:g}_{_pct(fraction)}_seed{seed}",
                                f"logistic regression on hashed one-hot fields, L2 {alpha:g}, another sample",
                                submit=p(_linear, fraction=fraction, alpha=alpha, seed=seed), fraction=fraction,
                                seed=seed))
    for fraction in (0.003, 0.007, 0.015, 0.03):
        for seed in (4, 5):
            out.append(Rung(f"hgb_{_pct(fraction)}_seed{seed}", "gradient boosting on count and click-rate encodings",
                            submit=p(_boost, fraction=fraction, seed=seed), fraction=fraction, seed=seed))
    for fraction in (0.01, 0.02, 0.05, 0.1):
        for seed in (0, 1):
            out.append(Rung(f"hgb_tuned_{_pct(fraction)}_seed{seed}", "tuned gradient boosting on the encodings",
                            submit=p(_boost, fraction=fraction, seed=seed, tuned=True), fraction=fraction, seed=seed))
    for field in HIGH:
        out.append(Rung(f"hgb_no_{field}_5pct", f"gradient boosting without {field}, 5% of the rows",
                        submit=p(_boost, fraction=0.05, without=(field,)), fraction=0.05))
    for fraction in (0.1, 1.0):  # naive Bayes proper, on one-hot counts (no smoothing towards the mean)
        for alpha in (1.0, 10.0):
            out.append(Rung(f"naive_bayes_alpha{alpha:g}_{_pct(fraction)}",
                            f"multinomial naive Bayes on one-hot fields, smoothing {alpha:g}, Platt-calibrated",
                            submit=p(_naive_bayes, fraction=fraction, alpha=alpha), fraction=fraction))
    out.append(Rung("naive_bayes_bernoulli_100pct", "Bernoulli naive Bayes on one-hot fields, Platt-calibrated",
                    submit=p(_naive_bayes, fraction=1.0, alpha=1.0, bernoulli=True)))
    out.append(Rung("naive_bayes_low_cardinality", "multinomial naive Bayes on the low-cardinality fields, uncalibrated",
                    submit=p(_naive_bayes, fraction=1.0, alpha=1.0, calibrated=False, without=tuple(HIGH))))
    for fraction in (0.001, 0.01, 0.1, 1.0):
        out.append(Rung(f"stacked_rates_logistic_{_pct(fraction)}",
                        "logistic regression on the fields' click-rate log-odds (a weight per field)",
                        submit=p(_stacked_rates, fraction=fraction), fraction=fraction))
    for fraction in (0.1, 1.0):
        out.append(Rung(f"linear_hour_crosses_{_pct(fraction)}",
                        "logistic regression on one-hot fields and site/app category x hour crosses",
                        submit=p(_onehot_linear, fraction=fraction, crosses=HOUR_CROSSES), fraction=fraction))
    for fraction in (0.03, 0.3, 1.0):
        out.append(Rung(f"linear_pair_crosses_{_pct(fraction)}",
                        "logistic regression on one-hot fields, hour and placement crosses",
                        submit=p(_onehot_linear, fraction=fraction, crosses=PAIR_CROSSES), fraction=fraction))
    for field in ("user_id", "creative_id"):
        out.append(Rung(f"linear_onehot_no_{field}", f"logistic regression on one-hot fields without {field}",
                        submit=p(_onehot_linear, fraction=1.0, without=(field,))))
    for depth in (2, 4):
        for fraction in (0.02, 0.05):
            out.append(Rung(f"hgb_depth{depth}_{_pct(fraction)}", f"gradient boosting on the encodings, depth {depth}",
                            submit=p(_boost, fraction=fraction, depth=depth), fraction=fraction))
    for fraction, leaf in ((0.02, 50), (0.05, 100)):
        out.append(Rung(f"extra_trees_{_pct(fraction)}", f"extremely randomised trees on the encodings, leaves of {leaf}",
                        submit=p(_extra_trees, fraction=fraction, leaf=leaf), fraction=fraction))
    for seed in (1, 2):
        out.append(Rung(f"hashed_linear_10pct_seed{seed}", "logistic regression on hashed one-hot fields, another sample",
                        submit=p(_linear, fraction=0.1, alpha=1e-4, seed=seed), fraction=0.1, seed=seed))
    out.append(Rung("hashed_linear_weak_l2", "logistic regression on hashed fields, weak L2 (over-fits)",
                    submit=p(_linear, fraction=1.0, alpha=1e-6)))
    for fraction in (0.01, 0.05, 0.1, 0.2):  # a 1/5 sample of a million rows: boosting stays minutes on a laptop
        out.append(Rung(f"hgb_{_pct(fraction)}", "gradient boosting on count and click-rate encodings",
                        submit=p(_boost, fraction=fraction), fraction=fraction))
    out += [
        Rung("hgb_no_user", "gradient boosting without the user's history, 10% of the rows",
             submit=p(_boost, fraction=0.1, without=("user_id",)), fraction=0.1),
        Rung("hgb_no_rates", "gradient boosting on counts and low-cardinality codes only, 10% of the rows",
             submit=p(_boost, fraction=0.1, kinds=("count", "code")), fraction=0.1),
        Rung("hgb_tuned", "tuned gradient boosting (lr 0.1, bigger trees, early stopping), 20% of the rows",
             submit=p(_boost, fraction=0.2, tuned=True), fraction=0.2),
        Rung("hgb_tuned_seed1", "tuned gradient boosting, another 20% of the rows",
             submit=p(_boost, fraction=0.2, tuned=True, seed=1), fraction=0.2, seed=1),
        Rung("ensemble_tuned", "mean of two tuned boosters", blend=("hgb_tuned", "hgb_tuned_seed1")),
        Rung("ensemble_tuned_linear", "mean of tuned booster and hashed linear model",
             blend=("hgb_tuned", "hashed_linear_100pct")),
    ]
    return out
