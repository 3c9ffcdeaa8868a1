"""People and agents in one report: every run's result read from its notebook's `metadata.nbdojo`.

Agent trajectories (`nbdojo run`) and people's scored notebooks (`nbdojo play` + `nbdojo
score`) carry the same metadata, so one reader covers both. The report has a table per
competition (score, position, HumanRank, medal, steps, wall time, errors, tokens, cost),
a table per participant (mean HumanRank, medal rate), score-versus-step curves (public
scores from `validate`, then the final private score) and a HumanRank bar chart, as
matplotlib PNGs embedded in one self-contained HTML file.

Only results nbdojo signed are believed (`nbdojo.grading.signing`): an unsigned or altered result, one
signed by another home's key, or a second copy of one notebook is listed apart as unverified,
with what it claims, and counts in no ranking, average or chart.
"""

from __future__ import annotations

import base64
import html
import io
import json
import logging
import math
import os
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from statistics import mean
from typing import Any

from nbdojo.runstate import run_state
from nbdojo.trajectory import VERIFIED, find_notebooks, verification

log = logging.getLogger(__name__)

MEDALS = ("gold", "silver", "bronze")
FAILED = {"error", "timeout", "died", "oom"}
UNFINISHED = ("live", "abandoned")  # no result: counted in no average (abandoned: its host died mid-episode)


@dataclass
class Run:
    """One participant's attempt at one competition."""

    path: Path
    competition: str
    participant: str  # "agent · model" or "name (human)"
    kind: str  # "agent" | "human"
    status: str  # "graded" | "no submission" | "live" | "abandoned" (its host died: never finished)
    score: float | None
    position: int | None
    entries: int | None  # leaderboard entries + this one
    human_rank: float | None
    medal: str
    steps: int
    wall_time_s: float | None
    errors: int
    tokens: int
    cost: float
    metric: str = ""
    higher_is_better: bool | None = None
    curve: list[tuple[int, float, str]] = field(default_factory=list)  # (step, score, "public" | "final")
    trust: str = VERIFIED  # or why the result is not believed (nbdojo.trajectory.verification)
    signature: str | None = None
    claims: bool = True  # the notebook holds a result (none while an episode runs)

    @property
    def verified(self) -> bool:
        return self.trust == VERIFIED

    @property
    def ranked(self) -> bool:
        """Whether the run takes part in rankings: a verified result, or a live run that claims none yet."""
        return self.verified or (self.status in UNFINISHED and not self.claims)


def _time(value: Any) -> datetime | None:
    try:
        return datetime.fromisoformat(str(value).replace("Z", "+00:00")) if value else None
    except ValueError:
        return None


def _number(value: Any) -> float | None:
    if isinstance(value, (int, float)) and not (isinstance(value, float) and math.isnan(value)):
        return float(value)
    return None


