"""Download the MSD subset archive: resumable, verified, unpacked once.

    python -m pipeline.msd.download --url URL --dest data [--size BYTES] [--sha256 HEX]

* An interrupted download resumes where it stopped (HTTP Range on ``<archive>.part``); a
  server that ignores ranges makes it start again rather than append the wrong bytes.
* The size (``--size``, or what the server announced) and, when given, the SHA-256 are
  checked before the archive is kept; a mismatch removes it and says so.
* The archive is unpacked with tarfile's ``data`` filter (no absolute paths, no links out of
  the folder); the folder that holds ``A/``, ``B/``, … is recorded in ``<dest>/.msd-download.json``,
  and with the default ``--dest data`` ``[msd] root`` points at it from then on (unless
  ``MUSIC_ETL_MSD_ROOT`` is exported). ``data/`` inside ``MillionSongSubset`` is found either way.
* A finished download is never overwritten: remove ``<dest>/.msd-download.json`` (and the
  unpacked folder) to download again.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import sys
import tarfile
import urllib.error
import urllib.request

from pipeline.errors import TerminalError
from pipeline.partitions import discover_partitions, resolve_msd_root

DONE_MARKER = ".msd-download.json"
CHUNK = 1 << 20


class DownloadError(TerminalError):
    pass


def _archive_name(url: str) -> str:
    name = os.path.basename(url.split("?", 1)[0]) or "msd-subset.tar.gz"
    return name


def fetch(url: str, archive: str, size: int | None = None, sha256: str | None = None, timeout: float = 60) -> str:
    """Download ``url`` to ``archive``, resuming ``archive + '.part'``; returns the archive path."""
    partial = archive + ".part"
    have = os.path.getsize(partial) if os.path.exists(partial) else 0
    request = urllib.request.Request(url, headers={"Range": f"bytes={have}-"} if have else {})
    try:
        response = urllib.request.urlopen(request, timeout=timeout)
    except urllib.error.HTTPError as exc:
        if exc.code == 416 and size and have == size:  # already complete
            response = None
        else:
            raise DownloadError(f"downloading {url}: HTTP {exc.code} {exc.reason}; check the URL "
                                f"(MUSIC_ETL_MSD_SUBSET_URL) and try again: {have} bytes already kept") from None
    except OSError as exc:
        raise DownloadError(f"downloading {url}: {exc}; run again to resume ({have} bytes kept in {partial})") from None
    if response is not None:
        with response:
            if have and response.status != 206:
                have = 0  # the server ignored the range: start over
            total = _announced_total(response, have)
            with open(partial, "ab" if have else "wb") as out:
                while True:
                    block = response.read(CHUNK)
                    if not block:
                        break
                    out.write(block)
        size = size or total
    got = os.path.getsize(partial)
    if size is not None and got != size:
        raise DownloadError(f"{url}: {got} of {size} bytes received; run again to resume from {partial}")
    if sha256:
        digest = hashlib.sha256()
        with open(partial, "rb") as fh:
            for block in iter(lambda: fh.read(CHUNK), b""):
                digest.update(block)
        if digest.hexdigest() != sha256.lower():
            os.remove(partial)
            raise DownloadError(f"{url}: SHA-256 {digest.hexdigest()} is not the expected {sha256}; "
                                f"the partial file was removed, run again to download afresh")
    os.replace(partial, archive)
    return archive


def _announced_total(response, have: int) -> int | None:
    content_range = response.headers.get("Content-Range")  # bytes 100-199/200
    if content_range and "/" in content_range and not content_range.endswith("/*"):
        return int(content_range.rsplit("/", 1)[1])
    length = response.headers.get("Content-Length")
    return have + int(length) if length else None


def download_subset(url: str, dest: str, size: int | None = None, sha256: str | None = None) -> str:
    """Fetch, verify and unpack; returns the MSD root to configure."""
    marker = os.path.join(dest, DONE_MARKER)
    if os.path.exists(marker):
        with open(marker) as fh:
            done = json.load(fh)
        raise DownloadError(f"the MSD subset is already downloaded into {dest} (root {done['msd_root']}); "
                            f"remove {marker} and the unpacked folder to download it again")
    os.makedirs(dest, exist_ok=True)
    archive = fetch(url, os.path.join(dest, _archive_name(url)), size, sha256)
    with tarfile.open(archive) as tar:
        top = sorted({m.name.split("/", 1)[0] for m in tar.getmembers() if m.name.strip("/")})
        tar.extractall(dest, filter="data")
    candidates = [os.path.join(dest, t) for t in top if os.path.isdir(os.path.join(dest, t))] or [dest]
    root = next((resolve_msd_root(c) for c in candidates if discover_partitions(c)), None)
    if root is None:
        raise DownloadError(f"{archive} unpacked into {dest}, but no A/B/C/… partition folders were found in it")
    with open(marker, "w") as fh:
        json.dump({"url": url, "archive": archive, "msd_root": root, "partitions": len(discover_partitions(root))}, fh)
    os.remove(archive)  # unpacked and verified: the 1.8 GB archive is not needed twice
    return root


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m pipeline.msd.download", description=__doc__.split("\n\n")[0])
    parser.add_argument("--url", default=None, help="default: [msd] subset_url (MUSIC_ETL_MSD_SUBSET_URL)")
    parser.add_argument("--dest", default="data")
    parser.add_argument("--size", type=int, default=None, help="expected archive size in bytes")
    parser.add_argument("--sha256", default=None, help="expected SHA-256 of the archive")
    args = parser.parse_args(argv)
    from pipeline import config

    url = args.url or config.msd().subset_url
    try:
        root = download_subset(url, args.dest, args.size, args.sha256)
    except DownloadError as exc:
        print(exc, file=sys.stderr)
        return 1
    print(f"MSD subset ready: {len(discover_partitions(root))} partitions under {root}\n"
          f"[msd] root now defaults to it when run from this folder (an exported MUSIC_ETL_MSD_ROOT still wins).")
    return 0


if __name__ == "__main__":
    sys.exit(main())
