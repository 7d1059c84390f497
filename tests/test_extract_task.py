"""ExtractPartition on local staging: outputs, idempotence, quarantine, crashes and bad input."""

from __future__ import annotations

import glob
import gzip
import json
import os
import re
import shutil
import subprocess
import sys

import luigi
import pytest

from pipeline import staging
from pipeline.errors import InvalidPartitionError, MissingPartitionError, TerminalError
from pipeline.msd import extract as extract_module
from pipeline.msd.extract import SCHEMA_VERSION
from pipeline.partitions import discover_partitions
from pipeline.tasks import ExtractAll, ExtractPartition, LoadPartition, RunAll, WarehouseSchema
from tests.conftest import PROJECT_ROOT, read_pty, run_luigi, stage_folder, staged_manifest


def read_lines(path):
    with gzip.open(path, "rt", encoding="utf-8") as fh:
        return [json.loads(line) for line in fh]


def partition_files(root, partition):
    return sorted(glob.glob(os.path.join(root, *partition.split("/"), "*", "*.h5")))


def test_extract_stages_songs_artists_and_a_manifest(local_pipeline, sample_root):
    result = run_luigi([ExtractPartition(partition="A/A")])
    assert result.status == luigi.LuigiStatusCode.SUCCESS
    out = stage_folder(local_pipeline, "msd", "A/A")
    manifest = staged_manifest(local_pipeline, "msd", "A/A")
    songs = read_lines(os.path.join(out, "songs.jsonl.gz"))
    h5_files = partition_files(sample_root, "A/A")
    assert len(songs) == len(h5_files) == manifest["counts"]["tracks"] == manifest["counts"]["files"]
    assert {s["track_id"] + ".h5" for s in songs} == {os.path.basename(f) for f in h5_files}
    assert all(s["msd_partition"] == "A/A" for s in songs)
    assert manifest["schema_version"] == SCHEMA_VERSION and manifest["quarantined"] == []

    artists = read_lines(os.path.join(out, "artists.jsonl.gz"))
    assert len(artists) == len({s["artist_id"] for s in songs}) == manifest["counts"]["artists"]
    assert len({a["artist_id"] for a in artists}) == len(artists)
    first_song = {}
    for s in songs:
        first_song.setdefault(s["artist_id"], s)
    terms = read_lines(os.path.join(out, "artist_terms.jsonl.gz"))
    assert len(terms) == sum(len(s["artist_terms"]) for s in first_song.values())
    similar = read_lines(os.path.join(out, "similar_artists.jsonl.gz"))
    assert len(similar) == 100 * len(artists)
    assert [r["rank"] for r in similar[:3]] == [1, 2, 3]
    mbtags = read_lines(os.path.join(out, "artist_mbtags.jsonl.gz"))
    assert len(mbtags) == sum(len(s["artist_mbtags"]) for s in first_song.values())
    for kind, info in manifest["files"].items():
        assert len(read_lines(os.path.join(out, info["path"]))) == info["rows"], kind


def test_a_finished_partition_is_not_redone(local_pipeline):
    assert run_luigi([ExtractPartition(partition="A/B")]).status == luigi.LuigiStatusCode.SUCCESS
    manifest_path = ExtractPartition(partition="A/B").output().path
    before = open(manifest_path, "rb").read()
    luigi.task_register.Register.clear_instance_cache()
    result = run_luigi([ExtractPartition(partition="A/B")])
    assert result.status == luigi.LuigiStatusCode.SUCCESS
    assert "complete" in result.summary_text.lower()
    assert open(manifest_path, "rb").read() == before  # extract_id holds a timestamp: a rerun would change it


@pytest.fixture
def damaged_partition(tmp_path, sample_root, luigi_config):
    """A copy of partition A/B with an empty, a truncated and a misnamed file added."""
    root = tmp_path / "msd"
    shutil.copytree(os.path.join(sample_root, "A", "B"), root / "A" / "B")
    good = partition_files(str(root), "A/B")
    leaf = os.path.dirname(good[0])
    open(os.path.join(leaf, "TRAB" + os.path.basename(leaf) + "AA128F0000001.h5"), "wb").close()
    data = open(good[0], "rb").read()
    with open(os.path.join(leaf, "TRAB" + os.path.basename(leaf) + "AB128F0000002.h5"), "wb") as fh:
        fh.write(data[:5000])
    shutil.copy(good[1], os.path.join(leaf, "TRAB" + os.path.basename(leaf) + "AC128F0000003.h5"))
    luigi_config.set("msd", root=root)
    luigi_config.set("staging", root=tmp_path / "staging")
    return str(root), len(good), str(tmp_path / "staging")


