"""The AcousticBrainz source against its stand-in dumps: the published layout (tar.zst, several submissions per MBID,
``sha256sums``), each dump read once per version and refused with another digest, a song's submissions taken under
both its ids and aggregated, then the pipeline (MusicBrainz identity → features → enriched_songs → report) on DuckDB
and PostgreSQL, and its reruns."""

from __future__ import annotations

import io
import json
import os
import statistics
import tarfile
from collections import Counter, defaultdict

import luigi
import pyarrow as pa
import pytest

from pipeline.sources.acousticbrainz import dump, features
from pipeline.standins import acousticbrainz_dumps as stand_in
from pipeline.standins.canonical_dump import write_canonical_dump
from pipeline.standins.musicbrainz_world import build_world, write_echo_nest_profiles
from pipeline.standins.spotify_catalog import load_identities
from tests.conftest import fresh_process_view, query, run_luigi


@pytest.fixture(scope="session")
def ab_world(sample_root):
    return build_world(load_identities(sample_root))


@pytest.fixture(scope="session")
def ab_submissions(ab_world, sample_root):
    return stand_in.world_submissions(ab_world, stand_in.msd_analysis(sample_root, ab_world.truth))


@pytest.fixture(scope="session")
def ab_dumps(ab_submissions, tmp_path_factory):
    """{kind: (path, sha256)} of the sample world's dumps, as the demo writes them."""
    folder = tmp_path_factory.mktemp("acousticbrainz")
    paths = stand_in.write_dumps(ab_submissions, str(folder))
    sums = stand_in.read_sha256sums(os.path.dirname(paths["rhythm"]))
    return {kind: (path, sums[os.path.basename(path)]) for kind, path in paths.items()}


@pytest.fixture(scope="session")
def mb_dump(ab_world, tmp_path_factory):
    folder = tmp_path_factory.mktemp("musicbrainz")
    path = write_canonical_dump(ab_world, str(folder), stamp="20261201-000000")
    profiles = str(folder / "profiles")
    write_echo_nest_profiles(ab_world, profiles)
    return path, open(path + ".sha256", encoding="ascii").read().split()[0], profiles


@pytest.fixture
def acousticbrainz_on(local_pipeline, luigi_config, ab_dumps, mb_dump, tmp_path):
    """MusicBrainz (canonical dump and profiles, no lookup) and AcousticBrainz pointed at the stand-ins, a DuckDB
    warehouse unless the test sets another."""
    dump_path, sha256, profiles = mb_dump
    luigi_config.set("musicbrainz", canonical_dump=dump_path, canonical_dump_sha256=sha256, echo_nest_profiles=profiles,
                     lookup="false", index_dir=tmp_path / "mb-index")
    luigi_config.set("acousticbrainz", rhythm_dump=ab_dumps["rhythm"][0], rhythm_dump_sha256=ab_dumps["rhythm"][1],
                     tonal_dump=ab_dumps["tonal"][0], tonal_dump_sha256=ab_dumps["tonal"][1],
                     index_dir=tmp_path / "ab-index")
    luigi_config.set("sources", enabled="musicbrainz, acousticbrainz")
    luigi_config.set("warehouse", url=f"duckdb:///{tmp_path}/warehouse.duckdb")
    return tmp_path / "ab-index"


def members(path: str) -> dict[str, bytes]:
    with open(path, "rb") as fh, pa.CompressedInputStream(pa.BufferReader(fh.read()), "zstd") as stream:
        data = stream.read()
    with tarfile.open(fileobj=io.BytesIO(data), mode="r:") as tar:
        return {m.name: tar.extractfile(m).read() for m in tar if m.isfile()}


# --- the stand-in dumps -----------------------------------------------------------------------------


