"""`python -m pipeline report`: one self-contained page whose numbers are the warehouse's own."""

from __future__ import annotations

import os
import re

import luigi
import pytest

from pipeline.report.render import write_report
from pipeline.sources import answers
from pipeline.tasks import RunAll
from pipeline.warehouse.backends import warehouse_backend
from tests.conftest import run_luigi

FIGURES = ("fig-rate-by-partition", "fig-rate-by-decade", "fig-scores-spotify", "fig-scores-deezer", "fig-agreement",
           "fig-deezer-rank", "fig-artist-fans", "fig-bpm", "fig-genres", "fig-spend")
SECTIONS = ("overview", "coverage", "scores", "agreement", "popularity", "snapshots", "spend", "capabilities")


def facts_shown(page: str) -> dict[str, str]:
    return dict(re.findall(r'data-fact="([^"]+)">([^<]*)<', page))


def figure_ids(page: str) -> list[str]:
    return re.findall(r'<figure id="([^"]+)">\s*<svg', page)


def self_contained(page: str) -> None:
    assert "<script" not in page.lower()
    # Nothing fetched when the page opens: no external stylesheet, image or font.
    assert not re.search(r'(src|href)="(https?:)?//', page)
    assert not re.search(r"url\((https?:)?//", page)


@pytest.mark.slow
def test_the_report_shows_every_figure_and_the_warehouses_own_numbers(loaded_warehouse, tmp_path):
    spotify, deezer = loaded_warehouse
    page = open(write_report(str(tmp_path / "report.html")), encoding="utf-8").read()
    self_contained(page)
    assert figure_ids(page) == list(FIGURES)
    assert all(f'<h2 id="{s}">' in page for s in SECTIONS)
    shown = facts_shown(page)
    backend = warehouse_backend()
    try:
        def sql(query):
            return backend.scalar(query)
        expected = {
            "songs": sql("SELECT count(*) FROM enriched_songs"),
            "partitions": sql("SELECT count(DISTINCT msd_partition) FROM enriched_songs"),
            "spotify_matched": sql("SELECT count(*) FROM enriched_songs WHERE match_status = 'matched'"),
            "deezer_matched": sql("SELECT count(*) FROM enriched_songs WHERE deezer_track_id IS NOT NULL"),
            "agreement_both": sql("SELECT count(*) FROM enriched_songs WHERE sources_agree IS NOT NULL"),
            "agreement_agree": sql("SELECT count(*) FROM enriched_songs WHERE sources_agree"),
            "agreement_disagree": sql("SELECT count(*) FROM enriched_songs WHERE NOT sources_agree"),
            "status_spotify_not_found": sql("SELECT count(*) FROM spotify_matches WHERE status = 'not_found'"),
            "status_deezer_not_found": sql("SELECT count(*) FROM deezer_matches WHERE status = 'not_found'"),
            "decade_1990_songs": sql("SELECT count(*) FROM songs WHERE year >= 1990 AND year < 2000"),
            "decade_None_songs": sql("SELECT count(*) FROM songs WHERE year IS NULL OR year = 0"),
        }
    finally:
        backend.close()
    assert {k: shown[k] for k in expected} == {k: str(v) for k, v in expected.items()}
    assert int(shown["agreement_disagree"]) > 0  # the sample has disagreements, so the check means something
    # Requests: every one each sandbox received, as the ledgers beside the answers count them.
    assert shown["spotify_sent"] == str(sum(spotify.state.stats()["requests"].values()))
    assert shown["deezer_sent"] == str(sum(deezer.state.stats()["requests"].values()))
    # This process ran the only command that asked: what it sent is all that was sent.
    assert shown["spotify_sent_this_command"] == shown["spotify_sent"] and shown["deezer_sent_this_command"] == shown["deezer_sent"]
    assert shown["capability_spotify.audio_features"] == "no" and shown["capability_deezer.track_isrc"] == "yes"
    assert "holds no snapshot with a popularity yet" in page  # that section says why it is empty (test_refresh.py fills it)


def test_on_an_empty_warehouse_every_section_says_why(local_pipeline, luigi_config, tmp_path):
    luigi_config.set("warehouse", url=f"duckdb:///{tmp_path}/empty.duckdb")
    path = write_report(str(tmp_path / "report.html"))
    # A page to share: readable as any file the user writes (the umask decides), not its owner's alone.
    umask = os.umask(0)
    os.umask(umask)
    assert os.stat(path).st_mode & 0o777 == 0o666 & ~umask
    assert not [n for n in os.listdir(tmp_path) if n.startswith(".report-")]  # no temporary file left
    page = open(path, encoding="utf-8").read()
    self_contained(page)
    assert figure_ids(page) == []
    # The three sections every warehouse has, and each registered source's own.
    from pipeline.sources import registry
    from pipeline.sources.base import ReportContext

    own = sum(len(s.report_sections(ReportContext(None, set(), True, "the warehouse has no songs yet")))
              for s in registry.registered())
    assert page.count("Not shown: the warehouse has no songs yet") == 3 + own
    assert "Not shown: no dated popularity snapshots yet" in page


def test_with_deezer_off_the_spotify_sections_stand_and_the_deezer_ones_say_why(local_pipeline, luigi_config,
                                                                                 spotify_at, tmp_path):
    spotify_at(mode="development")
    luigi_config.set("sources", enabled="spotify")
    luigi_config.set("warehouse", url=f"duckdb:///{tmp_path}/warehouse.duckdb")
    assert run_luigi([RunAll(partitions="A/A")]).status == luigi.LuigiStatusCode.SUCCESS
    page = open(write_report(str(tmp_path / "report.html")), encoding="utf-8").read()
    assert figure_ids(page) == ["fig-rate-by-partition", "fig-rate-by-decade", "fig-scores-spotify", "fig-spend"]
    assert page.count("Not shown: no Deezer matches are loaded") == 2
    assert facts_shown(page)["deezer_sent"] == "0"


def test_the_forecast_uses_the_quota_spotify_stopped_at(local_pipeline, luigi_config, spotify_at, tmp_path):
    """A quota stop: the report names it and forecasts the rest at what was spent that day."""
    spotify_at(mode="development", daily_quota=12)
    luigi_config.set("warehouse", url=f"duckdb:///{tmp_path}/warehouse.duckdb")
    run_luigi([RunAll(partitions="A/A")])  # A/A's enrichment stops on the quota; extraction is done
    spotify_at(mode="development")  # the next day: a new quota
    assert run_luigi([RunAll(partitions="A/A")]).status == luigi.LuigiStatusCode.SUCCESS
    page = open(write_report(str(tmp_path / "report.html")), encoding="utf-8").read()
    assert "Spotify quota exhausted (partition A/A)" in page
    spent = answers.total_spent("spotify")["sent_total"]
    shown = facts_shown(page)
    assert shown["spotify_sent"] == str(spent)
    # Three partitions under the MSD root, one loaded: about two partitions' songs are left.
    remaining = int(shown["remaining_songs"])
    backend = warehouse_backend()
    try:
        songs = backend.scalar("SELECT count(*) FROM songs")
    finally:
        backend.close()
    assert remaining == songs * 2
    assert float(shown["spotify_days_left"]) == round(remaining * round(spent / songs, 3) / spent, 1)
