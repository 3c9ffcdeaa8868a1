"""Build the shapes-cv competition: seeded renderings of ten shape classes as PNG files.

Each 32x32 RGB image holds one shape (circle, ring, triangle, square, hexagon, star,
cross, arrow, crescent, heart) at a random position, size, rotation, aspect and colour,
on a gradient background with line and dot clutter and pixel noise. Shapes are
rasterised with 2x2 supersampling (antialiased edges), vectorised over batches, so the
whole set is rebuilt offline, byte for byte, from the seed alone. The shape moves
around the frame, so a linear model on raw pixels does poorly; a small CNN does well.
"""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pandas as pd
from PIL import Image

from nbdojo.competitions.prepare_kit import write_oracle

CLASSES = ("circle", "ring", "triangle", "square", "hexagon", "star", "cross", "arrow", "crescent", "heart")
N_TRAIN = 20_000
N_TEST = 5_000
SIZE = 32
SS = 2  # supersampling factor
BATCH = 1_000
ID = "id"
TARGET = "label"


def _polygon(u: np.ndarray, v: np.ndarray, radii: np.ndarray) -> np.ndarray:
    """Inside test for a star-shaped polygon with vertices at equal angles and the given radii."""
    n = len(radii)
    phi = np.mod(np.arctan2(v, u), 2 * np.pi)
    r = np.hypot(u, v)
    step = 2 * np.pi / n
    k = np.minimum((phi // step).astype(int), n - 1)
    a0, a1 = k * step, (k + 1) * step
    r0, r1 = radii[k], radii[(k + 1) % n]
    ax, ay = r0 * np.cos(a0), r0 * np.sin(a0)
    ex, ey = r1 * np.cos(a1) - ax, r1 * np.sin(a1) - ay
    dx, dy = np.cos(phi), np.sin(phi)
    edge = (ax * ey - ay * ex) / (dx * ey - dy * ex)
    return r <= edge


def _inside(kind: str, u: np.ndarray, v: np.ndarray) -> np.ndarray:
    """Whether each point (u, v), in the shape's own unit frame, lies inside the shape."""
    r2 = u * u + v * v
    if kind == "circle":
        return r2 <= 0.85
    if kind == "ring":
        return (r2 <= 1.0) & (r2 >= 0.36)
    if kind == "triangle":
        return _polygon(u, v, np.ones(3) * 1.1)
    if kind == "square":
        return (np.abs(u) <= 0.72) & (np.abs(v) <= 0.72)
    if kind == "hexagon":
        return _polygon(u, v, np.ones(6) * 0.95)
    if kind == "star":
        return _polygon(u, v, np.tile([1.1, 0.45], 5))
    if kind == "cross":
        return ((np.abs(u) <= 0.28) & (np.abs(v) <= 1.0)) | ((np.abs(v) <= 0.28) & (np.abs(u) <= 1.0))
    if kind == "arrow":
        shaft = (np.abs(v) <= 0.2) & (u >= -1.0) & (u <= 0.15)
        head = (u >= 0.15) & (u <= 1.0) & (np.abs(v) <= 0.62 * (1.0 - u) / 0.85)
        return shaft | head
    if kind == "crescent":
        return (r2 <= 1.0) & ((u - 0.45) ** 2 + v * v >= 0.72)
    if kind == "heart":
        x, y = u * 1.25, -v * 1.25 + 0.25
        return (x * x + y * y - 1.0) ** 3 - x * x * y**3 <= 0.0
    raise ValueError(kind)


def _upsample_matrix(low: int, high: int) -> np.ndarray:
    """Linear interpolation weights from `low` to `high` samples (rows sum to 1)."""
    centres = (np.arange(high) + 0.5) * low / high - 0.5
    weights = np.maximum(0.0, 1.0 - np.abs(centres[:, None] - np.arange(low)[None, :]))
    return (weights / weights.sum(axis=1, keepdims=True)).astype(np.float32)


_UPSAMPLE = _upsample_matrix(4, SIZE)


def _downsample(mask: np.ndarray) -> np.ndarray:
    """Coverage per output pixel (the mean of its SS x SS samples)."""
    b, h, w = mask.shape
    return mask.reshape(b, h // SS, SS, w // SS, SS).mean(axis=(2, 4), dtype=np.float32)


def _segments(rng: np.random.Generator, n: int, gx: np.ndarray, gy: np.ndarray, count: int) -> np.ndarray:
    """Coverage of `count` random line segments per image (clutter), antialiased by distance."""
    cover = np.zeros((n, *gx.shape), dtype=np.float32)
    for _ in range(count):
        p = rng.uniform(-4, SIZE + 4, (n, 2, 1, 1)).astype(np.float32)
        q = p + rng.normal(0, 9, (n, 2, 1, 1)).astype(np.float32)
        width = rng.uniform(0.3, 1.0, (n, 1, 1)).astype(np.float32)
        px, py, qx, qy = p[:, 0], p[:, 1], q[:, 0], q[:, 1]
        ex, ey = qx - px, qy - py
        rx, ry = gx - px, gy - py
        t = np.clip((rx * ex + ry * ey) / (ex * ex + ey * ey + 1e-6), 0, 1)
        rx -= t * ex
        ry -= t * ey
        np.maximum(cover, np.clip(width + 0.5 - np.sqrt(rx * rx + ry * ry), 0, 1), out=cover)
    return cover


def _blend(image: np.ndarray, alpha: np.ndarray, colour: np.ndarray) -> np.ndarray:
    alpha = alpha[..., None]
    return image * (1 - alpha) + colour * alpha


def render(rng: np.random.Generator, labels: np.ndarray) -> np.ndarray:
    """uint8 images (n, SIZE, SIZE, 3) for the given label indices."""
    n = len(labels)
    fine = ((np.arange(SIZE * SS) + 0.5) / SS).astype(np.float32)
    gy, gx = np.meshgrid(fine, fine, indexing="ij")
    coarse = np.arange(SIZE, dtype=np.float32) + 0.5
    cy_, cx_ = np.meshgrid(coarse, coarse, indexing="ij")

    # Background: a linear gradient between two colours plus a blotchy 4x4 field.
    c0 = rng.uniform(0, 255, (n, 1, 1, 3)).astype(np.float32)
    c1 = np.clip(c0 + rng.normal(0, 50, (n, 1, 1, 3)), 0, 255).astype(np.float32)
    angle = rng.uniform(0, 2 * np.pi, (n, 1, 1)).astype(np.float32)
    ramp = ((cx_ - SIZE / 2) * np.cos(angle) + (cy_ - SIZE / 2) * np.sin(angle)) / SIZE + 0.5
    image = c0 + (c1 - c0) * ramp[..., None]
    blotch = rng.normal(0, 18, (n, 4, 4, 3)).astype(np.float32)
    image += np.einsum("yi,nijc,xj->nyxc", _UPSAMPLE, blotch, _UPSAMPLE, optimize=True)

    # Clutter behind the shape.
    image = _blend(image, _segments(rng, n, cx_, cy_, 2), rng.uniform(0, 255, (n, 1, 1, 3)))

    # The shape: position, size, rotation, aspect, colour far enough from the background.
    scale = rng.uniform(6.0, 12.0, (n, 1, 1)).astype(np.float32)
    margin = scale[:, 0, 0] * 0.8
    cx = rng.uniform(margin, SIZE - margin)[:, None, None].astype(np.float32)
    cy = rng.uniform(margin, SIZE - margin)[:, None, None].astype(np.float32)
    theta = rng.uniform(0, 2 * np.pi, (n, 1, 1)).astype(np.float32)
    aspect = np.exp(rng.normal(0, 0.12, (n, 1, 1))).astype(np.float32)
    dx, dy = gx - cx, gy - cy
    u = (dx * np.cos(theta) + dy * np.sin(theta)) / (scale * aspect)
    v = (-dx * np.sin(theta) + dy * np.cos(theta)) * aspect / scale
    mask = np.zeros((n, *gx.shape), dtype=bool)
    for index, kind in enumerate(CLASSES):
        rows = labels == index
        if rows.any():
            mask[rows] = _inside(kind, u[rows], v[rows])
    sign = np.where(image.mean(axis=(1, 2, 3)) > 128, -1.0, 1.0)[:, None, None, None]
    contrast = sign * rng.uniform(70, 150, (n, 1, 1, 1)) + rng.normal(0, 35, (n, 1, 1, 3))
    colour = image.mean(axis=(1, 2), keepdims=True) + contrast
    image = _blend(image, _downsample(mask), np.clip(colour, 0, 255))

    # Clutter in front: thin lines and dots that may cross the shape.
    front = _segments(rng, n, cx_, cy_, 1)
    dots = rng.uniform(0, SIZE, (n, 2, 2)).astype(np.float32)
    radius = rng.uniform(0.6, 1.6, (n, 2)).astype(np.float32)
    for j in range(2):
        dist = np.hypot(cx_ - dots[:, j, 0, None, None], cy_ - dots[:, j, 1, None, None])
        np.maximum(front, np.clip(radius[:, j, None, None] + 0.5 - dist, 0, 1), out=front)
    image = _blend(image, front, rng.uniform(0, 255, (n, 1, 1, 3)))

    image += rng.normal(0, 6, image.shape)
    return np.clip(np.rint(image), 0, 255).astype(np.uint8)


def _write_images(images: np.ndarray, ids: list[str], folder: Path) -> None:
    for pixels, name in zip(images, ids, strict=True):
        Image.fromarray(pixels, "RGB").save(folder / f"{name}.png", compress_level=6)


def _write(frame: pd.DataFrame, path: Path) -> None:
    frame.to_csv(path, index=False, lineterminator="\n")


def prepare(public_dir: Path, private_dir: Path, seed: int) -> None:
    """Write train/test images and CSVs (public) and the test labels (private) for `seed`."""
    n = N_TRAIN + N_TEST
    labels = np.random.default_rng(seed).integers(0, len(CLASSES), n)
    ids = [f"S{i + 1:05d}" for i in range(n)]
    order = np.random.default_rng(seed + 1).permutation(n)
    is_test = np.zeros(n, dtype=bool)
    is_test[order[:N_TEST]] = True
    streams = np.random.SeedSequence(seed).spawn((n + BATCH - 1) // BATCH)

    def build(batch: int) -> None:  # numpy and PNG encoding release the GIL: threads run in parallel
        rows = slice(batch * BATCH, min(n, (batch + 1) * BATCH))
        images = render(np.random.default_rng(streams[batch]), labels[rows])
        for part, flag in (("train_images", False), ("test_images", True)):
            keep = is_test[rows] == flag
            _write_images(images[keep], [i for i, k in zip(ids[rows], keep, strict=True) if k], public_dir / part)

    for part in ("train_images", "test_images"):
        (public_dir / part).mkdir(parents=True, exist_ok=True)
    with ThreadPoolExecutor(max_workers=min(4, os.cpu_count() or 1)) as pool:
        list(pool.map(build, range(len(streams))))
    names = np.array(CLASSES)[labels]
    frame = pd.DataFrame({ID: ids, TARGET: names})
    train, test = frame[~is_test], frame[is_test]
    _write(train, public_dir / "train.csv")
    _write(test[[ID]], public_dir / "test.csv")
    _write(pd.DataFrame({ID: test[ID], TARGET: "circle"}), public_dir / "sample_submission.csv")
    _write(test, private_dir / "answers.csv")
    write_oracle(test, private_dir)  # no label noise: the generator's truth is the shape drawn
