-- ListenBrainz's columns of enriched_songs: all-time listens and listeners of the song's recording and artist.
SELECT
    lbr.total_listen_count AS lb_listen_count,
    lbr.total_user_count AS lb_user_count,
    lba.total_listen_count AS lb_artist_listen_count,
    lba.total_user_count AS lb_artist_user_count
FROM songs s
LEFT JOIN listenbrainz_recordings lbr ON lbr.track_id = s.track_id
LEFT JOIN listenbrainz_artists lba ON lba.artist_mbid = lbr.artist_mbid
