"""Build the ticket-routing competition: support tickets routed to one or more teams (multi-label).

Every ticket holds one to three issues, each owned by a team (billing, account, technical,
shipping, security, cancellation), written from templates whose vocabularies overlap on
purpose ("charge" is billing or a charging cable, "password" is account or security,
"order" is shipping, billing or cancellation). Writers also mention things that are fine
("the payment went through, but ..."), add greetings, order numbers, signatures and
typos, and agents sometimes route a ticket to a neighbouring team (label noise). The
labels are the teams the ticket was routed to. Deterministic from the seed.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from nbdojo.competitions.prepare_kit import write_oracle

N_TRAIN = 24_000
N_TEST = 8_000
ID = "id"
TEAMS = ("billing", "account", "technical", "shipping", "security", "cancellation")
PRODUCTS = ["the Aero router", "my Pulse watch", "the Nimbus app", "the Vela speaker", "my Orbit tablet",
            "the Lumo camera", "the Quill e-reader", "my Terra thermostat", "the Helix earbuds", "the Dash charger"]

ISSUES = {
    "billing": [
        "I was charged twice for {order}.", "There is a charge of ${amount} on my card that I don't recognise.",
        "My invoice for {month} shows the wrong amount.", "The discount code was not applied to my payment.",
        "Can you explain the extra fee on my last bill?", "I was billed for the premium plan but I'm on basic.",
        "I need a refund for the duplicate payment.", "My card was declined although it has funds.",
        "The subscription renewed at a higher price than advertised.", "Please send a corrected invoice for {order}.",
    ],
    "account": [
        "I can't log in to my account.", "The password reset email never arrives.",
        "How do I change the email address on my account?", "My username shows someone else's name.",
        "I want to merge my two accounts.", "The verification code for login does not work.",
        "My profile settings keep resetting.", "I locked myself out after too many login attempts.",
        "Please update the phone number on my account.", "I can't find where to change my password.",
    ],
    "technical": [
        "{product} keeps disconnecting from wifi.", "{product} won't turn on after the latest update.",
        "{product} is not charging with the original cable.", "The app crashes every time I open settings.",
        "{product} freezes during setup.", "Bluetooth pairing with {product} fails.",
        "The firmware update is stuck at {pct}%.", "{product} overheats after a few minutes.",
        "The screen on {product} flickers.", "Sync between {product} and the app stopped working.",
    ],
    "shipping": [
        "My package for {order} hasn't arrived yet.", "Tracking for {order} hasn't updated in {days} days.",
        "The courier left my parcel at the wrong address.", "{order} arrived damaged.",
        "I received someone else's order.", "Can I change the delivery address for {order}?",
        "The box arrived empty.", "Delivery was promised for {day} but nothing came.",
        "Part of {order} is missing from the parcel.", "How long does express shipping take to my area?",
    ],
    "security": [
        "I got an email asking for my password that looks like phishing.",
        "Someone logged in to my account from another country.", "I think my account was hacked.",
        "There are orders on my account that I didn't place.", "I received a login alert that wasn't me.",
        "My password was changed without my knowledge.", "I want to enable two-factor authentication.",
        "Someone is using my card details on your site.", "A caller claiming to be your support asked for my code.",
        "I see an unknown device connected to my account.",
    ],
    "cancellation": [
        "Please cancel my subscription.", "I want to cancel {order} before it ships.",
        "How do I close my account for good?", "Cancel my plan at the end of this month, please.",
        "I no longer need the service, please stop the renewal.", "I'd like to cancel and get my money back.",
        "Please cancel the extended warranty I added by mistake.", "Cancel the auto-renewal on my plan.",
        "I want to return {product} and end my contract.", "Stop all future deliveries, I'm cancelling.",
    ],
}
# Requests that more than one team handles: which one did is a coin with these weights.
AMBIGUOUS = [
    ("I want my money back for {order}.", {"billing": 0.5, "cancellation": 0.3, "shipping": 0.2}),
    ("Something is wrong with my account, please check.", {"account": 0.5, "security": 0.3, "billing": 0.2}),
    ("It still doesn't work, see my previous message.", {"technical": 0.6, "account": 0.2, "shipping": 0.2}),
    ("I never received what I paid for.", {"shipping": 0.6, "billing": 0.4}),
    ("Why did my plan change?", {"billing": 0.5, "account": 0.2, "security": 0.3}),
    ("The charger you sent is not the one I ordered.", {"shipping": 0.6, "technical": 0.4}),
    ("I got an email about {order} that makes no sense.", {"security": 0.4, "shipping": 0.3, "billing": 0.3}),
    ("Please stop charging me.", {"billing": 0.5, "cancellation": 0.5}),
    ("The code you sent me doesn't work.", {"account": 0.5, "security": 0.3, "billing": 0.2}),
    ("{product} stopped working and I want to send it back.", {"technical": 0.4, "cancellation": 0.3,
                                                                "shipping": 0.3}),
    ("My access was removed after the update.", {"account": 0.5, "technical": 0.5}),
    ("I don't recognise this order: {order}.", {"security": 0.5, "billing": 0.3, "shipping": 0.2}),
]
# Sentences that mention another team's words but carry no request for it.
DECOYS = {
    "billing": ["The payment itself went through fine.", "I'm not asking for a refund.", "Billing is not the issue."],
    "account": ["I can log in without problems.", "My account details are all correct.", "Login works fine."],
    "technical": ["The device itself works perfectly.", "No problem with the app.", "Charging is fine."],
    "shipping": ["The delivery was quick.", "The parcel arrived on time.", "Shipping was fine this time."],
    "security": ["I don't think anyone else has access.", "My password is strong.", "Nothing suspicious so far."],
    "cancellation": ["I don't want to cancel anything.", "I'm happy to keep my plan.", "Not looking to cancel."],
}
NEIGHBOURS = {"billing": "cancellation", "account": "security", "technical": "account", "shipping": "billing",
              "security": "account", "cancellation": "billing"}
OPENERS = ["Hi,", "Hello team,", "Hey.", "Good morning,", "Dear support,", "", "", "To whom it may concern,"]
CLOSERS = ["Thanks.", "Thank you!", "Please help asap.", "Regards, {name}", "Cheers, {name}", "", "",
           "This is the third time I'm writing.", "Appreciate a quick reply."]
NAMES = ["Ana", "Ben", "Chen", "Dmitri", "Ewa", "Farah", "Gus", "Hiro", "Ines", "Jon", "Kofi", "Lena"]
MONTHS = ["January", "February", "March", "April", "May", "June", "July", "August", "September", "October"]
DAYS = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "the weekend"]
CHANNELS = ("email", "chat", "phone", "web_form")
TIERS = ("free", "basic", "premium", "business")


def _typos(text: str, rng: np.random.Generator, rate: float) -> str:
    chars = list(text)
    for i in range(1, len(chars) - 1):
        if chars[i].isalpha() and rng.random() < rate:
            chars[i], chars[i + 1] = chars[i + 1], chars[i]
    return "".join(chars)


def _fill(template: str, rng: np.random.Generator) -> str:
    return template.format(
        order=f"order ORD-{int(rng.integers(10000, 99999))}", amount=f"{rng.uniform(5, 400):.2f}",
        month=MONTHS[rng.integers(len(MONTHS))], product=PRODUCTS[rng.integers(len(PRODUCTS))],
        pct=int(rng.integers(5, 95)), days=int(rng.integers(2, 15)), day=DAYS[rng.integers(len(DAYS))],
    )


def ticket(rng: np.random.Generator, tier: str) -> tuple[str, str, set[str], dict[str, float]]:
    """(subject, body, teams, odds) of one ticket; `odds[team]`, the chance it is routed there knowing its issues,
    is the oracle's prediction."""
    weights = np.array([0.24, 0.2, 0.26, 0.16, 0.06, 0.08])
    if tier == "business":
        weights = weights * np.array([1.3, 0.8, 1.6, 0.6, 1.2, 0.6])
    weights = weights / weights.sum()
    count = int(rng.choice([1, 2, 3], p=[0.62, 0.31, 0.07]))
    teams, sentences = [], []
    for _ in range(count):
        if rng.random() < 0.3:
            template, owners = AMBIGUOUS[rng.integers(len(AMBIGUOUS))]
            team = str(rng.choice(list(owners), p=list(owners.values())))
        else:
            team = str(rng.choice(TEAMS, p=weights))
            template = ISSUES[team][rng.integers(len(ISSUES[team]))]
        if team not in teams:
            teams.append(team)
        sentences.append(_fill(template, rng))
    if rng.random() < 0.45:
        other = [t for t in TEAMS if t not in teams]
        decoy = other[rng.integers(len(other))]
        sentences.insert(int(rng.integers(0, len(sentences) + 1)), DECOYS[decoy][rng.integers(len(DECOYS[decoy]))])
    opener, closer = OPENERS[rng.integers(len(OPENERS))], CLOSERS[rng.integers(len(CLOSERS))]
    body = " ".join(s for s in [opener, *sentences, closer.format(name=NAMES[rng.integers(len(NAMES))])] if s)
    if rng.random() < 0.25:
        body = body.lower()
    body = _typos(body, rng, float(rng.choice([0.0, 0.01, 0.03], p=[0.5, 0.35, 0.15])))
    words = sentences[0].rstrip(".?!").split()
    subject = " ".join(words[: int(rng.integers(3, 7))]) if rng.random() < 0.7 else rng.choice(
        ["Help", "Urgent", "Question", "Problem", "Issue with my account", "Complaint", "Request"])
    routed = set(teams)
    if rng.random() < 0.08:  # routed to a neighbouring team as well, or instead
        wrong = NEIGHBOURS[teams[0]]
        routed = {wrong} | (routed - {teams[0]} if rng.random() < 0.5 and len(routed) > 1 else routed)
    odds = {team: float(team in teams) for team in TEAMS}
    odds[teams[0]] -= 0.08 * 0.5 * (len(teams) > 1)
    odds[NEIGHBOURS[teams[0]]] = max(odds[NEIGHBOURS[teams[0]]], 0.08)
    return subject, body, routed, odds


