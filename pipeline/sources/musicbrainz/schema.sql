-- MusicBrainz's tables, loaded when [sources] enabled names it (put into sql/schema.sql's {{source_tables}}).

-- The MusicBrainz identity of each MSD track, owned by its partition; the recordings matched are merged by key.
CREATE TABLE IF NOT EXISTS musicbrainz_matches (
    track_id VARCHAR(18) NOT NULL,
    msd_partition VARCHAR(3) NOT NULL,
    status VARCHAR(16) NOT NULL,
    score DOUBLE PRECISION,
    method VARCHAR(16),
    recording_mbid VARCHAR(36),
    canonical_recording_mbid VARCHAR(36),
    artist_mbid VARCHAR(36),
    canonical_artist_mbid VARCHAR(36),
    note VARCHAR(256),
    matched_at TIMESTAMP,
    load_id VARCHAR(64) NOT NULL
){{redshift: DISTSTYLE KEY DISTKEY (track_id) SORTKEY (msd_partition, track_id)}};

CREATE TABLE IF NOT EXISTS musicbrainz_recordings (
    canonical_recording_mbid VARCHAR(36) NOT NULL,
    recording_name VARCHAR(1024),
    artist_credit_name VARCHAR(1024),
    artist_mbids {{JSON}},
    release_mbid VARCHAR(36),
    release_name VARCHAR(1024),
    length_ms INTEGER,
    fetched_at TIMESTAMP,
    load_id VARCHAR(64) NOT NULL
){{redshift: DISTSTYLE KEY DISTKEY (canonical_recording_mbid) SORTKEY (canonical_recording_mbid)}};

{{postgresql: CREATE INDEX IF NOT EXISTS musicbrainz_matches_partition ON musicbrainz_matches (msd_partition);}}
{{postgresql: CREATE INDEX IF NOT EXISTS musicbrainz_recordings_id ON musicbrainz_recordings (canonical_recording_mbid);}}
