"""This process's listings of what the stores hold (staged manifests, warehouse markers)."""

from __future__ import annotations

from pipeline import staging
from pipeline.partitions import forget_input_ids
from pipeline.warehouse.target import forget_known_markers


def forget_listings() -> None:
    """Drop this process's listings of staged manifests, warehouse markers and MSD files.

    ``complete()`` answers from them for up to ``staging.LISTING_MAX_AGE_S``; code that asks again
    right after work done by other processes (``workers > 1``, luigid) calls this first."""
    staging.reset_manifest_index()
    forget_input_ids()
    forget_known_markers()
