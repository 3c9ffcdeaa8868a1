"""The baseline's model cells: features, a holdout score, the final fit and the submission file.

Three recipes, picked by what the survey cell found in the data:

- tabular columns (with `.npy` signals summarised per channel): histogram gradient boosting;
- free text: TF-IDF word n-grams beside one-hot categories and scaled numbers, a linear model;
- images: a small torch CNN on the CPU, on a capped sample of train, at 32 pixels at most.

Each cell runs in the agent's kernel and imports only the agent's toolbox.
"""

from __future__ import annotations

# Names every model cell shares: the target to fit, what to write, the holdout score.
TARGETS = r'''from sklearn import metrics as skm
from sklearn.model_selection import train_test_split


def target(col):
    """The values to fit for one submission column (the class label for one-hot columns)."""
    if ONE_HOT:
        y = train[Y_COLS].idxmax(axis=1) if Y_COLS == list(SUBMIT) else train[Y_COLS[0]].astype(str)
    else:
        y = train[col]
    return y.astype(float) if ORDINAL else y


def to_fit(y):
    return np.log1p(y.astype(float)) if LOG_TARGET else y


def written(model, X_part, classes_seen, shift=0.0):
    """What the submission holds for these rows: probabilities, labels or values (`shift`: a series' level)."""
    if ONE_HOT:
        proba = pd.DataFrame(model.predict_proba(X_part), columns=[str(c) for c in model.classes_])
        proba = proba.reindex(columns=[str(c) for c in SUBMIT], fill_value=0.0)
        return proba.div(proba.sum(axis=1), axis=0).to_numpy()
    if CLASSIFY and PROBA:
        return model.predict_proba(X_part)[:, -1]  # the last class: 1, True, "yes"
    guess = model.predict(X_part)
    if ORDINAL:
        classes = np.sort(classes_seen.astype(float))
        guess = classes[np.abs(np.asarray(guess)[:, None] - classes[None, :]).argmin(axis=1)]
        return guess.astype(int)
    if not CLASSIFY:
        guess = guess + shift
        guess = np.expm1(guess).clip(0, None) if LOG_TARGET else guess.clip(1e-6, None) if COUNTS else guess
        return np.round(guess).astype(int) if ROUND else guess
    return guess


def holdout_score(truth, guess):
    """The competition's metric where scikit-learn has it; accuracy or RMSE otherwise."""
    truth = np.asarray(truth)
    if ONE_HOT:
        hot = (truth[:, None] == np.array([str(c) for c in SUBMIT])[None, :]).astype(float)
        return skm.log_loss(hot.argmax(axis=1), guess, labels=range(len(SUBMIT)))
    if CLASSIFY and PROBA:
        positive = truth == np.sort(pd.unique(truth))[-1]
        return skm.roc_auc_score(positive, guess) if METRIC == "roc_auc" else skm.log_loss(positive, guess)
    if CLASSIFY or ORDINAL:
        if METRIC == "macro_f1":
            return skm.f1_score(truth, guess, average="macro")
        if METRIC == "qwk":
            return skm.cohen_kappa_score(truth.astype(int), guess.astype(int), weights="quadratic")
        return skm.accuracy_score(truth, guess)
    truth, guess = truth.astype(float), np.asarray(guess, dtype=float)
    if METRIC == "r2":
        return skm.r2_score(truth, guess)
    if METRIC == "mae":
        return skm.mean_absolute_error(truth, guess)
    if METRIC == "rmsle":
        return float(np.sqrt(np.mean((np.log1p(truth.clip(0)) - np.log1p(guess.clip(0))) ** 2)))
    if METRIC == "smape":
        scale = np.abs(truth) + np.abs(guess)
        return float(np.mean(np.where(scale == 0, 0, 2 * np.abs(guess - truth) / np.where(scale == 0, 1, scale))) * 100)
    return float(np.sqrt(np.mean((truth - guess) ** 2)))


labelled = train[Y_COLS].notna().all(axis=1).to_numpy()
stratify = target(Y_COLS[0])[labelled] if CLASSIFY and not ORDINAL else None
try:
    fit_part, held_part = train_test_split(np.flatnonzero(labelled), test_size=0.2, random_state=random_state,
                                           stratify=stratify)
except ValueError:  # a class too rare to stratify
    fit_part, held_part = train_test_split(np.flatnonzero(labelled), test_size=0.2, random_state=random_state)
print(f"{labelled.sum():,} labelled rows: {len(fit_part):,} to fit, {len(held_part):,} held out")'''


