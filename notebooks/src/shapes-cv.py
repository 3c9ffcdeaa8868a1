# %% [markdown]
# # Shapes in Clutter: a reference solution
#
# **Task.** Say which of ten symbols each 32x32 RGB image shows. **Metric:** accuracy.
#
# **What matters.** The symbol can sit anywhere, at any size and **any rotation**, on a cluttered
# background. So:
# * a convolutional network (it looks for local patterns anywhere), with global pooling at the end
#   so that *where* the symbol is does not matter;
# * the training images are rotated by multiples of 90 degrees and mirrored at random: every one of
#   the ten symbols is still the same symbol after that, so this multiplies the data for free;
# * at test time the prediction is averaged over the four rotations (test-time augmentation).
#
# The clutter lines have other colours than the symbol, so colour is kept (no grayscale), and each
# image is normalised by its own mean and spread, which evens out the uneven lighting.

# %% tags=["parameters"]
# nbdojo sets these itself when it replays or plays this notebook; the values here are for running it elsewhere.
DATA_DIR = "data"
WORKSPACE = "."
SUBMISSION_PATH = "submission.csv"
SEED = 0

# %%
import numpy as np
import pandas as pd
import torch
from PIL import Image

torch.set_num_threads(1)  # on 2 shared cores, two torch threads wait on each other more than they help
train = pd.read_csv(f"{DATA_DIR}/train.csv")
test = pd.read_csv(f"{DATA_DIR}/test.csv")
CLASSES = sorted(train["label"].unique())
y = train["label"].map({c: i for i, c in enumerate(CLASSES)}).to_numpy()


def load(ids: pd.Series, folder: str) -> np.ndarray:
    images = np.stack([np.asarray(Image.open(f"{DATA_DIR}/{folder}/{i}.png").convert("RGB")) for i in ids])
    x = images.astype(np.float32).transpose(0, 3, 1, 2) / 255.0  # (n, 3, 32, 32)
    return (x - x.mean(axis=(1, 2, 3), keepdims=True)) / (x.std(axis=(1, 2, 3), keepdims=True) + 1e-6)


X, X_test = load(train["id"], "train_images"), load(test["id"], "test_images")
print(X.shape, X_test.shape, dict(zip(CLASSES, np.bincount(y))))

# %% [markdown]
# ## Network and training
#
# Three double-convolution blocks (16, 32, 64 channels), global average pooling, dropout: narrow
# enough to train on two busy CPU cores in a few minutes (the second convolution of each block
# matters: a symbol is a shape made of strokes, two layers per scale see it far better than one).
# AdamW with a one-cycle schedule; each batch is rotated by a random multiple of 90 degrees and
# mirrored half of the time.

# %%
def make_net() -> torch.nn.Module:
    def block(i: int, o: int) -> torch.nn.Sequential:
        return torch.nn.Sequential(torch.nn.Conv2d(i, o, 3, padding=1), torch.nn.BatchNorm2d(o), torch.nn.ReLU(),
                                   torch.nn.Conv2d(o, o, 3, padding=1), torch.nn.BatchNorm2d(o), torch.nn.ReLU(),
                                   torch.nn.MaxPool2d(2))
    return torch.nn.Sequential(block(3, 16), block(16, 32), block(32, 64), torch.nn.AdaptiveAvgPool2d(1),
                               torch.nn.Flatten(), torch.nn.Dropout(0.2), torch.nn.Linear(64, len(CLASSES)))


def train_net(x: np.ndarray, labels: np.ndarray, epochs: int, seed: int) -> torch.nn.Module:
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    net = make_net()
    batch_size = 128
    opt = torch.optim.AdamW(net.parameters(), lr=4e-3, weight_decay=5e-4)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=4e-3,
                                                total_steps=epochs * ((len(x) + batch_size - 1) // batch_size))
    xt, yt = torch.tensor(x), torch.tensor(labels)
    for _ in range(epochs):
        net.train()
        order = rng.permutation(len(x))
        for start in range(0, len(x), batch_size):
            idx = order[start:start + batch_size]
            batch = torch.rot90(xt[idx], k=int(rng.integers(4)), dims=(2, 3))
            if rng.random() < 0.5:
                batch = torch.flip(batch, dims=(3,))
            loss = torch.nn.functional.cross_entropy(net(batch), yt[idx], label_smoothing=0.05)
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
    return net.eval()


def predict(net: torch.nn.Module, x: np.ndarray) -> np.ndarray:
    """Softmax averaged over the four 90-degree rotations."""
    out = np.zeros((len(x), len(CLASSES)))
    with torch.no_grad():
        for start in range(0, len(x), 1000):
            xt = torch.tensor(x[start:start + 1000])
            out[start:start + 1000] = np.mean(
                [torch.softmax(net(torch.rot90(xt, k=k, dims=(2, 3))), dim=1).numpy() for k in range(4)], axis=0)
    return out

# %% [markdown]
# ## One fit, checked on a held-out 10%
#
# To keep the notebook to a few minutes on a CPU, the network is trained once, on 90% of the images,
# scored on the other 10%, and that same network predicts the test (a refit on all images would add
# a tenth more data for twice the time).

# %%
EPOCHS = 3
hold = np.random.default_rng(SEED).permutation(len(X))[: len(X) // 10]
fit = np.setdiff1d(np.arange(len(X)), hold)
net = train_net(X[fit], y[fit], EPOCHS, SEED)
print(f"held-out accuracy {(predict(net, X[hold]).argmax(axis=1) == y[hold]).mean():.4f}")

# %%
submission = pd.DataFrame({"id": test["id"], "label": np.array(CLASSES)[predict(net, X_test).argmax(axis=1)]})
submission.to_csv(SUBMISSION_PATH, index=False)
print(submission["label"].value_counts().to_dict())
