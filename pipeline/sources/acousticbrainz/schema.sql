-- AcousticBrainz's table, loaded when [sources] enabled names it (put into sql/schema.sql's {{source_tables}}).

-- Each MSD track's AcousticBrainz features (its recording's submissions aggregated), owned by its partition.
CREATE TABLE IF NOT EXISTS acousticbrainz_features (
    track_id VARCHAR(18) NOT NULL,
    msd_partition VARCHAR(3) NOT NULL,
    status VARCHAR(16) NOT NULL,
    recording_mbid VARCHAR(36),
    submission_mbids {{JSON}},
    submissions INTEGER,
    bpm DOUBLE PRECISION,
    bpm_spread DOUBLE PRECISION,
    danceability DOUBLE PRECISION,
    onset_rate DOUBLE PRECISION,
    key_name VARCHAR(4),
    key_scale VARCHAR(8),
    key SMALLINT,
    mode SMALLINT,
    key_share DOUBLE PRECISION,
    tuning_frequency DOUBLE PRECISION,
    joined_at TIMESTAMP,
    load_id VARCHAR(64) NOT NULL
){{redshift: DISTSTYLE KEY DISTKEY (track_id) SORTKEY (msd_partition, track_id)}};

{{postgresql: CREATE INDEX IF NOT EXISTS acousticbrainz_features_partition ON acousticbrainz_features (msd_partition);}}
