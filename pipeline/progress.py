"""What a person watching a run sees (demo, ``python -m pipeline run``/``rerun``).

* A line when a task succeeds or fails, and when it took a while: kept in logs too.
* On a terminal only, a progress bar over the run's tasks with partitions loaded and an ETA
  (tqdm). Nothing of it when output is not a terminal: logs get the lines, not the redraws.

Luigi fires task events in the process that runs the task (a forked child when workers > 1),
so each line is printed where the work happened, and the bar's counts live in shared memory the
children inherit (``multiprocessing.Value``), read by a thread of the command's own process.
"""

from __future__ import annotations

import multiprocessing
import os
import signal
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager

import luigi
import luigi.worker
from tqdm import tqdm

_installed = False
# Tasks, and partitions finished per step, by this command's processes (shared with forked workers).
_finished = multiprocessing.Value("i", 0)
_partitions_done = {family: multiprocessing.Value("i", 0) for family in ("ExtractPartition", "LoadPartition")}


def _describe(task: luigi.Task) -> str:
    """``LoadPartition(A/B)``, ``RefreshPartition(deezer, A/B, 2026-12-07)``: the parameters that tell tasks of a
    family apart on a screen."""
    shown = [str(value) for name in ("source", "partition", "date") if (value := task.param_kwargs.get(name))]
    return f"{type(task).__name__}({', '.join(shown)})" if shown else type(task).__name__


def install() -> None:
    """Print a line when a task starts work, succeeds or fails, and count it (idempotent)."""
    global _installed
    if _installed:
        return
    _installed = True
    command_pid = os.getpid()

    @luigi.Task.event_handler(luigi.Event.START)
    def _started(task):
        if os.getpid() != command_pid:
            # A task process (--workers N): Ctrl-C reaches it too, but stopping is the command's to do (Luigi sends
            # its task processes SIGTERM, on which each writes its ledger line); here it would print a traceback.
            signal.signal(signal.SIGINT, signal.SIG_IGN)

    @luigi.Task.event_handler(luigi.Event.SUCCESS)
    def _done(task):
        with _finished.get_lock():
            _finished.value += 1
        counter = _partitions_done.get(type(task).__name__)
        if counter is not None:
            with counter.get_lock():
                counter.value += 1
        print(f"  done    {_describe(task)}", flush=True)

    @luigi.Task.event_handler(luigi.Event.FAILURE)
    def _failed(task, exception):
        _say_failed(task, exception)

    @luigi.Task.event_handler(luigi.Event.BROKEN_TASK)
    def _broken(task, exception):
        # Its requires() raised while the graph was being built: the task and those downstream of it can never
        # run, and a worker kept alive ([worker] keep_alive) would wait for them for ever.
        _say_failed(task, exception)
        _stop_asking_for_work()

    @luigi.Task.event_handler(luigi.Event.DEPENDENCY_MISSING)
    def _unknown(task):
        from pipeline.cli import console

        if isinstance(task, luigi.ExternalTask):
            return  # data that is not there yet, as Luigi means it
        # Not external: its complete() raised (Luigi logged the traceback); the same wait as above follows.
        where = f" (the traceback is in {console.log_path()})" if console.log_path() else ""
        _say_failed(task, TaskCheckError(f"checking whether it is complete failed{where}"))
        _stop_asking_for_work()

    @luigi.Task.event_handler(luigi.Event.TIMEOUT)
    @luigi.Task.event_handler(luigi.Event.PROCESS_FAILURE)
    def _died(task, error_message):
        # The task's process died (killed, out of memory) or hit [worker] timeout: no exception to show.
        _say_failed(task, TaskProcessDiedError(error_message))

    @luigi.Task.event_handler(luigi.Event.PROCESSING_TIME)
    def _timed(task, seconds):
        if seconds >= 5:
            print(f"          {_describe(task)} took {seconds:.0f} s", flush=True)


def _say_failed(task: luigi.Task, exception: BaseException) -> None:
    """Record a task's failure for the command's last lines and print its FAILED line: the cause's first line whole
    (a cause that names its fix is no use cut before the fix), once per command."""
    from pipeline.cli import console

    new = console.record_failure(_describe(task), exception)
    lines = console.masked(console.explain(exception) or str(exception)).splitlines() or [type(exception).__name__]
    print(f"  FAILED  {_describe(task)}: {lines[0] if new else 'the same cause as above'}", file=sys.stderr, flush=True)


def _stop_asking_for_work() -> None:
    """Luigi's documented graceful stop (SIGUSR1: ask for no more work, finish what runs), sent to this process
    when it is a Luigi worker that installed the handler; else nothing (a worker in a thread cannot)."""
    handler = signal.getsignal(signal.SIGUSR1)
    if isinstance(getattr(handler, "__self__", None), luigi.worker.Worker):
        os.kill(os.getpid(), signal.SIGUSR1)


class TaskCheckError(Exception):
    """A task whose ``complete()`` raised while the graph was built."""


class TaskProcessDiedError(Exception):
    """A task whose process ended without raising (a signal, the out-of-memory killer, a timeout)."""


def on_terminal() -> bool:
    return sys.stderr.isatty()


@contextmanager
def run_bar(tasks: int, partitions: int, step: str = "LoadPartition", interval_s: float = 0.5) -> Iterator[None]:
    """Around a run expected to finish ``tasks`` tasks and take ``partitions`` partitions through
    ``step`` (loaded, or extracted): a bar with those partitions and an ETA, redrawn from the shared
    counts. Off the terminal, nothing."""
    if not on_terminal() or not tasks:
        yield
        return
    done = _partitions_done[step]
    label = "loaded" if step == "LoadPartition" else "extracted"
    start_finished, start_done = _finished.value, done.value
    try:
        width = os.get_terminal_size(sys.stderr.fileno()).columns
    except OSError:
        width = 0
    # A terminal that does not say its width (some pseudo-terminals) gets 80 columns, not an empty bar.
    bar = tqdm(total=tasks, desc="run", unit=" tasks", dynamic_ncols=bool(width), ncols=None if width else 80)
    stop = threading.Event()

    def draw():
        bar.n = min(_finished.value - start_finished, tasks)
        bar.set_postfix_str(f"partitions {label} {done.value - start_done}/{partitions}", refresh=False)
        bar.refresh()

    def redraw():
        draw()
        while not stop.wait(interval_s):
            draw()

    thread = threading.Thread(target=redraw, name="progress-bar", daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join()
        draw()  # where the run ended
        bar.close()
