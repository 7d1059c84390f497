"""MusicBrainz as of 2026 for the songs of a generated MSD sample: the world the canonical dump
(``pipeline/standins/canonical_dump.py``) and the ListenBrainz sandbox
(``pipeline/standins/listenbrainz_sandbox.py``) both serve, so the two agree the way the real ones do.

``build_world(identities, seed)`` reads ``sample_identities.jsonl`` records (``load_identities``) and plays,
deterministically for a seed, what an enrichment meets in MusicBrainz and ListenBrainz data:

* Artists: the MSD ``artist_mbid`` is the artist's id for most; ~5% of them have since been merged into another
  artist (a new id): the MSD id survives only as a redirect (``WorldArtist.merged_into``), and dump rows,
  metadata and popularity carry the new one. MSD artists without an mbid get one.
* Recordings: ``truth`` names the canonical recording each MSD track is, or None for the ~8% MusicBrainz lacks.
  Names are spelled MusicBrainz's way: MSD's packaging suffixes ("(Album Version)", "(LP Version)",
  "(2009 Digital Remaster)") gone, "featuring X" moved into the artist credit ("A feat. X"), commas where MSD
  has ``_``, curly apostrophes, and for a few artists and titles "&"/"and", "Part"/"Pt." or a dropped "The":
  the exact ``combined_lookup`` of MSD's own names misses those, the metadata lookup's fuzzy stage finds them.
* Rows: one per (recording, release) it appears on (``rows``, the insert of
  ``mbid_mapping/mapping/canonical_musicbrainz_data_base.py``). ~15% of songs share their combined key with
  other rows: the same recording on a compilation, another recording by the same artist credit with the same
  name (a duplicate entry, a live take), or a homonymous artist's song. ListenBrainz's post-processing
  (``canonical_musicbrainz_data.py``) keeps the lowest ``score`` row per combined key (``dump_rows()``) and
  redirects every other recording of that key to the kept one (``canonical_redirects``); the MSD song's own
  recording always sits on the most canonical release, so it is the one kept.
* Recording merges: ~4% of songs' recordings were merged in MusicBrainz since the Echo Nest named them; the old
  id is what the Echo Nest profile names (``profiles``, ~35% of songs, ``write_echo_nest_profiles``). Such ids
  are MusicBrainz gid redirects: no canonical dump table and no ListenBrainz endpoint knows them
  (``merged_recordings``). ``recording_redirects`` holds both kinds, old or non-canonical id → canonical id.
* Songs MusicBrainz lacks: 15% of them have a same-named recording by the same artist of another length (a
  live or re-recorded take), and MSD tracks that share another track's names but not its length (>10 s off)
  are lacking too: the lookup answers such songs with confidence, and only the length gives it away (1-2% of
  all songs).
* Years (``first_release_year``, ``first_release_date``, ``WorldRelease.year``): MusicBrainz's first release of
  each recording, never after MSD's 2011 freeze: MSD's year, or a year or three before it (a single first);
  for songs MSD has no year for, a year for most, nothing for some. ListenBrainz serves the whole date only
  (a quarter are partial); the canonical release is dated for MSD's years and for most of the others.
* Tags: 0-3 genres per recording and per artist with vote counts (``tags``, ``artist_tags``), some free tags
  ("seen live") that are no genre; many recordings and artists have none.
* Popularity (``recording_popularity``, ``artist_popularity``): cumulative all-time counts that grow day by day,
  skewed (a few huge, most small), users ≤ listens, deterministic from (seed, mbid, day); None for ~6% of
  canonical recordings nobody listened to and for every merged or non-canonical id (ListenBrainz keys counts
  by canonical ids).

``combined_lookup`` is the exact key of the reference (lower-cased before transliteration, so a CJK name keeps
spaces and capitals in its key). ``loose_key`` is the stand-in's fuzzy key, written from MusicBrainz's and MSD's
spelling habits, independently of ``pipeline/matching``.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import random
import re
import uuid
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date
from statistics import NormalDist

from unidecode import unidecode

from pipeline.standins.spotify_catalog import DEMO_CATALOG_SEED

# One seed for the demo's sandboxes: the Spotify and Deezer catalogs and this world.
DEMO_SEED = DEMO_CATALOG_SEED

ABSENT_SHARE = 0.08
MERGED_ARTIST_SHARE = 0.05
MERGED_RECORDING_SHARE = 0.04
# Songs whose combined key other rows share (~15% in all).
COMPILATION_SHARE = 0.08
DUPLICATE_SHARE = 0.04
HOMONYM_SHARE = 0.03
DECOY_SHARE_OF_ABSENT = 0.15
ARTIST_SPELLING_SHARE = 0.04
TITLE_SPELLING_SHARE = 0.06
PROFILE_SHARE = 0.35
NEVER_LISTENED_SHARE = 0.06
NO_LENGTH_SHARE = 0.03
# MSD tracks of one song closer than this in length are one recording.
SAME_RECORDING_S = 10.0
# The day the popularity counts are anchored to (the dump's date); they grow after it and shrink before.
POPULARITY_EPOCH = date(2026, 12, 1)

_TIER_ORIGINAL, _TIER_OTHER = 10_000, 40_000_000  # release scores: originals rank before every other release

GENRES = ["rock", "pop", "jazz", "soul", "hip hop", "electronic", "folk", "country", "punk", "metal", "blues",
           "reggae", "latin", "classical", "r&b", "indie rock", "alternative rock", "house", "ambient", "funk"]
# Folksonomy tags MusicBrainz does not list as genres: served without a genre_mbid.
_FREE_TAGS = ["seen live", "british", "american", "90s", "80s", "female vocalists", "favorites", "singer-songwriter",
              "cover", "love", "instrumental", "german"]
# Years and dates MusicBrainz knows of a recording's first release, for recordings of MSD songs:
NO_DATE_SHARE_OF_YEARLESS = 0.15  # of songs MSD has no year for, MusicBrainz knows no release date either
PARTIAL_DATE_SHARE = 0.25  # only the year (or year and month): ListenBrainz's first_release_date is then absent
EARLIER_RELEASE_SHARE = 0.08  # first out a year or three before the album MSD names (a single, an earlier album)
DATED_RELEASE_SHARE_OF_YEARLESS = 0.6  # of releases MSD has no year for, MusicBrainz dates the release today
_AREAS = ["United States", "United Kingdom", "France", "Germany", "Brazil", "Jamaica", "Iceland", "Sweden",
          "Canada", "Spain", "Japan", "Finland", "Italy", "Argentina"]
_VA_COMPILATIONS = ["Now That's What I Call Music! 12", "Hits of the Year", "The Best Summer Album… Ever!",
                    "Pure Love Songs", "Café del Mar, Volumen Cinco", "Rock Anthems", "Top of the Pops 2003",
                    "Les Plus Belles Chansons", "Ultimate Party Hits", "Original Soundtrack Classics"]
_COMPILATION_NAMES = ["Greatest Hits", "The Very Best of {artist}", "Gold", "Essential {artist}", "Anthology",
                      "The Singles Collection", "20th Century Masters: The Millennium Collection"]
_LIVE_NAMES = ["Live at the BBC", "Live in Paris", "Unplugged", "Live at Montreux 1997", "Alive!", "Live Sessions"]
# Homonymous artists' albums: words the MSD sample never uses, so no release name collides with an MSD one.
_OTHER_ALBUM_WORDS = ["Second", "Nature", "Harbour", "Lanterns", "Orbit", "Meridian", "Tides", "Static", "Parade",
                      "Avalanche", "Cinder", "Quarry", "Vesper", "Atlas"]
# Artists with non-Latin names (MusicBrainz has many), so the dump holds keys only unidecode makes ASCII.
_FOREIGN_ROWS = [("東京夜行", "夜の終わり"), ("Ночные Огни", "Последний поезд"), ("さくらバンド", "はじまり"),
                 ("Νυχτερινά Φώτα", "Θάλασσα"), ("서울 소년", "밤하늘"), ("Zoë & Søren", "Straße ½")]

_UUID = re.compile(r"^[0-9a-fA-F]{8}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{12}$")
_NORMAL = NormalDist()


# --- names ---------------------------------------------------------------------------------

def combined_lookup(artist_credit_name: str, recording_name: str) -> str:
    """The canonical data's key: ``unidecode(re.sub(r'[^\\w]+', '', artist + recording).lower())``."""
    return unidecode(re.sub(r"[^\w]+", "", artist_credit_name + recording_name).lower())


