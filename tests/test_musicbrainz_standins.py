"""The MusicBrainz stand-ins: the world, the canonical dump written from it, and the ListenBrainz sandbox over HTTP."""

from __future__ import annotations

import csv
import glob
import hashlib
import io
import json
import os
import tarfile
from datetime import date, timedelta

import pyarrow as pa
import pytest
import requests

from pipeline.msd.reader import read_msd_file
from pipeline.standins.canonical_dump import (
    DATA_HEADER,
    RECORDING_REDIRECT_HEADER,
    RELEASE_REDIRECT_HEADER,
    _key_part,
    main,
    pg_csv,
    write_canonical_dump,
    write_synthetic_dump,
)
from pipeline.standins.listenbrainz_sandbox import (
    SANDBOX_TOKEN,
    ListenBrainzSandboxServer,
    ListenBrainzState,
)
from pipeline.standins.msd_sample import REAL, SampleGenerator, generate_sample, identity_record
from pipeline.standins.musicbrainz_world import (
    DEMO_SEED,
    GENRES,
    build_world,
    combined_lookup,
    loose_key,
    write_echo_nest_profiles,
)
from pipeline.standins.spotify_catalog import load_identities

SEED = 11
DAY = date(2026, 12, 6)
AUTH = {"Authorization": f"Token {SANDBOX_TOKEN}"}
UNKNOWN = "00000000-0000-4000-8000-000000000000"


def real_identities(songs: int, seed: int) -> list[dict]:
    """What ``generate_sample(..., names="real")`` writes to sample_identities.jsonl, without the HDF5 files
    (``test_generated_sample_identities_...`` checks the two agree)."""
    gen = SampleGenerator(seed, REAL)
    tracks = gen.plan(songs, ["A/A", "A/B", "B/A"])
    records = [identity_record(t, gen.song_data(t, i, len(tracks)), REAL) for i, t in enumerate(tracks)]
    return json.loads(json.dumps(sorted(records, key=lambda r: r["track_id"])))


@pytest.fixture(scope="module")
def identities():
    return real_identities(60, SEED)


@pytest.fixture(scope="module")
def world(identities):
    return build_world(identities, seed=DEMO_SEED)


@pytest.fixture(scope="module")
def dump(world, tmp_path_factory):
    return write_canonical_dump(world, str(tmp_path_factory.mktemp("dump")))


def members(path: str) -> dict[str, bytes]:
    with pa.OSFile(path, "rb") as raw, pa.CompressedInputStream(raw, "zstd") as stream, \
            tarfile.open(fileobj=stream, mode="r|") as tar:
        return {m.name: tar.extractfile(m).read() for m in tar if m.isfile()}


def table(content: bytes) -> list[list[str]]:
    return list(csv.reader(io.StringIO(content.decode("utf-8"), newline="")))


@pytest.fixture
def lb(world):
    """``lb(**state options)``: a ListenBrainz sandbox on a free port (counts for DAY unless told); stopped after."""
    servers = []

    def start(**options):
        options.setdefault("today", lambda: DAY)
        state = ListenBrainzState(world, **options)
        server = ListenBrainzSandboxServer(state).start()
        servers.append(server)
        return server
    yield start
    for server in servers:
        server.stop()


class FakeClock:
    def __init__(self, now: float):
        self.now = now

    def __call__(self) -> float:
        return self.now


# --- the sample and the world ------------------------------------------------------------------

@pytest.mark.slow
def test_generated_sample_identities_carry_the_artist_mbid_and_build_the_same_world(tmp_path, identities, world):
    root = str(tmp_path / "msd")
    generate_sample(root, songs=60, seed=SEED, names="real")
    loaded = load_identities(root)
    assert loaded == identities
    for ident in loaded[:10]:
        path = glob.glob(os.path.join(root, "*", "*", "*", f"{ident['track_id']}.h5"))[0]
        assert read_msd_file(path, expect_single_track=True).records[0]["artist_mbid"] == (ident["artist_mbid"] or None)
    assert any(ident["artist_mbid"] for ident in loaded)
    assert build_world(loaded, seed=DEMO_SEED).truth == world.truth


