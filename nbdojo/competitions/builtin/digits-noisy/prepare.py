"""Build the digits-noisy competition: seeded pen-stroke handwriting as noisy 32x32 PNG scans.

No digit comes from a data set. Each is drawn here: a digit is a few pen strokes (lines and
arcs, with the common ways of writing it: a 1 with or without flag and base, an open or
closed 4, a 7 with or without a crossbar, ...) on a unit box. Each writer has a slant, a
width, a pen and a sloppiness, and favours one way of writing each digit; each digit
they write moves every stroke a little, warps the whole glyph smoothly and adds tremor, so
a sloppy hand gives digits that are hard to read (a 4 like a 9, a 7 like a 1). The glyph is
then scanned as before: rotated a little, placed at a random spot of a 32x32 canvas with
uneven lighting, pen-stroke clutter and sensor noise, now and then as a negative. Train
and test are written by different people. The digit moves around the canvas, so a linear
model on raw pixels does far worse than a small CNN. Deterministic from the seed.

Until this version the digits were scikit-learn's `load_digits`, which holds the test digits
with their labels in any Python that has scikit-learn, so the answers were within the
agent's reach; tests/test_leaks.py now holds every prepare.py to loading no data set.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from PIL import Image, ImageDraw, ImageFilter

from nbdojo.competitions.prepare_kit import write_oracle

SIZE = 32
GLYPH = 64  # the glyph is drawn at this size, then scanned at 16 to 26 pixels
TRAIN_WRITERS, TRAIN_DIGITS = 400, 12  # 4,800 training scans
TEST_WRITERS, TEST_DIGITS = 199, 6  # 1,194 test scans, by other writers
ID = "id"
TARGET = "digit"

Jitter = Callable[[float], float]
Strokes = list[np.ndarray]


def _arc(cx: float, cy: float, rx: float, ry: float, start: float, end: float, n: int = 24) -> np.ndarray:
    """Points along an ellipse from `start` to `end` degrees (0 is right, 90 is down: y grows downwards)."""
    t = np.deg2rad(np.linspace(start, end, n))
    return np.column_stack([cx + rx * np.cos(t), cy + ry * np.sin(t)])


def _line(*points: tuple[float, float]) -> np.ndarray:
    return np.array(points, dtype=float)


def _zero(j: Jitter) -> Strokes:
    return [_arc(0.5 + j(.03), 0.5, 0.3 + j(.05), 0.44, -95 + j(20), 268 + j(15), 40)]


def _one(j: Jitter) -> Strokes:
    return [_line((0.5 + j(.05), 0.06), (0.5 + j(.05), 0.95))]


def _one_flag(j: Jitter) -> Strokes:
    return [_line((0.3 + j(.06), 0.28 + j(.06)), (0.52, 0.05), (0.52 + j(.04), 0.95))]


def _one_base(j: Jitter) -> Strokes:
    return [_line((0.3 + j(.05), 0.26 + j(.05)), (0.52, 0.05), (0.52, 0.95)),
            _line((0.3 + j(.05), 0.95), (0.74 + j(.05), 0.95))]


def _two(j: Jitter) -> Strokes:
    return [np.vstack([_arc(0.5, 0.3 + j(.03), 0.28 + j(.04), 0.24 + j(.03), 195 + j(15), 370 + j(15), 20),
                       _line((0.2 + j(.06), 0.93), (0.84 + j(.06), 0.93 + j(.03)))])]


def _two_loop(j: Jitter) -> Strokes:
    return [np.vstack([_arc(0.5, 0.3, 0.27 + j(.03), 0.24, 195 + j(15), 390, 20), _line((0.3 + j(.04), 0.8)),
                       _arc(0.3, 0.86, 0.09, 0.07, 270, 540, 10), _line((0.82 + j(.05), 0.92))])]


def _three(j: Jitter) -> Strokes:
    return [np.vstack([_arc(0.47 + j(.03), 0.28, 0.27 + j(.03), 0.22, -155 + j(15), 95, 18),
                       _arc(0.47 + j(.03), 0.72, 0.31 + j(.03), 0.23, -95, 155 + j(15), 20)])]


def _four_open(j: Jitter) -> Strokes:
    return [_line((0.33 + j(.06), 0.05), (0.2 + j(.05), 0.6 + j(.05)), (0.86 + j(.05), 0.6 + j(.04))),
            _line((0.66 + j(.05), 0.3 + j(.08)), (0.64 + j(.05), 0.96))]


def _four_closed(j: Jitter) -> Strokes:
    return [_line((0.68 + j(.05), 0.96), (0.68 + j(.04), 0.05), (0.14 + j(.05), 0.66 + j(.05)), (0.88 + j(.05), 0.66))]


def _five(j: Jitter) -> Strokes:
    return [_line((0.8 + j(.05), 0.06 + j(.03)), (0.33 + j(.04), 0.06)),
            np.vstack([_line((0.33, 0.06), (0.28 + j(.04), 0.46 + j(.04))),
                       _arc(0.5 + j(.03), 0.69, 0.31 + j(.03), 0.25, -140 + j(10), 150 + j(15), 22)])]


def _six(j: Jitter) -> Strokes:
    return [np.vstack([_line((0.72 + j(.06), 0.05), (0.42 + j(.04), 0.27 + j(.05))),
                       _arc(0.5 + j(.03), 0.7, 0.26 + j(.03), 0.24 + j(.03), 195 + j(15), 540 + j(15), 32)])]


def _seven(j: Jitter) -> Strokes:
    return [_line((0.16 + j(.05), 0.1 + j(.04)), (0.84 + j(.05), 0.07), (0.42 + j(.08), 0.96))]


def _seven_bar(j: Jitter) -> Strokes:
    return [*_seven(j), _line((0.35 + j(.05), 0.52 + j(.05)), (0.75 + j(.05), 0.5 + j(.05)))]


def _eight(j: Jitter) -> Strokes:
    return [_arc(0.5 + j(.03), 0.27, 0.21 + j(.03), 0.21, j(40), 365 + j(40), 30),
            _arc(0.5 + j(.03), 0.71, 0.26 + j(.03), 0.24, j(40), 365 + j(40), 30)]


def _eight_stroke(j: Jitter) -> Strokes:
    start = -30 + j(15)
    top = _arc(0.5, 0.28, 0.22 + j(.03), 0.22, start, -270, 20)
    return [np.vstack([top, _arc(0.5, 0.71, 0.26 + j(.03), 0.24, -90, 270, 24), top[:1]])]


def _nine(j: Jitter) -> Strokes:
    return [_arc(0.5 + j(.03), 0.3, 0.25 + j(.03), 0.22 + j(.03), -20 + j(15), 350, 30),
            _line((0.74 + j(.03), 0.28), (0.7 + j(.07), 0.96))]


def _nine_hook(j: Jitter) -> Strokes:
    return [np.vstack([_arc(0.5, 0.3, 0.25 + j(.03), 0.22, j(10), 360, 30), _line((0.75, 0.35), (0.72 + j(.05), 0.7)),
                       _arc(0.52, 0.72, 0.2, 0.22, 0, 140, 10)])]


#: The ways of writing each digit (allographs); a writer keeps to one of them per digit.
ALLOGRAPHS: dict[int, tuple[Callable[[Jitter], Strokes], ...]] = {
    0: (_zero,), 1: (_one, _one_flag, _one_base), 2: (_two, _two_loop), 3: (_three,), 4: (_four_open, _four_closed),
    5: (_five,), 6: (_six,), 7: (_seven, _seven_bar), 8: (_eight, _eight_stroke), 9: (_nine, _nine_hook),
}


@dataclass(frozen=True)
class Writer:
    slant: float
    aspect: float
    width: float
    sloppiness: float
    hands: tuple[int, ...]  # which allograph of each digit

    @classmethod
    def draw(cls, rng: np.random.Generator) -> Writer:
        return cls(slant=float(rng.normal(0.12, 0.12)), aspect=float(rng.uniform(0.65, 1.05)),
                   width=float(rng.uniform(0.06, 0.12)), sloppiness=float(np.exp(rng.normal(0.0, 0.4))),
                   hands=tuple(int(rng.integers(len(ALLOGRAPHS[d]))) for d in range(10)))


def glyph(rng: np.random.Generator, digit: int, writer: Writer) -> np.ndarray:
    """One handwritten digit, ink in [0, 1] on a GLYPH x GLYPH box with a margin."""
    sloppy = writer.sloppiness * float(np.exp(rng.normal(0.0, 0.25)))

    def jitter(scale: float) -> float:
        return float(rng.normal(0.0, scale * sloppy))

    strokes = ALLOGRAPHS[digit][writer.hands[digit]](jitter)
    slant = writer.slant + rng.normal(0, 0.04)
    aspect = writer.aspect * rng.uniform(0.93, 1.07)
    freq, phase = rng.uniform(1.0, 2.5, 2), rng.uniform(0, 2 * np.pi, 2)
    bend = rng.uniform(0.0, 0.04, 2) * sloppy
    width = max(1, round(writer.width * GLYPH * rng.uniform(0.85, 1.15)))
    margin = GLYPH * 0.12
    image = Image.new("L", (GLYPH, GLYPH), 0)
    draw = ImageDraw.Draw(image)
    for points in strokes:
        points = points + rng.normal(0, 0.008, points.shape)  # tremor
        x, y = points[:, 0], points[:, 1]
        x, y = (x + bend[0] * np.sin(freq[0] * np.pi * y + phase[0]),
                y + bend[1] * np.sin(freq[1] * np.pi * x + phase[1]))
        x = 0.5 + (x - 0.5) * aspect + slant * (0.5 - y)
        pixels = np.column_stack([margin + x * (GLYPH - 2 * margin), margin + y * (GLYPH - 2 * margin)])
        draw.line([tuple(p) for p in pixels.tolist()], fill=255, width=width, joint="curve")
        for cx, cy in (pixels[0], pixels[-1]):  # round pen ends
            draw.ellipse([cx - width / 2, cy - width / 2, cx + width / 2, cy + width / 2], fill=255)
    return np.asarray(image.filter(ImageFilter.GaussianBlur(1.0)), dtype=np.float32) / 255.0


def scan(rng: np.random.Generator, ink: np.ndarray) -> np.ndarray:
    """One noisy 32x32 uint8 scan of a glyph (ink in [0, 1])."""
    side = int(rng.integers(16, 27))
    glyph_image = Image.fromarray(np.rint(ink * 255).astype(np.uint8), "L").resize((side, side), Image.BILINEAR)
    glyph_image = glyph_image.rotate(float(rng.uniform(-18, 18)), resample=Image.BILINEAR, expand=True)
    ink = np.asarray(glyph_image, dtype=np.float32) / 255.0
    ink = ink[: SIZE, : SIZE]
    h, w = ink.shape
    top, left = int(rng.integers(0, SIZE - h + 1)), int(rng.integers(0, SIZE - w + 1))
    canvas = np.zeros((SIZE, SIZE), dtype=np.float32)
    canvas[top:top + h, left:left + w] = ink * rng.uniform(0.55, 1.0)

    clutter = Image.new("L", (SIZE, SIZE), 0)
    draw = ImageDraw.Draw(clutter)
    for _ in range(int(rng.integers(0, 3))):
        x0, y0 = rng.uniform(0, SIZE, 2)
        x1, y1 = np.array([x0, y0]) + rng.normal(0, 8, 2)
        draw.line([(float(x0), float(y0)), (float(x1), float(y1))], fill=int(rng.integers(90, 200)), width=1)
    canvas = np.maximum(canvas, np.asarray(clutter, dtype=np.float32) / 255.0)

    yy, xx = np.mgrid[0:SIZE, 0:SIZE] / SIZE
    light = rng.uniform(0.05, 0.35) + rng.normal(0, 0.12) * xx + rng.normal(0, 0.12) * yy
    paper, pen = rng.uniform(0.55, 0.95), rng.uniform(0.0, 0.25)
    image = paper - light * 0.5 + (pen - paper) * canvas
    image += rng.normal(0, rng.uniform(0.03, 0.10), image.shape)
    if rng.random() < 0.15:  # a negative scan: light ink on dark paper
        image = 1.0 - image
    return np.clip(np.rint(image * 255), 0, 255).astype(np.uint8)


def _write(frame: pd.DataFrame, path: Path) -> None:
    frame.to_csv(path, index=False, lineterminator="\n")


def plan(rng: np.random.Generator) -> pd.DataFrame:
    """Who writes which digit, in a random order (ids say nothing about the digit, the writer or the split)."""
    rows = []
    for part, writers, each in (("train", TRAIN_WRITERS, TRAIN_DIGITS), ("test", TEST_WRITERS, TEST_DIGITS)):
        first = 0 if part == "train" else TRAIN_WRITERS
        for writer in range(first, first + writers):
            rows += [(part, writer, int(d)) for d in rng.integers(0, 10, each)]
    frame = pd.DataFrame(rows, columns=["part", "writer", TARGET]).iloc[rng.permutation(len(rows))]
    frame[ID] = [f"D{i + 1:05d}" for i in range(len(frame))]
    return frame.reset_index(drop=True)


def prepare(public_dir: Path, private_dir: Path, seed: int) -> None:
    """Write train/test scans and CSVs (public) and the test digits (private) for `seed`."""
    rng = np.random.default_rng(seed)
    writers = [Writer.draw(rng) for _ in range(TRAIN_WRITERS + TEST_WRITERS)]
    frame = plan(rng)
    for part in ("train", "test"):
        (public_dir / f"{part}_images").mkdir(parents=True, exist_ok=True)
    for name, part, writer, digit in zip(frame[ID], frame["part"], frame["writer"], frame[TARGET], strict=True):
        pixels = scan(rng, glyph(rng, int(digit), writers[writer]))
        Image.fromarray(pixels, "L").save(public_dir / f"{part}_images" / f"{name}.png")
    train, test = frame[frame["part"] == "train"], frame[frame["part"] == "test"]
    _write(train[[ID, TARGET]], public_dir / "train.csv")
    _write(test[[ID]], public_dir / "test.csv")
    _write(pd.DataFrame({ID: test[ID], TARGET: 0}), public_dir / "sample_submission.csv")
    _write(test[[ID, TARGET]], private_dir / "answers.csv")
    write_oracle(test[[ID, TARGET]], private_dir)  # no label noise: the generator's truth is the digit written
