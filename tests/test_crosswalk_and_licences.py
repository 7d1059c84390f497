"""The crosswalk (``song_ids``), each column's licence, ``export --crosswalk`` and ``--open-only``, and the external
data every stage's manifest records and the report prints.

A warehouse made by hand pins the crosswalk's rules (the first source that gives an id wins; without one, the first
that looked); a run of the four sources against their stand-ins shows it all on real loads."""

from __future__ import annotations

import os
import re

import duckdb
import pandas as pd
import pyarrow.parquet as pq
import pytest

from pipeline import dictionary, licences
from pipeline.export import export
from pipeline.warehouse import schema
from pipeline.warehouse.backends import warehouse_backend
from tests.conftest import query

CROSSWALK_IDS = ("spotify_track_id", "isrc", "deezer_track_id", "recording_mbid", "canonical_recording_mbid")


# --- a warehouse made by hand ---------------------------------------------------------------------------------------

@pytest.fixture
def made_warehouse(local_pipeline, luigi_config, tmp_path):
    """Five songs, each a case of the crosswalk: both catalogs found it with one ISRC (TR1); Spotify's track has no
    ISRC and Deezer's has (TR2); neither found it (TR3); nothing looked (TR4, its partition never enriched); Spotify
    found it ambiguous (TR5). MusicBrainz matched TR1 (a merged recording) and not TR3; ListenBrainz counted TR1; the
    snapshots hold a day of Deezer and of ListenBrainz."""
    luigi_config.set("warehouse", url=f"duckdb:///{tmp_path}/made.duckdb")
    backend = warehouse_backend()
    try:
        backend.ensure_schema()
        for n, partition in ((1, "A/A"), (2, "A/A"), (3, "A/A"), (4, "B/A"), (5, "A/A")):
            backend.execute(f"INSERT INTO songs (track_id, song_id, title, artist_name, msd_partition, load_id) VALUES "
                            f"('TR{n}', 'SO{n}', 'Song {n}', 'Artist {n}', '{partition}', 'made')")
        for track, status, score, spotify in (("TR1", "matched", 0.97, "sp1"), ("TR2", "matched", 0.91, "sp2"),
                                              ("TR3", "not_found", 0.41, None), ("TR5", "ambiguous", 0.88, None)):
            backend.execute(f"INSERT INTO spotify_matches (track_id, msd_partition, status, score, spotify_track_id, "
                            f"load_id) VALUES ('{track}', 'A/A', '{status}', {score}, "
                            f"{repr(spotify) if spotify else 'NULL'}, 'made')")
        backend.execute("INSERT INTO spotify_tracks (spotify_track_id, name, isrc, load_id) VALUES "
                        "('sp1', 'Song 1', 'USAAA0000001', 'made'), ('sp2', 'Song 2', NULL, 'made')")
        for track, status, score, deezer in (("TR1", "matched", 1.0, "dz1"), ("TR2", "matched", 0.93, "dz2"),
                                             ("TR3", "not_found", 0.2, None), ("TR5", "not_found", None, None)):
            backend.execute(f"INSERT INTO deezer_matches (track_id, msd_partition, status, score, deezer_track_id, "
                            f"load_id) VALUES ('{track}', 'A/A', '{status}', {score if score is not None else 'NULL'}, "
                            f"{repr(deezer) if deezer else 'NULL'}, 'made')")
        backend.execute("INSERT INTO deezer_tracks (deezer_track_id, title, isrc, load_id) VALUES "
                        "('dz1', 'Song 1', 'USAAA0000001', 'made'), ('dz2', 'Song 2', 'GBBBB0000002', 'made')")
        backend.execute("INSERT INTO musicbrainz_matches (track_id, msd_partition, status, score, method, recording_mbid, "
                        "canonical_recording_mbid, load_id) VALUES ('TR1', 'A/A', 'matched', 1.0, 'echo_nest', "
                        "'00000000-0000-0000-0000-000000000001', '00000000-0000-0000-0000-000000000002', 'made'), "
                        "('TR3', 'A/A', 'not_found', NULL, NULL, NULL, NULL, 'made')")
        backend.execute("INSERT INTO listenbrainz_recordings (track_id, msd_partition, recording_mbid, total_listen_count, "
                        "load_id) VALUES ('TR1', 'A/A', '00000000-0000-0000-0000-000000000002', 1234, 'made')")
        for source, track, listens in (("deezer", "dz1", None), ("listenbrainz", "00000000-0000-0000-0000-000000000002", 1234)):
            backend.execute(f"INSERT INTO track_popularity_daily (snapshot_date, source, source_track_id, msd_track_id, "
                            f"msd_partition, popularity, availability, fetched_at, load_id, listen_count) VALUES "
                            f"(DATE '2026-12-01', '{source}', '{track}', 'TR1', 'A/A', 5, 'available', "
                            f"TIMESTAMP '2026-12-01 07:00:00', 'made', {listens if listens else 'NULL'})")
    finally:
        backend.close()


