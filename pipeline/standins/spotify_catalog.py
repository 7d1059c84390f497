"""The Spotify sandbox's catalog, built from a generated MSD sample's identities.

Most songs are present, under the variants real catalogs show against MSD metadata: other
casing, accents dropped, commas where MSD has ``_``, "(Album Version)" gone, a
"- Remastered 2009" or "- Live" suffix, "feat." credits moved into the artist list, a
curly apostrophe, a duration a few seconds off. Around them stand decoys (live, karaoke,
cover and remix versions, the same title by another artist), and some songs are absent.
``ground_truth`` maps every MSD track id to the Spotify id it should match, or None.

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
class CatalogTrack:
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


@dataclass
class Catalog:
    tracks: dict[str, CatalogTrack]
    artists: dict[str, CatalogArtist]
    ground_truth: dict[str, str | None]  # MSD track_id -> Spotify track id

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
