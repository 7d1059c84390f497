"""``[deezer]``: Deezer's keyless public API, and what the daily refresh may spend on it."""

from __future__ import annotations

import luigi

from pipeline.config import EnvironmentParameter


class deezer(luigi.Config):  # noqa: N801
    """Deezer's keyless public API: ``DeezerEnrich`` per partition, on unless ``[sources] enabled`` leaves it out."""

    api_url = EnvironmentParameter("MUSIC_ETL_DEEZER_API_URL", "https://api.deezer.com/", significant=False,
                                   description="API base URL")
    rate_limit = luigi.IntParameter(default=50, significant=False,
                                    description="requests per rate_window seconds for every process on this host")
    rate_window = luigi.FloatParameter(default=5.0, significant=False, description="seconds of Deezer's rate window")
    pace_file = EnvironmentParameter(
        "MUSIC_ETL_DEEZER_PACE_FILE", "", significant=False,
        description="the file every process that names it paces through, opened only if it is your own and not a "
                    "symbolic link (blank: deezer-pace in a folder only you can write: .private beside a local "
                    "staging root, else $XDG_RUNTIME_DIR/music-etl, else music-etl-<uid> in the temporary folder)")
    timeout = luigi.FloatParameter(default=10.0, significant=False, description="seconds before one request is abandoned")
    search_limit = luigi.IntParameter(default=10, description="results per search")
    match_threshold = luigi.FloatParameter(default=0.80, description="lowest score (0..1) a candidate needs to match")
    not_found_max_age_days = luigi.IntParameter(
        default=365, significant=False,
        description="days a \"no data\" for an ISRC, or a search without a hit, is believed; once older, the next "
                    "enrichment that meets it asks again (0: believed forever)")
    # Read from [refresh] deezer_budget when this key is not set (the name earlier versions used).
    refresh_budget = luigi.IntParameter(
        default=100_000, significant=False, config_path={"section": "refresh", "name": "deezer_budget"},
        description="Deezer requests a day's refresh may plan (at 50 per 5 s, 100,000 take about 2 h 47 min)")
