"""The MusicBrainz identity and ListenBrainz popularity sources against their stand-ins: the canonical dump in its
published layout (read once per version, refused with another digest), Echo Nest profiles, a ListenBrainz sandbox
(popularity and metadata endpoints, rate-limit headers, 429s, 400s, 401s), then the daily refresh."""

from __future__ import annotations

import math
import os
from collections import Counter
from datetime import UTC, datetime, timedelta

import luigi
import pytest

from pipeline.matching.decide import AMBIGUOUS, MATCHED
from pipeline.sources.musicbrainz import dump as canonical_dump
from pipeline.sources.musicbrainz.resolve import MsdSong, choose, combined_lookup, lookup_keys
from pipeline.standins.canonical_dump import write_canonical_dump
from pipeline.standins.listenbrainz_sandbox import SANDBOX_TOKEN, ListenBrainzSandboxServer, ListenBrainzState
from pipeline.standins.musicbrainz_world import build_world, write_echo_nest_profiles
from pipeline.standins.spotify_catalog import load_identities
from pipeline.tasks import DailyRefresh, RunAll
from tests.conftest import fresh_process_view, query, run_luigi

DAY = datetime.now(UTC).date() - timedelta(days=10)
DAY2 = DAY + timedelta(days=1)


@pytest.fixture(scope="session")
def mb_world(sample_root):
    return build_world(load_identities(sample_root))


@pytest.fixture(scope="session")
def mb_files(mb_world, tmp_path_factory):
    folder = tmp_path_factory.mktemp("metabrainz")
    dump = write_canonical_dump(mb_world, str(folder), stamp="20261201-000000")
    with open(dump + ".sha256", encoding="ascii") as fh:
        sha256 = fh.read().split()[0]
    profiles = str(folder / "profiles")
    write_echo_nest_profiles(mb_world, profiles)
    return dump, sha256, profiles


@pytest.fixture
def metabrainz_at(local_pipeline, luigi_config, mb_world, mb_files, tmp_path, monkeypatch):
    """``metabrainz_at(**sandbox options)``: a ListenBrainz sandbox on the sample's world, ``[musicbrainz]`` pointed at
    the dump, the profiles and the sandbox, ``[listenbrainz]`` at the sandbox, both sources on, a DuckDB warehouse."""
    servers = []
    dump, sha256, profiles = mb_files

    def start(sources: str = "musicbrainz, listenbrainz", **options):
        server = ListenBrainzSandboxServer(ListenBrainzState(mb_world, **options)).start()
        servers.append(server)
        luigi_config.set("musicbrainz", canonical_dump=dump, canonical_dump_sha256=sha256, echo_nest_profiles=profiles,
                         lookup_url=server.url, index_dir=tmp_path / "mb-index")
        luigi_config.set("listenbrainz", api_url=server.url)
        luigi_config.set("sources", enabled=sources)
        luigi_config.set("warehouse", url=f"duckdb:///{tmp_path}/warehouse.duckdb")
        monkeypatch.setenv("LISTENBRAINZ_TOKEN", SANDBOX_TOKEN)
        return server
    yield start
    for server in servers:
        server.stop()


def asked(server) -> dict[str, int]:
    return {k: v for k, v in server.state.stats()["requests"].items() if v}


# --- the offline key and its ties ------------------------------------------------------------------


def test_the_dump_key_is_built_as_listenbrainz_builds_it():
    assert combined_lookup("AC/DC", "T.N.T.") == "acdctnt"
    assert combined_lookup("Björk", "Jóga") == "bjorkjoga"  # \w keeps the letters; unidecode folds them after
    assert combined_lookup("Sigur Rós", "Ný batterí") == "sigurrosnybatteri"
    song = MsdSong("TR1", "A/A", "SO1", "Calvin Harris", "Black Heart (Album Version)", "", 200.0, None)
    assert lookup_keys(song) == ["calvinharrisblackheartalbumversion", "calvinharrisblackheart"]
    featuring = MsdSong("TR1", "A/A", "SO1", "Rihanna", "Umbrella (featuring Jay-Z) (Album Version)", "", 275.0, None)
    assert lookup_keys(featuring)[1] == "rihannafeatjayzumbrella"  # MusicBrainz credits "Rihanna feat. JAY-Z"
    live = MsdSong("TR1", "A/A", "SO1", "Calvin Harris", "Black Heart (Live)", "", 200.0, None)
    assert lookup_keys(live) == ["calvinharrisblackheartlive"]  # never the studio recording's key