def test_invalid_files_are_quarantined_and_the_partition_still_succeeds(damaged_partition):
    root, n_good, staging_root = damaged_partition
    assert run_luigi([ExtractPartition(partition="A/B")]).status == luigi.LuigiStatusCode.SUCCESS
    manifest = staged_manifest(staging_root, "msd", "A/B")
    assert manifest["counts"]["files"] == n_good + 3
    assert manifest["counts"]["tracks"] == n_good
    reasons = {os.path.basename(q["path"])[-11:]: q["reason"] for q in manifest["quarantined"]}
    assert len(reasons) == 3
    assert "empty file" in reasons["F0000001.h5"]
    assert "truncated" in reasons["F0000002.h5"] or "corrupt" in reasons["F0000002.h5"]
    assert "does not match its track_id" in reasons["F0000003.h5"]
    assert all(q["path"].startswith("A/B/") for q in manifest["quarantined"])


def test_fatal_quarantine_fails_the_partition_and_stages_nothing(damaged_partition, luigi_config):
    root, _, staging_root = damaged_partition
    luigi_config.set("extract", fail_on_quarantine="true")
    result = run_luigi([ExtractPartition(partition="A/B")])
    assert result.status == luigi.LuigiStatusCode.FAILED
    assert glob.glob(os.path.join(staging_root, "msd", "A", "B", "*", "*")) == []  # no manifest, no file


def test_a_crash_mid_partition_leaves_no_manifest_and_no_partial_files(local_pipeline, monkeypatch):
    real_read = extract_module.read_msd_file
    calls = {"n": 0}

    def failing_read(path, expect_single_track=False):
        calls["n"] += 1
        if calls["n"] == 6:
            raise MemoryError("simulated crash while reading")
        return real_read(path, expect_single_track)

    monkeypatch.setattr(extract_module, "read_msd_file", failing_read)
    result = run_luigi([ExtractPartition(partition="B/A")])
    assert result.status == luigi.LuigiStatusCode.FAILED
    out = ExtractPartition(partition="B/A").folder
    assert glob.glob(os.path.join(out, "*")) == []  # no manifest, not even temporary files

    monkeypatch.setattr(extract_module, "read_msd_file", real_read)
    luigi.task_register.Register.clear_instance_cache()
    assert run_luigi([ExtractPartition(partition="B/A")]).status == luigi.LuigiStatusCode.SUCCESS
    assert ExtractPartition(partition="B/A").output().exists_now()


def test_leftovers_of_a_killed_run_are_removed_on_the_next_run(local_pipeline):
    out = ExtractPartition(partition="A/A").folder
    os.makedirs(out)
    leftover = os.path.join(out, "songs.jsonl.gz-luigi-tmp-000000042")
    with open(leftover, "wb") as fh:
        fh.write(b"half a gzip stream")  # what kill -9 during a write leaves
    assert not ExtractPartition(partition="A/A").complete()
    assert run_luigi([ExtractPartition(partition="A/A")]).status == luigi.LuigiStatusCode.SUCCESS
    assert not os.path.exists(leftover)
    manifest = os.path.basename(ExtractPartition(partition="A/A").output().path)
    assert sorted(os.listdir(out)) == sorted([manifest] + [f"{k}.jsonl.gz" for k in extract_module.OUTPUT_FILES])


def test_partition_parameter_is_validated():
    for bad in ("a/b", "AB", "A/BC", "A/", "../A", ""):
        with pytest.raises(InvalidPartitionError, match="expected two upper-case letters"):
            ExtractPartition(partition=bad)


def test_a_missing_partition_folder_is_an_error_naming_the_path(local_pipeline, sample_root):
    task = ExtractPartition(partition="Q/Q")
    with pytest.raises(MissingPartitionError) as info:
        task.run()
    assert os.path.join(sample_root, "Q", "Q") in str(info.value) and "[msd] root" in str(info.value)
    assert run_luigi([task]).status == luigi.LuigiStatusCode.FAILED


