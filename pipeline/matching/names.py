"""Text rules shared by query building and scoring, written against real MSD names.

MSD and the catalogs spell the same song differently. MSD writes ``_`` for commas, appends
"(Album Version)", "(LP Version)", "(2007 Digital Remaster)" or "[Explicit Version]", credits
"X featuring Y", "X / Y" or "X;Y;Z" as one artist and sometimes loses an apostrophe ("Im Slowly
Turning Into You"). Catalogs append "- Remastered 2011" or "- Single Version", split credits into
separate artists (primary first), curl apostrophes and fold accents.

These helpers remove the differences that are packaging (album, LP, explicit, amended,
remaster, edition tags) and keep the ones that change the recording (live, remix, edit,
acoustic, instrumental, karaoke, demo, named mixes) as *markers* that scoring penalises when
only one side has them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from unidecode import unidecode

# Words of a version suffix that say which recording it is: kept as markers, penalised when one side lacks them.
# A synonym maps to the marker it means ("chopped & screwed" is a remix, "edited" an edit).
_MARKER_WORDS = {
    "live": "live", "concert": "live", "karaoke": "karaoke", "remix": "remix", "rmx": "remix", "chopped": "remix",
    "screwed": "remix", "mix": "mix", "dub": "mix", "edit": "edit", "edited": "edit", "acoustic": "acoustic",
    "unplugged": "acoustic", "instrumental": "instrumental", "demo": "demo", "cover": "cover", "tribute": "tribute",
    "reprise": "reprise", "rehearsal": "rehearsal", "extended": "extended", "medley": "medley",
}
MARKER_WORDS = tuple(sorted(set(_MARKER_WORDS.values())))
# "Original mix" is the recording itself; "radio" only qualifies an edit or a mix.
_NOT_A_MARKER = re.compile(r"\boriginal\s+mix\b", re.IGNORECASE)
# Words that only say how a recording was packaged.
_PACKAGING_WORDS = frozenset(
    "album lp version explicit clean amended remaster remastered remasters digital digitally edition deluxe "
    "single original mono stereo bonus track radio expanded anniversary special limited re reissue reissued "
    "master mastered from the a of soundtrack us uk world".split())
# "(Ordinary Day Album Version)": whatever precedes these names the album, which the catalog does not repeat.
_PACKAGING_TAIL = re.compile(r"\b(?:album|lp|single|explicit|amended|remastered|clean)\s+version$|\bremaster(?:ed)?$",
                             re.IGNORECASE)
_YEAR = re.compile(r"^(?:19|20)\d\d$")

_SUFFIX_GROUP = re.compile(r"\s*[(\[]\s*([^()\[\]]*?)\s*[)\]]\s*$")
# " - Motivo-Pop Lectro Mix": the suffix may hold hyphens, not a spaced dash.
_SUFFIX_DASH = re.compile(r"\s+[-\u2013\u2014]\s+((?:(?!\s[-\u2013\u2014]\s).)+)$")
_FEAT_WORD = r"(?:featuring|feat\.?|ft\.)"
_FEAT_CONTENT = re.compile(rf"^(?:{_FEAT_WORD}|with)\s+\S", re.IGNORECASE)
# "feat" without its dot is left alone in titles: "Feat of Strength" is a title.
_FEAT_TAIL = re.compile(r"\s+(?:featuring|feat\.|ft\.)\s+.*$", re.IGNORECASE)
# Separators between credited artists in MSD's artist_name, strongest first.
# "Mike Jones (Featuring CJ_ Mello & Lil' Bran)": a credit in parentheses too.
_CREDIT_SPLIT = re.compile(rf"\s*[(\[]\s*{_FEAT_WORD}\s+|\s+(?:{_FEAT_WORD}|feat|vs\.?|versus|with|presents)\s+|\s+/\s+|\s*;\s*",
                           re.IGNORECASE)
_DUO_SPLIT = re.compile(r"\s+&\s+")
_SUBTITLE = re.compile(r"\s*[(\[][^()\[\]]*[)\]]|\s+[-\u2013\u2014/:]\s+.*$")
_APOSTROPHES = re.compile(r"['\u2019\u2018`\u00b4\u02bc]")
_NON_WORD = re.compile(r"[^0-9a-z]+")


def msd_text(text: str | None) -> str:
    """MSD's ``_`` back to the comma it stands for (msd-hdf5.md: commas were replaced)."""
    return (text or "").replace("_", ",").strip()


def fold(text: str) -> str:
    """ASCII, casefolded, ``&`` as "and", apostrophes joined ("Passin'" = "passin", "I'm" = "im"),
    other punctuation a space."""
    folded = unidecode(text).casefold().replace("&", " and ")
    folded = _NON_WORD.sub(" ", _APOSTROPHES.sub("", folded)).strip()
    return folded or text.strip().casefold()  # "!!!" is a name too


def drop_leading_the(folded: str) -> str:
    return folded[4:] if folded.startswith("the ") and len(folded) > 4 else folded


