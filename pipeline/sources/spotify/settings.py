"""``[spotify]``: where the Web API is and how enrichment and the daily refresh may use it."""

from __future__ import annotations

import luigi

from pipeline.config import EnvironmentParameter


class spotify(luigi.Config):  # noqa: N801
    """Where the Web API is and how enrichment may use it. Credentials are not here: they come from
    SPOTIPY_CLIENT_ID / SPOTIPY_CLIENT_SECRET in the environment only."""

    # Where the answers come from, not what is asked: the answer store keeps answers whichever URL gave them.
    api_url = EnvironmentParameter("MUSIC_ETL_SPOTIFY_API_URL", "https://api.spotify.com/v1/", significant=False,
                                   description="Web API base URL")
    token_url = EnvironmentParameter("MUSIC_ETL_SPOTIFY_TOKEN_URL", "https://accounts.spotify.com/api/token",
                                     significant=False, description="client-credentials token endpoint")
    max_retry_after = luigi.FloatParameter(
        default=60.0, significant=False, description="longest Retry-After (s) waited out; a longer 429 (daily quota) stops the task")
    timeout = luigi.FloatParameter(default=10.0, significant=False, description="seconds before one HTTP request is abandoned")
    retry_backoff = luigi.FloatParameter(
        default=0.5, significant=False, description="backoff factor (s) for 5xx and connection retries: waits of 0.5, 1, 2, 4 s")
    search_limit = luigi.IntParameter(default=10, description="results per search (Development Mode allows at most 10)")
    match_threshold = luigi.FloatParameter(default=0.80, description="lowest score (0..1) a candidate needs to match")
    crosswalk = EnvironmentParameter(
        "MUSIC_ETL_SPOTIFY_CROSSWALK", "",
        description="MSD id → Spotify id file (CSV or Echo Nest JSON); blank: search every song; "
                    "its content, not its path, versions enrichment")
    min_interval = luigi.FloatParameter(
        default=0.0, significant=False,
        description="seconds between requests from one worker (0: as fast as Spotify allows; after a 429 the "
                    "client waits what Retry-After says, longer while 429s keep coming, then goes on at this pace)")
    max_rate_limit_wait = luigi.FloatParameter(
        default=600.0, significant=False,
        description="seconds one task may wait on short 429s in all; past it the task stops (rerun later) "
                    "instead of crawling")
    fetch_artists = luigi.BoolParameter(default=True, parsing=luigi.BoolParameter.EXPLICIT_PARSING,
                                        description="look up matched tracks' artists (genres, popularity, followers)")
    fetch_audio_features = luigi.BoolParameter(default=True, parsing=luigi.BoolParameter.EXPLICIT_PARSING,
                                               description="fetch audio features where the app may")
    # Read from [refresh] spotify_budget when this key is not set (the name earlier versions used).
    refresh_budget = luigi.IntParameter(
        default=500, significant=False, config_path={"section": "refresh", "name": "spotify_budget"},
        description="Spotify requests a day's refresh may plan; a Development-Mode app has ~1-2.6k a day for "
                    "everything, enrichment included")
