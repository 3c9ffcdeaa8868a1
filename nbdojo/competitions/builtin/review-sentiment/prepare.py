"""Build the review-sentiment competition: seeded product reviews with a star rating (1-5).

Each review comes from a small generative story: a product (category, aspects), a hidden
satisfaction that sets the star rating, and per-aspect opinions scattered around it.
Opinions are written from templates with graded vocabulary, negation ("not bad", "isn't
great"), contrast ("..., but ..."; the clause after "but" weighs more), sarcasm-like
reversals of positive words ("Oh great, it died after two days."), neutral filler,
hedges, shouting, and typos. A title sometimes disagrees with the body, and a few
ratings are noisy (people click the wrong star). Deterministic from the seed.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from nbdojo.competitions.prepare_kit import write_oracle

N_TRAIN = 40_000
N_TEST = 10_000
ID = "id"
TARGET = "rating"
RATING_SHARES = np.array([0.11, 0.08, 0.13, 0.26, 0.42])

CATEGORIES = {
    "electronics": ["battery life", "screen", "sound", "build quality", "charging", "the app", "connectivity",
                    "setup", "the remote", "the buttons"],
    "kitchen": ["the lid", "the handle", "heat distribution", "the non-stick coating", "cleanup", "the blade",
                "the motor", "the size", "the finish", "the timer"],
    "clothing": ["the fit", "the fabric", "the stitching", "the colour", "the sizing", "the zipper", "comfort",
                 "the length", "the pockets", "breathability"],
    "books": ["the plot", "the characters", "the writing", "the pacing", "the ending", "the print quality",
              "the translation", "the illustrations", "the dialogue", "the research"],
    "toys": ["durability", "the instructions", "the pieces", "the paint", "the batteries", "the box",
             "the sound effects", "assembly", "the colours", "the size"],
    "beauty": ["the scent", "the texture", "the packaging", "the pump", "absorption", "the colour",
               "the bottle", "the consistency", "longevity", "the applicator"],
}
SERVICE = ["delivery", "the packaging", "customer service", "the price", "the return process", "shipping"]

# Opinion words by strength: -2 very negative ... +2 very positive.
ADJ = {
    -2: ["terrible", "awful", "useless", "horrible", "a complete joke", "garbage", "dreadful", "pathetic"],
    -1: ["disappointing", "flimsy", "poor", "mediocre", "underwhelming", "not up to par", "cheap-feeling", "meh"],
    0: ["okay", "fine", "average", "acceptable", "nothing special", "as expected", "decent enough", "alright"],
    1: ["good", "solid", "nice", "pretty good", "well made", "pleasant", "reliable", "handy"],
    2: ["excellent", "amazing", "fantastic", "superb", "outstanding", "perfect", "brilliant", "flawless"],
}
NEGATED = {  # "not X" phrases and the strength they really carry
    -1: ["not great", "not as good as I hoped", "not worth it", "not very sturdy", "not what I expected"],
    0: ["not bad", "not terrible", "not amazing but not awful either"],
    1: ["not bad at all", "not disappointing in the slightest", "nothing to complain about"],
}
INTENSIFIERS = {1: ["really", "very", "quite", "super", "fairly", "rather"], 2: ["absolutely", "truly", "simply"]}
SARCASM = [
    "Oh great, it stopped working after {n} days.",
    "Just what I needed, another {thing} that breaks on day one.",
    "Fantastic, {aspect} fell apart the first time I used it.",
    "Wonderful experience if you enjoy waiting {n} weeks for a refund.",
    "Love how {aspect} gave up after a week. Truly amazing quality.",
    "Five stars for teaching me patience, zero for {aspect}.",
    "Brilliant design, if the goal was to make {aspect} useless.",
]
FILLER = [
    "I bought this as a gift for my {who}.", "I have been using it for about {n} weeks now.",
    "Ordered it on a {day}.", "This is my second one.", "I saw it recommended online.",
    "My {who} picked the colour.", "I use it almost every day.", "I compared a few brands before buying.",
    "It replaced an older model I had for years.", "I was in a hurry when I ordered.",
    "Bought it during a sale.", "Arrived on {day}.", "We have two kids and a dog, for context.",
]
WHO = ["wife", "husband", "son", "daughter", "mom", "dad", "friend", "sister", "brother", "coworker"]
DAYS = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"]
CLOSERS = {
    -2: ["Avoid.", "Returning it.", "Save your money.", "Never again.", "Do not buy."],
    -1: ["Probably returning it.", "Would not buy again.", "Expected more.", "Can't recommend it."],
    0: ["It does the job.", "Might keep it.", "Fine for the price.", "Take it or leave it."],
    1: ["Would recommend.", "Happy with it.", "Good value.", "I'd buy it again."],
    2: ["Highly recommend!", "Love it!", "Best purchase this year.", "Buy it, you won't regret it!"],
}
TITLES = {
    -2: ["Terrible", "Waste of money", "Broke immediately", "Do not buy", "Junk"],
    -1: ["Disappointed", "Meh", "Not worth it", "Could be better", "Expected more"],
    0: ["It's okay", "Average", "Mixed feelings", "Does the job", "Fine I guess"],
    1: ["Good product", "Pretty good", "Solid", "Happy", "Nice"],
    2: ["Love it!", "Excellent", "Perfect", "Amazing!!", "Five stars"],
}
TEMPLATES = [
    "{Aspect} {is} {adj}.", "{Aspect} {is} {int} {adj}.", "I found {aspect} {adj}.", "Honestly, {aspect} {is} {adj}.",
    "{Aspect}? {Adj}.", "As for {aspect}, {adj}.", "{Aspect} turned out {adj}.", "{Aspect} {is} {int} {adj}.",
]


def _level(score: float) -> int:
    return int(np.clip(np.rint(score), -2, 2))


def _typos(text: str, rng: np.random.Generator, rate: float) -> str:
    words = text.split(" ")
    for i, word in enumerate(words):
        if len(word) > 3 and rng.random() < rate:
            j = int(rng.integers(1, len(word) - 1))
            kind = rng.integers(0, 3)
            if kind == 0:
                word = word[:j] + word[j + 1:]
            elif kind == 1:
                word = word[:j] + word[j + 1] + word[j] + word[j + 2:] if j + 1 < len(word) else word
            else:
                word = word[:j] + word[j] + word[j:]
            words[i] = word
    return " ".join(words)


def _opinion(rng: np.random.Generator, aspect: str, strength: float) -> str:
    """One sentence about `aspect` carrying `strength` (-2..2), sometimes through a negation."""
    level = _level(strength)
    if level in NEGATED and rng.random() < 0.22:
        adj = NEGATED[level][rng.integers(len(NEGATED[level]))]
    else:
        adj = ADJ[level][rng.integers(len(ADJ[level]))]
    template = TEMPLATES[rng.integers(len(TEMPLATES))]
    words = INTENSIFIERS.get(abs(level), [])
    if "{int}" in template and (not words or " " in adj or adj in ("perfect", "flawless", "useless", "meh")):
        template = "{Aspect} {is} {adj}."
    intensity = words[rng.integers(len(words))] if words else ""
    last = aspect.split()[-1]
    verb = "are" if last.endswith("s") and not last.endswith(("ss", "ics")) else "is"
    return template.format(aspect=aspect, Aspect=aspect[0].upper() + aspect[1:], adj=adj,
                           Adj=adj[0].upper() + adj[1:], int=intensity, **{"is": verb})


def review(rng: np.random.Generator, rating: int) -> tuple[str, str, str]:
    """(category, title, text) of one review whose writer gives `rating` stars."""
    category = list(CATEGORIES)[rng.integers(len(CATEGORIES))]
    aspects = list(rng.permutation(CATEGORIES[category]))
    mood = (rating - 3) * 0.9 + rng.normal(0, 0.35)  # the writer's overall feeling
    sentences = []
    for aspect in aspects[: int(rng.integers(1, 5))]:
        sentences.append(_opinion(rng, aspect, mood + rng.normal(0, 1.1)))
    if rng.random() < 0.35:
        service = SERVICE[rng.integers(len(SERVICE))]
        sentences.append(_opinion(rng, service, rng.normal(0.3, 1.3)))  # about the shop, not the product
    if rating <= 2 and rng.random() < 0.25:
        sentences.append(SARCASM[rng.integers(len(SARCASM))].format(
            n=int(rng.integers(2, 9)), thing=category.rstrip("s") + " gadget", aspect=aspects[0]))
    if rng.random() < 0.3:  # contrast: the clause after "but" is what the writer means
        first = _opinion(rng, aspects[-1], -mood + rng.normal(0, 0.5)).rstrip(".")
        second = _opinion(rng, aspects[-2], mood + 0.5 * np.sign(mood)).rstrip(".")
        sentences.append(f"{first}, but {second[0].lower() + second[1:]}.")
    for _ in range(int(rng.poisson(1.0))):
        sentences.insert(int(rng.integers(0, len(sentences) + 1)), FILLER[rng.integers(len(FILLER))].format(
            who=WHO[rng.integers(len(WHO))], n=int(rng.integers(2, 12)), day=DAYS[rng.integers(len(DAYS))]))
    if rng.random() < 0.6:
        closer = CLOSERS[_level(mood + rng.normal(0, 0.5))]
        sentences.append(closer[rng.integers(len(closer))])
    text = " ".join(sentences)
    if abs(mood) > 1.6 and rng.random() < 0.12:
        text = text.upper()
    elif rng.random() < 0.2:
        text = text.lower()
    if rating in (1, 5) and rng.random() < 0.3:
        text = text.rstrip(".!") + "!!!"
    text = _typos(text, rng, rate=float(rng.choice([0.0, 0.02, 0.06], p=[0.5, 0.35, 0.15])))
    title_level = _level(mood + rng.normal(0, 0.8))
    title = TITLES[title_level][rng.integers(len(TITLES[title_level]))]
    return category, title, text


def simulate(seed: int, n: int = N_TRAIN + N_TEST) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    ratings = rng.choice(np.arange(1, 6), size=n, p=RATING_SHARES)
    rows = [review(rng, int(r)) for r in ratings]
    frame = pd.DataFrame(rows, columns=["category", "title", "text"])
    intended = ratings  # the stars the writer meant: the oracle's labels
    slip = rng.random(n) < 0.04  # a wrong click on the stars: one off
    ratings = np.where(slip, np.clip(ratings + rng.choice([-1, 1], n), 1, 5), ratings)
    frame["helpful_votes"] = rng.poisson(np.where(np.abs(ratings - 3) == 2, 2.0, 0.8))
    frame[TARGET] = ratings
    frame["_oracle"] = intended  # never published
    frame.insert(0, ID, [f"R{i + 1:06d}" for i in range(n)])
    return frame


def _write(frame: pd.DataFrame, path: Path) -> None:
    frame.to_csv(path, index=False, lineterminator="\n")


def prepare(public_dir: Path, private_dir: Path, seed: int) -> None:
    """Write train/test/sample_submission (public) and answers (private) for `seed`."""
    frame = simulate(seed)
    oracle = frame.pop("_oracle")
    is_test = np.zeros(len(frame), dtype=bool)
    is_test[np.random.default_rng(seed + 1).choice(len(frame), size=N_TEST, replace=False)] = True
    train, test = frame[~is_test], frame[is_test]
    _write(train, public_dir / "train.csv")
    _write(test.drop(columns=TARGET), public_dir / "test.csv")
    _write(pd.DataFrame({ID: test[ID], TARGET: 5}), public_dir / "sample_submission.csv")
    _write(test[[ID, TARGET]], private_dir / "answers.csv")
    write_oracle(pd.DataFrame({ID: test[ID], TARGET: oracle[is_test]}), private_dir)
