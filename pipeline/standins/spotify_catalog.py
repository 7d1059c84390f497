"""The Spotify sandbox's catalog, built from a generated MSD sample's identities.

Most songs are present, under the variants real catalogs show against MSD metadata: other
casing, accents dropped, commas where MSD has ``_``, "(Album Version)" gone, a
"- Remastered 2009" or "- Live" suffix, "feat." credits moved into the artist list, a
curly apostrophe, a duration a few seconds off. Around them stand decoys (live, karaoke,
cover and remix versions, the same title by another artist), and some songs are absent.
``ground_truth`` maps every MSD track id to the Spotify id it should match, or None.

A sample with real MSD names (``msd_sample --names real``) gets a catalog built from those real
strings the way Spotify lists them (``_RealNames``): featured and joint artists as separate
artists, primary first; MSD's packaging suffixes gone, Spotify's own (" - Remastered 2011",
" - Live", " - Radio Edit") in their place; lost apostrophes restored; all-caps titles in title
case; "&" and "and" swapped; one recording on several releases (album, compilation, single,
deluxe edition); a few tracks field filters cannot find (spotify/web-api #1165). ``patterns``
names the real-name patterns of each MSD track, so benchmarks report quality per pattern.

Deterministic for a seed, like the sample itself.
"""

from __future__ import annotations

import json
import os
import random
import re
import unicodedata
from dataclasses import dataclass, field

_BASE62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
_GENRES = ["rock", "pop", "indie", "soul", "jazz", "hip hop", "electronica", "folk", "country", "metal", "latin"]
_FEAT = re.compile(r"\s+feat\.\s+", re.IGNORECASE)

ABSENT_SHARE = 0.10
# MSD tracks of one song closer than this in length are one recording on Spotify.
SAME_RECORDING_S = 10.0

# The catalog `make demo`, the tests and the standalone sandbox build by default: one seed, one catalog.
DEMO_CATALOG_SEED = 3


def strip_accents(text: str) -> str:
    return "".join(c for c in unicodedata.normalize("NFKD", text) if not unicodedata.combining(c))


@dataclass
class CatalogArtist:
    id: str
    name: str
    genres: list[str]
    popularity: int
    followers: int


@dataclass
class CatalogTrack:  # noqa: PLR0902 - Spotify's track object has this many fields
    id: str
    name: str
    artist_ids: list[str]
    album_id: str
    album_name: str
    release_date: str
    release_date_precision: str
    duration_ms: int
    isrc: str
    popularity: int
    explicit: bool
    features: dict = field(default_factory=dict)
    # Found by free text but not by field filters (spotify/web-api #1165).
    filter_hidden: bool = False


@dataclass
class Catalog:
    tracks: dict[str, CatalogTrack]
    artists: dict[str, CatalogArtist]
    ground_truth: dict[str, str | None]  # MSD track_id -> Spotify track id
    patterns: dict[str, list[str]] = field(default_factory=dict)  # MSD track_id -> real-name patterns

    def write_ground_truth(self, path: str) -> None:
        with open(path, "w", encoding="utf-8") as fh:
            json.dump(self.ground_truth, fh, indent=1, sort_keys=True)


