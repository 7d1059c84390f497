"""What the run report shows, read with SQL every backend runs (DuckDB, PostgreSQL, Redshift) and from
the staging root (requests spent, capabilities).

Each section is gathered on its own and says why when it cannot be shown (no tables yet, a source with
nothing loaded, no snapshots, staging not readable), so an empty or partial warehouse still gets a
report. Coverage and scores are drawn for every source that matches songs; each source adds sections of
its own (``Source.report_sections``). The SQL sticks to what the three dialects share: CASE, integer
bins by ``floor``, ``log`` (base 10 in all three), ``%``; lists stored as JSON are counted in Python.
"""

from __future__ import annotations

import json
import logging
from collections import defaultdict
from datetime import UTC, datetime

from pipeline import config, staging
from pipeline.sources import answers, registry
from pipeline.sources.base import MIN_OBSERVED_S, FigureSpec, ReportContext, ReportSection, store_for
from pipeline.warehouse.backends import Backend, literal
from pipeline.warehouse.target import tables_present_sql

logger = logging.getLogger(__name__)

SCORE_BINS = 20  # match scores 0..1 in bins of 0.05
SNAPSHOT_TABLE = "track_popularity_daily"
MOVERS = 10
STATUS_COLOURS = {"matched": "#1DB954", "ambiguous": "#E5AE38", "not_found": "#999999", "error": "#C44E52"}


def _matched(alias: str) -> str:
    return f"sum(CASE WHEN {alias}.status = 'matched' THEN 1 ELSE 0 END)"


def _present_tables(backend: Backend) -> set[str]:
    names = ["songs", "etl_load_markers", SNAPSHOT_TABLE,
             *(t for s in registry.registered() for t in (s.match_table, s.track_table, *(x.name for x in s.tables)))]
    return {r[0] for r in backend.query(tables_present_sql(backend.dialect, sorted(set(names))))}


def _matching(backend: Backend, tables: set[str]) -> list:
    """The enabled sources that match songs and have matches loaded."""
    return [s for s in registry.enabled()
            if s.matches and s.match_table in tables and backend.scalar(f"SELECT count(*) FROM {s.match_table}")]


def gather(backend: Backend, progress=None) -> dict[str, ReportSection]:
    """Every section, in the order the page shows them: overview, coverage, scores, each source's own,
    snapshots, spend, capabilities. ``progress(name)`` is called as each one is done."""
    tables = _present_tables(backend)
    empty = "songs" not in tables or not backend.scalar("SELECT count(*) FROM songs")
    why = "the warehouse has no songs yet: run `python -m pipeline run` (or `make demo`) first" if empty else ""
    matching = [] if empty else _matching(backend, tables)
    sections: dict[str, ReportSection] = {}

    def add(section: ReportSection) -> None:
        sections[section.id] = section
        if progress:
            progress(section.id)

    def core(section_id: str, title: str, gather_section) -> ReportSection:
        if why:
            return ReportSection(section_id, title, available=False, why=why)
        section = ReportSection(section_id, title)
        gather_section(section)
        return section

    add(core("overview", "Overview", lambda s: _overview(backend, matching, s)))
    add(core("coverage", "Coverage and match rate", lambda s: _coverage(backend, matching, s)))
    add(core("scores", "Match scores", lambda s: _scores(backend, matching, s)))
    enabled = registry.enabled()
    for source in registry.registered():
        for section in source.report_sections(ReportContext(backend, tables, source in enabled, why)):
            add(section)
    add(_snapshots(backend, tables))
    add(_guarded("spend", "Requests, quota and what is left", "requests and quota",
                 lambda s: _spend(sections["overview"].facts, s)))
    add(_guarded("capabilities", "What the apps could see", "capabilities", _capabilities))
    provenance = ReportSection("provenance", "Sources, licences and provenance")  # licences whatever is loaded
    _provenance(provenance, [] if why else [r[0] for r in backend.query(
        "SELECT DISTINCT msd_partition FROM songs ORDER BY 1")])
    add(provenance)
    return sections


def _guarded(section_id: str, title: str, what: str, gather_section) -> ReportSection:
    """Staging-side sections: an unreadable staging root (an analyst without S3 access) is said, not fatal."""
    section = ReportSection(section_id, title)
    try:
        gather_section(section)
    except Exception as exc:  # S3 errors, missing folders, permissions alike
        logger.warning("report: %s not readable from %s: %s", what, staging.root(), exc)
        return ReportSection(section_id, title, available=False,
                             why=f"the staging root {staging.root()} could not be read: {str(exc).splitlines()[0]}")
    return section