def _row(mbid, artists, credit="Nirvana", release="Nevermind", score=1):
    return {"recording_mbid": mbid, "artist_mbids": artists, "artist_credit_name": credit, "release_name": release,
            "score": score, "recording_name": "Lithium"}


def test_ties_are_broken_by_msd_artist_id_then_release_then_score():
    seattle, london = "5b11f4ce-a62d-471e-81fc-a69a8278c7da", "9282c8b4-ca0b-4c6a-b7e3-6a11a1d4d1c0"
    rows = [_row("a" * 8 + "-0000-4000-8000-" + "0" * 12, [london], release="Local Band", score=1),
            _row("b" * 8 + "-0000-4000-8000-" + "0" * 12, [seattle], release="Nevermind", score=5),
            _row("c" * 8 + "-0000-4000-8000-" + "0" * 12, [seattle], release="Hits", score=2)]
    song = MsdSong("TR1", "A/A", "SO1", "Nirvana", "Lithium", "Nevermind", 257.0, seattle)
    status, row, how = choose(song, rows)
    assert (status, row["recording_mbid"][0], how) == (MATCHED, "b", "dump_artist_id")  # the release beats the score
    status, row, _ = choose(MsdSong("TR1", "A/A", "SO1", "Nirvana", "Lithium", "Other", 257.0, seattle), rows)
    assert row["recording_mbid"][0] == "c"  # no release agrees: the lower score
    # Two artists called Nirvana and no MSD id to tell them apart: not guessed.
    assert choose(MsdSong("TR1", "A/A", "SO1", "Nirvana", "Lithium", "", 257.0, None), rows)[0] == AMBIGUOUS
    # MSD names an id no row credits (the other band, or an artist merged since): left to the checked lookup.
    assert choose(MsdSong("TR1", "A/A", "SO1", "Nirvana", "Lithium", "", 257.0, seattle[:-1] + "1"), rows)[1] is None
    only = [_row("d" * 8 + "-0000-4000-8000-" + "0" * 12, [london], credit="Nirvana")]
    assert choose(MsdSong("TR1", "A/A", "SO1", "Nirvana", "Lithium", "", 257.0, None), only)[2] == "dump_artist_name"


# --- the dump: pinned, read once per version ------------------------------------------------------------


def test_the_dump_is_read_once_per_version_and_another_digest_is_refused_in_one_line(mb_files, tmp_path):
    dump, sha256, _ = mb_files
    before = canonical_dump.reads
    first = canonical_dump.ensure_index(dump, sha256, str(tmp_path / "index"))
    again = canonical_dump.ensure_index(dump, sha256, str(tmp_path / "index"))
    assert canonical_dump.reads == before + 1 and first == again and first.rows > 0
    wrong = "0" * 64
    with pytest.raises(canonical_dump.DumpDigestError) as refused:
        canonical_dump.ensure_index(dump, wrong, str(tmp_path / "other-index"))
    message = str(refused.value)
    assert "\n" not in message and sha256 in message and wrong in message and "canonical_dump_sha256" in message
    assert not os.path.exists(tmp_path / "other-index" / wrong)  # nothing indexed from the wrong file


# --- the pipeline --------------------------------------------------------------------------------------


