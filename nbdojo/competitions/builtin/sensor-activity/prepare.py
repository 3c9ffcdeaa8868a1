"""Build the sensor-activity competition: what a person is doing, from 2.56 s of waist-worn motion sensor data.

Each window holds 64 samples (25 Hz) of a 3-axis accelerometer (in g) and a 3-axis
gyroscope (rad/s). Activities follow simple biomechanical stories: gait at the wearer's
own cadence with harmonics and heel-strike impulses (walking, stairs up and down,
running), smooth pedalling (cycling), and still postures that differ mainly in how
gravity falls on the sensor (sitting, standing, lying). Every wearer has their own
cadence, vigour, noise and, above all, sensor mounting angle; the test wearers never
appear in train, as when a model ships to new users. A few windows straddle a change of
activity. Deterministic from the seed.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from nbdojo.competitions.prepare_kit import write_oracle

ACTIVITIES = ("walking", "upstairs", "downstairs", "running", "cycling", "sitting", "standing", "lying")
SHARES = np.array([0.2, 0.09, 0.08, 0.1, 0.1, 0.17, 0.14, 0.12])
RATE = 25.0
STEPS = 64
SUBJECTS_TRAIN, SUBJECTS_TEST = 45, 15
WINDOWS_PER_SUBJECT = (180, 260)
CHANNELS = ("acc_x", "acc_y", "acc_z", "gyro_x", "gyro_y", "gyro_z")
ID = "id"
TARGET = "activity"


def _rotation(rng: np.random.Generator, scale_deg: float) -> np.ndarray:
    """A random rotation matrix with angles of about `scale_deg` degrees around each axis."""
    a, b, c = np.deg2rad(rng.normal(0, scale_deg, 3))
    rx = np.array([[1, 0, 0], [0, np.cos(a), -np.sin(a)], [0, np.sin(a), np.cos(a)]])
    ry = np.array([[np.cos(b), 0, np.sin(b)], [0, 1, 0], [-np.sin(b), 0, np.cos(b)]])
    rz = np.array([[np.cos(c), -np.sin(c), 0], [np.sin(c), np.cos(c), 0], [0, 0, 1]])
    return rz @ ry @ rx


def _gravity(pitch_deg: float, roll_deg: float) -> np.ndarray:
    """Gravity (in g) in the body frame (x forward, y left, z up) for a trunk pitched and rolled."""
    p, r = np.deg2rad(pitch_deg), np.deg2rad(roll_deg)
    return np.array([-np.sin(p), np.sin(r) * np.cos(p), np.cos(p) * np.cos(r)])


def _window(rng: np.random.Generator, activity: str, person: dict) -> np.ndarray:
    """(6, STEPS) body-frame signals of one activity, before the sensor's mounting rotation."""
    t = np.arange(STEPS) / RATE
    acc = np.zeros((3, STEPS))
    gyro = np.zeros((3, STEPS))
    phase = rng.uniform(0, 2 * np.pi)
    vigour = person["vigour"] * np.exp(rng.normal(0, 0.12))
    gait = {"walking": (1.0, 1.0, 0.0, 0.0), "upstairs": (0.86, 1.25, 0.35, 12.0),
            "downstairs": (1.08, 1.45, 0.9, -4.0), "running": (1.45, 2.9, 1.2, 8.0)}
    if activity in gait:
        cadence, amplitude, impulse, lean = gait[activity]
        f = person["cadence"] * cadence * np.exp(rng.normal(0, 0.04))
        a = 0.22 * amplitude * vigour
        w = 2 * np.pi * f * t + phase
        spikes = np.maximum(np.sin(w), 0) ** 6
        acc[2] = a * (np.sin(w) + 0.35 * np.sin(2 * w + 0.5)) + impulse * a * spikes
        acc[0] = 0.45 * a * np.sin(w + np.pi / 2 + (0.6 if activity == "upstairs" else 0.0))
        acc[1] = 0.25 * a * np.sin(0.5 * w)
        gyro[1] = 0.6 * a * np.cos(w) * (1.3 if activity == "downstairs" else 1.0)
        gyro[0] = 0.3 * a * np.cos(0.5 * w)
        gyro[2] = 0.15 * a * np.sin(0.5 * w + 1.0)
        pitch, roll = lean + rng.normal(0, 5), rng.normal(0, 3)
    elif activity == "cycling":
        f = rng.uniform(0.9, 1.4)
        w = 2 * np.pi * f * t + phase
        acc[1] = 0.08 * vigour * np.sin(w)
        acc[2] = 0.05 * vigour * np.sin(2 * w) + 0.03 * rng.standard_normal(STEPS)
        gyro[0] = 0.35 * vigour * np.sin(w + 0.3)
        pitch, roll = rng.normal(28, 8), rng.normal(0, 4)
    else:
        pitch, roll = {"sitting": (rng.normal(-18, 12), rng.normal(0, 6)),
                       "standing": (rng.normal(3, 7), rng.normal(0, 4)),
                       "lying": (rng.choice([-1, 1]) * rng.normal(82, 8), rng.normal(0, 25))}[activity]
        sway = 0.01 if activity == "lying" else 0.02
        acc += sway * np.cumsum(rng.standard_normal((3, STEPS)), axis=1) / np.sqrt(STEPS)
        gyro += 0.02 * rng.standard_normal((3, STEPS))
        if rng.random() < 0.15:  # a fidget: a short burst of movement
            start = int(rng.integers(0, STEPS - 10))
            acc[:, start:start + 10] += rng.normal(0, 0.12, (3, 1)) * np.hanning(10)
            gyro[:, start:start + 10] += rng.normal(0, 0.4, (3, 1)) * np.hanning(10)
    acc += _gravity(pitch, roll)[:, None]
    return np.vstack([acc, gyro])