def read_run(path: Path) -> Run | None:
    """A run from an nbdojo notebook; None for anything else (and for unscored play notebooks or replays)."""
    try:
        nb = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    meta = (nb.get("metadata") or {}).get("nbdojo") if isinstance(nb, dict) else None
    if not isinstance(meta, dict):
        return None
    if not meta.get("competition") or not meta.get("agent") or meta.get("replay_of"):
        return None
    human = meta["agent"] == "human"
    final = meta.get("final") if isinstance(meta.get("final"), dict) else {}
    if human and not final:
        return None  # a play still in progress: `nbdojo score` makes it a run
    cells = nb.get("cells") or []
    steps_seen, errors, curve = 0, 0, []
    for cell in cells:
        cm = (cell.get("metadata") or {}).get("nbdojo") or {}
        step = cm.get("step")
        if isinstance(step, int):
            steps_seen = max(steps_seen, step)
        work = cell.get("cell_type") == "code" and cm.get("action") not in ("setup", "score")
        if work and cm.get("status") in FAILED:
            errors += 1
        if cm.get("action") == "validate" and _number(cm.get("public_score")) is not None and isinstance(step, int):
            curve.append((step, float(cm["public_score"]), "public"))
    if human:
        steps = int(meta.get("cells_run") or steps_seen)
        errors = int(meta.get("errors", errors))
        wall = _number(meta.get("wall_time_s"))
        label = f"{meta.get('participant') or 'person'} (human)"
    else:
        steps = steps_seen
        start, end = _time(meta.get("started")), _time(meta.get("ended"))
        wall = (end - start).total_seconds() if start and end else None
        label = meta["agent"] + (f" · {meta['model']}" if meta.get("model") else "")
    score = _number(final.get("score"))
    state = run_state(meta)
    status = "graded" if score is not None else (state if state in UNFINISHED else "no submission")
    if score is not None:
        curve.append((max(steps, curve[-1][0] if curve else 0), score, "final"))
    usage = meta.get("usage") or {}
    size = final.get("leaderboard_size")
    signed = meta.get("signature")
    # HumanRank: 0 without a submission (as the env rewards it), None while live or with no leaderboard
    rank = {"live": None, "abandoned": None, "no submission": 0.0}.get(status, _number(final.get("human_rank")))
    return Run(
        path=Path(path), competition=meta["competition"], participant=label, kind="human" if human else "agent",
        status=status, score=score, position=final.get("position"), entries=size + 1 if isinstance(size, int) else None,
        human_rank=rank,
        medal=str(final.get("medal") or "none"), steps=steps, wall_time_s=wall, errors=errors,
        tokens=int((usage.get("prompt_tokens") or 0) + (usage.get("completion_tokens") or 0)),
        cost=float(usage.get("cost") or 0.0), metric=str(final.get("metric") or ""),
        higher_is_better=final.get("higher_is_better"), curve=curve, trust=verification(nb),
        signature=signed.get("value") if isinstance(signed, dict) and isinstance(signed.get("value"), str) else None,
        claims=bool(final),
    )


def collect(paths: list[str | Path]) -> list[Run]:
    """Every run in these folders or notebooks (each notebook once)."""
    seen: set[Path] = set()
    runs = []
    for root in paths:
        root = Path(root)
        if not root.exists():
            from nbdojo.errors import ConfigError

            raise ConfigError(f"No such folder or notebook: {root}")
        for nb in find_notebooks(root):
            key = nb.resolve()
            if key in seen:
                continue
            seen.add(key)
            run = read_run(nb)
            if run is not None:
                runs.append(run)
    first: dict[str, Path] = {}
    for run in sorted(runs, key=lambda r: str(r.path)):  # one signed result counts once, however often copied
        if run.verified and run.signature:
            if run.signature in first:
                run.trust = f"a copy of {first[run.signature]}"
            else:
                first[run.signature] = run.path
    return sorted(runs, key=lambda r: (r.competition, r.participant, str(r.path)))


@dataclass
class Participant:
    name: str
    kind: str
    runs: int
    competitions: int
    mean_human_rank: float | None
    medal_rate: float
    mean_steps: float
    total_cost: float


def participants(runs: list[Run]) -> list[Participant]:
    """Per participant: mean HumanRank (a run without a submission counts 0; a competition without a
    leaderboard does not count), share of runs with a medal. Verified results only."""
    groups: dict[str, list[Run]] = defaultdict(list)
    for run in runs:
        if run.verified and run.status not in UNFINISHED:
            groups[run.participant].append(run)
    rows = []
    for name, group in groups.items():
        ranks = [r.human_rank for r in group if r.human_rank is not None]
        rows.append(Participant(
            name=name, kind=group[0].kind, runs=len(group), competitions=len({r.competition for r in group}),
            mean_human_rank=mean(ranks) if ranks else None,
            medal_rate=sum(r.medal in MEDALS for r in group) / len(group),
            mean_steps=mean(r.steps for r in group), total_cost=sum(r.cost for r in group),
        ))
    return sorted(rows, key=lambda p: -(p.mean_human_rank or 0.0))


