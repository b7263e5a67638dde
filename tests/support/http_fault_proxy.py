"""A real HTTP proxy on a free loopback port in front of the gateway: it forwards every request and records
it, and answers the ones a test scripted otherwise: a 503 or 429 of its own (with or without the gateway
having done the work), a dropped connection, a download cut short or with a byte changed."""

from __future__ import annotations

import contextlib
import json
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx

# What the proxy does to a request a rule matches.
REFUSE_503 = "refuse-503"  # answer 503 without forwarding
FORWARD_THEN_503 = "forward-then-503"  # the gateway does the work; the client hears 503
REFUSE_429 = "refuse-429"
DROP = "drop"  # close the connection without an answer
CUT_BODY = "cut-body"  # forward, send the head and half the body, close
CORRUPT = "corrupt"  # forward with one byte of the body changed
# Host is passed on: the gateway builds its download links from it, so they lead back through the proxy.
HOP_BY_HOP = frozenset({"connection", "keep-alive", "transfer-encoding", "content-length"})


@dataclass
class Seen:
    method: str
    path: str
    headers: dict[str, str]
    action: str | None = None
    upstream_status: int | None = None
    upstream_headers: dict[str, str] = field(default_factory=dict)


@dataclass
class Rule:
    matches: Callable[[Seen], bool]
    action: str
    times: int = 1


class FaultProxy:
    def __init__(self, upstream: str) -> None:
        self.upstream = upstream.rstrip("/")
        self.seen: list[Seen] = []
        self.rules: list[Rule] = []
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        assert self._server is not None
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def on(self, method: str, path_contains: str, action: str, times: int = 1) -> None:
        """The next `times` requests of `method` whose path holds `path_contains` get `action`."""
        with self._lock:
            self.rules.append(Rule(lambda s: s.method == method and path_contains in s.path, action, times))

    def requests(self, method: str, path_contains: str) -> list[Seen]:
        with self._lock:
            return [s for s in self.seen if s.method == method and path_contains in s.path]

    def _action_for(self, seen: Seen) -> str | None:
        with self._lock:
            self.seen.append(seen)
            for rule in self.rules:
                if rule.times > 0 and rule.matches(seen):
                    rule.times -= 1
                    seen.action = rule.action
                    return rule.action
        return None

    @contextlib.contextmanager
    def running(self) -> Iterator[FaultProxy]:
        proxy = self
        upstream = httpx.Client(base_url=self.upstream, timeout=60)

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: object) -> None:
                pass

            def _handle(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                headers = {k.lower(): v for k, v in self.headers.items()}
                seen = Seen(self.command, self.path, headers)
                action = proxy._action_for(seen)
                if action == DROP:
                    self.close_connection = True
                    self.connection.shutdown(2)
                    return
                if action in (REFUSE_503, REFUSE_429):
                    status = 503 if action == REFUSE_503 else 429
                    self._envelope(status, "UNAVAILABLE" if status == 503 else "RATE_LIMITED")
                    return
                forward = {k: v for k, v in headers.items() if k not in HOP_BY_HOP}
                answer = upstream.request(self.command, self.path, headers=forward, content=body)
                seen.upstream_status = answer.status_code
                seen.upstream_headers = {k.lower(): v for k, v in answer.headers.items()}
                if action == FORWARD_THEN_503:
                    self._envelope(503, "UNAVAILABLE")
                    return
                content = answer.content
                if action == CORRUPT and content:
                    content = bytes([content[0] ^ 0xFF]) + content[1:]
                self.send_response(answer.status_code)
                for name, value in answer.headers.items():
                    if name.lower() not in HOP_BY_HOP and name.lower() != "content-encoding":
                        self.send_header(name, value)
                self.send_header("Content-Length", str(len(content)))
                self.end_headers()
                if self.command == "HEAD":
                    return
                if action == CUT_BODY:
                    self.wfile.write(content[: len(content) // 2])
                    self.wfile.flush()
                    self.close_connection = True
                    self.connection.shutdown(2)
                    return
                self.wfile.write(content)

            def _envelope(self, status: int, code: str) -> None:
                raw = json.dumps(
                    {"error": {"code": code, "message": "from the test proxy", "requestId": "req_proxy", "details": {}}}
                ).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Retry-After", "1")
                self.send_header("Content-Length", str(len(raw)))
                self.end_headers()
                self.wfile.write(raw)

            do_GET = do_POST = do_PATCH = do_DELETE = do_HEAD = _handle

        server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        server.daemon_threads = True
        self._server = server
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        try:
            yield self
        finally:
            server.shutdown()
            server.server_close()
            upstream.close()