FEATURES = r'''def signal_features(array):
    """Per-channel summaries of (rows, time, channels) windows: level, spread, range, rhythm."""
    a = np.asarray(array, dtype=np.float32)
    if a.ndim == 2:
        return a
    a = a.reshape(len(a), a.shape[1], -1)
    if a.shape[1] < a.shape[2]:
        a = a.transpose(0, 2, 1)  # time on the longer axis
    centred = a - a.mean(axis=1, keepdims=True)
    spectrum = np.abs(np.fft.rfft(centred, axis=1))
    bands = np.stack([band.sum(axis=1) for band in np.array_split(spectrum[:, 1:], 4, axis=1)], axis=1)
    parts = [a.mean(1), a.std(1), a.min(1), a.max(1), *np.percentile(a, [10, 25, 50, 75, 90], axis=1),
             np.abs(np.diff(a, axis=1)).mean(1), spectrum[:, 1:].argmax(1), *bands.transpose(1, 0, 2),
             np.sqrt((a ** 2).sum(axis=2)).mean(1)[:, None], np.sqrt((a ** 2).sum(axis=2)).std(1)[:, None]]
    return np.concatenate([p.reshape(len(a), -1) for p in parts], axis=1)


DATES, FORECAST = [], False
level, level_test = np.zeros(len(train)), np.zeros(len(test))  # each row's series level (forecasts only)


def tabular(frame):
    """Numbers as they are, dates split into parts, booleans as 0/1; strings left for the next step."""
    X = frame[[c for c in FEATURES if c not in TEXT]].copy()
    for col in list(X.columns):
        if X[col].dtype == bool:
            X[col] = X[col].astype(int)
        elif is_strings(X[col]):
            head = pd.to_datetime(X[col].dropna().head(100), errors="coerce", format="ISO8601")
            if len(head) and head.notna().mean() > 0.9:
                dates = pd.to_datetime(X[col], errors="coerce", format="ISO8601")
                X[f"{col}_year"], X[f"{col}_month"] = dates.dt.year, dates.dt.month
                X[f"{col}_day"], X[f"{col}_dayofweek"] = dates.dt.day, dates.dt.day_of_week
                X[f"{col}_days"] = (dates - pd.Timestamp("2000-01-01")).dt.days
                X = X.drop(columns=col)
                DATES.append(col)
    return X


X, X_test = tabular(train), tabular(test)
for col in [c for c in X.columns if is_strings(X[c])]:
    seen = test[col].isin(set(train[col].dropna())).mean() if test[col].notna().any() else 0
    if seen < 0.5:  # test holds values train never saw (ids, new wearers): nothing to learn from
        X, X_test = X.drop(columns=col), X_test.drop(columns=col)
    elif X[col].nunique() <= 250:
        categories = X[col].astype("category").cat.categories
        X[col] = pd.Categorical(X[col], categories=categories)
        X_test[col] = pd.Categorical(X_test[col], categories=categories)
    else:  # many values: how often each one occurs
        counts = pd.concat([X[col], X_test[col]]).value_counts()
        X[col], X_test[col] = X[col].map(counts).astype(float), X_test[col].map(counts).astype(float)
# Forecasting: every test date comes after train's. Each series (rows sharing the values of the text columns
# that test shares with train) is anchored on its recent level, and the model learns the change from it.
for col in dict.fromkeys(DATES) if not CLASSIFY and not TEXT else []:
    when = pd.to_datetime(train[col], errors="coerce", format="ISO8601")
    future = pd.to_datetime(test[col], errors="coerce", format="ISO8601")
    if future.notna().all() and future.min() > when.max():
        FORECAST = True
        keys = [c for c in FEATURES if c not in DATES and is_strings(train[c]) and train[c].notna().all()
                and test[c].isin(set(train[c])).all()]  # columns that name a series, not events like holidays
        series = train[keys].astype(str).agg("|".join, axis=1) if keys else pd.Series("all", index=train.index)
        series_test = test[keys].astype(str).agg("|".join, axis=1) if keys else pd.Series("all", index=test.index)
        dates = np.sort(when.dropna().unique())
        recent = (when >= dates[-max(1, int(np.ceil(0.02 * len(dates))))]) & train[Y_COLS[0]].notna()
        by_series = to_fit(train.loc[recent, Y_COLS[0]].astype(float)).groupby(series[recent]).mean()
        level = series.map(by_series).fillna(by_series.mean()).to_numpy()
        level_test = series_test.map(by_series).fillna(by_series.mean()).to_numpy()
        X["recent_level"], X_test["recent_level"] = level, level_test
        print(f"forecasting past {when.max().date()}: {by_series.size:,} series by {keys or 'none'}, anchored on "
              f"their mean over the last {int(np.ceil(0.02 * len(dates)))} dates")
        break
for number, (a, b) in enumerate(SIGNALS):
    S, S_test = signal_features(a), signal_features(b)
    names = [f"signal{number}_{i}" for i in range(S.shape[1])]
    X = pd.concat([X.reset_index(drop=True), pd.DataFrame(S, columns=names)], axis=1)
    X_test = pd.concat([X_test.reset_index(drop=True), pd.DataFrame(S_test, columns=names)], axis=1)
    print(f"signals {a.shape}: {S.shape[1]} summary features")

if TEXT:
    from scipy import sparse
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    def text_of(frame, col):
        return frame[col].fillna("").astype(str)

    blocks, test_blocks = [], []
    for col in TEXT:
        words = TfidfVectorizer(ngram_range=(1, 2), min_df=2, max_features=60_000, sublinear_tf=True)
        blocks.append(words.fit_transform(text_of(train, col)))
        test_blocks.append(words.transform(text_of(test, col)))
        print(f"{col}: {blocks[-1].shape[1]:,} word n-grams")
    categorical = [c for c in X.columns if str(X[c].dtype) == "category"]
    if categorical:
        hot = OneHotEncoder(handle_unknown="ignore")
        blocks.append(hot.fit_transform(X[categorical].astype(str)))
        test_blocks.append(hot.transform(X_test[categorical].astype(str)))
    numeric = [c for c in X.columns if c not in categorical]
    if numeric:
        scale = StandardScaler().fit(X[numeric].astype(float).fillna(X[numeric].astype(float).median()))
        fill = X[numeric].astype(float).median()
        blocks.append(sparse.csr_matrix(scale.transform(X[numeric].astype(float).fillna(fill))))
        test_blocks.append(sparse.csr_matrix(scale.transform(X_test[numeric].astype(float).fillna(fill))))
    X, X_test = sparse.hstack(blocks).tocsr(), sparse.hstack(test_blocks).tocsr()
print("features:", X.shape, "| test:", X_test.shape)'''