@pytest.mark.slow
def test_four_sources_give_every_song_an_identity_counts_and_two_days_of_snapshots_and_reruns_ask_nothing(
        metabrainz_at, spotify_at, mb_world, capsys, tmp_path):
    from pipeline.cli import main as front_end

    spotify = spotify_at(mode="development")
    server = metabrainz_at(sources="spotify, deezer, musicbrainz, listenbrainz")
    server.state.today = lambda: DAY
    assert front_end(["run"]) == 0, capsys.readouterr()
    out = capsys.readouterr().out
    assert "MusicBrainz recording ids for" in out and "ListenBrainz listen counts for" in out
    assert query("SELECT count(*) FROM deezer_matches")[0][0] == query("SELECT count(*) FROM songs")[0][0]
    assert front_end(["status"]) == 0
    status = capsys.readouterr().out
    assert "MusicBrainz" in status.splitlines()[1] and "ListenBrainz" in status.splitlines()[1]  # columns of their own
    rows = [line for line in status.splitlines() if line.startswith(("A/A", "A/B", "B/A"))]
    assert rows and all(line.split()[-2:] == ["batch", "yes"] for line in rows)  # asked across partitions

    identities = {r[0]: r[1:] for r in query("SELECT track_id, status, canonical_recording_mbid, method FROM "
                                                "musicbrainz_matches")}
    assert set(identities) == {r[0] for r in query("SELECT track_id FROM songs")}
    matched = {t: r[1] for t, r in identities.items() if r[0] == MATCHED}
    truly_there = {t for t, mbid in mb_world.truth.items() if mbid and t in identities}
    right = sum(1 for t, mbid in matched.items() if mb_world.truth.get(t) == mbid)
    assert right / len(matched) >= 0.97 and right / len(truly_there) >= 0.9
    assert {r[2] for r in identities.values() if r[0] == MATCHED} >= {"echo_nest", "canonical_dump"}

    counts = dict((r[0], r[1:]) for r in query("SELECT track_id, recording_mbid, total_listen_count, total_user_count "
                                                 "FROM listenbrainz_recordings"))
    for track_id, mbid in matched.items():
        served = mb_world.recording_popularity(mbid, DAY)
        assert counts[track_id] == (mbid, *(served or (None, None)))
    recordings = {mbid for mbid in matched.values()}
    artists = {r[0] for r in query("SELECT artist_mbid FROM listenbrainz_artists")}
    sent = asked(server)
    # 1,000 ids a request, across partitions: not one request per partition.
    assert sent["popularity_recording"] == math.ceil(len(recordings) / 1000)
    assert sent["popularity_artist"] == math.ceil(len(artists) / 1000)
    assert query("SELECT count(*) FROM enriched_songs WHERE lb_listen_count IS NOT NULL")[0][0] == sum(
        1 for m in matched.values() if mb_world.recording_popularity(m, DAY))

    spotify_sent = dict(spotify.state.stats()["requests"])
    fresh_process_view()
    assert run_luigi([RunAll()]).status == luigi.LuigiStatusCode.SUCCESS
    assert asked(server) == sent and dict(spotify.state.stats()["requests"]) == spotify_sent

    for day in (DAY, DAY2):
        server.state.today = lambda day=day: day
        fresh_process_view()
        assert run_luigi([DailyRefresh(date=day)]).status == luigi.LuigiStatusCode.SUCCESS
    rows = query("SELECT msd_track_id, snapshot_date, source_track_id, listen_count FROM track_popularity_daily "
                 "WHERE source = 'listenbrainz'")
    assert Counter(r[0] for r in rows) == {t: 2 for t in counts if counts[t][0]}
    for _, day, mbid, listens in rows:
        assert listens == (mb_world.recording_popularity(mbid, day) or (None,))[0]
    assert len({r[3] for r in rows if r[1] == DAY2} - {r[3] for r in rows if r[1] == DAY}) > 0  # counts moved
    artist_rows = query("SELECT source_artist_id, count(*) FROM artist_popularity_daily WHERE source = 'listenbrainz' "
                        "GROUP BY 1")
    assert artist_rows and {n for _, n in artist_rows} == {2}
    # Every artist counted at the first run, those of songs without a recording too, is counted every day.
    assert {a for a, _ in artist_rows} == artists
    from pipeline.report.render import write_report
    from pipeline.sources import registry

    for source in registry.enabled():  # what make demo prints runs on what it loads (test_demo: every source)
        for _, sql in source.example_queries():
            assert query(sql), sql

    page = open(write_report(str(tmp_path / "report.html")), encoding="utf-8").read()
    for figure in ("fig-lb-song-listens", "fig-lb-artist-listens", "fig-lb-song-share"):
        assert f'id="{figure}"' in page
    assert "Deezer rank and ListenBrainz listens, by decade" in page and "rank correlation" in page
    refreshed = asked(server)
    day_requests = refreshed["popularity_recording"] - sent["popularity_recording"]
    assert day_requests == 2 * math.ceil(len({r[2] for r in rows}) / 1000)
    fresh_process_view()
    assert run_luigi([DailyRefresh(date=DAY2)]).status == luigi.LuigiStatusCode.SUCCESS
    assert asked(server) == refreshed


# --- failures: one line naming the fix ------------------------------------------------------------------


