"""The report's figures, drawn with matplotlib and inlined as SVG (no files beside the page, no
JavaScript). A section names each figure it wants by a kind, one of the functions below, and its
arguments (``FigureSpec``); ``draw`` returns the SVG text.
"""

from __future__ import annotations

import io
import math
from datetime import timedelta

import matplotlib

matplotlib.use("Agg")  # no display: figures are drawn to memory

import matplotlib.dates as mdates  # noqa: E402
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.ticker import FuncFormatter, MaxNLocator, PercentFormatter  # noqa: E402

# Text stays text in the SVG (smaller, searchable), and ids and the date are fixed so the same
# warehouse draws the same page.
# Labels are song and artist names: "$" in them is text ("Taktlo$$"), never matplotlib's math markup.
matplotlib.rcParams.update({"svg.fonttype": "none", "svg.hashsalt": "music-etl", "font.size": 9,
                            "axes.spines.top": False, "axes.spines.right": False, "text.parse_math": False})

MANY_PARTITIONS = 40  # above this, partitions are shown as a distribution of rates, not one bar each
MANY_DAYS = 14  # above this, a date tick every few days, not every day
ONE_DAY = timedelta(days=1)
THRESHOLD_COLOUR = "#222222"


def number(value: float) -> str:
    """A count or amount as the page writes it: thousands separated, no ``.0`` on a whole number."""
    return f"{value:,.0f}" if float(value).is_integer() else f"{value:,.2f}".rstrip("0").rstrip(".")


COUNTS = FuncFormatter(lambda value, _: number(value))


def _counts(axis) -> None:
    """Whole counts on ``axis``: integer ticks, thousands separated."""
    axis.set_major_locator(MaxNLocator(integer=True, steps=[1, 2, 5, 10]))
    axis.set_major_formatter(COUNTS)


def _legend_outside(ax, **kwargs) -> None:
    """The legend right of the plot, off the lines and bars (the figure grows to hold it)."""
    ax.legend(frameon=False, loc="upper left", bbox_to_anchor=(1.01, 1.0), borderaxespad=0, **kwargs)


def _svg(fig) -> str:
    buffer = io.StringIO()
    fig.savefig(buffer, format="svg", bbox_inches="tight", metadata={"Date": None})
    plt.close(fig)
    text = buffer.getvalue()
    return text[text.index("<svg"):]  # the XML prologue and doctype do not belong inside HTML


def _rate(row: dict, source: str) -> float:
    asked = row.get(f"{source}_asked") or 0
    return row[f"{source}_matched"] / asked if asked else 0.0


def match_rate_by(rows: list[dict], label: str, sources: list[tuple[str, str, str]]) -> str:
    """Grouped bars: each source's (name, title, colour) match rate per group (partition or decade)."""
    if label == "partition" and len(rows) > MANY_PARTITIONS:
        fig, ax = plt.subplots(figsize=(7, 3))
        for name, title, colour in sources:
            ax.hist([_rate(r, name) for r in rows], bins=20, range=(0, 1), alpha=0.6, label=title, color=colour)
        ax.set_xlabel("match rate of a partition")
        ax.xaxis.set_major_formatter(PercentFormatter(1.0, decimals=0))
        ax.set_ylabel("partitions")
        _counts(ax.yaxis)
        if sources:  # only sources that match songs have a rate; with none enabled there is nothing to name
            _legend_outside(ax)
        return _svg(fig)
    keys = [str(r["key"]) + ("s" if label == "decade" and r["key"] is not None else "") if r["key"] is not None
            else "unknown" for r in rows]
    fig, ax = plt.subplots(figsize=(max(4.0, 0.45 * len(rows) * len(sources) + 1.5), 3))
    width = 0.8 / max(len(sources), 1)
    for i, (name, title, colour) in enumerate(sources):
        xs = [x + (i - (len(sources) - 1) / 2) * width for x in range(len(rows))]
        ax.bar(xs, [_rate(r, name) for r in rows], width, label=title, color=colour)
    ax.set_xticks(range(len(rows)), keys, rotation=45 if len(rows) > 8 else 0)
    ax.set_ylim(0, 1)
    ax.yaxis.set_major_formatter(PercentFormatter(1.0, decimals=0))
    ax.set_ylabel("match rate")
    ax.set_xlabel(label)
    if sources:
        _legend_outside(ax)
    return _svg(fig)


def score_distribution(bins: dict[str, list[int]], width: float, title: str, colours: dict[str, str],
                       threshold: tuple[float, str] | None = None) -> str:
    """Stacked histogram of match scores by outcome, and the threshold (value, the setting naming it) drawn where
    it cuts."""
    fig, ax = plt.subplots(figsize=(6, 2.6))
    lefts = [i * width for i in range(len(next(iter(bins.values()))))]
    bottom = [0] * len(lefts)
    for status in sorted(bins):
        ax.bar(lefts, bins[status], width, bottom=bottom, align="edge", label=status, color=colours.get(status, "#777777"))
        bottom = [b + n for b, n in zip(bottom, bins[status], strict=True)]
    ax.set_xlim(0, 1)
    ax.set_yscale("symlog", linthresh=10)  # the tail below the threshold is what matters, not the tall top bin
    ax.yaxis.set_major_formatter(COUNTS)
    if threshold is not None:
        value, setting = threshold
        ax.axvline(value, color=THRESHOLD_COLOUR, linestyle="--", linewidth=1, label=f"threshold {value:.2f}")
        ax.annotate(f"threshold {value:.2f}\n{setting}", (value, 1), xycoords=("data", "axes fraction"),
                    xytext=(-4, -2), textcoords="offset points", ha="right", va="top", fontsize=7,
                    color=THRESHOLD_COLOUR)
    ax.set_xlabel(f"{title} match score of the best candidate")
    ax.set_ylabel("songs (log scale)")
    _legend_outside(ax)
    return _svg(fig)


