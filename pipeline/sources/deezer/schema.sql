-- Deezer's tables, loaded when [sources] enabled names it (put into sql/schema.sql's {{source_tables}}).

-- Deezer's match of each MSD track, owned by its partition; its dimensions are merged by key.
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

-- Every state each MSD track's match has had (SCD type 2): the open row (valid_to NULL) is the current one.
-- Kept by every partition load (a new matcher's decision) and every snapshot load (an id relinked or gone).
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

{{postgresql: CREATE INDEX IF NOT EXISTS deezer_matches_track_id ON deezer_matches (track_id);}}
{{postgresql: CREATE INDEX IF NOT EXISTS deezer_matches_partition ON deezer_matches (msd_partition);}}
{{postgresql: CREATE INDEX IF NOT EXISTS deezer_tracks_id ON deezer_tracks (deezer_track_id);}}
{{postgresql: CREATE INDEX IF NOT EXISTS deezer_artists_id ON deezer_artists (deezer_artist_id);}}
{{postgresql: CREATE INDEX IF NOT EXISTS deezer_albums_id ON deezer_albums (deezer_album_id);}}
{{postgresql: CREATE INDEX IF NOT EXISTS deezer_match_history_partition ON deezer_match_history (msd_partition);}}