def crosswalk_rows() -> dict[str, dict]:
    backend = warehouse_backend()
    try:
        names = [c.name for c in dictionary.warehouse_tables()["song_ids"].columns]
        return {r[0]: dict(zip(names, r, strict=True)) for r in backend.query(f"SELECT {', '.join(names)} FROM song_ids")}
    finally:
        backend.close()


def test_the_crosswalk_gives_each_id_from_the_first_source_that_has_it_else_the_first_that_looked(made_warehouse):
    rows = crosswalk_rows()
    assert sorted(rows) == ["TR1", "TR2", "TR3", "TR4", "TR5"]  # one row per MSD track, whatever its matches
    one, two, three, four, five = (rows[f"TR{n}"] for n in range(1, 6))
    assert (one["msd_song_id"], one["msd_partition"], four["msd_partition"]) == ("SO1", "A/A", "B/A")
    # Each catalog's own id, with its own match's status, score and source.
    assert (one["spotify_track_id"], one["spotify_track_id_status"], one["spotify_track_id_score"],
            one["spotify_track_id_source"]) == ("sp1", "matched", 0.97, "spotify")
    assert (one["deezer_track_id"], one["deezer_track_id_score"], one["deezer_track_id_source"]) == ("dz1", 1.0, "deezer")
    # An id two sources give: the first in pipeline order that has one.
    assert (one["isrc"], one["isrc_source"], one["isrc_score"]) == ("USAAA0000001", "spotify", 0.97)
    assert (two["isrc"], two["isrc_source"], two["isrc_status"], two["isrc_score"]) == ("GBBBB0000002", "deezer",
                                                                                          "matched", 0.93)
    # No source has it: the first that looked says why, with its score.
    assert (three["isrc"], three["isrc_status"], three["isrc_score"], three["isrc_source"]) == (None, "not_found", 0.41,
                                                                                              "spotify")
    assert (five["isrc"], five["isrc_status"], five["isrc_source"]) == (None, "ambiguous", "spotify")
    assert (five["deezer_track_id_status"], five["deezer_track_id_score"]) == ("not_found", None)
    # MusicBrainz: the id found and the id MusicBrainz uses now, each with the match's status.
    assert (one["recording_mbid"], one["canonical_recording_mbid"], one["canonical_recording_mbid_source"]) == (
        "00000000-0000-0000-0000-000000000001", "00000000-0000-0000-0000-000000000002", "musicbrainz")
    assert (three["recording_mbid"], three["recording_mbid_status"], three["recording_mbid_source"]) == (
        None, "not_found", "musicbrainz")
    # Nothing looked: every id and its companions are null.
    assert all(four[c] is None for c in four if c.startswith(CROSSWALK_IDS))


def test_the_crosswalk_export_writes_parquet_and_csv_that_pandas_and_duckdb_read_as_the_warehouse_holds_it(
        made_warehouse, tmp_path):
    out = tmp_path / "crosswalk"
    assert export(str(out), only_crosswalk=True) == {"song_ids": 5}
    assert sorted(os.listdir(out)) == ["DATA_DICTIONARY.md", "README.md", "song_ids.csv", "song_ids.parquet"]
    expected = crosswalk_rows()
    names = [c.name for c in dictionary.warehouse_tables()["song_ids"].columns]
    for frame in (pd.read_parquet(out / "song_ids.parquet"), pd.read_csv(out / "song_ids.csv")):
        assert list(frame.columns) == names
        got = {r["msd_track_id"]: {k: (None if pd.isna(v) else v) for k, v in r.items()}
               for r in frame.to_dict("records")}
        assert got == expected
    for path in (out / "song_ids.parquet", out / "song_ids.csv"):
        rows = duckdb.sql(f"SELECT * FROM '{path}' ORDER BY msd_track_id").fetchall()
        assert [dict(zip(names, r, strict=True)) for r in rows] == [expected[k] for k in sorted(expected)]
    field = pq.read_schema(out / "song_ids.parquet").field("isrc")
    assert field.metadata[b"source_and_licence"].decode() == "Spotify (no open licence: its terms); Deezer (no open licence: its terms)"
    readme = (out / "README.md").read_text()
    assert "`song_ids.parquet`, `song_ids.csv` | 5 |" in readme