def stacked_bars(rows: dict[str, dict[str, int]], parts: dict[str, tuple[str, str]], xlabel: str, ylabel: str) -> str:
    """Horizontal bars, one per row, stacked by part (part → (label, colour))."""
    labels = list(rows)
    fig, ax = plt.subplots(figsize=(5, 0.6 + 0.5 * len(labels)))
    left = [0] * len(labels)
    for part, (label, colour) in parts.items():
        values = [rows[r].get(part, 0) for r in labels]
        ax.barh(labels, values, left=left, color=colour, label=label)
        left = [a + b for a, b in zip(left, values, strict=True)]
    ax.set_xlabel(xlabel)
    _counts(ax.xaxis)
    ax.set_ylabel(ylabel)
    ax.legend(frameon=False, ncols=len(parts), loc="lower center", bbox_to_anchor=(0.5, 1.0))
    return _svg(fig)


TICKS = {None: number, "thousands": lambda v: f"{number(round(v / 1000))}k" if v else "0",
         "powers_of_ten": lambda v: f"10^{v:.0f}"}


def histogram(counts: dict[int, int], bin_width: float, xlabel: str, ylabel: str, colour: str,
              ticks: str | None = None) -> str:
    """Bars for pre-binned counts (bin index → count), from the first to the last bin seen."""
    tick = TICKS[ticks]
    first, last = min(counts), max(counts)
    lefts = list(range(first, last + 1))
    fig, ax = plt.subplots(figsize=(6, 2.6))
    ax.bar([b * bin_width for b in lefts], [counts.get(b, 0) for b in lefts], bin_width * 0.9, align="edge",
           color=colour)
    shown = lefts if len(lefts) <= 12 else lefts[:: max(1, len(lefts) // 10)]
    ax.set_xticks([b * bin_width for b in shown], [tick(b * bin_width) for b in shown])
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    _counts(ax.yaxis)
    return _svg(fig)


def bars(items: list[tuple[str, int]], colour: str, xlabel: str) -> str:
    """Horizontal bars, the first item on top."""
    names = [name for name, _ in items][::-1]
    fig, ax = plt.subplots(figsize=(5, 0.4 + 0.22 * len(names)))
    ax.barh(names, [n for _, n in items][::-1], color=colour)
    ax.set_xlabel(xlabel)
    _counts(ax.xaxis)
    return _svg(fig)


def movers(series: dict[str, list[tuple]], ylabel: str) -> str:
    """Each track's change by snapshot date (name → [(date, % change since its first snapshot)]): a date tick per
    day (every few days when there are many), the names right of the plot."""
    fig, ax = plt.subplots(figsize=(6, 3))
    for track, points in series.items():
        ax.plot([p[0] for p in points], [p[1] for p in points], marker=".", label=track)
    days = sorted({p[0] for points in series.values() for p in points})
    span = (days[-1] - days[0]).days + 1 if days else 1
    ax.xaxis.set_major_locator(mdates.DayLocator(interval=max(1, math.ceil(span / MANY_DAYS))))
    ax.xaxis.set_major_formatter(mdates.DateFormatter("%Y-%m-%d"))
    if span == 1:  # one day: a day either side, so the one tick has room
        ax.set_xlim(days[0] - ONE_DAY, days[0] + ONE_DAY)
    ax.set_ylabel(ylabel)
    ax.axhline(0, color="#999999", linewidth=0.6)
    ax.yaxis.set_major_formatter(lambda v, _: f"{v:+,.0f} %" if v else "0")
    _legend_outside(ax, fontsize=7)
    fig.autofmt_xdate()
    return _svg(fig)


def spend_by_day(sources: dict[str, tuple[dict[str, int], str]]) -> str:
    """Requests per UTC day, a bar per source (title → (day → requests, colour))."""
    days = sorted({d for by_day, _ in sources.values() for d in by_day})
    fig, ax = plt.subplots(figsize=(max(4.0, 0.5 * len(days) + 2), 2.6))
    width = 0.8 / len(sources)
    for i, (title, (by_day, colour)) in enumerate(sources.items()):
        xs = [x + (i - (len(sources) - 1) / 2) * width for x in range(len(days))]
        ax.bar(xs, [by_day.get(d, 0) for d in days], width, label=title, color=colour)
    ax.set_xticks(range(len(days)), days, rotation=45 if len(days) > 4 else 0)
    ax.set_ylabel("requests sent")
    _counts(ax.yaxis)
    _legend_outside(ax)
    return _svg(fig)


KINDS = {f.__name__: f for f in (match_rate_by, score_distribution, stacked_bars, histogram, bars, movers, spend_by_day)}


def draw(kind: str, args: dict) -> str:
    """The SVG of a figure a section asks for by ``kind``."""
    return KINDS[kind](**args)