_FEAT_IN_ARTIST = re.compile(r"\s*\(\s*(?:featuring|feat\.?|ft\.)\s+|\s+(?:featuring|feat\.?|ft\.)\s+", re.IGNORECASE)
_GROUP = re.compile(r"\s*([(\[])\s*([^()\[\]]*?)\s*[)\]]")
_FEAT_GROUP = re.compile(r"^(?:featuring|feat\.?|ft\.?|with)\s+(.+)$", re.IGNORECASE)
_TRAILING_FEAT = re.compile(r"\s+(?:featuring|feat\.|ft\.)\s+([^()\[\]]+)$", re.IGNORECASE)
# MSD's (7digital's) packaging suffixes: MusicBrainz names the recording without them.
_PACKAGING = re.compile(
    r"^(?:.*\balbum version\b.*|.*\blp version\b.*|album|explicit(?: .*)?|amended(?: .*)?|clean(?: version)?|edited|"
    r"(?:\d{4} )?digital(?:ly)? remaster(?:ed)?(?: \d{4})?|remaster(?:ed)?(?: version)?|\d{4} remaster(?:ed)?|"
    r"single version|bonus track)$", re.IGNORECASE)
# Extra title information MusicBrainz keeps, in lower case ("(live)", "(radio edit)").
_MARKER = re.compile(r"\b(?:live|remix|mix|edit|acoustic|instrumental|demo|version|reprise|medley|skit|intro|outro)\b",
                     re.IGNORECASE)


def split_featuring(name: str) -> tuple[str, list[str]]:
    """"A featuring B & C" → ("A", ["B", "C"])."""
    match = _FEAT_IN_ARTIST.search(name)
    if not match:
        return name.strip(), []
    rest = name[match.end():].strip().rstrip(")").strip()
    return name[:match.start()].strip(), [p.strip() for p in re.split(r"\s*,\s*|\s+&\s+", rest) if p.strip()]


def mb_title(title: str) -> tuple[str, list[str]]:
    """MusicBrainz's name for a (world-spelled) MSD title, and the artists a "(feat. X)" in it credits."""
    featured: list[str] = []

    def group(match: re.Match) -> str:
        content = match.group(2)
        feat = _FEAT_GROUP.match(content)
        if feat:
            featured.extend(p.strip() for p in re.split(r"\s*,\s*|\s+&\s+", feat.group(1)) if p.strip())
            return ""
        if _PACKAGING.match(content):
            return ""
        if _MARKER.search(content):
            return f" ({content.lower()})"
        return f" {match.group(1)}{content}{')' if match.group(1) == '(' else ']'}"

    core = _GROUP.sub(group, title)
    trailing = _TRAILING_FEAT.search(core)
    if trailing:
        featured.extend(p.strip() for p in re.split(r"\s*,\s*|\s+&\s+", trailing.group(1)) if p.strip())
        core = core[:trailing.start()]
    core = re.sub(r"\s+", " ", core).strip()
    return (core or title.strip()), featured


_LOOSE_ARTIST_CUT = re.compile(r"\s*\(?\b(?:featuring|feat|ft)\b\.?\s.*$|\s*[;,/]\s.*$|\s*;.*$")
_LOOSE_PACKAGING = re.compile(r"\s*[(\[]\s*([^()\[\]]*?)\s*[)\]]")


