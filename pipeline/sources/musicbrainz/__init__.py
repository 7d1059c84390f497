"""MusicBrainz identity: a recording MBID for each MSD song, offline first."""
