"""An https server on loopback with a certificate from a throwaway CA (trustme), for the URL importer.

Paths: `/file/<name>` serves a registered file; `/redirect?to=<url>` answers 302 to it; `/loop` redirects to
itself; `/stream?bytes=N` streams N bytes chunked, with no Content-Length; `/status/<code>` answers that
status. Every request's path is recorded, so a test can tell which hops were actually made.
"""

from __future__ import annotations

import contextlib
import ssl
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import trustme

HOST_NAME = "localhost"


@dataclass
class HttpsServer:
    port: int
    ca_file: Path
    files: dict[str, tuple[bytes, str]] = field(default_factory=dict)
    requests: list[str] = field(default_factory=list)

    def url(self, path: str, host: str = HOST_NAME) -> str:
        return f"https://{host}:{self.port}{path}"


def _handler(server: HttpsServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args: object) -> None:
            pass

        def do_GET(self) -> None:
            server.requests.append(self.path)
            parts = urlsplit(self.path)
            query = parse_qs(parts.query)
            if parts.path.startswith("/file/"):
                body, mime = server.files[parts.path.removeprefix("/file/")]
                self._send(200, body, mime)
            elif parts.path == "/redirect":
                self._redirect(query["to"][0])
            elif parts.path == "/loop":
                self._redirect("/loop")
            elif parts.path == "/stream":
                total = int(query["bytes"][0])
                self.send_response(200)
                self.send_header("Content-Type", "video/mp4")
                self.send_header("Transfer-Encoding", "chunked")
                self.end_headers()
                block = b"\0" * 65536
                sent = 0
                with contextlib.suppress(OSError):
                    while sent < total:
                        piece = block[: min(len(block), total - sent)]
                        self.wfile.write(b"%x\r\n%s\r\n" % (len(piece), piece))
                        sent += len(piece)
                    self.wfile.write(b"0\r\n\r\n")
            elif parts.path.startswith("/status/"):
                self._send(int(parts.path.removeprefix("/status/")), b"nope", "text/plain")
            else:
                self._send(404, b"not found", "text/plain")

        def _redirect(self, to: str) -> None:
            self.send_response(302)
            self.send_header("Location", to)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def _send(self, status: int, body: bytes, mime: str) -> None:
            self.send_response(status)
            self.send_header("Content-Type", mime)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            with contextlib.suppress(OSError):
                self.wfile.write(body)

    return Handler


@contextlib.contextmanager
def https_server(workdir: Path) -> Iterator[HttpsServer]:
    """Serve on 127.0.0.1 (a free port) as `localhost`; the CA's PEM is written to workdir for clients."""
    ca = trustme.CA()
    ca_file = workdir / "test-ca.pem"
    ca.cert_pem.write_to_path(str(ca_file))
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ca.issue_cert(HOST_NAME, "127.0.0.1").configure_cert(context)
    state = HttpsServer(port=0, ca_file=ca_file)
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _handler(state))
    httpd.daemon_threads = True
    httpd.socket = context.wrap_socket(httpd.socket, server_side=True)
    state.port = httpd.server_address[1]
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield state
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(5)