def ranked(runs: list[Run]) -> dict[str, list[Run]]:
    """Runs by competition, best score first (graded runs before the others); unverified results are not ranked."""
    by: dict[str, list[Run]] = defaultdict(list)
    for run in runs:
        if run.ranked:
            by[run.competition].append(run)
    for group in by.values():
        higher = next((r.higher_is_better for r in group if r.higher_is_better is not None), True)
        group.sort(key=lambda r: (r.score is None, -(r.score or 0.0) if higher else (r.score or 0.0)))
    return dict(sorted(by.items()))


def unverified(runs: list[Run]) -> list[Run]:
    """The runs whose result nbdojo did not sign for their notebook: shown apart, never ranked."""
    return [r for r in runs if not r.ranked]


# ----- formatting ---------------------------------------------------------------------------

def _fmt_score(run: Run) -> str:
    if run.score is None:
        return run.status if run.status in UNFINISHED else "—"
    return f"{run.score:.5g}"


def _fmt_rank(value: float | None) -> str:
    return "—" if value is None else f"{value:.1%}"


def _fmt_wall(seconds: float | None) -> str:
    if seconds is None:
        return "—"
    if seconds < 120:
        return f"{seconds:.0f} s"
    return f"{seconds / 60:.1f} min" if seconds < 7200 else f"{seconds / 3600:.1f} h"


def _run_row(run: Run) -> list[str]:
    position = "—" if run.position is None else f"{run.position}/{run.entries or '?'}"
    return [run.participant, run.kind, _fmt_score(run), position, _fmt_rank(run.human_rank),
            run.medal.replace("_", " "), str(run.steps), _fmt_wall(run.wall_time_s), str(run.errors),
            f"{run.tokens:,}" if run.tokens else "—", f"${run.cost:.4f}" if run.cost else "—"]


RUN_COLUMNS = ["participant", "kind", "score", "position", "HumanRank", "medal", "steps", "wall time", "errors",
               "tokens", "cost"]
UNVERIFIED_COLUMNS = ["competition", "participant", "claimed score", "claimed HumanRank", "claimed medal", "why"]
UNVERIFIED_TITLE = "unverified results (not ranked: unsigned, altered or copied)"
PARTICIPANT_COLUMNS = ["participant", "kind", "runs", "competitions", "mean HumanRank", "medal rate", "mean steps",
                       "cost"]


def _participant_row(p: Participant) -> list[str]:
    return [p.name, p.kind, str(p.runs), str(p.competitions), _fmt_rank(p.mean_human_rank), f"{p.medal_rate:.0%}",
            f"{p.mean_steps:.1f}", f"${p.total_cost:.4f}" if p.total_cost else "—"]


def _unverified_row(run: Run) -> list[str]:
    return [run.competition, run.participant, _fmt_score(run), _fmt_rank(run.human_rank), run.medal.replace("_", " "),
            f"unverified: {run.trust}"]


def summary_table(runs: list[Run]) -> list[Any]:
    """The report's tables for a terminal (rich)."""
    from rich.table import Table

    tables = []
    for competition, group in ranked(runs).items():
        metric = next((r.metric for r in group if r.metric), "")
        table = Table(title=f"{competition} ({metric})" if metric else competition, title_justify="left")
        for col in RUN_COLUMNS:
            if col != "kind":
                table.add_column(col, justify="left" if col in ("participant", "medal") else "right",
                                 no_wrap=col == "participant")
        for run in group:
            row = _run_row(run)
            table.add_row(*row[:1], *row[2:], style="cyan" if run.kind == "human" else None)
        tables.append(table)
    table = Table(title="participants", title_justify="left")
    for col in PARTICIPANT_COLUMNS:
        if col != "kind":
            table.add_column(col, justify="left" if col == "participant" else "right", no_wrap=col == "participant")
    for p in participants(runs):
        row = _participant_row(p)
        table.add_row(*row[:1], *row[2:], style="cyan" if p.kind == "human" else None)
    tables.append(table)
    if unverified(runs):
        table = Table(title=UNVERIFIED_TITLE, title_justify="left", title_style="bold red")
        for col in UNVERIFIED_COLUMNS:
            table.add_column(col, justify="right" if col.startswith("claimed") and col != "claimed medal" else "left")
        for run in unverified(runs):
            table.add_row(*_unverified_row(run), style="red")
        tables.append(table)
    return tables


