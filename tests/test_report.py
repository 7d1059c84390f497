"""`python -m pipeline report`: one self-contained page whose numbers are the warehouse's own."""

from __future__ import annotations

import math
import os
import re
from datetime import date, datetime, timedelta

import luigi
import pytest

from pipeline import staging
from pipeline.report import figures
from pipeline.report.render import write_report
from pipeline.sources import answers, registry
from pipeline.tasks import RunAll
from pipeline.warehouse.backends import DuckDBBackend, warehouse_backend
from tests.conftest import run_luigi

FIGURES = ("fig-rate-by-partition", "fig-rate-by-decade", "fig-scores-spotify", "fig-scores-deezer", "fig-agreement",
           "fig-deezer-rank", "fig-artist-fans", "fig-bpm", "fig-genres", "fig-spend")
SECTIONS = ("overview", "coverage", "scores", "agreement", "popularity", "snapshots", "spend", "capabilities")


GROUPED = re.compile(r"\d{1,3}(,\d{3})+(\.\d+)?")


def facts_shown(page: str) -> dict[str, str]:
    """Each fact the page shows, numbers without their thousands separators."""
    return {k: v.replace(",", "") if GROUPED.fullmatch(v) else v
            for k, v in re.findall(r'data-fact="([^"]+)">([^<]*)<', page)}


def figure_svg(page: str, figure: str) -> str:
    start = page.index(f'<figure id="{figure}">')
    return page[start:page.index("</figure>", start)]


def texts(svg: str) -> list[str]:
    """Every piece of text a figure draws (matplotlib keeps text as text: svg.fonttype none)."""
    return re.findall(r"<text [^>]*>([^<]*)</text>", svg)


def _xs(path: str) -> list[float]:
    return [float(x) for x in re.findall(r"(-?[\d.]+) -?[\d.]+", path)]


def legend_outside_axes(svg: str) -> bool:
    """Whether the legend starts right of the axes' frame (patch_2 is the axes' background)."""
    axes = re.search(r'<g id="patch_2">\s*<path d="([^"]+)"', svg).group(1)
    legend = re.search(r'<g id="legend_1">.*?<path d="([^"]+)"', svg, re.DOTALL).group(1)
    return min(_xs(legend)) > max(_xs(axes))


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
    # That section says why it is empty (test_refresh.py fills it).
    assert "holds no snapshot with a popularity or a listen count yet" in page


def test_on_an_empty_warehouse_every_section_says_why(local_pipeline, luigi_config, tmp_path):
    url = f"duckdb:///{tmp_path}/empty.duckdb"
    luigi_config.set("warehouse", url=url)
    backend = DuckDBBackend(url)  # given its warehouse, write_report draws whatever it holds (the command refuses this one)
    try:
        path = write_report(str(tmp_path / "report.html"), backend)
    finally:
        backend.close()
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


# --- a warehouse made by hand: the report's figures and forecast, no sandbox asked ----------------------------------

DAYS = [date(2024, 3, 1) + timedelta(days=n) for n in range(3)]
MOVED = {"dz-1": ("Song 7", "Artist 7", [10, 60, 90]), "dz-2": ("Song 8", "Artist 8", [50, 40, 45]),
         "dz-3": ("A title far too long to be shown whole in a legend beside the plot", "Somebody", [5, 5, 7])}