def _run_command(capsys) -> tuple[int, str]:
    from pipeline.cli import main as front_end

    code = front_end(["run"])
    captured = capsys.readouterr()
    return code, captured.out + captured.err


@pytest.mark.slow
def test_a_missing_token_stops_before_the_lookup_in_one_line(metabrainz_at, monkeypatch, capsys):
    server = metabrainz_at()
    monkeypatch.delenv("LISTENBRAINZ_TOKEN")
    code, out = _run_command(capsys)
    assert code != 0
    lines = [line for line in out.splitlines() if "LISTENBRAINZ_TOKEN" in line]
    assert lines and "lookup = false" in lines[0]
    assert "metadata_lookup" not in asked(server)  # stopped before asking


@pytest.mark.slow
def test_a_wrong_dump_digest_is_refused_in_one_line_naming_both(metabrainz_at, mb_files, luigi_config, capsys):
    metabrainz_at()
    wrong = "f" * 64
    luigi_config.set("musicbrainz", canonical_dump_sha256=wrong)
    code, out = _run_command(capsys)
    assert code != 0
    assert [line for line in out.splitlines() if wrong in line and mb_files[1] in line], out


def test_the_client_waits_out_429s_for_reset_in_and_counts_every_request(mb_world):
    from pipeline.sources.listenbrainz.client import ListenBrainzClient

    server = ListenBrainzSandboxServer(ListenBrainzState(mb_world, rate_limit=None, token_rate_limit=None)).start()
    try:
        waited = []
        client = ListenBrainzClient(server.url, SANDBOX_TOKEN, max_rate_limit_waits=3, sleep=waited.append)
        server.state.fail_next("popularity_recording", 429, 2)
        mbid = next(iter(mb_world.recordings))
        answer = client.post("popularity/recording", {"recording_mbids": [mbid]})
        assert [a["recording_mbid"] for a in answer] == [mbid]
        assert len(waited) == 2 and all(0 < w <= 10 for w in waited)  # X-RateLimit-Reset-In, not a guess
        assert client.sent["popularity_recording"] == 3 == server.state.stats()["requests"]["popularity_recording"]
        assert client.rate_limited == 2
        assert "Authorization" in client.session.headers and "music-etl" in client.session.headers["User-Agent"]
        assert SANDBOX_TOKEN not in repr(client)
    finally:
        server.stop()


def test_a_bad_id_is_one_line_naming_it(mb_world):
    from pipeline.sources.listenbrainz.client import ListenBrainzBadRequestError, ListenBrainzClient

    server = ListenBrainzSandboxServer(ListenBrainzState(mb_world, rate_limit=None, token_rate_limit=None)).start()
    try:
        client = ListenBrainzClient(server.url, None, sleep=lambda s: None)
        with pytest.raises(ListenBrainzBadRequestError) as refused:
            client.post("popularity/recording", {"recording_mbids": ["not-an-mbid"]})
        assert "not-an-mbid" in str(refused.value) and "\n" not in str(refused.value)
        assert client.sent["popularity_recording"] == 1  # a 400 is not retried
    finally:
        server.stop()


@pytest.mark.slow
def test_a_429_storm_stops_in_one_line_and_the_rerun_pays_only_what_was_refused(metabrainz_at, luigi_config, capsys):
    server = metabrainz_at(rate_limit=None, token_rate_limit=None)
    luigi_config.set("listenbrainz", max_rate_limit_waits=0)  # the storm outlasts every wait: no seconds spent here
    server.state.fail_next("popularity_recording", 429, 1)
    code, out = _run_command(capsys)
    assert code != 0
    assert [line for line in out.splitlines() if "429" in line and "Rerun later" in line]
    first = asked(server)
    fresh_process_view()
    code, out = _run_command(capsys)
    assert code == 0, out
    again = asked(server)
    # The refused request asked again and the artists the stop left unasked; the identity's answers came from the store.
    assert again["popularity_recording"] == first["popularity_recording"] + 1
    assert "popularity_artist" not in first and again["popularity_artist"] == 1
    assert {k: v for k, v in again.items() if k.startswith("metadata")} == {
        k: v for k, v in first.items() if k.startswith("metadata")}


# --- years and tags: from the metadata answers the length check already asks -------------------------


def test_the_first_release_year_is_the_first_release_dates_else_the_canonical_releases():
    from pipeline.sources.musicbrainz.resolve import first_release_year

    assert first_release_year("1994-08-22", 1995) == 1994
    assert first_release_year(None, 1995) == 1995  # only part of the date known: ListenBrainz gives no date
    assert first_release_year(None, None) is None and first_release_year("", 0) is None