def simulate(seed: int, n: int = N_TRAIN + N_TEST) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    tiers = rng.choice(TIERS, size=n, p=[0.35, 0.35, 0.2, 0.1])
    channels = rng.choice(CHANNELS, size=n, p=[0.4, 0.3, 0.1, 0.2])
    rows = []
    for tier in tiers:
        subject, body, routed, odds = ticket(rng, str(tier))
        rows.append({"subject": subject, "body": body, **{t: int(t in routed) for t in TEAMS},
                     **{f"_p_{t}": odds[t] for t in TEAMS}})
    frame = pd.DataFrame(rows)
    frame.insert(0, "customer_tier", tiers)
    frame.insert(0, "channel", channels)
    frame.insert(0, ID, [f"T{i + 1:06d}" for i in range(n)])
    return frame[[ID, "channel", "customer_tier", "subject", "body", *TEAMS, *(f"_p_{t}" for t in TEAMS)]]


def _write(frame: pd.DataFrame, path: Path) -> None:
    frame.to_csv(path, index=False, lineterminator="\n")


def prepare(public_dir: Path, private_dir: Path, seed: int) -> None:
    """Write train/test/sample_submission (public) and answers (private) for `seed`."""
    frame = simulate(seed)
    hidden = [f"_p_{t}" for t in TEAMS]
    oracle, frame = frame[hidden].set_axis(list(TEAMS), axis=1), frame.drop(columns=hidden)
    is_test = np.zeros(len(frame), dtype=bool)
    is_test[np.random.default_rng(seed + 1).choice(len(frame), size=N_TEST, replace=False)] = True
    train, test = frame[~is_test], frame[is_test]
    _write(train, public_dir / "train.csv")
    _write(test.drop(columns=list(TEAMS)), public_dir / "test.csv")
    prior = train[list(TEAMS)].mean().round(2)
    _write(pd.DataFrame({ID: test[ID], **{t: prior[t] for t in TEAMS}}), public_dir / "sample_submission.csv")
    _write(test[[ID, *TEAMS]], private_dir / "answers.csv")
    write_oracle(pd.concat([test[[ID]], oracle[is_test]], axis=1), private_dir)
