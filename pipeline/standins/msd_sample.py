"""Generate a Million-Song-Dataset-format sample: per-track HDF5 files under ``<out>/A/B/C/``.

    python -m pipeline.standins.msd_sample --out data/msd --songs 2000 --seed 7 [--partitions A/A,A/B] [--names real]

The files match the real format field for field (``pipeline.msd.schema`` and
``pipeline.standins.msd_writer``), and the values carry the real quirks in the proportions measured on
971 real files of the MSD subset: year 0, NaN coordinates and hotttnesss,
``_`` in place of commas, UTF-8 names, empty mbtags, tempo 0 with no beats, duplicate
(artist, title) pairs, and artists shared by many tracks with identical artist fields.
Where a quirk is rarer than 1 in 100 tracks, a sample of 20 or more tracks still gets at
least one, so every sample exercises it.

Beside the tracks, ``<out>/AdditionalFiles/`` holds what later stages need to know about the
generated identities: ``sample_unique_tracks.txt`` in MSD's ``<SEP>`` format and
``sample_identities.jsonl``, which also keeps each name as the world spells it (commas
instead of MSD's ``_``), for the Spotify sandbox to build its catalog from.
``sample_manifest.json`` records the parameters, so a rerun with the same ones is a no-op; a rerun on a
sample an older generator wrote, whose track files this one would write byte for byte the same
(``IDENTITIES_ONLY_UPGRADES``), rewrites only ``AdditionalFiles/``.

Names come in two modes. ``synthetic`` (the default) makes them up from word lists. ``real``
takes real artist and title strings of the MSD subset (``data/msd_subset_names.txt``: "X
featuring Y", "(Album Version)", "Passin' Me By", "Im Slowly Turning Into You" …), while
durations, years and releases are generated as in the synthetic mode; the Spotify sandbox then
builds its catalog from those real strings (pipeline/standins/spotify_catalog.py).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import random
import sys
import uuid
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from pipeline.msd import schema
from pipeline.partitions import validate_partition
from pipeline.standins.msd_writer import SongData, write_msd_file

# 2: identities carry the MSD artist_mbid (the MusicBrainz stand-ins build their world from it).
GENERATOR_VERSION = 2
# Older versions whose track files are byte for byte what this version writes: a sample they made
# needs only its AdditionalFiles/ rewritten, not a new folder.
IDENTITIES_ONLY_UPGRADES = (1,)
ADDITIONAL_FILES = "AdditionalFiles"
SYNTHETIC, REAL = "synthetic", "real"
NAME_MODES = (SYNTHETIC, REAL)
REAL_NAMES_FILE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "data", "msd_subset_names.txt")
SAMPLE_MANIFEST = "sample_manifest.json"

_UPPER = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
_HEX = "0123456789ABCDEF"

_FIRST = ["John", "Mary", "Lou", "Nina", "Otis", "Etta", "Ray", "Patti", "Marvin", "Billie", "Hank", "Dolly",
          "Sam", "Aretha", "Willie", "Joni", "Chet", "Ella", "Buddy", "Carole", "Tom", "Janis", "Curtis", "Grace"]
_LAST = ["Parker", "Reed", "Simone", "Redding", "James", "Charles", "Smith", "Gaye", "Holiday", "Williams",
         "Parton", "Cooke", "Franklin", "Nelson", "Mitchell", "Baker", "Fitzgerald", "Holly", "King", "Waits",
         "Joplin", "Mayfield", "Slick", "Lockwood"]
_FIRST_UTF8 = ["Björk", "José", "Zoë", "Sigurður", "Françoise", "Ñico", "Søren", "Anaïs", "Łukasz", "Renée"]
_LAST_UTF8 = ["Guðmundsdóttir", "González", "Hardy", "Müller", "Ørsted", "Dvořák", "Šimić", "Cortázar"]
_ADJ = ["Black", "Silver", "Electric", "Lonely", "Golden", "Broken", "Midnight", "Crimson", "Velvet", "Wild",
        "Sweet", "Blue", "Burning", "Hollow", "Bright", "Quiet", "Restless", "Neon", "Paper", "Stone"]
_NOUN = ["Heart", "River", "Train", "Angel", "Highway", "Moon", "Fire", "Rain", "Dream", "Shadow", "Road",
         "Summer", "Window", "Garden", "Mirror", "Ocean", "Letter", "Crown", "Thunder", "Diamond", "Ghost"]
_NOUN_UTF8 = ["Corazón", "Café", "Mañana", "Été", "Señorita", "Fröhlich", "Smørrebrød", "Niño"]
_TITLE_COMMA = ["{a}, {b} & {c}", "Yes, {a} {n}", "{n}, {n2}", "Oh, {a} {n}", "{n} (Hey, {n2})"]
_VERSION_SUFFIX = [" (Album Version)", " (LP Version)", " (Live)", " (Remastered)", " (Radio Edit)"]
_TERMS = ["rock", "pop", "jazz", "blues", "soul", "hip hop", "electronic", "folk", "country", "punk", "metal",
          "indie rock", "alternative", "dance pop", "funk", "reggae", "ambient", "house", "techno", "chanson",
          "singer-songwriter", "britpop", "post-punk", "trip hop", "latin", "bossa nova", "new wave", "grunge",
          "soundtrack", "classic rock", "psychedelic", "downtempo", "motown", "gospel", "ska", "emo",
          "00s", "90s", "80s", "70s", "60s", "male vocalist", "female vocalist", "american", "british",
          "german", "french", "español", "américain", "québécois"]
_MBTAGS = ["rock", "pop", "american", "british", "jazz", "soul", "electronic", "uk", "usa", "español",
           "américain", "folk", "hip hop", "punk", "classic pop and rock", "singer/songwriter"]
_PLACES = [("Memphis, TN", 35.149, -90.049), ("London, England", 51.507, -0.128), ("Chicago, IL", 41.878, -87.630),
           ("Paris, France", 48.857, 2.352), ("Reykjavík, Iceland", 64.147, -21.942), ("Kingston, Jamaica", 17.971, -76.793),
           ("Detroit, MI", 42.331, -83.046), ("Berlin, Germany", 52.520, 13.405), ("St Michael, Barbados ", 13.1, -59.6),
           ("São Paulo, Brazil", -23.551, -46.633), ("Nashville, TN", 36.163, -86.781), ("Manchester, England", 53.481, -2.242),
           ("Montréal, Québec", 45.502, -73.567), ("Seattle, WA", 47.606, -122.332)]
_TIME_SIGNATURES = ([4, 3, 1, 5, 7], [712, 87, 101, 45, 26])  # counts in 971 real files


@dataclass
class Artist:
    artist_id: str
    name: str  # as the world spells it
    mbid: str
    playmeid: int
    digitalid: int
    familiarity: float
    hotttnesss: float
    latitude: float
    longitude: float
    location: str
    terms: list[str]
    terms_freq: np.ndarray
    terms_weight: np.ndarray
    mbtags: list[str]
    mbtags_count: np.ndarray
    releases: list[tuple[str, int, int]]  # (name, 7digital id, year)
    similar: list[str]


@dataclass
class Track:
    track_id: str
    song_id: str
    artist: Artist
    title: str  # as the world spells it
    release: tuple[str, int, int]
    duration: float
    version_suffix: str  # "(Album Version)" & co, part of MSD's title only


def msd_text(text: str) -> str:
    """MSD replaced commas by ``_`` in titles, releases and artist names."""
    return text.replace(",", "_")


class SampleGenerator:
    """Deterministic for a seed: identities, values and files depend on nothing else."""

    def __init__(self, seed: int, names: str = SYNTHETIC):
        if names not in NAME_MODES:
            raise ValueError(f"names must be one of {', '.join(NAME_MODES)}, not `{names}`")
        self.seed, self.names = seed, names
        self.py = random.Random(seed)
        self.np = np.random.default_rng(seed)
        self._used_ids: set[str] = set()

    # --- identities ------------------------------------------------------------------

    def _unique(self, make) -> str:
        while True:
            value = make()
            if value not in self._used_ids:
                self._used_ids.add(value)
                return value

    def track_id(self, partition: str) -> str:
        def make():
            letters = partition.replace("/", "") + "".join(self.py.choices(_UPPER, k=5 - len(partition.replace("/", ""))))
            return "TR" + letters + "12" + self.py.choice("78") + "F" + "".join(self.py.choices(_HEX, k=7))
        return self._unique(make)

    def _echo_nest_id(self, prefix: str) -> str:
        return self._unique(lambda: prefix + "".join(self.py.choices(_UPPER, k=5)) + "1" + "".join(self.py.choices(_HEX, k=10)))

    def _word(self, utf8: bool) -> str:
        return self.py.choice(_NOUN_UTF8 if utf8 else _NOUN)

    def artist_name(self) -> str:
        r = self.py.random()
        utf8 = self.py.random() < 0.03
        first = self.py.choice(_FIRST_UTF8 if utf8 else _FIRST)
        last = self.py.choice(_LAST_UTF8 if utf8 and self.py.random() < 0.5 else _LAST)
        if r < 0.35:
            return f"{first} {last}"
        if r < 0.55:
            return f"The {self.py.choice(_ADJ)} {self._word(utf8)}s"
        if r < 0.70:
            return f"{self.py.choice(_ADJ)} {self._word(utf8)}"
        if r < 0.78:
            return f"{first} {last} & The {self.py.choice(_NOUN)}s"
        if r < 0.84:
            return f"{first} {last} feat. {self.py.choice(_FIRST)} {self.py.choice(_LAST)}"
        if r < 0.88:
            return f"{first} {last}, Jr."
        if r < 0.91:
            return f"{self.py.choice(_LAST)}, {self.py.choice(_LAST)} & {self.py.choice(_LAST)}"
        if r < 0.95:
            return f"DJ {self.py.choice(_ADJ)}"
        return f"{first} {last} {self.py.choice(_ADJ)}"

    def title(self) -> str:
        utf8 = self.py.random() < 0.02
        r = self.py.random()
        a, n = self.py.choice(_ADJ), self._word(utf8)
        if r < 0.03:
            return self.py.choice(_TITLE_COMMA).format(a=a, b=self.py.choice(_ADJ), c=self.py.choice(_ADJ), n=n, n2=self.py.choice(_NOUN))
        if r < 0.10:
            return f"Don't {self.py.choice(['Stop', 'Go', 'Cry', 'Look Back'])} {n}"
        if r < 0.13:
            return f'The "{a}" {n}'
        if r < 0.45:
            return f"{a} {n}"
        if r < 0.65:
            return f"{n} of {self.py.choice(_NOUN)}s"
        if r < 0.80:
            return f"{self.py.choice(['Love', 'Lost', 'Last', 'First'])} {n}"
        return f"{a} {n} {self.py.choice(['Blues', 'Song', 'Again', 'Tonight', 'Forever'])}"

    def new_artist(self) -> Artist:
        py, rng = self.py, self.np
        has_place = py.random() < 1 - 288 / 971
        place = py.choice(_PLACES) if has_place else ("", np.nan, np.nan)
        # Coordinates are unknown for 63% of tracks, also for many that name a place.
        located = has_place and py.random() < (358 / 971) / (1 - 288 / 971)
        n_terms = int(np.clip(round(rng.normal(28, 14)), 1, 64))
        terms = py.sample(_TERMS, min(n_terms, len(_TERMS)))
        terms += [f"{py.choice(_ADJ).lower()} {t}" for t in py.sample(_TERMS, n_terms - len(terms))] if n_terms > len(terms) else []
        freq = np.sort(rng.uniform(0.2, 1.0, n_terms))[::-1].copy()
        weight = np.sort(rng.uniform(0.1, 1.0, n_terms))[::-1].copy()
        n_tags = 0 if py.random() < 353 / 971 else py.randint(1, 8)
        tags = py.sample(_MBTAGS, n_tags)
        familiarity = float(np.clip(rng.beta(5, 4), 0, 1))
        hot = float(np.clip(rng.normal(0.42, 0.12), 0.05, 1.0825))
        if py.random() < 10 / 971:
            hot = 0.0
        releases = []
        for _ in range(py.randint(1, 4)):
            year = 0 if py.random() < 208 / 971 else int(np.clip(round(rng.normal(1998, 9)), 1929, 2010))
            rel = self.title() if py.random() < 0.8 else f"{self.title()} (Deluxe Edition)"
            releases.append((rel, -1 if py.random() < 0.01 else py.randint(100000, 999999), year))
        return Artist(
            artist_id=self._echo_nest_id("AR"),
            name=self.artist_name(),
            mbid="" if py.random() < 28 / 971 else str(uuid.UUID(int=py.getrandbits(128), version=4)),
            playmeid=-1 if py.random() < 272 / 971 else py.randint(1000, 999999),
            digitalid=-1 if py.random() < 1 / 971 else py.randint(1000, 999999),
            familiarity=familiarity,
            hotttnesss=hot,
            latitude=place[1] if located else np.nan,
            longitude=place[2] if located else np.nan,
            location=place[0],
            terms=terms,
            terms_freq=freq,
            terms_weight=weight,
            mbtags=tags,
            mbtags_count=np.array(sorted((py.randint(1, 12) for _ in tags), reverse=True), dtype="<i4"),
            releases=releases,
            similar=[],
        )

    def plan(self, songs: int, partitions: list[str]) -> list[Track]:
        """Choose every track's identity before any file is written."""
        if self.names == REAL:
            return self._plan_real(songs, partitions)
        py = self.py
        n_artists = max(1, round(songs * 4412 / 10000))
        artists = [self.new_artist() for _ in range(n_artists)]
        pool_ids = [a.artist_id for a in artists]
        for a in artists:
            # 100 similar artists in every real file; most are artists outside the sample.
            known = py.sample(pool_ids, min(len(pool_ids), py.randint(0, 20)))
            known = [x for x in known if x != a.artist_id]
            a.similar = known + [self._echo_nest_id("AR") for _ in range(100 - len(known))]
        # Some artists have many tracks: a Zipf-like weight on the artist pool.
        weights = [1.0 / (i + 1) ** 0.8 for i in range(n_artists)]
        tracks: list[Track] = []
        for i in range(songs):
            artist = artists[i] if i < n_artists and py.random() < 0.6 else py.choices(artists, weights)[0]
            release = py.choice(artist.releases)
            title = self.title()
            suffix = py.choice(_VERSION_SUFFIX) if py.random() < 0.06 else ""
            partition = partitions[i % len(partitions)]
            tracks.append(Track(self.track_id(partition), self._echo_nest_id("SO"), artist, title, release,
                                self.duration(), suffix))
        self._plant_quirks(tracks)
        return tracks

    def _plan_real(self, songs: int, partitions: list[str]) -> list[Track]:
        """Real (artist, title) rows of the MSD subset, drawn without replacement in a seeded order;
        the tracks of one real artist share one generated artist record, as in the MSD."""
        rows = read_real_names()
        if songs > len(rows):
            raise SystemExit(f"--names real has {len(rows)} real names ({REAL_NAMES_FILE}); asked for {songs} songs")
        chosen = self.py.sample(rows, songs)
        artists: dict[str, Artist] = {}
        tracks = []
        for i, (artist_name, title) in enumerate(chosen):
            if artist_name not in artists:
                artist = self.new_artist()
                artist.name = artist_name
                artists[artist_name] = artist
            artist = artists[artist_name]
            partition = partitions[i % len(partitions)]
            tracks.append(Track(self.track_id(partition), self._echo_nest_id("SO"), artist, title,
                                self.py.choice(artist.releases), self.duration(), ""))
        return tracks

    def duration(self) -> float:
        return float(np.clip(self.np.lognormal(np.log(235), 0.35), 30.0, 703.09))

    def _plant_quirks(self, tracks: list[Track]) -> None:
        """Rare quirks at their real rates, and at least once in a sample of 20+ tracks."""
        if len(tracks) >= 20:
            if not any("," in t.title for t in tracks):
                tracks[-2].title = "Bewitched, Bothered & Bewildered"
            if all(t.artist.name.isascii() for t in tracks):
                tracks[-3].artist.name = "Björk Guðmundsdóttir"
        # Duplicate (artist, title) pairs: 56 in the 10,000-track subset.
        n_dupes = max(1 if len(tracks) >= 20 else 0, round(len(tracks) * 56 / 10000))
        for k in range(n_dupes):
            src, dst = tracks[2 * k], tracks[2 * k + 1]
            dst.artist, dst.title, dst.version_suffix = src.artist, src.title, ""
            # Another release of the same song: a different album and a slightly different length.
            dst.duration = src.duration + self.py.uniform(-4, 4)

    # --- values ------------------------------------------------------------------------

    def song_data(self, track: Track, index: int, n_tracks: int) -> SongData:
        py, rng = self.py, self.np
        a = track.artist
        song_hot = np.nan if py.random() < 460 / 971 else (0.0 if py.random() < 33 / 511 else float(rng.beta(4, 5)))
        # Very short tracks with no beats (tempo 0) occur 2 in 971: plant one in any sample of 20+.
        no_beats = py.random() < 2 / 971 or (n_tracks >= 20 and index == n_tracks - 1)
        duration = py.uniform(0.5, 1.3) if no_beats else track.duration
        tempo = 0.0 if no_beats else float(np.clip(rng.normal(122, 28), 45, 240))
        ts = 1 if no_beats else py.choices(*_TIME_SIGNATURES)[0]
        metadata = {
            "analyzer_version": b"",
            "artist_7digitalid": a.digitalid,
            "artist_familiarity": a.familiarity,
            "artist_hotttnesss": a.hotttnesss,
            "artist_id": a.artist_id.encode(),
            "artist_latitude": a.latitude,
            "artist_location": a.location.encode("utf-8"),
            "artist_longitude": a.longitude,
            "artist_mbid": a.mbid.encode(),
            "artist_name": msd_text(a.name).encode("utf-8"),
            "artist_playmeid": a.playmeid,
            "genre": b"",
            "release": msd_text(track.release[0]).encode("utf-8"),
            "release_7digitalid": track.release[1],
            "song_hotttnesss": song_hot,
            "song_id": track.song_id.encode(),
            "title": msd_text(track.title + track.version_suffix).encode("utf-8"),
            "track_7digitalid": -1 if py.random() < 0.002 else py.randint(1000000, 9999999),
        }
        fade_in = float(min(duration * 0.1, rng.exponential(0.6)))
        analysis = {
            "analysis_sample_rate": 22050,
            "audio_md5": "".join(py.choices("0123456789abcdef", k=32)).encode(),
            "danceability": 0.0,
            "duration": duration,
            "end_of_fade_in": fade_in,
            "energy": 0.0,
            "key": py.randint(0, 11),
            "key_confidence": float(rng.uniform(0, 1)),
            "loudness": float(np.clip(rng.normal(-10, 4.5), -38.1, -0.73)),
            "mode": 1 if py.random() < 0.7 else 0,
            "mode_confidence": float(rng.uniform(0, 1)),
            "start_of_fade_out": float(max(fade_in, duration - rng.exponential(6))),
            "tempo": tempo,
            "time_signature": ts,
            "time_signature_confidence": float(rng.uniform(0, 1)),
            "track_id": track.track_id.encode(),
        }
        musicbrainz = {"year": track.release[2]}
        return SongData(metadata, analysis, musicbrainz, self._arrays(a, duration, tempo, ts))

    def _arrays(self, a: Artist, duration: float, tempo: float, ts: int) -> dict[str, np.ndarray]:
        rng = self.np
        n_seg = max(3, int(duration / rng.uniform(0.22, 0.3)))
        seg_start = np.sort(rng.uniform(0, duration, n_seg))
        seg_start[0] = 0.0
        n_beats = int(duration * tempo / 60) if tempo else 0
        beats = np.linspace(0.3, duration, n_beats, endpoint=False) if n_beats else np.zeros(0)
        bars = beats[:: max(ts, 1)] if n_beats else np.zeros(0)
        n_sections = max(1, int(duration / 30)) if n_beats else 0
        sections = np.sort(rng.uniform(0, duration, n_sections)) if n_sections else np.zeros(0)
        if n_sections:
            sections[0] = 0.0
        tatums = np.linspace(0.3, duration, 2 * n_beats, endpoint=False) if n_beats else np.zeros(0)

        def conf(n):
            return rng.uniform(0, 1, n)

        return {
            "similar_artists": np.array([s.encode() for s in a.similar], dtype="S20"),
            "artist_terms": np.array([t.encode("utf-8") for t in a.terms], dtype="S256"),
            "artist_terms_freq": a.terms_freq,
            "artist_terms_weight": a.terms_weight,
            "segments_start": seg_start,
            "segments_confidence": conf(n_seg),
            "segments_pitches": rng.uniform(0, 1, (n_seg, 12)),
            "segments_timbre": rng.normal(0, 40, (n_seg, 12)),
            "segments_loudness_max": rng.normal(-12, 5, n_seg),
            "segments_loudness_max_time": rng.uniform(0, 0.3, n_seg),
            "segments_loudness_start": rng.normal(-20, 6, n_seg),
            "sections_start": sections,
            "sections_confidence": conf(n_sections),
            "beats_start": beats,
            "beats_confidence": conf(n_beats),
            "bars_start": bars,
            "bars_confidence": conf(len(bars)),
            "tatums_start": tatums,
            "tatums_confidence": conf(len(tatums)),
            "artist_mbtags": np.array([t.encode("utf-8") for t in a.mbtags], dtype="S256"),
            "artist_mbtags_count": a.mbtags_count,
        }


