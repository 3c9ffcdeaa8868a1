"""Building blocks for competition-specific reference ladders (`competitions/<id>/reference.py`).

The generic tabular ladder (`nbdojo.competitions.ladder`) fits a table of features. Image, text and
signal competitions need other recipes (pixels, tf-idf, small CNNs), so such a
competition ships a `reference.py` with `rungs(data) -> list[nbdojo.competitions.ladder.Rung]`, each
rung a whole solution (`Rung.submit(data)` returns the submission frame), and
`nbdojo.competitions.ladder.build_ladder` scores each exactly as an agent's file is scored. These are
reference ladders of seeded solutions, not Kaggle's human leaderboards.

`Ladder` caches each rung's predictions (class probabilities, label-column
probabilities or values) so ensembles can average earlier rungs without refitting.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from nbdojo.competitions import CompetitionData
from nbdojo.competitions.ladder import Rung

logger = logging.getLogger(__name__)

__all__ = [
    "CNNConfig", "Ladder", "TextFeatures", "add_classic_image_rungs", "add_cnn_rung", "add_searched_rungs",
    "fraction_rows", "load_images",
    "orientation_features", "predict_cnn", "predict_signal_cnn", "train_cnn", "train_signal_cnn",
]

def fraction_rows(n: int, fraction: float, seed: int, minimum: int = 50) -> np.ndarray:
    """A seeded, sorted sample of row indices (all rows when `fraction` is 1)."""
    if fraction >= 1.0:
        return np.arange(n)
    k = min(n, max(minimum, int(round(fraction * n))))
    return np.sort(np.random.default_rng(seed).permutation(n)[:k])


class Ladder:
    """Collects rungs whose predictions are cached by name (ensembles reuse them).

    `kind` is how a prediction becomes a submission:
    - "label": class probabilities (n, k) -> the most probable of `classes` in `target`;
    - "columns": probabilities (n, k) -> one column per name in `classes` (multi-label);
    - "value": values (n,) -> `target`.
    """

    def __init__(self, data: CompetitionData, ids: Sequence[str], classes: Sequence[object] = (),
                 kind: str = "label") -> None:
        if kind not in ("label", "columns", "value"):
            raise ValueError(f"unknown ladder kind {kind!r}")
        self.spec = data.spec
        self.ids = list(ids)
        self.classes = list(classes)
        self.kind = kind
        self._makers: dict[str, Callable[[], np.ndarray]] = {}
        self._cache: dict[str, np.ndarray] = {}
        self.models: dict[object, object] = {}  # trained models shared between rungs (e.g. with and without TTA)
        self.rungs: list[Rung] = []

    def prediction(self, name: str) -> np.ndarray:
        if name not in self._cache:
            self._cache[name] = np.asarray(self._makers[name](), dtype=float)
        return self._cache[name]

    def frame(self, prediction: np.ndarray) -> pd.DataFrame:
        id_column = self.spec.id_column
        if self.kind == "columns":
            out = pd.DataFrame(np.clip(prediction, 0.0, 1.0).round(6), columns=self.classes)
            out.insert(0, id_column, self.ids)
            return out
        target = self.spec.target_columns[0]
        if self.kind == "value":
            return pd.DataFrame({id_column: self.ids, target: prediction})
        labels = np.asarray(self.classes, dtype=object)[np.argmax(prediction, axis=1)]
        return pd.DataFrame({id_column: self.ids, target: labels})

    def add(self, name: str, method: str, predict: Callable[[], np.ndarray], *, fraction: float = 1.0,
            seed: int = 0) -> None:
        """A rung whose `predict()` returns its (cached) prediction for the test rows."""
        if name in self._makers:
            raise ValueError(f"duplicate rung {name!r}")
        self._makers[name] = predict
        self.rungs.append(Rung(name, method, fraction=fraction, seed=seed,
                               submit=lambda _data: self.frame(self.prediction(name))))

    def blend(self, name: str, parts: Sequence[str], weights: Sequence[float] | None = None) -> None:
        """The (weighted) mean of earlier rungs' predictions."""
        w = np.asarray(weights if weights is not None else np.ones(len(parts)), dtype=float)
        w = w / w.sum()
        self.add(name, f"ensemble: mean of {', '.join(parts)}",
                 lambda: sum(wi * self.prediction(p) for wi, p in zip(w, parts, strict=True)))

    def one_hot(self, labels: Sequence[object]) -> np.ndarray:
        """Class labels as (n, k) probabilities, for rungs that predict labels only."""
        index = {c: i for i, c in enumerate(self.classes)}
        out = np.zeros((len(labels), len(self.classes)))
        out[np.arange(len(labels)), [index[label] for label in labels]] = 1.0
        return out