def _overview(backend: Backend, matching: list, section: ReportSection) -> None:
    songs, partitions = backend.query("SELECT count(*), count(DISTINCT msd_partition) FROM songs")[0]
    section.facts = {"songs": songs, "partitions": partitions,
                     "sources": [{"name": s.name, "title": s.title,
                                  "matched": backend.scalar(f"SELECT count(*) FROM {s.match_table} "
                                                            f"WHERE status = 'matched'") or 0} for s in matching]}


def _coverage(backend: Backend, matching: list, section: ReportSection) -> None:
    aliases = {s.name: f"m{i}" for i, s in enumerate(matching)}
    joins = "FROM songs s" + "".join(f" LEFT JOIN {s.match_table} {aliases[s.name]} ON {aliases[s.name]}.track_id = "
                                     f"s.track_id" for s in matching)
    columns = ", ".join(["count(*)", *(f"count({aliases[s.name]}.track_id), {_matched(aliases[s.name])}" for s in matching)])

    def rows(group: str) -> list[dict]:
        out = []
        for row in backend.query(f"SELECT {group} AS g, {columns} {joins} GROUP BY 1"):
            key, songs, *counts = row
            item = {"key": key, "songs": songs}
            for i, s in enumerate(matching):
                item |= {f"{s.name}_asked": counts[2 * i], f"{s.name}_matched": counts[2 * i + 1] or 0}
            out.append(item)
        return sorted(out, key=lambda r: (r["key"] is None, r["key"] or 0))

    statuses = {s.name: dict(backend.query(f"SELECT status, count(*) FROM {s.match_table} GROUP BY 1")) for s in matching}
    by_partition = rows("s.msd_partition")
    by_decade = rows("CASE WHEN s.year > 0 THEN s.year - s.year % 10 END")
    series = [(s.name, s.title, s.colour) for s in matching]
    section.facts = {"by_partition": by_partition, "by_decade": by_decade, "statuses": statuses,
                     "sources": [{"name": s.name, "title": s.title} for s in matching]}
    section.figures = [
        FigureSpec("fig-rate-by-partition", "Match rate by partition",
                   "Share of each partition's songs each source matched (songs asked, not songs loaded, are the base).",
                   "match_rate_by", {"rows": by_partition, "label": "partition", "sources": series}),
        FigureSpec("fig-rate-by-decade", "Match rate by decade",
                   "By the MSD's release year; songs without a year (year 0 in the MSD) are 'unknown'.",
                   "match_rate_by", {"rows": by_decade, "label": "decade", "sources": series})]


def _scores(backend: Backend, matching: list, section: ReportSection) -> None:
    bins, thresholds = {}, {}
    for source in matching:
        counts: dict[str, list[int]] = defaultdict(lambda: [0] * SCORE_BINS)
        for b, status, n in backend.query(f"SELECT CAST(floor(score * {SCORE_BINS}) AS INTEGER), status, count(*) "
                                          f"FROM {source.match_table} WHERE score IS NOT NULL GROUP BY 1, 2"):
            counts[status][min(max(int(b), 0), SCORE_BINS - 1)] += n  # a perfect 1.0 goes in the top bin
        bins[source.name] = dict(counts)
        threshold = source.match_threshold()
        thresholds[source.name] = threshold
        if counts:
            cut = (f" The dashed line is the threshold a candidate needs ({threshold[1]} = {threshold[0]:.2f})."
                   if threshold else "")
            section.figures.append(FigureSpec(
                f"fig-scores-{source.name}", f"{source.title} match scores",
                f"Best candidate's score per song, stacked by outcome; songs never searched have none.{cut}",
                "score_distribution", {"bins": dict(counts), "width": 1 / SCORE_BINS, "title": source.title,
                                       "colours": STATUS_COLOURS, "threshold": threshold}))
    section.facts = {"bins": bins, "bin_width": 1 / SCORE_BINS, "thresholds": thresholds}


