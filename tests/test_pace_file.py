"""The Deezer pace file: in a folder only the user can write, never through a symbolic link, the user's own,
and junk in it replaced rather than obeyed."""

from __future__ import annotations

import os
import stat

import pytest

from pipeline.private_files import PrivateFileError
from pipeline.sources.deezer.client import HostPacer, default_pace_file
from tests.conftest import FakeClock


def pacer(path, limit=3, clock=None) -> HostPacer:
    clock = clock or FakeClock()
    return HostPacer(str(path) if path else None, limit=limit, window_s=1.0, clock=clock.monotonic, sleep=clock.sleep)


def mode(path) -> int:
    return stat.S_IMODE(os.lstat(path).st_mode)


@pytest.fixture
def loose_umask():
    """A umask that takes no bit away: what the pipeline creates has the mode it asks for, not a lucky one."""
    old = os.umask(0)
    yield
    os.umask(old)


def test_the_default_pace_file_is_beside_a_local_staging_root_in_a_folder_only_the_user_can_write(
        luigi_config, tmp_path, loose_umask):
    luigi_config.set("staging", root=tmp_path / "data" / "staging")
    path = default_pace_file()
    assert os.path.dirname(path) == str(tmp_path / "data" / ".private")
    assert mode(tmp_path / "data" / ".private") == 0o700
    pacer(None).acquire()
    assert mode(path) == 0o600 and os.lstat(path).st_uid == os.getuid()


def test_with_staging_on_s3_the_pace_file_is_in_the_runtime_folder_else_a_private_temporary_one(
        luigi_config, tmp_path, monkeypatch, loose_umask):
    luigi_config.set("staging", root="s3://bucket/staging")
    runtime = tmp_path / "run-user"
    runtime.mkdir(mode=0o700)
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(runtime))
    assert default_pace_file() == str(runtime / "music-etl" / "deezer-pace")
    assert mode(runtime / "music-etl") == 0o700
    monkeypatch.delenv("XDG_RUNTIME_DIR")
    monkeypatch.setattr("tempfile.tempdir", str(tmp_path / "tmp"))
    (tmp_path / "tmp").mkdir(mode=0o1777)
    folder = tmp_path / "tmp" / f"music-etl-{os.getuid()}"
    assert default_pace_file() == str(folder / "deezer-pace")
    assert mode(folder) == 0o700


def test_a_private_folder_others_may_write_is_closed_again(luigi_config, tmp_path, loose_umask):
    luigi_config.set("staging", root=tmp_path / "data" / "staging")
    folder = tmp_path / "data" / ".private"
    folder.mkdir(parents=True, mode=0o777)
    default_pace_file()
    assert mode(folder) == 0o700


def test_a_private_folder_that_is_a_symbolic_link_is_refused(luigi_config, tmp_path):
    luigi_config.set("staging", root=tmp_path / "data" / "staging")
    elsewhere = tmp_path / "theirs"
    elsewhere.mkdir()
    (tmp_path / "data").mkdir()
    os.symlink(elsewhere, tmp_path / "data" / ".private")
    with pytest.raises(PrivateFileError) as refused:
        pacer(None).acquire()
    message = str(refused.value)
    assert str(tmp_path / "data" / ".private") in message and "symbolic link" in message
    assert "MUSIC_ETL_DEEZER_PACE_FILE" in message and "\n" not in message
    assert os.listdir(elsewhere) == []


def test_a_pace_file_that_is_a_symbolic_link_is_refused_and_not_followed(tmp_path):
    target = tmp_path / "their-file"
    target.write_text("theirs")
    link = tmp_path / "deezer-pace"
    os.symlink(target, link)
    with pytest.raises(PrivateFileError) as refused:
        pacer(link).acquire()
    message = str(refused.value)
    assert f"{link} is a symbolic link" in message and f"rm {link}" in message and "\n" not in message
    assert target.read_text() == "theirs"  # nothing written through the link


def test_a_pace_file_of_another_user_is_refused(tmp_path, monkeypatch):
    path = tmp_path / "deezer-pace"
    path.write_text("")
    real = os.getuid()
    monkeypatch.setattr(os, "getuid", lambda: real + 1)  # the file is now someone else's
    with pytest.raises(PrivateFileError) as refused:
        pacer(path).acquire()
    assert f"{path} belongs to user id {real}" in str(refused.value) and "pace_file" in str(refused.value)
    assert path.read_text() == ""


def test_a_private_folder_of_another_user_is_refused(luigi_config, tmp_path, monkeypatch):
    luigi_config.set("staging", root=tmp_path / "data" / "staging")
    (tmp_path / "data" / ".private").mkdir(parents=True, mode=0o700)
    real = os.getuid()
    monkeypatch.setattr(os, "getuid", lambda: real + 1)
    with pytest.raises(PrivateFileError, match=f"belongs to user id {real}"):
        pacer(None).acquire()


def test_a_pace_file_others_may_write_is_closed_to_them(tmp_path):
    path = tmp_path / "deezer-pace"
    path.write_text("")
    path.chmod(0o666)
    pacer(path).acquire()
    assert mode(path) == 0o600


@pytest.mark.parametrize("junk", [b"not a send time", b"\xff\xfe\x00", b"nan inf", b"1 2 three"])
def test_junk_in_the_pace_file_is_replaced_not_obeyed(tmp_path, junk):
    path = tmp_path / "deezer-pace"
    path.write_bytes(junk)
    clock = FakeClock()
    clock.now = 100.0
    pacer(path, clock=clock).acquire()
    assert clock.slept == []
    assert [float(t) for t in path.read_text().split()] == [clock.now]


def test_send_times_ahead_of_the_clock_do_not_hold_requests_back(tmp_path):
    # Obeyed, a full window of times far ahead would make every process wait until then.
    path = tmp_path / "deezer-pace"
    path.write_text(" ".join(["99999999.0"] * 3))
    clock = FakeClock()
    clock.now = 100.0
    paced = pacer(path, limit=3, clock=clock)
    paced.acquire()
    assert clock.slept == [] and [float(t) for t in path.read_text().split()] == [100.0]


def test_the_pace_file_still_paces(tmp_path):
    clock = FakeClock()
    paced = pacer(tmp_path / "deezer-pace", limit=3, clock=clock)
    for _ in range(7):
        paced.acquire()
    # Seven sends at three per window: the fourth and the seventh each waited one window.
    assert len(clock.slept) == 2 and all(s == pytest.approx(paced.window_s) for s in clock.slept)