def loose_artist(name: str) -> str:
    """The primary artist, for the fuzzy stage: accents, case, punctuation, "&"/"and", a leading "The" and
    everything from a featuring credit or a list separator on do not count."""
    text = unidecode(name).lower().replace("_", ",")
    text = _LOOSE_ARTIST_CUT.sub("", text) or text
    text = re.sub(r"\s*&\s*", " and ", text)
    text = re.sub(r"^the\s+", "", text.strip())
    return re.sub(r"[^a-z0-9]+", "", text)


def loose_title(title: str) -> str:
    """The title, for the fuzzy stage: MSD's packaging suffixes and featuring credits, accents, case,
    punctuation, "&"/"and" and "Pt."/"Part" do not count."""
    text = unidecode(title).replace("_", ",")

    def group(match: re.Match) -> str:
        content = match.group(1)
        return "" if _FEAT_GROUP.match(content) or _PACKAGING.match(content) else f" {content} "

    text = _LOOSE_PACKAGING.sub(group, text)
    text = _TRAILING_FEAT.sub("", text).lower()
    text = re.sub(r"\s*&\s*", " and ", text)
    text = re.sub(r"\bpt\b\.?", "part", text)
    return re.sub(r"[^a-z0-9]+", "", text) or re.sub(r"[^a-z0-9]+", "", unidecode(title).lower())


def loose_key(artist_name: str, recording_name: str) -> tuple[str, str]:
    return loose_artist(artist_name), loose_title(recording_name)


def is_uuid(value) -> bool:
    return isinstance(value, str) and bool(_UUID.match(value))


# --- the world -----------------------------------------------------------------------------

@dataclass(frozen=True)
class WorldArtist:
    mbid: str
    name: str
    merged_into: str | None = None
    type: str = "Person"
    begin_year: int | None = None
    area: str | None = None
    gender: str | None = None


@dataclass
class WorldRelease:
    mbid: str
    name: str
    release_group_mbid: str
    score: int
    year: int | None
    album_artist_name: str
    caa_id: int | None = None


@dataclass
class WorldRecording:  # noqa: PLR0902 - what the metadata endpoint tells about a recording
    mbid: str
    name: str
    length_ms: int | None
    artist_credit_name: str
    artist_mbids: list[str]
    release_mbid: str
    release_name: str
    score: int
    artist_credit_id: int = 0
    artist_names: list[tuple[str, str]] = field(default_factory=list)  # (name as credited, join phrase)
    isrcs: list[str] = field(default_factory=list)
    tags: list[tuple[str, int]] = field(default_factory=list)
    first_release_date: str | None = None  # YYYY-MM-DD, as ListenBrainz serves it: None unless the whole date is known
    first_release_year: int | None = None  # the year of MusicBrainz's first release date, known even when partial


@dataclass(frozen=True)
class DumpRow:
    id: int
    artist_credit_id: int
    artist_mbids: tuple[str, ...]
    artist_credit_name: str
    release_mbid: str
    release_name: str
    recording_mbid: str
    recording_name: str
    combined_lookup: str
    score: int