# --------------------------------------------------------------------------- images


def load_images(folder: Path, ids: Sequence[str], suffix: str = ".png") -> np.ndarray:
    """uint8 array (n, H, W, 3) of the images `<folder>/<id><suffix>`, in the order of `ids`."""
    from PIL import Image

    first = np.asarray(Image.open(folder / f"{ids[0]}{suffix}").convert("RGB"))
    out = np.empty((len(ids), *first.shape), dtype=np.uint8)
    for i, name in enumerate(ids):
        with Image.open(folder / f"{name}{suffix}") as image:
            out[i] = np.asarray(image.convert("RGB"))
    return out


@dataclass(frozen=True)
class CNNConfig:
    """A small VGG-style network: `widths` conv blocks (conv-BN-ReLU x2, max-pool), then a linear head."""

    widths: tuple[int, ...] = (32, 64, 128)
    epochs: int = 4
    batch_size: int = 128
    lr: float = 3e-3
    weight_decay: float = 5e-4
    augment: bool = False  # random flips and 90-degree turns (for rotation-invariant classes)
    shift: int = 0  # random translations of up to this many pixels
    dropout: float = 0.0
    output: str = "softmax"  # "softmax" (one label) or "sigmoid" (independent labels) or "linear" (a value)


def _network(config: CNNConfig, channels: int, outputs: int):  # -> torch.nn.Module
    import torch.nn as nn

    layers: list[nn.Module] = []
    width_in = channels
    for width in config.widths:
        layers += [
            nn.Conv2d(width_in, width, 3, padding=1, bias=False), nn.BatchNorm2d(width), nn.ReLU(inplace=True),
            nn.Conv2d(width, width, 3, padding=1, bias=False), nn.BatchNorm2d(width), nn.ReLU(inplace=True),
            nn.MaxPool2d(2),
        ]
        width_in = width
    layers += [nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Dropout(config.dropout), nn.Linear(width_in, outputs)]
    return nn.Sequential(*layers)


def _to_tensor(images: np.ndarray):  # -> torch.Tensor
    import torch

    x = torch.from_numpy(np.ascontiguousarray(images))
    if x.ndim == 3:
        x = x.unsqueeze(-1)
    return x.permute(0, 3, 1, 2).float().div_(255.0).sub_(0.5).div_(0.25)


def _augment(x, config: CNNConfig, generator):  # -> torch.Tensor
    import torch

    if config.augment:
        if torch.rand(1, generator=generator).item() < 0.5:
            x = x.flip(3)
        x = torch.rot90(x, int(torch.randint(0, 4, (1,), generator=generator).item()), dims=(2, 3))
    if config.shift:
        dx, dy = (int(v) for v in torch.randint(-config.shift, config.shift + 1, (2,), generator=generator))
        x = torch.roll(x, shifts=(dy, dx), dims=(2, 3))
    return x


def _fit(model, x, y, config: CNNConfig, seed: int, augment: Callable | None = None):  # -> torch.nn.Module
    """AdamW with a one-cycle schedule over `config.epochs` epochs of seeded mini-batches."""
    import torch
    import torch.nn.functional as F

    optimizer = torch.optim.AdamW(model.parameters(), lr=config.lr, weight_decay=config.weight_decay)
    steps = config.epochs * ((len(x) + config.batch_size - 1) // config.batch_size)
    schedule = torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=config.lr, total_steps=max(steps, 1))
    generator = torch.Generator().manual_seed(seed)
    model.train()
    for _ in range(config.epochs):
        order = torch.randperm(len(x), generator=generator)
        for start in range(0, len(x), config.batch_size):
            batch = order[start:start + config.batch_size]
            inputs = augment(x[batch], generator) if augment else x[batch]
            out = model(inputs)
            if config.output == "softmax":
                loss = F.cross_entropy(out, y[batch])
            elif config.output == "sigmoid":
                loss = F.binary_cross_entropy_with_logits(out, y[batch])
            else:
                loss = F.smooth_l1_loss(out, y[batch])
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            schedule.step()
    model.eval()
    model.config = config  # type: ignore[attr-defined]
    return model