def test_an_empty_partition_gives_an_empty_valid_output(luigi_config, tmp_path):
    (tmp_path / "msd" / "C" / "C").mkdir(parents=True)
    luigi_config.set("msd", root=tmp_path / "msd")
    luigi_config.set("staging", root=tmp_path / "staging")
    assert run_luigi([ExtractPartition(partition="C/C")]).status == luigi.LuigiStatusCode.SUCCESS
    out = ExtractPartition(partition="C/C").folder
    manifest = staged_manifest(str(tmp_path / "staging"), "msd", "C/C")
    assert manifest["counts"] == {"files": 0, "tracks": 0, "quarantined": 0, "artists": 0,
                                  "artist_conflicts": 0, "decode_warnings": 0}
    for name in ("songs", "artists", "artist_terms", "artist_mbtags", "similar_artists"):
        assert read_lines(os.path.join(out, f"{name}.jsonl.gz")) == []


def test_original_subset_layout_with_data_folder_is_understood(luigi_config, tmp_path, sample_root):
    subset = tmp_path / "MillionSongSubset"
    shutil.copytree(os.path.join(sample_root, "B"), subset / "data" / "B")
    (subset / "AdditionalFiles").mkdir()
    assert discover_partitions(str(subset)) == ["B/A"]
    luigi_config.set("msd", root=subset)
    luigi_config.set("staging", root=tmp_path / "staging")
    assert run_luigi([ExtractAll()]).status == luigi.LuigiStatusCode.SUCCESS
    assert ExtractPartition(partition="B/A").output().exists_now()


def test_discovery_lists_letter_partitions_only(sample_root):
    assert os.path.isdir(os.path.join(sample_root, "AdditionalFiles"))
    assert discover_partitions(sample_root) == ["A/A", "A/B", "B/A"]


def test_runall_selects_partitions_by_list_or_letter(local_pipeline, luigi_config, tmp_path):
    schema_step, *loads = RunAll().requires().requires()
    assert isinstance(schema_step, WarehouseSchema) and all(isinstance(t, LoadPartition) for t in loads)
    assert RunAll().launched_by != RunAll(launched_by="another-command").launched_by  # a RunAll per command
    assert list(RunAll(letters="B").requires().partitions) == ["B/A"]
    assert list(RunAll(partitions="A/B, B/A").requires().partitions) == ["A/B", "B/A"]
    assert list(RunAll().requires().partitions) == ["A/A", "A/B", "B/A"]
    assert [t.partition for t in ExtractAll(letters="A").requires()] == ["A/A", "A/B"]
    with pytest.raises(InvalidPartitionError):
        RunAll(partitions="A/B,b/a").requires()
    luigi_config.set("msd", root=tmp_path / "nowhere")
    with pytest.raises(TerminalError, match="No MSD partitions found"):
        RunAll().requires()


