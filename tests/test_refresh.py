"""The daily refresh: dated snapshots from sandboxes whose ranks move day by day, days rerun and
backfilled, relinked ids in the match history, new MSD files picked up alone, and a quota stop
whose day the next run completes exactly."""

from __future__ import annotations

import glob
import os
import shutil
from collections import Counter
from datetime import UTC, date, datetime, timedelta

import luigi
import luigi.tools.range
import pytest

from pipeline import staging
from pipeline.standins.deezer_sandbox import moved_on
from pipeline.standins.msd_sample import generate_sample
from pipeline.tasks import DailyRefresh, RunAll
from pipeline.tasks.refresh import PlanRefresh, read_plan, summary_target
from pipeline.warehouse.backends import warehouse_backend
from tests.conftest import fresh_process_view, query, run_luigi, stage_folder

# Ten days ago: a snapshot date must not be later than today, and README's queries look 30 days back.
DAY = datetime.now(UTC).date() - timedelta(days=10)
DAY2 = DAY + timedelta(days=1)


def refresh(day: date, spotify=None, deezer=None, offset: int | None = None):
    """Run ``DailyRefresh(day)`` with the sandboxes showing the catalog ``offset`` days on (default: the day's)."""
    for server in (spotify, deezer):
        if server is not None:
            server.state.day = (day - DAY).days if offset is None else offset
    fresh_process_view()
    return run_luigi([DailyRefresh(date=day)])


def deezer_matches() -> dict[str, str]:
    return dict(query("SELECT track_id, deezer_track_id FROM deezer_matches WHERE status = 'matched'"))


@pytest.fixture
def daily(loaded_warehouse, luigi_config):
    """The sample loaded through both sources, then refreshed with budgets that cover every track."""
    luigi_config.set("deezer", refresh_budget=10_000).set("spotify", refresh_budget=10_000)
    return loaded_warehouse


@pytest.mark.slow
@pytest.mark.parametrize("warehouse_url", ["duckdb", "postgresql"], indirect=True)
def test_three_days_give_three_snapshots_per_track_with_each_days_rank(daily, tmp_path):
    spotify, deezer = daily
    matched = deezer_matches()
    assert matched
    for offset in range(3):
        assert refresh(DAY + timedelta(days=offset), spotify, deezer).status == luigi.LuigiStatusCode.SUCCESS

    rows = query("SELECT msd_track_id, snapshot_date, popularity, availability FROM track_popularity_daily "
                 "WHERE source = 'deezer'")
    per_track = Counter(r[0] for r in rows)
    assert set(per_track) == set(matched) and set(per_track.values()) == {3}
    catalog = deezer.state.catalog.tracks
    for msd_track, day, popularity, availability in rows:
        track = catalog[int(matched[msd_track])]
        assert popularity == moved_on(track.rank, track.id, (day - DAY).days)  # what the sandbox served that day
        assert availability == "available"
    fans = query("SELECT source_artist_id, snapshot_date, followers FROM artist_popularity_daily WHERE source = 'deezer'")
    assert len(fans) == 3 * len({r[0] for r in fans})
    for artist_id, day, followers in fans:
        artist = deezer.state.catalog.artists[int(artist_id)]
        assert followers == moved_on(artist.nb_fan, artist.id, (day - DAY).days)
    # A Development-Mode app: availability is checked, popularity is not visible, no artist request is spent.
    spotify_rows = query("SELECT count(*), count(popularity), count(DISTINCT snapshot_date) FROM track_popularity_daily "
                         "WHERE source = 'spotify'")[0]
    spotify_matched = query("SELECT count(*) FROM spotify_matches WHERE status = 'matched'")[0][0]
    assert spotify_rows == (3 * spotify_matched, 0, 3)
    assert query("SELECT count(*) FROM artist_popularity_daily WHERE source = 'spotify'")[0][0] == 0
    # What is staged is what the tables hold, column for column (DATA_DICTIONARY.md, "refresh/").
    import gzip
    import json

    from pipeline.warehouse.schema import SNAPSHOT_TABLES
    for table in SNAPSHOT_TABLES:
        paths = glob.glob(os.path.join(staging.root(), "refresh", "deezer", DAY.isoformat(), "*", "*", table.file))
        with gzip.open(paths[0], "rt", encoding="utf-8") as fh:
            keys = set(json.loads(fh.readline()))
        assert keys == {c.name for c in table.columns()} - {"load_id"}
    summary = staging.read_json(summary_target(DAY + timedelta(days=2)))
    assert summary["sources"]["deezer"]["tracks_refreshed"] == summary["sources"]["deezer"]["tracks_due"]
    assert summary["sources"]["deezer"]["oldest_snapshot_age_days"] == 0
    # The report's "popularity over time" now has its figure.
    from pipeline.report.render import write_report

    with open(write_report(str(tmp_path / "report.html")), encoding="utf-8") as fh:
        page = fh.read()
    assert 'data-fact="snapshot_dates_deezer">3<' in page and 'id="fig-movers-deezer"' in page


