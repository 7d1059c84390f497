"""Scoring catalog candidates against an MSD song, and the decision: matched, ambiguous or not found.

Pure functions of the song and of a source's answers (compact tracks: ``id``, ``name``,
``artists[].name``, ``album.name``, ``album.release_date``, ``duration_ms``, ``isrc``), so a
decision can be recomputed from stored answers (thresholds re-tuned offline) without asking again.

Score (0..1): 0.40 title similarity + 0.35 artist similarity + 0.23 duration agreement +
0.02 when the album year equals the MSD year (a tie-breaker only: the catalog's year is the
album's, remasters carry later ones), minus a penalty per version marker only the candidate has
(0.25 for another performance: live, remix, karaoke, cover, acoustic…; 0.15 for another cut of
the same one: edit, mix, extended…) and 0.05 per marker only the MSD title has. A candidate is
acceptable at ``threshold`` (default 0.80) with title ≥ 0.70 and artist ≥ 0.60 on their own.

Artist similarity is the best of: the primary credit against any candidate artist, its lead
name ("Jay-Z" of "Jay-Z & Kanye West") against any candidate artist, and the whole credit
against all candidate artists together ("Simon & Garfunkel" listed as one artist or two).

Ties: one recording is often on several releases (album, compilation, single, deluxe) under
several ids, with near-equal scores. Candidates within ``AMBIGUITY_MARGIN`` of the best that
are the same recording (same ISRC, or same title, markers and lead artist within
``SAME_RECORDING_S`` seconds) are resolved by MSD's ``release`` (album) similarity, then the
duration, then the earliest release date. ``ambiguous`` is kept for real conflicts: two
different recordings equally close.
"""

from __future__ import annotations

from dataclasses import dataclass

from rapidfuzz import fuzz

from pipeline.matching.names import (
    artist_credits,
    artist_markers,
    drop_leading_the,
    fold,
    lead_artist,
    msd_text,
    parse_title,
    primary_artist,
    without_subtitles,
)

MATCHER_VERSION = 3
DEFAULT_THRESHOLD = 0.80
# Two different recordings closer than this are a coin toss: recorded as ambiguous, not matched.
AMBIGUITY_MARGIN = 0.02
SAME_RECORDING_S = 3.0
MIN_TITLE, MIN_ARTIST = 0.70, 0.60
W_TITLE, W_ARTIST, W_DURATION, W_YEAR = 0.40, 0.35, 0.23, 0.02
DURATION_FULL_S, DURATION_ZERO_S = 5.0, 30.0
# Another performance is a different song for a researcher; another cut of the same one is close.
OTHER_PERFORMANCE = frozenset({"live", "remix", "karaoke", "cover", "tribute", "acoustic", "instrumental", "demo"})
MARKER_PENALTY, CUT_PENALTY, MISSING_MARKER_PENALTY = 0.25, 0.15, 0.05
SUBTITLE_PENALTY = 0.05

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


@dataclass(frozen=True)
class Scored:
    track: dict  # compact track
    score: float
    title_sim: float
    artist_sim: float
    duration_diff_s: float | None
    release_sim: float = 0.0  # MSD release against the candidate's album: breaks ties only

    def acceptable(self, threshold: float) -> bool:
        return self.score >= threshold and self.title_sim >= MIN_TITLE and self.artist_sim >= MIN_ARTIST


def _similarity(a: str, b: str) -> float:
    return fuzz.token_sort_ratio(drop_leading_the(a), drop_leading_the(b)) / 100


def artist_similarity(artist_name: str | None, candidate_names: list[str]) -> float:
    names = [fold(n) for n in candidate_names if n]
    if not names:
        return 0.0
    wanted = {fold(primary_artist(artist_name)), fold(lead_artist(artist_name))} - {""}
    best = max((_similarity(w, n) for w in wanted for n in names), default=0.0)
    whole = fold(" ".join(artist_credits(artist_name)))
    return max(best, _similarity(whole, " ".join(names)) if whole else 0.0)


def _penalty(markers: frozenset[str]) -> float:
    return sum(MARKER_PENALTY if m in OTHER_PERFORMANCE else CUT_PENALTY for m in markers)


