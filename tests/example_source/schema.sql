-- The example source's one table: a fact per MSD track the CSV lists, owned by its partition.
CREATE TABLE IF NOT EXISTS example_facts (
    track_id VARCHAR(18) NOT NULL,
    msd_partition VARCHAR(3) NOT NULL,
    label VARCHAR(256),
    plays INTEGER,
    load_id VARCHAR(64) NOT NULL
){{redshift: DISTSTYLE KEY DISTKEY (track_id) SORTKEY (msd_partition, track_id)}};