def test_the_stand_in_dumps_have_the_published_layout(ab_dumps, ab_world, ab_submissions):
    folder = os.path.dirname(ab_dumps["rhythm"][0])
    assert os.path.basename(folder) == "acousticbrainz-lowlevel-features-20220623"
    lines = open(os.path.join(folder, "sha256sums"), encoding="ascii").read().splitlines()
    assert sorted(line.split("  ")[1] for line in lines) == sorted(os.path.basename(p) for p, _ in ab_dumps.values())
    for kind, (path, sha256) in ab_dumps.items():
        assert dump.file_sha256(path) == sha256
        inside = members(path)
        csv_name = f"acousticbrainz-lowlevel-features-20220623/acousticbrainz-lowlevel-features-20220623-{kind}.csv"
        assert list(inside) == [csv_name, "acousticbrainz-lowlevel-features-20220623/COPYING"]
        text = inside[csv_name].decode()
        assert text.startswith(",".join(dump.COLUMNS[kind]) + "\r\n")  # csv.DictWriter's header and line ends
        assert text.count("\r\n") == len(ab_submissions) + 1
    per_mbid = Counter(s.mbid for s in ab_submissions)
    assert max(per_mbid.values()) > 1  # several submissions of one recording
    offsets = defaultdict(list)
    for s in ab_submissions:
        offsets[s.mbid].append(s.offset)
    assert all(o == list(range(len(o))) for o in offsets.values())  # counted from 0 in submission order
    assert [s.mbid for s in ab_submissions] != sorted(s.mbid for s in ab_submissions)  # submission order, not MBIDs
    recordings = {m for m in ab_world.truth.values() if m}
    assert set(per_mbid) - recordings - set(ab_world.merged_recordings)  # MBIDs no MSD song is
    assert recordings - set(per_mbid)  # songs nobody submitted
    assert set(per_mbid) & set(ab_world.merged_recordings)  # tagged with an id merged since


# --- the dump: pinned, read once per version -------------------------------------------------------------


def test_each_dump_is_read_once_per_version_and_another_digest_is_refused_in_one_line(ab_dumps, ab_submissions,
                                                                                       tmp_path):
    before = dump.reads
    built = {kind: dump.ensure_index(kind, path, sha256, str(tmp_path / "index")) for kind, (path, sha256) in ab_dumps.items()}
    again = {kind: dump.ensure_index(kind, path, sha256, str(tmp_path / "index")) for kind, (path, sha256) in ab_dumps.items()}
    assert dump.reads == before + 2 and built == again
    assert built["rhythm"].rows == len(ab_submissions) == built["tonal"].rows
    assert built["rhythm"].recordings == len({s.mbid for s in ab_submissions})
    assert built["rhythm"].describe()["date"] == "2022-06-23"

    path, sha256 = ab_dumps["rhythm"]
    wrong = "0" * 64
    with pytest.raises(dump.DumpDigestError) as refused:
        dump.ensure_index("rhythm", path, wrong, str(tmp_path / "other-index"))
    message = str(refused.value)
    assert "\n" not in message and sha256 in message and wrong in message
    assert "[acousticbrainz] rhythm_dump_sha256" in message and "sha256sums" in message  # the setting and the fix
    assert not os.path.exists(tmp_path / "other-index" / wrong)  # nothing indexed from the wrong file
    assert dump.reads == before + 2


def test_a_dump_given_for_the_other_type_is_refused_naming_the_setting(ab_dumps, tmp_path):
    path, sha256 = ab_dumps["tonal"]
    with pytest.raises(dump.DumpLayoutError) as refused:
        dump.ensure_index("rhythm", path, sha256, str(tmp_path / "index"))
    assert "[acousticbrainz] rhythm_dump" in str(refused.value) and "tonal" in str(refused.value)
    with pytest.raises(dump.TerminalError, match="rhythm_dump_sha256 .* is blank"):
        dump.ensure_index("rhythm", path, "", str(tmp_path / "index"))


# --- a song's submissions, aggregated ---------------------------------------------------------------------

OLD, NOW, OTHER, LONELY = ("00000000-0000-4000-8000-00000000000a", "00000000-0000-4000-8000-00000000000b",
                           "00000000-0000-4000-8000-00000000000c", "00000000-0000-4000-8000-00000000000d")


def _submission(mbid, offset, bpm, dance, key, scale):
    rhythm = (bpm, bpm, bpm, bpm, bpm, dance, "3.5")
    return stand_in.Submission(mbid, offset, rhythm, (key, scale, "440.5", "0.05"))


