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
    release_group_mbid VARCHAR(36),
    length_ms INTEGER,
    first_release_date VARCHAR(10),
    release_year SMALLINT,
    mb_first_release_year SMALLINT,
    fetched_at TIMESTAMP,
    load_id VARCHAR(64) NOT NULL
){{redshift: DISTSTYLE KEY DISTKEY (canonical_recording_mbid) SORTKEY (canonical_recording_mbid)}};

-- MusicBrainz tags of the recordings matched, their artists and their release groups: every entity whose tags an
-- answer told (none too), and its tags; merged by MBID, an entity's tags replaced as a whole.
CREATE TABLE IF NOT EXISTS musicbrainz_tagged_entities (
    entity VARCHAR(16) NOT NULL,
    mbid VARCHAR(36) NOT NULL,
    tag_count INTEGER NOT NULL,
    fetched_at TIMESTAMP,
    load_id VARCHAR(64) NOT NULL
){{redshift: DISTSTYLE KEY DISTKEY (mbid) SORTKEY (mbid)}};

CREATE TABLE IF NOT EXISTS musicbrainz_tags (
    entity VARCHAR(16) NOT NULL,
    mbid VARCHAR(36) NOT NULL,
    tag VARCHAR(1024) NOT NULL,
    count INTEGER NOT NULL,
    genre_mbid VARCHAR(36),
    source VARCHAR(16) NOT NULL,
    fetched_at TIMESTAMP,
    load_id VARCHAR(64) NOT NULL
){{redshift: DISTSTYLE KEY DISTKEY (mbid) SORTKEY (mbid, tag)}};

{{postgresql: CREATE INDEX IF NOT EXISTS musicbrainz_matches_partition ON musicbrainz_matches (msd_partition);}}
{{postgresql: CREATE INDEX IF NOT EXISTS musicbrainz_recordings_id ON musicbrainz_recordings (canonical_recording_mbid);}}
{{postgresql: CREATE INDEX IF NOT EXISTS musicbrainz_tagged_entities_id ON musicbrainz_tagged_entities (mbid);}}
{{postgresql: CREATE INDEX IF NOT EXISTS musicbrainz_tags_id ON musicbrainz_tags (mbid);}}
