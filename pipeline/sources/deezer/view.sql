-- Deezer's columns of enriched_songs: rank, bpm, gain, the lead artist's fans, the album's genres, and whether
-- Deezer found the recording Spotify found. pipeline/warehouse/schema.py puts the columns and joins into the view.
SELECT
    dm.deezer_track_id,
    dt.popularity_rank AS deezer_rank,
    dt.bpm AS deezer_bpm,
    dt.gain AS deezer_gain,
    da.nb_fan AS deezer_artist_fans,
    dal.genres AS deezer_album_genres,
    dm.agrees_with_spotify AS sources_agree
FROM songs s
LEFT JOIN deezer_matches dm ON dm.track_id = s.track_id
LEFT JOIN deezer_tracks dt ON dt.deezer_track_id = dm.deezer_track_id
LEFT JOIN deezer_artists da ON da.deezer_artist_id = dt.primary_artist_id
LEFT JOIN deezer_albums dal ON dal.deezer_album_id = dt.album_id