def test_a_songs_submissions_under_both_its_ids_are_aggregated_and_no_other(tmp_path):
    submissions = [_submission(NOW, 0, "120.5", "1.25", "F#", "minor"), _submission(OTHER, 0, "90", "2.5", "C", "major"),
                   _submission(OLD, 0, "241.0", "1.0", "F#", "minor"), _submission(NOW, 1, "121.0", "", "A", "major"),
                   _submission(OLD, 1, "120.0", "1.5", "", ""), _submission(LONELY, 0, "", "0.5", "Bb", "minor")]
    paths = stand_in.write_dumps(submissions, str(tmp_path / "dumps"))
    sums = stand_in.read_sha256sums(os.path.dirname(paths["rhythm"]))
    built = {k: dump.ensure_index(k, p, sums[os.path.basename(p)], str(tmp_path / "index")) for k, p in paths.items()}
    identities = [
        {"track_id": "TRA", "msd_partition": "A/A", "status": "matched", "recording_mbid": OLD,
         "canonical_recording_mbid": NOW},
        {"track_id": "TRB", "msd_partition": "A/A", "status": "matched", "recording_mbid": LONELY.upper(),
         "canonical_recording_mbid": LONELY},
        {"track_id": "TRC", "msd_partition": "A/A", "status": "matched", "recording_mbid": "not-a-uuid",
         "canonical_recording_mbid": "00000000-0000-4000-8000-0000000000ff"},
        {"track_id": "TRD", "msd_partition": "A/A", "status": "not_found", "recording_mbid": None,
         "canonical_recording_mbid": None}]
    rows = features.song_features(identities, built["rhythm"].submissions, built["tonal"].submissions)
    a = rows["TRA"]
    mine = [s for s in submissions if s.mbid in (OLD, NOW)]
    bpms = [float(s.rhythm[0]) for s in mine]
    assert a["status"] == "matched" and a["recording_mbid"] == NOW and a["submission_mbids"] == sorted([OLD, NOW])
    assert a["submissions"] == len(mine)
    assert a["bpm"] == pytest.approx(statistics.median(bpms)) and a["bpm_spread"] == pytest.approx(max(bpms) - min(bpms))
    assert a["danceability"] == pytest.approx(statistics.median(float(s.rhythm[5]) for s in mine if s.rhythm[5]))
    keyed = Counter((s.tonal[0], s.tonal[1]) for s in mine if s.tonal[0])
    (name, scale), n = keyed.most_common(1)[0]
    assert (a["key_name"], a["key_scale"], a["key"], a["mode"]) == (name, scale, 6, 0)  # F# minor, as MSD counts
    assert a["key_share"] == pytest.approx(n / sum(keyed.values()))
    b = rows["TRB"]  # one submission, no bpm: the id matched whatever its case
    assert (b["status"], b["submissions"], b["bpm"], b["bpm_spread"], b["key"], b["mode"]) == ("matched", 1, None, None,
                                                                                                10, 0)
    assert b["submission_mbids"] == [LONELY]
    assert rows["TRC"]["status"] == "not_found" and rows["TRC"]["bpm"] is None
    assert rows["TRD"]["status"] == "no_recording" and rows["TRD"]["recording_mbid"] is None
    assert rows["TRC"]["submission_mbids"] is rows["TRD"]["submission_mbids"] is rows["TRD"]["submissions"] is None


def test_a_key_tie_goes_to_the_first_name_and_says_its_share(tmp_path):
    submissions = [_submission(NOW, 0, "100", "1", "G", "major"), _submission(NOW, 1, "100", "1", "E", "minor")]
    paths = stand_in.write_dumps(submissions, str(tmp_path / "dumps"))
    sums = stand_in.read_sha256sums(os.path.dirname(paths["rhythm"]))
    tonal = dump.ensure_index("tonal", paths["tonal"], sums[os.path.basename(paths["tonal"])], str(tmp_path / "index"))
    identity = {"track_id": "TRA", "msd_partition": "A/A", "status": "matched", "recording_mbid": NOW,
                "canonical_recording_mbid": NOW}
    found = features.song_features([identity], None, tonal.submissions)["TRA"]
    assert (found["key_name"], found["key_share"], found["bpm"], found["submissions"]) == ("E", 0.5, None, 2)


# --- the pipeline ------------------------------------------------------------------------------------------


def expected_features(identities: list[tuple], submissions) -> dict[str, dict]:
    """What each matched song should get, computed here from the stand-in's submissions and the song's two ids."""
    by_mbid = defaultdict(list)
    for s in submissions:
        by_mbid[s.mbid].append(s)
    out = {}
    for track_id, status, recording, canonical in identities:
        mine = [s for m in ({recording, canonical} if status == "matched" else set()) for s in by_mbid.get(m, [])]
        if not mine:
            continue
        bpms = [float(s.rhythm[0]) for s in mine if s.rhythm[0]]
        keyed = Counter((s.tonal[0], s.tonal[1]) for s in mine if s.tonal[0])
        best = min(keyed.items(), key=lambda kv: (-kv[1], kv[0])) if keyed else ((None, None), 0)
        out[track_id] = {"submissions": len(mine), "bpm": statistics.median(bpms) if bpms else None,
                         "mbids": sorted({s.mbid for s in mine}),
                         "key_name": best[0][0], "key_scale": best[0][1]}
    return out


