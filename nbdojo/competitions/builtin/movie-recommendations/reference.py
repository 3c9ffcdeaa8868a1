"""Reference rungs for movie-recommendations: orders of each user's candidate movies, from random to learned.

Random orders and the sample's order; movie popularity and release year; each movie's mean rating
shrunk by growing priors; user and movie biases fitted by alternating least squares; the user's
taste for a movie's genres; a low-rank factorisation of the residual ratings; blends of these.
Every score comes from ratings.csv (what the agent has); train.csv is not needed.
"""

from __future__ import annotations

import functools

import numpy as np
import pandas as pd

from nbdojo.competitions import CompetitionData
from nbdojo.competitions.ladder import Rung

ID, TARGET, K = "user_id", "liked", 10


@functools.lru_cache(maxsize=2)
def _frames(folder: str) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    test = pd.read_csv(f"{folder}/test.csv")
    ratings = pd.read_csv(f"{folder}/ratings.csv")
    movies = pd.read_csv(f"{folder}/movies.csv")
    pairs = test[[ID]].assign(movie_id=test["candidates"].str.split()).explode("movie_id").reset_index(drop=True)
    return test, ratings, movies, pairs


def _ranked(data: CompetitionData, score: np.ndarray) -> pd.DataFrame:
    """Each user's candidates sorted by their score in `score` (aligned with the candidate pairs), top K."""
    test, _, _, pairs = _frames(str(data.public_dir))
    rows = pairs.assign(score=np.nan_to_num(np.asarray(score, float), nan=-1e9), order=np.arange(len(pairs)))
    rows = rows.sort_values([ID, "score", "order"], ascending=[True, False, True], kind="stable")
    top = rows.groupby(ID, sort=False)["movie_id"].agg(lambda m: " ".join(m[:K]))
    return pd.DataFrame({ID: test[ID], TARGET: test[ID].map(top)})


def _random(data: CompetitionData, seed: int) -> np.ndarray:
    return np.random.default_rng(seed).random(len(_frames(str(data.public_dir))[3]))


def _listed(data: CompetitionData) -> np.ndarray:
    return -np.arange(len(_frames(str(data.public_dir))[3]), dtype=float)  # the sample submission's order


def _movie_column(data: CompetitionData, column: str, sign: float) -> np.ndarray:
    _, _, movies, pairs = _frames(str(data.public_dir))
    return sign * pairs["movie_id"].map(movies.set_index("movie_id")[column]).to_numpy(float)


def _popularity(data: CompetitionData) -> np.ndarray:
    _, ratings, _, pairs = _frames(str(data.public_dir))
    return pairs["movie_id"].map(ratings["movie_id"].value_counts()).fillna(0).to_numpy(float)


def _movie_mean(data: CompetitionData, prior: float, share: float = 1.0, seed: int = 0) -> np.ndarray:
    """Each candidate's mean rating shrunk towards the overall mean, from a seeded `share` of the ratings."""
    _, ratings, _, pairs = _frames(str(data.public_dir))
    if share < 1.0:
        ratings = ratings.sample(frac=share, random_state=seed)
    stats = ratings.groupby("movie_id")["rating"].agg(["sum", "count"])
    shrunk = (stats["sum"] + prior * ratings["rating"].mean()) / (stats["count"] + prior)
    return pairs["movie_id"].map(shrunk).fillna(ratings["rating"].mean()).to_numpy(float)


@functools.lru_cache(maxsize=8)
def _biases(folder: str, lam: float) -> tuple[float, pd.Series, pd.Series]:
    """mu + b_user + b_movie by alternating ridge updates (lam: the shrinkage of both)."""
    _, ratings, _, _ = _frames(folder)
    mu = float(ratings["rating"].mean())
    b_movie = pd.Series(0.0, index=ratings["movie_id"].unique())
    b_user = pd.Series(0.0, index=ratings[ID].unique())
    for _ in range(6):
        rest = ratings["rating"] - mu - ratings["movie_id"].map(b_movie)
        grouped = rest.groupby(ratings[ID])
        b_user = grouped.sum() / (grouped.count() + lam)
        rest = ratings["rating"] - mu - ratings[ID].map(b_user)
        grouped = rest.groupby(ratings["movie_id"])
        b_movie = grouped.sum() / (grouped.count() + lam)
    return mu, b_user, b_movie


def _bias_score(data: CompetitionData, lam: float) -> np.ndarray:
    mu, _, b_movie = _biases(str(data.public_dir), lam)
    pairs = _frames(str(data.public_dir))[3]
    return mu + pairs["movie_id"].map(b_movie).fillna(0.0).to_numpy(float)  # the user's own bias ranks nothing