class _Builder:
    def __init__(self, seed: int):
        self.rnd = random.Random(seed)
        self.tracks: dict[str, CatalogTrack] = {}
        self.artists: dict[str, CatalogArtist] = {}
        self._artist_by_name: dict[str, str] = {}
        self._used: set[str] = set()

    def spotify_id(self) -> str:
        while True:
            value = "".join(self.rnd.choices(_BASE62, k=22))
            if value not in self._used:
                self._used.add(value)
                return value

    def artist(self, name: str) -> str:
        key = name.casefold()
        if key not in self._artist_by_name:
            artist = CatalogArtist(self.spotify_id(), name, self.rnd.sample(_GENRES, self.rnd.randint(0, 3)),
                                   self.rnd.randint(5, 90), self.rnd.randint(100, 5_000_000))
            self.artists[artist.id] = artist
            self._artist_by_name[key] = artist.id
        return self._artist_by_name[key]

    def credits(self, artist_name: str) -> list[str]:
        """"X feat. Y" on MSD is two artists on Spotify."""
        return [self.artist(part.strip()) for part in _FEAT.split(artist_name) if part.strip()]

    def add_track(self, name: str, artist_ids: list[str], album: str, year: int | None, duration_s: float) -> CatalogTrack:
        rnd = self.rnd
        if year:
            precision = rnd.choice(["year", "month", "day", "day"])
            date = {"year": f"{year}", "month": f"{year}-{rnd.randint(1, 12):02d}",
                    "day": f"{year}-{rnd.randint(1, 12):02d}-{rnd.randint(1, 28):02d}"}[precision]
        else:  # MSD does not know the year; Spotify does
            precision, date = "day", f"{rnd.randint(1960, 2010)}-{rnd.randint(1, 12):02d}-{rnd.randint(1, 28):02d}"
        track = CatalogTrack(
            id=self.spotify_id(), name=name, artist_ids=artist_ids, album_id=self.spotify_id(), album_name=album,
            release_date=date, release_date_precision=precision, duration_ms=max(1000, int(duration_s * 1000)),
            isrc=f"US{''.join(rnd.choices('ABCDEFGHIJKLMNOPQRSTUVWXYZ', k=3))}{rnd.randint(0, 9999999):07d}",
            popularity=rnd.randint(0, 80), explicit=rnd.random() < 0.1,
            features={"danceability": round(rnd.random(), 3), "energy": round(rnd.random(), 3),
                      "key": rnd.randint(-1, 11), "loudness": round(rnd.uniform(-30, -2), 3), "mode": rnd.randint(0, 1),
                      "speechiness": round(rnd.random() / 3, 4), "acousticness": round(rnd.random(), 4),
                      "instrumentalness": round(rnd.random() / 2, 6), "liveness": round(rnd.random() / 2, 3),
                      "valence": round(rnd.random(), 3), "tempo": round(rnd.uniform(60, 190), 3),
                      "time_signature": rnd.choice([3, 4, 4, 4, 5])},
        )
        self.tracks[track.id] = track
        return track

    def title_variant(self, canonical: str) -> str:
        rnd, r = self.rnd, self.rnd.random()
        if r < 0.15:
            return canonical.upper() if rnd.random() < 0.3 else canonical.lower()
        if r < 0.25:
            return strip_accents(canonical)
        if r < 0.35:
            return f"{canonical} - Remastered {rnd.choice([2003, 2009, 2011, 2015])}"
        if r < 0.40:
            return canonical.replace("'", "\u2019")
        return canonical


def build_catalog(identities: list[dict], seed: int = 0) -> Catalog:
    """A catalog for these identities (``sample_identities.jsonl`` records)."""
    if identities and identities[0].get("names") == "real":
        return _RealNames(seed).build(identities)
    b = _Builder(seed)
    truth: dict[str, str | None] = {}
    seen_songs: dict[tuple[str, str], list[tuple[float, str | None]]] = {}
    for ident in sorted(identities, key=lambda r: r["track_id"]):
        song_key = (ident["canonical_artist_name"].casefold(), ident["canonical_title"].casefold())
        same = [spotify_id for duration, spotify_id in seen_songs.get(song_key, [])
                if abs(duration - ident["duration"]) <= SAME_RECORDING_S]
        if same:
            # The MSD holds the same song on several tracks (releases); Spotify's one recording serves them.
            truth[ident["track_id"]] = same[0]
            continue
        # Same artist and title but another length: another recording (an extended or live take).
        versions = seen_songs.setdefault(song_key, [])
        if b.rnd.random() < ABSENT_SHARE:
            truth[ident["track_id"]] = None
            versions.append((ident["duration"], None))
            continue
        artists = b.credits(ident["canonical_artist_name"])
        # canonical_title has no "(Album Version)": that suffix is MSD's, kept in version_suffix.
        name = b.title_variant(ident["canonical_title"])
        duration = ident["duration"] + b.rnd.uniform(-3, 3)
        real = b.add_track(name, artists, ident["canonical_release"], ident["year"], duration)
        truth[ident["track_id"]] = real.id
        versions.append((ident["duration"], real.id))
        r = b.rnd.random()
        base = ident["canonical_title"]
        if r < 0.25:
            b.add_track(f"{base} - Live", artists, f"{ident['canonical_release']} (Live)", None, duration + b.rnd.uniform(10, 60))
        elif r < 0.35:
            b.add_track(f"{base} (Karaoke Version)", [b.artist("Karaoke Hits Band")], "Karaoke Hits", None, duration)
        elif r < 0.45:
            b.add_track(base, [b.artist(f"The {base.split()[0]} Tribute Band")], f"Tribute to {ident['canonical_artist_name']}",
                        None, duration + b.rnd.uniform(-20, 20))
        elif r < 0.52:
            b.add_track(f"{base} - Remix", artists + [b.artist("DJ Remixer")], "Remixes", None, duration + 60)
    return Catalog(b.tracks, b.artists, truth)