def _classify(content: str) -> tuple[str, set[str]] | None:
    """What a suffix's text is: ("feat", {}), ("version", markers) or None (part of the title)."""
    if _FEAT_CONTENT.match(content):
        return "feat", set()
    text = _NOT_A_MARKER.sub(" ", content)
    words = fold(text).split()
    markers = {_MARKER_WORDS[w] for w in words if w in _MARKER_WORDS}
    # Named mixes written as one word: "Poppersmonstermix", "Megamix".
    markers |= {"remix" if w.endswith("remix") else "mix" for w in words if w.endswith("mix") and w not in _MARKER_WORDS}
    if markers:
        return "version", markers
    if words and (all(w in _PACKAGING_WORDS or _YEAR.match(w) for w in words) or _PACKAGING_TAIL.search(content.strip())):
        return "version", set()
    return None


@dataclass(frozen=True)
class Title:
    """A title split into the part to search and compare, and its version markers."""

    core: str  # the title without version suffixes or featured credits, original spelling
    markers: frozenset[str]

    @property
    def folded(self) -> str:
        return fold(self.core)


def parse_title(title: str | None) -> Title:
    """"Black Heart (Album Version)" → core "Black Heart"; "Black Heart - Live" → core + {live};
    "Song (featuring X) (Explicit Chopped & Screwed Version)" → core "Song" + {remix};
    "Rock Me (Live In Boston, 1970) (1st Show)" → core "Rock Me (1st Show)" + {live}.

    Trailing groups are read from the end; a group that is neither a version nor a credit
    ("(1st Show)", "(Hey, River)") stays in the core, and the groups before it are still read."""
    text = msd_text(title)
    markers: set[str] = set()
    kept: list[str] = []
    while True:
        match = _SUFFIX_GROUP.search(text) or _SUFFIX_DASH.search(text)
        if match is None:
            tail = _FEAT_TAIL.search(text)
            if tail and tail.start() > 0:
                text = text[: tail.start()].strip()
                continue
            break
        stripped = text[: match.start()].strip()
        if not stripped:
            break
        kind = _classify(match.group(1))
        if kind is None:
            kept.insert(0, match.group(0).strip())
        else:
            markers |= kind[1]
        text = stripped
    core = " ".join([text, *kept])
    # A marker word in the title itself ("Live Forever") is a word of the title, not a version.
    return Title(core=core, markers=frozenset(markers))


def without_subtitles(core: str) -> str:
    """A core title without its unexplained groups or subtitle: "Jambalaya (On The Bayou)" →
    "Jambalaya", "Part 1 - The Beginning" → "Part 1" (catalogs often leave these out)."""
    return _SUBTITLE.sub(" ", core).strip() or core


def artist_credits(artist_name: str | None) -> list[str]:
    """The credited artists in order: "X featuring Y", "X / Y", "X;Y;Z", "X Vs Y", "X With Y" are
    two or more artists on the catalogs, the primary one first. "&" is left joined here ("Simon &
    Garfunkel" is one artist): ``lead_artist`` gives its first name for queries."""
    text = msd_text(artist_name)
    parts = [p.strip(" ,()[]") for p in _CREDIT_SPLIT.split(text)]
    return [p for p in parts if p] or ([text] if text else [])


def primary_artist(artist_name: str | None) -> str:
    credits = artist_credits(artist_name)
    return credits[0] if credits else ""


def lead_artist(artist_name: str | None) -> str:
    """The first name of the primary credit: "Jay-Z & Kanye West" → "Jay-Z"; the catalog may list
    the duo as one artist or two, and a query for the first name finds both."""
    primary = primary_artist(artist_name)
    first = _DUO_SPLIT.split(primary)[0].strip()
    return first if len(fold(first)) >= 2 else primary


def artist_markers(names: list[str], album: str = "") -> frozenset[str]:
    """Karaoke / tribute acts give themselves away in the artist or album name."""
    text = " ".join(names + [album]).lower()
    return frozenset(m for m in ("karaoke", "tribute") if re.search(rf"\b{m}\b", text))


def query_words(text: str, drop_leading: bool = True) -> str:
    """A value that survives the catalogs' query syntax, with every word kept.

    Apostrophes are joined, not kept (inside field filters they return nothing, and the
    catalog may curl them) and never cost a word: "Passin' Me By" → "Passin Me By". Quotes,
    colons and other punctuation become spaces; "and"/"&" and a leading "The" are left out
    because the catalog may spell them the other way.
    """
    words = []
    for raw in re.split(r"\s+", _APOSTROPHES.sub("", text)):
        word = re.sub(r"[\W_]+", " ", raw).strip()  # letters of any script stay: the catalog folds accents itself
        words.extend(word.split())
    kept = [w for i, w in enumerate(words)
            if w.casefold() != "and" and not (w.casefold() == "the" and i == 0 and drop_leading and len(words) > 1)]
    return " ".join(kept)
