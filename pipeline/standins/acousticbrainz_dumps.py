"""AcousticBrainz's low-level feature dumps as the server wrote them, for the demo's MusicBrainz world or at real size.

    python -m pipeline.standins.acousticbrainz_dumps --msd data/msd --out DIR
    python -m pipeline.standins.acousticbrainz_dumps --synthetic-rows 29500000 --out DIR [--planted mbids.txt]

It follows ``db/dump.py`` of metabrainz/acousticbrainz-server (``dump_lowlevel_features`` and its
``LOWLEVEL_FEATURES_*`` column lists), which wrote the frozen 2022-06-23 dumps:

* one ``acousticbrainz-lowlevel-features-<date>-<type>.tar.zst`` per feature type in the folder
  ``acousticbrainz-lowlevel-features-<date>/``, holding ``<dir>/<dir>-<type>.csv`` then ``<dir>/COPYING`` (CC0);
* the CSV is Python's ``csv.DictWriter`` output (the ``excel`` dialect: quoted only when needed, lines ending in
  ``\\r\\n``) with the header ``mbid, submission_offset, <features…>``: one row per *submission*, in the order they
  were submitted, so an MBID appears once per analysed file, its ``submission_offset`` counting them from 0. The
  MBID is whatever the submitter's tagger wrote: a recording merged since, another recording of the same song, or
  one no MSD song resolves to. A feature the analysis lacked is an empty cell (``->>`` gave NULL);
* ``sha256sums`` beside them: ``<hex>  <file name>`` per dump, as ``sha256sum`` prints it.

``world_submissions`` plays the submissions of the sample's MusicBrainz world (pipeline/standins/musicbrainz_world.py):
for ~75% of the recordings the MSD songs are, 1-8 submissions whose tempo and key relate to the song's MSD analysis
as AcousticBrainz's relate to the Echo Nest's (mostly the same tempo, some an octave off, keys often the same, some
the relative major/minor or a fifth away); a few tagged with the id MusicBrainz merged into the recording; submissions
of other recordings of the same names (live takes, homonyms) with features of their own; and ~40% of all rows for
recordings no MSD song is. ``write_synthetic_dumps`` writes dumps of the real size (~29.5M submissions of ~7.5M
recordings) with given MBIDs planted, for bench/acousticbrainz.py.

The archives are deterministic: the same submissions give the same bytes (fixed tar times and owners, one zstd
encoder), so the demo's pinned SHA-256 holds across runs.
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import io
import math
import os
import shutil
import sys
import tarfile
import threading
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from statistics import NormalDist

DUMP_DATE = "20220623"
RHYTHM = ("bpm", "bpm_histogram_first_peak_bpm_mean", "bpm_histogram_first_peak_bpm_median",
          "bpm_histogram_second_peak_bpm_mean", "bpm_histogram_second_peak_bpm_median", "danceability", "onset_rate")
TONAL = ("key_key", "key_scale", "tuning_frequency", "tuning_equal_tempered_deviation")
FEATURES = {"rhythm": RHYTHM, "tonal": TONAL}
# Essentia's Key algorithm names its keys so, starting at A (flats for the black keys but C# and F#).
ESSENTIA_KEYS = ("A", "Bb", "B", "C", "C#", "D", "Eb", "E", "F", "F#", "G", "Ab")
NAME_OF_PITCH = {(i + 9) % 12: name for i, name in enumerate(ESSENTIA_KEYS)}  # the MSD's 0 = C
SEED = 2022
COVERED_SHARE = 0.75  # of the recordings MSD songs are: those with at least one submission
FOREIGN_SHARE = 0.4  # of all submissions: recordings no MSD song is
MERGED_TAG_SHARE = 0.5  # of a merged recording's submissions: tagged with the id MusicBrainz merged away
EMPTY_SHARE = 0.02  # of submissions: one feature the analysis lacked
MTIME = 1655942400  # 2022-06-23T00:00:00Z, the tar members' time
COPYING = ("Creative Commons CC0 1.0 Universal (public domain dedication)\n\n"
           "The data in this archive is placed in the public domain: to the extent possible under law, the\n"
           "MetaBrainz Foundation has waived all copyright and related or neighboring rights to it.\n"
           "The full legal code: https://creativecommons.org/publicdomain/zero/1.0/legalcode\n\n"
           "(Written by the music-etl stand-in in place of acousticbrainz-server's COPYING-PublicDomain.)\n")
ZSTD_LEVEL = 3
_NORMAL = NormalDist()


def archive_dir(date: str = DUMP_DATE) -> str:
    return f"acousticbrainz-lowlevel-features-{date}"


def dump_name(kind: str, date: str = DUMP_DATE) -> str:
    return f"{archive_dir(date)}-{kind}.tar.zst"


@dataclass(frozen=True)
class Submission:
    """One analysed file: the MBID it was tagged with, its offset among that MBID's submissions, and its features as
    the CSV writes them (text; "" for a feature the analysis lacked), in ``RHYTHM`` and ``TONAL`` order."""

    mbid: str
    offset: int
    rhythm: tuple[str, ...]
    tonal: tuple[str, ...]


# --- writing the published layout ---------------------------------------------------------------

def _tar_member(name: str, data: bytes) -> bytes:
    info = tarfile.TarInfo(name)
    info.size, info.mtime, info.mode = len(data), MTIME, 0o644
    info.uid = info.gid = 1000
    info.uname = info.gname = "acousticbrainz"
    return info.tobuf(tarfile.PAX_FORMAT, "utf-8", "surrogateescape") + data + b"\0" * (-len(data) % tarfile.BLOCKSIZE)


def _tar_end(offset: int) -> bytes:
    """The end of a tar as tarfile writes it: two zero blocks, then zeros to a whole record."""
    tail = b"\0" * (2 * tarfile.BLOCKSIZE)
    return tail + b"\0" * (-(offset + len(tail)) % tarfile.RECORDSIZE)


def csv_bytes(kind: str, submissions: Iterable[Submission]) -> bytes:
    """The dump's CSV as ``csv.DictWriter`` wrote it (the excel dialect)."""
    text = io.StringIO(newline="")
    writer = csv.writer(text)
    writer.writerow(("mbid", "submission_offset", *FEATURES[kind]))
    for s in submissions:
        writer.writerow((s.mbid, s.offset, *(s.rhythm if kind == "rhythm" else s.tonal)))
    return text.getvalue().encode("utf-8")