def test_world_is_deterministic_and_another_seed_is_another_world(identities, world):
    again = build_world(identities, seed=DEMO_SEED)
    assert again.truth == world.truth and again.rows == world.rows and again.profiles == world.profiles
    assert build_world(identities, seed=DEMO_SEED + 1).truth != world.truth
    present = {tid: rec for tid, rec in world.truth.items() if rec}
    assert present and len(present) < len(world.truth)  # some songs MusicBrainz lacks
    assert all(rec in world.recordings for rec in present.values())


def test_merged_artists_and_recordings_live_only_as_redirects(identities, world):
    merged = [a for a in world.artists.values() if a.merged_into]
    assert merged and all(world.artists[a.merged_into].merged_into is None for a in merged)
    row_artists = {m for row in world.dump_rows() for m in row.artist_mbids}
    assert not row_artists & {a.mbid for a in merged}  # the dump carries the new ids
    for old, new in world.merged_recordings.items():
        assert world.recording(old) is None and world.canonical_recording(old) == new
        assert world.recording_popularity(old, DAY) is None
    for old, new in world.canonical_redirects.items():
        assert world.recording(old) is not None and new in world.recordings  # in MusicBrainz, not canonical
        assert world.recording_popularity(old, DAY) is None


def test_combined_lookup_is_the_references_key():
    assert combined_lookup("Björk", "Jóga") == "bjorkjoga"
    assert combined_lookup("Guns N' Roses", "Sweet Child O' Mine") == "gunsnrosessweetchildomine"
    assert combined_lookup("AC/DC", "T.N.T.") == "acdctnt"
    # Lower-cased before transliteration: a CJK name keeps unidecode's capitals and spaces.
    assert combined_lookup("坂本龍一", "") == "Ban Ben Long Yi "
    assert combined_lookup("Mötley Crüe", "Straße ½") == "motleycruestrasse 1/2"
    for artist, title in [("Sigur Rós", "Hoppípolla"), ("Ночные Огни", "Поезд"), ("Beyoncé feat. JAY-Z", "Crazy in Love")]:
        assert combined_lookup(artist, title) == _key_part(artist) + _key_part(title)


def test_musicbrainz_spells_msd_names_its_way_and_the_fuzzy_key_still_agrees(identities, world):
    present = [i for i in identities if world.truth[i["track_id"]]]
    missed = [i for i in present if combined_lookup(i["artist_name"], i["title"]) not in
              {r.combined_lookup for r in world.dump_rows()}]
    assert missed  # "(Album Version)", "featuring", "_" for commas: the exact key of MSD's names misses them
    for ident in present:
        rec = world.recordings[world.truth[ident["track_id"]]]
        assert loose_key(rec.artist_credit_name, rec.name) == loose_key(ident["artist_name"], ident["title"])
        assert "(Album Version)" not in rec.name and "featuring" not in rec.artist_credit_name.lower()


@pytest.mark.slow
def test_quirks_come_in_realistic_proportions():
    idents = real_identities(2000, 3)
    world = build_world(idents, seed=3)
    n = len(idents)
    present = [i for i in idents if world.truth[i["track_id"]]]
    assert 0.05 <= 1 - len(present) / n <= 0.12
    share = lambda pattern: sum(pattern in p for p in world.patterns.values()) / n  # noqa: E731
    assert 0.02 <= share("merged_recording") <= 0.06
    assert 0.08 <= sum(any(p.startswith("shared_key") for p in ps) for ps in world.patterns.values()) / n <= 0.2
    assert 0.28 <= len(world.profiles) / n <= 0.42
    canonical_artists = [a for a in world.artists.values() if not a.merged_into]
    assert 0.03 <= sum(1 for a in world.artists.values() if a.merged_into) / len(canonical_artists) <= 0.12
    never = sum(world.recording_popularity(m, DAY) is None for m in world.recordings) / len(world.recordings)
    assert 0.03 <= never <= 0.1
    # The lookup finds every song MusicBrainz has, and answers ~1-2% of all songs with a wrong recording.
    assert all(world.lookup(i["artist_name"], i["title"])[0].recording_mbid == world.truth[i["track_id"]] for i in present)
    wrong = [i for i in idents if not world.truth[i["track_id"]] and world.lookup(i["artist_name"], i["title"])]
    assert 0.005 <= len(wrong) / n <= 0.025
    assert sum("key_miss" in p for p in world.patterns.values()) / n >= 0.05


