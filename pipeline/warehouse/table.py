"""What a warehouse table is to a load: where its rows are staged and how a partition's load writes them.

Declared by the MSD tables (pipeline/warehouse/schema.py) and by each source for its own tables
(``pipeline/sources/<name>/source.py``); the columns come from the DDL itself.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Column:
    name: str
    type: str  # as written in the DDL, {{JSON}} included
    not_null: bool

    @property
    def is_json(self) -> bool:
        return self.type == "{{JSON}}"


@dataclass(frozen=True)
class Table:
    name: str
    stage: str  # the staging folder its file is in: msd, or the source whose loaded stage writes it
    file: str  # staged file in <staging>/<stage>/A/B/v-…/
    key: tuple[str, ...]  # unique in the table (checked after every load)
    # owned: rows belong to one partition (msd_partition) and a reload replaces them;
    # merged: shared dimension, rows replaced by `replace_by` key values present in the load.
    owned: bool = False
    replace_by: str | None = None
    # the stage table whose `replace_by` values say which rows this load replaces (default: its own)
    replace_from: str | None = None

    def columns(self) -> list[Column]:
        from pipeline.warehouse.schema import table_columns

        return table_columns()[self.name]