def write_archive(path: str, kind: str, csv_data: bytes, date: str = DUMP_DATE) -> str:
    """``<dir>/<dir>-<kind>.csv`` and ``<dir>/COPYING`` in a tar, zstd-compressed, at ``path``."""
    import pyarrow as pa

    folder = archive_dir(date)
    tar = _tar_member(f"{folder}/{folder}-{kind}.csv", csv_data) + _tar_member(f"{folder}/COPYING", COPYING.encode())
    tar += _tar_end(len(tar))
    partial = path + ".partial"
    with open(partial, "wb") as out:
        out.write(pa.Codec("zstd", ZSTD_LEVEL).compress(tar, asbytes=True))
    os.replace(partial, path)
    return path


def file_sha256(path: str) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while chunk := fh.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def write_sha256sums(folder: str, paths: Iterable[str]) -> str:
    sums = os.path.join(folder, "sha256sums")
    with open(sums, "w", encoding="ascii") as fh:
        for path in sorted(paths):
            fh.write(f"{file_sha256(path)}  {os.path.basename(path)}\n")
    return sums


def read_sha256sums(folder: str) -> dict[str, str]:
    """File name → SHA-256, as ``sha256sums`` lists them."""
    out = {}
    with open(os.path.join(folder, "sha256sums"), encoding="ascii") as fh:
        for line in fh:
            if line.strip():
                digest, name = line.split(None, 1)
                out[name.strip().lstrip("*")] = digest  # "*name": sha256sum's binary mode
    return out


def write_dumps(submissions: list[Submission], out_dir: str, date: str = DUMP_DATE) -> dict[str, str]:
    """The rhythm and tonal dumps of ``submissions`` (in submission order) and their ``sha256sums``, in
    ``<out_dir>/acousticbrainz-lowlevel-features-<date>/``; returns {kind: path}."""
    folder = os.path.join(out_dir, archive_dir(date))
    os.makedirs(folder, exist_ok=True)
    paths = {kind: write_archive(os.path.join(folder, dump_name(kind, date)), kind, csv_bytes(kind, submissions), date)
             for kind in FEATURES}
    write_sha256sums(folder, paths.values())
    return paths


# --- the demo world's submissions ----------------------------------------------------------------

def _unit(seed: int, *parts) -> float:
    """A uniform [0, 1) number from (seed, parts): the same on every run, independent of the order of draws."""
    digest = hashlib.blake2b("|".join(map(str, (seed, *parts))).encode(), digest_size=8).digest()
    return (int.from_bytes(digest, "big") >> 11) / float(1 << 53)