def _served_year(world, mbid: str) -> int | None:
    rec = world.recording(mbid)
    year = world.releases[rec.release_mbid].year
    return int(rec.first_release_date[:4]) if rec.first_release_date else year


def _served_tags(world, mbid: str) -> dict[tuple[str, str], set]:
    """(entity, mbid) → {(tag, count, is a genre)} as the sandbox's metadata answer tells them."""
    from pipeline.standins.musicbrainz_world import GENRES

    rec = world.recording(mbid)
    served = {("recording", mbid): {(t, c, t in GENRES) for t, c in rec.tags}}
    for artist in rec.artist_mbids:
        served[("artist", artist)] = {(t, c, t in GENRES) for t, c in world.artist_tags.get(artist, [])}
    group = world.releases[rec.release_mbid].release_group_mbid
    served[("release_group", group)] = {(t, c, t in GENRES) for t, c in world.release_group_tags.get(group, [])}
    return served


def _check_years_and_tags(world) -> dict:
    """Every matched song's year and tags as the sandbox served them; what was checked, counted."""
    songs = query("SELECT e.track_id, e.year, e.mb_first_release_year, e.canonical_recording_mbid, s.year FROM "
                  "enriched_songs e JOIN songs s ON s.track_id = e.track_id WHERE e.mb_status = 'matched'")
    yearless = [r for r in songs if r[4] is None]
    assert all(r[1] == r[4] for r in songs)  # MSD's own year stays as MSD has it
    for _, _, year, mbid, _ in songs:
        assert year == _served_year(world, mbid), mbid
    served: dict[tuple[str, str], set] = {}
    for mbid in {r[3] for r in songs}:
        served.update(_served_tags(world, mbid))
    loaded: dict[tuple[str, str], set] = {k: set() for k in query("SELECT entity, mbid FROM musicbrainz_tagged_entities")}
    for entity, mbid, tag, count, genre in query("SELECT entity, mbid, tag, count, genre_mbid FROM musicbrainz_tags"):
        loaded[(entity, mbid)].add((tag, count, genre is not None))
    assert loaded == served
    return {"yearless": len(yearless), "yearless_with_year": sum(1 for r in yearless if r[2] is not None),
            "untagged": sum(1 for tags in loaded.values() if not tags), "tags": sum(len(t) for t in loaded.values())}


def _stored_recordings(staging_root) -> list[dict]:
    from tests.conftest import stored_answers

    return [e for e in stored_answers(staging_root, "musicbrainz") if e["kind"] == "recording"]


@pytest.mark.slow
def test_a_song_msd_has_no_year_for_gets_the_year_the_sandbox_holds_its_tags_are_loaded_and_a_rerun_asks_nothing(
        metabrainz_at, mb_world, local_pipeline):
    server = metabrainz_at(sources="musicbrainz")
    assert run_luigi([RunAll()]).status == luigi.LuigiStatusCode.SUCCESS
    seen = _check_years_and_tags(mb_world)
    # The sample has songs MSD knows no year for that MusicBrainz dates, tagged and untagged entities.
    assert seen["yearless_with_year"] > 0 and seen["untagged"] > 0 and seen["tags"] > 0
    assert query("SELECT count(*) FROM musicbrainz_tags WHERE genre_mbid IS NULL")[0][0] > 0  # free tags, no genre
    sent = asked(server)
    # Each id asked once, with its tags: as many ids asked as answers stored, and the details cost no request.
    items = server.state.stats()["items"]["metadata_recording"]
    assert items == len(_stored_recordings(local_pipeline))
    assert sent["metadata_recording"] == 2  # the offline matches' length check, then the lookup answers'
    fresh_process_view()
    assert run_luigi([RunAll()]).status == luigi.LuigiStatusCode.SUCCESS
    assert asked(server) == sent