@pytest.mark.slow
def test_rerunning_a_day_asks_nothing_and_changes_nothing(daily, luigi_config):
    spotify, deezer = daily
    assert refresh(DAY, spotify, deezer).status == luigi.LuigiStatusCode.SUCCESS
    before = sorted(query("SELECT * FROM track_popularity_daily"), key=str)
    sent = (sum(spotify.state.requests.values()), sum(deezer.state.requests.values()))

    assert refresh(DAY, spotify, deezer, offset=7).status == luigi.LuigiStatusCode.SUCCESS  # done: not run again
    assert sorted(query("SELECT * FROM track_popularity_daily"), key=str) == before
    # Even with its markers gone, the day reloads from its plan and its stored answers: the same rows, no request.
    with_markers = query("SELECT count(*) FROM etl_load_markers")[0][0]
    backend = warehouse_backend()
    try:
        with backend.transaction():
            backend.execute("DELETE FROM etl_load_markers WHERE step LIKE 'snapshot:%' OR step LIKE 'refresh:%'")
    finally:
        backend.close()
    assert refresh(DAY, spotify, deezer, offset=7).status == luigi.LuigiStatusCode.SUCCESS
    after = sorted(query("SELECT * FROM track_popularity_daily"), key=str)
    assert [r[:-2] for r in after] == [r[:-2] for r in before]  # all but fetched_at and load_id …
    assert [r[-2] for r in after] == [r[-2] for r in before]  # … and fetched_at: the stored answers' times
    assert (sum(spotify.state.requests.values()), sum(deezer.state.requests.values())) == sent
    assert query("SELECT count(*) FROM etl_load_markers")[0][0] == with_markers


@pytest.mark.slow
def test_a_missed_day_is_backfilled_by_range_daily(daily, luigi_config):
    spotify, deezer = daily
    for day in (DAY, DAY + timedelta(days=2)):
        assert refresh(day, spotify, deezer).status == luigi.LuigiStatusCode.SUCCESS
    deezer.state.day = 3
    fresh_process_view()
    # RangeDaily's clock, injected: "now" is the third day's noon (UTC), so the range ends with it.
    now = int(datetime.combine(DAY + timedelta(days=2), datetime.min.time(), tzinfo=UTC).timestamp()) + 12 * 3600
    assert run_luigi([luigi.tools.range.RangeDaily(of=DailyRefresh, param_name="date", start=DAY, now=now)]).status == \
        luigi.LuigiStatusCode.SUCCESS
    dates = [r[0] for r in query("SELECT DISTINCT snapshot_date FROM track_popularity_daily ORDER BY 1")]
    assert dates == [DAY, DAY + timedelta(days=1), DAY + timedelta(days=2)]
    backfilled = query("SELECT DISTINCT popularity IS NOT NULL FROM track_popularity_daily "
                       f"WHERE source = 'deezer' AND snapshot_date = DATE '{DAY2}'")
    assert backfilled == [(True,)]
    # Nothing left: the same range again schedules nothing new and asks nothing.
    sent = sum(deezer.state.requests.values())
    fresh_process_view()
    result = run_luigi([luigi.tools.range.RangeDaily(of=DailyRefresh, param_name="date", start=DAY, now=now)])
    assert result.status == luigi.LuigiStatusCode.SUCCESS and sum(deezer.state.requests.values()) == sent


