"""The search ladder, shared by every source: which query to send for a song, and whether one more
can still find it, and ``climb``, the loop every searching source runs. A source gives its own
field-filter syntax (``filters``) and its search; the rungs and the rules are the same for all.

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

from collections.abc import Callable
from dataclasses import dataclass

from pipeline.matching.decide import AMBIGUOUS, ERROR, MATCHED, MIN_ARTIST, NOT_FOUND, Decision, artist_similarity, decide
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


def next_query(song, asked: list[str], items: list[dict], decision: Decision, page_size: int,
               filters: Callable[[str, str], str]) -> tuple[str, str] | None:
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



class Unanswered(Exception):  # noqa: N818 - a search's outcome, not a failure of the loop
    """Raised by a source's search for a query it could not get an answer to; ``error`` says why and
    ``at`` is when the service said so (None for a transient failure, which is not stored)."""

    def __init__(self, error: str, at: str | None = None):
        super().__init__(error)
        self.error, self.at = error, at


@dataclass(frozen=True)
class Climbed:
    """Where a song's searches ended: the outcome, the last rung and query asked, the decision on its
    answer, when that answer was given, and why there is none (``error``)."""

    status: str
    method: str  # search, or unsearchable when the song has nothing to search with
    rung: str | None = None
    query: str | None = None
    decision: Decision | None = None
    at: str | None = None
    error: str | None = None

    @property
    def best(self) -> dict | None:
        """The matched candidate (a compact track), when there is one."""
        return self.decision.best.track if self.status == MATCHED and self.decision else None


def climb(song, search: Callable[[str, str], tuple[list[dict], str]], threshold: float, page_size: int,
          filters: Callable[[str, str], str]) -> Climbed:
    """The ladder for one song: ``search(rung, query)`` gives (candidates, when answered) or raises
    ``Unanswered``; each answer is decided, and a further rung is asked only when ``next_query`` says
    it can find what the last one could not."""
    step = first_query(song)
    if step is None:
        return Climbed(NOT_FOUND, "unsearchable", error="artist_name or title is empty")
    asked: list[str] = []
    while True:
        rung, query = step
        asked.append(rung)
        try:
            items, at = search(rung, query)
        except Unanswered as exc:
            return Climbed(ERROR, "search", rung, query, at=exc.at, error=exc.error)
        decision = decide(song, items, threshold)
        if decision.status in (MATCHED, AMBIGUOUS):
            return Climbed(decision.status, "search", rung, query, decision, at)
        step = next_query(song, asked, items, decision, page_size, filters)
        if step is None:
            return Climbed(NOT_FOUND, "search", rung, query, decision, at)
