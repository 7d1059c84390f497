"""ListenBrainz's sections of the run report: how listen counts spread over songs and artists, how a song's
listens relate to its artist's, and whether Deezer's rank and ListenBrainz's listens order songs alike, decade by
decade (Spearman's rank correlation over the songs both sources count)."""

from __future__ import annotations

import math
from collections import defaultdict

from pipeline.sources.base import FigureSpec, ReportContext, ReportSection

TEMPLATE = "report.html.j2"


def _log_bins(rows) -> dict[int, int]:
    bins: dict[int, int] = defaultdict(int)
    for (count,) in rows:
        bins[int(math.floor(math.log10(count + 1)))] += 1
    return dict(sorted(bins.items()))


def ranks(values: list[float]) -> list[float]:
    """1-based ranks, ties given their mean rank (as Spearman's coefficient needs)."""
    order = sorted(range(len(values)), key=values.__getitem__)
    out = [0.0] * len(values)
    start = 0
    while start < len(order):
        end = start
        while end + 1 < len(order) and values[order[end + 1]] == values[order[start]]:
            end += 1
        for i in order[start:end + 1]:
            out[i] = (start + end) / 2 + 1
        start = end + 1
    return out


def spearman(xs: list[float], ys: list[float]) -> float | None:
    """Spearman's rho: Pearson's correlation of the ranks; None when either side does not vary."""
    if len(xs) < 3:
        return None
    rx, ry = ranks(xs), ranks(ys)
    mx, my = sum(rx) / len(rx), sum(ry) / len(ry)
    cov = sum((a - mx) * (b - my) for a, b in zip(rx, ry, strict=True))
    vx, vy = sum((a - mx) ** 2 for a in rx), sum((b - my) ** 2 for b in ry)
    return cov / math.sqrt(vx * vy) if vx and vy else None


def sections(source, context: ReportContext) -> list[ReportSection]:
    backend = context.backend
    why = context.empty_why
    if not why and not ("listenbrainz_recordings" in context.tables
                        and backend.scalar("SELECT count(*) FROM listenbrainz_recordings")):
        why = "no ListenBrainz counts are loaded ([sources] enabled leaves ListenBrainz out, or it has not run)"
    listens = ReportSection("listens", "Open popularity: ListenBrainz listens", source.name, TEMPLATE)
    agreement = ReportSection("rank-agreement", "Deezer rank and ListenBrainz listens, by decade", source.name, TEMPLATE)
    if why:
        for section in (listens, agreement):
            section.available, section.why = False, why
        return [listens, agreement]
    _listens(backend, source.colour, listens)
    _agreement(backend, agreement, context.tables)
    return [listens, agreement]


def _listens(backend, colour: str, section: ReportSection) -> None:
    songs = backend.query("SELECT total_listen_count FROM listenbrainz_recordings WHERE total_listen_count IS NOT NULL")
    artists = backend.query("SELECT total_listen_count FROM listenbrainz_artists WHERE total_listen_count IS NOT NULL")
    shares = backend.query("SELECT r.total_listen_count, a.total_listen_count FROM listenbrainz_recordings r "
                           "JOIN listenbrainz_artists a ON a.artist_mbid = r.artist_mbid "
                           "WHERE r.total_listen_count IS NOT NULL AND a.total_listen_count > 0")
    total, with_recording = backend.query("SELECT count(*), count(recording_mbid) FROM listenbrainz_recordings")[0]
    share_bins: dict[int, int] = defaultdict(int)
    for song, artist in shares:
        share_bins[int(math.floor(math.log10(max(song, 1) / artist)))] += 1
    section.facts = {"songs": total, "with_recording": with_recording, "songs_counted": len(songs),
                     "artists_counted": len(artists), "pairs": len(shares)}
    if songs:
        section.figures.append(FigureSpec(
            "fig-lb-song-listens", "Listens per song", "All-time ListenBrainz listens (plus MLHD+) of each song's "
            "recording, on a log scale (bin n holds 10^n to 10^(n+1)).", "histogram",
            {"counts": _log_bins(songs), "bin_width": 1, "xlabel": "listens (10^n)", "ylabel": "songs", "colour": colour,
             "ticks": "powers_of_ten"}))
    if artists:
        section.figures.append(FigureSpec(
            "fig-lb-artist-listens", "Listens per artist", "All-time ListenBrainz listens of each MSD artist (from MSD's "
            "artist_mbid, no matching), on a log scale.", "histogram",
            {"counts": _log_bins(artists), "bin_width": 1, "xlabel": "listens (10^n)", "ylabel": "artists",
             "colour": colour, "ticks": "powers_of_ten"}))
    if share_bins:
        section.figures.append(FigureSpec(
            "fig-lb-song-share", "A song's share of its artist's listens", "log10 of the song's listens over its "
            "artist's: 0 is an artist known for this one song, -3 a song with a thousandth of its artist's listens.",
            "histogram", {"counts": dict(sorted(share_bins.items())), "bin_width": 1, "xlabel": "song / artist listens "
                          "(10^n)", "ylabel": "songs", "colour": colour, "ticks": "powers_of_ten"}))


def _agreement(backend, section: ReportSection, tables: set[str]) -> None:
    if not {"deezer_matches", "deezer_tracks"} <= tables:
        section.available, section.why = False, "Deezer is not loaded: there is no rank to compare"
        return
    rows = backend.query("SELECT year, deezer_rank, lb_listen_count FROM enriched_songs "
                         "WHERE deezer_rank IS NOT NULL AND lb_listen_count IS NOT NULL")
    by_decade: dict[str, list[tuple[int, int]]] = defaultdict(list)
    for year, rank, listens in rows:
        by_decade[f"{year // 10 * 10}s" if year else "year unknown"].append((rank, listens))
    table = []
    for decade in sorted(by_decade):
        pairs = by_decade[decade]
        rho = spearman([p[0] for p in pairs], [p[1] for p in pairs])
        table.append({"decade": decade, "songs": len(pairs), "rho": None if rho is None else round(rho, 2)})
    everything = spearman([r[1] for r in rows], [r[2] for r in rows])
    section.facts = {"songs": len(rows), "rho": None if everything is None else round(everything, 2), "decades": table}
    if not rows:
        section.available, section.why = False, "no song has both a Deezer rank and a ListenBrainz count yet"
