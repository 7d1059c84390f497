"""``python -m pipeline``: one module per command, each with ``add_parser(sub)`` and ``command(args)``.

    python -m pipeline run [--partitions A/A,B/D | --letters A] [--workers N] [--scheduler-url URL] [--dry-run]
    python -m pipeline extract [--partitions A/A,B/D | --letters A] [--workers N]
    python -m pipeline status
    python -m pipeline rerun A/B --force [--forget-journals] [--workers N]
    python -m pipeline report [--out data/report.html]
    python -m pipeline export [--format parquet|csv] [--out data/export]
    python -m pipeline refresh [--start YYYY-MM-DD | --date YYYY-MM-DD] [--workers N] [--scheduler-url URL]

Every command takes ``--verbose``. The screen gets the project's lines; Luigi's log goes to a file under
``[logs] dir`` (pipeline/cli/console.py). A bad setting or input ends the command with one line naming it
and the fix, and exit code 2; a failed run's last line is its first failure's cause; Ctrl-C ends with one
line and exit code 130.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import multiprocessing
import os
import sys
import time
from collections.abc import Callable

from pipeline.cli import console
from pipeline.errors import TerminalError

COMMANDS = ("run", "extract", "status", "rerun", "report", "export", "refresh")
INTERRUPTED = 130  # what a shell reports for a command ended by SIGINT


class PlainHelp(argparse.HelpFormatter):
    """Help as plain text: each option's default where it has one, and no reStructuredText ``literals``."""

    def _get_help_string(self, action):
        text = (action.help or "").replace("``", "`")
        default = action.default
        if (default not in (None, False, "", argparse.SUPPRESS) and action.option_strings
                and "default" not in text and action.nargs != 0):
            text += f" (default: {default})" if text else f"default: {default}"
        return text

    def _format_text(self, text):
        return super()._format_text(text.replace("``", "`"))


class PlainParser(argparse.ArgumentParser):
    def __init__(self, *args, **kwargs):
        kwargs.setdefault("formatter_class", PlainHelp)
        super().__init__(*args, **kwargs)


def _module(name: str):
    return importlib.import_module(f"pipeline.cli.{name}")


def parser() -> argparse.ArgumentParser:
    top = PlainParser(prog="python -m pipeline", description="Music ETL: the MSD joined to today's music catalogs, as "
                                                             "a Luigi pipeline.")
    sub = top.add_subparsers(dest="command", required=True, parser_class=PlainParser)
    for name in COMMANDS:
        _module(name).add_parser(sub)
        console.add_verbose(sub.choices[name])
    return top


def requests_counted(wait_s: float = 30.0) -> int:
    """Requests this command sent to every source, from the ledgers. Task processes write their line as they end
    (Ctrl-C reached them too, and Luigi sends SIGTERM to those still running): they are waited for first."""
    from pipeline.sources import answers, registry

    deadline = time.monotonic() + wait_s
    for child in multiprocessing.active_children():
        child.join(max(deadline - time.monotonic(), 0))
    total = 0
    for source in registry.registered():
        try:
            total += answers.total_spent(source.name)["this_command"]
        except Exception:  # noqa: BLE001 - an interrupted command still gets its one line
            logging.getLogger(__name__).exception("ledger of %s not readable", source.name)
    return total


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)

    def command() -> int:
        console.start(args.command, verbose=args.verbose)
        return _module(args.command).command(args)
    return guarded(command)


def guarded(command: Callable[[], int]) -> int:
    """``command()``'s exit code, or one line for how it ended otherwise: a bad setting or input (2), Ctrl-C (130),
    a reader that stopped reading (``status | head``), a failure the project knows (2), any other exception (1,
    its traceback kept in the command's log: a bug to report)."""
    try:
        return command()
    except TerminalError as exc:  # bad input or configuration: one line naming it and the fix
        print(f"error: {console.masked(str(exc))}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"interrupted; {requests_counted()} requests counted; rerun to continue", file=sys.stderr)
        return INTERRUPTED
    except BrokenPipeError:
        # The reader went away (`status | head -3`): nothing more can be shown, and nothing is wrong.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141  # what a shell reports for a command ended by SIGPIPE
    except Exception as exc:
        explained = console.explain(exc)
        logging.getLogger(__name__).exception("%s", explained or "unexpected failure")
        if explained is not None:
            print(f"error: {explained}", file=sys.stderr)
            return 2
        where = console.log_path()
        if where is None or not os.path.exists(where):
            raise  # no log to keep the traceback in: show it
        print(f"error: {type(exc).__name__}: {console.masked(' '.join(str(exc).split()))} (not a failure this project "
              f"knows: the traceback is in {where}; please report it)", file=sys.stderr)
        return 1
    finally:
        console.stop()
