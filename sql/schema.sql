-- Music ETL warehouse schema: the one source for DuckDB, PostgreSQL and Redshift.
--
-- pipeline/warehouse/schema.py renders it per dialect:
--   {{JSON}}                 JSON (DuckDB), JSONB (PostgreSQL), SUPER (Redshift): lists such as genres
--   {{redshift: …}}          text kept only for that dialect (several: {{duckdb,postgresql: …}})
--   source_tables (in double braces below): every source's own tables (pipeline/sources/<name>/schema.sql),
--                            in registry order
--   source_columns, source_joins: every source's part of enriched_songs (pipeline/sources/<name>/view.sql)
--   crosswalk:               the SELECT of song_ids, from every source's crosswalk_ids (pipeline/warehouse/crosswalk.py)
-- Columns are one per line, `name TYPE [NOT NULL],`, and carry the staged JSON key's name, so
-- Redshift's COPY … FORMAT AS JSON 'auto' maps them without a JSONPaths file.
-- Every table and column is documented in DATA_DICTIONARY.md and each source's DICTIONARY.md (a test keeps
-- them in step). Distribution and sort keys are explained there too.

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

-- Dated snapshots of what changes daily (DailyRefresh, pipeline/refresh/): one row per snapshot date, source,
-- source track and MSD track. Loading a date replaces that date's rows of that source in one transaction;
-- earlier dates are never rewritten.
CREATE TABLE IF NOT EXISTS track_popularity_daily (
    snapshot_date DATE NOT NULL,
    source VARCHAR(16) NOT NULL,
    source_track_id VARCHAR(36) NOT NULL,
    msd_track_id VARCHAR(18) NOT NULL,
    msd_partition VARCHAR(3) NOT NULL,
    popularity INTEGER,
    availability VARCHAR(16) NOT NULL,
    relinked_to VARCHAR(36),
    fetched_at TIMESTAMP NOT NULL,
    load_id VARCHAR(64) NOT NULL,
    listen_count BIGINT,
    user_count BIGINT
){{redshift: DISTSTYLE KEY DISTKEY (msd_track_id) SORTKEY (snapshot_date, source, source_track_id)}};

CREATE TABLE IF NOT EXISTS artist_popularity_daily (
    snapshot_date DATE NOT NULL,
    source VARCHAR(16) NOT NULL,
    source_artist_id VARCHAR(36) NOT NULL,
    followers BIGINT,
    popularity INTEGER,
    fetched_at TIMESTAMP NOT NULL,
    load_id VARCHAR(64) NOT NULL,
    listen_count BIGINT,
    user_count BIGINT
){{redshift: DISTSTYLE KEY DISTKEY (source_artist_id) SORTKEY (snapshot_date, source, source_artist_id)}};

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
-- Warehouses made before ListenBrainz (MBIDs, 36 characters; listen and user counts) are brought up to the DDL above;
-- on Redshift, which has no ADD COLUMN IF NOT EXISTS, docs/SCALING.md gives the statements to run once.
{{duckdb,postgresql: ALTER TABLE track_popularity_daily ADD COLUMN IF NOT EXISTS listen_count BIGINT;}}
{{duckdb,postgresql: ALTER TABLE track_popularity_daily ADD COLUMN IF NOT EXISTS user_count BIGINT;}}
{{duckdb,postgresql: ALTER TABLE artist_popularity_daily ADD COLUMN IF NOT EXISTS listen_count BIGINT;}}
{{duckdb,postgresql: ALTER TABLE artist_popularity_daily ADD COLUMN IF NOT EXISTS user_count BIGINT;}}
{{postgresql: ALTER TABLE track_popularity_daily ALTER COLUMN source_track_id TYPE VARCHAR(36);}}
{{postgresql: ALTER TABLE track_popularity_daily ALTER COLUMN relinked_to TYPE VARCHAR(36);}}
{{postgresql: ALTER TABLE artist_popularity_daily ALTER COLUMN source_artist_id TYPE VARCHAR(36);}}
{{postgresql: CREATE INDEX IF NOT EXISTS track_popularity_daily_date ON track_popularity_daily (snapshot_date, source);}}
{{postgresql: CREATE INDEX IF NOT EXISTS track_popularity_daily_track ON track_popularity_daily (source, source_track_id);}}
{{postgresql: CREATE INDEX IF NOT EXISTS track_popularity_daily_partition ON track_popularity_daily (msd_partition);}}
{{postgresql: CREATE INDEX IF NOT EXISTS artist_popularity_daily_date ON artist_popularity_daily (snapshot_date, source);}}
{{postgresql: CREATE INDEX IF NOT EXISTS etl_load_markers_update_id ON etl_load_markers (update_id);}}

{{source_tables}}

-- The table most users query: every MSD song with what each enabled source found for it.
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
    s.msd_partition{{source_columns}}
FROM songs s{{source_joins}};

-- The crosswalk researchers cite: every MSD track with the ids the sources that match songs give it (track ids,
-- recording MBIDs, ISRCs: each source declares its own), each with the status and score of its match and the
-- source that gave it. Recreated with enriched_songs by FinalizeWarehouse.
DROP VIEW IF EXISTS song_ids;
CREATE OR REPLACE VIEW song_ids AS
{{crosswalk}};