@pytest.fixture
def made_warehouse(local_pipeline, luigi_config, tmp_path):
    """1,234 songs of partition A/A, Spotify matches with scores across 0..1, and three days of Deezer snapshots
    of three tracks (``MOVED``); returns the DuckDB URL."""
    url = f"duckdb:///{tmp_path}/made.duckdb"
    luigi_config.set("warehouse", url=url)
    backend = warehouse_backend()
    try:
        backend.ensure_schema()
        backend.execute("INSERT INTO songs (track_id, title, artist_name, year, msd_partition, load_id) "
                        "SELECT 'TR' || CAST(i AS VARCHAR), 'Song ' || CAST(i AS VARCHAR), "
                        "'Artist ' || CAST(i AS VARCHAR), 1990 + i % 20, 'A/A', 'made' FROM range(1234) t(i)")
        backend.execute("UPDATE songs SET title = 'A title far too long to be shown whole in a legend beside the plot', "
                        "artist_name = 'Somebody' WHERE track_id = 'TR9'")
        backend.execute("INSERT INTO spotify_matches (track_id, msd_partition, status, score, load_id) "
                        "SELECT 'TR' || CAST(i AS VARCHAR), 'A/A', CASE WHEN i % 100 >= 80 THEN 'matched' "
                        "ELSE 'not_found' END, (i % 100) / 100.0, 'made' FROM range(400) t(i)")
        for (track, (_, _, ranks)), song in zip(MOVED.items(), ("TR7", "TR8", "TR9"), strict=True):
            for day, rank in zip(DAYS, ranks, strict=True):
                backend.execute(f"INSERT INTO track_popularity_daily (snapshot_date, source, source_track_id, "
                                f"msd_track_id, msd_partition, popularity, availability, fetched_at, load_id) VALUES "
                                f"(DATE '{day}', 'deezer', '{track}', '{song}', 'A/A', {rank}, 'available', "
                                f"TIMESTAMP '{day} 12:00:00', 'made')")
    finally:
        backend.close()
    return url


def test_movers_are_named_by_title_and_artist_with_a_date_a_day_and_the_legend_off_the_plot(made_warehouse, tmp_path):
    page = open(write_report(str(tmp_path / "report.html")), encoding="utf-8").read()
    svg = figure_svg(page, "fig-movers-deezer")
    shown = texts(svg)
    assert "Song 7 – Artist 7" in shown and "Song 8 – Artist 8" in shown
    long_name = next(t for t in shown if t.endswith("– Somebody"))
    assert long_name.startswith("A title far too long") and "…" in long_name and len(long_name) < 50
    assert not any(t in " ".join(shown) for t in MOVED)  # no Deezer id left in the legend
    # One tick a day, each a date: the days snapshotted, not 3-hourly times.
    assert [t for t in shown if re.fullmatch(r"\d{4}-\d{2}-\d{2}", t)] == [d.isoformat() for d in DAYS]
    assert legend_outside_axes(svg)


def test_many_days_get_a_date_every_few_days():
    days = [date(2024, 1, 1) + timedelta(days=n) for n in range(60)]
    shown = texts(figures.movers({"A – B": [(d, n) for n, d in enumerate(days)]}, "popularity"))
    ticks = [t for t in shown if re.fullmatch(r"\d{4}-\d{2}-\d{2}", t)]
    assert 2 <= len(ticks) <= figures.MANY_DAYS + 1
    gaps = {(date.fromisoformat(b) - date.fromisoformat(a)).days for a, b in zip(ticks, ticks[1:], strict=False)}
    assert len(gaps) == 1 and gaps.pop() == math.ceil(len(days) / figures.MANY_DAYS)


def test_the_score_histogram_draws_the_configured_threshold(made_warehouse, luigi_config, tmp_path):
    luigi_config.set("spotify", match_threshold=0.72)
    page = open(write_report(str(tmp_path / "report.html")), encoding="utf-8").read()
    svg = figure_svg(page, "fig-scores-spotify")
    assert "threshold 0.72" in texts(svg)  # the legend's entry
    assert any("[spotify] match_threshold" in t for t in texts(svg))  # the label on the line names the setting
    assert "stroke-dasharray" in svg and legend_outside_axes(svg)


def test_numbers_are_grouped_by_thousands_on_the_page_and_the_figures(made_warehouse, tmp_path):
    _ledger_line("spotify", "SpotifySearch-AA", 12_345, datetime(2024, 3, 1, 10), datetime(2024, 3, 1, 11))
    page = open(write_report(str(tmp_path / "report.html")), encoding="utf-8").read()
    assert 'data-fact="songs">1,234<' in page and 'data-fact="spotify_sent">12,345<' in page
    text = re.sub(r"<svg.*?</svg>", "", page, flags=re.DOTALL)
    cells = re.findall(r"<(?:td|span)[^>]*>([^<]*)</(?:td|span)>", text)
    assert not [c for c in cells if re.fullmatch(r"\d{4,}(\.\d+)?", c)]  # every number of 1,000 or more grouped
    assert not re.search(r">\d+\.0<", text)  # no whole number written as a float (41142857.0)
    assert any(GROUPED.fullmatch(t) for t in texts(figure_svg(page, "fig-spend")))  # e.g. 10,000 on its axis
    rate_ticks = texts(figure_svg(page, "fig-rate-by-decade"))
    assert "100%" in rate_ticks and "50%" in rate_ticks or "40%" in rate_ticks


