"""Matching one MSD song to Spotify: the query ladder, candidate scoring and the decision.

Pure functions of the song and of Spotify's answers, so a decision can be recomputed from the
journal (thresholds re-tuned offline) without spending quota again.

Ladder (shared/reference/spotify-web-api.md §8.4), stopped at the first confident hit:

1. ``fielded``: ``track:'<title>' artist:'<primary artist>'``: single quotes (double quotes
   find nothing since 2025), version suffixes and feat. credits removed, apostrophe words dropped;
2. ``free_text``: ``<artist> <title>`` with no filters, for tracks filters cannot find.

Two rungs, not the reference's four: an absent song walks the whole ladder, and on a
Development-Mode quota every rung is paid for. The unquoted and normalised-title rungs add
nothing here because the first rung already sends the normalised title.

Score (0..1): 0.40 title similarity + 0.35 artist similarity + 0.23 duration agreement +
0.02 when the album year equals the MSD year (a tie-breaker only: Spotify's year is the
album's, remasters carry later ones), minus 0.25 per version marker only the candidate has
(live, remix, karaoke …) and 0.05 per marker only the MSD title has. A candidate is acceptable
at ``threshold`` (default 0.80) with title ≥ 0.70 and artist ≥ 0.60 on their own.
"""

from __future__ import annotations

from dataclasses import dataclass

from rapidfuzz import fuzz

from pipeline.spotify.normalize import (
    artist_markers,
    drop_leading_the,
    fold,
    parse_title,
    primary_artist,
    query_safe,
)

MATCHER_VERSION = 2
DEFAULT_THRESHOLD = 0.80
# Two different recordings closer than this are a coin toss: recorded as ambiguous, not matched.
AMBIGUITY_MARGIN = 0.02
MIN_TITLE, MIN_ARTIST = 0.70, 0.60
W_TITLE, W_ARTIST, W_DURATION, W_YEAR = 0.40, 0.35, 0.23, 0.02
DURATION_FULL_S, DURATION_ZERO_S = 5.0, 30.0
MARKER_PENALTY, MISSING_MARKER_PENALTY = 0.25, 0.05

MATCHED, NOT_FOUND, AMBIGUOUS, ERROR = "matched", "not_found", "ambiguous", "error"
STATUSES = (MATCHED, NOT_FOUND, AMBIGUOUS, ERROR)


@dataclass(frozen=True)
class Song:
    """The MSD fields matching uses (staged ``songs.jsonl.gz`` names)."""

    track_id: str
    song_id: str | None
    artist_name: str | None
    title: str | None
    release: str | None
    duration: float | None
    year: int | None

    @classmethod
    def from_staged(cls, row: dict) -> Song:
        return cls(row["track_id"], row.get("song_id"), row.get("artist_name"), row.get("title"), row.get("release"),
                   row.get("duration"), row.get("year"))


def search_queries(song: Song) -> list[tuple[str, str]]:
    """The ladder for a song as (rung, query); empty when there is nothing to search with."""
    title = query_safe(parse_title(song.title).core)
    artist = query_safe(primary_artist(song.artist_name))
    if not title or not artist:
        return []
    rungs = [("fielded", f"track:'{title}' artist:'{artist}'"), ("free_text", f"{artist} {title}")]
    return rungs


@dataclass(frozen=True)
class Scored:
    track: dict  # compact track (pipeline.spotify.shapes.compact_track)
    score: float
    title_sim: float
    artist_sim: float
    duration_diff_s: float | None

    def acceptable(self, threshold: float) -> bool:
        return self.score >= threshold and self.title_sim >= MIN_TITLE and self.artist_sim >= MIN_ARTIST


def _similarity(a: str, b: str) -> float:
    return fuzz.token_sort_ratio(drop_leading_the(a), drop_leading_the(b)) / 100


def score(song: Song, track: dict) -> Scored:
    msd_title, cand_title = parse_title(song.title), parse_title(track.get("name"))
    title_sim = _similarity(msd_title.folded, cand_title.folded)
    names = [a.get("name") or "" for a in track.get("artists") or []]
    wanted = fold(primary_artist(song.artist_name))
    artist_sim = max((_similarity(wanted, fold(n)) for n in names), default=0.0)

    diff = None
    if song.duration and track.get("duration_ms"):
        diff = abs(song.duration - track["duration_ms"] / 1000)
        duration_score = 1.0 if diff <= DURATION_FULL_S else max(0.0, 1 - (diff - DURATION_FULL_S) / (DURATION_ZERO_S - DURATION_FULL_S))
    else:
        duration_score = 0.5  # unknown length: neither evidence for nor against

    album = track.get("album") or {}
    cand_markers = cand_title.markers | artist_markers(names, album.get("name") or "")
    total = W_TITLE * title_sim + W_ARTIST * artist_sim + W_DURATION * duration_score
    total -= MARKER_PENALTY * len(cand_markers - msd_title.markers)
    total -= MISSING_MARKER_PENALTY * len(msd_title.markers - cand_markers)
    if song.year and str(album.get("release_date") or "")[:4] == str(song.year):
        total += W_YEAR
    return Scored(track, round(max(total, 0.0), 4), round(title_sim, 4), round(artist_sim, 4),
                  None if diff is None else round(diff, 2))


@dataclass(frozen=True)
class Decision:
    status: str  # matched | ambiguous | not_found
    best: Scored | None
    rivals: tuple[Scored, ...] = ()


def decide(song: Song, tracks: list[dict], threshold: float = DEFAULT_THRESHOLD) -> Decision:
    """The best acceptable candidate, or why there is none."""
    unique = {t["id"]: t for t in tracks if t and t.get("id")}
    ranked = sorted((score(song, t) for t in unique.values()), key=lambda s: (-s.score, s.track["id"]))
    accepted = [s for s in ranked if s.acceptable(threshold)]
    if not accepted:
        return Decision(NOT_FOUND, ranked[0] if ranked else None)
    best = accepted[0]
    # The same recording under two ids (album and compilation) shares its ISRC: not a real rival.
    rivals = tuple(s for s in accepted[1:] if best.score - s.score < AMBIGUITY_MARGIN
                   and (s.track.get("isrc") is None or s.track.get("isrc") != best.track.get("isrc")))
    return Decision(AMBIGUOUS if rivals else MATCHED, best, rivals)
