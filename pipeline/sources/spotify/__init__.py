"""Spotify: the Web API as a Development-Mode app sees it in 2026 (see source.py)."""
