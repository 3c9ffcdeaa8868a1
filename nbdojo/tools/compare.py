"""People and agents in one report: every run's result read from its notebook's `metadata.nbdojo`.

Agent trajectories (`nbdojo run`) and people's scored notebooks (`nbdojo play` + `nbdojo
score`) carry the same metadata, so one reader covers both. The report has a table per
competition (score, position, HumanRank, medal, steps, wall time, errors, tokens, cost),
a table per participant (HumanRank per competition and its labelled mean over them, medal
rate), score-versus-step curves (public scores from `validate` as a line, the final private
score as a separate star) and a HumanRank bar chart per competition, as matplotlib SVG inlined
in one self-contained HTML file (`nbdojo.tools.report_charts`). Charts and run tables tell runs
apart by agent · model · seed.

Only results nbdojo signed are believed (`nbdojo.grading.signing`): an unsigned or altered result, one
signed by another home's key, or a second copy of one notebook is listed apart as unverified,
with what it claims, and counts in no ranking, average or chart.
"""

from __future__ import annotations

import html
import json
import logging
import math
import os
import re
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from statistics import mean
from typing import Any

from nbdojo.runstate import run_state
from nbdojo.notebook import nbdojo_meta
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
    agent: str = ""
    model: str | None = None
    seed: int | None = None
    normalized_score: float | None = None  # 0 = the sample submission, 1 = the ceiling (absent in older notebooks)
    standard_error: float | None = None

    @property
    def label(self) -> str:
        """The run, told apart from the participant's other runs: agent · model · seed (a person: their name)."""
        if self.kind == "human":
            return self.participant
        seed = "no seed" if self.seed is None else f"seed {self.seed}"
        return f"{self.agent} · {self.model or 'no model'} · {seed}"

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


#: Steps past this are not a real episode's: a hand-made notebook claiming them is read as having none.
MAX_STEP = 1_000_000


def _number(value: Any) -> float | None:
    """A finite number from an untrusted notebook, or None."""
    if isinstance(value, (int, float)) and not isinstance(value, bool) and abs(value) < 1e300:
        return float(value) if math.isfinite(float(value)) else None
    return None


def read_run(path: Path) -> Run | None:
    """A run from an nbdojo notebook; None for anything else (and for unscored play notebooks or replays)."""
    try:
        nb = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError, RecursionError):  # RecursionError: JSON nested too deep to decode
        return None
    meta = nbdojo_meta(nb)  # an untrusted file: anything malformed reads as no record
    if not isinstance(meta.get("competition"), str) or not isinstance(meta.get("agent"), str) or not meta.get(
            "competition") or meta.get("replay_of"):
        return None
    human = meta["agent"] == "human"
    # a person's notebook replayed by nbdojo (`--agent replay:NB`) is that person's run, steps and time as an agent's
    replayed_person = meta["agent"] == "replay" and isinstance(meta.get("participant"), str) and meta["participant"]
    final = meta.get("final") if isinstance(meta.get("final"), dict) else {}
    if human and not final:
        return None  # a play still in progress: `nbdojo score` makes it a run
    cells = [c for c in nb.get("cells") or [] if isinstance(c, dict)] if isinstance(nb.get("cells"), list) else []
    steps_seen, errors, curve = 0, 0, []
    for cell in cells:
        cm = nbdojo_meta(cell)
        step = cm.get("step")
        step = step if isinstance(step, int) and 0 <= step <= MAX_STEP else None
        if isinstance(step, int):
            steps_seen = max(steps_seen, step)
        work = cell.get("cell_type") == "code" and cm.get("action") not in ("setup", "score")
        if work and cm.get("status") in FAILED:
            errors += 1
        if cm.get("action") == "validate" and _number(cm.get("public_score")) is not None and isinstance(step, int):
            curve.append((step, float(cm["public_score"]), "public"))
    if human:
        steps = int(_number(meta.get("cells_run")) or steps_seen)
        errors = int(_number(meta.get("errors")) or errors) if "errors" in meta else errors
        wall = _number(meta.get("wall_time_s"))
        label = f"{meta.get('participant') or 'person'} (human)"
    else:
        steps = steps_seen
        start, end = _time(meta.get("started")), _time(meta.get("ended"))
        wall = (end - start).total_seconds() if start and end else None
        label = meta["agent"] + (f" · {meta['model']}" if meta.get("model") else "")
        if replayed_person:
            label = f"{str(meta['participant'])[:80]} (human)"
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
        path=Path(path), competition=meta["competition"], participant=label,
        kind="human" if human or replayed_person else "agent",
        status=status, score=score, position=final.get("position"), entries=size + 1 if isinstance(size, int) else None,
        human_rank=rank,
        medal=str(final.get("medal") or "none")[:40], steps=steps, wall_time_s=wall, errors=errors,
        tokens=int((usage.get("prompt_tokens") or 0) + (usage.get("completion_tokens") or 0)),
        cost=float(usage.get("cost") or 0.0), metric=str(final.get("metric") or ""),
        higher_is_better=final.get("higher_is_better"), curve=curve, trust=verification(nb),
        signature=signed.get("value") if isinstance(signed, dict) and isinstance(signed.get("value"), str) else None,
        claims=bool(final), agent=str(meta["agent"]), model=meta.get("model") or None,
        seed=meta["seed"] if isinstance(meta.get("seed"), int) and not isinstance(meta.get("seed"), bool) else None,
        normalized_score=_number(final.get("normalized_score")) if score is not None else None,
        standard_error=_number(final.get("standard_error")) if score is not None else None,
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
    mean_human_rank: float | None  # the mean over competitions of its per-competition mean
    medal_rate: float
    mean_steps: float
    total_cost: float
    human_ranks: dict[str, float] = field(default_factory=dict)  # competition -> mean HumanRank of its runs there


