"""Task processes end with the command that started them.

With ``--workers N`` Luigi runs each task in a forked process. If the command dies without a
chance to stop them (``kill -9``, an OOM kill, a closed terminal), those processes would be
adopted by PID 1 and go on calling Spotify and writing staging for a run that was stopped. On
Linux each task process asks the kernel for SIGTERM when its parent dies (``PR_SET_PDEATHSIG``);
elsewhere this does nothing.
"""

from __future__ import annotations

import ctypes
import os
import signal
import sys

import luigi

PR_SET_PDEATHSIG = 1  # <linux/prctl.h>

# The command's own process, fixed at import: forked task processes inherit the value.
COMMAND_PID = os.getpid()


@luigi.Task.event_handler(luigi.Event.START)
def end_with_the_command(task: luigi.Task) -> None:
    """Luigi fires START in the process that runs the task: a forked one when workers > 1."""
    if os.getpid() == COMMAND_PID or not sys.platform.startswith("linux"):
        return  # the task runs in the command itself
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0) != 0:
        return
    if os.getppid() != COMMAND_PID:  # the command died before the request took effect
        os.kill(os.getpid(), signal.SIGTERM)
