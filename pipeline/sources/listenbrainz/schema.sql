-- ListenBrainz's tables, loaded when [sources] enabled names it (put into sql/schema.sql's {{source_tables}}).

-- Each MSD track's recording counts, owned by its partition; artists merged by MBID.
CREATE TABLE IF NOT EXISTS listenbrainz_recordings (
    track_id VARCHAR(18) NOT NULL,
    msd_partition VARCHAR(3) NOT NULL,
    recording_mbid VARCHAR(36),
    artist_mbid VARCHAR(36),
    total_listen_count BIGINT,
    total_user_count BIGINT,
    fetched_at TIMESTAMP,
    load_id VARCHAR(64) NOT NULL
){{redshift: DISTSTYLE KEY DISTKEY (track_id) SORTKEY (msd_partition, track_id)}};

CREATE TABLE IF NOT EXISTS listenbrainz_artists (
    artist_mbid VARCHAR(36) NOT NULL,
    total_listen_count BIGINT,
    total_user_count BIGINT,
    fetched_at TIMESTAMP,
    load_id VARCHAR(64) NOT NULL
){{redshift: DISTSTYLE ALL SORTKEY (artist_mbid)}};

{{postgresql: CREATE INDEX IF NOT EXISTS listenbrainz_recordings_partition ON listenbrainz_recordings (msd_partition);}}
{{postgresql: CREATE INDEX IF NOT EXISTS listenbrainz_artists_id ON listenbrainz_artists (artist_mbid);}}
