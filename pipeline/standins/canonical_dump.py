"""The MusicBrainz canonical dump ListenBrainz publishes, written for a stand-in world or at realistic size.

    python -m pipeline.standins.canonical_dump --msd data/msd --out DIR [--seed N] [--stamp 20261201-000000]
    python -m pipeline.standins.canonical_dump --synthetic-rows 3150000 --out DIR [--msd data/msd]

It follows ``listenbrainz/dumps/mapping.py`` (``create_mapping_dump``), ``exporter.py`` (``zstd_dump``,
``write_dump_metadata``) and ``manager.py`` (``create_mbcanonical``, ``write_hashes``):

* ``musicbrainz-canonical-dump-<stamp>.tar.zst`` holding, in this order, ``<archive>/TIMESTAMP`` (the dump time,
  ``datetime.isoformat(" ")``), ``<archive>/COPYING`` (the CC0 licence) and
  ``<archive>/canonical/canonical_musicbrainz_data.csv``, ``canonical_recording_redirect.csv`` and
  ``canonical_release_redirect.csv``, each PostgreSQL ``COPY (SELECT …) TO STDOUT WITH CSV HEADER`` output: a
  value is quoted only when it holds a comma, a quote or a line break (so ``artist_mbids``, comma-joined by
  ``array_to_string``, is quoted only for a credit of several artists), rows in table order (``id`` order);
* beside it ``<archive>.tar.zst.md5`` and ``.sha256`` as ``write_hashes`` writes them: the hex digest alone, no
  file name and no newline (``md5sum … | split()[0]``), and ``DUMP_ID.txt`` (``<stamp> 0 mbcanonical``): the
  folder plays ``…/canonical_data/musicbrainz-canonical-dump-<stamp>/``.

``canonical_musicbrainz_data`` is the post-processed table: one row per combined key, the lowest ``score``
(``mbid_mapping/mapping/canonical_musicbrainz_data.py``), ids with the gaps the deletion leaves;
``deduplicated=False`` writes the rows before that step instead (one per recording and release).

The archive is compressed with ``zstandard`` when importable, else pyarrow's zstd codec, as a series of zstd
frames (one per 8 MiB of tar): any zstd reader reads it whole, and the CSV is compressed while it is being
generated, not after. Tar headers carry fixed times and owners, so the same world and stamp give the same bytes.
"""

from __future__ import annotations

import argparse
import bisect
import contextlib
import functools
import gc
import hashlib
import os
import queue
import random
import re
import shutil
import sys
import tarfile
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from datetime import UTC, datetime

import numpy as np
from unidecode import unidecode

from pipeline.standins.musicbrainz_world import (
    DEMO_SEED,
    MusicBrainzWorld,
    build_world,
    mb_title,
    split_featuring,
)

DATA, RECORDING_REDIRECT, RELEASE_REDIRECT = ("canonical_musicbrainz_data", "canonical_recording_redirect",
                                              "canonical_release_redirect")
DATA_HEADER = ("id", "artist_credit_id", "artist_mbids", "artist_credit_name", "release_mbid", "release_name",
               "recording_mbid", "recording_name", "combined_lookup", "score")
RECORDING_REDIRECT_HEADER = ("recording_mbid", "canonical_recording_mbid", "canonical_release_mbid")
RELEASE_REDIRECT_HEADER = ("release_mbid", "canonical_release_mbid", "release_group_mbid")
DEFAULT_STAMP = "20261201-000000"
SYNTHETIC_SEED = 31
# ListenBrainz runs `zstd -10`; the stand-in trades ratio for speed (level 1 keeps up with 300k+ rows/s).
ZSTD_LEVEL = 1
FRAME_BYTES = 8 << 20
MAX_RECORDINGS = 4000  # per artist in the synthetic dump
_PAIR_STEP = 2_654_435_761  # odd and not a multiple of 3 or 5: coprime with the 12,000² word pairs
COPYING = ("Creative Commons CC0 1.0 Universal (public domain dedication)\n\n"
           "The data in this archive is placed in the public domain: to the extent possible under law, the\n"
           "MetaBrainz Foundation has waived all copyright and related or neighboring rights to it.\n"
           "The full legal code: https://creativecommons.org/publicdomain/zero/1.0/legalcode\n\n"
           "(Written by the music-etl stand-in in place of ListenBrainz's COPYING-PublicDomain.)\n")

_NEEDS_QUOTES = re.compile(r'[,"\n\r]')


def pg_csv(value) -> str:
    """One value as PostgreSQL's ``COPY … CSV`` writes it: quoted when it holds a comma, a quote or a line
    break, or is empty (an unquoted empty value is NULL), quotes doubled."""
    text = value if isinstance(value, str) else str(value)
    if text and "," not in text and '"' not in text and "\n" not in text and "\r" not in text:
        return text
    return '"' + text.replace('"', '""') + '"'


def _csv_line(values: Iterable) -> str:
    return ",".join(pg_csv(v) for v in values) + "\n"


def archive_name(stamp: str) -> str:
    return f"musicbrainz-canonical-dump-{stamp}"


def _stamp_time(stamp: str) -> datetime:
    try:
        return datetime.strptime(stamp, "%Y%m%d-%H%M%S")
    except ValueError:
        raise ValueError(f"stamp `{stamp}`: expected YYYYMMDD-HHMMSS, as in "
                         f"musicbrainz-canonical-dump-20261201-000000") from None


# --- compression: zstd frames written while the tar is produced ----------------------------------

