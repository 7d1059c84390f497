"""DATA_DICTIONARY.md documents exactly the fields the pipeline stages.

The staged side is taken from a real extraction of the generated sample, not from a list
in this test, so a field added to (or dropped from) the reader fails here until documented.
"""

from __future__ import annotations

import gzip
import json
import os
import re

import luigi

from pipeline.msd.extract import OUTPUT_FILES, output_name
from pipeline.sources.spotify.enrich import OUTPUT_FILES as ENRICH_OUTPUT_FILES
from pipeline.sources.spotify.tasks import SpotifyEnrich, SpotifySearch
from pipeline.tasks import ExtractPartition
from tests.conftest import run_luigi, stage_folder, staged_manifest


def documented_fields() -> dict[str, set[str]]:
    """`### <stage>/<file>` headings, each followed by a table whose first column is `field`, in
    DATA_DICTIONARY.md and every source's DICTIONARY.md (a heading in several files: the union)."""
    from pipeline import dictionary

    text = "\n".join(open(path, encoding="utf-8").read() for path in dictionary.files())
    sections: dict[str, set[str]] = {}
    current = None
    for line in text.splitlines():
        heading = re.match(r"^### (\S+)$", line)
        if heading:
            current = heading.group(1)
            sections.setdefault(current, set())
        elif current and line.startswith("| `"):
            sections[current].update(re.findall(r"`([^`]+)`", line.split("|")[1]))
    return sections


def test_every_staged_msd_field_is_documented_and_nothing_else(local_pipeline):
    assert run_luigi([ExtractPartition(partition="A/A")]).status == luigi.LuigiStatusCode.SUCCESS
    documented = documented_fields()
    folder = stage_folder(local_pipeline, "msd", "A/A")
    for kind in OUTPUT_FILES:
        with gzip.open(os.path.join(folder, output_name(kind)), "rt", encoding="utf-8") as fh:
            staged = set().union(*(json.loads(line).keys() for line in fh))
        assert staged, kind
        assert documented.get(f"msd/{output_name(kind)}") == staged, kind
    manifest = staged_manifest(local_pipeline, "msd", "A/A")
    assert set(manifest) == documented["msd/_manifest.json"]


def test_every_staged_spotify_field_is_documented_and_nothing_else(local_pipeline, luigi_config, spotify_at, monkeypatch):
    spotify_at(mode="extended")  # every field visible, so every column has values to check
    assert run_luigi([SpotifyEnrich(partition="A/A")]).status == luigi.LuigiStatusCode.SUCCESS
    documented = documented_fields()
    folder = stage_folder(local_pipeline, "spotify", "A/A")
    for name in ENRICH_OUTPUT_FILES:
        with gzip.open(os.path.join(folder, name), "rt", encoding="utf-8") as fh:
            staged = set().union(*(json.loads(line).keys() for line in fh))
        assert staged, name
        assert documented.get(f"spotify/{name}") == staged, name
    manifest = staged_manifest(local_pipeline, "spotify", "A/A")
    assert set(manifest) == documented["spotify/_manifest.json"]
    assert set(manifest["settings"]) == set(SpotifyEnrich(partition="A/A").version_settings())
    searched = staged_manifest(local_pipeline, "spotify-search", "A/A")
    assert set(searched) == documented["spotify-search/_manifest.json"]
    assert set(searched["settings"]) == set(SpotifySearch(partition="A/A").version_settings())


def test_every_warehouse_table_view_and_column_is_documented_and_nothing_else(tmp_path):
    """The DDL applied for real (DuckDB), then its catalog compared with the dictionary."""
    import duckdb

    from pipeline.warehouse import schema

    con = duckdb.connect(str(tmp_path / "dictionary.duckdb"))
    for statement in schema.statements("duckdb"):
        con.execute(statement)
    actual: dict[str, set[str]] = {}
    for table, column in con.execute("SELECT table_name, column_name FROM information_schema.columns").fetchall():
        actual.setdefault(f"warehouse.{table}", set()).add(column)
    views = {f"warehouse.{v}" for v, in con.execute("SELECT table_name FROM information_schema.tables "
                                                     "WHERE table_type = 'VIEW'").fetchall()}
    con.close()
    assert views == {"warehouse.enriched_songs", "warehouse.song_ids"}
    documented = {name: fields for name, fields in documented_fields().items() if name.startswith("warehouse.")}
    assert set(actual) == set(documented)
    for name, columns in actual.items():
        assert documented[name] == columns, name
    # The PostgreSQL and Redshift renderings declare the same tables and columns (one source).
    import sqlglot
    from sqlglot import exp

    for dialect, read in (("postgresql", "postgres"), ("redshift", "redshift")):
        declared = {}
        for statement in schema.statements(dialect):
            tree = sqlglot.parse_one(statement, read=read)
            if isinstance(tree, exp.Create) and tree.kind == "TABLE":
                declared[f"warehouse.{tree.this.this.name}"] = {c.name for c in tree.this.expressions}
        assert declared == {k: v for k, v in actual.items() if k not in views}, dialect
