-- MusicBrainz's columns of enriched_songs: the recording each song is (the id found and the id MusicBrainz uses
-- now), how it was found, MSD's artist id as MusicBrainz has it now, and the first release year MusicBrainz knows
-- (MSD's own year stays in year).
SELECT
    mbm.recording_mbid,
    mbm.canonical_recording_mbid,
    mbm.status AS mb_status,
    mbm.method AS mb_method,
    mbm.score AS mb_score,
    mbm.canonical_artist_mbid,
    mbr.release_name AS mb_release_name,
    mbr.mb_first_release_year
FROM songs s
LEFT JOIN musicbrainz_matches mbm ON mbm.track_id = s.track_id
LEFT JOIN musicbrainz_recordings mbr ON mbr.canonical_recording_mbid = mbm.canonical_recording_mbid