def _normal(seed: int, *parts) -> float:
    return _NORMAL.inv_cdf(min(max(_unit(seed, *parts), 1e-9), 1 - 1e-9))


def _uuid(seed: int, *parts) -> str:
    raw = bytearray(hashlib.blake2b("|".join(map(str, ("uuid", seed, *parts))).encode(), digest_size=16).digest())
    raw[6] = (raw[6] & 0x0F) | 0x40
    raw[8] = (raw[8] & 0x3F) | 0x80
    h = raw.hex()
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


def _number(value: float) -> str:
    return f"{value:.9g}"


@dataclass(frozen=True)
class _Song:
    """What the audio of a recording is, as Essentia would measure it."""

    bpm: float
    key: int  # 0 = C
    major: bool
    danceability: float
    onset_rate: float
    tuning: float


def _song_features(seed: int, mbid: str, tempo: float | None, key: int | None, mode: int | None) -> _Song:
    """A recording's features from its MSD analysis (or from nothing): AcousticBrainz's tempo is MSD's for most
    songs, an octave off for some, unrelated for the rest; its key MSD's, the relative major/minor, a fifth away, or
    another."""
    u = _unit(seed, "tempo", mbid)
    if not tempo or u >= 0.82:
        bpm = 60 + 130 * _unit(seed, "any-tempo", mbid)
    elif u < 0.64:
        bpm = tempo * (1 + 0.006 * _normal(seed, "tempo-noise", mbid))
    else:
        bpm = tempo * (2 if tempo < 95 else 0.5) * (1 + 0.006 * _normal(seed, "tempo-noise", mbid))
    u = _unit(seed, "key", mbid)
    k, major = (key if key is not None else 0), mode != 0
    if key is None or u >= 0.78:
        k, major = int(12 * _unit(seed, "any-key", mbid)), _unit(seed, "any-mode", mbid) < 0.6
    elif u >= 0.52 and u < 0.66:
        k, major = ((k + 9) % 12, False) if major else ((k + 3) % 12, True)  # the relative minor or major
    elif u >= 0.66:
        k = (k + 7) % 12
    return _Song(bpm=max(30.0, bpm), key=k, major=major,
                 danceability=min(2.95, max(0.2, 1.15 + 0.32 * _normal(seed, "dance", mbid))),
                 onset_rate=min(8.0, max(0.3, 3.6 + 1.1 * _normal(seed, "onsets", mbid))),
                 tuning=440 + 2.5 * _normal(seed, "tuning", mbid))


def _measured(seed: int, song: _Song, tag: str, n: int) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """One submission's rhythm and tonal values: the song's, as one file of it measures (an octave off now and
    then, the key misheard sometimes), with a feature missing for a few."""
    bpm = song.bpm * (1 + 0.004 * _normal(seed, "bpm", tag, n))
    if _unit(seed, "octave", tag, n) < 0.08:
        bpm = bpm * 2 if bpm < 90 else bpm / 2
    first = round(bpm)
    second = round(bpm * 2 if bpm < 100 else bpm / 2)
    dance = min(3.0, max(0.0, song.danceability + 0.04 * _normal(seed, "dance", tag, n)))
    onsets = max(0.0, song.onset_rate + 0.1 * _normal(seed, "onsets", tag, n))
    key, major = song.key, song.major
    if _unit(seed, "misheard", tag, n) < 0.12:
        key, major = int(12 * _unit(seed, "heard-key", tag, n)), _unit(seed, "heard-mode", tag, n) < 0.6
    tuning = song.tuning + 0.3 * _normal(seed, "tuning", tag, n)
    deviation = abs(0.05 + 0.02 * _normal(seed, "deviation", tag, n))
    rhythm = [_number(bpm), _number(first), _number(first), _number(second), _number(second), _number(dance),
              _number(onsets)]
    tonal = [NAME_OF_PITCH[key], "major" if major else "minor", _number(tuning), _number(deviation)]
    if _unit(seed, "empty", tag, n) < EMPTY_SHARE:
        which = int(3 * _unit(seed, "empty-which", tag, n))
        if which == 0:
            rhythm[5] = ""  # no danceability
        elif which == 1:
            rhythm[0] = ""  # no bpm
        else:
            tonal[0] = tonal[1] = ""  # no key
    return tuple(rhythm), tuple(tonal)


def _count(seed: int, *parts) -> int:
    """Submissions of a recording: 1 for half of them, 2 for a quarter, …, at most 8."""
    return min(8, 1 + int(math.log(1 - _unit(seed, "count", *parts)) / math.log(0.5)))