def simulate(seed: int) -> tuple[pd.DataFrame, np.ndarray]:
    """Window table (id, subject, activity, split) and signals (n, 6, STEPS)."""
    rng = np.random.default_rng(seed)
    rows, signals = [], []
    subjects = [f"S{i + 1:02d}" for i in range(SUBJECTS_TRAIN + SUBJECTS_TEST)]
    test_subjects = set(rng.choice(subjects, SUBJECTS_TEST, replace=False).tolist())
    for subject in subjects:
        person = {"cadence": rng.normal(1.85, 0.14), "vigour": np.exp(rng.normal(0, 0.25)),
                  "mount": _rotation(rng, 22.0), "noise": rng.uniform(0.01, 0.04)}
        shares = rng.dirichlet(SHARES * 40)  # people do different amounts of each activity
        for _ in range(int(rng.integers(*WINDOWS_PER_SUBJECT))):
            activity = ACTIVITIES[rng.choice(len(ACTIVITIES), p=shares)]
            signal = _window(rng, activity, person)
            if rng.random() < 0.06:  # the window straddles a change of activity; the label is the longer part
                other = _window(rng, ACTIVITIES[rng.integers(len(ACTIVITIES))], person)
                cut = int(rng.integers(STEPS // 2 + 4, STEPS - 4))
                signal[:, cut:] = other[:, cut:]
            mount = person["mount"] @ _rotation(rng, 3.0)
            signal = np.vstack([mount @ signal[:3], mount @ signal[3:]])
            signal += rng.normal(0, person["noise"], signal.shape) * np.array([1, 1, 1, 3, 3, 3])[:, None]
            rows.append((subject, activity, "test" if subject in test_subjects else "train"))
            signals.append(signal)
    order = rng.permutation(len(rows))
    frame = pd.DataFrame([rows[i] for i in order], columns=["subject", TARGET, "split"])
    frame.insert(0, ID, [f"W{i + 1:05d}" for i in range(len(frame))])
    return frame, np.stack(signals)[order].astype(np.float32)


def _write(frame: pd.DataFrame, path: Path) -> None:
    frame.to_csv(path, index=False, lineterminator="\n")


def prepare(public_dir: Path, private_dir: Path, seed: int) -> None:
    """Write window tables, signal arrays and a sample submission (public), and the answers (private).

    `train_signals.npy` / `test_signals.npy` hold float32 arrays (windows, 64 samples, 6 channels)
    whose rows follow the rows of train.csv / test.csv.
    """
    frame, signals = simulate(seed)
    is_test = (frame["split"] == "test").to_numpy()
    train, test = frame[~is_test].drop(columns="split"), frame[is_test].drop(columns="split")
    _write(train, public_dir / "train.csv")
    _write(test.drop(columns=TARGET), public_dir / "test.csv")
    np.save(public_dir / "train_signals.npy", np.ascontiguousarray(signals[~is_test].transpose(0, 2, 1)))
    np.save(public_dir / "test_signals.npy", np.ascontiguousarray(signals[is_test].transpose(0, 2, 1)))
    _write(pd.DataFrame({ID: test[ID], TARGET: "walking"}), public_dir / "sample_submission.csv")
    _write(test[[ID, TARGET]], private_dir / "answers.csv")
    write_oracle(test[[ID, TARGET]], private_dir)  # no label noise: the generator's truth is the activity simulated
