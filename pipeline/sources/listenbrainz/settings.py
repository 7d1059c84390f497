"""``[listenbrainz]``: ListenBrainz's API, which answers the popularity of 1,000 recordings or artists per request."""

from __future__ import annotations

import luigi

from pipeline.config import EnvironmentParameter

API_URL = "https://api.listenbrainz.org"


class listenbrainz(luigi.Config):  # noqa: N801
    """ListenBrainz's popularity API: ``ListenBrainzPopularity`` per partition and the daily refresh, for every
    recording the MusicBrainz identity resolved and every MSD artist; on when ``[sources] enabled`` names it."""

    api_url = EnvironmentParameter("MUSIC_ETL_LISTENBRAINZ_API_URL", API_URL, significant=False,
                                   description="API base URL (the token, when needed, comes from LISTENBRAINZ_TOKEN)")
    timeout = luigi.FloatParameter(default=30.0, significant=False, description="seconds before one request is abandoned")
    max_rate_limit_waits = luigi.IntParameter(
        default=5, significant=False,
        description="429 answers in a row waited out (each for its X-RateLimit-Reset-In) before the task stops")
    refresh_budget = luigi.IntParameter(
        default=5_000, significant=False,
        description="ListenBrainz requests a day's refresh may plan (1,000 ids each: 5,000 cover 5M songs and artists)")
