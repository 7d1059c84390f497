"""DATA_DICTIONARY.md read back: what each warehouse table and column is, for the files a
researcher takes away (``python -m pipeline export``) and the report.

The dictionary is the one place the warehouse is described for people; a test keeps it in step
with ``sql/schema.sql`` (tests/test_data_dictionary.py). Here each ``### warehouse.<name>``
section gives a table's description (the text before its column table) and, per column, its
type, source and null rule. The type names the column's type in every exported file.
"""

from __future__ import annotations

import functools
import os
import re
from dataclasses import dataclass

DICTIONARY_FILE = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "DATA_DICTIONARY.md")

_SECTION = re.compile(r"^### warehouse\.(\w+)$")
_ROW = re.compile(r"^\| `(\w+)` \| (.+?) \| (.*?) \| (.*?) \| (.*?) \|$")


@dataclass(frozen=True)
class ColumnDoc:
    name: str
    type: str  # as the dictionary writes it: VARCHAR(18), DOUBLE PRECISION, …; JSON for JSON lists
    source: str
    null_rule: str

    @property
    def description(self) -> str:
        return f"{self.source}; {self.null_rule}" if self.null_rule else self.source


@dataclass(frozen=True)
class TableDoc:
    name: str
    description: str
    columns: tuple[ColumnDoc, ...]


def _plain(text: str) -> str:
    """Markdown cell or paragraph text as plain text: backticks and bold marks dropped."""
    return re.sub(r"\s+", " ", text.replace("`", "").replace("**", "")).strip()


@functools.cache
def warehouse_tables(path: str = DICTIONARY_FILE) -> dict[str, TableDoc]:
    """Every ``warehouse.<name>`` section of the dictionary, in the order it lists them."""
    with open(path, encoding="utf-8") as fh:
        lines = fh.read().splitlines()
    tables: dict[str, TableDoc] = {}
    name, prose, columns = None, [], []

    def close():
        if name:
            tables[name] = TableDoc(name, _plain(" ".join(prose)), tuple(columns))

    for line in lines:
        if line.startswith("#"):
            close()
            section = _SECTION.match(line)
            name, prose, columns = (section.group(1) if section else None), [], []
            continue
        if name is None:
            continue
        row = _ROW.match(line)
        if row:
            column, kind, source, null_rule, _ = row.groups()
            kind = "JSON" if kind.startswith("JSON") else kind.strip("`")
            columns.append(ColumnDoc(column, kind, _plain(source), _plain(null_rule)))
        elif not columns and not line.startswith("|"):
            prose.append(line)
    close()
    return tables