def _snapshots(backend: Backend, tables: set[str]) -> ReportSection:
    title = "Popularity over time"
    if SNAPSHOT_TABLE not in tables:
        return ReportSection("snapshots", title, available=False,
                             why=f"no dated popularity snapshots yet (table {SNAPSHOT_TABLE}): a daily refresh writes "
                                 f"them; until then popularity is the one reading each load took")
    rows = backend.query(f"SELECT source, snapshot_date, source_track_id, popularity, listen_count FROM "
                         f"{SNAPSHOT_TABLE} WHERE popularity IS NOT NULL OR listen_count IS NOT NULL "
                         f"ORDER BY snapshot_date")
    if not rows:
        return ReportSection("snapshots", title, available=False,
                             why=f"{SNAPSHOT_TABLE} holds no snapshot with a popularity or a listen count yet")
    section = ReportSection("snapshots", title)
    per_source: dict[str, dict[str, list[tuple]]] = defaultdict(lambda: defaultdict(list))
    measures: dict[str, str] = {}
    for source, day, track, popularity, listens in rows:
        # A source snapshots a popularity (Spotify's, Deezer's rank) or listens (ListenBrainz), not both.
        per_source[source][track].append((day, popularity if popularity is not None else listens))
        measures.setdefault(source, "popularity" if popularity is not None else "listen count")
    section.facts = {"sources": {}}
    for name, series in per_source.items():
        source = registry.get(name)
        movers = biggest_movers(series, MOVERS)
        labels = _track_labels(backend, name, movers, source.title)
        measure = measures[name]
        section.facts["sources"][name] = {"title": source.title, "measure": measure,
                                          "dates": len({d for points in series.values() for d, _ in points}),
                                          "movers": {t: labels[t] for t in movers}}
        section.figures.append(FigureSpec(
            f"fig-movers-{name}", f"Biggest movers on {source.title}",
            f"The {len(movers)} tracks whose {source.title} {measure} changed most, as a share of their first "
            f"snapshot, between their first and last snapshot; each line is its change since that first snapshot. "
            f"Named by the MSD song they matched (title – artist).",
            "movers", {"series": {labels[t]: relative_change(series[t]) for t in movers},
                       "ylabel": f"{source.title} {measure}, % change"}))
    return section


def relative_change(points: list[tuple]) -> list[tuple]:
    """(date, value) → (date, % change since the first value): tracks of every size on one axis, so a move of 5,000
    on a rank of 900,000 does not look flat beside one of a rank of 50,000."""
    first = points[0][1]
    return [(day, 100.0 * (value - first) / max(abs(first), 1)) for day, value in points]


def biggest_movers(series: dict[str, list[tuple]], count: int) -> list[str]:
    """The ``count`` tracks whose value changed most between their first and last snapshot as a share of the first
    (ties: the larger move, then the id, so the same warehouse draws the same figure)."""
    def move(track: str) -> tuple:
        first, last = series[track][0][1], series[track][-1][1]
        return -abs(last - first) / max(abs(first), 1), -abs(last - first), track
    return sorted(series, key=move)[:count]


