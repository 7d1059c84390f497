-- Music ETL warehouse schema: the one source for DuckDB, PostgreSQL and Redshift.
--
-- pipeline/warehouse/schema.py renders it per dialect:
--   {{JSON}}                 JSON (DuckDB), JSONB (PostgreSQL), SUPER (Redshift): lists such as genres
--   {{redshift: …}}          text kept only for that dialect (several: {{duckdb,postgresql: …}})
-- Columns are one per line, `name TYPE [NOT NULL],`, and carry the staged JSON key's name, so
-- Redshift's COPY … FORMAT AS JSON 'auto' maps them without a JSONPaths file.
-- Every table and column is documented in DATA_DICTIONARY.md (a test keeps them in step).
-- Distribution and sort keys are explained there too.

-- MSD tracks: one row per track_id. Owned by a partition (msd_partition): a reload replaces them.
CREATE TABLE IF NOT EXISTS songs (
    track_id VARCHAR(18) NOT NULL,
    song_id VARCHAR(18),
    title VARCHAR(1024),
    release VARCHAR(1024),
    release_7digitalid INTEGER,
    track_7digitalid INTEGER,
    song_hotttnesss DOUBLE PRECISION,
    artist_id VARCHAR(18),
    artist_name VARCHAR(1024),
    year SMALLINT,
    duration DOUBLE PRECISION,
    analysis_sample_rate INTEGER,
    audio_md5 VARCHAR(32),
    danceability DOUBLE PRECISION,
    energy DOUBLE PRECISION,
    end_of_fade_in DOUBLE PRECISION,
    start_of_fade_out DOUBLE PRECISION,
    key SMALLINT,
    key_confidence DOUBLE PRECISION,
    loudness DOUBLE PRECISION,
    mode SMALLINT,
    mode_confidence DOUBLE PRECISION,
    tempo DOUBLE PRECISION,
    time_signature SMALLINT,
    time_signature_confidence DOUBLE PRECISION,
    num_segments INTEGER,
    num_sections INTEGER,
    num_beats INTEGER,
    num_bars INTEGER,
    num_tatums INTEGER,
    analyzer_version VARCHAR(64),
    genre VARCHAR(256),
    msd_partition VARCHAR(3) NOT NULL,
    load_id VARCHAR(64) NOT NULL
){{redshift: DISTSTYLE KEY DISTKEY (track_id) SORTKEY (msd_partition, track_id)}};

-- MSD artists: one row per artist_id, shared by partitions (merged by key).
CREATE TABLE IF NOT EXISTS artists (
    artist_id VARCHAR(18) NOT NULL,
    artist_name VARCHAR(1024),
    artist_mbid VARCHAR(36),
    artist_familiarity DOUBLE PRECISION,
    artist_hotttnesss DOUBLE PRECISION,
    artist_latitude DOUBLE PRECISION,
    artist_longitude DOUBLE PRECISION,
    artist_location VARCHAR(1024),
    artist_7digitalid INTEGER,
    artist_playmeid INTEGER,
    load_id VARCHAR(64) NOT NULL
){{redshift: DISTSTYLE ALL SORTKEY (artist_id)}};

CREATE TABLE IF NOT EXISTS artist_terms (
    artist_id VARCHAR(18) NOT NULL,
    term VARCHAR(256) NOT NULL,
    freq DOUBLE PRECISION,
    weight DOUBLE PRECISION,
    load_id VARCHAR(64) NOT NULL
){{redshift: DISTSTYLE KEY DISTKEY (artist_id) SORTKEY (artist_id, term)}};

CREATE TABLE IF NOT EXISTS artist_mbtags (
    artist_id VARCHAR(18) NOT NULL,
    mbtag VARCHAR(256) NOT NULL,
    count INTEGER,
    load_id VARCHAR(64) NOT NULL
){{redshift: DISTSTYLE KEY DISTKEY (artist_id) SORTKEY (artist_id, mbtag)}};

CREATE TABLE IF NOT EXISTS similar_artists (
    artist_id VARCHAR(18) NOT NULL,
    similar_artist_id VARCHAR(18) NOT NULL,
    rank SMALLINT,
    load_id VARCHAR(64) NOT NULL
){{redshift: DISTSTYLE KEY DISTKEY (artist_id) SORTKEY (artist_id, rank)}};

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

-- Deezer (loaded when [sources] enabled names it): matches owned by a partition, dimensions merged by key.
CREATE TABLE IF NOT EXISTS deezer_matches (
    track_id VARCHAR(18) NOT NULL,
    msd_partition VARCHAR(3) NOT NULL,
    status VARCHAR(16) NOT NULL,
    deezer_track_id VARCHAR(20),
    score DOUBLE PRECISION,
    method VARCHAR(16),
    rung VARCHAR(16),
    query VARCHAR(4096),
    agrees_with_spotify BOOLEAN,
    matched_at TIMESTAMP,
    load_id VARCHAR(64) NOT NULL
){{redshift: DISTSTYLE KEY DISTKEY (track_id) SORTKEY (msd_partition, track_id)}};

