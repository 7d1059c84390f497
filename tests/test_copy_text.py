"""PostgreSQL COPY text encoding (``CopyText``): compared field by field with a plain row-by-row
encoder, across block boundaries, with the values staged files really hold."""

from __future__ import annotations

import orjson
import pytest

from pipeline.warehouse.copy_text import CopyText
from pipeline.warehouse.schema import Column

COLUMNS = [
    Column("id", "VARCHAR(18)", True),
    Column("title", "VARCHAR(1024)", False),
    Column("score", "DOUBLE PRECISION", False),
    Column("year", "SMALLINT", False),
    Column("explicit", "BOOLEAN", False),
    Column("genres", "{{JSON}}", False),
]

AWKWARD = [
    "plain", "", "Tab\there", "line\nbreak", "carriage\rreturn", "back\\slash", "\\N", "Björk ∞ \u0001",
    'quote "double" \'single\'', None,
]


def reference_line(record: dict, load_id: str | None) -> str:
    """PostgreSQL's text format spelled out one field at a time (the documented rules)."""
    fields = []
    for column in COLUMNS:
        value = record.get(column.name)
        if value is None:
            fields.append("\\N")
            continue
        if column.is_json:
            value = orjson.dumps(value).decode()
        elif isinstance(value, bool):
            value = "t" if value else "f"
        else:
            value = str(value)
        fields.append(value.replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n").replace("\r", "\\r"))
    if load_id is not None:
        fields.append(load_id.replace("\\", "\\\\").replace("\t", "\\t"))
    return "\t".join(fields) + "\n"


def records(n: int) -> list[dict]:
    out = []
    for i in range(n):
        record = {"id": f"TR{i:016d}", "title": AWKWARD[i % len(AWKWARD)], "score": [0.1, 1e-300, -0.0, 3, None][i % 5],
                  "year": [None, 1999, 0][i % 3], "explicit": [True, False, None][i % 3],
                  "genres": [None, [], ["rock", 'a "quoted"\\tag'], {"k": "v\tw"}][i % 4]}
        if i % 7 == 0:
            del record["title"]  # a key the staged row lacks reads as null
        out.append(record)
    return out


def read_all(stream: CopyText) -> str:
    """What ``copy_expert`` sends: every block, until an empty read."""
    blocks = []
    while block := stream.read(8192):
        blocks.append(block)
    return b"".join(blocks).decode()


def staged_lines(rows: list[dict]) -> list[bytes]:
    lines = [orjson.dumps(r) for r in rows]
    lines.insert(3, b"")  # a blank line is skipped, not a row
    return lines


@pytest.mark.parametrize("block", [1, 3, 10, 2048])
@pytest.mark.parametrize("load_id", [None, "msd-A/A:s1:1234\tx"])
def test_blocks_of_copy_text_equal_the_row_by_row_rules(monkeypatch, block, load_id):
    monkeypatch.setattr(CopyText, "ROWS_PER_BLOCK", block)
    rows = records(25)
    stream = CopyText(staged_lines(rows), COLUMNS, load_id)
    blocks = []
    while chunk := stream.read(8192):
        assert chunk.endswith(b"\n") and chunk.count(b"\n") <= block  # whole rows, a block at most
        blocks.append(chunk)
    assert stream.read() == b""
    assert len(blocks) >= len(rows) // block
    assert b"".join(blocks).decode() == "".join(reference_line(r, load_id) for r in rows)


def test_a_column_is_escaped_only_where_one_of_its_strings_needs_it():
    rows = [{"id": "a", "title": "x"}, {"id": "b", "title": "y\tz"}]
    text = read_all(CopyText([orjson.dumps(r) for r in rows], COLUMNS[:2]))
    assert text == "a\tx\nb\ty\\tz\n"


@pytest.mark.parametrize("block", [2, 2048])
def test_duplicate_keys_are_counted_across_blocks(monkeypatch, block):
    monkeypatch.setattr(CopyText, "ROWS_PER_BLOCK", block)
    rows = [{"id": "a", "title": "1"}, {"id": "b", "title": "1"}, {"id": "a", "title": "1"},
            {"id": "a", "title": "2"}, {"id": None, "title": None}, {"id": None, "title": None}]
    stream = CopyText([orjson.dumps(r) for r in rows], COLUMNS[:2], key=("id", "title"))
    read_all(stream)
    assert stream.duplicates == 2  # ("a", "1") again, and the second (null, null)


def test_no_rows_is_an_empty_copy():
    stream = CopyText([b"", b""], COLUMNS, "load")
    assert stream.read() == b"" and stream.duplicates == 0
