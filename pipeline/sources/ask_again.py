"""Stages whose answers held a "no data" that is likely a fault: their partition is staged again by the next command.

A source's answer for an id that another of its answers named (an album id a track gave) cannot honestly
be "no data"; when it is, the service was most likely failing (seen on Deezer: a share of artist and album
lookups answered code 800 for ids it holds). The gateway keeps such an answer but asks it again in a later
command, at most ``NAMED_NO_DATA_ASKS`` times in all (pipeline/sources/base.py). For that later command to run
the stage at all, the stage's output version gains a round number: a stage that ends with such answers
writes ``<answers root>/<source>/_ask_again/<Task>-<AB>-<round>.json``, and the next command, which lists
that folder once, stages the partition again under the next round (every other answer from the store) and
reloads it. This command keeps the round it started with, so what it just staged stays complete for it.
"""

from __future__ import annotations

from pipeline import staging
from pipeline.sources import answers

FOLDER = "_ask_again"
# How many times an id another answer named is asked before its "no data" is believed.
NAMED_NO_DATA_ASKS = 3

_rounds: dict[str, dict[tuple[str, str], int]] = {}  # folder → (task, partition) → latest round; read once per process


def _folder(source: str) -> str:
    return f"{answers.store_folder(source)}/{FOLDER}"


def round_of(source: str, task: str, partition: str) -> int:
    """The round a stage's output is in (0: never staged again for such answers)."""
    folder = _folder(source)
    if folder not in _rounds:
        latest: dict[tuple[str, str], int] = {}
        for path in staging.list_files(folder, ".json"):
            name = path.rsplit("/", 1)[-1][: -len(".json")]
            task_name, part, round_ = name.rsplit("-", 2)
            key = (task_name, f"{part[0]}/{part[1]}")
            latest[key] = max(latest.get(key, 0), int(round_))
        _rounds[folder] = latest
    return _rounds[folder].get((task, partition), 0)


def schedule(source: str, task: str, partition: str, asked_again: list[tuple[str, str]]) -> None:
    """The next command stages ``partition`` again (this one keeps its round)."""
    next_round = round_of(source, task, partition) + 1
    path = f"{_folder(source)}/{task}-{partition.replace('/', '')}-{next_round}.json"
    staging.write_json(staging.target(path), {"command": answers.COMMAND_ID, "at": answers.utc_now(),
                                              "ask_again": [list(k) for k in sorted(asked_again)]})


def forget() -> None:
    """Read the rounds again at the next question (a new command, in tests)."""
    _rounds.clear()


__all__ = ["NAMED_NO_DATA_ASKS", "forget", "round_of", "schedule"]