def test_popularity_grows_day_by_day_skewed_and_never_more_users_than_listens(world):
    recordings = list(world.recordings)
    counts = [world.recording_popularity(m, DAY) for m in recordings]
    listened = [c for c in counts if c]
    assert all(users <= listens for listens, users in listened)
    assert max(c[0] for c in listened) > 20 * sorted(c[0] for c in listened)[len(listened) // 2]  # skewed
    later = [world.recording_popularity(m, DAY + timedelta(days=30)) for m in recordings]
    assert all(b[0] >= a[0] and b[1] >= a[1] for a, b in zip(counts, later, strict=True) if a)
    assert any(b != a for a, b in zip(counts, later, strict=True) if a)
    assert world.recording_popularity(recordings[0], DAY) == build_world(world.identities, seed=DEMO_SEED) \
        .recording_popularity(recordings[0], DAY)


def test_echo_nest_profiles_name_musicbrainz_tracks(world, tmp_path):
    paths = write_echo_nest_profiles(world, str(tmp_path))
    assert len(paths) == len(world.profiles)
    by_song = {}
    for path in paths:
        with open(path, encoding="utf-8") as fh:
            doc = json.load(fh)
        assert doc["response"]["status"]["code"] == 0
        (song,) = doc["response"]["songs"]
        (track,) = song["tracks"]
        assert track["catalog"] == "musicbrainz" and track["id"].startswith("TR") and song["id"].startswith("SO")
        by_song[song["id"]] = track["foreign_id"].removeprefix("musicbrainz:track:")
    assert by_song == world.profiles
    old = set(world.merged_recordings)
    assert old & set(by_song.values()) == old & set(world.profiles.values())


# --- the canonical dump ------------------------------------------------------------------------

def test_dump_has_the_published_layout_header_and_quoting(dump, world):
    name = "musicbrainz-canonical-dump-20261201-000000"
    assert os.path.basename(dump) == f"{name}.tar.zst"
    files = members(dump)
    assert list(files) == [f"{name}/TIMESTAMP", f"{name}/COPYING", f"{name}/canonical/canonical_musicbrainz_data.csv",
                           f"{name}/canonical/canonical_recording_redirect.csv",
                           f"{name}/canonical/canonical_release_redirect.csv"]
    assert files[f"{name}/TIMESTAMP"] == b"2026-12-01 00:00:00"
    assert b"CC0" in files[f"{name}/COPYING"]
    raw = files[f"{name}/canonical/canonical_musicbrainz_data.csv"].decode()
    rows = table(raw.encode())
    assert tuple(rows[0]) == DATA_HEADER and raw.startswith(",".join(DATA_HEADER) + "\n")
    rows = rows[1:]
    assert len(rows) == len(world.dump_rows()) and all(len(r) == 10 for r in rows)
    assert [int(r[0]) for r in rows] == sorted(int(r[0]) for r in rows)
    assert len({r[8] for r in rows}) == len(rows) and len({r[6] for r in rows}) == len(rows)
    assert all(combined_lookup(r[3], r[7]) == r[8] for r in rows)
    several = [r for r in rows if "," in r[2]]
    assert several and all(f'"{r[2]}"' in raw for r in several)  # artist_mbids quoted only when there are several
    assert all(f",{r[2]}," in raw for r in rows if "," not in r[2])
    redirects = table(files[f"{name}/canonical/canonical_recording_redirect.csv"])
    assert tuple(redirects[0]) == RECORDING_REDIRECT_HEADER
    canonical = {r[6]: r[4] for r in rows}
    assert redirects[1:] and all(canonical.get(r[1]) == r[2] for r in redirects[1:])
    releases = table(files[f"{name}/canonical/canonical_release_redirect.csv"])
    assert tuple(releases[0]) == RELEASE_REDIRECT_HEADER
    assert {r[4] for r in rows} <= {r[0] for r in releases[1:]}
    assert any(r[0] != r[1] for r in releases[1:])  # reissues point at their group's canonical release


def test_dump_holds_each_msd_songs_recording_and_none_of_the_merged_ids(dump, world, identities):
    files = members(dump)
    data = next(v for k, v in files.items() if k.endswith("canonical_musicbrainz_data.csv"))
    redirects = next(v for k, v in files.items() if k.endswith("canonical_recording_redirect.csv"))
    recordings = {r[6] for r in table(data)[1:]}
    assert {world.truth[i["track_id"]] for i in identities if world.truth[i["track_id"]]} <= recordings
    redirected = {r[0] for r in table(redirects)[1:]}
    assert not set(world.merged_recordings) & (recordings | redirected)


def test_dump_bytes_are_the_same_every_time_and_hashes_sit_beside_them(world, tmp_path):
    one = write_canonical_dump(world, str(tmp_path / "one"))
    two = write_canonical_dump(world, str(tmp_path / "two"))
    with open(one, "rb") as a, open(two, "rb") as b:
        content = a.read()
        assert content == b.read()
    with open(one + ".sha256", encoding="ascii") as fh:
        assert fh.read() == hashlib.sha256(content).hexdigest()  # as write_hashes: the digest alone
    with open(one + ".md5", encoding="ascii") as fh:
        assert fh.read() == hashlib.md5(content).hexdigest()
    with open(os.path.join(tmp_path, "one", "DUMP_ID.txt"), encoding="ascii") as fh:
        assert fh.read() == "20261201-000000 0 mbcanonical\n"
    other = write_canonical_dump(world, str(tmp_path / "three"), stamp="20261215-030000")
    assert os.path.basename(other) == "musicbrainz-canonical-dump-20261215-030000.tar.zst"
    assert not glob.glob(str(tmp_path / "*" / ".*building"))


def test_dump_before_post_processing_repeats_combined_keys(world, tmp_path):
    path = write_canonical_dump(world, str(tmp_path), deduplicated=False)
    rows = table(next(v for k, v in members(path).items() if k.endswith("canonical_musicbrainz_data.csv")))[1:]
    keys = [r[8] for r in rows]
    assert len(rows) == len(world.rows) > len(set(keys))


def test_pg_csv_quotes_as_postgresql_copy_does():
    assert pg_csv("plain") == "plain"
    assert pg_csv("a, b") == '"a, b"'
    assert pg_csv('The "Red" Song') == '"The ""Red"" Song"'
    assert pg_csv("two\nlines") == '"two\nlines"'
    assert pg_csv("") == '""'  # an unquoted empty value would be NULL
    assert pg_csv(42) == "42"


def test_dump_command_line_writes_the_worlds_dump(tmp_path, identities, capsys):
    extra = tmp_path / "msd" / "AdditionalFiles"
    extra.mkdir(parents=True)
    (extra / "sample_identities.jsonl").write_text("".join(json.dumps(i) + "\n" for i in identities), encoding="utf-8")
    assert main(["--msd", str(tmp_path / "msd"), "--out", str(tmp_path / "out")]) == 0
    out = capsys.readouterr().out
    path = str(tmp_path / "out" / "musicbrainz-canonical-dump-20261201-000000.tar.zst")
    with open(path + ".sha256", encoding="ascii") as fh:
        assert f"sha256 {fh.read()}" in out


@pytest.mark.slow
def test_synthetic_dump_mixes_in_the_msd_rows_with_unique_keys(tmp_path, identities):
    path = write_synthetic_dump(str(tmp_path), 20_000, identities, seed=5)
    files = members(path)
    rows = table(next(v for k, v in files.items() if k.endswith("canonical_musicbrainz_data.csv")))
    assert tuple(rows[0]) == DATA_HEADER
    rows = rows[1:]
    assert len(rows) == 20_000
    assert all(combined_lookup(r[3], r[7]) == r[8] for r in rows)
    assert len({r[8] for r in rows}) == len(rows) and len({r[6] for r in rows}) == len(rows)
    assert [int(r[0]) for r in rows] == sorted(int(r[0]) for r in rows)
    assert [int(r[1]) for r in rows] == sorted(int(r[1]) for r in rows)  # the insert's order: artist credit first
    assert sum(not (r[3] + r[7]).isascii() for r in rows) / len(rows) > 0.05
    assert sum("," in r[2] for r in rows) / len(rows) > 0.03
    world = build_world(identities, seed=DEMO_SEED)
    keys = {r[8] for r in rows}
    msd_keys = {combined_lookup(rec.artist_credit_name, rec.name)
                for rec in (world.recordings[t] for t in world.truth.values() if t)}
    assert len(msd_keys & keys) >= 0.9 * len(msd_keys)  # spelled as the world spells them (a few respellings aside)
    redirects = table(next(v for k, v in files.items() if k.endswith("canonical_recording_redirect.csv")))[1:]
    assert redirects and {r[1] for r in redirects} <= {r[6] for r in rows}
    again = write_synthetic_dump(str(tmp_path / "again"), 20_000, identities, seed=5)
    with open(path, "rb") as a, open(again, "rb") as b:
        assert a.read() == b.read()


# --- the ListenBrainz sandbox ------------------------------------------------------------------

def test_popularity_answers_in_input_order_with_nulls_and_moves_from_day_to_day(lb, world):
    day = [DAY]
    server = lb(today=lambda: day[0])
    listened = [m for m in world.recordings if world.recording_popularity(m, DAY)]
    merged = next(iter(world.merged_recordings))
    asked = [listened[2], UNKNOWN, listened[0].upper(), merged, listened[1]]
    response = requests.post(f"{server.url}/1/popularity/recording", json={"recording_mbids": asked}, timeout=5)
    assert response.status_code == 200
    body = response.json()
    assert [item["recording_mbid"] for item in body] == asked  # echoed as sent
    assert set(body[0]) == {"recording_mbid", "total_listen_count", "total_user_count"}
    assert body[1]["total_listen_count"] is None and body[1]["total_user_count"] is None
    assert body[3]["total_listen_count"] is None  # counts are keyed by canonical ids
    assert (body[2]["total_listen_count"], body[2]["total_user_count"]) == world.recording_popularity(listened[0], DAY)
    day[0] = DAY + timedelta(days=60)
    later = requests.post(f"{server.url}/1/popularity/recording", json={"recording_mbids": asked}, timeout=5).json()
    moved = [(a["total_listen_count"], b["total_listen_count"]) for a, b in zip(body, later, strict=True)
             if a["total_listen_count"] is not None]
    assert all(b >= a for a, b in moved) and any(b > a for a, b in moved)
    artist = world.recordings[listened[0]].artist_mbids[0]
    old_artist = next(a.mbid for a in world.artists.values() if a.merged_into)
    artists = requests.post(f"{server.url}/1/popularity/artist", json={"artist_mbids": [artist, old_artist]},
                            timeout=5).json()
    assert [a["artist_mbid"] for a in artists] == [artist, old_artist]
    assert artists[0]["total_listen_count"] >= later[2]["total_listen_count"]
    assert artists[1]["total_listen_count"] is None
    assert server.state.stats()["requests"] == {"popularity_recording": 2, "popularity_artist": 1}


def test_bad_requests_are_refused_with_400_naming_the_problem(lb, world):
    server = lb()
    url = f"{server.url}/1/popularity/recording"
    good = next(iter(world.recordings))
    bad = requests.post(url, json={"recording_mbids": [good, "not-a-uuid"]}, timeout=5)
    assert bad.status_code == 400 and bad.json() == {"code": 400, "error": "recording_mbid not-a-uuid is not valid."}
    assert requests.post(url, json={"recording_mbids": []}, timeout=5).json()["error"] == \
        "At least one valid recording_mbid must be present."
    many = requests.post(url, json={"recording_mbids": [good] * 1001}, timeout=5)
    assert many.status_code == 400 and "1000" in many.json()["error"]
    assert requests.post(url, json={"mbids": [good]}, timeout=5).json()["error"] == \
        "recording_mbids JSON element must be present and contain a list of recording_mbids"
    broken = requests.post(url, data=b'{"recording_mbids": [', headers={"Content-Type": "application/json"}, timeout=5)
    assert broken.status_code == 400 and broken.json()["error"].startswith("Failed to decode JSON object")
    meta = requests.post(f"{server.url}/1/metadata/recording/", json={"recording_mbids": ["x"]}, timeout=5)
    assert meta.json() == {"code": 400, "error": "recording_mbid x is not valid."}
    lookup = requests.post(f"{server.url}/1/metadata/lookup/", headers=AUTH, timeout=5,
                           json={"recordings": [{"artist_name": "A", "recording_name": "B"}] * 51})
    assert lookup.status_code == 400 and "(50)" in lookup.json()["error"]
    assert server.state.stats()["rejected_400"] == 7
    assert all(k in bad.headers for k in ("X-RateLimit-Limit", "X-RateLimit-Remaining", "X-RateLimit-Reset-In",
                                          "X-RateLimit-Reset"))


def test_lookup_needs_a_known_token_and_popularity_can_be_made_to(lb, world):
    server = lb()
    body = {"recordings": [{"artist_name": "A", "recording_name": "B"}]}
    url = f"{server.url}/1/metadata/lookup/"
    missing = requests.post(url, json=body, timeout=5)
    assert missing.status_code == 401 and missing.json() == {"code": 401, "error": "You need to provide an Authorization header."}
    unknown = requests.post(url, json=body, headers={"Authorization": "Token wrong"}, timeout=5)
    assert unknown.status_code == 401 and unknown.json()["error"] == "Invalid authorization token."
    assert requests.post(url, json=body, headers=AUTH, timeout=5).status_code == 200
    assert server.state.stats()["rejected_401"] == 2
    strict = lb(popularity_needs_token=True)
    ids = {"recording_mbids": [next(iter(world.recordings))]}
    refused = requests.post(f"{strict.url}/1/popularity/recording", json=ids, timeout=5)
    assert refused.status_code == 401 and "Auth token" in refused.json()["error"]
    assert requests.post(f"{strict.url}/1/popularity/recording", json=ids, headers=AUTH, timeout=5).status_code == 200


def test_rate_limit_per_address_and_per_token_with_reset_headers(lb, world):
    clock = FakeClock(1_800_000_003.0)
    server = lb(rate_limit=(3, 10.0), token_rate_limit=(5, 10.0), clock=clock)
    url = f"{server.url}/1/popularity/recording"
    ids = {"recording_mbids": [next(iter(world.recordings))]}
    answers = [requests.post(url, json=ids, timeout=5) for _ in range(4)]
    assert [a.status_code for a in answers] == [200, 200, 200, 429]
    assert [a.headers["X-RateLimit-Remaining"] for a in answers] == ["2", "1", "0", "0"]
    refused = answers[-1]
    assert refused.headers["X-RateLimit-Limit"] == "3" and refused.headers["X-RateLimit-Reset"] == "1800000010"
    assert refused.headers["X-RateLimit-Reset-In"] == "7"
    assert refused.json()["code"] == 429 and "X-RateLimit" in refused.json()["error"]
    # A token has a bucket (and a limit) of its own.
    with_token = requests.post(url, json=ids, headers=AUTH, timeout=5)
    assert with_token.status_code == 200 and with_token.headers["X-RateLimit-Limit"] == "5"
    clock.now += 7  # the next window
    assert requests.post(url, json=ids, timeout=5).status_code == 200
    assert server.state.stats()["rejected_429"] == 1


def test_injected_failures_answer_then_clear(lb, world):
    server = lb()
    server.state.fail_next("popularity_recording", 429)
    server.state.fail_next("popularity_recording", 503)
    url = f"{server.url}/1/popularity/recording"
    ids = {"recording_mbids": [next(iter(world.recordings))]}
    first = requests.post(url, json=ids, timeout=5)
    assert first.status_code == 429 and int(first.headers["X-RateLimit-Reset-In"]) >= 0
    assert requests.post(url, json=ids, timeout=5).status_code == 503
    assert requests.post(url, json=ids, timeout=5).status_code == 200
    assert requests.get(f"{server.url}/sandbox/stats", timeout=5).json()["injected_5xx"] == 1
    with pytest.raises(ValueError):
        server.state.fail_next("nowhere", 500)


def test_metadata_answers_known_recordings_by_mbid_and_leaves_out_the_rest(lb, world):
    server = lb()
    rec = next(r for r in world.recordings.values() if len(r.artist_mbids) == 1 and r.length_ms)
    duplicate = next(iter(world.duplicates))
    asked = [rec.mbid.upper(), UNKNOWN, next(iter(world.merged_recordings)), duplicate]
    # Without the trailing slash: Flask redirects (308), the client follows with the same POST.
    response = requests.post(f"{server.url}/1/metadata/recording", json={"recording_mbids": asked,
                                                                          "inc": "artist release tag"}, timeout=5)
    assert response.status_code == 200 and response.history[0].status_code == 308
    body = response.json()
    assert set(body) == {rec.mbid, duplicate}  # merged-away and unknown ids are left out
    data = body[rec.mbid]
    assert data["recording"]["name"] == rec.name and data["recording"]["length"] == rec.length_ms
    assert data["artist"]["name"] == rec.artist_credit_name
    assert [a["artist_mbid"] for a in data["artist"]["artists"]] == rec.artist_mbids
    assert data["release"]["mbid"] == rec.release_mbid and data["release"]["name"] == rec.release_name
    assert set(data["tag"]) == {"recording", "artist", "release_group"}
    bare = requests.post(f"{server.url}/1/metadata/recording/", json={"recording_mbids": [rec.mbid]}, timeout=5).json()
    assert set(bare[rec.mbid]) == {"recording"}
    bad_inc = requests.post(f"{server.url}/1/metadata/recording/", json={"recording_mbids": [rec.mbid], "inc": "genre"},
                            timeout=5)
    assert bad_inc.status_code == 400 and "'genre'" in bad_inc.json()["error"]


def test_lookup_finds_every_song_musicbrainz_has_and_echoes_the_rest(lb, world, identities):
    server = lb()
    items = [{"artist_name": i["artist_name"], "recording_name": i["title"]} for i in identities]
    answers = []
    for start in range(0, len(items), 50):
        response = requests.post(f"{server.url}/1/metadata/lookup/", json={"recordings": items[start:start + 50]},
                                 headers=AUTH, timeout=5)
        assert response.status_code == 200
        answers += response.json()
    assert [a["index"] for a in answers] == list(range(50)) + list(range(len(items) - 50))
    for ident, answer in zip(identities, answers, strict=True):
        assert answer["artist_name_arg"] == ident["artist_name"] and answer["release_name_arg"] is None
        truth = world.truth[ident["track_id"]]
        if truth:
            assert answer["recording_mbid"] == truth
            rec = world.recordings[truth]
            assert answer["artist_mbids"] == rec.artist_mbids and answer["release_mbid"] == rec.release_mbid
        elif "recording_mbid" in answer:  # a confident wrong answer: a same-named take of another length
            length = (world.recording(answer["recording_mbid"]).length_ms or 0) / 1000
            assert abs(length - ident["duration"]) > 10
        else:
            assert set(answer) == {"artist_name_arg", "recording_name_arg", "release_name_arg", "index"}
    exact = lb(fuzzy_lookup=False)
    missed = [i for i in identities if world.truth[i["track_id"]] and "key_miss" in world.patterns[i["track_id"]]]
    assert missed
    items = [{"artist_name": i["artist_name"], "recording_name": i["title"]} for i in missed]
    found = requests.post(f"{exact.url}/1/metadata/lookup/", json={"recordings": items}, headers=AUTH, timeout=5).json()
    assert not any("recording_mbid" in a for a in found)  # the exact stages alone miss them


def test_lookup_with_a_release_and_the_get_form(lb, world, identities):
    server = lb()
    ident = next(i for i in identities if world.truth[i["track_id"]] and "plain" in world.patterns[i["track_id"]])
    rec = world.recordings[world.truth[ident["track_id"]]]
    item = {"artist_name": rec.artist_credit_name, "recording_name": rec.name, "release_name": rec.release_name}
    answer = requests.post(f"{server.url}/1/metadata/lookup/", json={"recordings": [item]}, headers=AUTH, timeout=5).json()
    assert answer[0]["recording_mbid"] == rec.mbid and answer[0]["release_name_arg"] == rec.release_name
    one = requests.get(f"{server.url}/1/metadata/lookup/", headers=AUTH, timeout=5,
                       params={"artist_name": rec.artist_credit_name, "recording_name": rec.name}).json()
    assert one["recording_mbid"] == rec.mbid and set(one) == {"recording_mbid", "release_mbid", "artist_mbids",
                                                               "recording_name", "release_name", "artist_credit_name"}
    nothing = requests.get(f"{server.url}/1/metadata/lookup/", headers=AUTH, timeout=5,
                           params={"artist_name": "Nobody At All", "recording_name": "No Such Song"})
    assert nothing.status_code == 200 and nothing.json() == {}


@pytest.mark.slow
def test_years_are_known_for_most_songs_msd_has_none_for_never_after_2011_and_tags_have_votes():
    import re

    idents = real_identities(2000, 3)
    world = build_world(idents, seed=3)
    songs = [(i.get("year"), world.recordings[world.truth[i["track_id"]]]) for i in idents if world.truth[i["track_id"]]]
    yearless = [rec for year, rec in songs if not year]
    assert 0.15 <= len(yearless) / len(songs) <= 0.3  # the sample's MSD year 0, as in real files
    assert 0.75 <= sum(1 for rec in yearless if rec.first_release_year) / len(yearless) <= 0.95  # some have none
    for year, rec in songs:
        release = world.releases[rec.release_mbid]
        if rec.first_release_date:  # served only whole, and then its year is the first release year
            assert re.fullmatch(r"\d{4}-\d{2}-\d{2}", rec.first_release_date)
            assert int(rec.first_release_date[:4]) == rec.first_release_year
        if rec.first_release_year:
            assert rec.first_release_year <= 2010 and (not year or rec.first_release_year <= year)
        if release.year and rec.first_release_year:
            assert rec.first_release_year <= release.year  # the recording is on it
        if year:
            assert release.year == year  # MSD's year came from MusicBrainz's release
    dated = [rec for _, rec in songs if rec.first_release_year]
    assert 0.15 <= sum(1 for rec in dated if not rec.first_release_date) / len(dated) <= 0.35  # a partial date
    assert 0.03 <= sum(1 for y, rec in songs if y and rec.first_release_year != y) / len(songs) <= 0.15  # earlier
    untagged = sum(1 for _, rec in songs if not rec.tags) / len(songs)
    assert 0.2 <= untagged <= 0.5
    tags = [t for _, rec in songs for t in rec.tags] + [t for ts in world.artist_tags.values() for t in ts]
    assert all(count >= 1 for _, count in tags) and max(c for _, c in tags) > 10
    assert {t for t, _ in tags} - set(GENRES)  # free tags beside the genres


def test_metadata_serves_the_whole_first_release_date_the_release_year_and_tags_with_genre_ids(lb, world):
    server = lb()
    partial = next(r for r in world.recordings.values() if r.first_release_year and not r.first_release_date)
    whole = next(r for r in world.recordings.values() if r.first_release_date and world.artist_tags.get(r.artist_mbids[0]))
    body = requests.post(f"{server.url}/1/metadata/recording/", timeout=5, json={
        "recording_mbids": [partial.mbid, whole.mbid], "inc": "artist release tag"}).json()
    assert "first_release_date" not in body[partial.mbid]["recording"]  # only a whole date is served
    assert body[whole.mbid]["recording"]["first_release_date"] == whole.first_release_date
    release = world.releases[whole.release_mbid]
    assert body[whole.mbid]["release"].get("year") == release.year
    tags = body[whole.mbid]["tag"]
    assert [(t["tag"], t["count"]) for t in tags["artist"]] == world.artist_tags[whole.artist_mbids[0]]
    assert all(t["artist_mbid"] == whole.artist_mbids[0] for t in tags["artist"])
    assert [(t["tag"], t["count"]) for t in tags["recording"]] == whole.tags
    assert [(t["tag"], t["count"]) for t in tags["release_group"]] == world.release_group_tags[release.release_group_mbid]
    for t in tags["recording"] + tags["artist"] + tags["release_group"]:
        assert ("genre_mbid" in t) == (t["tag"] in GENRES)  # a free tag ("seen live") is no genre
