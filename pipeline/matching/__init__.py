"""Matching shared by every source: name normalisation (``names``) and the decision (``decide``).

A source turns a song into queries and its answers into candidates (compact tracks); these
modules decide which candidate, if any, is the song.
"""
