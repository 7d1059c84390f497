"""An S3 endpoint whose ETags are not MD5s: a loopback HTTP proxy in front of the moto server.

AWS gives objects encrypted with SSE-KMS or SSE-C, and multipart uploads, ETags that are not the
MD5 of their bytes. This proxy forwards every request unchanged and rewrites every ETag it
returns, in headers and in XML bodies (listings), to such an opaque value, so tests can prove
the pipeline never takes an ETag for a content digest.
"""

from __future__ import annotations

import hashlib
import http.client
import re
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

from pipeline.standins.loopback import POLL_INTERVAL_S  # shutdown() waits up to one poll

_XML_ETAG = re.compile(rb"<ETag>(.*?)</ETag>")


def opaque_etag(etag: str) -> str:
    """What a multipart upload's ETag looks like: not the MD5 of the data, with a part count."""
    return f'"{hashlib.sha1(etag.strip(chr(34)).encode()).hexdigest()[:32]}-3"'


class EtagRewritingProxy:
    def __init__(self, upstream: str):
        self.upstream = urlsplit(upstream)
        self.rewritten = 0
        self._lock = threading.Lock()
        # What S3 does with its own ETags, the proxy does with the ones it hands out: a conditional request
        # (If-Match, If-None-Match) naming one is sent upstream with the ETag it stands for.
        self._original: dict[str, str] = {}
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True  # headers and body are two writes: no 40 ms delayed-ACK stall each

            def log_message(self, *args):
                pass

            def _forward(self):
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else None
                upstream = http.client.HTTPConnection(proxy.upstream.hostname, proxy.upstream.port, timeout=30)
                headers = {k: v for k, v in self.headers.items() if k.lower() not in ("connection",)}
                for key in [k for k in headers if k.lower() in ("if-match", "if-none-match")]:
                    with proxy._lock:
                        headers[key] = proxy._original.get(headers[key], headers[key])
                upstream.request(self.command, self.path, body=body, headers=headers)
                answer = upstream.getresponse()
                data = answer.read()
                upstream.close()
                count = 0
                if b"<ETag>" in data:
                    def swap(match):
                        nonlocal count
                        count += 1
                        return b"<ETag>" + proxy.opaque(match.group(1).decode().replace("&quot;", "")).replace(
                            '"', "&quot;").encode() + b"</ETag>"
                    data = _XML_ETAG.sub(swap, data)
                self.send_response(answer.status, answer.reason)
                for key, value in answer.getheaders():
                    if key.lower() in ("content-length", "transfer-encoding", "connection", "date", "server"):
                        continue
                    if key.lower() == "etag":
                        value, count = proxy.opaque(value), count + 1
                    self.send_header(key, value)
                self.send_header("Content-Length", str(len(data)) if self.command != "HEAD" else
                                 answer.getheader("Content-Length", "0"))
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(data)
                with proxy._lock:
                    proxy.rewritten += count

            do_GET = do_PUT = do_POST = do_DELETE = do_HEAD = _forward  # noqa: N815

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"

    def opaque(self, etag: str) -> str:
        rewritten = opaque_etag(etag)
        with self._lock:
            self._original[rewritten] = etag if etag.startswith('"') else f'"{etag}"'
        return rewritten

    def start(self) -> EtagRewritingProxy:
        threading.Thread(target=self._server.serve_forever, args=(POLL_INTERVAL_S,), daemon=True).start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