def _targets(targets: np.ndarray, config: CNNConfig, outputs: int | None):  # -> (torch.Tensor, int)
    import torch

    if config.output == "softmax":
        y = torch.from_numpy(np.array(targets, dtype=np.int64))
        return y, outputs or int(y.max()) + 1
    y = torch.from_numpy(np.array(targets, dtype=np.float32))
    y = y.unsqueeze(1) if y.ndim == 1 else y
    return y, y.shape[1]


def _seed_and_threads(seed: int, threads: int | None) -> None:
    import torch

    torch.manual_seed(seed)
    if threads:  # None: leave torch's setting (the leaderboard script sets it from --threads)
        torch.set_num_threads(threads)


def train_cnn(images: np.ndarray, targets: np.ndarray, config: CNNConfig, *, seed: int, threads: int | None = None,
              outputs: int | None = None):  # -> torch.nn.Module
    """Train a small CNN on uint8 images (n, H, W[, C]) with integer classes, 0/1 label columns or values."""
    _seed_and_threads(seed, threads)
    x = _to_tensor(images)
    y, outputs = _targets(targets, config, outputs)
    return _fit(_network(config, x.shape[1], outputs), x, y, config, seed,
                lambda batch, generator: _augment(batch, config, generator))


def predict_cnn(model, images: np.ndarray, *, batch_size: int = 512, tta: bool = False) -> np.ndarray:
    """Probabilities (softmax / sigmoid) or values; `tta` averages over flips and 90-degree turns."""
    import torch

    config: CNNConfig = model.config
    outs = []
    with torch.no_grad():
        for start in range(0, len(images), batch_size):
            x = _to_tensor(images[start:start + batch_size])
            views = [x]
            if tta:
                views = [torch.rot90(v, k, dims=(2, 3)) for v in (x, x.flip(3)) for k in range(4)]
            outs.append(_activate(torch.stack([model(v) for v in views]).float(), config).numpy())
    result = np.concatenate(outs)
    return result[:, 0] if config.output == "linear" and result.shape[1] == 1 else result


def _activate(logits, config: CNNConfig):  # (views, n, k) -> (n, k)
    if config.output == "softmax":
        return logits.softmax(-1).mean(0)
    if config.output == "sigmoid":
        return logits.sigmoid().mean(0)
    return logits.mean(0)


def _signal_network(config: CNNConfig, channels: int, outputs: int):  # -> torch.nn.Module
    import torch.nn as nn

    layers: list[nn.Module] = []
    width_in = channels
    for width in config.widths:
        layers += [nn.Conv1d(width_in, width, 5, padding=2, bias=False), nn.BatchNorm1d(width), nn.ReLU(inplace=True),
                   nn.Conv1d(width, width, 5, padding=2, bias=False), nn.BatchNorm1d(width), nn.ReLU(inplace=True),
                   nn.MaxPool1d(2)]
        width_in = width
    layers += [nn.AdaptiveAvgPool1d(1), nn.Flatten(), nn.Dropout(config.dropout), nn.Linear(width_in, outputs)]
    return nn.Sequential(*layers)


def train_signal_cnn(signals: np.ndarray, targets: np.ndarray, config: CNNConfig, *, seed: int,
                     threads: int | None = None, outputs: int | None = None):  # -> torch.nn.Module
    """Train a 1-D CNN on float signals (n, steps, channels), standardised per channel on the training rows."""
    import torch

    _seed_and_threads(seed, threads)
    mean, std = signals.mean(axis=(0, 1)), signals.std(axis=(0, 1)) + 1e-6
    x = torch.from_numpy(np.ascontiguousarray(((signals - mean) / std).transpose(0, 2, 1), dtype=np.float32))
    y, outputs = _targets(targets, config, outputs)

    def shift(batch, generator):
        if not config.shift:
            return batch
        return torch.roll(batch, int(torch.randint(-config.shift, config.shift + 1, (1,), generator=generator)), 2)

    model = _fit(_signal_network(config, x.shape[1], outputs), x, y, config, seed, shift)
    model.scaling = (mean, std)  # type: ignore[attr-defined]
    return model


