"""ListenBrainz: open (CC0) listen counts of recordings and artists, 1,000 ids per request."""