def msd_analysis(msd_root: str, track_ids: Iterable[str]) -> dict[str, tuple[float | None, int | None, int | None]]:
    """(tempo, key, mode) of each track, read from its MSD file (tempo None where the Echo Nest found no beats)."""
    from pipeline.msd.reader import read_msd_file
    from pipeline.msd.schema import track_relpath

    out = {}
    for track_id in track_ids:
        path = os.path.join(msd_root, track_relpath(track_id))
        if os.path.exists(path):
            record = read_msd_file(path).records[0]
            out[track_id] = (record.get("tempo") or None, record.get("key"), record.get("mode"))
    return out


def world_submissions(world, analysis: dict[str, tuple], seed: int = SEED) -> list[Submission]:
    """Every submission of the world's recordings, in the order they were submitted (see the module's doc)."""
    tracks_of: dict[str, list[str]] = defaultdict(list)
    for track_id, mbid in world.truth.items():
        if mbid:
            tracks_of[mbid].append(track_id)
    merged_into: dict[str, list[str]] = defaultdict(list)
    for old, mbid in sorted(world.merged_recordings.items()):
        merged_into[mbid].append(old)
    timed: list[tuple[float, str, tuple, tuple]] = []  # (time, tag, rhythm, tonal)

    def submit(song: _Song, tags: list[tuple[str, float]], key: str) -> None:
        for n in range(_count(seed, key)):
            tag = tags[-1][0]
            for candidate, share in tags:
                if _unit(seed, "tag", key, n, candidate) < share:
                    tag = candidate
                    break
            timed.append((_unit(seed, "time", key, n), tag, *_measured(seed, song, key, n)))

    for mbid in sorted(tracks_of):
        if _unit(seed, "covered", mbid) >= COVERED_SHARE:
            continue  # nobody submitted this recording
        first = min(tracks_of[mbid])
        tempo, key, mode = analysis.get(first, (None, None, None))
        song = _song_features(seed, mbid, tempo, key, mode)
        submit(song, [(old, MERGED_TAG_SHARE) for old in merged_into[mbid]] + [(mbid, 1.0)], mbid)
    for mbid in sorted(world.duplicates):  # other recordings of the same names: audio of their own
        if _unit(seed, "covered", mbid) < COVERED_SHARE:
            submit(_song_features(seed, mbid, None, None, None), [(mbid, 1.0)], mbid)
    own = len(timed)
    for i in range(round(own * FOREIGN_SHARE / (1 - FOREIGN_SHARE))):
        submit(_song_features(seed, f"foreign-{i}", None, None, None), [(_uuid(seed, "foreign", i), 1.0)],
               f"foreign-{i}")
        if len(timed) >= own / (1 - FOREIGN_SHARE):
            break
    timed.sort(key=lambda t: (t[0], t[1]))
    offsets: dict[str, int] = defaultdict(int)
    out = []
    for _, tag, rhythm, tonal in timed:
        out.append(Submission(tag, offsets[tag], rhythm, tonal))
        offsets[tag] += 1
    return out


def demo_folder(msd_root: str) -> str:
    return os.path.join(msd_root, "AdditionalFiles", "acousticbrainz")


_WRITING = threading.Lock()


def written(msd_root: str, world) -> tuple[dict[str, str], dict[str, str]]:
    """({kind: dump path}, {kind: its SHA-256}) of the sample's dumps, written once beside the sample."""
    folder = os.path.join(demo_folder(msd_root), archive_dir())
    with _WRITING:
        if not os.path.exists(os.path.join(folder, "sha256sums")):
            analysis = msd_analysis(msd_root, world.truth)
            building = demo_folder(msd_root) + ".partial"
            shutil.rmtree(building, ignore_errors=True)
            write_dumps(world_submissions(world, analysis), building)
            os.makedirs(os.path.dirname(building), exist_ok=True)
            shutil.rmtree(demo_folder(msd_root), ignore_errors=True)
            os.replace(building, demo_folder(msd_root))
    sums = read_sha256sums(folder)
    return ({kind: os.path.join(folder, dump_name(kind)) for kind in FEATURES},
            {kind: sums[dump_name(kind)] for kind in FEATURES})


# --- dumps at the real size ----------------------------------------------------------------------

REAL_ROWS = 29_500_000  # submissions (lowlevel rows) in the 2022 dumps, ~3.9 per recording
ROWS_PER_MBID = 3.9
CHUNK_ROWS = 1_000_000


