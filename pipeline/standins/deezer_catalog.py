"""The Deezer sandbox's catalog, built beside the Spotify sandbox's from the same MSD sample.

Deezer lists most songs Spotify lists, and some Spotify lacks, under Deezer's own spellings:
the version in ``title_version`` ("(Remastered)", "(Live)") and ``title`` = ``title_short`` +
version, featured artists in the title ("Song (feat. X)") with the primary artist alone,
durations in whole seconds. A matched pair usually shares its ISRC (the same recording); a few
carry another (a remaster, a regional release), which is what cross-source agreement has to
cope with. Facts Spotify no longer gives a Development-Mode app are here: ``rank`` (0 to ~1M),
``bpm`` (0 when unknown, in the full track only), ``gain``, artist ``nb_fan``, album
``genres``, ``fans`` and ``label``.

``ground_truth`` maps every MSD track id to the Deezer track id it should match, or None.
Deterministic for a seed.
"""

from __future__ import annotations

import random
import re
from dataclasses import dataclass, field

from pipeline.standins.spotify_catalog import Catalog as SpotifyCatalog

# Deezer's top-level genres (about 28 in all); an album carries one or two.
GENRES = [(132, "Pop"), (116, "Rap/Hip Hop"), (152, "Rock"), (113, "Dance"), (165, "R&B"), (85, "Alternative"),
          (106, "Electro"), (466, "Folk"), (144, "Reggae"), (129, "Jazz"), (98, "Classical"), (173, "Films/Games"),
          (464, "Metal"), (169, "Soul & Funk"), (2, "African Music"), (16, "Asian Music"), (153, "Blues"),
          (75, "Brazilian Music"), (84, "Country"), (197, "Latin Music")]
LABELS = ["Columbia", "Atlantic Records", "Island Records", "Sub Pop", "Warp Records", "Def Jam", "Rough Trade",
          "Matador", "Nonesuch", "Domino", "Blue Note", "Motown"]

# Songs Spotify lacks that Deezer holds, and songs Spotify holds that Deezer lacks.
DEEZER_ONLY_SHARE = 0.3
MISSING_SHARE = 0.05
OTHER_ISRC_SHARE = 0.08
BPM_UNKNOWN_SHARE = 0.3
_SPOTIFY_SUFFIX = re.compile(r"\s+-\s+(.+)$")


@dataclass
class DeezerArtist:
    id: int
    name: str
    nb_fan: int
    nb_album: int


@dataclass
class DeezerAlbum:
    id: int
    title: str
    artist_id: int
    release_date: str
    genres: list[tuple[int, str]]
    label: str
    fans: int
    record_type: str
    upc: str


@dataclass
class DeezerTrack:
    id: int
    title_short: str
    title_version: str
    artist_id: int
    contributor_ids: list[int]
    album_id: int
    duration: int
    rank: int
    bpm: float
    gain: float
    isrc: str
    explicit_lyrics: bool
    release_date: str

    @property
    def title(self) -> str:
        return f"{self.title_short} {self.title_version}".strip()


@dataclass
class DeezerCatalog:
    tracks: dict[int, DeezerTrack]
    artists: dict[int, DeezerArtist]
    albums: dict[int, DeezerAlbum]
    ground_truth: dict[str, int | None]  # MSD track_id -> Deezer track id
    by_isrc: dict[str, list[int]] = field(default_factory=dict)


