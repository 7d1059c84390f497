"""`python -m pipeline.demo` (what `make demo` runs) end to end on a small sample, and its rerun; then
`python -m pipeline.demo_refresh` (`make refresh-demo`) twice on the same warehouse, and the README's queries
against what the two leave behind."""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import re
import subprocess
import sys
from dataclasses import dataclass
from datetime import date, timedelta

import pytest

from pipeline.standins.msd_sample import generate_sample
from tests.conftest import PROJECT_ROOT

DEMO = [sys.executable, "-m", "pipeline.demo", "--workers", "2"]
REFRESH_DEMO = [sys.executable, "-m", "pipeline.demo_refresh", "--workers", "2"]


@dataclass
class Demo:
    """What a newcomer's commands did on one small sample, in order: `make demo`, `make demo` again (the
    warehouse's SHA-256 before and after it), `make refresh-demo` twice."""

    root: str
    env: dict
    runs: dict[str, dict]  # name → returncode, stdout, stderr
    digests: tuple[str, str]

    @property
    def warehouse(self) -> str:
        return os.path.join(self.root, "warehouse.duckdb")

    def query(self, sql: str) -> list[tuple]:
        import duckdb

        con = duckdb.connect(self.warehouse, read_only=True)
        try:
            return con.sql(sql).fetchall()
        finally:
            con.close()


def run(command: list[str], env: dict) -> dict:
    done = subprocess.run(command, cwd=PROJECT_ROOT, env=env, capture_output=True, text=True, timeout=300)
    return {"returncode": done.returncode, "stdout": done.stdout, "stderr": done.stderr}


def sha256(path: str) -> str:
    with open(path, "rb") as fh:
        return hashlib.sha256(fh.read()).hexdigest()


def make_demo(root: str) -> dict:
    """The newcomer's commands on a sample made as make demo makes it (smaller), into ``root``; what they did."""
    generate_sample(os.path.join(root, "msd"), songs=60, seed=9, partitions=["A/A", "B/B"], names="real")
    env = dict(os.environ, MUSIC_ETL_MSD_ROOT=os.path.join(root, "msd"), MUSIC_ETL_STAGING_ROOT=os.path.join(root, "staging"),
               MUSIC_ETL_WAREHOUSE_URL=f"duckdb:///{root}/warehouse.duckdb",
               SPOTIPY_CLIENT_SECRET="a-real-secret-that-must-not-leak")
    env.pop("LUIGI_CONFIG_PATH", None)
    runs = {"demo": run(DEMO, env)}
    warehouse = os.path.join(root, "warehouse.duckdb")
    before = sha256(warehouse) if os.path.exists(warehouse) else ""
    runs["demo again"] = run(DEMO, env)
    after = sha256(warehouse) if os.path.exists(warehouse) else ""
    runs["refresh-demo"] = run(REFRESH_DEMO, env)
    runs["refresh-demo again"] = run(REFRESH_DEMO, env)
    # The everyday commands on the demo's data, with the settings it left in demo.env (as README says to).
    settings = demo_settings(os.path.join(root, "demo.env"))
    runs["run with demo.env"] = run([sys.executable, "-m", "pipeline", "run"], env | settings)
    runs["status with demo.env"] = run([sys.executable, "-m", "pipeline", "status"], env | settings)
    return {"root": root, "env": env, "runs": runs, "digests": [before, after]}


def demo_settings(path: str) -> dict[str, str]:
    """The variables of a demo.env, read as `set -a; . data/demo.env` reads them."""
    import shlex

    with open(path, encoding="utf-8") as fh:
        pairs = [shlex.split(line)[0].split("=", 1) for line in fh if line.strip() and not line.startswith("#")]
    return dict(pairs)