@pytest.mark.slow
def test_a_future_day_is_refused(daily, luigi_config):
    spotify, deezer = daily
    luigi_config.set("refresh", timezone="Pacific/Kiritimati")  # UTC+14: its today is at most tomorrow in UTC
    too_late = datetime.now(UTC).date() + timedelta(days=2)
    fresh_process_view()
    result = run_luigi([PlanRefresh(date=too_late)])
    assert result.status == luigi.LuigiStatusCode.FAILED
    assert not staging.target(f"{staging.root()}/refresh/plans/{too_late}.json").exists()


@pytest.mark.slow
@pytest.mark.parametrize("warehouse_url", ["duckdb", "postgresql"], indirect=True)
def test_relinked_and_gone_ids_land_in_the_match_history(daily):
    spotify, deezer = daily
    assert refresh(DAY, spotify, deezer).status == luigi.LuigiStatusCode.SUCCESS
    matched = deezer_matches()
    relinked_track, gone_track = sorted(matched)[:2]
    other = next(t for t in deezer.state.catalog.tracks if str(t) != matched[relinked_track])
    deezer.state.relinked[int(matched[relinked_track])] = other
    deezer.state.gone.add(int(matched[gone_track]))
    spotify_id = query(f"SELECT spotify_track_id FROM spotify_matches WHERE status = 'matched' "
                       f"AND track_id NOT IN ('{relinked_track}', '{gone_track}') ORDER BY track_id LIMIT 1")[0][0]
    spotify_other = next(t for t in spotify.state.catalog.tracks if t != spotify_id)
    spotify.state.relinked[spotify_id] = spotify_other
    assert refresh(DAY + timedelta(days=1), spotify, deezer).status == luigi.LuigiStatusCode.SUCCESS

    history = query("SELECT track_id, deezer_track_id, availability, relinked_to, change_reason, valid_to IS NULL "
                    f"FROM deezer_match_history WHERE track_id IN ('{relinked_track}', '{gone_track}') "
                    "ORDER BY track_id, valid_from, valid_to IS NULL")
    by_track = {t: [r[1:] for r in history if r[0] == t] for t in (relinked_track, gone_track)}
    assert [r[1:] for r in by_track[relinked_track]] == [
        (None, None, "first_seen", False), ("available", None, "available", False),
        ("relinked", str(other), "relinked", True)]
    assert [r[1:] for r in by_track[gone_track]][-1] == ("gone", None, "gone", True)
    # The match tables stay the current decision; one open history row per track.
    assert query(f"SELECT deezer_track_id FROM deezer_matches WHERE track_id = '{relinked_track}'")[0][0] == \
        matched[relinked_track]
    assert query("SELECT count(*) - count(DISTINCT track_id) FROM deezer_match_history WHERE valid_to IS NULL")[0][0] == 0
    spotify_history = query("SELECT availability, relinked_to, valid_to IS NULL FROM spotify_match_history "
                            f"WHERE spotify_track_id = '{spotify_id}' ORDER BY valid_from, valid_to IS NULL")
    assert spotify_history[-1] == ("relinked", spotify_other, True)
    relinked_row = query("SELECT availability, relinked_to FROM track_popularity_daily WHERE source = 'spotify' "
                         f"AND source_track_id = '{spotify_id}' AND snapshot_date = DATE '{DAY2}'")
    assert relinked_row == [("relinked", spotify_other)]