def test_the_open_export_holds_what_may_be_republished_and_nothing_of_spotify_deezer_or_the_msds_own(
        made_warehouse, tmp_path):
    out = tmp_path / "open"
    counts = export(str(out), open_only=True)
    # Whole tables of the CC0 sources (not MusicBrainz's tags: CC BY-NC-SA), their snapshot rows, and the views
    # cut to their columns.
    assert {"musicbrainz_matches", "musicbrainz_recordings", "listenbrainz_recordings", "listenbrainz_artists",
            "track_popularity_daily", "artist_popularity_daily", "enriched_songs", "song_ids"} <= set(counts)
    assert set(counts) - {"track_popularity_daily", "artist_popularity_daily", "enriched_songs", "song_ids"} == {
        t.name for s in _open_sources() for t in s.tables if s.table_terms(t.name) is None}
    assert "musicbrainz_tags" not in counts
    assert counts["track_popularity_daily"] == 1 and counts["enriched_songs"] == counts["song_ids"] == 5
    snapshots = pd.read_parquet(out / "track_popularity_daily.parquet")
    assert set(snapshots["source"]) == {"listenbrainz"}
    columns = {name: pq.read_schema(out / f"{name}.parquet").names for name in counts}
    every = {c for names in columns.values() for c in names}
    closed = {"spotify_track_id", "isrc", "deezer_track_id", "match_status", "spotify_isrc", "deezer_rank",
              "sources_agree", "spotify_track_id_status", "isrc_source", "deezer_track_id_score"}
    assert not every & closed
    assert not any(re.match(r"(spotify|deezer)_", c) for c in every)
    assert {"recording_mbid", "canonical_recording_mbid", "mb_status", "lb_listen_count",
            "lb_artist_user_count"} <= set(columns["enriched_songs"])
    # The MSD's ids join it to a researcher's MSD; its titles, names and features stay out.
    assert {"track_id", "song_id", "msd_partition"} <= set(columns["enriched_songs"])
    assert not {"title", "artist_name", "release", "tempo", "loudness", "song_hotttnesss"} & set(columns["enriched_songs"])
    assert columns["song_ids"] == ["msd_track_id", "msd_song_id", "msd_partition", "recording_mbid",
                                   "recording_mbid_status", "recording_mbid_score", "recording_mbid_source",
                                   "canonical_recording_mbid", "canonical_recording_mbid_status",
                                   "canonical_recording_mbid_score", "canonical_recording_mbid_source"]
    view = pd.read_parquet(out / "enriched_songs.parquet").set_index("track_id")
    assert view.loc["TR1", "lb_listen_count"] == 1234 and view.loc["TR1", "mb_status"] == "matched"
    for name in counts:  # every column says its source and licence, and each is CC0 or an MSD join key
        for field in pq.read_schema(out / f"{name}.parquet"):
            said = field.metadata[b"source_and_licence"].decode()
            assert "CC0-1.0" in said or (said.startswith("Million Song Dataset") and field.name in (
                "track_id", "song_id", "msd_track_id", "msd_song_id", "msd_partition")), (name, field.name, said)
    readme = (out / "README.md").read_text()
    assert "open data only" in readme and "join keys" in readme and "Spotify" not in readme.split("## Sources")[1]


def _open_sources():
    from pipeline.sources import registry

    return [s for s in registry.registered() if s.republishable]


def test_every_warehouse_column_of_the_dictionary_says_its_source_and_licence():
    text = dictionary.licensed_text()
    by_column, table = {}, None
    for line in text.splitlines():
        if line.startswith("#"):
            section = re.match(r"^### warehouse\.(\w+)$", line)
            table = section.group(1) if section else None
        elif table and (row := re.match(r"^\| `(\w+)`", line)):
            by_column[(table, row.group(1))] = line
    # Every documented column, each ending with its owner's source and licence.
    assert set(by_column) == {(t.name, c.name) for t in dictionary.warehouse_tables().values() for c in t.columns}
    for (name, column), line in by_column.items():
        assert line.endswith(f" {licences.describe(licences.column_owners(name, [column])[column], name)} |"), line
    assert by_column[("enriched_songs", "lb_listen_count")].endswith("| ListenBrainz (CC0-1.0) |")
    assert by_column[("enriched_songs", "deezer_rank")].endswith("| Deezer (no open licence: its terms) |")
    assert by_column[("enriched_songs", "title")].endswith("| Million Song Dataset (no open licence: its terms) |")
    assert by_column[("musicbrainz_matches", "recording_mbid")].endswith("| MusicBrainz (CC0-1.0) |")
    assert by_column[("spotify_tracks", "isrc")].endswith("| Spotify (no open licence: its terms) |")
    assert by_column[("song_ids", "isrc_source")].endswith(
        "| Spotify (no open licence: its terms); Deezer (no open licence: its terms) |")
    assert "each row its `source`'s" in by_column[("track_popularity_daily", "listen_count")]
    # The origins' table opens it: each licence, whether it may be republished, and the terms.
    assert "| MusicBrainz | [CC0-1.0](https://musicbrainz.org/doc/About/Data_License) | yes |" in text
    assert "| Million Song Dataset | [no open licence: its terms]" in text and "MSD terms: research use" in text