def shorten(text: str, width: int) -> str:
    """``text`` cut at a word to at most ``width`` characters, an ellipsis saying so."""
    text = " ".join(text.split())
    if len(text) <= width:
        return text
    cut = text[:width - 1]
    word = cut.rsplit(" ", 1)[0] if " " in cut[width // 2:] else cut
    return word.rstrip(" ,;:-–(") + "…"


def _track_labels(backend: Backend, source: str, track_ids: list[str], title: str) -> dict[str, str]:
    """A legend's name for each source track: the MSD song it matched, "title – artist" shortened; a source track
    two MSD songs matched takes the first by track id. Names that would repeat keep their source id."""
    names: dict[str, tuple[str, str]] = {}
    if track_ids:
        listed = ", ".join(literal(t) for t in track_ids)
        for track, _, song, artist in sorted(backend.query(
                f"SELECT DISTINCT p.source_track_id, s.track_id, s.title, s.artist_name FROM {SNAPSHOT_TABLE} p "
                f"JOIN songs s ON s.track_id = p.msd_track_id WHERE p.source = {literal(source)} "
                f"AND p.source_track_id IN ({listed})")):
            names.setdefault(track, (song or "", artist or ""))
    labels = {t: f"{shorten(names[t][0], 32)} – {shorten(names[t][1], 22)}" if t in names else f"{title} {t}"
              for t in track_ids}
    repeated = {label for label in labels.values() if list(labels.values()).count(label) > 1}
    return {t: f"{label} ({t})" if label in repeated else label for t, label in labels.items()}


def _spend(overview: dict, section: ReportSection) -> None:
    from pipeline.partitions import discover_partitions

    songs = overview.get("songs") or 0
    try:
        partitions = len(discover_partitions(config.msd().root))
    except Exception as exc:  # the MSD root may not be reachable from where the report runs
        logger.warning("report: MSD root not readable: %s", exc)
        partitions = None
    loaded = overview.get("partitions") or 0
    remaining = max(round(songs / loaded * partitions) - songs, 0) if partitions and loaded and songs else None
    facts: dict = {"sources": {}, "notes": [], "msd_partitions": partitions, "remaining_songs": remaining}
    if remaining is not None:
        facts["remaining_basis"] = (f"{partitions - loaded} of {partitions} partitions under the MSD root not loaded, "
                                    f"at {songs / loaded:.0f} songs per loaded partition")
    for source in registry.registered():
        spent = answers.total_spent(source.name)  # one read of the ledger: totals and the days
        per_song = round(spent["sent_total"] / songs, 3) if songs else None
        daily, basis = source.daily_capacity(spent)
        entry = {"title": source.title, "colour": source.colour, "sent_total": spent["sent_total"], "runs": spent["runs"],
                 "this_command": spent["this_command"],
                 "by_day": spent["by_day"], "per_song": per_song, "daily": daily, "daily_basis": basis}
        if remaining is not None and daily and per_song:
            entry["days_left"] = round(remaining * per_song / daily, 2 if daily > 10_000 else 1)
        facts["sources"][source.name] = entry
        facts["notes"] += source.notes()
    facts["min_observed_s"] = MIN_OBSERVED_S
    facts["generated_at"] = datetime.now(UTC).isoformat(timespec="seconds")
    section.facts = facts
    if any(s["by_day"] for s in facts["sources"].values()):
        section.figures.append(FigureSpec(
            "fig-spend", "Requests sent per day", "Every request sent, by UTC day, from the ledger beside each source's "
            "answers.", "spend_by_day", {"sources": {s["title"]: (s["by_day"], s["colour"])
                                                     for s in facts["sources"].values() if s["by_day"]}}))


def _capabilities(section: ReportSection) -> None:
    out = {}
    for source in registry.registered():
        store = store_for(source.name)
        for name in source.capabilities:
            entry = store.get("capability", name)
            out[f"{source.name}.{name}"] = ({"available": entry.get("available"), "reason": entry.get("reason"),
                                             "at": entry.get("at")} if entry else None)
    section.facts = {"capabilities": out}


def _provenance(section: ReportSection, partitions: list[str]) -> None:
    """Per origin (the MSD, then each enabled source): its licence and terms as declared, and the external data its
    stages used as the loaded partitions' manifests record it (``provenance``, pipeline/tasks/base.py): the
    services asked, the dumps and files read. Where no manifest records any (staged before manifests did), what
    the settings in force declare, said as such."""
    from pipeline import licences
    from pipeline.msd.terms import MSD
    from pipeline.tasks.extract import ExtractPartition

    stages = [(MSD, lambda p: ExtractPartition(partition=p))]
    stages += [(source, source.loaded_stage) for source in registry.enabled()]
    out, unreadable = [], ""
    for declared, stage in stages:
        recorded: dict[str, dict] = {}
        manifests = 0
        if not unreadable:
            try:
                for partition in partitions:
                    target = stage(partition).output()
                    if not target.exists():
                        continue
                    manifest = target.read()[0]
                    if "provenance" in manifest:
                        manifests += 1
                        for entry in manifest["provenance"]:
                            recorded.setdefault(json.dumps(entry, sort_keys=True), entry)
            except Exception as exc:  # the staging root or the MSD root not readable from here
                logger.warning("report: provenance not readable from %s: %s", staging.root(), exc)
                unreadable = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        if manifests:
            entries = list(recorded.values())
            basis = f"As {manifests} manifest{'' if manifests == 1 else 's'} of the loaded partitions record it"
        else:
            entries = declared.provenance()
            why = (f"the staging root could not be read ({unreadable})" if unreadable
                   else "no manifest of the loaded partitions records it (none loaded, or staged before manifests "
                        "recorded it)")
            basis = f"As the settings in force declare it: {why}"
        o = licences.origin(declared)
        other_terms = [(t.name, licences.origin(declared, t.name)) for t in getattr(declared, "tables", ())]
        out.append({"name": o.name, "title": o.title, "licence": o.licence, "licence_url": o.licence_url,
                    "republishable": o.republishable, "terms": o.terms, "basis": basis,
                    "tables": [{"table": name, "licence": t.licence, "republishable": t.republishable, "terms": t.terms}
                               for name, t in other_terms if t != o],
                    "hosts": sorted({e["host"] for e in entries if e.get("kind") == "api"}),
                    "files": sorted((e for e in entries if e.get("kind") != "api"),
                                    key=lambda e: (e.get("kind") or "", e.get("name") or "", e.get("location") or ""))})
    section.facts = {"origins": out, "partitions": len(partitions)}