@pytest.mark.slow
def test_a_new_msd_file_is_picked_up_alone(luigi_config, spotify_at, sample_root, tmp_path):
    root = tmp_path / "msd"
    shutil.copytree(sample_root, root)
    luigi_config.set("msd", root=str(root))
    luigi_config.set("staging", root=str(tmp_path / "staging"))
    luigi_config.set("warehouse", url=f"duckdb:///{tmp_path}/warehouse.duckdb")
    spotify_at(mode="development")
    assert run_luigi([RunAll()]).status == luigi.LuigiStatusCode.SUCCESS
    staged_root = str(tmp_path / "staging")
    before = {(stage, p): stage_folder(staged_root, stage, p) for stage in ("msd", "spotify", "deezer")
              for p in ("A/A", "A/B", "B/A")}
    loads = dict(query("SELECT msd_partition, load_id FROM etl_load_markers WHERE step = 'load'"))
    songs = query("SELECT count(*) FROM songs")[0][0]

    extra = tmp_path / "extra"
    generate_sample(str(extra), songs=2, seed=77, partitions=["A/A"])
    added = glob.glob(str(extra / "A" / "A" / "*" / "*.h5"))
    for path in added:
        target = root / os.path.relpath(path, extra)
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(path, target)
    fresh_process_view()
    assert run_luigi([RunAll()]).status == luigi.LuigiStatusCode.SUCCESS

    for stage in ("msd", "spotify", "deezer"):
        for partition in ("A/B", "B/A"):  # untouched: same folder, no second output
            assert staging.manifest_folders(f"{staged_root}/{stage}/{partition}") == [before[(stage, partition)]]
        assert len(staging.manifest_folders(f"{staged_root}/{stage}/A/A")) == 2
    now = dict(query("SELECT msd_partition, load_id FROM etl_load_markers WHERE step = 'load'"))
    assert now["A/B"] == loads["A/B"] and now["B/A"] == loads["B/A"] and now["A/A"] != loads["A/A"]
    assert query("SELECT count(*) FROM songs")[0][0] == songs + len(added)
    # The newcomers have their first history rows; the rest of A/A kept theirs.
    assert query("SELECT count(*) FROM spotify_match_history WHERE valid_to IS NOT NULL")[0][0] == 0


@pytest.mark.slow
def test_a_quota_stop_mid_day_and_the_next_run_complete_the_day_exactly(luigi_config, local_pipeline, spotify_at,
                                                                        tmp_path):
    luigi_config.set("warehouse", url=f"duckdb:///{tmp_path}/warehouse.duckdb")
    spotify = spotify_at(mode="development")
    assert run_luigi([RunAll()]).status == luigi.LuigiStatusCode.SUCCESS
    luigi_config.set("spotify", refresh_budget=10_000)
    matched = query("SELECT count(DISTINCT spotify_track_id) FROM spotify_matches WHERE status = 'matched'")[0][0]
    # The quota runs out halfway through the day's Spotify lookups.
    spotify.state.daily_quota = spotify.state.quota_used + matched // 2
    asked_before, refused_before = len(spotify.state.log), spotify.state.responses["429"]
    assert refresh(DAY, spotify, spotify_at.deezer).status != luigi.LuigiStatusCode.SUCCESS
    refused = spotify.state.responses["429"] - refused_before
    assert refused > 0
    # Deezer's snapshot of the day is loaded whole; Spotify's not at all: the warehouse never holds half a source's day.
    assert query("SELECT count(*) FROM track_popularity_daily WHERE source = 'spotify'")[0][0] == 0
    assert query("SELECT count(*) FROM track_popularity_daily WHERE source = 'deezer'")[0][0] > 0
    spotify.state.daily_quota = None  # the quota came back
    assert refresh(DAY, spotify, spotify_at.deezer).status == luigi.LuigiStatusCode.SUCCESS

    planned = read_plan(DAY)["sources"]["spotify"]
    assert planned["tracks_planned"] == matched
    paths = [path.split("?")[0] for _, path in spotify.state.log[asked_before:]]
    assert paths.count("/v1/tracks/") <= 1  # the batch endpoint probed once (Development Mode: 403, remembered)
    lookups = Counter(p for p in paths if p != "/v1/tracks/")
    # Each track answered once over both runs: asked again only where the quota refused it (429, no answer).
    assert len(lookups) == matched and sum(lookups.values()) == matched + refused
    rows = query("SELECT count(DISTINCT source_track_id) FROM track_popularity_daily WHERE source = 'spotify'")[0][0]
    assert rows == matched