def _ledger_line(source: str, task: str, sent: int, started: datetime, until: datetime) -> None:
    """A line of a task run in the source's ledger, as ``answers.ledger_line`` writes it."""
    stamp = until.isoformat(timespec="seconds") + "Z"
    staging.write_json(staging.target(f"{answers.store_folder(source)}/{answers.LEDGER_DIR}/made--{task}-{stamp}.json"),
                       {"task": task, "run_id": "made", "command": "made", "at": stamp, "sent_total": sent,
                        "started": started.isoformat(timespec="milliseconds") + "Z",
                        "until": until.isoformat(timespec="milliseconds") + "Z"})


def _deezer_limit() -> float:
    from pipeline.sources.deezer.client import PACE_MARGIN
    from pipeline.sources.deezer.settings import deezer

    settings = deezer()
    return settings.rate_limit / settings.rate_window * 86_400 / (1 + PACE_MARGIN)


def test_the_forecast_is_the_configured_limit_whatever_a_sandbox_set_in_process(made_warehouse, luigi_config,
                                                                                sample_root, tmp_path):
    luigi_config.set("deezer", rate_limit=40, rate_window=4)
    t = datetime(2024, 3, 1, 10)
    _ledger_line("deezer", "DeezerEnrich-AA", 500, t, t + timedelta(seconds=10))  # too short a time to say a pace
    outside = facts_shown(open(write_report(str(tmp_path / "outside.html")), encoding="utf-8").read())
    with registry.get("deezer").sandbox(sample_root):  # the demo's: Deezer paced at its sandbox's pace, in-process
        inside = facts_shown(open(write_report(str(tmp_path / "inside.html")), encoding="utf-8").read())
    after = facts_shown(open(write_report(str(tmp_path / "after.html")), encoding="utf-8").read())
    assert inside["deezer_daily"] == outside["deezer_daily"] == after["deezer_daily"] == str(round(_deezer_limit()))
    assert inside["deezer_days_left"] == outside["deezer_days_left"]


def test_the_forecast_is_the_pace_the_ledger_shows_where_that_is_slower_than_the_limit(made_warehouse, tmp_path):
    start = datetime(2024, 3, 1, 10)
    # Two tasks asking at once for 10 minutes, then one more for 5: 15 minutes of asking, the shared ones counted once.
    spans = [(300, 0, 600), (300, 0, 600), (150, 1200, 1500)]
    for n, (sent, begin, end) in enumerate(spans):
        _ledger_line("deezer", f"DeezerEnrich-{n}", sent, start + timedelta(seconds=begin), start + timedelta(seconds=end))
    page = open(write_report(str(tmp_path / "report.html")), encoding="utf-8").read()
    pace = sum(s for s, _, _ in spans) / (600 + 300)
    assert pace * 86_400 < _deezer_limit()  # slower than the configured limit: the pace is the forecast
    shown = facts_shown(page)
    assert shown["deezer_daily"] == str(round(pace * 86_400))
    assert "the pace observed: 750 requests in 15 min of asking" in page
    songs = 1234
    remaining, per_song = songs * 2, round(750 / songs, 3)  # three partitions under the MSD root, one loaded
    assert float(shown["deezer_days_left"]) == round(remaining * per_song / round(pace * 86_400), 2)
    # Faster than the limit (a sandbox's pace): the limit.
    _ledger_line("deezer", "DeezerEnrich-fast", 10_000_000, start + timedelta(hours=1), start + timedelta(hours=1, minutes=15))
    assert facts_shown(open(write_report(str(tmp_path / "fast.html")), encoding="utf-8").read())["deezer_daily"] == \
        str(round(_deezer_limit()))


