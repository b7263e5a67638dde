"""bench/wrk/request_path.lua under a real wrk against a tiny local HTTP server that records each request:
a fresh Idempotency-Key per request, non-2xx answers counted, and the JSON line request_path.py reads."""

from __future__ import annotations

import http.server
import socketserver
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field

import pytest
import request_path

pytestmark = pytest.mark.bench


@dataclass
class Recorder:
    requests: list[tuple[str, str | None, str | None, bytes]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    every_nth_fails: int = 0


class _Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True
    recorder: Recorder

    def handle_error(self, request: object, client_address: object) -> None:
        pass  # wrk resets its connections when it stops


class _Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as wrk expects
    disable_nagle_algorithm = True
    server: _Server

    def _answer(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        recorder = self.server.recorder
        with recorder.lock:
            recorder.requests.append(
                (self.command, self.headers.get("Idempotency-Key"), self.headers.get("Authorization"), body)
            )
            n = len(recorder.requests)
        fail = recorder.every_nth_fails and n % recorder.every_nth_fails == 0
        payload = b'{"error": {"code": "NOPE"}}' if fail else b'{"ok": true}'
        self.send_response(409 if fail else 202)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    do_GET = _answer
    do_POST = _answer

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def recorder() -> Iterator[tuple[str, Recorder]]:
    server = _Server(("127.0.0.1", 0), _Handler)
    server.recorder = Recorder()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/v1/x", server.recorder
    finally:
        server.shutdown()
        server.server_close()


def test_every_request_gets_its_own_idempotency_key(wrk: str, recorder: tuple[str, Recorder]) -> None:
    url, record = recorder
    plan = request_path.WrkPlan(wrk, threads=2, connections=4)
    result = plan.run(url, 1, api_key="lp_test_key", method="POST", body='{"influencerId": "inf_1"}', fresh_key="t1")
    keys = [key for _, key, _, _ in record.requests]
    assert len(keys) > 20
    assert None not in keys
    assert len(set(keys)) == len(keys), "an Idempotency-Key was sent twice"
    assert all(key.startswith("t1-") for key in keys if key)
    assert {key.split("-")[1] for key in keys if key} == {"1", "2"}  # both threads, each its own prefix
    assert {(m, a, b) for m, _, a, b in record.requests} == {
        ("POST", "Bearer lp_test_key", b'{"influencerId": "inf_1"}')
    }
    assert result.requests <= len(keys)  # wrk counts answers; a request in flight at the end has none
    assert result.errors == 0 and result.detail["statuses"] == {"202": result.requests}


def test_non_2xx_answers_are_counted_as_errors(wrk: str, recorder: tuple[str, Recorder]) -> None:
    url, record = recorder
    record.every_nth_fails = 4
    result = request_path.WrkPlan(wrk, threads=1, connections=2).run(url, 1)
    assert result.requests > 8
    failed = result.detail["statuses"].get("409", 0)
    assert failed >= result.requests // 4 - 2
    assert result.errors == failed == result.detail["non2xx"]
    assert result.error_sample is not None and result.error_sample.startswith("409 ")
    assert result.p50_ms > 0 and result.p99_ms >= result.p50_ms


def test_without_a_fresh_key_no_idempotency_header_is_sent(wrk: str, recorder: tuple[str, Recorder]) -> None:
    url, record = recorder
    request_path.WrkPlan(wrk, threads=1, connections=1).run(url, 1)
    assert record.requests and {(m, key) for m, key, _, _ in record.requests} == {("GET", None)}