def _uuid_strings(rng, n: int):
    """``n`` uuid4 strings as a numpy array of 36-byte strings (vectorised: ``str(uuid4())`` per row is too slow)."""
    import numpy as np

    raw = np.frombuffer(rng.bytes(n * 16), dtype=np.uint8).reshape(n, 16).copy()
    raw[:, 6] = (raw[:, 6] & 0x0F) | 0x40
    raw[:, 8] = (raw[:, 8] & 0x3F) | 0x80
    hexed = np.frombuffer(b"0123456789abcdef", dtype=np.uint8)[np.stack([raw >> 4, raw & 0x0F], axis=2).reshape(n, 32)]
    out = np.full((n, 36), ord("-"), dtype=np.uint8)
    for start, end, at in ((0, 8, 0), (8, 12, 9), (12, 16, 14), (16, 20, 19), (20, 32, 24)):
        out[:, at:at + end - start] = hexed[:, start:end]
    return out.view("S36").ravel()


class _FramedCsv:
    """CSV text in, zstd frames out to a file (compressed on a thread while the next chunk is made); ``size`` counts
    the text, which the tar header needs before the archive is assembled."""

    def __init__(self, path: str):
        import concurrent.futures

        import pyarrow as pa

        self.path, self.size = path, 0
        self._codec = pa.Codec("zstd", ZSTD_LEVEL)
        self._fh = open(path, "wb")  # noqa: SIM115 - closed by close()
        self._pool = concurrent.futures.ThreadPoolExecutor(1)
        self._pending = None

    def write(self, data: bytes) -> None:
        self.size += len(data)
        if self._pending is not None:
            self._fh.write(self._pending.result())
        self._pending = self._pool.submit(self._codec.compress, data, asbytes=True)

    def close(self) -> None:
        if self._pending is not None:
            self._fh.write(self._pending.result())
        self._pool.shutdown()
        self._fh.close()


def _assemble(path: str, kind: str, csv: _FramedCsv, date: str) -> None:
    """The archive from the CSV's frames: the tar header and the end as frames of their own (zstd frames in a row
    are one stream to any reader)."""
    import pyarrow as pa

    codec = pa.Codec("zstd", ZSTD_LEVEL)
    folder = archive_dir(date)
    info = tarfile.TarInfo(f"{folder}/{folder}-{kind}.csv")
    info.size, info.mtime, info.mode, info.uid, info.gid = csv.size, MTIME, 0o644, 1000, 1000
    info.uname = info.gname = "acousticbrainz"
    head = info.tobuf(tarfile.PAX_FORMAT, "utf-8", "surrogateescape")
    tail = b"\0" * (-csv.size % tarfile.BLOCKSIZE) + _tar_member(f"{folder}/COPYING", COPYING.encode())
    tail += _tar_end(len(head) + csv.size + len(tail))
    with open(path + ".partial", "wb") as out:
        out.write(codec.compress(head, asbytes=True))
        with open(csv.path, "rb") as frames:
            shutil.copyfileobj(frames, out, 8 << 20)
        out.write(codec.compress(tail, asbytes=True))
    os.remove(csv.path)
    os.replace(path + ".partial", path)


