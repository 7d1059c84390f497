"""make download-msd-subset: resumed after a cut transfer, verified, unpacked once, never overwritten."""

from __future__ import annotations

import hashlib
import os
import shutil
import tarfile
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from pipeline.msd.download import DONE_MARKER, DownloadError, download_subset
from pipeline.partitions import discover_partitions
from pipeline.standins.loopback import POLL_INTERVAL_S  # shutdown() waits up to one poll


@pytest.fixture
def archive(sample_root, tmp_path) -> bytes:
    """A small MillionSongSubset-shaped archive: MillionSongSubset/data/A/… and AdditionalFiles/."""
    tree = tmp_path / "build" / "MillionSongSubset"
    shutil.copytree(os.path.join(sample_root, "A"), tree / "data" / "A")
    shutil.copytree(os.path.join(sample_root, "AdditionalFiles"), tree / "AdditionalFiles")
    path = tmp_path / "subset.tar.gz"
    with tarfile.open(path, "w:gz") as tar:
        tar.add(tree, arcname="MillionSongSubset")
    return path.read_bytes()


@pytest.fixture
def server(archive):
    """Serves the archive with Range support; the first full request is cut off halfway."""
    state = {"requests": [], "cut_first": True}

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args):
            pass

        def do_GET(self):  # noqa: N802
            start = 0
            if self.headers.get("Range"):
                start = int(self.headers["Range"].removeprefix("bytes=").split("-")[0])
            state["requests"].append(start)
            body = archive[start:]
            if start:
                self.send_response(206)
                self.send_header("Content-Range", f"bytes {start}-{len(archive) - 1}/{len(archive)}")
            else:
                self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            if state["cut_first"] and not start:
                state["cut_first"] = False
                self.wfile.write(body[: len(body) // 2])
                self.wfile.flush()
                self.connection.shutdown(2)  # the transfer dies halfway
                return
            self.wfile.write(body)

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=httpd.serve_forever, args=(POLL_INTERVAL_S,), daemon=True).start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}/millionsongsubset_full.tar.gz", state
    httpd.shutdown()


def test_an_interrupted_download_resumes_verifies_and_unpacks(server, archive, tmp_path):
    url, state = server
    dest = tmp_path / "data"
    with pytest.raises(DownloadError, match=r"of \d+ bytes received; run again to resume"):
        download_subset(url, str(dest))
    partial = dest / "millionsongsubset_full.tar.gz.part"
    kept = partial.stat().st_size
    assert 0 < kept < len(archive)
    root = download_subset(url, str(dest), size=len(archive), sha256=hashlib.sha256(archive).hexdigest())
    assert state["requests"] == [0, kept]  # the second request asked only for the missing bytes
    assert root == str(dest / "MillionSongSubset" / "data")
    assert discover_partitions(root) == ["A/A", "A/B"]
    assert not partial.exists() and not (dest / "millionsongsubset_full.tar.gz").exists()
    with pytest.raises(DownloadError, match="already downloaded into .* remove .*" + DONE_MARKER):
        download_subset(url, str(dest))


def test_a_wrong_checksum_is_refused_and_the_file_dropped(server, archive, tmp_path):
    url, state = server
    state["cut_first"] = False
    dest = tmp_path / "data"
    with pytest.raises(DownloadError, match="SHA-256 .* is not the expected"):
        download_subset(url, str(dest), sha256="0" * 64)
    assert not any(dest.iterdir())
    assert not (dest / DONE_MARKER).exists()


def test_the_downloaded_subset_becomes_the_default_msd_root(server, tmp_path, monkeypatch):
    from pipeline.config import downloaded_subset_root

    url, state = server
    state["cut_first"] = False
    monkeypatch.chdir(tmp_path)
    assert downloaded_subset_root() is None
    root = download_subset(url, "data")
    assert downloaded_subset_root() == root == os.path.join("data", "MillionSongSubset", "data")
