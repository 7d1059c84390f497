-- Spotify's tables (pipeline/warehouse/schema.py puts them into sql/schema.sql's {{source_tables}}).

-- Spotify match of each MSD track: one row per track_id, owned by its partition.
CREATE TABLE IF NOT EXISTS spotify_matches (
    track_id VARCHAR(18) NOT NULL,
    song_id VARCHAR(18),
    msd_partition VARCHAR(3) NOT NULL,
    status VARCHAR(16) NOT NULL,
    spotify_track_id VARCHAR(22),
    score DOUBLE PRECISION,
    title_similarity DOUBLE PRECISION,
    artist_similarity DOUBLE PRECISION,
    duration_diff_s DOUBLE PRECISION,
    method VARCHAR(16),
    rung VARCHAR(16),
    query VARCHAR(4096),
    candidate_ids {{JSON}},
    error VARCHAR(4096),
    matched_at TIMESTAMP,
    load_id VARCHAR(64) NOT NULL
){{redshift: DISTSTYLE KEY DISTKEY (track_id) SORTKEY (msd_partition, track_id)}};

-- Spotify dimensions, keyed by Spotify ids and shared by partitions (merged by key).
CREATE TABLE IF NOT EXISTS spotify_tracks (
    spotify_track_id VARCHAR(22) NOT NULL,
    name VARCHAR(1024),
    artist_ids {{JSON}},
    primary_artist_id VARCHAR(22),
    album_id VARCHAR(22),
    album_name VARCHAR(1024),
    album_type VARCHAR(32),
    release_date VARCHAR(10),
    release_date_precision VARCHAR(8),
    release_year SMALLINT,
    duration_ms INTEGER,
    explicit BOOLEAN,
    isrc VARCHAR(16),
    popularity SMALLINT,
    available_markets_count SMALLINT,
    fetched_at TIMESTAMP,
    load_id VARCHAR(64) NOT NULL
){{redshift: DISTSTYLE KEY DISTKEY (spotify_track_id) SORTKEY (spotify_track_id)}};

CREATE TABLE IF NOT EXISTS spotify_artists (
    spotify_artist_id VARCHAR(22) NOT NULL,
    name VARCHAR(1024),
    genres {{JSON}},
    popularity SMALLINT,
    followers BIGINT,
    fetched_at TIMESTAMP,
    load_id VARCHAR(64) NOT NULL
){{redshift: DISTSTYLE ALL SORTKEY (spotify_artist_id)}};

CREATE TABLE IF NOT EXISTS spotify_audio_features (
    spotify_track_id VARCHAR(22) NOT NULL,
    danceability DOUBLE PRECISION,
    energy DOUBLE PRECISION,
    key SMALLINT,
    loudness DOUBLE PRECISION,
    mode SMALLINT,
    speechiness DOUBLE PRECISION,
    acousticness DOUBLE PRECISION,
    instrumentalness DOUBLE PRECISION,
    liveness DOUBLE PRECISION,
    valence DOUBLE PRECISION,
    tempo DOUBLE PRECISION,
    time_signature SMALLINT,
    fetched_at TIMESTAMP,
    load_id VARCHAR(64) NOT NULL
){{redshift: DISTSTYLE KEY DISTKEY (spotify_track_id) SORTKEY (spotify_track_id)}};

-- Every state each MSD track's match has had (SCD type 2): the open row (valid_to NULL) is the current one.
-- Kept by every partition load (a new matcher's decision) and every snapshot load (an id relinked or gone).
CREATE TABLE IF NOT EXISTS spotify_match_history (
    track_id VARCHAR(18) NOT NULL,
    msd_partition VARCHAR(3) NOT NULL,
    status VARCHAR(16) NOT NULL,
    spotify_track_id VARCHAR(22),
    availability VARCHAR(16),
    relinked_to VARCHAR(22),
    change_reason VARCHAR(16) NOT NULL,
    valid_from TIMESTAMP NOT NULL,
    valid_to TIMESTAMP,
    load_id VARCHAR(64) NOT NULL
){{redshift: DISTSTYLE KEY DISTKEY (track_id) SORTKEY (track_id, valid_from)}};

{{postgresql: CREATE INDEX IF NOT EXISTS spotify_matches_track_id ON spotify_matches (track_id);}}
{{postgresql: CREATE INDEX IF NOT EXISTS spotify_matches_partition ON spotify_matches (msd_partition);}}
{{postgresql: CREATE INDEX IF NOT EXISTS spotify_tracks_id ON spotify_tracks (spotify_track_id);}}
{{postgresql: CREATE INDEX IF NOT EXISTS spotify_artists_id ON spotify_artists (spotify_artist_id);}}
{{postgresql: CREATE INDEX IF NOT EXISTS spotify_audio_features_id ON spotify_audio_features (spotify_track_id);}}
{{postgresql: CREATE INDEX IF NOT EXISTS spotify_match_history_partition ON spotify_match_history (msd_partition);}}
