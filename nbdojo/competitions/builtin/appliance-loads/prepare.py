"""Build appliance-loads: which kind of appliance draws this current? (PLAID, the Plug Load Appliance Identification
Dataset, as sktime ships it: 1,074 current waveforms at appliance switch-on, 11 appliance types.)

Each source waveform is recorded again FOLDS times: a random crop of both ends (up to 10% each), a
smooth time warp (a 6% change of speed and a gentle bend), a gain (about 10%) and sensor noise (2% of
the waveform's spread). All recordings of one source waveform (one `device_id`) fall in the same part,
so test devices are never in train. The data has no time stamps, so the devices are split at random.

A lookup in the public data set must gain nothing, and perturbing the signals is not enough: the
nearest public waveform by correlation still carries the real label. So the label is redrawn: a
gradient-boosting model, fitted out of fold on summary features of the *published* recordings (whole
devices held out together, so no recording of the same source helps predict it), gives each recording
its class probabilities, and its label is a draw from them (nbdojo.competitions.resample). Given what
is published, the real label of the source is then a worse guess of the new one than those
probabilities, which a model trained on train.csv can learn.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
from sktime.datasets import load_plaid

from nbdojo.competitions.prepare_kit import test_mask, write_csv
from nbdojo.competitions.resample import draw_labels, out_of_fold

ID, DEVICE, LENGTH = "id", "device_id", "length"
#: PLAID's classes 0-10, in its documented order.
APPLIANCES = ("air_conditioner", "compact_fluorescent_lamp", "fan", "fridge", "hairdryer", "heater",
              "incandescent_bulb", "laptop", "microwave", "vacuum", "washing_machine")
COPIES = 5  # recordings per source waveform
TEST_DEVICES = 480  # of 1,074 source waveforms
MAX_STEPS = 1400  # the signal arrays' width; shorter recordings are zero-padded


def _record(wave: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """One new recording of a source waveform: cropped, warped in time, scaled and noisy."""
    n = len(wave)
    start, stop = rng.integers(0, n // 10 + 1), n - rng.integers(0, n // 10 + 1)
    wave = wave[start:stop]
    steps = int(np.clip(round(len(wave) * np.exp(rng.normal(0.0, 0.06))), 60, MAX_STEPS))
    u = np.linspace(0.0, 1.0, steps)
    u = np.clip(u + 0.08 * np.sin(np.pi * u * rng.uniform(0.5, 2.0) + rng.uniform(0, 2 * np.pi)) * u * (1 - u), 0, 1)
    out = np.interp(u, np.linspace(0.0, 1.0, len(wave)), wave)
    out = out * np.exp(rng.normal(0.0, 0.1)) + rng.normal(0.0, 0.02 * out.std(), steps)
    return out.astype(np.float32)


def _summary(wave: np.ndarray) -> np.ndarray:
    """What the label model sees of a recording: level, spread, shape over ten segments, spectrum, switch-on."""
    n = len(wave)
    spectrum = np.abs(np.fft.rfft(wave - wave.mean()))[1:]
    total = spectrum.sum() + 1e-9
    segments = np.array_split(wave, 10)
    head, tail = wave[: n // 5], wave[n // 2:]
    return np.r_[n, wave.mean(), wave.std(), wave.min(), wave.max(), np.percentile(wave, [5, 25, 50, 75, 95]),
                 np.abs(wave).mean(), np.abs(np.diff(wave)).mean(), [s.std() for s in segments],
                 [np.abs(s).max() for s in segments], [b.sum() / total for b in np.array_split(spectrum, 12)],
                 np.log(total), spectrum.argmax(), head.std(), tail.std(), head.std() / (tail.std() + 1e-9),
                 np.mean(np.diff(np.sign(wave - wave.mean())) != 0)]


def recordings(seed: int) -> tuple[np.ndarray, list[np.ndarray], np.ndarray, np.ndarray, pd.DataFrame]:
    """PLAID's real labels, the new recordings, each one's source waveform (an index into sktime's PLAID, both
    splits), the order rows are published in, and the recordings' ids, devices and lengths (before that order).
    The leak probe's ground truth too: it knows each published row's source, as no lookup can."""
    rng = np.random.default_rng(seed)
    X, y = load_plaid()  # both of sktime's splits: 1,074 waveforms
    waves = [np.asarray(s, dtype=float) for s in X.iloc[:, 0]]
    source = np.repeat(np.arange(len(waves)), COPIES)
    records = [_record(waves[i], rng) for i in source]
    order = rng.permutation(len(records))  # rows shuffled, ids and devices re-keyed
    devices = rng.choice(9000, size=len(waves), replace=False) + 1000
    frame = pd.DataFrame({ID: [f"R{i:05d}" for i in rng.choice(90000, size=len(records), replace=False) + 10000],
                          DEVICE: [f"D{devices[s]}" for s in source], LENGTH: [len(r) for r in records]})
    return y.astype(int), records, source, order, frame


def prepare(public_dir: Path, private_dir: Path, seed: int) -> None:
    real, records, source, order, frame = recordings(seed)
    features = pd.DataFrame(np.array([_summary(r.astype(float)) for r in records]))
    probability = out_of_fold(features, real[source], "multiclass", seed, groups=source, max_iter=100)
    label = draw_labels(probability, np.random.default_rng(seed + 9))
    for k, name in enumerate(APPLIANCES):
        frame[name] = (label == k).astype(int)
    frame, source = frame.iloc[order].reset_index(drop=True), source[order]
    signals = np.zeros((len(records), MAX_STEPS, 1), dtype=np.float32)
    for row, i in enumerate(order):
        signals[row, : len(records[i]), 0] = records[i]

    is_test = test_mask(len(real), TEST_DEVICES, seed)[source]
    train, test = frame[~is_test], frame[is_test]
    write_csv(train, public_dir / "train.csv")
    write_csv(test.drop(columns=list(APPLIANCES)), public_dir / "test.csv")
    np.save(public_dir / "train_signals.npy", signals[~is_test])
    np.save(public_dir / "test_signals.npy", signals[is_test])
    prior = train[list(APPLIANCES)].mean().round(4)
    prior.iloc[-1] = round(1.0 - prior.iloc[:-1].sum(), 4)
    write_csv(pd.DataFrame({ID: test[ID], **{a: prior[a] for a in APPLIANCES}}), public_dir / "sample_submission.csv")
    write_csv(test[[ID, *APPLIANCES]], private_dir / "answers.csv")