def load_identities(msd_root: str) -> list[dict]:
    path = os.path.join(msd_root, "AdditionalFiles", "sample_identities.jsonl")
    if not os.path.exists(path):
        raise FileNotFoundError(
            f"{path} not found: the sandbox builds its catalog from a generated sample. "
            f"Generate one with `python -m pipeline.standins.msd_sample --out {msd_root} --songs N`."
        )
    with open(path, encoding="utf-8") as fh:
        return [json.loads(line) for line in fh if line.strip()]


# --- real MSD names ------------------------------------------------------------------------
# Written from how Spotify lists these songs, independently of pipeline/matching (a stand-in that
# reused the matcher's own rules would only agree with it).

_R_CREDITS = re.compile(r"\s*\(\s*(?:featuring|feat\.?|ft\.?)\s+|\s+(?:featuring|feat\.?|ft\.?|vs\.?|with)\s+|\s+/\s+|\s*;\s*",
                        re.IGNORECASE)
_R_GROUP = re.compile(r"\s*([(\[])\s*([^()\[\]]*?)\s*[)\]]")
_R_FEAT_GROUP = re.compile(r"^(?:featuring|feat\.?|ft\.?)\s+(.+)$", re.IGNORECASE)
_R_PACKAGING = re.compile(
    r"^(?:.*\balbum version|.*\blp version|explicit(?: version)?|amended(?: version)?|clean(?: version)?|album|"
    r"(?:\d{4} )?digital(?:ly)? remaster(?:ed)?|remastered(?: version)?|single version|bonus track|"
    r"(?:explicit|amended|remastered|clean) (?:album |lp )?version)$", re.IGNORECASE)
_R_REMASTER_YEAR = re.compile(r"^(\d{4}) digital remaster$", re.IGNORECASE)
_R_MARKER = re.compile(r"\b(live|\w*mix|edit|acoustic|instrumental|demo|chopped|screwed|karaoke)\b", re.IGNORECASE)
# Contractions MSD spells without their apostrophe, as Spotify spells them.
_R_LOST_APOSTROPHE = {"im": "I'm", "dont": "Don't", "cant": "Can't", "wont": "Won't", "aint": "Ain't",
                      "youre": "You're", "thats": "That's", "didnt": "Didn't", "doesnt": "Doesn't", "isnt": "Isn't",
                      "ive": "I've", "youve": "You've", "theres": "There's", "whats": "What's", "lets": "Let's",
                      "couldnt": "Couldn't", "wouldnt": "Wouldn't", "shouldnt": "Shouldn't", "hes": "He's",
                      "shes": "She's", "theyre": "They're", "weve": "We've", "id": "I'd", "youll": "You'll"}
_COMPILATIONS = ["Greatest Hits", "The Very Best Of", "Gold", "Essential", "Anthology", "Hits Collection"]

FILTER_HIDDEN_SHARE = 0.02
EXTRA_RELEASE_SHARE = 0.25
# Differences the matcher was not written for, kept so the benchmark cannot be tuned to a perfect
# score: a look-alike symbol in an artist's name ("P!nk", "Ke$ha"), "Part 2" as "Pt. 2", another
# master several seconds longer or shorter, a re-recording standing beside the original.
SYMBOL_NAME_SHARE = 0.01
OTHER_MASTER_SHARE = 0.04
RE_RECORDING_SHARE = 0.03
_LOOKALIKE = {"s": "$", "i": "!", "a": "@"}