def test_command_line_exits_non_zero_when_a_partition_fails(tmp_path, sample_root):
    """The shipped luigi.cfg's [retcode] and the environment overrides, through the real CLI."""
    env = dict(os.environ, MUSIC_ETL_MSD_ROOT=sample_root, MUSIC_ETL_STAGING_ROOT=str(tmp_path / "staging"))
    env.pop("LUIGI_CONFIG_PATH", None)
    luigi_bin = os.path.join(os.path.dirname(sys.executable), "luigi")
    ok = subprocess.run([luigi_bin, "--module", "pipeline", "ExtractAll", "--letters", "B", "--local-scheduler"],
                        cwd=PROJECT_ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert ok.returncode == 0, ok.stderr
    assert staged_manifest(str(tmp_path / "staging"), "msd", "B/A")["counts"]["tracks"] > 0
    failed = subprocess.run([luigi_bin, "--module", "pipeline", "ExtractPartition", "--partition", "Q/Q",
                             "--local-scheduler"], cwd=PROJECT_ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert failed.returncode == 30, failed.stderr[-2000:]
    assert os.path.join(sample_root, "Q", "Q") in failed.stderr


def test_extract_shows_a_bar_on_a_terminal_says_what_it_staged_and_names_a_failure(tmp_path, sample_root):
    env = {k: v for k, v in os.environ.items() if not k.startswith("MUSIC_ETL_")}
    env.pop("LUIGI_CONFIG_PATH", None)
    env |= {"MUSIC_ETL_MSD_ROOT": sample_root, "MUSIC_ETL_STAGING_ROOT": str(tmp_path / "tty")}
    command = [sys.executable, "-m", "pipeline", "extract", "--workers", "2"]
    shown = read_pty(command, env)
    assert re.search(r"run: 100%\|[^\r]*\| 4/4 [^\r]*partitions extracted 3/3\]", shown), shown[-2000:]
    tracks = sum(staged_manifest(str(tmp_path / "tty"), "msd", p)["counts"]["tracks"] for p in ("A/A", "A/B", "B/A"))
    assert f"partitions extracted this run: 3, already extracted: 0, failed: 0; tracks staged this run: {tracks}" in shown
    # Not on a terminal: the same summary, no bar; a broken partition is named and the exit is 1.
    broken = tmp_path / "msd"
    shutil.copytree(sample_root, broken)
    for path in (broken / "A" / "B").rglob("*.h5"):
        path.write_bytes(b"not hdf5")
    cfg = tmp_path / "fatal.cfg"
    cfg.write_text("[extract]\nfail_on_quarantine = true\n")
    piped = subprocess.run(command, cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=300,
                           env=env | {"MUSIC_ETL_MSD_ROOT": str(broken), "MUSIC_ETL_STAGING_ROOT": str(tmp_path / "pipe"),
                                      "LUIGI_CONFIG_PATH": str(cfg)})
    # The last line is the failure's cause, whole, naming the fix; the line before says where the log is.
    *_, log_line, last = piped.stderr.strip().splitlines()
    assert piped.returncode == 1 and last.startswith("error: ExtractPartition(A/B): Partition `A/B`: 30 invalid MSD")
    assert last.endswith("set fail_on_quarantine = false to quarantine them and go on.")
    assert log_line.startswith("log: ") and "Traceback" in open(log_line[len("log: "):]).read()
    assert "partitions extracted this run: 2, already extracted: 0, failed: 1" in piped.stdout
    assert "tasks/s" not in piped.stdout + piped.stderr and "\r" not in piped.stdout + piped.stderr


def test_artist_rows_are_the_bytes_orjson_writes_for_each_row(tmp_path):
    """The per-artist files are assembled from orjson-encoded values; they must equal orjson's
    encoding of each row as a dict, for awkward text and NaN (written as null) too."""
    import orjson

    collector = extract_module._ArtistCollector()
    awkward = ['quote " and \\ back', "tab\tnew\nline", "Björk ∞ \u0001", ""]
    artist = {"artist_id": 'AR"odd\\id', "artist_name": "x", "artist_mbid": None, "artist_familiarity": float("nan"),
              "artist_hotttnesss": 0.5, "artist_latitude": None, "artist_longitude": None, "artist_location": None,
              "artist_7digitalid": None, "artist_playmeid": 7,
              "artist_terms": awkward, "artist_terms_freq": [1.0, float("nan"), 1e-300, 0.1],
              "artist_terms_weight": [0.25, 2.0, -0.0, 3.5], "similar_artists": awkward + ["ARSIMILAR"],
              "artist_mbtags": awkward[:2], "artist_mbtags_count": [3, -1]}
    collector.add({**artist, "track_id": "TRAAAAA000000001"})
    collector.add({**artist, "artist_id": "ARPLAIN", "artist_terms": None, "artist_terms_freq": None,
                   "artist_terms_weight": None, "similar_artists": [], "artist_mbtags": None,
                   "artist_mbtags_count": None, "track_id": "TRAAAAA000000002"})
    writers = {kind: staging.JsonLinesWriter(luigi.LocalTarget(str(tmp_path / kind), format=luigi.format.Nop))
               for kind in extract_module.OUTPUT_FILES}
    collector.write(writers)
    for writer in writers.values():
        writer.commit()

    def staged(kind):
        return gzip.decompress((tmp_path / kind).read_bytes())

    a = artist
    terms = [{"artist_id": a["artist_id"], "term": t, "freq": f, "weight": w}
             for t, f, w in zip(a["artist_terms"], a["artist_terms_freq"], a["artist_terms_weight"], strict=True)]
    tags = [{"artist_id": a["artist_id"], "mbtag": t, "count": c}
            for t, c in zip(a["artist_mbtags"], a["artist_mbtags_count"], strict=True)]
    similar = [{"artist_id": a["artist_id"], "similar_artist_id": s, "rank": r}
               for r, s in enumerate(a["similar_artists"], start=1)]
    for kind, rows in (("artist_terms", terms), ("artist_mbtags", tags), ("similar_artists", similar)):
        assert staged(kind) == b"".join(orjson.dumps(r, option=orjson.OPT_APPEND_NEWLINE) for r in rows), kind
        assert writers[kind].rows == len(rows)
    assert [json.loads(line)["artist_id"] for line in staged("artists").splitlines()] == sorted(["ARPLAIN", a["artist_id"]])
