"""``[example]``: where the facts are."""

from __future__ import annotations

import luigi

from pipeline.config import EnvironmentParameter


class example(luigi.Config):  # noqa: N801 - Luigi maps the class name to the [example] section
    facts = EnvironmentParameter("MUSIC_ETL_EXAMPLE_FACTS", "", significant=False,
                                 description="CSV of track_id,label,plays: the facts this source adds")