def read_real_names(path: str = REAL_NAMES_FILE) -> list[tuple[str, str]]:
    """(artist_name, title) of every row of the subset's track list, in MSD's own spelling (``_`` for commas)."""
    with open(path, encoding="utf-8") as fh:
        lines = fh.read().splitlines()[1:]  # the header line
    rows = []
    for line in lines:
        parts = line.split("<SEP>")
        if len(parts) == 4 and parts[2].strip() and parts[3].strip():
            rows.append((parts[2].strip(), parts[3].strip()))
    return rows


def identity_record(track: Track, data: SongData, names: str = SYNTHETIC) -> dict:
    """What the sandbox and scoring need to know about a generated track."""
    return {
        "names": names,
        "track_id": track.track_id,
        "song_id": track.song_id,
        "artist_id": track.artist.artist_id,
        "artist_name": data.metadata["artist_name"].decode("utf-8"),
        "title": data.metadata["title"].decode("utf-8"),
        "release": data.metadata["release"].decode("utf-8"),
        "duration": data.analysis["duration"],
        "year": data.musicbrainz["year"] or None,
        "canonical_artist_name": track.artist.name,
        "canonical_title": track.title,
        "version_suffix": track.version_suffix.strip() or None,
        "canonical_release": track.release[0],
        "artist_mbid": data.metadata["artist_mbid"].decode(),  # "" where MSD has none
    }


