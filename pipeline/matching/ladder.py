"""The search ladder, shared by every source: which query to send for a song, and whether one more
can still find it. A source gives its own field-filter syntax (``filters``); the rungs and the
rules are the same for all. (Written first for Spotify, whose filter syntax is the default.)

Every rung is a paid request on a Development-Mode quota, so each later rung is sent only when
the first answer says it can find what the first could not (BENCHMARKS.md measures recall gained
per extra request for each):

1. ``free_text``: ``<lead artist> <title>`` with no filters, version suffixes and featured
   credits removed, apostrophes joined ("Passin Me By"), "and"/"&" and a leading "The" left out.
   Spotify finds a track when every word is somewhere in its title, artists or album, which covers
   what ``track:'…' artist:'…'`` finds, plus tracks the filters miss (spotify/web-api #1165) and
   credits split across fields. Noise is the scorer's job; it matters only on a full page.
2. ``loose``: ``track:'<title without its unexplained parts>' artist:'<lead artist>'``, only when
   the first answer was empty or held the artist but not the title, and the title has a part the
   catalog may leave out ("(Skit)", "(Part 2)", a subtitle after " - ", words after "/").
3. ``narrow``: ``track:'<title>' artist:'<lead artist>'``, only when the first answer was a full
   page without an acceptable candidate: the filters drop the noise that filled it.

Nothing else earns a request: a non-empty answer whose candidates are near misses (a live take,
another length) holds what the filters would return, and an empty answer for a title with no
optional part is an absent song.
"""

from __future__ import annotations

from pipeline.matching.decide import MIN_ARTIST, Decision, artist_similarity
from pipeline.matching.names import lead_artist, parse_title, query_words, without_subtitles

FREE_TEXT, LOOSE, NARROW = "free_text", "loose", "narrow"


def _parts(song) -> tuple[str, str, str] | None:
    core = parse_title(song.title).core
    title, artist = query_words(core), query_words(lead_artist(song.artist_name))
    if not title or not (artist or (song.artist_name or "").strip()):
        return None
    loose = query_words(without_subtitles(core))
    return artist, title, (loose if loose and loose != title else "")


def first_query(song) -> tuple[str, str] | None:
    """(rung, query) to send first, or None when the song has nothing to search with."""
    parts = _parts(song)
    # An artist of punctuation only ("!!!") cannot be searched for: the title alone, the scorer checks the artist.
    return None if parts is None else (FREE_TEXT, f"{parts[0]} {parts[1]}".strip())


def spotify_filters(title: str, artist: str) -> str:
    """Spotify's field filters: single quotes (double quotes find nothing since 2025)."""
    return f"track:'{title}'" + (f" artist:'{artist}'" if artist else "")


def next_query(song, asked: list[str], items: list[dict], decision: Decision, page_size: int,
               filters=spotify_filters) -> tuple[str, str] | None:
    """The rung worth one more request after an unmatched answer of ``asked[-1]``, or None.
    ``filters(title, artist)`` writes the source's field-filter query."""
    parts = _parts(song)
    if parts is None:
        return None
    artist, title, loose = parts
    if asked[-1] == FREE_TEXT:
        artist_found = any(_artist_close(song, t) for t in items)
        if loose and LOOSE not in asked and (not items or artist_found and decision.best is not None
                                            and decision.best.title_sim < 0.9):
            return LOOSE, filters(loose, artist)
        if len(items) >= page_size and NARROW not in asked and artist:
            return NARROW, filters(title, artist)
    return None


def _artist_close(song, track: dict) -> bool:
    return artist_similarity(song.artist_name, [a.get("name") or "" for a in track.get("artists") or []]) >= MIN_ARTIST