def score(song: Song, track: dict) -> Scored:
    msd_title, cand_title = parse_title(song.title), parse_title(track.get("name"))
    title_sim = _similarity(msd_title.folded, cand_title.folded)
    short = fold(without_subtitles(msd_title.core))
    if short != msd_title.folded:
        # The catalog left out a subtitle ("Jambalaya (On The Bayou)" → "Jambalaya"): close, not equal.
        title_sim = max(title_sim, _similarity(short, cand_title.folded) - SUBTITLE_PENALTY)
    names = [a.get("name") or "" for a in track.get("artists") or []]
    artist_sim = artist_similarity(song.artist_name, names)

    diff = None
    if song.duration and track.get("duration_ms"):
        diff = abs(song.duration - track["duration_ms"] / 1000)
        duration_score = 1.0 if diff <= DURATION_FULL_S else max(0.0, 1 - (diff - DURATION_FULL_S) / (DURATION_ZERO_S - DURATION_FULL_S))
    else:
        duration_score = 0.5  # unknown length: neither evidence for nor against

    album = track.get("album") or {}
    cand_markers = cand_title.markers | artist_markers(names, album.get("name") or "")
    total = W_TITLE * title_sim + W_ARTIST * artist_sim + W_DURATION * duration_score
    total -= _penalty(cand_markers - msd_title.markers)
    total -= MISSING_MARKER_PENALTY * len(msd_title.markers - cand_markers)
    if song.year and str(album.get("release_date") or "")[:4] == str(song.year):
        total += W_YEAR
    # The release as named, edition tags included: "X (Deluxe Edition)" is another release than MSD's "X".
    release_sim = _similarity(fold(msd_text(song.release)), fold(album.get("name") or "")) \
        if song.release and album.get("name") else 0.0
    return Scored(track, round(max(total, 0.0), 4), round(title_sim, 4), round(artist_sim, 4),
                  None if diff is None else round(diff, 2), round(release_sim, 4))


@dataclass(frozen=True)
class Decision:
    status: str  # matched | ambiguous | not_found
    best: Scored | None
    rivals: tuple[Scored, ...] = ()
    tie_broken_among: int = 0  # copies of the matched recording the release, duration or date chose between


def same_recording(a: dict, b: dict) -> bool:
    """One recording on two releases: the same ISRC, or the same title, version and lead artist
    within a few seconds (compilations and remasters often carry a new ISRC)."""
    if a.get("isrc") and a.get("isrc") == b.get("isrc"):
        return True
    ta, tb = parse_title(a.get("name")), parse_title(b.get("name"))
    lead = [fold(((t.get("artists") or [{}])[0]).get("name") or "") for t in (a, b)]
    da, db = a.get("duration_ms"), b.get("duration_ms")
    close = da is not None and db is not None and abs(da - db) <= SAME_RECORDING_S * 1000
    return ta.folded == tb.folded and ta.markers == tb.markers and lead[0] == lead[1] and close


def _tie_order(s: Scored) -> tuple:
    date = str((s.track.get("album") or {}).get("release_date") or "9999")
    return (-round(s.release_sim, 2), s.duration_diff_s if s.duration_diff_s is not None else 1e9, date, s.track["id"])


def decide(song: Song, tracks: list[dict], threshold: float = DEFAULT_THRESHOLD) -> Decision:
    """The best acceptable candidate, or why there is none."""
    unique = {t["id"]: t for t in tracks if t and t.get("id")}
    ranked = sorted((score(song, t) for t in unique.values()), key=lambda s: (-s.score, s.track["id"]))
    accepted = [s for s in ranked if s.acceptable(threshold)]
    if not accepted:
        return Decision(NOT_FOUND, ranked[0] if ranked else None)
    top = accepted[0]
    close = [s for s in accepted if top.score - s.score < AMBIGUITY_MARGIN]
    copies = [s for s in close if s is top or same_recording(top.track, s.track)]
    rivals = tuple(s for s in close if s not in copies)
    if rivals:
        return Decision(AMBIGUOUS, top, rivals)
    best = min(copies, key=_tie_order)
    return Decision(MATCHED, best, (), len(copies) if len(copies) > 1 else 0)