def participants(runs: list[Run]) -> list[Participant]:
    """Per participant: HumanRank per competition (mean of its runs there; a run without a submission counts 0, a
    competition without a leaderboard not at all), their mean over competitions (each weighs the same), share of
    runs with a medal. Verified results only."""
    groups: dict[str, list[Run]] = defaultdict(list)
    for run in runs:
        if run.verified and run.status not in UNFINISHED:
            groups[run.participant].append(run)
    rows = []
    for name, group in groups.items():
        per: dict[str, list[float]] = defaultdict(list)
        for r in group:
            if r.human_rank is not None:
                per[r.competition].append(r.human_rank)
        by_comp = {comp: mean(values) for comp, values in sorted(per.items())}
        rows.append(Participant(
            name=name, kind=group[0].kind, runs=len(group), competitions=len({r.competition for r in group}),
            mean_human_rank=mean(by_comp.values()) if by_comp else None, human_ranks=by_comp,
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
    normalized = "—" if run.normalized_score is None else f"{run.normalized_score:.3f}"
    return [run.label, run.kind, _fmt_score(run), normalized, position, _fmt_rank(run.human_rank),
            run.medal.replace("_", " "), str(run.steps), _fmt_wall(run.wall_time_s), str(run.errors),
            f"{run.tokens:,}" if run.tokens else "—", f"${run.cost:.4f}" if run.cost else "—"]


RUN_COLUMNS = ["participant", "kind", "score", "normalized", "position", "HumanRank", "medal", "steps", "wall time",
               "errors", "tokens", "cost"]
UNVERIFIED_COLUMNS = ["competition", "participant", "claimed score", "claimed HumanRank", "claimed medal", "why"]
UNVERIFIED_TITLE = "unverified results (not ranked: unsigned, altered or copied)"
PARTICIPANT_COLUMNS = ["participant", "kind", "runs", "competitions", "HumanRank", "medal rate", "mean steps", "cost"]


def _participant_row(p: Participant) -> list[str]:
    return [p.name, p.kind, str(p.runs), str(p.competitions), _fmt_mean_rank(p), f"{p.medal_rate:.0%}",
            f"{p.mean_steps:.1f}", f"${p.total_cost:.4f}" if p.total_cost else "—"]


def _fmt_mean_rank(p: Participant) -> str:
    """A HumanRank that says what it averages: over competitions (each weighs the same), or over one's runs."""
    if p.mean_human_rank is None:
        return "—"
    n = len(p.human_ranks)
    if n > 1:
        return f"{p.mean_human_rank:.1%} (mean HumanRank over {n} competitions)"
    return _fmt_rank(p.mean_human_rank) + (f" (mean of {p.runs} runs)" if p.runs > 1 else "")


def _unverified_row(run: Run) -> list[str]:
    return [run.competition, run.label, _fmt_score(run), _fmt_rank(run.human_rank), run.medal.replace("_", " "),
            f"unverified: {run.trust}"]


#: Columns a narrow terminal drops first (the HTML report always has them all).
OPTIONAL_COLUMNS = ("wall time", "errors", "tokens", "cost", "mean steps", "position", "normalized")
#: Text columns fold onto more lines when space is short; every other column is a number and never cut.
TEXT_COLUMNS = ("participant", "medal", "competition", "why", "claimed medal")


#: Control characters (escape sequences start with one), never written to a terminal from a notebook's text.
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")


def _terminal_table(title: str, columns: list[str], rows: list[tuple[list[str], str | None]], width: int | None,
                    **style: Any) -> Any:
    """A rich table that fits `width`: optional columns go first, names fold, numbers are never cut."""
    from rich.table import Table
    from rich.text import Text

    keep = list(range(len(columns)))
    if width is not None:
        for name in OPTIONAL_COLUMNS:
            cells = [len(columns[i]) for i in keep] + [0]
            needed = sum(max([cells[n], *(len(row[i]) for row, _ in rows)]) + 3 for n, i in enumerate(keep))
            if needed <= width or name not in columns:
                continue
            keep.remove(columns.index(name))
    table = Table(title=title, title_justify="left", **style)
    for i in keep:
        text = columns[i] in TEXT_COLUMNS
        table.add_column(columns[i], justify="left" if text else "right", no_wrap=not text,
                         overflow="fold" if text else "ellipsis")
    for row, row_style in rows:  # plain text: a name from a notebook is never rich markup or a terminal code
        table.add_row(*(Text(_CONTROL.sub("", row[i])) for i in keep), style=row_style)
    return table


def summary_table(runs: list[Run], width: int | None = None) -> list[Any]:
    """The report's tables for a terminal (rich), fitted to `width` columns when given."""
    tables = []
    run_columns = [c for c in RUN_COLUMNS if c != "kind"]
    for competition, group in ranked(runs).items():
        metric = next((r.metric for r in group if r.metric), "")
        rows = []
        for run in group:
            row = _run_row(run)
            rows.append(([*row[:1], *row[2:]], "cyan" if run.kind == "human" else None))
        tables.append(_terminal_table(f"{competition} ({metric})" if metric else competition, run_columns, rows,
                                      width))
    rows = []
    for p in participants(runs):
        row = _participant_row(p)
        rows.append(([*row[:1], *row[2:]], "cyan" if p.kind == "human" else None))
    tables.append(_terminal_table("participants", [c for c in PARTICIPANT_COLUMNS if c != "kind"], rows, width))
    if unverified(runs):
        rows = [(list(_unverified_row(run)), "red") for run in unverified(runs)]
        tables.append(_terminal_table(UNVERIFIED_TITLE, UNVERIFIED_COLUMNS, rows, width, title_style="bold red"))
    return tables


# ----- charts (nbdojo.tools.report_charts draws them) -----------------------------------------

def _run_labels(group: list[Run]) -> list[str]:
    """Legend entries that tell runs apart: agent · model · seed, and the run's folder where those collide."""
    labels = [r.label for r in group]
    return [f"{label} · {r.path.parent.name}" if labels.count(label) > 1 else label
            for label, r in zip(labels, group, strict=True)]


def score_curves(runs: list[Run], competition: str) -> str | None:
    """Score versus step for one competition (inline SVG): public scores from validate joined by a line, the final
    private score a separate star."""
    from nbdojo.tools.report_charts import Curve, score_chart

    group = [r for r in runs if r.competition == competition and r.curve and r.ranked]
    if not group:
        return None
    curves = []
    for run, label in zip(group, _run_labels(group), strict=True):
        final = [(s, v) for s, v, kind in run.curve if kind == "final"]
        curves.append(Curve(label=label, public=[(s, v) for s, v, kind in run.curve if kind == "public"],
                            final=final[-1] if final else None, person=run.kind == "human"))
    metric = next((r.metric for r in group if r.metric), "score")
    higher = next((r.higher_is_better for r in group if r.higher_is_better is not None), True)
    return score_chart(curves, chart_id=f"curve-{_slug(competition)}",
                       title=f"{competition}: score by step (\u25cf public, joined; \u2605 final private, apart)",
                       ylabel=f"{metric} ({'higher' if higher else 'lower'} is better)")


def human_rank_bars(runs: list[Run]) -> str | None:
    """HumanRank of each participant on each competition (inline SVG), never averaged across competitions."""
    from nbdojo.tools.report_charts import Bars, rank_bars

    done = [r for r in runs if r.status not in UNFINISHED and r.verified]
    groups = []
    for p in participants(done):
        mine = [r for r in done if r.participant == p.name]
        values = {}
        for comp in sorted({r.competition for r in mine}):
            ranks = [r.human_rank for r in mine if r.competition == comp and r.human_rank is not None]
            if ranks:
                values[comp] = (mean(ranks), len(ranks))
        seeds = sorted({r.seed for r in mine if r.seed is not None})
        label = p.name + (f"\nseed{'s' if len(seeds) > 1 else ''} {', '.join(map(str, seeds))}" if seeds else "")
        groups.append(Bars(label=label, values=values, person=p.kind == "human"))
    return rank_bars(groups, chart_id="human-rank")


def _slug(text: str) -> str:
    return "".join(c if c.isalnum() else "-" for c in text.lower())


# ----- HTML ---------------------------------------------------------------------------------

_CSS = """
body { font-family: system-ui, sans-serif; margin: 2em auto; max-width: 1100px; color: #222; }
table { border-collapse: collapse; margin: 0.5em 0 1.5em; font-size: 0.9em; }
th, td { border-bottom: 1px solid #ddd; padding: 4px 10px; text-align: right; }
th { background: #f4f4f4; } td:first-child, th:first-child, td.l { text-align: left; }
tr.human { background: #eef7ff; } tr.unverified { background: #fdecea; }
figure { margin: 0.5em 0 1.5em; } svg.chart { max-width: 100%; height: auto; }
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


def _participants_table(rows: list[Participant]) -> str:
    """Participants, with their HumanRank on each competition beside the mean when they ran more than one."""
    comps = sorted({c for p in rows for c in p.human_ranks})
    if len(comps) < 2:
        return _table(PARTICIPANT_COLUMNS, [(_participant_row(p), p.kind) for p in rows])
    at = PARTICIPANT_COLUMNS.index("HumanRank")
    columns = PARTICIPANT_COLUMNS[:at] + [f"HumanRank · {c}" for c in comps] + PARTICIPANT_COLUMNS[at:]
    table = []
    for p in rows:
        row = _participant_row(p)
        table.append((row[:at] + [_fmt_rank(p.human_ranks.get(c)) for c in comps] + row[at:], p.kind))
    return _table(columns, table)


def _link(run: Run, report: Path) -> tuple[str, str]:
    """A run's notebook, relative to the report where it can be."""
    try:
        href = os.path.relpath(run.path.resolve(), report.resolve().parent)
    except ValueError:
        href = run.path.resolve().as_uri()
    return href, f"{run.path.parent.name}/{run.path.name}"


def render_html(runs: list[Run], output: str | Path) -> Path:
    """Write the self-contained HTML report (tables and inline SVG charts)."""
    from nbdojo.trajectory import utcnow

    path = Path(output)
    parts = [f"<!doctype html><html><head><meta charset='utf-8'><title>nbdojo · people and agents</title>"
             f"<style>{_CSS}</style></head><body>",
             "<h1>nbdojo · people and agents</h1>",
             f"<p class='muted'>{len(runs)} runs ({len(unverified(runs))} unverified, not ranked) · generated "
             f"{html.escape(utcnow())} · HumanRank is the share of the competition's reference leaderboard beaten; "
             "medals as in MLE-bench; only results nbdojo signed are ranked.</p>",
             "<h2>Participants</h2>",
             _participants_table(participants(runs))]
    bars = human_rank_bars(runs)
    if bars:
        parts.append(f'<figure id="human-rank">{bars}</figure>')
    for competition, group in ranked(runs).items():
        metric = next((r.metric for r in group if r.metric), "")
        parts.append(f"<h2>{html.escape(competition)}</h2>")
        if metric:
            parts.append(f"<p class='muted'>metric: {html.escape(metric)}</p>")
        parts.append(_table(RUN_COLUMNS + ["notebook"], [(_run_row(r), r.kind) for r in group],
                            [_link(r, path) for r in group]))
        curves = score_curves(runs, competition)
        if curves:
            parts.append(f'<figure class="curve">{curves}</figure>')
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
