"""The compare report's charts as inline SVG: matplotlib draws them, text stays text, so a reader can select it
and a browser test can read legends, ticks and lines from the DOM.

A leaf: it takes plain series (no nbdojo types), so `compare` builds them and nothing here imports back.
Every element a reader (or test) looks for carries an id prefixed with the chart's id: `<chart>-legend`,
`<chart>-steps` (the step axis), `<chart>-public-<i>` (run i's public-score line), `<chart>-final-<i>` (its
final private score, a separate marker: no line joins it to the public scores).
"""

from __future__ import annotations

import io
import math
import re
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Curve:
    """One run on a score-by-step chart."""

    label: str  # legend entry: agent · model · seed (a person: name (human))
    public: list[tuple[int, float]] = field(default_factory=list)  # (step, score) from validate
    final: tuple[int, float] | None = None  # (step, private score)
    person: bool = False  # drawn dashed


@dataclass(frozen=True)
class Bars:
    """HumanRank per competition of one participant: one bar each, never averaged across competitions."""

    label: str  # x tick: the participant, and the seeds its runs used
    values: dict[str, tuple[float, int]]  # competition -> (mean HumanRank over its runs there, how many runs)
    person: bool = False  # hatched


def _pyplot() -> Any:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


_AUTO_ID = re.compile(r'id="([A-Za-z][\w.]*_\d+)"')


def _svg(fig: Any, chart_id: str) -> str:
    """The figure as an `<svg>` element for inlining; matplotlib's own ids prefixed so several charts share a page."""
    plt = _pyplot()
    buf = io.StringIO()
    with plt.rc_context({"svg.fonttype": "none"}):  # text as <text>, not glyph outlines
        fig.savefig(buf, format="svg", bbox_inches="tight", metadata={"Date": None})
    plt.close(fig)
    svg = buf.getvalue()
    svg = svg[svg.index("<svg"):]
    svg = _AUTO_ID.sub(lambda m: f'id="{chart_id}-{m.group(1)}"', svg)
    return svg.replace("<svg ", f'<svg class="chart" data-chart="{chart_id}" ', 1)


def score_chart(curves: list[Curve], *, chart_id: str, title: str, ylabel: str) -> str | None:
    """Score versus step: each run's public scores joined by a line, its final private score a separate star."""
    if not curves:
        return None
    from matplotlib.lines import Line2D
    from matplotlib.ticker import MaxNLocator

    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(7.5, 4.0))
    handles = []
    for i, curve in enumerate(curves):
        color = f"C{i % 10}"
        style = "--" if curve.person else "-"
        if curve.public:
            (line,) = ax.plot([s for s, _ in curve.public], [v for _, v in curve.public], color=color,
                              linestyle=style, marker="o", markersize=4, alpha=0.8)
            line.set_gid(f"{chart_id}-public-{i}")
        if curve.final:
            star = ax.scatter([curve.final[0]], [curve.final[1]], color=color, marker="*", s=160,
                              edgecolor="black", linewidth=0.5, zorder=3)
            star.set_gid(f"{chart_id}-final-{i}")
        handles.append(Line2D([], [], color=color, linestyle=style, marker="o" if curve.public else "*",
                              markersize=6, label=curve.label))
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.xaxis.set_gid(f"{chart_id}-steps")
    ax.set_title(title, fontsize=10)
    ax.set_xlabel("step (cells run, for people)")
    ax.set_ylabel(ylabel)
    ax.grid(alpha=0.3)
    legend = ax.legend(handles=handles, fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False,
                       title="agent · model · seed", title_fontsize=8)
    legend.set_gid(f"{chart_id}-legend")
    return _svg(fig, chart_id)


def rank_bars(groups: list[Bars], *, chart_id: str) -> str | None:
    """HumanRank per participant and competition (people hatched): values side by side, never pooled."""
    comps = sorted({c for g in groups for c in g.values})
    if not comps:
        return None
    import numpy as np

    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(max(5.0, 1.4 * len(groups) * max(1, len(comps)) ** 0.5 + 2), 4.0))
    width = 0.8 / len(comps)
    x = np.arange(len(groups))
    for j, comp in enumerate(comps):
        values = [g.values.get(comp, (math.nan, 0)) for g in groups]
        offset = (j - (len(comps) - 1) / 2) * width
        bars = ax.bar(x + offset, [v for v, _ in values], width, label=comp, color=f"C{j % 10}")
        for bar, group, (value, n) in zip(bars, groups, values, strict=True):
            if group.person:
                bar.set_hatch("//")
            if not math.isnan(value):
                text = f"{value:.0%}" + (f"\nmean of {n}" if n > 1 else "")
                ax.annotate(text, (bar.get_x() + bar.get_width() / 2, value), ha="center", va="bottom", fontsize=7)
    ax.set_xticks(x, [g.label for g in groups], rotation=15, ha="right", fontsize=8)
    ax.set_ylim(0, 1.2)
    ax.set_ylabel("HumanRank (share of the leaderboard beaten)")
    where = f"on {comps[0]}" if len(comps) == 1 else "per competition (never averaged across them)"
    ax.set_title(f"HumanRank {where}; several runs: their mean; people hatched", fontsize=10)
    if len(comps) > 1:
        ax.legend(fontsize=8, title="competition", title_fontsize=8).set_gid(f"{chart_id}-legend")
    ax.grid(axis="y", alpha=0.3)
    return _svg(fig, chart_id)