@dataclass
class MusicBrainzWorld:  # noqa: PLR0902 - MusicBrainz and ListenBrainz have this many facets
    seed: int
    artists: dict[str, WorldArtist]
    recordings: dict[str, WorldRecording]  # canonical: each one's combined key is its own
    duplicates: dict[str, WorldRecording]  # in MusicBrainz, but another recording holds their combined key
    recording_redirects: dict[str, str]  # merged or non-canonical id -> canonical recording
    merged_recordings: dict[str, str]  # MusicBrainz gid redirects (no canonical table or endpoint knows them)
    releases: dict[str, WorldRelease]
    release_redirects: dict[str, str]  # every release -> the canonical release of its group
    truth: dict[str, str | None]  # MSD track_id -> canonical recording
    profiles: dict[str, str]  # MSD song_id -> the recording the Echo Nest profile names
    rows: list[DumpRow]  # one per (recording, release), before ListenBrainz's post-processing
    identities: list[dict] = field(default_factory=list)
    patterns: dict[str, list[str]] = field(default_factory=dict)  # MSD track_id -> the quirks it meets
    never_listened: set[str] = field(default_factory=set)
    artist_tags: dict[str, list[tuple[str, int]]] = field(default_factory=dict)
    release_group_tags: dict[str, list[tuple[str, int]]] = field(default_factory=dict)

    def __post_init__(self):
        self._dump_rows, self._canonical_redirects = _post_process(self.rows)
        self.canonical_redirects = {r[0]: r[1] for r in self._canonical_redirects}
        self._by_key = {row.combined_lookup: row for row in self._dump_rows}
        support: dict[str, DumpRow] = {}
        for row in sorted(self.rows, key=lambda r: (r.score, r.id)):
            support.setdefault(combined_lookup(row.artist_credit_name, row.recording_name + row.release_name), row)
        self._by_release_key = support
        loose: dict[tuple[str, str], DumpRow] = {}
        for row in sorted(self._dump_rows, key=lambda r: (r.score, r.id)):
            loose.setdefault(loose_key(row.artist_credit_name, row.recording_name), row)
        self._by_loose_key = loose
        self._artist_recordings: dict[str, list[str]] = defaultdict(list)
        for rec in self.recordings.values():
            for mbid in dict.fromkeys(rec.artist_mbids):
                self._artist_recordings[mbid].append(rec.mbid)

    # --- the canonical dump, as ListenBrainz publishes it ---

    def dump_rows(self) -> list[DumpRow]:
        """``canonical_musicbrainz_data``: the lowest-score row of every combined key, in ``id`` order."""
        return list(self._dump_rows)

    def dump_recording_redirects(self) -> list[tuple[str, str, str]]:
        """``canonical_recording_redirect``: (recording, canonical recording, canonical release)."""
        return list(self._canonical_redirects)

    def dump_release_redirects(self) -> list[tuple[str, str, str]]:
        """``canonical_release_redirect``: (release, canonical release of its group, release group)."""
        return [(mbid, self.release_redirects[mbid], rel.release_group_mbid) for mbid, rel in self.releases.items()]

    def canonical_recording(self, mbid: str) -> str | None:
        """Where an id leads: itself when canonical, through a redirect, or nowhere."""
        mbid = mbid.lower()
        if mbid in self.recordings:
            return mbid
        return self.recording_redirects.get(mbid)

    def recording(self, mbid: str) -> WorldRecording | None:
        """What MusicBrainz holds under this id (canonical or not); None for merged-away and unknown ids."""
        mbid = mbid.lower()
        return self.recordings.get(mbid) or self.duplicates.get(mbid)

    # --- the metadata lookup's three stages ---

    def lookup(self, artist_name: str, recording_name: str, release_name: str | None = None,
               fuzzy: bool = True) -> tuple[DumpRow, str] | None:
        """(row, stage) for names, as ``POST /1/metadata/lookup/`` finds them: ``acrr`` (artist + recording +
        release, exact key, when a release is given), ``acr`` (the dump's combined key), then ``fuzzy``."""
        if release_name:
            key = combined_lookup(artist_name, recording_name + release_name)
            if key and key in self._by_release_key:
                return self._by_release_key[key], "acrr"
        key = combined_lookup(artist_name, recording_name)
        if key and key in self._by_key:
            return self._by_key[key], "acr"
        loose = loose_key(artist_name, recording_name)
        if fuzzy and all(loose) and loose in self._by_loose_key:
            return self._by_loose_key[loose], "fuzzy"
        return None

    # --- ListenBrainz popularity ---

    def recording_popularity(self, mbid: str, day: date) -> tuple[int, int] | None:
        """(total_listen_count, total_user_count) on ``day``; None for ids ListenBrainz has no counts for."""
        mbid = mbid.lower()
        if mbid not in self.recordings or mbid in self.never_listened:
            return None
        return _counts(self.seed, mbid, day)

    def artist_popularity(self, mbid: str, day: date) -> tuple[int, int] | None:
        mbid = mbid.lower()
        artist = self.artists.get(mbid)
        if artist is None or artist.merged_into is not None:
            return None
        listens = users = 0
        for rec in self._artist_recordings.get(mbid, []):
            counts = self.recording_popularity(rec, day)
            if counts:
                listens += counts[0]
                users = max(users, counts[1])
        if _unit(self.seed, "artist-silent", mbid) < NEVER_LISTENED_SHARE and not listens:
            return None
        # Recordings of the artist's this world does not model: the artist's count exceeds its songs' sum.
        own = _counts(self.seed, f"artist:{mbid}", day)
        return listens + own[0], users + own[1]

    def write_ground_truth(self, path: str) -> None:
        with open(path, "w", encoding="utf-8") as fh:
            json.dump(self.truth, fh, indent=1, sort_keys=True)


def _unit(seed: int, *parts) -> float:
    """A uniform [0, 1) number from (seed, parts): the same on every run, independent of build order."""
    digest = hashlib.blake2b("|".join(map(str, (seed, *parts))).encode(), digest_size=8).digest()
    return (int.from_bytes(digest, "big") >> 11) / float(1 << 53)


def _counts(seed: int, key: str, day: date) -> tuple[int, int]:
    """Cumulative (listens, users): a skewed base on POPULARITY_EPOCH, a steady growth of its own, and a daily
    jitter smaller than a day's growth, so the counts never go down from one day to the next."""
    u = min(max(_unit(seed, "base", key), 1e-9), 1 - 1e-9)
    base = min(5_000_000.0, math.exp(4.0 + 2.4 * _NORMAL.inv_cdf(u))) + 1
    growth = 0.0003 + 0.004 * _unit(seed, "growth", key)  # share of the base gained per day
    ratio = 0.03 + 0.6 * _unit(seed, "users", key)
    days = max((day - POPULARITY_EPOCH).days, -150)
    jitter = _unit(seed, "day", key, days) * base * growth
    listens = max(1, math.floor(base * (1 + growth * days) + jitter))
    return listens, max(1, math.floor(listens * ratio))


def _post_process(rows: list[DumpRow]) -> tuple[list[DumpRow], list[tuple[str, str, str]]]:
    """ListenBrainz's post-processing of the canonical data: the lowest score per combined key stays; every other
    recording of that key is redirected to the kept one (first redirect per recording, by row id)."""
    winners: dict[str, DumpRow] = {}
    for row in sorted(rows, key=lambda r: (r.score, r.id)):
        winners.setdefault(row.combined_lookup, row)
    kept = sorted(winners.values(), key=lambda r: r.id)
    redirects: dict[str, tuple[str, str, str]] = {}
    for row in sorted(rows, key=lambda r: r.id):
        win = winners[row.combined_lookup]
        if row.id != win.id and row.recording_mbid != win.recording_mbid:
            redirects.setdefault(row.recording_mbid, (row.recording_mbid, win.recording_mbid, win.release_mbid))
    return kept, list(redirects.values())


@dataclass
class _Song:
    """A cluster of MSD tracks that are one recording."""
    tracks: list[dict]
    artist_mbid: str  # the MusicBrainz artist of the MSD artist
    present: bool = True