def test_a_new_sources_table_gets_its_licence_from_its_source_with_no_line_written_for_it(luigi_config):
    luigi_config.set("sources", plugins="tests.example_source.source")
    owners = licences.column_owners("example_facts", ["label", "plays"])
    assert {o.name for column in owners.values() for o in column} == {"example"}
    assert "example_facts" in dictionary.licensed_text() and "| Example (no open licence: its terms) |" in \
        dictionary.licensed_text()
    assert schema.view_column_sources()["example_label"] == "example"


# --- a run of the four sources against their stand-ins ---------------------------------------------------------------

@pytest.fixture
def four_sources(local_pipeline, luigi_config, spotify_at, sample_root, tmp_path, monkeypatch):
    """Spotify and Deezer sandboxes, the MusicBrainz canonical dump (pinned) and Echo Nest profiles written from the
    sample's world, a ListenBrainz sandbox; all four sources on, a DuckDB warehouse. Returns the dump's path, its
    SHA-256 and the ListenBrainz sandbox."""
    from pipeline.standins.canonical_dump import write_canonical_dump
    from pipeline.standins.listenbrainz_sandbox import SANDBOX_TOKEN, ListenBrainzSandboxServer, ListenBrainzState
    from pipeline.standins.musicbrainz_world import build_world, write_echo_nest_profiles
    from pipeline.standins.spotify_catalog import load_identities

    spotify_at(mode="development")
    world = build_world(load_identities(sample_root))
    dump = write_canonical_dump(world, str(tmp_path / "metabrainz"), stamp="20261201-000000")
    with open(dump + ".sha256", encoding="ascii") as fh:
        sha256 = fh.read().split()[0]
    profiles = str(tmp_path / "metabrainz" / "profiles")
    write_echo_nest_profiles(world, profiles)
    server = ListenBrainzSandboxServer(ListenBrainzState(world)).start()
    luigi_config.set("musicbrainz", canonical_dump=dump, canonical_dump_sha256=sha256, echo_nest_profiles=profiles,
                     lookup_url=server.url, index_dir=tmp_path / "mb-index")
    luigi_config.set("listenbrainz", api_url=server.url)
    luigi_config.set("sources", enabled="spotify, deezer, musicbrainz, listenbrainz")
    luigi_config.set("warehouse", url=f"duckdb:///{tmp_path}/warehouse.duckdb")
    monkeypatch.setenv("LISTENBRAINZ_TOKEN", SANDBOX_TOKEN)
    try:
        yield dump, sha256, server
    finally:
        server.stop()