def _genre_taste(data: CompetitionData, prior: float) -> np.ndarray:
    """The user's mean residual rating (after biases) over the genres of each candidate, averaged."""
    folder = str(data.public_dir)
    _, ratings, movies, pairs = _frames(folder)
    mu, b_user, b_movie = _biases(folder, 5.0)
    genres = movies.set_index("movie_id")["genres"].fillna("none").str.split("|")
    rest = ratings.assign(r=ratings["rating"] - mu - ratings[ID].map(b_user) - ratings["movie_id"].map(b_movie),
                          genre=ratings["movie_id"].map(genres)).explode("genre")
    stats = rest.groupby([ID, "genre"])["r"].agg(["sum", "count"])
    taste = (stats["sum"] / (stats["count"] + prior)).rename("taste").reset_index()
    cand = pairs.assign(genre=pairs["movie_id"].map(genres), row=np.arange(len(pairs))).explode("genre")
    cand = cand.merge(taste, on=[ID, "genre"], how="left").fillna({"taste": 0.0})
    return cand.groupby("row")["taste"].mean().reindex(range(len(pairs))).fillna(0.0).to_numpy()


def _factors(data: CompetitionData, k: int, lam: float = 5.0) -> np.ndarray:
    """A rank-k truncated SVD of the residual rating matrix (after biases), evaluated on the candidates."""
    from scipy.sparse import csr_matrix
    from scipy.sparse.linalg import svds

    folder = str(data.public_dir)
    _, ratings, _, pairs = _frames(folder)
    mu, b_user, b_movie = _biases(folder, lam)
    users = pd.Index(ratings[ID].unique())
    items = pd.Index(pd.concat([ratings["movie_id"], pairs["movie_id"]]).unique())
    rest = ratings["rating"] - mu - ratings[ID].map(b_user) - ratings["movie_id"].map(b_movie)
    matrix = csr_matrix((rest.to_numpy(), (users.get_indexer(ratings[ID]), items.get_indexer(ratings["movie_id"]))),
                        shape=(len(users), len(items)))
    u, s, vt = svds(matrix, k=k, random_state=0)
    ui, ii = users.get_indexer(pairs[ID]), items.get_indexer(pairs["movie_id"])
    fit = np.where(ui >= 0, np.einsum("ij,ij->i", u[ui] * s, vt.T[ii]), 0.0)
    return _bias_score(data, lam) + fit


def _z(values: np.ndarray) -> np.ndarray:
    return (values - np.nanmean(values)) / (np.nanstd(values) or 1.0)


def _blend(data: CompetitionData, parts: tuple[tuple[str, float], ...]) -> np.ndarray:
    return sum(w * _z(SCORES[name](data)) for name, w in parts)


def _log_popularity(data: CompetitionData) -> np.ndarray:
    return np.log1p(_popularity(data))


SCORES = {
    "movie_mean_10": functools.partial(_movie_mean, prior=10.0),
    "biases_1": functools.partial(_bias_score, lam=1.0),
    "biases_5": functools.partial(_bias_score, lam=5.0),
    "biases_25": functools.partial(_bias_score, lam=25.0),
    "genre_taste_5": functools.partial(_genre_taste, prior=5.0),
    "svd_5": functools.partial(_factors, k=5),
    "svd_20": functools.partial(_factors, k=20),
    "svd_50": functools.partial(_factors, k=50),
    "popularity": _log_popularity,
    "year": functools.partial(_movie_column, column="year", sign=1.0),
}