class _Builder:
    def __init__(self, seed: int):
        self.seed = seed
        self.rnd = random.Random(f"musicbrainz-{seed}")
        self.artists: dict[str, WorldArtist] = {}
        self.by_name: dict[str, tuple[str, str]] = {}  # casefolded name -> (mbid, the MSD string that made it)
        self.by_msd_artist: dict[str, str] = {}  # Echo Nest artist id -> MusicBrainz artist
        self.artist_tags: dict[str, list[tuple[str, int]]] = {}
        self.release_group_tags: dict[str, list[tuple[str, int]]] = {}
        self.credits: dict[tuple, int] = {}
        self.releases: dict[str, WorldRelease] = {}
        self.release_redirects: dict[str, str] = {}
        self.release_by_key: dict[tuple, str] = {}
        self.recordings: dict[str, WorldRecording] = {}
        self.rows: list[tuple] = []  # (credit id, score, recording, release) before ids are given
        self.canonical_keys: dict[str, str] = {}  # combined key -> the recording meant to hold it
        self.next_credit = 1_000
        self.next_score = {_TIER_ORIGINAL: _TIER_ORIGINAL, _TIER_OTHER: _TIER_OTHER}
        self.patterns: dict[str, list[str]] = defaultdict(list)

    def uuid(self) -> str:
        return str(uuid.UUID(int=self.rnd.getrandbits(128), version=4))

    # --- artists ---

    def new_artist(self, name: str, mbid: str | None = None, may_merge: bool = False) -> str:
        rnd = self.rnd
        kind = "Group" if re.search(r"\bThe\b|&|\band\b|s$", name) or rnd.random() < 0.3 else "Person"
        traits = {"type": kind, "begin_year": rnd.randint(1930, 2005) if rnd.random() < 0.8 else None,
                  "area": rnd.choice(_AREAS) if rnd.random() < 0.85 else None,
                  "gender": rnd.choice(["Male", "Female"]) if kind == "Person" else None}
        canonical = mbid or self.uuid()
        if mbid and may_merge and rnd.random() < MERGED_ARTIST_SHARE:
            canonical = self.uuid()
            self.artists[mbid] = WorldArtist(mbid, name, canonical, **traits)
        self.artists[canonical] = WorldArtist(canonical, name, None, **traits)
        self.artist_tags[canonical] = [(t, rnd.randint(1, 30)) for t in rnd.sample(GENRES, rnd.choice([0, 1, 2, 3]))]
        if _unit(self.seed, "artist-free-tag", canonical) < 0.35:  # a free tag as well ("seen live", "british")
            free = _FREE_TAGS[int(len(_FREE_TAGS) * _unit(self.seed, "artist-free-tag-name", canonical))]
            self.artist_tags[canonical].append((free, 1 + int(9 * _unit(self.seed, "artist-free-tag-count", canonical))))
        return canonical

    def mb_artist_name(self, name: str) -> str:
        """How MusicBrainz spells an artist MSD spells ``name``: mostly the same, a few with "&"/"and" swapped
        or without a leading "The"."""
        rnd = self.rnd
        if rnd.random() >= ARTIST_SPELLING_SHARE:
            return name
        if " & " in name:
            return name.replace(" & ", " and ")
        if re.search(r" and ", name, re.IGNORECASE):
            return re.sub(r" and ", " & ", name, count=1, flags=re.IGNORECASE)
        if name.startswith("The ") and len(name) > 6:
            return name[4:]
        return name

    def secondary(self, name: str) -> str:
        known = self.by_name.get(name.casefold())
        if known:
            return known[0]
        mbid = self.new_artist(name)
        self.by_name[name.casefold()] = (mbid, name)
        return mbid

    def primary(self, ident: dict) -> str:
        """The MusicBrainz artist of an MSD artist (by its Echo Nest id): the MSD artist_mbid (perhaps merged
        since) for a new name; the known artist for another MSD spelling of a known primary artist ("A" and
        "A featuring B"), whose MSD id then redirects to it; a homonym for the same name on another MSD artist."""
        msd_id = ident.get("artist_id") or ident["artist_name"]
        if msd_id in self.by_msd_artist:
            return self.by_msd_artist[msd_id]
        world_name = _world_artist(ident)
        main, _ = split_featuring(world_name)
        name = re.split(r"\s*;\s*|\s+/\s+", main)[0].strip() or main
        msd_mbid = (ident.get("artist_mbid") or "").lower()
        known = self.by_name.get(name.casefold())
        if msd_mbid and msd_mbid in self.artists:
            mbid = self.artists[msd_mbid].merged_into or msd_mbid
        elif known and known[1] != world_name:
            mbid = known[0]
            if msd_mbid:
                self.artists[msd_mbid] = WorldArtist(msd_mbid, self.artists[mbid].name, mbid)
        else:
            mbid = self.new_artist(self.mb_artist_name(name), msd_mbid or None, may_merge=True)
            self.by_name.setdefault(name.casefold(), (mbid, world_name))
        self.by_msd_artist[msd_id] = mbid
        return mbid

    def credit(self, ident: dict, primary: str, title_featured: list[str]) -> list[tuple[str, str, str]]:
        main, featured = split_featuring(_world_artist(ident))
        # MSD's "A;B;C" (classical credits) is MusicBrainz's "A, B & C"; "A;B" is "A, B".
        parts = list(dict.fromkeys(p.strip() for p in re.split(r"\s*;\s*", main) if p.strip()))
        joiner = ", "
        if len(parts) == 1 and " / " in main:
            parts, joiner = [p.strip() for p in main.split(" / ") if p.strip()], " / "
        names = [(primary, self.artists[primary].name)] + [(self.secondary(p), p) for p in parts[1:]]
        out = []
        for i, (mbid, name) in enumerate(names):
            last = i == len(names) - 1
            ampersand = joiner == ", " and len(names) > 2 and i == len(names) - 2
            out.append((mbid, name, "" if last else (" & " if ampersand else joiner)))
        guests = list(dict.fromkeys(featured + title_featured))
        guests = [g for g in guests if g.casefold() not in {n.casefold() for _, n, _ in out}]
        if guests:
            out[-1] = (out[-1][0], out[-1][1], " feat. ")
            for i, guest in enumerate(guests):
                join = "" if i == len(guests) - 1 else (" & " if i == len(guests) - 2 else ", ")
                out.append((self.secondary(guest), guest, join))
        return out

    def credit_id(self, credit: list[tuple[str, str, str]]) -> int:
        key = tuple(credit)
        if key not in self.credits:
            self.next_credit += self.rnd.randint(1, 997)
            self.credits[key] = self.next_credit
        return self.credits[key]

    # --- releases and recordings ---

    def release(self, name: str, artist_name: str, year: int | None, tier: int, key=None) -> WorldRelease:
        key = key or (artist_name.casefold(), name.casefold())
        if key in self.release_by_key:
            return self.releases[self.release_by_key[key]]
        rnd = self.rnd
        self.next_score[tier] += rnd.randint(1, 40 if tier == _TIER_ORIGINAL else 400)
        rel = WorldRelease(self.uuid(), name, self.uuid(), self.next_score[tier], year, artist_name,
                           rnd.randint(10**9, 4 * 10**10) if rnd.random() < 0.6 else None)
        self.releases[rel.mbid] = rel
        self.release_redirects[rel.mbid] = rel.mbid
        self.release_by_key[key] = rel.mbid
        # Reissues of the same release group: only canonical_release_redirect knows them.
        for _ in range(rnd.choice([0, 0, 0, 1, 2])):
            reissue = self.uuid()
            self.releases[reissue] = WorldRelease(reissue, name, rel.release_group_mbid, _TIER_OTHER * 2, year, artist_name)
            self.release_redirects[reissue] = rel.mbid
        return rel

    def recording(self, name: str, credit: list[tuple[str, str, str]], release: WorldRelease,
                  length_ms: int | None) -> WorldRecording:
        rnd = self.rnd
        year = release.year or rnd.randint(1960, 2010)
        rec = WorldRecording(
            mbid=self.uuid(), name=name, length_ms=length_ms, artist_credit_name="".join(n + j for _, n, j in credit),
            artist_mbids=[m for m, _, _ in credit], release_mbid=release.mbid, release_name=release.name,
            score=release.score, artist_credit_id=self.credit_id(credit), artist_names=[(n, j) for _, n, j in credit],
            isrcs=[f"US{''.join(rnd.choices('ABCDEFGHIJKLMNOPQRSTUVWXYZ', k=3))}{rnd.randint(0, 9999999):07d}"]
            if rnd.random() < 0.6 else [],
            tags=[(t, rnd.randint(1, 12)) for t in rnd.sample(GENRES, rnd.choice([0, 0, 1, 2, 3]))],
            first_release_date=rnd.choice([f"{year}", f"{year}-{rnd.randint(1, 12):02d}-{rnd.randint(1, 28):02d}"]))
        self.first_release(rec, year, dated=release.year is not None)
        self.recordings[rec.mbid] = rec
        self.rows.append((rec.artist_credit_id, release.score, rec, release))
        return rec

    def first_release(self, rec: WorldRecording, year: int, dated: bool) -> None:
        """What MusicBrainz knows of the recording's first release (``recording_first_release_date``), drawn from
        (seed, mbid) so the build's other draws stay as they were: for a song MSD has a year for, that year or a
        year or three before; for one it has none for, most often a year, sometimes nothing. ListenBrainz serves
        ``first_release_date`` only when year, month and day are all known (its query joins them with ``||``), so
        a partial date gives none. Free tags (no genre id) are added to some recordings the same way."""
        seed, mbid = self.seed, rec.mbid
        if not dated and _unit(seed, "no-date", mbid) < NO_DATE_SHARE_OF_YEARLESS:
            rec.first_release_year = rec.first_release_date = None
        else:
            if _unit(seed, "earlier", mbid) < EARLIER_RELEASE_SHARE:
                year -= 1 + int(3 * _unit(seed, "earlier-by", mbid))
            rec.first_release_year = year
            if _unit(seed, "partial-date", mbid) < PARTIAL_DATE_SHARE:
                rec.first_release_date = None
            else:
                drawn = rec.first_release_date or ""
                month_day = drawn[4:] if len(drawn) == 10 and drawn.startswith(str(year)) else (
                    f"-{1 + int(12 * _unit(seed, 'month', mbid)):02d}-{1 + int(28 * _unit(seed, 'day', mbid)):02d}")
                rec.first_release_date = f"{year}{month_day}"
        if _unit(seed, "free-tag", mbid) < 0.15:
            free = _FREE_TAGS[int(len(_FREE_TAGS) * _unit(seed, "free-tag-name", mbid))]
            rec.tags = [*rec.tags, (free, 1 + int(4 * _unit(seed, "free-tag-count", mbid)))]

    def finish_releases(self) -> None:
        """Releases MSD has no year for: MusicBrainz dates most of them today, never before the first release of a
        recording on them (drawn from (seed, mbid), after the build's other draws). A release group's tags: the
        first two tags of each of its recordings, their votes added up, three more votes for each."""
        on: dict[str, list[WorldRecording]] = defaultdict(list)
        for _, _, rec, rel in self.rows:
            if rec.release_mbid == rel.mbid:
                on[rel.mbid].append(rec)
        for mbid, recs in on.items():
            release = self.releases[mbid]
            years = [r.first_release_year for r in recs if r.first_release_year]
            if release.year is None and years and _unit(self.seed, "release-year", mbid) < DATED_RELEASE_SHARE_OF_YEARLESS:
                release.year = max(years)
                for rec in recs:  # on a dated release, so out by then: a date known to the year alone
                    if rec.first_release_year is None:
                        rec.first_release_year = release.year
            votes = dict(self.release_group_tags.get(release.release_group_mbid, []))
            for rec in recs:
                for tag, count in rec.tags[:2]:
                    votes[tag] = votes.get(tag, 3) + count
            self.release_group_tags[release.release_group_mbid] = list(votes.items())

    def appear_on(self, rec: WorldRecording, release: WorldRelease) -> None:
        self.rows.append((rec.artist_credit_id, release.score, rec, release))

    def length(self, seconds: float) -> int | None:
        if self.rnd.random() < NO_LENGTH_SHARE:
            return None  # MusicBrainz knows no length for some recordings
        return max(1000, int(round((seconds + self.rnd.uniform(-1.5, 1.5)) * 1000)))

    def title_spelling(self, name: str) -> tuple[str, bool]:
        """MusicBrainz's typography (curly apostrophes, "…": same key) and, for a few, another spelling
        ("&"/"and", "Part"/"Pt."): another key. True when the key changes."""
        rnd = self.rnd
        if "'" in name and rnd.random() < 0.3:
            name = name.replace("'", "\u2019")
        name = name.replace("...", "\u2026")
        if rnd.random() < TITLE_SPELLING_SHARE:
            for pattern, repl in ((r" & ", " and "), (r" and ", " & "), (r"\bPart (\w+)", r"Pt. \1"), (r"\bPt\. ", "Part ")):
                changed = re.sub(pattern, repl, name, count=1, flags=re.IGNORECASE)
                if changed != name:
                    return changed, True
        return name, False

    # --- the build ---

    def build(self, identities: list[dict]) -> MusicBrainzWorld:
        rnd = self.rnd
        ordered = sorted(identities, key=lambda r: r["track_id"])
        groups: dict[tuple[str, str], list[_Song]] = {}
        songs: list[_Song] = []
        for ident in ordered:
            primary = self.primary(ident)
            key = loose_key(ident["artist_name"], ident["title"])
            clusters = groups.setdefault(key, [])
            same = [s for s in clusters if s.artist_mbid == primary
                    and abs(s.tracks[0]["duration"] - ident["duration"]) <= SAME_RECORDING_S]
            if same:
                same[0].tracks.append(ident)
                continue
            song = _Song([ident], primary)
            # Another length or another artist under the same names: the lookup can only answer the first.
            song.present = not clusters and rnd.random() >= ABSENT_SHARE
            clusters.append(song)
            songs.append(song)

        truth: dict[str, str | None] = {}
        merged: dict[str, str] = {}
        profiles: dict[str, str] = {}
        duplicates: dict[str, WorldRecording] = {}
        never: set[str] = set()
        for song in songs:
            first = song.tracks[0]
            ids = [t["track_id"] for t in song.tracks]
            name, title_featured = mb_title(_world_title(first))
            credit = self.credit(first, song.artist_mbid, title_featured)
            credit_name = "".join(n + j for _, n, j in credit)
            name, respelled = self.title_spelling(name)
            key = combined_lookup(credit_name, name)
            duration = sum(t["duration"] for t in song.tracks) / len(song.tracks)
            if song.present and key in self.canonical_keys:
                song.present = False  # another song's names make the same key: it holds the key
            if not song.present:
                for tid in ids:
                    truth[tid] = None
                    self.patterns[tid].append("absent")
                if rnd.random() < DECOY_SHARE_OF_ABSENT and key not in self.canonical_keys:
                    # A live or re-recorded take of the same name: what the lookup answers, another length.
                    live = self.release(rnd.choice(_LIVE_NAMES), credit_name, rnd.randint(1995, 2020), _TIER_OTHER)
                    decoy = self.recording(name, credit, live, int((duration + rnd.choice([-1, 1]) * rnd.uniform(15, 60))
                                                                   * 1000))
                    self.canonical_keys[key] = decoy.mbid
                    for tid in ids:
                        self.patterns[tid].append("decoy")
                if rnd.random() < 0.1:
                    # The Echo Nest named a recording MusicBrainz has since deleted.
                    for t in song.tracks:
                        profiles[t["song_id"]] = self.uuid()
                continue
            year = first.get("year")
            release = self.release(_world_release(first), credit_name, year, _TIER_ORIGINAL)
            rec = self.recording(name, credit, release, self.length(duration))
            self.canonical_keys[key] = rec.mbid
            for tid in ids:
                truth[tid] = rec.mbid
                pats = self.patterns[tid]
                if combined_lookup(first["artist_name"], first["title"]) != key:
                    pats.append("key_miss")
                if respelled or credit_name != _world_artist(first):
                    pats.append("respelled")
                if self.artists.get((first.get("artist_mbid") or "").lower(), WorldArtist("", "")).merged_into:
                    pats.append("merged_artist")
            if rnd.random() < NEVER_LISTENED_SHARE:
                never.add(rec.mbid)
            profile_id = rec.mbid
            r = rnd.random()
            if r < COMPILATION_SHARE:
                if rnd.random() < 0.4:
                    comp = self.release(rnd.choice(_VA_COMPILATIONS), "Various Artists", rnd.randint(1995, 2015), _TIER_OTHER)
                else:
                    comp = self.release(rnd.choice(_COMPILATION_NAMES).format(artist=self.artists[song.artist_mbid].name),
                                        credit_name, rnd.randint(1995, 2015), _TIER_OTHER)
                self.appear_on(rec, comp)
                self._mark(ids, "shared_key:compilation")
            elif r < COMPILATION_SHARE + DUPLICATE_SHARE:
                if rnd.random() < 0.5:
                    # The same recording entered twice (a single's track never merged): redirected to this one.
                    single = self.release(name, credit_name, year, _TIER_OTHER, key=("single", rec.mbid))
                    dup = self.recording(name, credit, single, rec.length_ms and rec.length_ms + rnd.randint(-900, 900))
                    self._mark(ids, "shared_key:duplicate")
                    if rnd.random() < 0.5:
                        profile_id = dup.mbid  # the Echo Nest picked the other entry
                else:
                    live = self.release(rnd.choice(_LIVE_NAMES), credit_name, rnd.randint(1995, 2020), _TIER_OTHER)
                    dup = self.recording(name, credit, live, int((duration + rnd.uniform(20, 90)) * 1000))
                    self._mark(ids, "shared_key:live")
                duplicates[dup.mbid] = self.recordings.pop(dup.mbid)
            elif r < COMPILATION_SHARE + DUPLICATE_SHARE + HOMONYM_SHARE:
                # Another artist of the same name (MusicBrainz tells them apart by a comment) with a same-named song.
                other = self.new_artist(self.artists[song.artist_mbid].name)
                other_credit = [(other if m == song.artist_mbid else m, n, j) for m, n, j in credit]
                album = self.release(" ".join(rnd.sample(_OTHER_ALBUM_WORDS, 2)), credit_name, rnd.randint(1970, 2020),
                                     _TIER_OTHER, key=("homonym", other))
                dup = self.recording(name, other_credit, album, self.length(rnd.uniform(150, 300)))
                duplicates[dup.mbid] = self.recordings.pop(dup.mbid)
                self._mark(ids, "shared_key:homonym")
            if rnd.random() < MERGED_RECORDING_SHARE:
                old = self.uuid()
                merged[old] = rec.mbid
                profile_id = old
                self._mark(ids, "merged_recording")
            if profile_id != rec.mbid or rnd.random() < PROFILE_SHARE:
                for t in song.tracks:
                    profiles[t["song_id"]] = profile_id
        self._foreign_rows()
        self.finish_releases()
        return self._world(ordered, truth, merged, profiles, duplicates, never)

    def _mark(self, track_ids: list[str], pattern: str) -> None:
        for tid in track_ids:
            self.patterns[tid].append(pattern)

    def _foreign_rows(self) -> None:
        for artist_name, title in _FOREIGN_ROWS:
            if combined_lookup(artist_name, title) in self.canonical_keys:
                continue
            mbid = self.new_artist(artist_name)
            credit = [(mbid, artist_name, "")]
            release = self.release(title, artist_name, self.rnd.randint(1990, 2020), _TIER_OTHER)
            rec = self.recording(title, credit, release, self.length(self.rnd.uniform(150, 300)))
            self.canonical_keys[combined_lookup(artist_name, title)] = rec.mbid

    def _world(self, ordered, truth, merged, profiles, duplicates, never) -> MusicBrainzWorld:
        # SERIAL ids in the insert's order (ORDER BY artist credit, score); post-processing leaves gaps.
        rows = []
        for i, (credit_id, score, rec, rel) in enumerate(
                sorted(self.rows, key=lambda r: (r[0], r[1], r[2].mbid)), start=1):
            rows.append(DumpRow(i, credit_id, tuple(rec.artist_mbids), rec.artist_credit_name, rel.mbid, rel.name,
                                rec.mbid, rec.name, combined_lookup(rec.artist_credit_name, rec.name), score))
        redirects = dict(merged)
        world = MusicBrainzWorld(
            seed=self.seed, artists=self.artists, recordings=self.recordings, duplicates=duplicates,
            recording_redirects=redirects, merged_recordings=merged, releases=self.releases,
            release_redirects=self.release_redirects, truth=truth, profiles=profiles, rows=rows, identities=ordered,
            patterns={tid: pats or ["plain"] for tid, pats in ((i["track_id"], self.patterns.get(i["track_id"], []))
                                                               for i in ordered)},
            never_listened=never, artist_tags=self.artist_tags, release_group_tags=self.release_group_tags)
        for old, new in world.canonical_redirects.items():
            redirects.setdefault(old, new)
        lost = [rec for rec in truth.values() if rec and rec not in world.recordings]
        if lost:
            raise AssertionError(f"world seed {self.seed}: recordings {lost[:3]} lost their combined key")
        return world