# ----- charts -------------------------------------------------------------------------------

def _png(fig: Any) -> str:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110, bbox_inches="tight")
    import matplotlib.pyplot as plt

    plt.close(fig)
    return base64.b64encode(buf.getvalue()).decode("ascii")


def score_curves(runs: list[Run], competition: str) -> str | None:
    """Score versus step for one competition: public scores from validate, the final private score as a star."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    group = [r for r in runs if r.competition == competition and r.curve and r.ranked]
    if not group:
        return None
    fig, ax = plt.subplots(figsize=(7, 3.8))
    for i, run in enumerate(group):
        color = f"C{i % 10}"
        public = [(s, v) for s, v, kind in run.curve if kind == "public"]
        final = [(s, v) for s, v, kind in run.curve if kind == "final"]
        xs = [s for s, _ in public + final]
        ys = [v for _, v in public + final]
        ax.plot(xs, ys, color=color, linestyle="--" if run.kind == "human" else "-", alpha=0.7,
                label=run.participant)
        if public:
            ax.scatter([s for s, _ in public], [v for _, v in public], color=color, marker="o", s=22)
        if final:
            ax.scatter([s for s, _ in final], [v for _, v in final], color=color, marker="*", s=140,
                       edgecolor="black", linewidth=0.5, zorder=3)
    metric = next((r.metric for r in group if r.metric), "score")
    higher = next((r.higher_is_better for r in group if r.higher_is_better is not None), True)
    ax.set_title(f"{competition}: score by step (● public, ★ final private)")
    ax.set_xlabel("step (cells run, for people)")
    ax.set_ylabel(f"{metric} ({'higher' if higher else 'lower'} is better)")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, loc="best")
    return _png(fig)


def human_rank_bars(runs: list[Run]) -> str | None:
    """Mean HumanRank of each participant on each competition, people hatched."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    done = [r for r in runs if r.status not in UNFINISHED and r.verified]
    if not done:
        return None
    names = [p.name for p in participants(done)]
    comps = sorted({r.competition for r in done})
    fig, ax = plt.subplots(figsize=(max(5.0, 1.3 * len(names) * max(1, len(comps)) ** 0.5 + 2), 3.8))
    width = 0.8 / len(comps)
    x = np.arange(len(names))
    for j, comp in enumerate(comps):
        values = []
        for name in names:
            ranks = [r.human_rank for r in done
                     if r.competition == comp and r.participant == name and r.human_rank is not None]
            values.append(mean(ranks) if ranks else np.nan)
        bars = ax.bar(x + (j - (len(comps) - 1) / 2) * width, values, width, label=comp, color=f"C{j % 10}")
        for bar, name, value in zip(bars, names, values, strict=True):
            if name.endswith("(human)"):
                bar.set_hatch("//")
            if not np.isnan(value):
                ax.annotate(f"{value:.0%}", (bar.get_x() + bar.get_width() / 2, value), ha="center", va="bottom",
                            fontsize=8)
    ax.set_xticks(x, names, rotation=20, ha="right")
    ax.set_ylim(0, 1.1)
    ax.set_ylabel("HumanRank (share of the leaderboard beaten)")
    ax.set_title("HumanRank by participant (people hatched)")
    if len(comps) > 1:
        ax.legend(fontsize=8)
    ax.grid(axis="y", alpha=0.3)
    return _png(fig)


# ----- HTML ---------------------------------------------------------------------------------

