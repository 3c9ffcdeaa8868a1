"""Build the land-cover competition: seeded 64x64 RGB "satellite" tiles of ten land-cover classes (JPEG).

In the spirit of EuroSAT, each tile shows one kind of land: annual crops (parallel field
strips), forest (dense crowns), herbaceous vegetation (mottled), highway (a straight paved
band), industrial (large roofs), pasture (smooth grass), permanent crops (orchard rows of
dots), residential (small houses along streets), river (a winding band of water) and
sea/lake (open water, sometimes a shore). Every tile gets its own season, haze, white
balance and sensor noise, so colour alone says little and the class lives in the
spatial structure: a CNN trained for several epochs on the 40,000 training tiles is
far better than anything on pixels or colour histograms, and a GPU makes that fast.
Rendered with numpy (vectorised over batches, threads in parallel) and saved as JPEG;
deterministic from the seed.
"""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pandas as pd
from PIL import Image

from nbdojo.competitions.prepare_kit import write_oracle

CLASSES = ("AnnualCrop", "Forest", "HerbaceousVegetation", "Highway", "Industrial", "Pasture", "PermanentCrop",
           "Residential", "River", "SeaLake")
N_TRAIN = 40_000
N_TEST = 10_000
SIZE = 64
BATCH = 500
QUALITY = 88
ID = "id"
TARGET = "land_cover"

_COORD = np.arange(SIZE, dtype=np.float32) + 0.5


def _upsample_matrix(low: int) -> np.ndarray:
    centres = (np.arange(SIZE) + 0.5) * low / SIZE - 0.5
    weights = np.maximum(0.0, 1.0 - np.abs(centres[:, None] - np.arange(low)[None, :]))
    return (weights / weights.sum(axis=1, keepdims=True)).astype(np.float32)


_UP = {cells: _upsample_matrix(cells) for cells in (2, 4, 8, 16, 32)}


def _noise(rng: np.random.Generator, n: int, cells: int, channels: int = 1) -> np.ndarray:
    """Smooth random field (n, SIZE, SIZE, channels), unit-ish variance, feature size SIZE / cells."""
    low = rng.standard_normal((n, channels, cells, cells), dtype=np.float32)
    up = _UP[cells]
    return np.ascontiguousarray((up @ low @ up.T).transpose(0, 2, 3, 1))


