"""Benchmarks: each script measures the pipeline against a baseline in the same run (BENCHMARKS.md)."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time


def write_results(path: str | None, results: dict) -> None:
    """Keep a run's full results (every round) as JSON when ``--json`` asks for it."""
    if path:
        os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
        with open(path, "w") as fh:
            json.dump(results, fh, indent=1)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_moto_server() -> tuple[subprocess.Popen, str]:
    """moto in a process of its own (``moto_server``), so its request handling does not share the
    benchmark's interpreter lock; returns the process and its endpoint once it accepts connections."""
    port = free_port()
    server = subprocess.Popen([os.path.join(os.path.dirname(sys.executable), "moto_server"), "-H", "127.0.0.1",
                               "-p", str(port)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    for _ in range(150):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return server, f"http://127.0.0.1:{port}"
        except OSError:
            time.sleep(0.1)
    server.kill()
    raise SystemExit("moto_server did not start")