@pytest.mark.slow
def test_answers_stored_before_tags_were_asked_are_asked_again_once_and_for_matched_recordings_only(
        metabrainz_at, mb_world, local_pipeline, monkeypatch):
    import orjson

    from pipeline.sources.musicbrainz import resolve
    from tests.conftest import answers_root_of

    server = metabrainz_at(sources="musicbrainz")
    assert run_luigi([RunAll()]).status == luigi.LuigiStatusCode.SUCCESS
    # The store as the version before years and tags left it: answers asked with inc=artist release, kept without
    # the release group, the first release date, the release's year and the tags.
    old = ("mbid", "name", "length_ms", "artist_credit_name", "artist_mbids", "release_mbid", "release_name")
    stored = _stored_recordings(local_pipeline)
    for entry in stored:
        if entry["obj"]:
            entry["obj"] = {k: entry["obj"][k] for k in old}
        store = os.path.join(answers_root_of(local_pipeline), "musicbrainz")
        from pipeline.sources.answers import AnswerStore

        with open(AnswerStore(store).path("recording", entry["key"]), "wb") as fh:
            fh.write(orjson.dumps(entry))
    matched = {r[0] for r in query("SELECT canonical_recording_mbid FROM musicbrainz_matches WHERE status = 'matched'")}
    known = {e["key"] for e in stored if e["obj"]}
    assert len(known) > len(matched & known) > 0  # candidates the length check turned down are stored too
    before = server.state.stats()["items"].get("metadata_recording", 0)
    sent = asked(server)

    monkeypatch.setattr(resolve, "SCHEMA_VERSION", resolve.SCHEMA_VERSION + 1)  # as an upgrade resolves again
    fresh_process_view()
    assert run_luigi([RunAll()]).status == luigi.LuigiStatusCode.SUCCESS
    again = asked(server)
    assert again["metadata_recording"] == sent["metadata_recording"] + 1  # one request for them all
    assert {k: v for k, v in again.items() if k != "metadata_recording"} == {
        k: v for k, v in sent.items() if k != "metadata_recording"}  # no lookup asked again
    # Only the matched recordings, not the candidates turned down, whose stored lengths still serve the check.
    assert server.state.stats()["items"]["metadata_recording"] - before == len(matched & known)
    _check_years_and_tags(mb_world)

    monkeypatch.setattr(resolve, "SCHEMA_VERSION", resolve.SCHEMA_VERSION + 1)
    fresh_process_view()
    assert run_luigi([RunAll()]).status == luigi.LuigiStatusCode.SUCCESS
    assert asked(server) == again  # asked once: stored with their details now


def test_a_stored_answer_without_tags_is_asked_again_only_for_details_and_a_not_found_never(mb_world, tmp_path):
    from pipeline.sources.answers import AnswerStore
    from pipeline.sources.musicbrainz.gateway import INC, MusicBrainzGateway, compact_recording
    from pipeline.standins.listenbrainz_sandbox import metadata

    recs = [r for r in mb_world.recordings.values() if r.tags][:3]
    bodies = []

    class Client:
        sent = Counter()

        def post(self, path, body):
            self.sent[path] += 1
            bodies.append(body)
            return {m: metadata(mb_world, mb_world.recording(m), body["inc"].split()) for m in body["recording_mbids"]
                    if mb_world.recording(m)}

    store = AnswerStore(str(tmp_path / "answers"))
    old, current, unknown = recs[0].mbid, recs[1].mbid, "00000000-0000-4000-8000-000000000000"
    kept = compact_recording(old, metadata(mb_world, recs[0], ["artist", "release"]))
    store.record("recording", old, status=200, obj={k: v for k, v in kept.items() if k not in ("inc", "tags")})
    store.record("recording", current, status=200, obj=compact_recording(current, metadata(mb_world, recs[1], INC.split())))
    store.record("recording", unknown, status=404, obj=None)
    gateway = MusicBrainzGateway(Client(), store)
    ids = [old, current, unknown, recs[2].mbid]
    assert set(gateway.recordings(ids, 1000)) == {old, current, recs[2].mbid}
    assert [b["recording_mbids"] for b in bodies] == [[recs[2].mbid]]  # the length check: the new id alone
    assert bodies[0]["inc"] == "artist release tag"
    found = gateway.recordings(ids, 1000, details=True)
    assert [b["recording_mbids"] for b in bodies[1:]] == [[old]]  # without tags: asked again; not found: never
    assert found[old]["tags"]["recording"] and found[old]["first_release_date"] == recs[0].first_release_date
    assert store.get("recording", old)["obj"]["inc"] == INC and gateway.asked_again == 1
    gateway.recordings(ids, 1000, details=True)
    assert len(bodies) == 2  # replaced under the same key: never asked a third time
