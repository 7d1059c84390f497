"""Deezer's sections of the run report: whether it found the recording Spotify found, and what it adds
(rank, lead-artist fans, bpm, album genres). SQL every backend runs; lists stored as JSON are counted here."""

from __future__ import annotations

import json
from collections import Counter, defaultdict

from pipeline.sources.base import FigureSpec, ReportContext, ReportSection

RANK_BIN = 50_000  # Deezer rank (0 to about 1M) in bins of 50k
TEMPLATE = "report.html.j2"


def sections(source, context: ReportContext) -> list[ReportSection]:
    backend = context.backend
    why = context.empty_why
    if not why and not (source.match_table in context.tables and backend.scalar(f"SELECT count(*) FROM {source.match_table}")):
        why = "no Deezer matches are loaded ([sources] enabled leaves Deezer out, or its enrichment has not run)"
    agreement = ReportSection("agreement", "Cross-source agreement", source.name, TEMPLATE)
    popularity = ReportSection("popularity", "Popularity, fans, tempo and genres", source.name, TEMPLATE)
    if why:
        for section in (agreement, popularity):
            section.available, section.why = False, why
        return [agreement, popularity]
    _agreement(backend, agreement)
    _popularity(backend, source.colour, popularity)
    return [agreement, popularity]


def _agreement(backend, section: ReportSection) -> None:
    by_method = defaultdict(lambda: {"agree": 0, "disagree": 0})
    for agrees, method, n in backend.query("SELECT agrees_with_spotify, method, count(*) FROM deezer_matches "
                                           "WHERE agrees_with_spotify IS NOT NULL GROUP BY 1, 2"):
        by_method[method]["agree" if agrees else "disagree"] += n
    agree = sum(v["agree"] for v in by_method.values())
    disagree = sum(v["disagree"] for v in by_method.values())
    section.facts = {"agree": agree, "disagree": disagree, "both_matched": agree + disagree,
                     "by_method": dict(sorted(by_method.items()))}
    if agree + disagree:
        section.figures.append(FigureSpec(
            "fig-agreement", "Cross-source agreement",
            "Songs both Spotify and Deezer matched: the same recording (equal ISRCs, else lengths within 3 s and equal "
            "names) or not.", "stacked_bars",
            {"rows": section.facts["by_method"], "parts": {"agree": ("same recording", "#4C72B0"),
                                                           "disagree": ("different recordings", "#DD8452")},
             "xlabel": "songs matched by both sources", "ylabel": "Deezer found it by"}))


def _popularity(backend, colour: str, section: ReportSection) -> None:
    ranks = dict(backend.query(f"SELECT CAST(floor(popularity_rank / {RANK_BIN}.0) AS INTEGER), count(*) "
                               f"FROM deezer_tracks WHERE popularity_rank IS NOT NULL GROUP BY 1"))
    fans = dict(backend.query("SELECT CAST(floor(log(CAST(nb_fan AS DOUBLE PRECISION) + 1)) AS INTEGER), count(*) "
                              "FROM deezer_artists WHERE nb_fan IS NOT NULL GROUP BY 1"))
    bpm = dict(backend.query("SELECT CAST(floor(bpm / 10) AS INTEGER), count(*) FROM deezer_tracks "
                             "WHERE bpm IS NOT NULL GROUP BY 1"))
    genres: Counter[str] = Counter()
    for (value,) in backend.query("SELECT genres FROM deezer_albums WHERE genres IS NOT NULL"):
        genres.update(json.loads(value) if isinstance(value, str) else value)
    tracks, known_bpm = backend.query("SELECT count(*), count(bpm) FROM deezer_tracks")[0]
    spotify_visible = backend.scalar("SELECT count(popularity) FROM spotify_tracks")
    section.facts = {"rank_bins": ranks, "rank_bin": RANK_BIN, "fan_decades": fans, "bpm_bins": bpm,
                     "genres": genres.most_common(15), "tracks": tracks, "known_bpm": known_bpm,
                     "spotify_popularity_visible": spotify_visible or 0}
    figures = section.figures
    if ranks:
        figures.append(FigureSpec("fig-deezer-rank", "Deezer rank of matched tracks",
                                  "Deezer's popularity rank (0 to about 1M, updated daily), one reading per load.",
                                  "histogram", {"counts": ranks, "bin_width": RANK_BIN, "xlabel": "Deezer rank",
                                                "ylabel": "tracks", "colour": colour, "ticks": "thousands"}))
    if fans:
        figures.append(FigureSpec("fig-artist-fans", "Fans of the lead artists",
                                  "Deezer fans per lead artist, on a log scale (bin n holds 10^n to 10^(n+1)).",
                                  "histogram", {"counts": fans, "bin_width": 1, "xlabel": "fans (10^n)",
                                                "ylabel": "artists", "colour": colour, "ticks": "powers_of_ten"}))
    if bpm:
        figures.append(FigureSpec("fig-bpm", "Tempo (Deezer bpm)",
                                  f"{known_bpm} of {tracks} matched tracks have a bpm; Deezer's 0 ('not measured') is "
                                  f"left out.", "histogram",
                                  {"counts": bpm, "bin_width": 10, "xlabel": "beats per minute", "ylabel": "tracks",
                                   "colour": colour}))
    if genres:
        figures.append(FigureSpec("fig-genres", "Genres", "Deezer's album genres, the 15 most frequent.", "bars",
                                  {"items": genres.most_common(15), "colour": colour,
                                   "xlabel": "Deezer albums of matched tracks"}))
