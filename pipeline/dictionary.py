"""The data dictionary read back: what each warehouse table and column is, for the files a
researcher takes away (``python -m pipeline export``) and the report.

DATA_DICTIONARY.md describes the MSD's tables, the snapshots and the core of the view; each source
describes its own staged files, tables and view columns in its folder's ``DICTIONARY.md``. Together
they are the one place the warehouse is described for people; a test keeps them in step with the
schema (tests/test_data_dictionary.py). Each ``### warehouse.<name>`` section gives a table's
description (the text before its column table) and, per column, its type, source and null rule; a
table described in several files (the view) has the columns of each. The type names the column's
type in every exported file.
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


def files() -> list[str]:
    """DATA_DICTIONARY.md, then every registered source's part, in registry order."""
    from pipeline.sources import registry

    return [DICTIONARY_FILE, *(p for p in (s.dictionary() for s in registry.registered()) if p)]


def combined_text() -> str:
    """The whole dictionary as one document (what an export puts beside its files)."""
    parts = []
    for path in files():
        with open(path, encoding="utf-8") as fh:
            parts.append(fh.read().rstrip() + "\n")
    return "\n".join(parts)


def licensed_text() -> str:
    """The whole dictionary with each warehouse column's source and licence in a last cell (its table's owner's,
    pipeline/licences.py: nothing written per column), after a table of every origin's licence and terms: what an
    export puts beside its files."""
    from pipeline import licences

    lines = ["# Sources and licences", "",
             "Each warehouse column below ends with its source and licence: those of its table's owner (the MSD, a "
             "source, or for a view column the source that gives it). `python -m pipeline export --open-only` writes "
             "only what may be republished.", "",
             "| source | licence | may be republished | terms |", "|---|---|---|---|"]
    for o in licences.origins():
        licence = f"[{o.licence}]({o.licence_url})" if o.licence_url else o.licence
        lines.append(f"| {o.title} | {licence} | {'yes' if o.republishable else 'no'} | {o.terms} |")
    lines.append("")
    table = None
    for line in combined_text().splitlines():
        section = _SECTION.match(line)
        if line.startswith("#"):
            table = section.group(1) if section else None
        elif table and line.startswith("| column |"):
            line += " source and licence |"
        elif table and line.startswith("|---"):
            line += "---|"
        elif table and (row := _ROW.match(line)):
            try:
                owners = licences.column_owners(table, [row.group(1)])[row.group(1)]
            except KeyError:  # a section the schema does not have: the dictionary test says so
                owners = None
            if owners:
                line += f" {licences.describe(owners, table)} |"
        lines.append(line)
    return "\n".join(lines) + "\n"


def warehouse_tables() -> dict[str, TableDoc]:
    """Every ``warehouse.<name>`` section of every dictionary file, in the order they list them."""
    return _warehouse_tables(tuple(files()))


@functools.lru_cache(maxsize=4)
def _warehouse_tables(paths: tuple[str, ...]) -> dict[str, TableDoc]:
    tables: dict[str, TableDoc] = {}
    for path in paths:
        for name, doc in _read(path).items():
            if name in tables:  # the view: its core columns here, each source's in its own file
                doc = TableDoc(name, tables[name].description or doc.description, tables[name].columns + doc.columns)
            tables[name] = doc
    return tables


def _read(path: str) -> dict[str, TableDoc]:
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