def rungs(data: CompetitionData) -> list[Rung]:
    p = functools.partial

    def rung(name: str, method: str, score, seed: int = 0) -> Rung:
        return Rung(name, method, seed=seed, submit=lambda d: _ranked(d, score(d)))

    out = [rung(f"random_seed{s}", "candidates in random order", p(_random, seed=s), seed=s) for s in range(4)]
    out += [
        rung("listed_order", "candidates in the listed order (the sample submission)", _listed),
        rung("newest_first", "most recent release first", p(_movie_column, column="year", sign=1.0)),
        rung("oldest_first", "oldest release first", p(_movie_column, column="year", sign=-1.0)),
        rung("most_rated_first", "most often rated movie first", _popularity),
    ]
    out += [rung(f"movie_mean_prior{prior:g}", f"mean rating of the movie, shrunk with {prior:g} pseudo-ratings",
                 p(_movie_mean, prior=prior)) for prior in (0.0, 1.0, 3.0, 10.0, 30.0, 100.0)]
    out += [rung(f"biases_lambda{lam:g}", f"user and movie biases by alternating least squares (lambda {lam:g})",
                 p(_bias_score, lam=lam)) for lam in (1.0, 5.0, 25.0)]
    out += [rung(f"genre_taste_prior{prior:g}", "the user's taste for the movie's genres only",
                 p(_genre_taste, prior=prior)) for prior in (1.0, 5.0)]
    out += [rung(f"svd_{k}", f"biases plus a rank-{k} factorisation of the residual ratings", p(_factors, k=k))
            for k in (2, 5, 20, 50)]
    out += [
        rung("biases_plus_genres", "biases and genre taste, z-scored and added",
             p(_blend, parts=(("biases_5", 1.0), ("genre_taste_5", 1.0)))),
        rung("svd_plus_genres", "rank-20 factorisation and genre taste",
             p(_blend, parts=(("svd_20", 1.0), ("genre_taste_5", 0.7)))),
        rung("mean_plus_genres", "shrunk movie mean and genre taste",
             p(_blend, parts=(("movie_mean_10", 1.0), ("genre_taste_5", 0.5)))),
    ]
    # the wider search a leaderboard holds: more shrinkage, ranks, shares of the ratings and blend weights
    out += [rung(f"movie_mean_prior{prior:g}", f"mean rating of the movie, shrunk with {prior:g} pseudo-ratings",
                 p(_movie_mean, prior=prior)) for prior in (0.5, 2.0, 5.0, 20.0, 50.0, 200.0, 500.0)]
    for share in (0.1, 0.25, 0.5, 0.75):
        for prior in (3.0, 10.0, 30.0):
            for seed in (1, 2):
                out.append(rung(f"movie_mean_prior{prior:g}_{round(share * 100)}pct_seed{seed}",
                                f"mean rating of the movie (prior {prior:g}) from {share:.0%} of the ratings",
                                p(_movie_mean, prior=prior, share=share, seed=seed), seed=seed))
    out += [rung(f"biases_lambda{lam:g}", f"user and movie biases by alternating least squares (lambda {lam:g})",
                 p(_bias_score, lam=lam)) for lam in (0.5, 2.0, 10.0, 50.0, 100.0)]
    out += [rung(f"genre_taste_prior{prior:g}", "the user's taste for the movie's genres only",
                 p(_genre_taste, prior=prior)) for prior in (0.5, 2.0, 10.0, 20.0, 50.0)]
    out += [rung(f"svd_{k}", f"biases plus a rank-{k} factorisation of the residual ratings", p(_factors, k=k))
            for k in (1, 3, 8, 10, 15, 30, 40, 70, 100)]
    out += [rung(f"svd_{k}_lambda{lam:g}", f"biases (lambda {lam:g}) plus a rank-{k} factorisation of the residuals",
                 p(_factors, k=k, lam=lam)) for k in (5, 10, 20, 50) for lam in (1.0, 25.0)]
    blends = [(f"biases_plus_genres_w{w:g}", "biases and genre taste", (("biases_5", 1.0), ("genre_taste_5", w)))
              for w in (0.25, 0.5, 1.5, 2.0)]
    blends += [(f"svd_plus_genres_w{w:g}", "rank-20 factorisation and genre taste", (("svd_20", 1.0), ("genre_taste_5", w)))
               for w in (0.3, 0.5, 1.0, 1.5)]
    blends += [(f"mean_plus_genres_w{w:g}", "shrunk movie mean and genre taste", (("movie_mean_10", 1.0),
                                                                                  ("genre_taste_5", w)))
               for w in (0.25, 1.0, 1.5)]
    blends += [(f"mean_plus_popularity_w{w:g}", "shrunk movie mean and (log) popularity", (("movie_mean_10", 1.0),
                                                                                          ("popularity", w)))
               for w in (0.1, 0.3, 0.5, 1.0)]
    blends += [(f"mean_plus_recency_w{w:g}", "shrunk movie mean and release year", (("movie_mean_10", 1.0), ("year", w)))
               for w in (0.1, 0.3)]
    blends += [(f"{svd}_plus_genres", f"{svd.replace('_', ' rank ')} factorisation and genre taste",
                ((svd, 1.0), ("genre_taste_5", 0.7))) for svd in ("svd_5", "svd_50")]
    blends += [(f"{b}_plus_genres", f"biases (lambda {b.split('_')[1]}) and genre taste", ((b, 1.0), ("genre_taste_5", 1.0)))
               for b in ("biases_1", "biases_25")]
    blends += [("svd_5_plus_svd_50", "rank-5 and rank-50 factorisations", (("svd_5", 1.0), ("svd_50", 1.0))),
               ("svd_plus_popularity", "rank-20 factorisation and popularity", (("svd_20", 1.0), ("popularity", 0.3)))]
    blends += [(f"genres_plus_popularity_w{w:g}", "genre taste and popularity", (("genre_taste_5", 1.0), ("popularity", w)))
               for w in (0.3, 1.0)]
    out += [rung(name, f"{method}, z-scored and added (weights {', '.join(f'{w:g}' for _, w in parts)})",
                 p(_blend, parts=parts)) for name, method, parts in blends]
    return out