def _compressor(level: int) -> Callable[[bytes], bytes]:
    try:
        import zstandard

        return zstandard.ZstdCompressor(level=level).compress
    except ImportError:
        import pyarrow as pa

        codec = pa.Codec("zstd", compression_level=level)
        return lambda data: codec.compress(data, asbytes=True)


class _FrameFile:
    """Bytes in, zstd frames out to ``path``, compressed on a thread of its own (the codecs release the GIL), so
    generating text and compressing it share two cores. ``size`` counts the bytes taken in."""

    def __init__(self, path: str, level: int):
        self.path, self.size = path, 0
        self._compress = _compressor(level)
        self._pending: list[bytes] = []
        self._pending_size = 0
        self._queue: queue.Queue = queue.Queue(maxsize=4)
        self._error: BaseException | None = None
        self._fh = open(path, "wb")  # noqa: SIM115 - closed by close()
        self._thread = threading.Thread(target=self._run, name="zstd-frames", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while True:
            chunk = self._queue.get()
            if chunk is None:
                return
            try:
                if self._error is None:
                    self._fh.write(self._compress(chunk))
            except BaseException as exc:  # handed to the writer thread in close()
                self._error = exc

    def write(self, data: bytes) -> None:
        self.size += len(data)
        self._pending.append(data)
        self._pending_size += len(data)
        if self._pending_size >= FRAME_BYTES:
            self._flush()

    def write_text(self, text: str) -> None:
        self.write(text.encode("utf-8"))

    def _flush(self) -> None:
        if self._pending:
            self._queue.put(b"".join(self._pending))
            self._pending, self._pending_size = [], 0
        if self._error is not None:
            raise self._error

    def close(self) -> None:
        self._flush()
        self._queue.put(None)
        self._thread.join()
        self._fh.close()
        if self._error is not None:
            raise self._error


class _DumpWriter:
    """The archive as ``zstd_dump`` makes it: metadata files, then the tables; the tables' text is streamed into
    frame files first (a tar header needs the member's size), then the archive is assembled from those frames."""

    def __init__(self, out_dir: str, stamp: str, level: int):
        self.out_dir, self.stamp, self.level = out_dir, stamp, level
        self.name = archive_name(stamp)
        self.mtime = int(_stamp_time(stamp).replace(tzinfo=UTC).timestamp())
        self.work = os.path.join(out_dir, f".{self.name}.building")
        shutil.rmtree(self.work, ignore_errors=True)
        os.makedirs(self.work)
        self.tables: dict[str, _FrameFile] = {}
        self._compress = _compressor(level)

    def table(self, table: str, header: tuple[str, ...]) -> _FrameFile:
        sink = _FrameFile(os.path.join(self.work, f"{table}.csv.zst"), self.level)
        sink.write_text(_csv_line(header))
        self.tables[table] = sink
        return sink

    def _info(self, arcname: str, size: int) -> bytes:
        info = tarfile.TarInfo(arcname)
        info.size, info.mtime, info.mode = size, self.mtime, 0o644
        info.uid = info.gid = 1000
        info.uname = info.gname = "listenbrainz"
        return info.tobuf(tarfile.PAX_FORMAT, "utf-8", "surrogateescape")

    @staticmethod
    def _padding(size: int) -> bytes:
        return b"\0" * (-size % tarfile.BLOCKSIZE)

    def finish(self) -> str:
        for sink in self.tables.values():
            sink.close()
        archive = os.path.join(self.out_dir, f"{self.name}.tar.zst")
        partial = archive + ".partial"
        offset = 0
        md5, sha256 = hashlib.md5(), hashlib.sha256()  # of the archive, as it is written (no second read)
        with open(partial, "wb") as out:
            def emit(data: bytes) -> None:
                md5.update(data)
                sha256.update(data)
                out.write(data)

            def raw(data: bytes) -> None:
                nonlocal offset
                offset += len(data)
                emit(self._compress(data))

            head = b""
            timestamp = _stamp_time(self.stamp).isoformat(" ").encode()
            for arcname, content in ((f"{self.name}/TIMESTAMP", timestamp), (f"{self.name}/COPYING", COPYING.encode())):
                head += self._info(arcname, len(content)) + content + self._padding(len(content))
            previous = 0
            for table, sink in self.tables.items():
                head += self._padding(previous) + self._info(f"{self.name}/canonical/{table}.csv", sink.size)
                raw(head)
                with open(sink.path, "rb") as frames:
                    while chunk := frames.read(8 << 20):
                        emit(chunk)
                offset += sink.size
                previous, head = sink.size, b""
            # The end of a tar as tarfile writes it: two zero blocks, then zeros to a whole record.
            tail = self._padding(previous) + b"\0" * (2 * tarfile.BLOCKSIZE)
            tail += b"\0" * (-(offset + len(tail)) % tarfile.RECORDSIZE)
            raw(tail)
        os.replace(partial, archive)
        shutil.rmtree(self.work, ignore_errors=True)
        for suffix, digest in ((".md5", md5), (".sha256", sha256)):
            with open(archive + suffix, "w", encoding="ascii") as fh:
                fh.write(digest.hexdigest())  # as write_hashes: `md5sum <file>`.split()[0], nothing else
        with open(os.path.join(self.out_dir, "DUMP_ID.txt"), "w", encoding="utf-8") as fh:
            fh.write(f"{self.stamp} 0 mbcanonical\n")
        return archive

    def abandon(self) -> None:
        for sink in self.tables.values():
            with contextlib.suppress(Exception):
                sink.close()
        shutil.rmtree(self.work, ignore_errors=True)


# --- the world's dump ------------------------------------------------------------------------

def write_canonical_dump(world: MusicBrainzWorld, out_dir: str, stamp: str = DEFAULT_STAMP,
                         deduplicated: bool = True) -> str:
    """The canonical dump of ``world``, in ``out_dir``; returns the path of the ``.tar.zst``."""
    os.makedirs(out_dir, exist_ok=True)
    writer = _DumpWriter(out_dir, stamp, level=3)
    try:
        data = writer.table(DATA, DATA_HEADER)
        rows = world.dump_rows() if deduplicated else sorted(world.rows, key=lambda r: r.id)
        for row in rows:
            data.write_text(_csv_line((row.id, row.artist_credit_id, ",".join(row.artist_mbids), row.artist_credit_name,
                                       row.release_mbid, row.release_name, row.recording_mbid, row.recording_name,
                                       row.combined_lookup, row.score)))
        redirects = writer.table(RECORDING_REDIRECT, RECORDING_REDIRECT_HEADER)
        for values in world.dump_recording_redirects():
            redirects.write_text(_csv_line(values))
        releases = writer.table(RELEASE_REDIRECT, RELEASE_REDIRECT_HEADER)
        for values in world.dump_release_redirects():
            releases.write_text(_csv_line(values))
        return writer.finish()
    except BaseException:
        writer.abandon()
        raise


# --- a dump at realistic size --------------------------------------------------------------

_ONSETS = ["", "b", "br", "c", "ch", "d", "dr", "f", "fl", "g", "gr", "h", "j", "k", "l", "m", "n", "p", "pr", "r",
           "s", "sh", "sl", "st", "t", "tr", "v", "w", "z"]
_VOWELS = ["a", "e", "i", "o", "u", "a", "e", "o", "ai", "ea", "ou", "y"]
_CODAS = ["", "", "", "n", "r", "l", "s", "m", "x", "nd", "st", "th"]
_ENGLISH = ["Love", "Night", "Heart", "Song", "Dance", "Time", "Light", "Dream", "Fire", "Rain", "Road", "Home",
            "Blue", "Gold", "Wild", "Lost", "Sweet", "Dark", "Alone", "Forever", "Tonight", "Summer", "Ghost",
            "River", "Stars", "Shadow", "Morning", "Money", "Girl", "Boy", "World", "Paradise", "Angel", "Again"]
_MARKERS = [" (live)", " (remix)", " (acoustic)", " (radio edit)", " (instrumental)", " (demo)", " (remastered)",
            " (extended mix)", " (live at Wembley)", " (original mix)"]
_CYRILLIC = str.maketrans("abcdefghijklmnoprstuvyz", "абкдефгхийклмнопрстувыз")
_GREEK = str.maketrans("abdegiklmnoprstuxz", "αβδεγικλμνοπρστυξζ")
_ACCENTS = str.maketrans("aeiounc", "áéíöüñç")
_SPECIAL = str.maketrans("osl", "øßł")


def _uuid_bytes(rng: np.random.Generator, n: int) -> np.ndarray:
    """``n`` uuid4s as text, one per row of an (n, 36) byte matrix (``str(uuid.UUID(...))`` per row is too slow)."""
    raw = np.frombuffer(rng.bytes(n * 16), dtype=np.uint8).reshape(n, 16).copy()
    raw[:, 6] = (raw[:, 6] & 0x0F) | 0x40
    raw[:, 8] = (raw[:, 8] & 0x3F) | 0x80
    hexed = np.frombuffer(raw.tobytes().hex().encode(), dtype=np.uint8).reshape(n, 32)
    out = np.full((n, 36), ord("-"), dtype=np.uint8)
    for dst, src in ((slice(0, 8), slice(0, 8)), (slice(9, 13), slice(8, 12)), (slice(14, 18), slice(12, 16)),
                     (slice(19, 23), slice(16, 20)), (slice(24, 36), slice(20, 32))):
        out[:, dst] = hexed[:, src]
    return out


def _uuid_list(rng: np.random.Generator, n: int) -> list[str]:
    text = _uuid_bytes(rng, n).tobytes().decode("ascii")
    return [text[i:i + 36] for i in range(0, 36 * n, 36)]


def _uuid_array(rng: np.random.Generator, n: int):
    import pyarrow as pa

    offsets = np.arange(0, 36 * (n + 1), 36, dtype=np.int32)
    return pa.StringArray.from_buffers(n, pa.py_buffer(offsets), pa.py_buffer(_uuid_bytes(rng, n)))


_ASCII_NON_WORD = bytes(c for c in range(128) if not (chr(c).isalnum() or chr(c) == "_"))


def _key_part(text: str) -> str:
    """``combined_lookup``'s transformation of one string: ``combined_lookup(a, b) == _key_part(a) +
    _key_part(b)``, the regex and unidecode acting character by character; ASCII text skips both."""
    if text.isascii():
        return text.encode("ascii").translate(None, _ASCII_NON_WORD).decode("ascii").lower()
    return unidecode(re.sub(r"[^\w]+", "", text).lower())


class _Names:
    """Word and title pools for the synthetic dump: pseudo-words (so no name collides with an MSD sample's word
    lists) and some English; ~9% UTF-8: accents, ø/ß/ł that only unidecode flattens, Cyrillic, Greek, and CJK
    and Hangul, whose keys keep spaces and capitals. Titles come with their CSV form and key part."""

    def __init__(self, rnd: random.Random, words: int = 12_000, titles: int = 1 << 16):
        pool, seen = [], set()
        while len(pool) < words:
            word = "".join(rnd.choice(_ONSETS) + rnd.choice(_VOWELS) + rnd.choice(_CODAS)
                           for _ in range(rnd.choice([1, 2, 2, 2, 3]))).capitalize()
            if len(word) > 2 and word not in seen:
                seen.add(word)
                pool.append(word)
        self.words = pool
        vocab = pool + _ENGLISH * 120  # English words a quarter of the time
        vocab_keys = [w.lower() for w in vocab]
        self.titles: list[tuple[str, str]] = []  # (CSV-ready name, key part)
        keys: set[str] = set()
        draws = np.random.default_rng(rnd.getrandbits(64))
        while len(self.titles) < titles:
            batch = titles - len(self.titles) + 1024
            sizes = draws.choice([1, 1, 2, 2, 2, 3, 3, 4, 5], batch).tolist()
            picks = draws.integers(0, len(vocab), (batch, 5)).tolist()
            kinds = draws.random(batch).tolist()
            markers = draws.integers(0, len(_MARKERS) * 14, batch).tolist()  # one in fourteen has a marker
            for size, pick, r, marker in zip(sizes, picks, kinds, markers, strict=True):
                pick = pick[:size]
                name = " ".join([vocab[i] for i in pick])
                if r < 0.08:
                    name = self._decorate(name, r)
                    key = _key_part(name)
                elif r < 0.17:
                    name = self.script(name, rnd)
                    key = _key_part(name)
                else:
                    key = "".join([vocab_keys[i] for i in pick])
                if marker < len(_MARKERS):
                    name, key = name + _MARKERS[marker], key + _key_part(_MARKERS[marker])
                if key and key not in keys and not _NEEDS_QUOTES.search(key):
                    keys.add(key)
                    self.titles.append((pg_csv(name), key))
        del self.titles[titles:]
        # An artist's titles are a window of the pool (distinct, and read in memory order: random access
        # to the pool costs more than the rest of a row); the first ones repeat at the end so no window wraps.
        self.title_csv = [t[0] for t in self.titles] + [t[0] for t in self.titles[:MAX_RECORDINGS]]
        self.title_key = [t[1] for t in self.titles] + [t[1] for t in self.titles[:MAX_RECORDINGS]]

    @staticmethod
    def _decorate(name: str, r: float) -> str:
        if r < 0.03:
            return name.replace(" ", ", ", 1) if " " in name else f"{name}, {name}"
        if r < 0.05:
            return f'The "{name}"'
        return name + ("'s" if r < 0.065 else "\u2019s")

    @staticmethod
    def script(text: str, rnd: random.Random, r: float | None = None) -> str:
        r = rnd.random() * 0.09 if r is None else r
        if r < 0.05:
            return text.translate(_ACCENTS) if r < 0.035 else text.translate(_SPECIAL)
        if r < 0.065:
            return text.lower().translate(_CYRILLIC).title()
        if r < 0.072:
            return text.lower().translate(_GREEK).title()
        if r < 0.082:
            return "".join(chr(0x4E00 + (ord(c) * 7919 + i * 104729) % 20900) for i, c in enumerate(text) if c != " ")[:6]
        return "".join(chr(0xAC00 + (ord(c) * 7919 + i * 104729) % 11172) for i, c in enumerate(text) if c != " ")[:5]


_MAYBE_FEATURING = re.compile(r"feat|\bft\b", re.IGNORECASE)
# MSD names repeat (an artist's on all its tracks, common titles): parse each once.
_split_featuring = functools.lru_cache(maxsize=1 << 16)(split_featuring)
_mb_title = functools.lru_cache(maxsize=1 << 16)(mb_title)


def _msd_credit(row: dict) -> tuple[str, list[str], str]:
    """MusicBrainz-style (credit name, credited names, recording name) of an MSD-shaped row, as the world
    spells them (``musicbrainz_world``); the regexes only for names that may need them."""
    artist = row.get("canonical_artist_name") or row["artist_name"].replace("_", ",")
    title = row.get("canonical_title") or row["title"].replace("_", ",")
    if row.get("version_suffix") and not title.endswith(row["version_suffix"]):
        title = f"{title} {row['version_suffix']}"
    low = artist.lower()
    if ("feat" in low or "ft" in low) and _MAYBE_FEATURING.search(artist):
        main, featured = _split_featuring(artist)
    else:
        main, featured = artist.strip(), []
    low = title.lower()
    if "(" in title or "[" in title or (("feat" in low or "ft" in low) and _MAYBE_FEATURING.search(title)):
        name, title_featured = _mb_title(title)
    else:
        name, title_featured = " ".join(title.split()) or title.strip(), []
    if featured or title_featured:
        guests = list(dict.fromkeys(featured + title_featured))
        return f"{main} feat. {' & '.join(guests)}", [main, *guests], name
    return main, [main], name


def write_synthetic_dump(out_dir: str, rows: int, msd_rows: Iterable[dict] = (), seed: int = SYNTHETIC_SEED,
                         stamp: str = DEFAULT_STAMP, deduplicated: bool = True,
                         progress: Callable[[int, int], None] | None = None) -> str:
    """A canonical dump of ``rows`` data rows (millions: ~15 recordings per artist, skewed; several releases per
    artist, reissues in ``canonical_release_redirect``; a recording redirect for ~10% of recordings; names of
    realistic length, ~9% UTF-8), streamed to disk, with a row for each of ``msd_rows`` (``sample_identities``
    records, or any dicts with ``artist_name`` and ``title``, optionally ``artist_mbid`` and ``release``) spelled
    the MusicBrainz way, under their own artists, mixed in among the others. Rows whose combined key repeats an
    earlier one's are left out, as ListenBrainz's post-processing leaves them; ``deduplicated=False`` adds, as
    before that step, rows of ~15% of recordings on a compilation. Returns the path of the ``.tar.zst``."""
    os.makedirs(out_dir, exist_ok=True)
    writer = _DumpWriter(out_dir, stamp, level=ZSTD_LEVEL)
    # No reference cycles are made here, and with a million MSD rows alive the cyclic collector's full passes
    # (each over every one of them) would cost more than writing the rows.
    collecting = gc.isenabled()
    gc.disable()
    try:
        _Synthetic(writer, rows, list(msd_rows), seed, deduplicated, progress).run()
        return writer.finish()
    except BaseException:
        writer.abandon()
        raise
    finally:
        if collecting:
            gc.enable()


class _Synthetic:
    """The synthetic dump's rows, made a batch of ~64k at a time: the artists' and releases' fields in Python,
    the rows themselves (ids, recording ids, titles, keys, whole CSV lines) as Arrow and NumPy arrays, which is what
    keeps the run above 300k rows/s. The MSD rows, a few per artist, are written line by line between batches."""

    BATCH_ROWS = 1 << 16

    def __init__(self, writer: _DumpWriter, rows: int, msd_rows: list[dict], seed: int, deduplicated: bool,
                 progress: Callable[[int, int], None] | None):
        import pyarrow as pa

        self.pa = pa
        self.rnd = random.Random(f"canonical-dump-{seed}")
        self.np = np.random.default_rng(seed)
        self.names = _Names(self.rnd)
        self.title_field = pa.array([f",{t}," for t in self.names.title_csv], pa.string())
        self.title_key = pa.array(self.names.title_key, pa.string())
        self.rows, self.deduplicated, self.progress = rows, deduplicated, progress
        self.data = writer.table(DATA, DATA_HEADER)
        self.redirects = writer.table(RECORDING_REDIRECT, RECORDING_REDIRECT_HEADER)
        self.releases = writer.table(RELEASE_REDIRECT, RELEASE_REDIRECT_HEADER)
        self._uuid_pool: list[str] = []
        self._uuid_at = 0
        self.msd = self._msd_artists(msd_rows)
        self.msd_count = sum(len(a[2]) for a in self.msd)
        if self.msd_count > rows:
            raise ValueError(f"rows={rows} is fewer than the {self.msd_count} distinct MSD rows to mix in")
        self.msd_sorted = sorted(self.msd_keys)
        self.pending_releases: list[str] = []  # the MSD artists' releases, written with the next batch's
        self.next_id = self.credit_id = self.artists = 0
        self.written = 0
        # Every artist credit's key so far (~100 bytes each, 2.6M for 31.5M rows): one key, one artist credit.
        self.artist_keys: set[str] = set()
        self.recent: list[tuple[str, str, str]] = []  # (mbid, name, key part) of recent artists, for credits

    def uuids(self, n: int) -> list[str]:
        """``n`` uuids from a pool made 64k at a time (numpy's per-call cost is more than a few uuids')."""
        if self._uuid_at + n > len(self._uuid_pool):
            self._uuid_pool, self._uuid_at = _uuid_list(self.np, max(n, 1 << 16)), 0
        self._uuid_at += n
        return self._uuid_pool[self._uuid_at - n:self._uuid_at]

    def uuid(self) -> str:
        return self.uuids(1)[0]

    def _msd_artists(self, msd_rows: list[dict]) -> list[tuple]:
        """(CSV fields of the credit: "mbids,name", key part of the credit, [(name as CSV, release, key)]) per MSD
        artist, in a random order; a row whose combined key repeats an earlier one's is dropped (the first kept)."""
        artists: dict[str, tuple] = {}
        seen: set[str] = set()
        credit_keys: dict[str, str] = {}
        for row in msd_rows:
            credit, names, name = _msd_credit(row)
            credit_key = credit_keys.get(credit)
            if credit_key is None:
                credit_key = credit_keys[credit] = _key_part(credit)
            key = credit_key + _key_part(name)
            if not key or key in seen:
                continue
            seen.add(key)
            mbid = row.get("artist_mbid")
            group = mbid.lower() if mbid else credit.casefold()
            artist = artists.get(group)
            if artist is None:
                ids = ",".join([mbid.lower() if mbid else self.uuid()] + self.uuids(len(names) - 1))
                artist = artists[group] = (f"{pg_csv(ids)},{pg_csv(credit)}", credit_key, [])
            release = row.get("canonical_release") or (row.get("release") or "").replace("_", ",") or name
            artist[2].append((pg_csv(name), release, key if '"' not in key and "," not in key else pg_csv(key)))
        self.msd_keys = seen
        out = list(artists.values())
        self.rnd.shuffle(out)
        return out

    def run(self) -> None:
        filler_rows = self.rows - self.msd_count
        # Where each MSD artist goes among the others: after a random share of the filler rows.
        slots = sorted(self.rnd.randrange(max(1, filler_rows)) for _ in self.msd)
        m = filler = 0
        while filler < filler_rows:
            due = bisect.bisect_right(slots, filler, lo=m)
            if due > m:
                self._msd_chunk(self.msd[m:due])
                m = due
            filler += self._batch(min(self.BATCH_ROWS, filler_rows - filler))
            if self.progress:
                self.progress(self.written, self.rows)
        if m < len(self.msd):
            self._msd_chunk(self.msd[m:])
        if self.pending_releases:
            self._release_redirects(self.pending_releases)

    # --- artists and releases (Python, a few per batch row) ---

    def _artist_name(self, w1: str, w2: str, form: int, scripted: bool, pair: int) -> tuple[str, str]:
        """A name in one of six forms and its key part, built from the words' for the ASCII ones (no regex); a
        CJK or Hangul name spells ``pair`` in its script, so it is one of a kind too."""
        k1, k2 = w1.lower(), w2.lower()
        if form < 512:
            name, key = f"{w1} {w2}", k1 + k2
        elif form < 666:
            name, key = f"The {w1} {w2}s", f"the{k1}{k2}s"
        elif form < 820:
            name, key = f"{w1}{k2}", k1 + k2
        elif form < 870:
            name, key = f"DJ {w1} {w2}", f"dj{k1}{k2}"
        elif form < 942:
            name, key = f"{w1} & the {w2}s", f"{k1}the{k2}s"
        else:
            name, key = f"{w1} {w2} Orchestra", f"{k1}{k2}orchestra"
        if scripted:  # in another script, or with letters only unidecode flattens
            r = self.rnd.random() * 0.09
            if r < 0.035:  # accents: unidecode gives back the same key
                return name.translate(_ACCENTS), key
            if r < 0.072:
                name = self.names.script(name, self.rnd, r)
            else:
                base, first = (20_900, 0x4E00) if r < 0.082 else (11_172, 0xAC00)
                name = "".join(chr(first + pair // base ** k % base) for k in range(3))
            key = _key_part(name)
        return name, key

    def _batch(self, budget: int) -> int:
        """Filler artists with ``budget`` rows between them; returns the rows written (compilation copies aside)."""
        pa, rng, names = self.pa, self.np, self.names
        import pyarrow.compute as pc

        draws = np.clip(np.exp(rng.normal(1.7, 1.25, budget // 6 + 64)).astype(np.int64), 1, MAX_RECORDINGS)
        while draws.sum() < budget:
            draws = np.concatenate([draws, draws])
        counts = draws[: int(np.searchsorted(np.cumsum(draws), budget)) + 1].copy()
        counts[-1] -= counts.sum() - budget
        n_artists = len(counts)
        words = names.words
        # Each artist its own pair of words (a permutation of the pairs, never one twice): two artists of one name
        # whose title windows overlapped would share combined keys, which the published table never does.
        pairs = len(words) * len(words)
        pair = (self.artists + np.arange(n_artists, dtype=np.int64)) * _PAIR_STEP % pairs
        self.artists += n_artists
        w = np.stack([pair // len(words), pair % len(words)], axis=1).tolist()
        form = rng.integers(0, 1024, n_artists).tolist()
        scripted = (rng.random(n_artists) < 0.09).tolist()
        kind = rng.integers(0, 1024, n_artists).tolist()
        mbids = _uuid_list(rng, n_artists)
        credit_ids = (self.credit_id + np.cumsum(1 + rng.integers(0, 3, n_artists))).tolist()
        self.credit_id = credit_ids[-1]
        artist_names, prefixes, akeys, risky = [], [], [], []
        recent, keys_seen = self.recent, self.artist_keys
        for i in range(n_artists):
            w1, w2 = words[w[i][0]], words[w[i][1]]
            name, akey = self._artist_name(w1, w2, form[i], scripted[i], w[i][0] * len(words) + w[i][1])
            # Another artist's name may have this key (a transliteration, a CJK reading, two words run on): the
            # rows of both would share keys where their titles meet. Then a plain form, or a number.
            for plain_form in (0, 512, 870, 942):
                if akey not in keys_seen:
                    break
                name, akey = self._artist_name(w1, w2, plain_form, False, 0)
            if akey in keys_seen:
                name, akey = f"{name} {len(keys_seen)}", f"{akey}{len(keys_seen)}"
            keys_seen.add(akey)
            credit, ids = name, mbids[i]
            own_key = akey
            if kind[i] < 102 and recent:  # ~10%: a credit of two artists
                other = recent[kind[i] * 7919 % len(recent)]
                join, join_key = (" feat. ", "feat") if kind[i] < 72 else (" & ", "")
                if akey + join_key + other[2] not in keys_seen:
                    credit, ids = f"{name}{join}{other[1]}", f'"{ids},{other[0]}"'
                    akey += join_key + other[2]
                    keys_seen.add(akey)
            recent.append((mbids[i], name, own_key))
            if self.msd_sorted:
                # Every key of this artist's rows starts with its key: only an MSD key with that prefix can collide.
                at = bisect.bisect_left(self.msd_sorted, akey)
                if at < len(self.msd_sorted) and self.msd_sorted[at].startswith(akey):
                    risky.append(i)
            if '"' in akey or "," in akey:
                akey = akey.replace('"', "").replace(",", "")
            artist_names.append(name)
            if "," in credit or '"' in credit:
                credit = pg_csv(credit)
            prefixes.append(f"{credit_ids[i]},{ids},{credit}")
            akeys.append(akey)
        del recent[:-512]

        # Releases: ~6-14 recordings each, scores rising within the artist (the rows' order).
        per = -(-counts // np.maximum(1, np.rint(counts / rng.uniform(6, 14, n_artists)).astype(np.int64)))
        n_rel = -(-counts // per)
        first_rel = np.cumsum(n_rel) - n_rel
        rel_artist = np.repeat(np.arange(n_artists), n_rel)
        rel_k = np.arange(int(n_rel.sum())) - np.repeat(first_rel, n_rel)
        rel_score = rng.integers(1, 44_000_000, n_artists)[rel_artist] + 97 * rel_k
        pos = rng.integers(0, len(names.titles), n_artists)
        album_pick = ((pos[rel_artist] + 7919 * (rel_k + 1)) % len(names.titles)).tolist()
        own_name = (rng.random(len(rel_artist)) < 0.25).tolist()
        rel_mbids = _uuid_list(rng, len(rel_artist))
        rel_fields = [f"{mbid},{pg_csv(artist_names[a] + (f' {k + 1}' if k else '')) if own else names.title_csv[t]}"
                      for mbid, a, k, own, t in zip(rel_mbids, rel_artist.tolist(), rel_k.tolist(), own_name, album_pick,
                                                     strict=True)]
        rel_scores = rel_score.tolist()
        if not self.deduplicated:
            # Before post-processing: one recording in seven also on the artist's compilation (a higher score).
            comp_artists = np.flatnonzero(counts >= 2)
            rel_mbids += _uuid_list(rng, len(comp_artists))
            rel_fields += [f"{m},{pg_csv(f'The Best of {artist_names[a]}')}" for m, a in
                           zip(rel_mbids[-len(comp_artists):], comp_artists.tolist(), strict=True)] if len(comp_artists) else []
            rel_scores += (45_000_000 + comp_artists).tolist()
            comp_release = np.full(n_artists, -1)
            comp_release[comp_artists] = len(rel_artist) + np.arange(len(comp_artists))
        self._release_redirects(self.pending_releases + rel_mbids)
        self.pending_releases = []
        # Every field of a row but its id, recording id, title and key is the release's (and its artist's):
        # made once per release, with the commas around them.
        rel_owner = rel_artist.tolist() + (comp_artists.tolist() if not self.deduplicated else [])
        rel_head = pa.array([f",{prefixes[a]},{field}," for a, field in zip(rel_owner, rel_fields, strict=True)], pa.string())
        rel_tail = pa.array([f",{score}\n" for score in rel_scores], pa.string())

        # Rows: one per recording, a window of the title pool per artist (distinct titles within it).
        starts = np.cumsum(counts) - counts
        row_artist = np.repeat(np.arange(n_artists), counts)
        j = np.arange(int(counts.sum())) - np.repeat(starts, counts)
        row_release = np.repeat(first_rel, counts) + j // np.repeat(per, counts)
        title_idx = np.repeat(pos, counts) + j
        part = np.zeros(len(j), dtype=np.int8)
        if not self.deduplicated:
            copy = (j % 7 == 3) & (comp_release[row_artist] >= 0)
            row_artist = np.concatenate([row_artist, row_artist[copy]])
            row_release = np.concatenate([row_release, comp_release[row_artist[len(j):]]])
            title_idx = np.concatenate([title_idx, title_idx[copy]])
            part = np.concatenate([part, np.ones(int(copy.sum()), dtype=np.int8)])
            j = np.concatenate([j, j[copy]])
        akey_arr = pa.array(akeys, pa.string())
        if risky:
            keep = np.ones(len(j), dtype=bool)
            title_key = names.title_key
            for row in np.flatnonzero(np.isin(row_artist, risky)).tolist():
                keep[row] = akeys[row_artist[row]] + title_key[title_idx[row]] not in self.msd_keys
            if not keep.all():  # an MSD row holds the key: that row is not written
                row_artist, row_release, title_idx, part, j = (x[keep] for x in (row_artist, row_release, title_idx, part, j))
        order = np.lexsort((j, part, row_artist))  # by artist credit, then score: the insert's ORDER BY
        row_artist, row_release, title_idx, part, j = (x[order] for x in (row_artist, row_release, title_idx, part, j))
        n = len(order)
        recs = _uuid_array(rng, n)
        if not self.deduplicated:  # a compilation row repeats its recording's id
            canonical = np.flatnonzero(part == 0)
            first_of = np.searchsorted(row_artist[canonical] * MAX_RECORDINGS + j[canonical],
                                       row_artist * MAX_RECORDINGS + j)
            recs = pc.take(recs, np.where(part == 0, np.arange(n), canonical[np.minimum(first_of, len(canonical) - 1)]))
        # Ids: SERIAL in insert order, with the gaps the deleted rows leave (~12%).
        ids = self.next_id + np.cumsum(1 + (rng.random(n) < 0.12))
        self.next_id = int(ids[-1]) if n else self.next_id
        line = pc.binary_join_element_wise(
            pa.array(ids).cast(pa.string()), pc.take(rel_head, row_release), recs, pc.take(self.title_field, title_idx),
            pc.take(akey_arr, row_artist), pc.take(self.title_key, title_idx), pc.take(rel_tail, row_release), "")
        self.data.write(_lines(line))
        # One recording in eight has a duplicate redirected to it.
        redirected = np.flatnonzero((j % 8 == 5) & (part == 0))
        if len(redirected):
            rel_mbid_arr = pa.array(rel_mbids, pa.string())
            line = pc.binary_join_element_wise(_uuid_array(rng, len(redirected)), pc.take(recs, redirected),
                                               pc.take(rel_mbid_arr, row_release[redirected]), ",")
            self.redirects.write(_lines(pc.binary_join_element_wise(line, "", "\n")))
        self.written += n
        return int((part == 0).sum())

    def _release_redirects(self, rel_mbids: list[str]) -> None:
        """Every release to itself with its release group, then the reissues (~20% of releases have one or two)
        to it."""
        import pyarrow.compute as pc

        pa, rng, n = self.pa, self.np, len(rel_mbids)
        releases, groups = pa.array(rel_mbids, pa.string()), _uuid_array(rng, n)
        extra = rng.integers(0, 256, n)
        reissued = np.concatenate([np.flatnonzero(extra < 40), np.flatnonzero(extra < 15)])
        for first, owner in ((releases, np.arange(n)), (_uuid_array(rng, len(reissued)), reissued)):
            if len(owner):
                line = pc.binary_join_element_wise(first, pc.take(releases, owner), pc.take(groups, owner), ",")
                self.releases.write(_lines(pc.binary_join_element_wise(line, "", "\n")))

    def _msd_chunk(self, artists: list[tuple]) -> None:
        """MSD artists' rows, the release fields made in Python, the lines joined by Arrow."""
        import pyarrow.compute as pc

        pa, rng = self.pa, self.np
        credit_ids = (self.credit_id + np.cumsum(1 + rng.integers(0, 3, len(artists)))).tolist()
        firsts = rng.integers(1, 44_000_000, len(artists)).tolist()
        if credit_ids:
            self.credit_id = credit_ids[-1]
        heads: list[str] = []
        tails: list[str] = []
        row_head: list[int] = []
        names: list[str] = []
        keys: list[str] = []
        release_mbids = self.uuids(sum(len(rows) for _, _, rows in artists))  # enough: a release per row at most
        for (credit_fields, _, rows), credit_id, first in zip(artists, credit_ids, firsts, strict=True):
            prefix = f",{credit_id},{credit_fields},"
            releases: dict[str, int] = {}
            for name_csv, release, key in rows:
                at = releases.get(release)
                if at is None:
                    at = releases[release] = len(heads)
                    heads.append(f"{prefix}{release_mbids[at]},{pg_csv(release)},")
                    tails.append(f",{first + 97 * (len(releases) - 1)}\n")
                row_head.append(at)
                names.append(name_csv)
                keys.append(key)
        n = len(row_head)
        if not n:
            return
        # Rows in release order within each artist, as the insert's ORDER BY (artist credit, score) has them.
        order = np.argsort(np.asarray(row_head), kind="stable")
        row_head_arr = np.asarray(row_head)[order]
        ids = np.arange(self.next_id + 1, self.next_id + 1 + n)
        self.next_id += n
        line = pc.binary_join_element_wise(
            pa.array(ids).cast(pa.string()), pc.take(pa.array(heads, pa.string()), row_head_arr), _uuid_array(rng, n),
            ",", pc.take(pa.array(names, pa.string()), order), ",", pc.take(pa.array(keys, pa.string()), order),
            pc.take(pa.array(tails, pa.string()), row_head_arr), "")
        self.data.write(_lines(line))
        self.pending_releases += release_mbids[:len(heads)]
        self.written += n


def _lines(array) -> memoryview:
    """The bytes of a string array's values, back to back (the lines end in newlines already)."""
    offsets = np.frombuffer(array.buffers()[1], dtype=np.int32, count=len(array) + 1, offset=array.offset * 4)
    return memoryview(array.buffers()[2])[int(offsets[0]):int(offsets[-1])]


# --- reading it back (tests, the CLI's summary) -------------------------------------------------

def read_dump_members(path: str) -> Iterator[tuple[str, bytes]]:
    """(member name, content) of every file in a dump (small dumps: each member is read whole)."""
    import pyarrow as pa

    with pa.OSFile(path, "rb") as raw, pa.CompressedInputStream(raw, "zstd") as stream, \
            tarfile.open(fileobj=stream, mode="r|") as tar:
        for member in tar:
            if member.isfile():
                yield member.name, tar.extractfile(member).read()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m pipeline.standins.canonical_dump", description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", required=True, help="folder to write the dump, its .md5/.sha256 and DUMP_ID.txt to")
    parser.add_argument("--msd", help="generated MSD sample root: the world's dump, or the rows mixed into a synthetic one")
    parser.add_argument("--synthetic-rows", type=int, help="write a synthetic dump of this many data rows instead")
    parser.add_argument("--seed", type=int, default=None, help=f"world seed (default {DEMO_SEED}) or synthetic seed "
                                                               f"(default {SYNTHETIC_SEED})")
    parser.add_argument("--stamp", default=DEFAULT_STAMP, help="dump time, YYYYMMDD-HHMMSS")
    parser.add_argument("--not-deduplicated", action="store_true",
                        help="the rows before ListenBrainz's post-processing (several per combined key)")
    args = parser.parse_args(argv)
    _stamp_time(args.stamp)
    started = time.monotonic()
    if args.synthetic_rows is not None:
        from pipeline.standins.spotify_catalog import load_identities

        msd_rows = load_identities(args.msd) if args.msd else []

        def report(done: int, total: int) -> None:
            if done and done % 1_000_000 < 20_000:
                print(f"  {done:,}/{total:,} rows, {done / (time.monotonic() - started):,.0f} rows/s", file=sys.stderr,
                      flush=True)

        path = write_synthetic_dump(args.out, args.synthetic_rows, msd_rows, seed=SYNTHETIC_SEED if args.seed is None
                                    else args.seed, stamp=args.stamp, deduplicated=not args.not_deduplicated,
                                    progress=report)
        rows = args.synthetic_rows
    else:
        if not args.msd:
            parser.error("--msd is needed (the world is built from the sample's identities), or --synthetic-rows N")
        from pipeline.standins.spotify_catalog import load_identities

        world = build_world(load_identities(args.msd), seed=DEMO_SEED if args.seed is None else args.seed)
        path = write_canonical_dump(world, args.out, args.stamp, deduplicated=not args.not_deduplicated)
        rows = len(world.dump_rows()) if not args.not_deduplicated else len(world.rows)
    elapsed = time.monotonic() - started
    with open(path + ".sha256", encoding="ascii") as fh:
        digest = fh.read().strip()
    speed = f" ({rows / max(elapsed, 1e-9):,.0f} rows/s)" if args.synthetic_rows is not None else ""
    print(f"{path}: {rows:,} rows in {elapsed:.1f} s{speed}, {os.path.getsize(path):,} bytes\nsha256 {digest}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