CREATE TABLE IF NOT EXISTS deezer_tracks (
    deezer_track_id VARCHAR(20) NOT NULL,
    title VARCHAR(1024),
    isrc VARCHAR(16),
    duration_s INTEGER,
    popularity_rank INTEGER,
    bpm DOUBLE PRECISION,
    gain DOUBLE PRECISION,
    explicit BOOLEAN,
    release_date VARCHAR(10),
    primary_artist_id VARCHAR(20),
    artist_ids {{JSON}},
    album_id VARCHAR(20),
    load_id VARCHAR(64) NOT NULL
){{redshift: DISTSTYLE KEY DISTKEY (deezer_track_id) SORTKEY (deezer_track_id)}};

CREATE TABLE IF NOT EXISTS deezer_artists (
    deezer_artist_id VARCHAR(20) NOT NULL,
    name VARCHAR(1024),
    nb_fan BIGINT,
    nb_album INTEGER,
    fetched_at TIMESTAMP,
    load_id VARCHAR(64) NOT NULL
){{redshift: DISTSTYLE ALL SORTKEY (deezer_artist_id)}};

CREATE TABLE IF NOT EXISTS deezer_albums (
    deezer_album_id VARCHAR(20) NOT NULL,
    title VARCHAR(1024),
    genres {{JSON}},
    record_label VARCHAR(1024),
    fans BIGINT,
    release_date VARCHAR(10),
    record_type VARCHAR(16),
    fetched_at TIMESTAMP,
    load_id VARCHAR(64) NOT NULL
){{redshift: DISTSTYLE ALL SORTKEY (deezer_album_id)}};

-- Dated snapshots of what changes daily (DailyRefresh, pipeline/refresh/): one row per snapshot date, source,
-- source track and MSD track. Loading a date replaces that date's rows of that source in one transaction;
-- earlier dates are never rewritten.
CREATE TABLE IF NOT EXISTS track_popularity_daily (
    snapshot_date DATE NOT NULL,
    source VARCHAR(16) NOT NULL,
    source_track_id VARCHAR(22) NOT NULL,
    msd_track_id VARCHAR(18) NOT NULL,
    msd_partition VARCHAR(3) NOT NULL,
    popularity INTEGER,
    availability VARCHAR(16) NOT NULL,
    relinked_to VARCHAR(22),
    fetched_at TIMESTAMP NOT NULL,
    load_id VARCHAR(64) NOT NULL
){{redshift: DISTSTYLE KEY DISTKEY (msd_track_id) SORTKEY (snapshot_date, source, source_track_id)}};

CREATE TABLE IF NOT EXISTS artist_popularity_daily (
    snapshot_date DATE NOT NULL,
    source VARCHAR(16) NOT NULL,
    source_artist_id VARCHAR(22) NOT NULL,
    followers BIGINT,
    popularity INTEGER,
    fetched_at TIMESTAMP NOT NULL,
    load_id VARCHAR(64) NOT NULL
){{redshift: DISTSTYLE KEY DISTKEY (source_artist_id) SORTKEY (snapshot_date, source, source_artist_id)}};

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

CREATE TABLE IF NOT EXISTS deezer_match_history (
    track_id VARCHAR(18) NOT NULL,
    msd_partition VARCHAR(3) NOT NULL,
    status VARCHAR(16) NOT NULL,
    deezer_track_id VARCHAR(20),
    availability VARCHAR(16),
    relinked_to VARCHAR(20),
    change_reason VARCHAR(16) NOT NULL,
    valid_from TIMESTAMP NOT NULL,
    valid_to TIMESTAMP,
    load_id VARCHAR(64) NOT NULL
){{redshift: DISTSTYLE KEY DISTKEY (track_id) SORTKEY (track_id, valid_from)}};

