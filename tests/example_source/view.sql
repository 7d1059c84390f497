-- The example source's columns of enriched_songs.
SELECT
    ex.label AS example_label,
    ex.plays AS example_plays
FROM songs s
LEFT JOIN example_facts ex ON ex.track_id = s.track_id
