"""AcousticBrainz, the audio features source: the frozen 2022 low-level dumps (CC0), joined offline to the MusicBrainz identity."""