def write_synthetic_dumps(out_dir: str, rows: int = REAL_ROWS, planted: Iterable[str] = (), seed: int = 31,
                          date: str = DUMP_DATE, progress=None) -> dict[str, str]:
    """Rhythm and tonal dumps of ``rows`` submissions of ~rows/3.9 recordings in the published layout, each
    ``planted`` MBID among them (with 1-8 submissions, the rest drawn with a skew: a few recordings analysed
    hundreds of times), values spelled as the server's float text is; returns {kind: path} and writes
    ``sha256sums``. Memory: the MBIDs (36 bytes each) and one chunk of a million rows."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.csv as pacsv

    rng = np.random.default_rng(seed)
    planted = np.array(sorted({m.lower() for m in planted}), dtype="S36")
    mbids = np.concatenate([planted, _uuid_strings(rng, max(1, round(rows / ROWS_PER_MBID)) - len(planted))])
    rng.shuffle(mbids)
    # Each recording's weight: heavy-tailed (Pareto), so most have a submission or two and a few very many.
    weights = rng.pareto(1.6, len(mbids)) + 1
    cumulative = np.cumsum(weights / weights.sum())
    seen = np.zeros(len(mbids), dtype=np.int32)
    folder = os.path.join(out_dir, archive_dir(date))
    os.makedirs(folder, exist_ok=True)
    sinks = {kind: _FramedCsv(os.path.join(folder, f".{kind}.csv.zst")) for kind in FEATURES}
    keys = pa.array(ESSENTIA_KEYS)
    scales = pa.array(["major", "minor"])
    options = pacsv.WriteOptions(include_header=False, quoting_style="none", eol="\r\n")
    for kind, sink in sinks.items():
        sink.write(("mbid,submission_offset," + ",".join(FEATURES[kind]) + "\r\n").encode())
    done = 0
    # Every recording once first (so each planted MBID is in the dump), then the skewed draws.
    order = np.arange(len(mbids))
    while done < rows:
        n = min(CHUNK_ROWS, rows - done)
        first = order[done:done + n] if done < len(order) else np.empty(0, dtype=np.int64)
        drawn = np.searchsorted(cumulative, rng.random(n - len(first)))
        idx = np.minimum(np.concatenate([first, drawn]), len(mbids) - 1)
        rng.shuffle(idx)
        # submission_offset: how many earlier submissions the MBID had, in row order.
        sort = np.argsort(idx, kind="stable")
        sorted_idx = idx[sort]
        starts = np.r_[0, np.flatnonzero(np.diff(sorted_idx)) + 1]
        rank = np.arange(n) - np.repeat(starts, np.diff(np.r_[starts, n]))
        offsets = np.empty(n, dtype=np.int32)
        offsets[sort] = seen[sorted_idx] + rank
        np.add.at(seen, idx, 1)
        mbid_column = pa.array(mbids[idx].astype(str))
        bpm = (60 + 130 * rng.random(n)).astype(np.float32)
        rhythm = pa.table({"mbid": mbid_column, "submission_offset": offsets, "bpm": bpm,
                           # a peak's mean over the track's frames is a fraction; its median a histogram bin
                           "bpm_histogram_first_peak_bpm_mean": (bpm + rng.standard_normal(n)).astype(np.float32),
                           "bpm_histogram_first_peak_bpm_median": np.round(bpm).astype(np.float32),
                           "bpm_histogram_second_peak_bpm_mean": (bpm / 2 + rng.standard_normal(n)).astype(np.float32),
                           "bpm_histogram_second_peak_bpm_median": np.round(bpm / 2).astype(np.float32),
                           "danceability": (3 * rng.random(n)).astype(np.float32),
                           "onset_rate": (8 * rng.random(n)).astype(np.float32)})
        tonal = pa.table({"mbid": mbid_column, "submission_offset": offsets,
                          "key_key": keys.take(pa.array(rng.integers(0, 12, n))),
                          "key_scale": scales.take(pa.array(rng.integers(0, 2, n))),
                          "tuning_frequency": (440 + 3 * rng.standard_normal(n)).astype(np.float32),
                          "tuning_equal_tempered_deviation": np.abs(0.05 * rng.standard_normal(n)).astype(np.float32)})
        for kind, table in (("rhythm", rhythm), ("tonal", tonal)):
            text = io.BytesIO()
            pacsv.write_csv(table, text, options)
            sinks[kind].write(text.getvalue())
        done += n
        if progress:
            progress(done, rows)
    paths = {}
    for kind, sink in sinks.items():
        sink.close()
        paths[kind] = os.path.join(folder, dump_name(kind, date))
        _assemble(paths[kind], kind, sink, date)
    write_sha256sums(folder, paths.values())
    return paths


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", required=True, help="folder the dumps' folder is written into")
    parser.add_argument("--msd", help="an MSD-format sample: the dumps of its MusicBrainz world")
    parser.add_argument("--synthetic-rows", type=int, help="submissions of a dump at that size instead")
    parser.add_argument("--planted", help="a file of MBIDs (one a line) every synthetic dump holds")
    args = parser.parse_args(argv)
    if args.synthetic_rows:
        planted = open(args.planted, encoding="ascii").read().split() if args.planted else []
        paths = write_synthetic_dumps(args.out, args.synthetic_rows, planted,
                                      progress=lambda d, n: print(f"{d:,}/{n:,} rows", file=sys.stderr, flush=True))
    elif args.msd:
        from pipeline.standins.metabrainz import world_of

        world = world_of(args.msd)
        paths = write_dumps(world_submissions(world, msd_analysis(args.msd, world.truth)), args.out)
    else:
        parser.error("give --msd or --synthetic-rows")
    for kind, path in paths.items():
        print(f"{kind}: {path} ({os.path.getsize(path):,} bytes)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