def _world_artist(ident: dict) -> str:
    return ident.get("canonical_artist_name") or ident["artist_name"].replace("_", ",")


def _world_title(ident: dict) -> str:
    title = ident.get("canonical_title") or ident["title"].replace("_", ",")
    suffix = ident.get("version_suffix")
    return f"{title} {suffix}" if suffix and not title.endswith(suffix) else title


def _world_release(ident: dict) -> str:
    return ident.get("canonical_release") or (ident.get("release") or "").replace("_", ",") or "[unknown]"


def build_world(identities: list[dict], seed: int = DEMO_SEED) -> MusicBrainzWorld:
    """MusicBrainz (and ListenBrainz's counts) for these identities (``sample_identities.jsonl`` records)."""
    return _Builder(seed).build(identities)


def write_echo_nest_profiles(world: MusicBrainzWorld, folder: str) -> list[str]:
    """One Echo Nest ``song/profile`` answer per song with a MusicBrainz track id (``<folder>/<song id>.json``),
    as the AcousticBrainz archive of them holds; returns the paths written."""
    os.makedirs(folder, exist_ok=True)
    by_song = {i["song_id"]: i for i in world.identities}
    paths = []
    for song_id in sorted(world.profiles):
        ident = by_song.get(song_id, {})
        digest = hashlib.blake2b(f"{world.seed}|{song_id}".encode(), digest_size=5).hexdigest().upper()
        doc = {"response": {
            "status": {"version": "4.2", "code": 0, "message": "Success"},
            "songs": [{"id": song_id, "title": ident.get("title", ""), "artist_name": ident.get("artist_name", ""),
                       "artist_id": ident.get("artist_id", ""),
                       "tracks": [{"catalog": "musicbrainz",
                                   "foreign_id": f"musicbrainz:track:{world.profiles[song_id]}",
                                   "id": f"TR{digest[:5]}{digest[5:]}{song_id[-6:]}"[:18]}]}]}}
        path = os.path.join(folder, f"{song_id}.json")
        with open(path, "w", encoding="utf-8") as fh:
            json.dump(doc, fh, ensure_ascii=False)
        paths.append(path)
    return paths
