"""The source shape: a source is one folder and a registry line, and nothing outside names one.

The example source (tests/example_source/, facts read from a CSV) is plugged in by configuration alone
and must reach staging, the warehouse, enriched_songs, status, the report and the export.
"""

from __future__ import annotations

import csv
import glob
import io
import os
import re
import subprocess
import sys
import tokenize

import duckdb
import luigi
import markupsafe
import pytest

from pipeline import staging
from pipeline.errors import TerminalError
from pipeline.sources import registry
from tests.conftest import PROJECT_ROOT, run_luigi, stage_folder
from tests.example_source.source import SOURCE as EXAMPLE

SOURCE_NAMES = re.compile(r"spotify|deezer|spotipy", re.IGNORECASE)
# Where a source may be named: its own folder, the stand-ins that play it, and the registry.
ALLOWED = ("pipeline/sources/spotify/", "pipeline/sources/deezer/", "pipeline/standins/", "pipeline/sources/registry.py")


def test_no_module_outside_the_sources_names_one_in_code():
    """Imports, names and attributes: tokens that are not strings or comments (user-facing text and
    configuration defaults may still say a source's name)."""
    offenders = []
    for path in sorted(glob.glob(os.path.join(PROJECT_ROOT, "pipeline", "**", "*.py"), recursive=True)):
        relative = os.path.relpath(path, PROJECT_ROOT)
        if relative.startswith(ALLOWED):
            continue
        with open(path, encoding="utf-8") as fh:
            for token in tokenize.generate_tokens(io.StringIO(fh.read()).readline):
                if token.type == tokenize.NAME and SOURCE_NAMES.search(token.string):
                    offenders.append(f"{relative}:{token.start[0]} {token.string}")
    assert offenders == []


def test_every_package_folder_is_a_package():
    """find_packages() (setup.py) skips a folder without __init__.py: an installed copy would lack it."""
    missing = [os.path.relpath(folder, PROJECT_ROOT)
               for folder, _, files in os.walk(os.path.join(PROJECT_ROOT, "pipeline"))
               if "__pycache__" not in folder and any(f.endswith(".py") for f in files) and "__init__.py" not in files]
    assert missing == []


def test_the_matcher_and_each_client_import_without_the_task_graph():
    heavy = ("luigi", "pipeline.tasks", "h5py", "boto3", "duckdb", "pipeline.warehouse")
    code = ("import sys, pipeline.matching.names, pipeline.matching.decide, pipeline.matching.ladder, "
            "pipeline.sources.spotify.client, pipeline.sources.deezer.client; "
            f"print(sorted(m for m in {heavy!r} if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], cwd=PROJECT_ROOT, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]", out.stdout


@pytest.mark.slow
def test_luigis_command_line_still_finds_every_task_by_its_name():
    luigi_bin = os.path.join(os.path.dirname(sys.executable), "luigi")
    for task in ("RunAll", "SpotifySearch", "EnrichPartition", "SpotifyEnrich", "DeezerEnrich", "RangeDaily"):
        done = subprocess.run([luigi_bin, "--module", "pipeline", task, "--help"], cwd=PROJECT_ROOT, capture_output=True,
                              text=True, timeout=60)
        assert done.returncode == 0, (task, done.stderr[-2000:])


def test_an_unknown_source_or_one_without_what_it_reads_is_one_line_naming_the_fix(luigi_config):
    with pytest.raises(TerminalError, match="unknown source lastfm; the sources are spotify, deezer"):
        registry.parse_enabled("spotify, lastfm")
    with pytest.raises(TerminalError, match="deezer reads what spotify finds, so enable spotify too"):
        registry.parse_enabled("deezer")
    assert [s.name for s in registry.parse_enabled("deezer,spotify")] == ["spotify", "deezer"]  # pipeline order
    luigi_config.set("sources", plugins="tests.no_such_module")
    with pytest.raises(TerminalError, match="`tests.no_such_module` does not define a source"):
        registry.registered()


@pytest.fixture
def example_source(local_pipeline, luigi_config, sample_root, tmp_path):
    """The example source plugged in and alone enabled, its CSV listing every other track of the sample."""
    tracks = sorted(os.path.basename(p)[:-3] for p in glob.glob(os.path.join(sample_root, "*", "*", "*", "*.h5")))
    facts = {t: (f"label-{i % 3}", i) for i, t in enumerate(tracks) if i % 2 == 0}
    path = tmp_path / "facts.csv"
    with open(path, "w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(["track_id", "label", "plays"])
        writer.writerows([t, label, plays] for t, (label, plays) in facts.items())
    luigi_config.set("sources", plugins="tests.example_source.source", enabled="example")
    luigi_config.set("example", facts=path)
    luigi_config.set("warehouse", url=f"duckdb:///{tmp_path}/warehouse.duckdb")
    return facts


def test_an_example_source_flows_everywhere_with_no_edit_outside_its_folder(example_source, local_pipeline, tmp_path,
                                                                            capsys):
    from pipeline.cli import status
    from pipeline.export import export
    from pipeline.report.render import write_report
    from pipeline.tasks import RunAll

    assert run_luigi([RunAll(partitions="A/A,A/B")]).status == luigi.LuigiStatusCode.SUCCESS
    # Staging: the source's own folder, one row per listed song of the partition.
    folder = stage_folder(local_pipeline, "example", "A/A")
    staged = staging.read_jsonl_gz(staging.target(f"{folder}/facts.jsonl.gz"))
    con = duckdb.connect(str(tmp_path / "warehouse.duckdb"), read_only=True)
    try:
        loaded = dict(con.sql("SELECT track_id, label FROM example_facts").fetchall())
        view = dict(con.sql("SELECT track_id, example_label FROM enriched_songs WHERE example_label IS NOT NULL").fetchall())
        songs = {r[0] for r in con.sql("SELECT track_id FROM songs").fetchall()}
    finally:
        con.close()
    expected = {t: label for t, (label, _) in example_source.items() if t in songs}
    assert staged and {r["track_id"] for r in staged} <= set(expected)
    assert loaded == view == expected
    # status: the source has its column, and both partitions are loaded.
    assert status.main() == 0
    out = capsys.readouterr().out
    assert re.search(r"^partition\s+tracks\s+quarant\.\s+Example\s+rate\s+requests\s+loaded$", out, re.MULTILINE), out
    total = next(line for line in out.splitlines() if line.startswith("total")).split()
    assert int(total[3]) == len(expected) and "2/3 partitions loaded" in out
    # The report: the source's own section, its numbers the warehouse's.
    page = open(write_report(str(tmp_path / "report.html")), encoding="utf-8").read()
    assert '<h2 id="example">Example facts</h2>' in page
    assert f'data-fact="example_labelled">{len(expected)}<' in page
    assert str(markupsafe.escape(EXAMPLE.terms)) in page  # its terms, beside every other enabled source's
    # The export: its table and its view columns, described by its dictionary.
    counts = export(str(tmp_path / "export"), "parquet")
    assert counts["example_facts"] == len(expected)
    import pyarrow.parquet as pq

    view_file = pq.read_table(tmp_path / "export" / "enriched_songs.parquet")
    assert "example_label" in view_file.column_names
    assert view_file.schema.field("example_plays").metadata[b"description"].startswith(b"example_facts.plays")
    assert "### warehouse.example_facts" in (tmp_path / "export" / "DATA_DICTIONARY.md").read_text()