FIT = r'''from sklearn.ensemble import HistGradientBoostingClassifier, HistGradientBoostingRegressor
from sklearn.linear_model import LogisticRegression, Ridge

MAX_FIT_ROWS = 40_000 if TEXT else 150_000  # big train sets: a sample keeps the episode quick


def make_model(classify):
    if TEXT:
        return LogisticRegression(C=4.0, max_iter=300) if classify else Ridge(alpha=1.0)
    if classify:
        return HistGradientBoostingClassifier(categorical_features="from_dtype", max_iter=300, learning_rate=0.06,
                                              early_stopping=True, random_state=random_state)
    return HistGradientBoostingRegressor(categorical_features="from_dtype", max_iter=300, learning_rate=0.06,
                                         loss="poisson" if COUNTS else "absolute_error" if METRIC == "mae" else
                                         "squared_error",
                                         early_stopping=True, random_state=random_state)


def rows_of(frame, rows):
    return frame[rows] if not isinstance(frame, pd.DataFrame) else frame.iloc[rows]


def fit(rows, col):
    rows = rows if len(rows) <= MAX_FIT_ROWS else np.random.default_rng(random_state).choice(rows, MAX_FIT_ROWS,
                                                                                              replace=False)
    y = to_fit(target(col).iloc[rows])
    return make_model(CLASSIFY and not ORDINAL).fit(rows_of(X, rows), y - level[rows] if FORECAST else y)


columns = SUBMIT[:1] if ONE_HOT else SUBMIT
scores = []
for col, learn in zip(columns, Y_COLS):
    y_col = target(learn)
    model = fit(fit_part, learn)
    guess = written(model, rows_of(X, held_part), y_col.dropna().unique(), level[held_part])
    scores.append(holdout_score(y_col.iloc[held_part], guess))
print(f"holdout {METRIC}: {np.mean(scores):.4f}", "" if len(scores) == 1 else f"(mean over {len(scores)} columns)")'''


WRITE = r'''submission = pd.DataFrame({ID: ids.to_numpy()})
for col, learn in zip(columns, Y_COLS):
    model = fit(np.flatnonzero(labelled), learn)
    values = written(model, X_test, target(learn).dropna().unique(), level_test)
    if ONE_HOT:
        submission[list(SUBMIT)] = values
    else:
        submission[col] = values
submission = submission[sample.columns]
submission.to_csv(SUBMISSION_PATH, index=False)
print(submission.shape)
submission.head()'''