class _Builder:
    def __init__(self, seed: int):
        self.rnd = random.Random(f"deezer-{seed}")
        self.tracks: dict[int, DeezerTrack] = {}
        self.artists: dict[int, DeezerArtist] = {}
        self.albums: dict[int, DeezerAlbum] = {}
        self._artist_by_name: dict[str, int] = {}
        self._album_by_key: dict[tuple[int, str], int] = {}
        self._next = {"track": 3_000_000, "artist": 1_000, "album": 300_000}

    def _id(self, kind: str) -> int:
        self._next[kind] += self.rnd.randint(1, 97)
        return self._next[kind]

    def artist(self, name: str) -> int:
        key = name.casefold()
        if key not in self._artist_by_name:
            artist = DeezerArtist(self._id("artist"), name, int(self.rnd.lognormvariate(8, 2.2)), self.rnd.randint(1, 40))
            self.artists[artist.id] = artist
            self._artist_by_name[key] = artist.id
        return self._artist_by_name[key]

    def album(self, title: str, artist_id: int, release_date: str) -> int:
        key = (artist_id, title.casefold())
        if key not in self._album_by_key:
            rnd = self.rnd
            genres = rnd.sample(GENRES, rnd.choice([1, 1, 2]))
            album = DeezerAlbum(self._id("album"), title, artist_id, release_date, genres, rnd.choice(LABELS),
                                int(rnd.lognormvariate(6, 2)), rnd.choice(["album", "album", "single", "compile"]),
                                f"{rnd.randint(0, 10**12 - 1):012d}")
            self.albums[album.id] = album
            self._album_by_key[key] = album.id
        return self._album_by_key[key]

    def add(self, title: str, version: str, artists: list[str], album: str, release_date: str, duration_s: float,
            isrc: str, explicit: bool) -> DeezerTrack:
        rnd = self.rnd
        ids = [self.artist(a) for a in artists]
        if len(artists) > 1 and rnd.random() < 0.7:
            title = f"{title} (feat. {', '.join(artists[1:])})"  # Deezer's habit: the guest in the title
        track = DeezerTrack(
            id=self._id("track"), title_short=title, title_version=version, artist_id=ids[0], contributor_ids=ids,
            album_id=self.album(album, ids[0], release_date), duration=max(1, round(duration_s)),
            rank=int(min(999_999, rnd.lognormvariate(11, 1.5))),
            bpm=0.0 if rnd.random() < BPM_UNKNOWN_SHARE else round(rnd.uniform(60, 190), 1),
            gain=round(rnd.uniform(-16, -4), 1), isrc=isrc, explicit_lyrics=explicit, release_date=release_date)
        self.tracks[track.id] = track
        return track


def _deezer_title(spotify_name: str) -> tuple[str, str]:
    """Spotify's "Song - Remastered 2011" → Deezer's ("Song", "(Remastered 2011)")."""
    match = _SPOTIFY_SUFFIX.search(spotify_name)
    if match:
        return spotify_name[: match.start()], f"({match.group(1)})"
    return spotify_name, ""


def build_deezer_catalog(identities: list[dict], spotify: SpotifyCatalog, seed: int = 0) -> DeezerCatalog:
    """A Deezer catalog for the identities the Spotify catalog ``spotify`` was built from."""
    b = _Builder(seed)
    truth: dict[str, int | None] = {}
    made: dict[str, int] = {}  # Spotify track id -> Deezer track id: one recording serves every MSD track it serves
    for ident in sorted(identities, key=lambda r: r["track_id"]):
        spotify_id = spotify.ground_truth.get(ident["track_id"])
        if spotify_id in made:
            truth[ident["track_id"]] = made[spotify_id]
            continue
        if spotify_id is not None and b.rnd.random() >= MISSING_SHARE:
            source = spotify.tracks[spotify_id]
            title, version = _deezer_title(source.name)
            artists = [spotify.artists[a].name for a in source.artist_ids]
            isrc = source.isrc if b.rnd.random() >= OTHER_ISRC_SHARE else f"GB{b.rnd.randint(0, 10**9):010d}"
            track = b.add(re.sub(r"\s*\(feat\. [^)]*\)", "", title), version, artists, source.album_name,
                          source.release_date if len(source.release_date) == 10 else f"{source.release_date[:4]}-01-01",
                          source.duration_ms / 1000 + b.rnd.uniform(-1, 1), isrc, source.explicit)
            made[spotify_id] = track.id
            truth[ident["track_id"]] = track.id
        elif spotify_id is None and b.rnd.random() < DEEZER_ONLY_SHARE:
            artist = (ident.get("canonical_artist_name") or ident["artist_name"]).replace("_", ",")
            title = (ident.get("canonical_title") or ident["title"]).replace("_", ",")
            title = re.sub(r"\s*[(\[][^()\[\]]*(?:version|remaster)[^()\[\]]*[)\]]", "", title, flags=re.I).strip() or title
            year = ident.get("year") or b.rnd.randint(1970, 2010)
            track = b.add(title, "", [artist], (ident.get("release") or title).replace("_", ","), f"{year}-06-01",
                          ident["duration"] + b.rnd.uniform(-2, 2), f"FR{b.rnd.randint(0, 10**9):010d}", False)
            truth[ident["track_id"]] = track.id
        else:
            truth[ident["track_id"]] = None
    by_isrc: dict[str, list[int]] = {}
    for track in b.tracks.values():
        by_isrc.setdefault(track.isrc, []).append(track.id)
    return DeezerCatalog(b.tracks, b.artists, b.albums, truth, by_isrc)