-- What has been loaded: one row per (partition, step), replaced by each load (Luigi's table_updates, versioned).
CREATE TABLE IF NOT EXISTS etl_load_markers (
    update_id VARCHAR(256) NOT NULL,
    msd_partition VARCHAR(3) NOT NULL,
    step VARCHAR(32) NOT NULL,
    load_id VARCHAR(64) NOT NULL,
    warehouse_schema_version INTEGER NOT NULL,
    extract_id VARCHAR(256),
    enrich_run_id VARCHAR(256),
    row_counts VARCHAR(4096),
    loaded_at TIMESTAMP NOT NULL
){{redshift: DISTSTYLE ALL SORTKEY (msd_partition)}};

{{postgresql: CREATE INDEX IF NOT EXISTS songs_track_id ON songs (track_id);}}
{{postgresql: CREATE INDEX IF NOT EXISTS songs_partition ON songs (msd_partition);}}
{{postgresql: CREATE INDEX IF NOT EXISTS artists_artist_id ON artists (artist_id);}}
{{postgresql: CREATE INDEX IF NOT EXISTS artist_terms_artist_id ON artist_terms (artist_id);}}
{{postgresql: CREATE INDEX IF NOT EXISTS artist_mbtags_artist_id ON artist_mbtags (artist_id);}}
{{postgresql: CREATE INDEX IF NOT EXISTS similar_artists_artist_id ON similar_artists (artist_id);}}
{{postgresql: CREATE INDEX IF NOT EXISTS spotify_matches_track_id ON spotify_matches (track_id);}}
{{postgresql: CREATE INDEX IF NOT EXISTS spotify_matches_partition ON spotify_matches (msd_partition);}}
{{postgresql: CREATE INDEX IF NOT EXISTS spotify_tracks_id ON spotify_tracks (spotify_track_id);}}
{{postgresql: CREATE INDEX IF NOT EXISTS spotify_artists_id ON spotify_artists (spotify_artist_id);}}
{{postgresql: CREATE INDEX IF NOT EXISTS spotify_audio_features_id ON spotify_audio_features (spotify_track_id);}}
{{postgresql: CREATE INDEX IF NOT EXISTS deezer_matches_track_id ON deezer_matches (track_id);}}
{{postgresql: CREATE INDEX IF NOT EXISTS deezer_matches_partition ON deezer_matches (msd_partition);}}
{{postgresql: CREATE INDEX IF NOT EXISTS deezer_tracks_id ON deezer_tracks (deezer_track_id);}}
{{postgresql: CREATE INDEX IF NOT EXISTS deezer_artists_id ON deezer_artists (deezer_artist_id);}}
{{postgresql: CREATE INDEX IF NOT EXISTS deezer_albums_id ON deezer_albums (deezer_album_id);}}
{{postgresql: CREATE INDEX IF NOT EXISTS track_popularity_daily_date ON track_popularity_daily (snapshot_date, source);}}
{{postgresql: CREATE INDEX IF NOT EXISTS track_popularity_daily_track ON track_popularity_daily (source, source_track_id);}}
{{postgresql: CREATE INDEX IF NOT EXISTS track_popularity_daily_partition ON track_popularity_daily (msd_partition);}}
{{postgresql: CREATE INDEX IF NOT EXISTS artist_popularity_daily_date ON artist_popularity_daily (snapshot_date, source);}}
{{postgresql: CREATE INDEX IF NOT EXISTS spotify_match_history_partition ON spotify_match_history (msd_partition);}}
{{postgresql: CREATE INDEX IF NOT EXISTS deezer_match_history_partition ON deezer_match_history (msd_partition);}}
{{postgresql: CREATE INDEX IF NOT EXISTS etl_load_markers_update_id ON etl_load_markers (update_id);}}

-- The table most users query: every MSD song with its Spotify match, track, primary artist and audio features.
-- Dropped first: PostgreSQL's CREATE OR REPLACE VIEW cannot rename a column (FinalizeWarehouse runs both in one
-- transaction, so readers never miss the view).
DROP VIEW IF EXISTS enriched_songs;
CREATE OR REPLACE VIEW enriched_songs AS
SELECT
    s.track_id,
    s.song_id,
    s.title,
    s.artist_id,
    s.artist_name,
    s.release,
    s.year,
    s.duration,
    s.tempo,
    s.loudness,
    s.key,
    s.mode,
    s.time_signature,
    s.song_hotttnesss,
    s.msd_partition,
    m.status AS match_status,
    m.score AS match_score,
    m.method AS match_method,
    m.matched_at,
    t.spotify_track_id,
    t.name AS spotify_track_name,
    t.isrc AS spotify_isrc,
    t.album_name AS spotify_album_name,
    t.release_date AS spotify_release_date,
    t.release_year AS spotify_release_year,
    t.duration_ms AS spotify_duration_ms,
    t.explicit AS spotify_explicit,
    t.popularity AS spotify_track_popularity,
    a.spotify_artist_id,
    a.name AS spotify_artist_name,
    a.genres AS spotify_artist_genres,
    a.popularity AS spotify_artist_popularity,
    a.followers AS spotify_artist_followers,
    f.danceability AS spotify_danceability,
    f.energy AS spotify_energy,
    f.valence AS spotify_valence,
    f.acousticness AS spotify_acousticness,
    f.instrumentalness AS spotify_instrumentalness,
    f.liveness AS spotify_liveness,
    f.speechiness AS spotify_speechiness,
    f.tempo AS spotify_tempo,
    dm.deezer_track_id,
    dt.popularity_rank AS deezer_rank,
    dt.bpm AS deezer_bpm,
    dt.gain AS deezer_gain,
    da.nb_fan AS deezer_artist_fans,
    dal.genres AS deezer_album_genres,
    dm.agrees_with_spotify AS sources_agree
FROM songs s
LEFT JOIN spotify_matches m ON m.track_id = s.track_id
LEFT JOIN spotify_tracks t ON t.spotify_track_id = m.spotify_track_id
LEFT JOIN spotify_artists a ON a.spotify_artist_id = t.primary_artist_id
LEFT JOIN spotify_audio_features f ON f.spotify_track_id = t.spotify_track_id
LEFT JOIN deezer_matches dm ON dm.track_id = s.track_id
LEFT JOIN deezer_tracks dt ON dt.deezer_track_id = dm.deezer_track_id
LEFT JOIN deezer_artists da ON da.deezer_artist_id = dt.primary_artist_id
LEFT JOIN deezer_albums dal ON dal.deezer_album_id = dt.album_id;
