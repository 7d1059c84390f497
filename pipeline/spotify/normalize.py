"""Text rules shared by query building and scoring (shared/reference/spotify-web-api.md §8.4).

MSD and Spotify spell the same song differently: MSD writes ``_`` for commas, appends
"(Album Version)", credits "X feat. Y" as one artist; Spotify appends "- Remastered 2009",
splits the feat. credit into two artists, drops accents or curls apostrophes. These helpers
remove the differences that do not change the recording and keep the ones that do
("Live", "Remix", "Karaoke" …) as *markers* that scoring penalises instead of ignoring.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from unidecode import unidecode

# Suffix words that do not change the recording: stripped before querying and scoring.
_NEUTRAL = re.compile(
    r"^(?:(?:\d{4}\s+)?(?:digital(?:ly)?\s+)?remaster(?:ed)?(?:\s+version)?(?:\s+\d{4})?|album version|lp version|"
    r"single version|original version|radio edit|radio version|edit|mono|stereo|explicit|clean|"
    r"bonus track|deluxe(?: edition)?|original mix|remastered version|\d{4} version)$",
    re.IGNORECASE,
)
# Words that mark another recording of the song; kept as markers for scoring.
MARKER_WORDS = ("live", "karaoke", "remix", "acoustic", "instrumental", "demo", "cover", "tribute", "unplugged",
                "reprise", "rehearsal")
_MARKER = re.compile(r"\b(" + "|".join(MARKER_WORDS) + r")\b", re.IGNORECASE)
_SUFFIX_PAREN = re.compile(r"\s*[(\[]([^()\[\]]*)[)\]]\s*$")
_SUFFIX_DASH = re.compile(r"\s+[-\u2013\u2014]\s+([^-\u2013\u2014]+)$")
# "feat" without its dot is left alone: "Feat of Strength" is a title.
_FEAT = re.compile(r"\s*[(\[]?\s*\b(?:feat\.|ft\.|featuring)\s+.*$", re.IGNORECASE)
_APOSTROPHES = re.compile(r"['\u2019\u2018`\u00b4]")
_NON_WORD = re.compile(r"[^0-9a-z]+")


def msd_text(text: str | None) -> str:
    """MSD's ``_`` back to the comma it stands for (msd-hdf5.md: commas were replaced)."""
    return (text or "").replace("_", ",").strip()


def fold(text: str) -> str:
    """ASCII, casefolded, ``&`` as "and", apostrophes joined, other punctuation a space."""
    text = unidecode(text).casefold().replace("&", " and ")
    text = _APOSTROPHES.sub("", text)
    return _NON_WORD.sub(" ", text).strip()


def drop_leading_the(folded: str) -> str:
    return folded[4:] if folded.startswith("the ") and len(folded) > 4 else folded


@dataclass(frozen=True)
class Title:
    """A title split into the part to search and compare, and its version markers."""

    core: str  # the title without version suffixes or feat. credits, original spelling
    markers: frozenset[str]

    @property
    def folded(self) -> str:
        return fold(self.core)


def parse_title(title: str | None) -> Title:
    """"Black Heart (Album Version)" → core "Black Heart"; "Black Heart - Live" → core + {live}."""
    text = msd_text(title)
    markers: set[str] = set()
    text = _FEAT.sub("", text).strip() or text
    while True:
        match = _SUFFIX_PAREN.search(text) or _SUFFIX_DASH.search(text)
        if not match:
            break
        content = match.group(1).strip()
        found = {m.lower() for m in _MARKER.findall(content)}
        if not found and not _NEUTRAL.match(content):
            break  # "(Hey, River)" is part of the title, not a version
        markers |= found
        stripped = text[: match.start()].strip()
        if not stripped:
            break
        text = stripped
    # A marker in the title itself ("Live Forever") is a word of the title, not a version.
    return Title(core=text, markers=frozenset(markers))


def primary_artist(artist_name: str | None) -> str:
    """The first credited artist: "X feat. Y" is two artists on Spotify and filters fail on feat. (§8.3)."""
    text = msd_text(artist_name)
    return _FEAT.sub("", text).strip() or text


def artist_markers(names: list[str], album: str = "") -> frozenset[str]:
    """Karaoke / tribute acts give themselves away in the artist or album name."""
    text = " ".join(names + [album]).lower()
    return frozenset(m for m in ("karaoke", "tribute") if re.search(rf"\b{m}\b", text))


def query_safe(text: str) -> str:
    """A value that survives Spotify's query syntax: no quotes, colons or leading '+'.

    Words with an apostrophe are dropped, not rewritten: apostrophes inside field filters return
    nothing (§8.3) and Spotify's own spelling may use a curly one; if nothing else is left the
    apostrophes are removed instead.
    """
    words = [w for w in re.split(r"\s+", text.replace('"', " ").replace(":", " ").replace("+", " ")) if w]
    kept = [w for w in words if not _APOSTROPHES.search(w)]
    if not kept:
        kept = [_APOSTROPHES.sub("", w) for w in words]
    return " ".join(w for w in kept if w)