# --- nothing to report: one line, exit code 2, nothing written -------------------------------------------------------

def _report_command(capsys, out) -> tuple[int, list[str]]:
    from pipeline.cli import main

    code = main(["report", "--out", str(out)])
    captured = capsys.readouterr()
    return code, (captured.out + captured.err).splitlines()


@pytest.mark.parametrize("case", ["mistyped path", "no tables", "no songs"])
def test_a_missing_or_empty_duckdb_warehouse_is_one_line_and_no_file(case, local_pipeline, luigi_config, tmp_path,
                                                                     capsys):
    import duckdb

    path = tmp_path / "warehouse.duckdb"
    if case != "mistyped path":
        duckdb.connect(str(path)).close()
    if case == "no songs":
        backend = DuckDBBackend(f"duckdb:///{path}")
        backend.ensure_schema()
        backend.close()
    named = tmp_path / "warehuse.duckdb" if case == "mistyped path" else path
    luigi_config.set("warehouse", url=f"duckdb:///{named}")
    before = set(os.listdir(tmp_path))
    code, lines = _report_command(capsys, tmp_path / "out" / "report.html")
    assert code == 2 and len(lines) == 1, lines
    assert lines[0].startswith("error: ") and "[warehouse] url" in lines[0] and "MUSIC_ETL_WAREHOUSE_URL" in lines[0]
    assert "python -m pipeline run" in lines[0]
    # No DuckDB file made, no report, no folder for it (the command's own log folder aside).
    assert set(os.listdir(tmp_path)) - before - {"logs"} == set()


def test_a_postgresql_warehouse_without_tables_is_one_line_and_no_file(local_pipeline, luigi_config, postgres_url,
                                                                        tmp_path, capsys):
    luigi_config.set("warehouse", url=postgres_url.replace("%", "%%"))
    code, lines = _report_command(capsys, tmp_path / "report.html")
    assert code == 2 and len(lines) == 1 and "holds none of the pipeline's tables" in lines[0], lines
    assert "[warehouse] url" in lines[0] and not (tmp_path / "report.html").exists()


def test_movers_are_the_biggest_moves_for_their_size_drawn_as_a_change_since_the_first_snapshot():
    from datetime import date

    from pipeline.report.facts import biggest_movers, relative_change

    days = [date(2026, 12, 1), date(2026, 12, 2)]
    series = {"big": [(days[0], 900_000), (days[1], 905_000)], "small": [(days[0], 50_000), (days[1], 52_500)],
              "still": [(days[0], 10), (days[1], 10)], "tie": [(days[0], 50_000), (days[1], 47_500)]}
    # 5,000 on 900,000 is a smaller move than 2,500 on 50,000; equal shares go by id.
    assert biggest_movers(series, 3) == ["small", "tie", "big"]
    assert relative_change(series["tie"]) == [(days[0], 0.0), (days[1], -5.0)]


def test_the_demo_sandboxes_move_each_track_at_a_pace_of_its_own():
    from pipeline.standins.deezer_sandbox import moved_on

    moves = [moved_on(500_000, track_id, 1) - 500_000 for track_id in range(1, 1001)]
    assert len(set(moves)) > 50 and max(moves) > 0 > min(moves)  # not a few equal steps every track ties on
    assert all(moved_on(500_000, t, 0) == 500_000 for t in range(1, 100))  # day 0: the catalog as built


def test_names_with_dollar_signs_are_drawn_as_text():
    from datetime import date

    from pipeline.report import figures

    # A real MSD artist ("Jack Orsen & Taktlo$$"): matplotlib would read "$…$" as math and fail to parse it.
    days = [date(2026, 12, 1), date(2026, 12, 2)]
    svg = figures.movers({"Sex Objekt – Jack Orsen & Taktlo$$": [(days[0], 0.0), (days[1], 2.0)],
                          "$5 – A $ign": [(days[0], 0.0), (days[1], -1.0)]}, "Deezer popularity, % change")
    assert "Taktlo$$" in svg and "$5 – A $ign" in svg
