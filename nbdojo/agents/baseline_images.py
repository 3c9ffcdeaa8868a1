"""The baseline's image cells: load the pictures small, train a small CNN on the CPU, write the submission.

A capped sample of train (resized to at most 32 pixels a side) keeps an episode within a
minute on two cores. The network is three conv-BN-ReLU-pool blocks and a linear head; it
learns one label (softmax), several independent labels (sigmoid) or a value (squared error).
"""

from __future__ import annotations

LOAD_IMAGES = r'''from PIL import Image  # Pillow: matplotlib's own image reader

MAX_FIT_IMAGES = 6_000


def load_images(paths, side):
    """uint8 array (n, side, side, channels): grey stays grey, anything else becomes RGB."""
    with Image.open(paths[0]) as first:
        mode = "L" if first.mode in ("1", "L", "I", "I;16", "F") else "RGB"
    out = np.empty((len(paths), side, side, 1 if mode == "L" else 3), dtype=np.uint8)
    for i, path in enumerate(paths):
        with Image.open(path) as image:
            image = image.convert(mode)
            if image.size != (side, side):
                image = image.resize((side, side), Image.BILINEAR)
            out[i] = np.asarray(image).reshape(side, side, -1)
    return out


with Image.open(train_images[0]) as first:
    SIDE = min(32, max(first.size))
rng = np.random.default_rng(random_state)
fit_rows = rng.permutation(fit_part)[:MAX_FIT_IMAGES]
held_rows = rng.permutation(held_part)[:MAX_FIT_IMAGES // 4]
images = load_images([train_images[i] for i in fit_rows], SIDE)
held_images = load_images([train_images[i] for i in held_rows], SIDE)
test_images_array = load_images(test_images, SIDE)
print(f"images at {SIDE}x{SIDE}x{images.shape[-1]}: {len(images):,} to fit, {len(held_images):,} held out, "
      f"{len(test_images_array):,} test")'''


CNN = r'''import torch
from torch import nn

torch.manual_seed(random_state)
MULTILABEL = len(Y_COLS) > 1 and not ONE_HOT
if MULTILABEL:
    classes = None
    y_all = train[Y_COLS].astype(float).to_numpy()
elif CLASSIFY and not ORDINAL:
    classes = np.array(sorted(target(Y_COLS[0]).dropna().unique()))
    y_all = np.searchsorted(classes, target(Y_COLS[0]).to_numpy())
else:
    classes = None
    y_all = to_fit(target(Y_COLS[0]).astype(float)).to_numpy()
    y_mean, y_std = y_all[labelled].mean(), y_all[labelled].std() + 1e-9
    y_all = (y_all - y_mean) / y_std
outputs = len(classes) if classes is not None else len(Y_COLS) if MULTILABEL else 1
channel_mean = images.reshape(-1, images.shape[-1]).mean(axis=0) / 255
channel_std = images.reshape(-1, images.shape[-1]).std(axis=0) / 255 + 1e-6


def tensor(batch):
    x = (batch.astype(np.float32) / 255 - channel_mean) / channel_std
    return torch.from_numpy(x.transpose(0, 3, 1, 2).astype(np.float32))


def block(cin, cout):
    return [nn.Conv2d(cin, cout, 3, padding=1), nn.BatchNorm2d(cout), nn.ReLU(), nn.MaxPool2d(2)]


net = nn.Sequential(*block(images.shape[-1], 16), *block(16, 32), *block(32, 64),
                    nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(64, outputs))
loss_fn = (nn.BCEWithLogitsLoss() if MULTILABEL else nn.CrossEntropyLoss() if classes is not None
           else nn.MSELoss())
EPOCHS, BATCH = 8, 64
optimizer = torch.optim.AdamW(net.parameters(), lr=3e-3, weight_decay=1e-4)
schedule = torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=3e-3, total_steps=EPOCHS * -(-len(images) // BATCH))
X_fit, y_fit = tensor(images), torch.as_tensor(y_all[fit_rows])
y_fit = y_fit.long() if classes is not None else y_fit.float().reshape(len(y_fit), -1)
for epoch in range(EPOCHS):
    net.train()
    order = torch.randperm(len(X_fit))
    total = 0.0
    for start in range(0, len(order), BATCH):
        take = order[start:start + BATCH]
        optimizer.zero_grad()
        loss = loss_fn(net(X_fit[take]), y_fit[take])
        loss.backward()
        optimizer.step()
        schedule.step()
        total += loss.item() * len(take)
    print(f"epoch {epoch + 1}: training loss {total / len(X_fit):.4f}")


class Network:
    """The trained net behind scikit-learn's predict / predict_proba, for one submission column."""

    def __init__(self, column=0):
        self.column, self.classes_ = column, classes if classes is not None else np.array([0, 1])

    def raw(self, batch):
        net.eval()
        with torch.no_grad():
            return torch.cat([net(tensor(batch[i:i + 512])) for i in range(0, len(batch), 512)]).numpy()

    def predict_proba(self, batch):
        out = self.raw(batch)
        if MULTILABEL:
            p = 1 / (1 + np.exp(-out[:, self.column]))
            return np.stack([1 - p, p], axis=1)
        return torch.softmax(torch.from_numpy(out), dim=1).numpy()

    def predict(self, batch):
        if classes is not None:
            return self.classes_[self.predict_proba(batch).argmax(axis=1)]
        return self.raw(batch)[:, 0] * y_std + y_mean


columns = SUBMIT[:1] if ONE_HOT else SUBMIT
scores = [holdout_score(target(learn).iloc[held_rows], written(Network(j), held_images, target(learn).dropna().unique()))
          for j, learn in enumerate(Y_COLS[:len(columns)])]
print(f"holdout {METRIC}: {np.mean(scores):.4f}")'''


WRITE_IMAGES = r'''submission = pd.DataFrame({ID: ids.to_numpy()})
for j, (col, learn) in enumerate(zip(columns, Y_COLS)):
    values = written(Network(j), test_images_array, target(learn).dropna().unique())
    if ONE_HOT:
        submission[list(SUBMIT)] = values
    else:
        submission[col] = values
submission = submission[sample.columns]
submission.to_csv(SUBMISSION_PATH, index=False)
print(submission.shape)
submission.head()'''
