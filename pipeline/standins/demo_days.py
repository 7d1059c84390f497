"""The calendar day a demo sandbox plays (``make refresh-demo``): how far its catalog has moved on that day.

The Spotify and Deezer sandboxes move popularity, ranks and fans by their ``day``, the days after the catalog
they were built as (``moved_on``: each item at a pace of its own, some rising, some falling, a few still);
ListenBrainz's counts grow with the date itself. Started for a calendar day, the Spotify and Deezer sandboxes
play their catalog ``catalog_day(day)`` days on: a swing over ``CYCLE_DAYS`` days, half of it one way and half
the other, so any two days in a row differ by one day's move, every machine and run reads the same on the same
date, and no rank runs off to 0 or past a million however far the calendar goes. ``make demo`` enriches from
the catalog as built (day 0), whatever the date.

On every day it plays, the Deezer sandbox has also taken every ``GONE_EVERY``-th of its tracks away (licences
lapse): the refresh finds them gone and the match history records it, as it would of Deezer's.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date

CYCLE_DAYS = 28
GONE_EVERY = 50


def catalog_day(day: date) -> int:
    """The sandboxes' ``day`` on the calendar day ``day``: 0 to ``CYCLE_DAYS`` / 2, one up or down from one
    calendar day to the next."""
    return abs(day.toordinal() % CYCLE_DAYS - CYCLE_DAYS // 2)


def gone_tracks(track_ids: Iterable) -> set:
    """The tracks a sandbox playing a calendar day has taken away: every ``GONE_EVERY``-th in id order, the
    first among them, so any catalog loses at least one."""
    return set(sorted(track_ids)[::GONE_EVERY])
