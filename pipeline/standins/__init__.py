"""Stand-ins for what this machine cannot reach, started by the project itself: an MSD sample
generator and its HDF5 writer, and a Spotify Web API sandbox with its catalog. Not used by a
production run; the next source's sandbox goes here too."""
