"""An HTTP stand-in on 127.0.0.1: a handler class bound to its state, served on a background
thread (tests, benchmarks, the demo) or in the foreground (the sandboxes' command lines)."""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

# How often the serving loop looks for a stop request: stop() waits up to this long, which the default
# (0.5 s) made half a second per sandbox stopped in every test.
POLL_INTERVAL_S = 0.02


class LoopbackServer:
    def __init__(self, handler: type[BaseHTTPRequestHandler], state, port: int = 0, name: str = "sandbox"):
        self.state, self.name = state, name
        self.httpd = ThreadingHTTPServer(("127.0.0.1", port), type("BoundHandler", (handler,), {"state": state}))
        self.httpd.daemon_threads = True

    @property
    def url(self) -> str:
        host, port = self.httpd.server_address[:2]
        return f"http://{host}:{port}"

    def start(self):
        threading.Thread(target=self.httpd.serve_forever, args=(POLL_INTERVAL_S,), name=self.name, daemon=True).start()
        return self

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()

    def serve_until_interrupted(self) -> int:
        """The command-line way: serve in the foreground until Ctrl-C; 0 for the exit code."""
        try:
            self.httpd.serve_forever()
        except KeyboardInterrupt:
            pass
        finally:
            self.httpd.server_close()
        return 0