@pytest.fixture(scope="session")
def demo(tmp_path_factory, worker_id) -> Demo:
    """`make demo`, its rerun and `make refresh-demo` twice, run once for every test that reads them: under
    pytest-xdist by whichever worker asks first, the others waiting on a lock in the session's shared temporary
    folder and reading what it recorded (pytest-xdist's recipe for a fixture run once)."""
    if worker_id == "master":
        return Demo(**make_demo(str(tmp_path_factory.mktemp("demo"))))
    shared = tmp_path_factory.getbasetemp().parent
    with open(shared / "demo.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        record = shared / "demo.json"
        if not record.exists():
            made = make_demo(str(shared / "demo"))
            record.write_text(json.dumps(made))
        return Demo(**json.loads(record.read_text()))


def succeeded(demo: Demo, name: str) -> str:
    """The stdout of run ``name``, which must have succeeded."""
    done = demo.runs[name]
    assert done["returncode"] == 0, done["stdout"][-2000:] + done["stderr"][-3000:]
    return done["stdout"]


@pytest.mark.slow
def test_demo_runs_everything_then_a_rerun_changes_nothing(demo):
    first = succeeded(demo, "demo")
    assert "2/2 partitions loaded" in first and "Match rate by decade" in first
    assert "done    LoadPartition(A/A)" in first and "done    FinalizeWarehouse" in first
    assert "a-real-secret-that-must-not-leak" not in first + demo.runs["demo"]["stderr"]
    assert "done    DeezerEnrich(A/A)" in first and "disagree on the recording" in first
    assert "requests the Deezer sandbox received this run, every one: 0" not in first
    # It ends with the report, beside the warehouse, every figure drawn from the demo's data.
    report = re.search(r"^report: (\S+\.html)", first, re.MULTILINE)
    assert report and report.group(1) == os.path.join(demo.root, "report.html")
    page = open(report.group(1), encoding="utf-8").read()
    drawn = re.findall(r'<figure id="(fig-[a-z-]+)">\s*<svg', page)
    assert len(drawn) == page.count("<figure id=") and "<script" not in page  # every figure drawn, nothing to run
    assert {"fig-rate-by-partition", "fig-agreement", "fig-scores-musicbrainz", "fig-lb-song-listens",
            "fig-lb-artist-listens"} <= set(drawn)  # all four sources' figures
    for source in ("MusicBrainz", "ListenBrainz"):
        assert f"requests the {source} sandbox received this run, every one: 0" not in first
    # And the crosswalk and the open-data export beside it, read back by pandas and DuckDB.
    import duckdb
    import pandas as pd

    songs = demo.query("SELECT count(*) FROM songs")[0][0]
    assert f"crosswalk: {os.path.join(demo.root, 'crosswalk')} (song_ids.parquet and .csv: {songs} songs" in first
    for name in ("song_ids.parquet", "song_ids.csv"):
        path = os.path.join(demo.root, "crosswalk", name)
        frame = pd.read_parquet(path) if name.endswith("parquet") else pd.read_csv(path)
        assert len(frame) == duckdb.sql(f"SELECT count(*) FROM '{path}'").fetchall()[0][0] == songs
        assert frame["recording_mbid"].notna().sum() == demo.query(
            "SELECT count(*) FROM song_ids WHERE recording_mbid IS NOT NULL")[0][0] > 0
    view = os.path.join(demo.root, "export-open", "enriched_songs.parquet")
    columns = [r[0] for r in duckdb.sql(f"DESCRIBE SELECT * FROM '{view}'").fetchall()]
    assert "lb_listen_count" in columns and not [c for c in columns if c.startswith(("spotify", "deezer"))]
    assert len(pd.read_parquet(view)) == songs
    again = succeeded(demo, "demo again")
    assert "partitions loaded this run: 0, already loaded: 2, failed: 0" in again
    assert "songs enriched this run: 0" in again and "done    " not in again  # no task ran
    assert "requests the Spotify sandbox received this run, every one: 0" in again
    assert "requests the Deezer sandbox received this run, every one: 0" in again
    assert "requests the ListenBrainz sandbox received this run, every one: 0" in again
    assert "requests the MusicBrainz sandbox received this run, every one: 0" in again
    assert demo.digests[0] == demo.digests[1]


def refreshed_day(stdout: str) -> date:
    return date.fromisoformat(re.search(r"^refreshing (\d{4}-\d\d-\d\d) in ", stdout, re.MULTILINE).group(1))


@pytest.mark.slow
def test_refresh_demo_twice_gives_two_days_that_move(demo):
    """Each run refreshes the day after the last one, the sandboxes playing that day: every snapshot holds what
    the sandbox serves on its day (ranks and fans moved, listens grown, a few Deezer tracks gone), and the
    report shows the movers."""
    from pipeline.sources.spotify.source import demo_catalog
    from pipeline.standins import metabrainz
    from pipeline.standins.deezer_catalog import build_deezer_catalog
    from pipeline.standins.deezer_sandbox import moved_on
    from pipeline.standins.demo_days import catalog_day, gone_tracks
    from pipeline.standins.spotify_catalog import DEMO_CATALOG_SEED, load_identities

    first, second = succeeded(demo, "refresh-demo"), succeeded(demo, "refresh-demo again")
    day1, day2 = refreshed_day(first), refreshed_day(second)
    assert day2 == day1 + timedelta(days=1)
    assert f"next: `make refresh-demo` refreshes {day2}" in first
    sources = {"deezer", "spotify", "listenbrainz"}
    assert set(demo.query("SELECT snapshot_date, source FROM track_popularity_daily GROUP BY 1, 2")) == \
        {(day, source) for day in (day1, day2) for source in sources}

    msd = demo.env["MUSIC_ETL_MSD_ROOT"]
    catalog = build_deezer_catalog(load_identities(msd), demo_catalog(msd), seed=DEMO_CATALOG_SEED)
    gone = {str(t) for t in gone_tracks(catalog.tracks)}
    rows = demo.query("SELECT snapshot_date, source_track_id, popularity, availability FROM track_popularity_daily "
                      "WHERE source = 'deezer'")
    assert {r[1] for r in rows} & gone  # the demo's matches include a track the sandbox took away
    for day, track_id, rank, availability in rows:
        if track_id in gone:
            assert (rank, availability) == (None, "gone")
        else:
            track = catalog.tracks[int(track_id)]
            assert (rank, availability) == (moved_on(track.rank, track.id, catalog_day(day)), "available")
    ranks = {(day, track): rank for day, track, rank, _ in rows}
    movers = [t for d, t in ranks if d == day1 and ranks[(day1, t)] != ranks[(day2, t)]]
    assert movers
    assert f"Deezer: {len(movers)} of the " in second  # what it says is what the warehouse holds
    for day, artist_id, fans in demo.query("SELECT snapshot_date, source_artist_id, followers FROM artist_popularity_daily "
                                           "WHERE source = 'deezer'"):
        artist = catalog.artists[int(artist_id)]
        assert fans == moved_on(artist.nb_fan, artist.id, catalog_day(day))
    world = metabrainz.world_of(msd)
    listens = demo.query("SELECT snapshot_date, source_track_id, listen_count FROM track_popularity_daily "
                         "WHERE source = 'listenbrainz' AND listen_count IS NOT NULL")
    assert listens and all(count == world.recording_popularity(mbid, day)[0] for day, mbid, count in listens)

    # The report, written again, draws the movers of both days.
    report = re.search(r"^report: (\S+\.html)", second, re.MULTILINE).group(1)
    page = open(report, encoding="utf-8").read()
    assert 'data-fact="snapshot_dates_deezer">2<' in page and re.search(r'<figure id="fig-movers-deezer">\s*<svg', page)


@pytest.mark.slow
def test_the_readme_and_setup_queries_answer_from_the_demo(demo):
    """Every statement of README's ```sql blocks, and the demo queries README and SETUP show, returns rows
    against the demo's warehouse after two `make refresh-demo` days."""
    succeeded(demo, "refresh-demo again")
    statements = readme_queries()
    assert len(statements) >= 5
    for sql in statements:
        assert demo.query(sql), sql


def readme_queries() -> list[str]:
    """Each statement of README.md's ```sql blocks, and each query README.md and SETUP.md pass to DuckDB's
    ``.sql('…')`` in a shell line."""
    out = []
    for name in ("README.md", "SETUP.md"):
        with open(os.path.join(PROJECT_ROOT, name), encoding="utf-8") as fh:
            text = fh.read()
        if name == "README.md":
            for block in re.findall(r"^```sql\n(.*?)^```", text, re.MULTILINE | re.DOTALL):
                body = re.sub(r"--[^\n]*", "", block)
                out += [s.strip() for s in body.split(";") if s.strip()]
        out += [s.strip() for s in re.findall(r"\.sql\(\s*'([^']+)'\s*\)", text)]
    return out


def test_readme_queries_are_found():
    """The extraction itself: the refresh block's three statements and the shell lines' queries."""
    statements = readme_queries()
    assert any("rank_gain" in s for s in statements) and any("gone_since" in s for s in statements)
    assert any("FROM enriched_songs GROUP BY 1" in s for s in statements)
    assert all(";" not in s and "--" not in s for s in statements)


def test_setup_names_every_source_the_demo_plays():
    """SETUP's demo section names each source the demo starts a stand-in for (every registered source), and
    the refresh-demo step."""
    from pipeline.sources import registry

    with open(os.path.join(PROJECT_ROOT, "SETUP.md"), encoding="utf-8") as fh:
        text = fh.read()
    section = text[text.index("## 1. The demo"):text.index("## 2.")]
    played = [s.title for s in registry.registered()]
    assert len(played) >= 4 and [t for t in played if t not in section] == []
    assert "make refresh-demo" in section


@pytest.mark.slow
def test_refresh_demo_before_the_demo_says_to_run_it_first(tmp_path):
    env = dict(os.environ, MUSIC_ETL_MSD_ROOT=str(tmp_path / "msd"), MUSIC_ETL_STAGING_ROOT=str(tmp_path / "staging"),
               MUSIC_ETL_WAREHOUSE_URL=f"duckdb:///{tmp_path}/warehouse.duckdb")
    env.pop("LUIGI_CONFIG_PATH", None)
    run = subprocess.run(REFRESH_DEMO, cwd=PROJECT_ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert run.returncode == 2 and "run `make demo` first" in run.stderr.strip().splitlines()[-1]
    assert not (tmp_path / "warehouse.duckdb").exists()  # nothing made where the demo's warehouse should be


def test_the_demo_days_move_by_one_day_and_stay_bounded():
    from pipeline.standins.demo_days import CYCLE_DAYS, catalog_day

    start = date(2026, 1, 1)
    days = [catalog_day(start + timedelta(days=i)) for i in range(3 * 365)]
    assert all(abs(a - b) == 1 for a, b in zip(days, days[1:], strict=False))  # two days in a row always differ
    assert min(days) == 0 and max(days) == CYCLE_DAYS // 2


def test_refresh_demo_takes_the_day_after_the_last_up_to_today():
    from pipeline.demo_refresh import WEEK, next_day

    today = date(2026, 12, 7)
    first = next_day([], today)
    assert first == today - timedelta(days=WEEK - 1)
    assert next_day([first], today) == first + timedelta(days=1)
    assert next_day([first, today - timedelta(days=1)], today) == today
    assert next_day([first, today], today) is None  # no snapshot of a day to come
    assert next_day([today - timedelta(days=40)], today) == first  # a month away: the week before today again


@pytest.mark.slow
def test_after_the_demo_the_everyday_commands_see_its_data_as_it_made_it(demo):
    settings = demo_settings(os.path.join(demo.root, "demo.env"))
    assert {s.strip() for s in settings["MUSIC_ETL_SOURCES_ENABLED"].split(",")} >= {"spotify", "deezer", "musicbrainz",
                                                                                     "listenbrainz"}
    assert not [v for v in settings.values() if "127.0.0.1" in v]  # no sandbox address: they end with the demo
    ran = succeeded(demo, "run with demo.env")
    assert "partitions loaded this run: 0, already loaded: 2, failed: 0" in ran
    assert demo.runs["run with demo.env"]["stderr"] == ""
    assert "2/2 partitions loaded" in succeeded(demo, "status with demo.env")