def _parse_partitions(text: str | None) -> list[str]:
    if not text:
        return ["A/A", "A/B", "B/A"]
    return [validate_partition(p.strip()) for p in text.split(",") if p.strip()]


def generate_sample(out: str, songs: int, seed: int, partitions: list[str] | None = None,
                    progress: Callable[[int, int], None] | None = None, names: str = SYNTHETIC) -> dict:
    """Write the sample; returns its manifest. Refuses to mix two different samples in one folder.
    ``progress(done, total)`` is told after each file."""
    partitions = partitions or _parse_partitions(None)
    params = {"songs": songs, "seed": seed, "partitions": partitions, "generator_version": GENERATOR_VERSION}
    if names != SYNTHETIC:
        params["names"] = names  # absent for synthetic names: samples made before the real mode stay valid
    extra_dir = os.path.join(out, ADDITIONAL_FILES)
    manifest_path = os.path.join(extra_dir, SAMPLE_MANIFEST)
    identities_only = False
    if os.path.exists(manifest_path):
        with open(manifest_path, encoding="utf-8") as fh:
            existing = json.load(fh)
        if existing.get("params") == params:
            return existing
        old = dict(existing.get("params") or {})
        if old.pop("generator_version", None) in IDENTITIES_ONLY_UPGRADES and old == {
                k: v for k, v in params.items() if k != "generator_version"}:
            identities_only = True
        else:
            raise SystemExit(
                f"{out} already holds a generated sample with parameters {existing.get('params')}; "
                f"asked for {params}. Choose another --out or delete {out} first."
            )
    gen = SampleGenerator(seed, names)
    tracks = gen.plan(songs, partitions)
    os.makedirs(extra_dir, exist_ok=True)
    digest = hashlib.sha256()
    identities = []
    for i, track in enumerate(tracks):
        # Computed even when the file stays: each track's values draw from the generator's random streams.
        data = gen.song_data(track, i, len(tracks))
        if not identities_only:
            path = os.path.join(out, schema.track_relpath(track.track_id))
            os.makedirs(os.path.dirname(path), exist_ok=True)
            write_msd_file(path, [data])
        if progress:
            progress(i + 1, len(tracks))
        record = identity_record(track, data, names)
        identities.append(record)
        digest.update(json.dumps(record, sort_keys=True).encode())
    identities.sort(key=lambda r: r["track_id"])
    with open(os.path.join(extra_dir, "sample_identities.jsonl"), "w", encoding="utf-8") as fh:
        for record in identities:
            fh.write(json.dumps(record, ensure_ascii=False) + "\n")
    with open(os.path.join(extra_dir, "sample_unique_tracks.txt"), "w", encoding="utf-8") as fh:
        for r in identities:
            fh.write(f"{r['track_id']}<SEP>{r['song_id']}<SEP>{r['artist_name']}<SEP>{r['title']}\n")
    manifest = {"params": params, "tracks": len(tracks), "identities_sha256": digest.hexdigest()}
    # Written last: its presence says the sample is complete.
    tmp = manifest_path + ".tmp"
    with open(tmp, "w", encoding="utf-8") as fh:
        json.dump(manifest, fh, indent=2)
    os.replace(tmp, manifest_path)
    return manifest


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m pipeline.standins.msd_sample", description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", required=True, help="MSD root to write (per-track files go to <out>/A/B/C/)")
    parser.add_argument("--songs", type=int, required=True, help="number of tracks")
    parser.add_argument("--seed", type=int, default=0, help="random seed; the same seed gives the same sample")
    parser.add_argument("--partitions", default=None,
                        help="comma-separated letter partitions such as A/A,A/B (default A/A,A/B,B/A)")
    parser.add_argument("--names", choices=NAME_MODES, default=SYNTHETIC,
                        help="synthetic names, or real artist and title strings of the MSD subset")
    args = parser.parse_args(argv)
    if args.songs < 0:
        parser.error("--songs must be 0 or more")
    def report(done: int, total: int) -> None:
        # Writing HDF5 files is the demo's longest silent step: a line every tenth of the way.
        if done == total or done % max(1, total // 10) == 0:
            print(f"  writing the MSD-format sample: {done}/{total} files", file=sys.stderr, flush=True)

    manifest = generate_sample(args.out, args.songs, args.seed, _parse_partitions(args.partitions), progress=report,
                               names=args.names)
    print(f"sample of {manifest['tracks']} tracks in {args.out} (seed {args.seed})", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
