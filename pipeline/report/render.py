"""``python -m pipeline report``: one self-contained HTML page a researcher can read offline or put
in an appendix.

    python -m pipeline report [--out data/report.html]

The facts come from the configured warehouse through its own SQL and from the staging root
(pipeline/report/facts.py), the figures from matplotlib as inline SVG
(pipeline/report/figures.py), the page from a Jinja2 template (templates/report.html.j2), with
no script and nothing fetched when it is opened. A section without data says why instead.
The page is written under a temporary name and renamed, so a reader never opens half a report.
"""

from __future__ import annotations

import os
import secrets
import sys
from dataclasses import dataclass
from datetime import UTC, datetime

import jinja2
from tqdm import tqdm

from pipeline import config, staging
from pipeline.report import facts as report_facts
from pipeline.report import figures
from pipeline.warehouse.backends import Backend, redact, warehouse_backend

DEFAULT_OUT = os.path.join("data", "report.html")
TEMPLATES = os.path.join(os.path.dirname(os.path.abspath(__file__)), "templates")


@dataclass
class Figure:
    id: str
    title: str
    caption: str
    svg: str


def _figures(sections: dict[str, report_facts.Section]) -> dict[str, list[Figure]]:
    """The figures of each section that has data, in the order the page shows them."""
    out: dict[str, list[Figure]] = {name: [] for name in sections}
    coverage = sections["coverage"]
    if coverage.available:
        sources = ["spotify"] + (["deezer"] if "deezer" in coverage.facts["statuses"] else [])
        out["coverage"] += [
            Figure("fig-rate-by-partition", "Match rate by partition",
                   "Share of each partition's songs each source matched (songs asked, not songs loaded, are the base).",
                   figures.match_rate_by(coverage.facts["by_partition"], "partition", sources)),
            Figure("fig-rate-by-decade", "Match rate by decade",
                   "By the MSD's release year; songs without a year (year 0 in the MSD) are 'unknown'.",
                   figures.match_rate_by(coverage.facts["by_decade"], "decade", sources))]
    scores = sections["scores"]
    if scores.available:
        out["scores"] += [Figure(f"fig-scores-{source}", f"{source.capitalize()} match scores",
                                 "Best candidate's score per song, stacked by outcome; songs never searched have none.",
                                 figures.score_distribution(bins, scores.facts["bin_width"], source))
                          for source, bins in scores.facts["bins"].items() if bins]
    agreement = sections["agreement"]
    if agreement.available and agreement.facts["both_matched"]:
        out["agreement"].append(Figure("fig-agreement", "Cross-source agreement",
                                       "Songs both Spotify and Deezer matched: the same recording (equal ISRCs, else "
                                       "lengths within 3 s and equal names) or not.",
                                       figures.agreement(agreement.facts["by_method"])))
    popularity = sections["popularity"]
    if popularity.available:
        p = popularity.facts
        if p["rank_bins"]:
            out["popularity"].append(Figure("fig-deezer-rank", "Deezer rank of matched tracks",
                                            "Deezer's popularity rank (0 to about 1M, updated daily), one reading per load.",
                                            figures.histogram(p["rank_bins"], p["rank_bin"], "Deezer rank", "tracks",
                                                              figures.COLOURS["deezer"],
                                                              tick=lambda v: f"{v / 1000:.0f}k")))
        if p["fan_decades"]:
            out["popularity"].append(Figure("fig-artist-fans", "Fans of the lead artists",
                                            "Deezer fans per lead artist, on a log scale (bin n holds 10^n to 10^(n+1)).",
                                            figures.histogram(p["fan_decades"], 1, "fans (10^n)", "artists",
                                                              figures.COLOURS["deezer"], tick=lambda v: f"10^{v:.0f}")))
        if p["bpm_bins"]:
            out["popularity"].append(Figure("fig-bpm", "Tempo (Deezer bpm)",
                                            f"{p['known_bpm']} of {p['tracks']} matched tracks have a bpm; Deezer's 0 "
                                            f"('not measured') is left out.",
                                            figures.histogram(p["bpm_bins"], 10, "beats per minute", "tracks",
                                                              figures.COLOURS["deezer"])))
        if p["genres"]:
            out["popularity"].append(Figure("fig-genres", "Genres", "Deezer's album genres, the 15 most frequent.",
                                            figures.genres(p["genres"])))
    snapshots = sections["snapshots"]
    if snapshots.available:
        out["snapshots"].append(Figure("fig-movers", "Biggest movers", "The ten tracks whose Deezer rank changed most.",
                                       figures.movers(snapshots.facts["movers"])))
    spend = sections["spend"]
    if spend.available and any(s["by_day"] for s in spend.facts["sources"].values()):
        out["spend"].append(Figure("fig-spend", "Requests sent per day", "Every request sent, by UTC day, from the "
                                   "ledger beside each source's answers.", figures.spend_by_day(spend.facts["sources"])))
    return out


def render(backend: Backend) -> str:
    # A bar on a terminal (section by section, then the figures); nothing when output is not one.
    steps = tqdm(total=9, desc="report", unit=" sections", disable=not sys.stderr.isatty(), leave=False)
    try:
        sections = report_facts.gather(backend, progress=lambda name: steps.update(1))
        page_figures = _figures(sections)
        steps.update(1)
    finally:
        steps.close()
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(TEMPLATES), autoescape=jinja2.select_autoescape(["j2"]),
                             undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True)
    env.filters["pct"] = lambda part, whole: f"{part / whole:.1%}" if whole else "–"
    return env.get_template("report.html.j2").render(
        s=sections, figures=page_figures, warehouse=redact(backend.url), dialect=backend.dialect,
        staging_root=staging.root(), msd_root=config.msd().root,
        generated_at=datetime.now(UTC).isoformat(timespec="seconds"))


def write_report(out: str, backend: Backend | None = None) -> str:
    """Render the report for the configured warehouse (or ``backend``) into ``out``; returns its path."""
    own = backend is None
    backend = backend or warehouse_backend()
    try:
        page = render(backend)
    finally:
        if own:
            backend.close()
    folder = os.path.dirname(os.path.abspath(out))
    os.makedirs(folder, exist_ok=True)
    # A name of this process's own, opened as any file is (mkstemp's would be readable by its owner alone).
    tmp = os.path.join(folder, f".report-{os.getpid()}-{secrets.token_hex(4)}.html")
    try:
        with open(tmp, "w", encoding="utf-8") as fh:
            fh.write(page)
        os.replace(tmp, out)
    except BaseException:
        if os.path.exists(tmp):
            os.remove(tmp)
        raise
    return os.path.abspath(out)