@pytest.mark.slow
@pytest.mark.parametrize("warehouse", ["duckdb", "postgresql"])
def test_the_pipeline_loads_each_songs_features_and_a_rerun_reads_no_dump(acousticbrainz_on, ab_submissions, ab_world,
                                                                          luigi_config, request, warehouse, tmp_path,
                                                                          capsys):
    from pipeline.cli import main as front_end
    from pipeline.report.render import write_report
    from pipeline.tasks import RunAll

    if warehouse == "postgresql":
        url = request.getfixturevalue("postgres_url")
        luigi_config.set("warehouse", url=url.replace("%", "%%"))
    before = dump.reads
    assert run_luigi([RunAll(partitions="A/A")]).status == luigi.LuigiStatusCode.SUCCESS
    assert dump.reads == before + 2  # each dump once
    fresh_process_view()
    assert front_end(["run"]) == 0, capsys.readouterr()  # every partition: the dumps' index, not the dumps
    assert "AcousticBrainz features for" in capsys.readouterr().out
    assert dump.reads == before + 2

    identities = query("SELECT track_id, status, recording_mbid, canonical_recording_mbid FROM musicbrainz_matches")
    loaded = {r[0]: r[1:] for r in query("SELECT track_id, status, submissions, bpm, key_name, key_scale, key, mode, "
                                           "recording_mbid, submission_mbids FROM acousticbrainz_features")}
    assert set(loaded) == {r[0] for r in query("SELECT track_id FROM songs")}
    expected = expected_features(identities, ab_submissions)
    assert expected and {t for t, r in loaded.items() if r[0] == "matched"} == set(expected)
    for track_id, want in expected.items():
        status, submissions, bpm, key_name, key_scale, key, mode, _, mbids = loaded[track_id]
        assert submissions == want["submissions"], track_id
        assert sorted(json.loads(mbids) if isinstance(mbids, str) else mbids) == want["mbids"]
        assert bpm == pytest.approx(want["bpm"], rel=1e-5) if want["bpm"] else bpm is None
        assert (key_name, key_scale) == (want["key_name"], want["key_scale"])
        assert (key, mode) == ((features.PITCH_CLASS[key_name], features.MODE[key_scale]) if key_name else (None, None))
    resolved = {r[0] for r in identities if r[1] == "matched"}
    assert {t for t, r in loaded.items() if r[0] == "not_found"} == resolved - set(expected)  # a recording nobody sent
    assert {t for t, r in loaded.items() if r[0] == "no_recording"} == set(loaded) - resolved

    view = dict(query("SELECT track_id, ab_bpm FROM enriched_songs WHERE ab_bpm IS NOT NULL"))
    assert view == {t: r[2] for t, r in loaded.items() if r[2] is not None}
    page = open(write_report(str(tmp_path / "report.html")), encoding="utf-8").read()
    assert "Audio features: AcousticBrainz" in page and f'data-fact="ab_found">{len(expected)}<' in page
    assert 'id="fig-ab-bpm-tempo"' in page

    fresh_process_view()
    assert front_end(["run"]) == 0
    assert dump.reads == before + 2


@pytest.mark.slow
def test_a_wrong_dump_digest_stops_the_run_in_one_line_naming_the_setting(acousticbrainz_on, ab_dumps, luigi_config,
                                                                          capsys):
    from pipeline.cli import main as front_end

    wrong = "e" * 64
    luigi_config.set("acousticbrainz", tonal_dump_sha256=wrong)
    code = front_end(["run"])
    captured = capsys.readouterr()
    assert code != 0
    lines = [line for line in (captured.out + captured.err).splitlines() if wrong in line]
    assert lines and ab_dumps["tonal"][1] in lines[0] and "[acousticbrainz] tonal_dump_sha256" in lines[0]


