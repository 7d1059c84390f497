"""Deezer, the second enrichment source: a keyless public API with rank, bpm, gain, fans and album genres."""
