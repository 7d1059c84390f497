"""``python -m pipeline.luigid wait URL PID``: did the luigid just started answer? (``make scheduler``)

Exits 0 once ``URL`` answers Luigi's API, 1 as soon as process ``PID`` is gone (a busy port ends
luigid at once) or after ``--timeout`` seconds without an answer.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
import urllib.error
import urllib.request


def alive(pid: int) -> bool:
    """Whether process ``pid`` still runs (a zombie waiting to be reaped does not)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A child that died is a zombie until reaped; /proc says so where there is one.
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as fh:
            return fh.read().rsplit(") ", 1)[1][0] != "Z"  # the name in ( ) may hold ") " itself
    except OSError:
        return True


def answers(url: str, timeout_s: float = 1.0) -> bool:
    return why_not_answering(url, timeout_s) is None


def why_not_answering(url: str, timeout_s: float = 1.0) -> str | None:
    """None when ``url`` answers Luigi's API within ``timeout_s``, else why not (refused, timed out, an HTTP error)."""
    try:
        with urllib.request.urlopen(f"{url.rstrip('/')}/api/task_list", timeout=timeout_s) as response:
            return None if response.status == 200 else f"HTTP {response.status}"
    except urllib.error.HTTPError as exc:
        return f"HTTP {exc.code} from /api/task_list: is it luigid?"
    except urllib.error.URLError as exc:
        return str(getattr(exc.reason, "strerror", None) or exc.reason)
    except (OSError, ValueError) as exc:  # a timeout mid-answer, a URL that is not one
        return str(exc) or type(exc).__name__


def check_scheduler(url: str | None, timeout_s: float = 5.0) -> None:
    """Before scheduling on luigid: one line naming the fix when ``url`` does not answer, instead of Luigi's
    retries (three, 30 s apart) and a traceback each."""
    if not url:
        return
    from pipeline.errors import TerminalError
    from pipeline.redaction import redact_url

    why = why_not_answering(url, timeout_s / 2)  # a connect and a read: at most ``timeout_s`` in all
    if why is not None:
        raise TerminalError(f"luigid at {redact_url(url)} does not answer ({why}): start it with `make scheduler` (or `luigid "
                            f"--port 8082`), fix --scheduler-url, or leave --scheduler-url out to run with the local "
                            f"scheduler")


def wait(url: str, pid: int, timeout_s: float) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if answers(url):
            return True
        if not alive(pid):
            return False
        time.sleep(0.2)
    return False


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m pipeline.luigid", description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    waiting = sub.add_parser("wait")
    waiting.add_argument("url")
    waiting.add_argument("pid", type=int)
    waiting.add_argument("--timeout", type=float, default=20.0)
    args = parser.parse_args(argv)
    return 0 if wait(args.url, args.pid, args.timeout) else 1


if __name__ == "__main__":
    sys.exit(main())