def real_name_patterns(artist_name: str, title: str) -> list[str]:
    """The real-name patterns an MSD (artist, title) shows: featuring, suffix, apostrophe (tie is the catalog's)."""
    out = []
    if _R_CREDITS.search(artist_name) or re.search(r"\s&\s", artist_name) or re.search(r"\b(?:feat|featuring|ft)\b", title, re.IGNORECASE):
        out.append("featuring")
    if _R_GROUP.search(title) or re.search(r"\s-\s", title):
        out.append("suffix")
    words = re.findall(r"[\w']+", f"{artist_name} {title}")
    if "'" in artist_name + title or any(w.lower() in _R_LOST_APOSTROPHE for w in words):
        out.append("apostrophe")
    return out


class _RealNames(_Builder):
    unmodelled = False  # whether the track being built carries a difference the matcher was not written for

    def build(self, identities: list[dict]) -> Catalog:
        truth: dict[str, str | None] = {}
        patterns: dict[str, list[str]] = {}
        seen: dict[tuple[str, str], list[tuple[float, str | None]]] = {}
        for ident in sorted(identities, key=lambda r: r["track_id"]):
            artist, title = ident["artist_name"].replace("_", ","), ident["title"].replace("_", ",")
            patterns[ident["track_id"]] = real_name_patterns(ident["artist_name"], ident["title"])
            key = (artist.casefold(), title.casefold())
            same = [sid for duration, sid in seen.get(key, []) if abs(duration - ident["duration"]) <= SAME_RECORDING_S]
            if same:
                truth[ident["track_id"]] = same[0]
                continue
            versions = seen.setdefault(key, [])
            if self.rnd.random() < ABSENT_SHARE:
                truth[ident["track_id"]] = None
                versions.append((ident["duration"], None))
                continue
            self.unmodelled = False
            name, featured = self.spotify_title(title)
            credits = self.spotify_credits(artist) + [self.artist(f) for f in featured]
            if len(credits) > 1 and "feat" not in name.lower() and self.rnd.random() < 0.5:
                name += f" (feat. {self.artists[credits[1]].name})"  # Spotify often names the guest in the title too
            duration = ident["duration"] + self.rnd.uniform(-2, 2)
            if self.rnd.random() < OTHER_MASTER_SHARE:
                duration += self.rnd.choice([-1, 1]) * self.rnd.uniform(6, 15)
                self.unmodelled = True
            if self.unmodelled:
                patterns[ident["track_id"]].append("unmodelled")
            album = ident.get("release") and ident["release"].replace("_", ",") or name
            real = self.add_track(name, credits, album, ident["year"], duration)
            real.filter_hidden = self.rnd.random() < FILTER_HIDDEN_SHARE
            truth[ident["track_id"]] = real.id
            versions.append((ident["duration"], real.id))
            if self.rnd.random() < EXTRA_RELEASE_SHARE:
                self.other_releases(real, artist)
                patterns[ident["track_id"]].append("tie")
            self.decoy(name, credits, album, duration, artist)
            if self.rnd.random() < RE_RECORDING_SHARE:
                self.add_track(f"{name.split(' - ')[0]} (Re-Recorded)", credits, f"{album} (Re-Recorded)", 2012,
                               duration + self.rnd.uniform(-1, 1))
        for tid, found in patterns.items():
            if not found:
                patterns[tid] = ["plain"]
        return Catalog(self.tracks, self.artists, truth, patterns)

    def spotify_credits(self, artist: str) -> list[str]:
        parts = [p.strip(" ()") for p in _R_CREDITS.split(artist) if p.strip(" ()")]
        primary = parts[0] if parts else artist
        key = primary.casefold()
        if key not in self._artist_by_name and self.rnd.random() < SYMBOL_NAME_SHARE:
            swappable = [i for i, c in enumerate(primary) if c.lower() in _LOOKALIKE]
            if swappable:
                i = self.rnd.choice(swappable)
                self._artist_by_name[key] = self.artist(primary[:i] + _LOOKALIKE[primary[i].lower()] + primary[i + 1:])
                self.unmodelled = True
        names = [primary]
        if " & " in primary and self.rnd.random() < 0.5:
            names = [p.strip() for p in primary.split(" & ") if p.strip()]  # a duo credited as two artists
        elif primary.startswith("The ") and self.rnd.random() < 0.1:
            names = [primary[4:]]
        return [self.artist(n) for n in names + parts[1:]]

    def spotify_title(self, title: str) -> tuple[str, list[str]]:
        """Spotify's name for an MSD title, and the artists its "(featuring X)" credits."""
        rnd = self.rnd
        featured: list[str] = []
        suffixes: list[str] = []

        def group(match: re.Match) -> str:
            content = match.group(2)
            feat = _R_FEAT_GROUP.match(content)
            if feat:
                featured.extend(p.strip() for p in re.split(r"\s*(?:,|&|and)\s+", feat.group(1)) if p.strip())
                return ""
            year = _R_REMASTER_YEAR.match(content)
            if year:
                suffixes.append(f" - Remastered {year.group(1)}" if rnd.random() < 0.5 else "")
                return ""
            if _R_PACKAGING.match(content):
                return ""
            if _R_MARKER.search(content):
                spotify = content.replace("Version", "").replace("version", "").strip() or content
                suffixes.append(f" - {spotify}" if rnd.random() < 0.6 else f" ({content})")
                return ""
            if rnd.random() < 0.2:
                return ""  # a subtitle Spotify leaves out ("(Skit)", "(Part 2)")
            return match.group(0)

        core = _R_GROUP.sub(group, title).strip() or title
        core = re.sub(r"\s+(?:featuring|feat\.|ft\.)\s+.*$", "", core, flags=re.IGNORECASE).strip() or core
        words = core.split(" ")
        core = " ".join(_R_LOST_APOSTROPHE.get(w.lower(), w) if rnd.random() < 0.8 else w for w in words)
        if rnd.random() < 0.5 and re.search(r"\bPart (\d+|[IVX]+)\b", core):
            core = re.sub(r"\bPart (\d+|[IVX]+)\b", r"Pt. \1", core)
            self.unmodelled = True
        if core.isupper() and len(core) > 3 and rnd.random() < 0.7:
            core = core.title()
        r = rnd.random()
        if " & " in core and r < 0.3:
            core = core.replace(" & ", " and ")
        elif " and " in core and r < 0.2:
            core = core.replace(" and ", " & ")
        if rnd.random() < 0.3:
            core = core.replace("'", "\u2019")
        if not suffixes and rnd.random() < 0.08:
            suffixes.append(rnd.choice([" - Single Version", " - Remastered 2011", " - 2009 Remaster"]))
        return core + "".join(suffixes), featured

    def other_releases(self, real: CatalogTrack, artist: str) -> None:
        """The same recording on a compilation, a single or a deluxe edition: later dates, the
        same length give or take a second, the ISRC kept or (remastered compilations) new."""
        year = int(real.release_date[:4])
        for _ in range(self.rnd.randint(1, 3)):
            kind = self.rnd.choice(["compilation", "single", "deluxe"])
            album = {"compilation": f"{self.rnd.choice(_COMPILATIONS)}", "single": real.name.split(" - ")[0],
                     "deluxe": f"{real.album_name} (Deluxe Edition)"}[kind]
            copy = self.add_track(real.name, list(real.artist_ids), album, min(2024, year + self.rnd.randint(1, 15)),
                                  real.duration_ms / 1000 + self.rnd.uniform(-1, 1))
            if self.rnd.random() < 0.5:
                copy.isrc = real.isrc
            copy.features = real.features

    def decoy(self, name: str, credits: list[str], album: str, duration: float, artist: str) -> None:
        r = self.rnd.random()
        base = name.split(" - ")[0]
        if r < 0.2:
            self.add_track(f"{base} - Live", credits, f"{album} (Live)", None, duration + self.rnd.uniform(10, 60))
        elif r < 0.28:
            self.add_track(f"{base} (Karaoke Version)", [self.artist("Karaoke Hits Band")], "Karaoke Hits", None, duration)
        elif r < 0.36:
            self.add_track(base, [self.artist(f"{base.split()[0]} Tribute Band")], f"Tribute to {artist}", None,
                           duration + self.rnd.uniform(-20, 20))
        elif r < 0.42:
            self.add_track(f"{base} - Remix", credits + [self.artist("DJ Remixer")], "Remixes", None, duration + 60)