def test_the_cross_check_sql_answers_alike_on_duckdb_and_postgresql(postgres_url):
    """The report's tempo and key agreement over the same rows in both databases (and parsed as Redshift)."""
    import duckdb
    import psycopg2
    import sqlglot

    from pipeline.sources.acousticbrainz import report

    rows = [(120.0, 120.9, None, 6, 6, 0, 0), (120.0, 60.5, 241.0, 2, 11, 1, 0), (99.0, 140.0, 98.5, 0, 0, 1, 1),
            (75.0, 150.0, 150.2, 9, 0, 0, 1), (None, 100.0, None, None, 3, None, 1), (130.0, 0.0, 0.0, 4, 4, 1, 0)]
    columns = "ab_bpm, tempo, deezer_bpm, ab_key, key, ab_mode, mode"
    create = ("CREATE TABLE enriched_songs (ab_bpm DOUBLE PRECISION, tempo DOUBLE PRECISION, deezer_bpm DOUBLE "
              "PRECISION, ab_key SMALLINT, key SMALLINT, ab_mode SMALLINT, mode SMALLINT)")
    statements = [report.tempo_agreement_sql("tempo"), report.tempo_agreement_sql("deezer_bpm"),
                  report.ratio_bins_sql("tempo"), report.KEY_AGREEMENT_SQL]
    con = duckdb.connect()
    con.execute(create)
    con.executemany(f"INSERT INTO enriched_songs ({columns}) VALUES (?, ?, ?, ?, ?, ?, ?)", rows)
    in_duckdb = [con.execute(s).fetchall() for s in statements]
    pg = psycopg2.connect(postgres_url)
    try:
        with pg.cursor() as cur:
            cur.execute(create)
            cur.executemany(f"INSERT INTO enriched_songs ({columns}) VALUES (%s, %s, %s, %s, %s, %s, %s)", rows)
            in_postgres = []
            for s in statements:
                cur.execute(s)
                in_postgres.append([tuple(int(v) if v is not None else None for v in r) for r in cur.fetchall()])
    finally:
        pg.close()
    assert [[tuple(int(v) if v is not None else None for v in r) for r in result] for result in in_duckdb] == in_postgres
    for s in statements:
        sqlglot.parse_one(s, read="redshift", error_level=sqlglot.ErrorLevel.RAISE)
    (both, same, octave), = in_duckdb[0]
    tempo_pairs = [(a, t) for a, t, *_ in rows if a and t]
    assert both == len(tempo_pairs)
    assert same == sum(1 for a, t in tempo_pairs if abs(a - t) <= 0.02 * t)
    assert octave == sum(1 for a, t in tempo_pairs if abs(a - t) > 0.02 * t and
                         (abs(a - 2 * t) <= 0.04 * t or abs(a - t / 2) <= 0.01 * t))


def test_a_dump_that_is_not_the_published_csv_is_one_line_naming_the_setting(tmp_path):
    bad_value = [_submission(NOW, 0, "120.5", "fast", "F#", "minor")]  # danceability that is no number
    paths = stand_in.write_dumps(bad_value, str(tmp_path / "bad-value"))
    digest = dump.file_sha256(paths["rhythm"])
    with pytest.raises(dump.DumpLayoutError) as refused:
        dump.ensure_index("rhythm", paths["rhythm"], digest, str(tmp_path / "index"))
    assert "\n" not in str(refused.value) and "[acousticbrainz] rhythm_dump" in str(refused.value)
    assert not dump.built(str(tmp_path / "index"), "rhythm", digest)  # no index said whole

    csv_data = b"mbid,submission_offset,bpm\r\n" + NOW.encode() + b",0,120\r\n"  # danceability and onset_rate missing
    path = stand_in.write_archive(str(tmp_path / "acousticbrainz-lowlevel-features-20220623-rhythm.tar.zst"), "rhythm",
                                  csv_data)
    with pytest.raises(dump.DumpLayoutError, match="danceability") as refused:
        dump.ensure_index("rhythm", path, dump.file_sha256(path), str(tmp_path / "index"))
    assert "\n" not in str(refused.value)


def test_its_provenance_is_both_dumps_as_pinned_and_where_they_are_read(ab_dumps, luigi_config):
    from pipeline.sources.acousticbrainz.source import SOURCE

    assert (SOURCE.data_licence, SOURCE.republishable) == ("CC0-1.0", True)
    url = "https://etl:hunter2@dumps.example.org/ab/acousticbrainz-lowlevel-features-20220623-tonal.tar.zst?X-Amz-Signature=s3cr3t"
    luigi_config.set("acousticbrainz", rhythm_dump=ab_dumps["rhythm"][0], rhythm_dump_sha256=ab_dumps["rhythm"][1],
                     tonal_dump=url, tonal_dump_sha256=ab_dumps["tonal"][1].upper())
    rhythm, tonal = SOURCE.provenance()
    assert rhythm == {"kind": "dump", "name": os.path.basename(ab_dumps["rhythm"][0]), "date": "2022-06-23",
                      "sha256": ab_dumps["rhythm"][1], "location": ab_dumps["rhythm"][0]}
    assert tonal["sha256"] == ab_dumps["tonal"][1] and tonal["name"].endswith("-tonal.tar.zst")
    assert "hunter2" not in str(tonal) and "s3cr3t" not in str(tonal) and "dumps.example.org/ab/" in tonal["location"]
