-- Spotify's columns of enriched_songs: its match, track, primary artist and audio features (null where the app
-- cannot see them). pipeline/warehouse/schema.py puts the columns and joins into the view.
SELECT
    m.status AS match_status,
    m.score AS match_score,
    m.method AS match_method,
    m.matched_at,
    t.spotify_track_id,
    t.name AS spotify_track_name,
    t.isrc AS spotify_isrc,
    t.album_name AS spotify_album_name,
    t.release_date AS spotify_release_date,
    t.release_year AS spotify_release_year,
    t.duration_ms AS spotify_duration_ms,
    t.explicit AS spotify_explicit,
    t.popularity AS spotify_track_popularity,
    a.spotify_artist_id,
    a.name AS spotify_artist_name,
    a.genres AS spotify_artist_genres,
    a.popularity AS spotify_artist_popularity,
    a.followers AS spotify_artist_followers,
    f.danceability AS spotify_danceability,
    f.energy AS spotify_energy,
    f.valence AS spotify_valence,
    f.acousticness AS spotify_acousticness,
    f.instrumentalness AS spotify_instrumentalness,
    f.liveness AS spotify_liveness,
    f.speechiness AS spotify_speechiness,
    f.tempo AS spotify_tempo
FROM songs s
LEFT JOIN spotify_matches m ON m.track_id = s.track_id
LEFT JOIN spotify_tracks t ON t.spotify_track_id = m.spotify_track_id
LEFT JOIN spotify_artists a ON a.spotify_artist_id = t.primary_artist_id
LEFT JOIN spotify_audio_features f ON f.spotify_track_id = t.spotify_track_id