@pytest.mark.slow
def test_a_run_of_four_sources_has_its_crosswalk_its_open_export_and_its_provenance_in_manifests_and_report(
        four_sources, local_pipeline, sample_root, tmp_path, capsys):
    from pipeline.cli import main as front_end
    from pipeline.report.render import write_report
    from pipeline.sources import registry
    from tests.conftest import staged_manifest

    dump, sha256, listenbrainz = four_sources
    assert front_end(["run"]) == 0, capsys.readouterr()
    capsys.readouterr()

    # song_ids: one row per song, each id and its status, score and source as that source's match table holds them.
    rows = crosswalk_rows()
    songs = {r[0]: r[1] for r in query("SELECT track_id, song_id FROM songs")}
    assert set(rows) == set(songs) and all(rows[t]["msd_song_id"] == songs[t] for t in songs)
    matched = 0
    for source in (s for s in registry.registered() if s.crosswalk_ids):
        joins = " ".join(dict.fromkeys(d.joins for d in source.crosswalk_ids if d.joins))
        values = ", ".join(d.value for d in source.crosswalk_ids)
        for track, status, score, *ids in query(f"SELECT m.track_id, m.status, m.score, {values} FROM "
                                                f"{source.match_table} m {joins}"):
            for declared, value in zip(source.crosswalk_ids, ids, strict=True):
                row = rows[track]
                if row[f"{declared.column}_source"] == source.name:
                    assert (row[declared.column], row[f"{declared.column}_status"],
                            row[f"{declared.column}_score"]) == (value, status, score)
                    matched += value is not None
                else:  # an id another source gave first: this one had none, or came later in pipeline order
                    assert row[declared.column] is not None or value is None
    assert matched and {r["recording_mbid_status"] for r in rows.values()} >= {"matched", "not_found"}
    assert {r["isrc_source"] for r in rows.values()} >= {"spotify"}

    # The crosswalk and the open export, as a researcher makes them.
    assert front_end(["export", "--crosswalk", "--out", str(tmp_path / "crosswalk")]) == 0
    frame = pd.read_parquet(tmp_path / "crosswalk" / "song_ids.parquet")
    assert len(frame) == len(pd.read_csv(tmp_path / "crosswalk" / "song_ids.csv")) == len(songs)
    assert duckdb.sql(f"SELECT count(*) FROM '{tmp_path / 'crosswalk' / 'song_ids.csv'}' WHERE recording_mbid IS NOT "
                      f"NULL").fetchall()[0][0] == sum(1 for r in rows.values() if r["recording_mbid"])
    assert front_end(["export", "--open-only", "--out", str(tmp_path / "open")]) == 0
    assert "open data only" in capsys.readouterr().out
    view = pd.read_parquet(tmp_path / "open" / "enriched_songs.parquet")
    assert "lb_listen_count" in view and "canonical_recording_mbid" in view and len(view) == len(songs)
    assert not [c for c in view.columns if c.startswith(("spotify", "deezer")) or c in ("isrc", "match_status")]
    assert duckdb.sql(f"SELECT count(*) FROM '{tmp_path / 'open' / 'enriched_songs.parquet'}' WHERE lb_listen_count "
                      f"IS NOT NULL").fetchall()[0][0] == query("SELECT count(*) FROM enriched_songs WHERE lb_listen_count "
                                                             "IS NOT NULL")[0][0] > 0
    msd_tables = tuple(f"{t.name}." for t in schema.MSD_TABLES)  # songs, artists, artist_terms, …
    assert not [f for f in os.listdir(tmp_path / "open") if f.startswith(("spotify", "deezer", *msd_tables))]

    # Every stage's manifest says what it used: the MSD's files, each service's host, the pinned dump.
    msd = staged_manifest(local_pipeline, "msd", "A/A")["provenance"]
    assert [(e["kind"], e["location"]) for e in msd] == [("file", os.path.abspath(sample_root))]
    hosts = {name: {e["host"] for e in staged_manifest(local_pipeline, stage, "A/A")["provenance"] if e["kind"] == "api"}
             for name, stage in (("spotify", "spotify"), ("search", "spotify-search"), ("deezer", "deezer"),
                                 ("listenbrainz", "listenbrainz"))}
    assert hosts["listenbrainz"] == {listenbrainz.url.split("//")[1].rstrip("/")}
    assert hosts["spotify"] == hosts["search"] and len(hosts["spotify"]) == 1 and hosts["deezer"]
    identity = staged_manifest(local_pipeline, "musicbrainz", "A/A")["provenance"]
    dumps = [e for e in identity if e["kind"] == "dump"]
    assert dumps == [{"kind": "dump", "name": os.path.basename(dump), "date": "2026-12-01", "sha256": sha256,
                      "location": os.path.abspath(dump)}]
    assert {e["kind"] for e in identity} == {"dump", "file", "api"}  # the profiles, the lookup's host

    # The report prints them, per source, beside each licence and terms.
    page = open(write_report(str(tmp_path / "report.html")), encoding="utf-8").read()
    shown = re.findall(r'data-fact="([^"]+)">([^<]*)<', page)
    assert ("licence_musicbrainz", "CC0-1.0") in shown and ("republishable_spotify", "no") in shown
    assert ("sha256_musicbrainz", sha256) in shown and ("file_musicbrainz", os.path.basename(dump)) in shown
    assert ("host_listenbrainz", listenbrainz.url.split("//")[1].rstrip("/")) in shown
    assert ("host_spotify", next(iter(hosts["spotify"]))) in shown
    assert "MSD terms: research use" in page
    assert ("licence_musicbrainz_tags", "CC-BY-NC-SA-3.0") in shown  # a table under other terms than its source's