def predict_signal_cnn(model, signals: np.ndarray) -> np.ndarray:
    import torch

    mean, std = model.scaling
    x = torch.from_numpy(np.ascontiguousarray(((signals - mean) / std).transpose(0, 2, 1), dtype=np.float32))
    with torch.no_grad():
        return _activate(model(x).float()[None], model.config).numpy()


def orientation_features(images: np.ndarray, cells: int = 4, bins: int = 8) -> np.ndarray:
    """A small HOG-like descriptor: gradient-orientation histograms over a cells x cells grid, plus colour means."""
    gray = images.astype(np.float32).mean(axis=-1) if images.ndim == 4 else images.astype(np.float32)
    gy, gx = np.gradient(gray, axis=(1, 2))
    magnitude = np.hypot(gx, gy)
    angle = np.mod(np.arctan2(gy, gx), np.pi)
    index = np.minimum((angle / np.pi * bins).astype(int), bins - 1)
    n, h, w = gray.shape
    ch, cw = h // cells, w // cells
    feats = np.zeros((n, cells, cells, bins), dtype=np.float32)
    for b in range(bins):
        m = (magnitude * (index == b))[:, : ch * cells, : cw * cells]
        feats[..., b] = m.reshape(n, cells, ch, cells, cw).sum(axis=(2, 4))
    feats /= feats.sum(axis=(1, 2, 3), keepdims=True) + 1e-6
    colour = images.reshape(n, -1, images.shape[-1]).mean(axis=1) / 255.0 if images.ndim == 4 else np.zeros((n, 0))
    return np.concatenate([feats.reshape(n, -1), colour], axis=1)


# --------------------------------------------------------------------------- standard rungs


def _downscale(images: np.ndarray, size: int, gray: bool) -> np.ndarray:
    """Box-filtered (n, size, size[, 3]) float32 copies in [0, 1] (for pixel-based classic models)."""
    n, h, w, c = images.shape
    fh, fw = h // size, w // size
    x = images[:, : fh * size, : fw * size].astype(np.float32).reshape(n, size, fh, size, fw, c).mean(axis=(2, 4))
    if gray:
        x = x.mean(axis=-1)
    return (x / 255.0).reshape(n, -1)