_CSS = """
body { font-family: system-ui, sans-serif; margin: 2em auto; max-width: 1100px; color: #222; }
table { border-collapse: collapse; margin: 0.5em 0 1.5em; font-size: 0.9em; }
th, td { border-bottom: 1px solid #ddd; padding: 4px 10px; text-align: right; }
th { background: #f4f4f4; } td:first-child, th:first-child, td.l { text-align: left; }
tr.human { background: #eef7ff; } tr.unverified { background: #fdecea; } img { max-width: 100%; margin: 0.5em 0 1.5em; }
.muted { color: #777; font-size: 0.85em; }
"""


def _table(columns: list[str], rows: list[tuple[list[str], str]], link: list[tuple[str, str]] | None = None) -> str:
    """An HTML table; `link` gives each row a last cell linking to (href, text)."""
    head = "".join(f"<th>{html.escape(c)}</th>" for c in columns)
    body = ""
    for i, (row, cls) in enumerate(rows):
        cells = "".join(f"<td>{html.escape(v)}</td>" for v in row)
        if link:
            href, text = link[i]
            cells += f'<td class="l"><a href="{html.escape(href)}">{html.escape(text)}</a></td>'
        body += f'<tr class="{cls}">{cells}</tr>'

    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _link(run: Run, report: Path) -> tuple[str, str]:
    """A run's notebook, relative to the report where it can be."""
    try:
        href = os.path.relpath(run.path.resolve(), report.resolve().parent)
    except ValueError:
        href = run.path.resolve().as_uri()
    return href, f"{run.path.parent.name}/{run.path.name}"


def render_html(runs: list[Run], output: str | Path) -> Path:
    """Write the self-contained HTML report (tables and base64 PNG charts)."""
    from nbdojo.trajectory import utcnow

    path = Path(output)
    parts = [f"<!doctype html><html><head><meta charset='utf-8'><title>nbdojo · people and agents</title>"
             f"<style>{_CSS}</style></head><body>",
             "<h1>nbdojo · people and agents</h1>",
             f"<p class='muted'>{len(runs)} runs ({len(unverified(runs))} unverified, not ranked) · generated "
             f"{html.escape(utcnow())} · HumanRank is the share of the competition's reference leaderboard beaten; "
             "medals as in MLE-bench; only results nbdojo signed are ranked.</p>",
             "<h2>Participants</h2>",
             _table(PARTICIPANT_COLUMNS, [(_participant_row(p), p.kind) for p in participants(runs)])]
    bars = human_rank_bars(runs)
    if bars:
        parts.append(f'<img id="human-rank" alt="HumanRank by participant" src="data:image/png;base64,{bars}">')
    for competition, group in ranked(runs).items():
        metric = next((r.metric for r in group if r.metric), "")
        parts.append(f"<h2>{html.escape(competition)}</h2>")
        if metric:
            parts.append(f"<p class='muted'>metric: {html.escape(metric)}</p>")
        parts.append(_table(RUN_COLUMNS + ["notebook"], [(_run_row(r), r.kind) for r in group],
                            [_link(r, path) for r in group]))
        curves = score_curves(runs, competition)
        if curves:
            parts.append(f'<img class="curve" alt="{html.escape(competition)}: score by step" '
                         f'src="data:image/png;base64,{curves}">')
    shunned = unverified(runs)
    if shunned:
        parts += ["<h2 id='unverified'>Unverified results</h2>",
                  "<p class='muted'>What these notebooks claim, but nbdojo did not sign for them (written by hand, "
                  "altered after grading, copied from another notebook, or signed by another nbdojo home's key): "
                  "they are in no ranking, average or chart above. `nbdojo score` grades a person's notebook "
                  "again.</p>",
                  _table(UNVERIFIED_COLUMNS + ["notebook"], [(_unverified_row(r), "unverified") for r in shunned],
                         [_link(r, path) for r in shunned])]
    parts.append("</body></html>")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(parts), encoding="utf-8")
    return path
