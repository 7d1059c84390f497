-- AcousticBrainz's columns of enriched_songs: the song's recording as Essentia measured it, submissions aggregated
-- (tempo in BPM, key 0-11 and mode 1/0 as MSD counts them, danceability on Essentia's 0-3 scale).
SELECT
    abf.bpm AS ab_bpm,
    abf.bpm_spread AS ab_bpm_spread,
    abf.key AS ab_key,
    abf.mode AS ab_mode,
    abf.key_share AS ab_key_share,
    abf.danceability AS ab_danceability,
    abf.onset_rate AS ab_onset_rate,
    abf.tuning_frequency AS ab_tuning_frequency,
    abf.submissions AS ab_submissions
FROM songs s
LEFT JOIN acousticbrainz_features abf ON abf.track_id = s.track_id