def add_classic_image_rungs(ladder: Ladder, X: np.ndarray, y: np.ndarray, Xt: np.ndarray, *, pixels: int = 16,
                            seed: int = 0, search: bool = True, search_rows: int | None = None) -> None:
    """Dummy, colour, pixel and gradient-histogram rungs (no deep learning), weakest first; with `search`,
    the classic grid of `add_searched_rungs` over the four feature sets too.

    `y` holds class indices into `ladder.classes`; every rung predicts class probabilities.
    """
    from sklearn.decomposition import PCA
    from sklearn.ensemble import HistGradientBoostingClassifier, RandomForestClassifier
    from sklearn.linear_model import LogisticRegression
    from sklearn.neighbors import KNeighborsClassifier
    from sklearn.neural_network import MLPClassifier
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    k = len(ladder.classes)
    features: dict[str, tuple[np.ndarray, np.ndarray]] = {}

    def feats(name: str) -> tuple[np.ndarray, np.ndarray]:
        if name not in features:
            if name == "colour":
                make = lambda a: np.concatenate([a.reshape(len(a), -1, a.shape[-1]).mean(1),  # noqa: E731
                                                 a.reshape(len(a), -1, a.shape[-1]).std(1)], axis=1) / 255.0
            elif name == "gray":
                make = lambda a: _downscale(a, pixels, gray=True)  # noqa: E731
            elif name == "rgb":
                make = lambda a: _downscale(a, pixels // 2, gray=False)  # noqa: E731
            else:
                make = orientation_features
            features[name] = (make(X), make(Xt))
        return features[name]

    def fitted(make_model: Callable[[], object], feature: str, fraction: float = 1.0, rung_seed: int = seed):
        def predict() -> np.ndarray:
            train, test = feats(feature)
            rows = fraction_rows(len(y), fraction, rung_seed)
            model = make_model()
            model.fit(train[rows], y[rows])
            proba = np.zeros((len(test), k))
            proba[:, model.classes_] = model.predict_proba(test)
            return proba
        return predict

    prior = np.bincount(y, minlength=k) / len(y)
    ladder.add("majority_class", "the most frequent training label for every image",
               lambda: np.tile(prior, (len(Xt), 1)))
    ladder.add("random_labels", "uniformly random labels",
               lambda: np.random.default_rng(seed).random((len(Xt), k)), seed=seed)
    logistic = lambda: make_pipeline(StandardScaler(), LogisticRegression(max_iter=100, tol=1e-3, C=0.5))  # noqa: E731
    ladder.add("colour_statistics_logistic", "logistic regression on per-channel colour means and spreads",
               fitted(logistic, "colour"))
    ladder.add("gray_pixels_logistic_10pct", f"logistic regression on {pixels}x{pixels} gray pixels, 10% of train",
               fitted(logistic, "gray", 0.1), fraction=0.1)
    ladder.add("gray_pixels_logistic", f"logistic regression on {pixels}x{pixels} gray pixels",
               fitted(logistic, "gray"))
    channels = "RGB" if X.ndim == 4 and X.shape[-1] == 3 else "gray"
    ladder.add("coarse_pixels_logistic", f"logistic regression on {pixels // 2}x{pixels // 2} {channels} pixels",
               fitted(logistic, "rgb"))
    ladder.add("gray_pixels_knn", "k-nearest neighbours (k=7) on PCA(40) of gray pixels",
               fitted(lambda: make_pipeline(PCA(40, random_state=seed), KNeighborsClassifier(7)), "gray"))
    ladder.add("gray_pixels_forest", "random forest (60 trees) on gray pixels",
               fitted(lambda: RandomForestClassifier(60, min_samples_leaf=2, max_features="sqrt", n_jobs=2,
                                                     random_state=seed), "gray"))
    ladder.add("gradient_histograms_logistic", "logistic regression on gradient-orientation histograms (HOG-like)",
               fitted(logistic, "hog"))
    hgb = lambda: HistGradientBoostingClassifier(max_iter=100, learning_rate=0.15, max_leaf_nodes=15,  # noqa: E731
                                                 random_state=seed)
    ladder.add("gradient_histograms_boosting_20pct", "gradient boosting on HOG-like features, 20% of train",
               fitted(hgb, "hog", 0.2), fraction=0.2)
    ladder.add("gradient_histograms_boosting", "gradient boosting on HOG-like features", fitted(hgb, "hog"))
    ladder.add("gradient_histograms_mlp", "MLP (256 units) on HOG-like features",
               fitted(lambda: make_pipeline(StandardScaler(), MLPClassifier((256,), max_iter=40, early_stopping=True,
                                                                           random_state=seed)), "hog"))
    if search:
        add_searched_rungs(ladder, lambda make, kind, fraction, rung_seed: fitted(make, kind, fraction, rung_seed),
                           ("colour", "gray", "rgb", "hog"), seed=seed + 10, rows=len(y), max_rows=search_rows)


def add_searched_rungs(ladder: Ladder, fitted: Callable[..., Callable[[], np.ndarray]], kinds: Sequence[str], *,
                       seed: int = 10, rows: int = 0, max_rows: int | None = None) -> None:
    """A grid of classic classifiers per feature set: settings x shares of train x seeds (a leaderboard's middle).

    `fitted(make_model, kind, fraction, seed)` returns a rung's predict function (class probabilities);
    `rows` (the training rows) keeps the slower models (neighbours, forests) to about 10,000 rows, and
    `max_rows` scales every share down so that no model fits on more rows than that (big image sets).
    """
    from sklearn.ensemble import HistGradientBoostingClassifier, RandomForestClassifier
    from sklearn.linear_model import LogisticRegression
    from sklearn.naive_bayes import GaussianNB
    from sklearn.neighbors import KNeighborsClassifier
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    capped = min(0.5, 10_000 / rows) if rows else 0.5
    scale = min(1.0, max_rows / rows) if max_rows and rows else 1.0

    def add(name: str, method: str, make: Callable[[], object], kind: str, fraction: float, rung_seed: int) -> None:
        if scale < 1.0:
            fraction = round(fraction * scale, 5)
            name = f"{name}_of{round(scale * 100)}pct"
        share = f"{fraction:.0%}" if scale == 1.0 else f"{fraction:.2%}"
        ladder.add(name, f"{method} on {kind} features, {share} of train", fitted(make, kind, fraction, rung_seed),
                   fraction=fraction, seed=rung_seed)

    for kind in kinds:
        add(f"{kind}_gaussian_nb", "Gaussian naive Bayes", GaussianNB, kind, 1.0, seed)
        for c in (0.01, 0.1, 1.0):
            for fraction in (0.05, 0.2, 1.0):
                add(f"{kind}_logistic_c{c:g}_{fraction * 100:g}pct", f"logistic regression (C {c:g})",
                    lambda c=c: make_pipeline(StandardScaler(), LogisticRegression(C=c, max_iter=200, tol=1e-3)),
                    kind, fraction, seed + 1)
        for k in (3, 10, 30):
            add(f"{kind}_knn_k{k}", f"{k}-nearest neighbours (scaled)",
                lambda k=k: make_pipeline(StandardScaler(), KNeighborsClassifier(k)), kind, capped, seed + 2)
        for fraction in (0.05, 0.2, capped):
            add(f"{kind}_forest_{fraction * 100:g}pct", "random forest (40 trees)",
                lambda: RandomForestClassifier(40, min_samples_leaf=2, max_features="sqrt", n_jobs=1,
                                               random_state=seed), kind, fraction, seed + 3)
        for fraction in (0.02, 0.05, 0.1, 0.25):
            for lr in (0.1, 0.3):
                add(f"{kind}_boosting_lr{lr:g}_{fraction * 100:g}pct", f"gradient boosting (lr {lr:g}, 60 rounds)",
                    lambda lr=lr: HistGradientBoostingClassifier(max_iter=60, learning_rate=lr, max_leaf_nodes=15,
                                                                 random_state=seed), kind, fraction, seed + 4)


def add_cnn_rung(ladder: Ladder, name: str, X: np.ndarray, y: np.ndarray, Xt: np.ndarray, config: CNNConfig, *,
                 fraction: float = 1.0, seed: int = 0, tta: bool = False, threads: int | None = None) -> None:
    """A small CNN trained on a seeded `fraction` of the training images (one training per config, fraction, seed)."""
    key = (config, fraction, seed)

    def predict() -> np.ndarray:
        if key not in ladder.models:
            rows = fraction_rows(len(X), fraction, seed)
            ladder.models[key] = train_cnn(X[rows], y[rows], config, seed=seed, threads=threads,
                                           outputs=len(ladder.classes) if config.output == "softmax" else None)
        return predict_cnn(ladder.models[key], Xt, tta=tta)

    widths = "-".join(map(str, config.widths))
    extras = (", flip/rotate augmentation" if config.augment else "") + (", test-time augmentation" if tta else "")
    method = f"CNN {widths}, {config.epochs} epochs on {fraction:.0%} of train{extras}"
    ladder.add(name, method, predict, fraction=fraction, seed=seed)


# --------------------------------------------------------------------------- text


class TextFeatures:
    """Bag-of-words matrices of train and test text, built once per kind and cached.

    Kinds: "counts" (word counts), "words" (tf-idf, unigrams), "bigrams" (tf-idf, 1-2 grams),
    "chars" (tf-idf, character 2-5 grams within word bounds: robust to typos), "svd" (100
    LSA components of "bigrams").
    """

    def __init__(self, train: Sequence[str], test: Sequence[str], seed: int = 0) -> None:
        self.train_text, self.test_text, self.seed = list(train), list(test), seed
        self._built: dict[str, tuple[object, object]] = {}

    def __call__(self, kind: str) -> tuple[object, object]:
        from sklearn.feature_extraction.text import CountVectorizer, TfidfVectorizer

        if kind not in self._built:
            if kind == "svd":
                from sklearn.decomposition import TruncatedSVD

                train, test = self("bigrams")
                svd = TruncatedSVD(100, random_state=self.seed)
                self._built[kind] = (svd.fit_transform(train), svd.transform(test))
            else:
                vectorizer = {
                    "counts": lambda: CountVectorizer(min_df=2),
                    "words": lambda: TfidfVectorizer(min_df=2, sublinear_tf=True),
                    "bigrams": lambda: TfidfVectorizer(min_df=2, ngram_range=(1, 2), sublinear_tf=True,
                                                       max_features=200_000),
                    "chars": lambda: TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 5), min_df=3,
                                                     sublinear_tf=True, max_features=300_000),
                }[kind]()
                self._built[kind] = (vectorizer.fit_transform(self.train_text), vectorizer.transform(self.test_text))
        return self._built[kind]