def _frame(rng: np.random.Generator, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Per-tile rotated coordinates (u, v), each (n, SIZE, SIZE), origin at a random point near the centre."""
    theta = rng.uniform(0, np.pi, (n, 1, 1)).astype(np.float32)
    cx, cy = (rng.uniform(16, 48, (2, n, 1, 1))).astype(np.float32)
    x, y = _COORD[None, None, :] - cx, _COORD[None, :, None] - cy
    return x * np.cos(theta) + y * np.sin(theta), -x * np.sin(theta) + y * np.cos(theta)


def _colour(rng: np.random.Generator, n: int, base: tuple[float, float, float], spread: float) -> np.ndarray:
    return np.clip(np.array(base, np.float32) + rng.normal(0, spread, (n, 1, 1, 3)), 0, 255).astype(np.float32)


def _blend(image: np.ndarray, mask: np.ndarray, colour: np.ndarray) -> np.ndarray:
    m = mask[..., None] if mask.ndim == 3 else mask
    return image * (1 - m) + colour * m


def _vegetation(rng: np.random.Generator, n: int) -> np.ndarray:
    """A generic green-brown ground (the background of roads, rivers, houses)."""
    base = _colour(rng, n, (95, 115, 70), 18)
    return base + 14 * _noise(rng, n, 8) + 6 * _noise(rng, n, 32)


def _hash(a: np.ndarray, b: np.ndarray, salt: np.ndarray) -> np.ndarray:
    """A cheap deterministic pseudo-random number in [0, 1) per lattice cell."""
    return np.mod(np.sin(a * 12.9898 + b * 78.233 + salt) * 43758.547, 1.0)


def _buildings(rng: np.random.Generator, n: int, image: np.ndarray, pitch: tuple[float, float],
               size: tuple[float, float], roofs: list[np.ndarray], occupancy: tuple[float, float]) -> np.ndarray:
    """Rectangular roofs on a rotated lattice (along streets), each cell built or not, roof colour per cell."""
    u, v = _frame(rng, n)
    pu, pv = rng.uniform(*pitch, (2, n, 1, 1)).astype(np.float32)
    hw, hh = (rng.uniform(*size, (2, n, 1, 1)).astype(np.float32) * np.minimum(pu, pv) / 2)
    salt = rng.uniform(0, 100, (n, 1, 1)).astype(np.float32)
    cu, cv = np.floor(u / pu), np.floor(v / pv)
    local_u, local_v = u - (cu + 0.5) * pu, v - (cv + 0.5) * pv
    h1, h2 = _hash(cu, cv, salt), _hash(cv, cu, salt + 1.0)
    built = h1 < rng.uniform(*occupancy, (n, 1, 1))
    inside = (np.abs(local_u + (h2 - 0.5) * pu * 0.2) <= hw * (0.7 + 0.6 * h2)) & (np.abs(local_v) <= hh) & built
    colour = np.zeros_like(image)
    pick = np.floor(h2 * len(roofs)).astype(int)
    for k, roof in enumerate(roofs):
        colour += (pick == k)[..., None] * roof
    return _blend(image, inside.astype(np.float32), colour)


def render_class(rng: np.random.Generator, kind: str, n: int) -> np.ndarray:
    """Float images (n, SIZE, SIZE, 3), roughly 0..255, of one class before the per-tile camera effects."""
    if kind == "AnnualCrop":
        u, _ = _frame(rng, n)
        width = rng.uniform(5, 13, (n, 1, 1)).astype(np.float32)
        strip = np.floor(u / width)
        palette = np.stack([_colour(rng, n, c, 20) for c in
                            ((120, 140, 60), (170, 150, 90), (110, 90, 60), (90, 130, 60))], axis=0)
        index = (np.abs(strip * 7 + rng.integers(0, 4, (n, 1, 1))) % 4).astype(int)
        image = np.zeros((n, SIZE, SIZE, 3), np.float32)
        for k in range(4):
            image += (index == k)[..., None] * palette[k]
        image += 10 * _noise(rng, n, 16) + 5 * _noise(rng, n, 32)
        edge = (np.abs(u / width - np.round(u / width)) < 0.06).astype(np.float32)
        return _blend(image, edge * 0.5, _colour(rng, n, (150, 140, 110), 10))
    if kind == "Forest":
        image = _colour(rng, n, (45, 75, 40), 12) + 10 * _noise(rng, n, 8)
        crowns = _noise(rng, n, 32, 1) + 0.6 * _noise(rng, n, 16, 1)
        return image + 22 * np.tanh(crowns)
    if kind == "HerbaceousVegetation":
        image = _colour(rng, n, (110, 120, 70), 18)
        texture = rng.uniform(7, 22, (n, 1, 1, 1)).astype(np.float32)
        return image + texture * _noise(rng, n, 16, 3) + 14 * _noise(rng, n, 4) + 8 * _noise(rng, n, 32)
    if kind == "Highway":
        image = _vegetation(rng, n)
        u, v = _frame(rng, n)
        v = v - rng.uniform(0, 4, (n, 1, 1)).astype(np.float32) * np.sin(
            2 * np.pi * u / rng.uniform(120, 250, (n, 1, 1)).astype(np.float32))
        width = rng.uniform(2.0, 5.0, (n, 1, 1)).astype(np.float32)
        road = np.clip(width + 0.5 - np.abs(v), 0, 1)
        image = _blend(image, road, _colour(rng, n, (115, 118, 120), 25))
        marking = (np.abs(v) < 0.5) & (np.mod(u, 6) < 3) & (rng.random((n, 1, 1)) < 0.6)
        image = _blend(image, marking.astype(np.float32) * 0.6, np.float32(220))
        side = np.clip(2.5 - np.abs(np.abs(v) - width - 2), 0, 1) * 0.35
        return _blend(image, side, _colour(rng, n, (150, 140, 120), 10))
    if kind == "Industrial":
        image = _colour(rng, n, (120, 118, 112), 15) + 8 * _noise(rng, n, 16)
        roofs = [_colour(rng, n, (175, 175, 180), 30), _colour(rng, n, (120, 140, 170), 30),
                 _colour(rng, n, (200, 200, 195), 20)]
        return _buildings(rng, n, image, (11, 24), (0.5, 0.9), roofs, (0.5, 0.9))
    if kind == "Pasture":
        image = _colour(rng, n, (105, 140, 70), 20)
        texture = rng.uniform(1, 9, (n, 1, 1, 1)).astype(np.float32)
        image = image + 10 * _noise(rng, n, 2) + 6 * _noise(rng, n, 4) + texture * _noise(rng, n, 16, 3)
        trees = (rng.random((n, SIZE, SIZE)) < 0.002).astype(np.float32)
        return _blend(image, trees, _colour(rng, n, (40, 65, 35), 8))
    if kind == "PermanentCrop":
        u, v = _frame(rng, n)
        period = rng.uniform(3.5, 6.5, (n, 1, 1)).astype(np.float32)
        vineyard = rng.random((n, 1, 1)) < 0.3  # continuous rows instead of single trees
        rows = (np.cos(2 * np.pi * u / period) > 0.2) & ((np.cos(2 * np.pi * v / (period * rng.uniform(
            0.8, 1.6, (n, 1, 1)).astype(np.float32))) > -0.2) | vineyard)
        image = _colour(rng, n, (140, 125, 90), 20) + 8 * _noise(rng, n, 8)
        return _blend(image, rows.astype(np.float32) * 0.8, _colour(rng, n, (70, 100, 50), 15))
    if kind == "Residential":
        image = _vegetation(rng, n) + 15
        _, v = _frame(rng, n)
        street = np.clip(1.6 - np.abs(np.mod(v, 16) - 8), 0, 1) * (rng.random((n, 1, 1)) < 0.7)
        image = _blend(image, street, _colour(rng, n, (135, 130, 125), 10))
        roofs = [_colour(rng, n, (160, 90, 75), 30), _colour(rng, n, (120, 115, 110), 25),
                 _colour(rng, n, (190, 150, 120), 25)]
        return _buildings(rng, n, image, (6, 13), (0.45, 0.8), roofs, (0.45, 0.85))
    if kind == "River":
        image = _vegetation(rng, n)
        u, v = _frame(rng, n)
        amplitude = rng.uniform(1.5, 12, (n, 1, 1)).astype(np.float32)
        wavelength = rng.uniform(40, 140, (n, 1, 1)).astype(np.float32)
        phase = rng.uniform(0, 2 * np.pi, (n, 1, 1)).astype(np.float32)
        width = rng.uniform(2.5, 6.0, (n, 1, 1)).astype(np.float32)
        offset = v - amplitude * np.sin(2 * np.pi * u / wavelength + phase)
        water = np.clip(width + 0.5 - np.abs(offset), 0, 1)
        bank = np.clip(1.5 - np.abs(np.abs(offset) - width - 1.5), 0, 1) * 0.5
        image = _blend(image, bank, _colour(rng, n, (140, 130, 100), 10))
        muddy = (rng.random((n, 1, 1, 1)) < 0.3) * np.float32(35)
        return _blend(image, water, _colour(rng, n, (65, 85, 100), 25) + muddy + 4 * _noise(rng, n, 16))
    if kind == "SeaLake":
        image = _colour(rng, n, (40, 70, 95), 18) + 5 * _noise(rng, n, 4) + 2 * _noise(rng, n, 32)
        u, _ = _frame(rng, n)
        shore = (u > rng.uniform(14, 60, (n, 1, 1))) & (rng.random((n, 1, 1)) < 0.35)
        return _blend(image, shore.astype(np.float32), _vegetation(rng, n))
    raise ValueError(kind)


def render(rng: np.random.Generator, labels: np.ndarray) -> np.ndarray:
    """uint8 tiles (n, SIZE, SIZE, 3) for the given label indices, with per-tile camera effects."""
    n = len(labels)
    image = np.zeros((n, SIZE, SIZE, 3), np.float32)
    for index, kind in enumerate(CLASSES):
        rows = np.flatnonzero(labels == index)
        if rows.size:
            image[rows] = render_class(rng, kind, rows.size)
    season = rng.normal(0, 1, (n, 1, 1, 1)).astype(np.float32)
    image += season * np.array([14, 4, -10], np.float32)  # greener in spring, browner in late summer
    gain = rng.uniform(0.86, 1.14, (n, 1, 1, 3)).astype(np.float32)
    haze = rng.uniform(0, 45, (n, 1, 1, 1)).astype(np.float32)
    brightness = rng.uniform(0.75, 1.25, (n, 1, 1, 1)).astype(np.float32)
    image = (image * gain * brightness) * (1 - haze / 255) + haze
    cloudy = rng.random((n, 1, 1, 1)) < 0.12
    cover = np.clip((_noise(rng, n, 4) - rng.uniform(-0.8, 0.8, (n, 1, 1, 1))) * 1.5, 0, 0.9) * cloudy
    image = _blend(image, cover.astype(np.float32), np.float32(235))
    image += rng.normal(0, 1, image.shape).astype(np.float32) * rng.uniform(2, 7, (n, 1, 1, 1)).astype(np.float32)
    return np.clip(np.rint(image), 0, 255).astype(np.uint8)


def _write(frame: pd.DataFrame, path: Path) -> None:
    frame.to_csv(path, index=False, lineterminator="\n")


def prepare(public_dir: Path, private_dir: Path, seed: int) -> None:
    """Write train/test tiles and CSVs (public) and the test labels (private) for `seed`."""
    n = N_TRAIN + N_TEST
    labels = np.random.default_rng(seed).integers(0, len(CLASSES), n)
    ids = [f"tile_{i + 1:05d}" for i in range(n)]
    is_test = np.zeros(n, dtype=bool)
    is_test[np.random.default_rng(seed + 1).permutation(n)[:N_TEST]] = True
    streams = np.random.SeedSequence(seed).spawn((n + BATCH - 1) // BATCH)
    folders = {False: public_dir / "train_images", True: public_dir / "test_images"}
    for folder in folders.values():
        folder.mkdir(parents=True, exist_ok=True)

    def build(batch: int) -> None:  # numpy and JPEG encoding release the GIL: threads run in parallel
        rows = range(batch * BATCH, min(n, (batch + 1) * BATCH))
        tiles = render(np.random.default_rng(streams[batch]), labels[rows.start:rows.stop])
        for i, tile in zip(rows, tiles, strict=True):
            Image.fromarray(tile, "RGB").save(folders[bool(is_test[i])] / f"{ids[i]}.jpg", quality=QUALITY)

    with ThreadPoolExecutor(max_workers=min(4, os.cpu_count() or 1)) as pool:
        list(pool.map(build, range(len(streams))))
    truth = pd.DataFrame({ID: ids, TARGET: np.array(CLASSES)[labels]})  # the land rendered, before the slips
    mislabelled = np.random.default_rng(seed + 2).random(n) < 0.02  # annotators' slips
    labels = np.where(mislabelled, np.random.default_rng(seed + 3).integers(0, len(CLASSES), n), labels)
    frame = pd.DataFrame({ID: ids, TARGET: np.array(CLASSES)[labels]})
    train, test = frame[~is_test], frame[is_test]
    _write(train, public_dir / "train.csv")
    _write(test[[ID]], public_dir / "test.csv")
    _write(pd.DataFrame({ID: test[ID], TARGET: "Forest"}), public_dir / "sample_submission.csv")
    _write(test, private_dir / "answers.csv")
    write_oracle(truth[is_test], private_dir)