@pytest.mark.slow
# The old [refresh] <source>_budget keys are read on purpose here; Luigi warns about them at every read.
@pytest.mark.filterwarnings("ignore:The use of the configuration \\[refresh\\]:DeprecationWarning")
@pytest.mark.filterwarnings("ignore::luigi.parameter.UnconsumedParameterWarning")
def test_a_budget_short_of_every_track_rolls_oldest_first(loaded_warehouse, luigi_config):
    spotify, deezer = loaded_warehouse
    matched = deezer_matches()
    tracks = len(set(matched.values()))
    # The budgets by the names earlier versions read ([refresh] <source>_budget): still honoured.
    luigi_config.set("refresh", deezer_budget=tracks // 3 + 20, spotify_budget=5)
    days = [DAY + timedelta(days=i) for i in range(5)]
    fewest = tracks
    for day in days:
        assert refresh(day, spotify, deezer).status == luigi.LuigiStatusCode.SUCCESS
        plan = read_plan(day)["sources"]["deezer"]
        assert plan["requests_planned"] <= plan["budget"]
        assert 0 < plan["tracks_planned"] < tracks
        fewest = min(fewest, plan["tracks_planned"])
    last = dict(query("SELECT source_track_id, max(snapshot_date) FROM track_popularity_daily "
                      "WHERE source = 'deezer' GROUP BY source_track_id"))
    assert len(last) == tracks  # every track got its turn
    ages = [(days[-1] - d).days for d in last.values()]
    # Oldest first, at least `fewest` tracks a day: each track's turn comes within ⌈N / fewest⌉ days.
    assert max(ages) <= -(-tracks // fewest) - 1
    summary = staging.read_json(summary_target(days[-1]))["sources"]["deezer"]
    assert summary["oldest_snapshot_age_days"] == max(ages) and summary["never_snapshotted"] == 0


def planned_tracks(day: date, source: str) -> set[str]:
    """The source track ids ``day``'s kept plan refreshes."""
    partitions = read_plan(day)["sources"][source]["partitions"]
    return {track for part in partitions.values() for track, _ in part["tracks"]}


@pytest.mark.slow
def test_a_backfilled_day_refreshes_the_tracks_no_day_holds_first(loaded_warehouse, luigi_config):
    """DailyRefresh(D) run after D+1, each with a budget short of every track: D takes the tracks D+1 left
    never snapshotted, not the ones D+1 already holds."""
    spotify, deezer = loaded_warehouse
    tracks = len(set(deezer_matches().values()))
    luigi_config.set("deezer", refresh_budget=tracks // 3 + 20).set("spotify", refresh_budget=5)
    assert refresh(DAY2, spotify, deezer).status == luigi.LuigiStatusCode.SUCCESS
    later = planned_tracks(DAY2, "deezer")
    assert 0 < len(later) < tracks

    assert refresh(DAY, spotify, deezer).status == luigi.LuigiStatusCode.SUCCESS  # the backfill
    backfilled = planned_tracks(DAY, "deezer")
    plan = read_plan(DAY)["sources"]["deezer"]
    assert backfilled and not backfilled & later  # every track it took had no snapshot on any date
    assert plan["never_snapshotted"] == tracks - len(later)
    for source in ("deezer", "spotify"):
        snapshotted = {r[0] for r in query("SELECT DISTINCT source_track_id FROM track_popularity_daily "
                                           f"WHERE source = '{source}'")}
        assert snapshotted == planned_tracks(DAY, source) | planned_tracks(DAY2, source)  # two days, no repeats
        assert len(snapshotted) == len(planned_tracks(DAY, source)) + len(planned_tracks(DAY2, source))
    summary = staging.read_json(summary_target(DAY))["sources"]["deezer"]
    assert summary["never_snapshotted"] == tracks - len(later) - len(backfilled)
    assert summary["oldest_snapshot_age_days"] == 0  # every snapshot is of the day or later

    # The days after take what neither holds, then the oldest latest snapshot: the backfilled day's tracks (latest
    # on D) before the later day's (latest on D+1).
    never = set(deezer_matches().values()) - later - backfilled
    day = DAY2
    while True:
        day += timedelta(days=1)
        assert refresh(day, spotify, deezer).status == luigi.LuigiStatusCode.SUCCESS
        planned = planned_tracks(day, "deezer")
        assert planned & never == never or planned <= never
        never -= planned
        again = planned & (later | backfilled)
        if again:
            assert again <= backfilled or backfilled <= again
            break


@pytest.mark.slow
@pytest.mark.parametrize("warehouse_url", ["duckdb"], indirect=True)  # its statements are captured on DuckDB
def test_the_refresh_sql_parses_as_redshift(daily, monkeypatch):
    """The refresh sends the same SQL to every backend but the staged-file loads: every statement a
    DuckDB refresh sent (a relink included) parses as Redshift's, and so does Redshift's own load
    of a staged file (COPY into a stage table)."""
    import sqlglot
    from sqlglot import exp

    from pipeline.warehouse.backends import DuckDBBackend, RedshiftBackend
    from pipeline.warehouse.dry_run import recording
    from pipeline.warehouse.schema import SNAPSHOT_TABLES
    from pipeline.warehouse.snapshots import insert_staged

    spotify, deezer = daily
    sent: list[str] = []
    original = DuckDBBackend.query

    def logged_query(self, sql):
        sent.append(sql)
        return original(self, sql)
    monkeypatch.setattr(DuckDBBackend, "query", logged_query)
    monkeypatch.setattr(DuckDBBackend, "_execute", lambda self, sql: (sent.append(sql), self.con.execute(sql)))
    assert refresh(DAY, spotify, deezer).status == luigi.LuigiStatusCode.SUCCESS
    deezer.state.gone.add(int(sorted(deezer_matches().values())[0]))
    assert refresh(DAY + timedelta(days=1), spotify, deezer).status == luigi.LuigiStatusCode.SUCCESS

    redshift = recording(RedshiftBackend("redshift://etl@cluster:5439/music",
                                         iam_role="arn:aws:iam::123456789012:role/music-etl-redshift-copy"), {})
    for table in SNAPSHOT_TABLES:
        insert_staged(redshift, table, f"s3://bucket/staging/refresh/deezer/2026-11-01/A/A/{table.file}", "l1")
    ours = [s for s in sent if any(t in s for t in ("_daily", "_match_history", "snapshot:", "refresh:"))
            and "read_json(" not in s] + redshift.statements
    assert any("UPDATE deezer_match_history" in s for s in ours) and any(s.startswith("COPY stage_") for s in ours)
    for sql in ours:
        tree = sqlglot.parse_one(sql, read="redshift", error_level=sqlglot.ErrorLevel.RAISE)
        assert not isinstance(tree, exp.Command), sql


@pytest.mark.slow
def test_refresh_catches_up_to_today_in_the_configured_time_zone(daily, luigi_config, capsys):
    from pipeline.cli import main

    spotify, deezer = daily
    assert refresh(DAY, spotify, deezer).status == luigi.LuigiStatusCode.SUCCESS  # the first day ever refreshed
    spotify.state.day = deezer.state.day = 2
    luigi_config.set("refresh", timezone="Asia/Tokyo")
    fresh_process_view()
    # 22:30 UTC on the second day is 07:30 on the third in Tokyo; RangeDaily's own "today" (UTC's) would stop a day short.
    assert main(["refresh", "--now", f"{DAY2}T22:30:00+00:00"]) == 0
    dates = [r[0] for r in query("SELECT DISTINCT snapshot_date FROM track_popularity_daily ORDER BY 1")]
    assert dates == [DAY, DAY + timedelta(days=1), DAY + timedelta(days=2)]
    out = capsys.readouterr().out
    assert f"refresh {DAY + timedelta(days=2)}: deezer:" in out and "oldest snapshot 0 days old" in out
    assert main(["refresh", "--now", f"{DAY2}T22:30:00"]) == 2  # no offset: one line naming the fix
    assert "has no UTC offset" in capsys.readouterr().err


def readme_refresh_queries() -> list[str]:
    """The SQL block of README's daily-refresh section, one statement each."""
    from tests.conftest import PROJECT_ROOT

    with open(os.path.join(PROJECT_ROOT, "README.md"), encoding="utf-8") as fh:
        text = fh.read()
    section = text[text.index("### Every day at 07:00"):]
    block = section[section.index("```sql") + len("```sql"):]
    block = block[:block.index("```")]
    body = "\n".join(line for line in block.splitlines() if not line.startswith("--"))
    return [q.strip() for q in body.split(";") if q.strip()]


@pytest.mark.slow
def test_the_readme_queries_answer_from_the_snapshots(daily):
    spotify, deezer = daily
    matched = deezer_matches()
    gone_msd = sorted(matched)[0]
    for offset in range(3):
        if offset == 2:
            deezer.state.gone.add(int(matched[gone_msd]))
        assert refresh(DAY + timedelta(days=offset), spotify, deezer).status == luigi.LuigiStatusCode.SUCCESS
    over_time, rose_most, disappeared = readme_refresh_queries()

    song = sorted(matched)[0]  # the first song a Deezer snapshot holds: the one the query shows
    rows = query(over_time)
    assert [(r[0], r[1]) for r in rows if r[1] == "deezer"] == [(DAY + timedelta(days=i), "deezer") for i in range(3)]
    assert {r[2:4] for r in rows} == set(query(f"SELECT title, artist_name FROM songs WHERE track_id = '{song}'"))

    catalog = deezer.state.catalog.tracks
    gains = sorted((moved_on(catalog[int(t)].rank, int(t), 2) - moved_on(catalog[int(t)].rank, int(t), 0))
                   for m, t in matched.items() if m != gone_msd)
    shown = [r[2] for r in query(rose_most)]
    assert shown == sorted(gains, reverse=True)[:20] and shown[0] > 0

    gone = query(disappeared)
    assert [(r[0], r[3], r[4]) for r in gone] == [(gone_msd, "deezer", matched[gone_msd])]


@pytest.mark.slow
def test_a_matcher_change_keeps_the_old_decisions_in_the_history(daily, luigi_config):
    """A stricter threshold re-decides from the stored answers (no request); the partitions reload
    and every decision that changed closes its history row and opens one marked rematched."""
    spotify, deezer = daily
    before = dict(query("SELECT track_id, spotify_track_id FROM spotify_matches WHERE status = 'matched'"))
    sent = sum(spotify.state.requests.values())
    luigi_config.set("spotify", match_threshold=0.97)
    fresh_process_view()
    assert run_luigi([RunAll()]).status == luigi.LuigiStatusCode.SUCCESS
    after = dict(query("SELECT track_id, spotify_track_id FROM spotify_matches WHERE status = 'matched'"))
    changed = {t for t in before if after.get(t) != before[t]}
    assert changed and sum(spotify.state.requests.values()) == sent
    rows = query("SELECT track_id, status, spotify_track_id, change_reason, valid_to IS NULL FROM spotify_match_history "
                 "ORDER BY track_id, valid_from, valid_to IS NULL")
    for track in changed:
        history = [r[1:] for r in rows if r[0] == track]
        assert history[0][:2] == ("matched", before[track]) and history[0][3] is False  # closed
        assert history[-1][2:] == ("rematched", True) and history[-1][1] == after.get(track)  # the current one
    unchanged = set(before) - changed
    assert all(len([r for r in rows if r[0] == t]) == 1 for t in unchanged)


@pytest.mark.slow
def test_a_day_with_s3_staging_and_two_workers(s3_bucket, luigi_config, sample_root, spotify_at, tmp_path):
    """Partitions refreshed by forked worker processes, staging on S3: the load reads every one of them."""
    bucket, _ = s3_bucket
    luigi_config.set("msd", root=sample_root)
    luigi_config.set("staging", root=f"s3://{bucket}/staging")
    luigi_config.set("warehouse", url=f"duckdb:///{tmp_path}/warehouse.duckdb")
    luigi_config.set("deezer", refresh_budget=10_000).set("spotify", refresh_budget=10_000)
    spotify_at(mode="development")
    assert run_luigi([RunAll()], workers=2).status == luigi.LuigiStatusCode.SUCCESS
    fresh_process_view()
    assert run_luigi([DailyRefresh(date=DAY)], workers=2).status == luigi.LuigiStatusCode.SUCCESS
    assert len(read_plan(DAY)["sources"]["deezer"]["partitions"]) == 3
    matched = deezer_matches()
    rows = query("SELECT msd_track_id FROM track_popularity_daily WHERE source = 'deezer'")
    assert sorted(r[0] for r in rows) == sorted(matched)
