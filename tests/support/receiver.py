"""A real HTTP webhook receiver on a free loopback port: records every request (headers and raw body) and
answers from a script (status codes, or "hang" to hold the connection without answering)."""

from __future__ import annotations

import contextlib
import json
import ssl
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

HANG = "hang"


@dataclass
class Received:
    headers: dict[str, str]
    body: bytes
    at: float

    @property
    def json(self) -> dict[str, Any]:
        return dict(json.loads(self.body))

    @property
    def event_id(self) -> str:
        return self.headers.get("x-layers-event-id", "")


@dataclass
class Receiver:
    script: list[int | str] = field(default_factory=list)
    default: int | str = 200
    requests: list[Received] = field(default_factory=list)
    hang_seconds: float = 30.0
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _server: ThreadingHTTPServer | None = None
    _released: threading.Event = field(default_factory=threading.Event)
    tls: ssl.SSLContext | None = None

    @property
    def url(self) -> str:
        assert self._server is not None
        if self.tls is not None:  # the certificate names localhost
            return f"https://localhost:{self._server.server_address[1]}/hooks"
        return f"http://127.0.0.1:{self._server.server_address[1]}/hooks"

    @property
    def port(self) -> int:
        assert self._server is not None
        return int(self._server.server_address[1])

    def _next(self) -> int | str:
        with self._lock:
            return self.script.pop(0) if self.script else self.default

    def record(self, received: Received) -> None:
        with self._lock:
            self.requests.append(received)

    def wait_for(
        self, count: int, timeout: float = 20.0, where: Callable[[Received], bool] | None = None
    ) -> list[Received]:
        deadline = time.monotonic() + timeout
        while True:
            with self._lock:
                matching = [r for r in self.requests if where is None or where(r)]
            if len(matching) >= count or time.monotonic() > deadline:
                return matching
            time.sleep(0.02)

    def start(self, port: int = 0) -> Receiver:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", "0"))
                body = self.rfile.read(length)
                receiver.record(Received({k.lower(): v for k, v in self.headers.items()}, body, time.time()))
                answer = receiver._next()
                if answer == HANG:
                    receiver._released.wait(receiver.hang_seconds)
                    self.close_connection = True
                    return
                payload = b'{"ok":true}'
                self.send_response(int(answer))
                if int(answer) in (301, 302, 307, 308):
                    self.send_header("Location", "http://127.0.0.1:9/elsewhere")
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self._server.daemon_threads = True
        if self.tls is not None:
            self._server.socket = self.tls.wrap_socket(self._server.socket, server_side=True)
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        self._released.set()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()


def tls_context(ca_file: Path) -> ssl.SSLContext:
    """A server context with a localhost certificate from a throwaway CA, whose PEM goes to ca_file."""
    import trustme

    ca = trustme.CA()
    ca.cert_pem.write_to_path(str(ca_file))
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("localhost").configure_cert(context)
    return context


@contextlib.contextmanager
def receiver(
    script: list[int | str] | None = None,
    default: int | str = 200,
    port: int = 0,
    tls: ssl.SSLContext | None = None,
) -> Iterator[Receiver]:
    running = Receiver(script=list(script or []), default=default, tls=tls).start(port)
    try:
        yield running
    finally:
        running.stop()
