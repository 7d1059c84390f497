"""What a command shows on the screen, and where the rest goes.

The screen gets the project's own lines: a line per task (pipeline/progress.py), the run summary, and, when
something fails, the log's path and, last, the failure's one-line cause naming its fix. Luigi's log, the
project's log lines, library warnings and tracebacks go to one file per command under ``[logs] dir``
(``data/logs/run-20261207T101500Z-4242.log``); ``--verbose`` shows them on the screen as well.

Tasks may run in forked worker processes (``--workers N``), so each failure is also appended, as one JSON
line, to a file beside the log (``….failures.jsonl``) that the command reads when the run is over: the last
line can then name the task that failed and why, not just the first step left incomplete.
"""

from __future__ import annotations

import logging
import os
import sys
import traceback
from dataclasses import dataclass
from datetime import UTC, datetime

import luigi.configuration
import orjson

from pipeline import config
from pipeline.errors import PipelineError, TerminalError, TransientError

LOG_FORMAT = "%(asctime)s %(name)s[%(process)d] %(levelname)s: %(message)s"
_log_path: str | None = None
_handlers: list[logging.Handler] = []
_urls: list[str] = []  # the configured URLs a line is masked with, read when the command starts


def add_verbose(parser) -> None:
    parser.add_argument("--verbose", "-v", action="store_true",
                        help="show Luigi's log on the screen too (it always goes to a file under [logs] dir)")


class MaskingFormatter(logging.Formatter):
    """Log lines without passwords: a driver's error, a traceback, may quote a URL whole."""

    def format(self, record: logging.LogRecord) -> str:
        return masked(super().format(record))


def start(command: str, verbose: bool = False) -> str:
    """Send Luigi's log, the project's log lines and warnings of this process (and the workers it forks) to a file
    of this command's own; to the screen too when ``verbose``. Returns the file's path."""
    global _log_path
    folder = config.logs().dir
    try:
        os.makedirs(folder, exist_ok=True)
    except OSError as exc:
        raise TerminalError(f"cannot create the log folder {folder} ({exc.strerror}): set [logs] dir (environment "
                            f"MUSIC_ETL_LOGS_DIR) to a folder you can write") from None
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    path = os.path.join(folder, f"{command}-{stamp}-{os.getpid()}.log")
    stop()
    handlers: list[logging.Handler] = [logging.FileHandler(path, encoding="utf-8", delay=True)]
    if verbose:
        handlers.append(logging.StreamHandler(sys.stderr))
    root = logging.getLogger()
    for handler in handlers:
        handler.setFormatter(MaskingFormatter(LOG_FORMAT))
        root.addHandler(handler)
    root.setLevel(logging.INFO)
    _handlers[:] = handlers
    # Luigi would add a handler of its own printing every INFO line on stderr (luigi.setup_logging); the
    # project's handlers above receive its lines instead.
    luigi.configuration.get_config().set("core", "no_configure_logging", "true")
    logging.captureWarnings(True)  # a library's warning is the log's business, not the screen's
    _log_path = path
    _urls[:] = configured_urls()  # read once: every log line is masked with them (workers inherit them)
    return path


def stop() -> None:
    root = logging.getLogger()
    for handler in _handlers:
        root.removeHandler(handler)
        handler.close()
    _handlers.clear()


def log_path() -> str | None:
    return _log_path


def failures_path() -> str | None:
    return _log_path[: -len(".log")] + ".failures.jsonl" if _log_path else None


@dataclass
class Failure:
    task: str
    kind: str  # the exception's class name
    message: str
    terminal: bool
    transient: bool

    def text(self) -> str:
        """The cause on one line, whole (a cause that names its fix is no use cut before the fix)."""
        text = " ".join(self.message.split()) or self.kind
        if self.terminal or self.transient:
            return text
        where = f": the traceback is in {_log_path}" if _log_path else ""
        return f"{self.kind}: {text} (not a failure this project knows{where}; rerun to retry)"


def record_failure(task: str, exception: BaseException) -> bool:
    """Append a task's failure to this command's failures file (from whichever process ran the task); whether its
    cause is new to this command (the screen says a repeated cause once)."""
    path = failures_path()
    if path is None:
        return True
    explained = explain(exception)
    message = masked(explained or str(exception))
    new = all(f.message != message for f in failures())
    line = orjson.dumps({"task": task, "kind": type(exception).__name__, "message": message,
                         "terminal": isinstance(exception, TerminalError) or explained is not None,
                         "transient": isinstance(exception, TransientError)})
    # One write of one line per failure: appends from several processes do not interleave.
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    try:
        os.write(fd, line + b"\n")
    finally:
        os.close(fd)
    logging.getLogger("pipeline.failures").error("%s failed:\n%s", task,
                                                 "".join(traceback.format_exception(exception)).rstrip())
    return new


def masked(text: str) -> str:
    """``text`` without a password any configured URL, or any URL it quotes, carries (drivers quote DSNs)."""
    from pipeline.redaction import redact_text

    return redact_text(text, *(_urls or configured_urls()))


def configured_urls() -> tuple[str, ...]:
    return config.warehouse().url, config.staging().root, config.answers().root


def failures() -> list[Failure]:
    """The failures this command's tasks recorded, in the order they happened."""
    path = failures_path()
    if not path or not os.path.exists(path):
        return []
    with open(path, "rb") as fh:
        return [Failure(**orjson.loads(line)) for line in fh if line.strip()]


def explain(exception: BaseException) -> str | None:
    """The one-line cause and fix of a failure that is not the project's own error but is known, else None."""
    if isinstance(exception, PipelineError):
        return None
    try:
        from botocore.exceptions import NoCredentialsError
    except ImportError:  # pragma: no cover - boto3 is a dependency
        NoCredentialsError = ()  # noqa: N806
    if isinstance(exception, NoCredentialsError):
        return no_aws_credentials()
    return None


def no_aws_credentials() -> str:
    where = [f"{name} {value}" for name, value in (("staging root", config.staging().root),
                                                   ("answers root", config.answers().root),
                                                   ("MSD root", config.msd().root)) if value.startswith("s3://")]
    return (f"no AWS credentials were found for {', '.join(where) or 'S3'}: set AWS_ACCESS_KEY_ID and "
            f"AWS_SECRET_ACCESS_KEY (or AWS_PROFILE), or run where an instance role gives them; to try the pipeline "
            f"without S3, set MUSIC_ETL_STAGING_ROOT to a local folder")


def last_lines(failed: list[Failure], fallback: str) -> list[str]:
    """What a failed command prints after its summary: where the log is, then each distinct cause once, naming the
    tasks it failed. The last line is a cause to fix (a terminal one when there is one: rerunning does not help
    until it is fixed), whole."""
    lines = [f"log: {_log_path}"] if _log_path else []
    if not failed:
        return [*lines, f"error: {fallback}"]
    causes: dict[str, list[Failure]] = {}
    for failure in failed:
        causes.setdefault(failure.text(), []).append(failure)
    # Transient causes first, then unknown ones, terminal ones last: the last line is the one that needs a fix.
    order = sorted(causes.items(), key=lambda item: (item[1][0].terminal, not item[1][0].transient))
    for text, tasks in order:
        names = sorted({f.task for f in tasks})
        who = names[0] if len(names) == 1 else f"{names[0]} and {len(names) - 1} other task{'s' if len(names) > 2 else ''}"
        lines.append(f"error: {who}: {text}")
    return lines


def print_failure(failed: list[Failure], fallback: str) -> None:
    for line in last_lines(failed, fallback):
        print(line, file=sys.stderr, flush=True)
