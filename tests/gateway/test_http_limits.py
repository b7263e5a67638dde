"""What a hostile client can do to the HTTP server in front of everything, before any key is checked: send
heads too large or with too many fields, bytes the parser refuses, or a request a drip at a time; or go
away in the middle of one. Against `python -m gateway` (the production server and protocol) over real
loopback sockets; the server's own memory is read from /proc and its log from its output."""

from __future__ import annotations

import contextlib
import http.client
import json
import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from tests.gateway.fakes import ALL
from tests.gateway.helpers import ERROR_KEYS, REQUEST_ID, UGC_REMIX

ROOT = Path(__file__).resolve().parents[2]
HEAD_LIMIT = 64 * 1024
FIELD_LIMIT = 100
# Short, so that the tests of slow clients take seconds.
TIMEOUT_SECONDS = 1.0


@dataclass
class ServedGateway:
    proc: subprocess.Popen[bytes]
    port: int
    log: Path

    def rss_bytes(self, field: str = "VmRSS") -> int:
        status = Path(f"/proc/{self.proc.pid}/status").read_text()
        line = next(line for line in status.splitlines() if line.startswith(field + ":"))
        return int(line.split()[1]) * 1024

    def connect(self, timeout: float = 10) -> socket.socket:
        return socket.create_connection(("127.0.0.1", self.port), timeout=timeout)

    def log_size(self) -> int:
        return self.log.stat().st_size

    def log_since(self, offset: int, settle: float = 0.5) -> list[str]:
        time.sleep(settle)  # let the server finish writing what the last request made it say
        with self.log.open("rb") as f:
            f.seek(offset)
            return f.read().decode(errors="replace").splitlines()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def served(services_addr: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServedGateway]:
    data_dir = tmp_path_factory.mktemp("served-gateway")
    port = _free_port()
    env = {
        **os.environ,
        "LAYERS_HTTP_HOST": "127.0.0.1",
        "LAYERS_HTTP_PORT": str(port),
        "LAYERS_CONTENT_ADDR": services_addr,
        "LAYERS_MEDIA_ADDR": services_addr,
        "LAYERS_BILLING_ADDR": services_addr,
        "LAYERS_DATA_DIR": str(data_dir),
        "LAYERS_HTTP_WORKERS": "1",
        "LAYERS_HTTP_HEADER_TIMEOUT_SECONDS": str(TIMEOUT_SECONDS),
        "LAYERS_HTTP_BODY_TIMEOUT_SECONDS": str(TIMEOUT_SECONDS),
    }
    log = data_dir / "gateway.log"
    with log.open("wb") as out:
        proc = subprocess.Popen([sys.executable, "-m", "gateway"], cwd=ROOT, env=env, stdout=out, stderr=out)
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=2)
                break
            except httpx.TransportError:
                assert proc.poll() is None, log.read_text()
                assert time.monotonic() < deadline, "gateway did not come up"
                time.sleep(0.1)
        yield ServedGateway(proc, port, log)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@dataclass
class Answer:
    status: int
    headers: http.client.HTTPMessage
    body: bytes
    closed: bool  # the server closed the connection after answering


def exchange(sock: socket.socket, raw: bytes) -> Answer:
    sock.sendall(raw)
    return read_answer(sock)


def read_answer(sock: socket.socket) -> Answer:
    response = http.client.HTTPResponse(sock)
    response.begin()
    body = response.read()
    closed = response.will_close
    if closed:
        with contextlib.suppress(OSError):
            closed = sock.recv(1) == b""
    return Answer(response.status, response.headers, body, closed)


def head(*fields: tuple[str, str], target: str = "/v1/whoami") -> bytes:
    lines = [f"GET {target} HTTP/1.1", "Host: gateway.test", *(f"{k}: {v}" for k, v in fields)]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


AUTH = ("Authorization", f"Bearer {ALL}")


def assert_envelope(answer: Answer, status: int, code: str) -> dict[str, object]:
    assert answer.status == status, answer.body
    assert answer.headers["content-type"] == "application/json"
    assert REQUEST_ID.fullmatch(answer.headers["x-request-id"] or "")
    error = json.loads(answer.body)["error"]
    assert set(error) == ERROR_KEYS and error["code"] == code and error["details"] == {}
    assert error["requestId"] == answer.headers["x-request-id"]
    return dict(error)


# --- the size of a request's head -------------------------------------------------------------------


def test_a_head_just_under_the_limit_is_served(served: ServedGateway) -> None:
    padding = HEAD_LIMIT - len(head(AUTH, ("X-Pad", ""))) - 1024
    with served.connect() as sock:
        assert exchange(sock, head(AUTH, ("X-Pad", "a" * padding))).status == 200
        # The connection stays usable: the next request's head is counted from zero.
        assert exchange(sock, head(AUTH, ("X-Pad", "a" * padding))).status == 200


@pytest.mark.parametrize(
    "request_head",
    [
        head(AUTH, ("X-Pad", "a" * HEAD_LIMIT)),  # one big header
        head(AUTH, *[(f"X-Pad-{i}", "a" * 1000) for i in range(70)]),  # under 100 fields, over 64 KiB
        head(AUTH, target="/v1/whoami?" + "q" * HEAD_LIMIT),  # the request line counts
    ],
    ids=["one-header", "many-headers", "long-target"],
)
def test_a_head_over_64_kib_is_431_with_the_envelope(served: ServedGateway, request_head: bytes) -> None:
    with served.connect() as sock:
        answer = exchange(sock, request_head)
    assert_envelope(answer, 431, "HEADERS_TOO_LARGE")
    assert answer.closed


def test_more_than_100_header_fields_are_431(served: ServedGateway) -> None:
    # Host and Authorization are two of them.
    with served.connect() as sock:
        assert exchange(sock, head(AUTH, *[(f"X-{i}", "1") for i in range(FIELD_LIMIT - 2)])).status == 200
    for count in (FIELD_LIMIT - 1, 10_000):
        with served.connect() as sock:
            answer = exchange(sock, head(AUTH, *[(f"X-{i}", "1") for i in range(count)]))
        assert_envelope(answer, 431, "HEADERS_TOO_LARGE")


def test_an_endless_header_is_cut_off_and_the_server_never_holds_it(served: ServedGateway) -> None:
    size = 48 * 1024 * 1024
    before = served.rss_bytes("VmHWM")
    chunk = b"a" * (256 * 1024)
    sent = 0
    answer = None
    with served.connect(timeout=20) as sock:
        try:
            sock.sendall(b"GET /v1/whoami HTTP/1.1\r\nHost: gateway.test\r\nX-Endless: ")
            while sent < size:
                sock.sendall(chunk)
                sent += len(chunk)
            sock.sendall(b"\r\n\r\n")
            answer = read_answer(sock)
        except (ConnectionResetError, BrokenPipeError):
            pass  # refused mid-stream: the server closed a connection that was still sending
    growth = served.rss_bytes("VmHWM") - before
    assert growth < 8 * 1024 * 1024, f"the server's peak memory grew by {growth} bytes for a {size}-byte header"
    if answer is not None:
        assert_envelope(answer, 431, "HEADERS_TOO_LARGE")
    else:
        assert sent < size, "the whole header went through"
    assert httpx.get(f"http://127.0.0.1:{served.port}/v1/whoami", headers=dict([AUTH])).status_code == 200


def test_a_client_still_sending_an_oversized_head_reads_the_431(served: ServedGateway) -> None:
    # The server stops reading near the limit; it must not reset the connection before the answer is read.
    with served.connect() as sock:
        answer = exchange(sock, head(AUTH, ("X-Pad", "a" * (4 * 1024 * 1024))))
    assert_envelope(answer, 431, "HEADERS_TOO_LARGE")


# --- what the parser refuses --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "raw",
    [
        b"GET /v1/whoami HTTP/1.1\r\nHost: gateway.test\r\nX-Bad: a\x01b\r\n\r\n",  # a control character
        b"POST /v1/whoami HTTP/1.1\r\nHost: gateway.test\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\n{}",
        b"POST /v1/whoami HTTP/1.1\r\nHost: gateway.test\r\nContent-Length: 2\r\nTransfer-Encoding: chunked\r\n\r\n{}",
        b"GET /v1/whoami HTTP/1.1\r\nHost: gateway.test\r\nBad Name: 1\r\n\r\n",  # a space in a field name
        b"NOT HTTP AT ALL\r\n\r\n",
    ],
    ids=["control-character", "two-content-lengths", "content-length-and-chunked", "bad-name", "garbage"],
)
def test_what_the_parser_refuses_is_400_with_the_envelope(served: ServedGateway, raw: bytes) -> None:
    with served.connect() as sock:
        answer = exchange(sock, raw)
    error = assert_envelope(answer, 400, "BAD_REQUEST")
    assert error["message"] == "The request is not valid HTTP/1.1."
    assert answer.closed


# --- slow clients, and clients that go away -----------------------------------------------------------


def _drip(sock: socket.socket, pieces: list[bytes], every: float, stop: threading.Event) -> None:
    for piece in pieces:
        if stop.wait(every):
            return
        try:
            sock.sendall(piece)
        except OSError:
            return


def _answer_to_a_drip(served: ServedGateway, start: bytes, pieces: list[bytes]) -> tuple[Answer, float]:
    """Send `start`, then a piece every 0.2 s from a thread; return the answer and how long it took."""
    stop = threading.Event()
    with served.connect(timeout=len(pieces) * 0.2 + 5) as sock:
        sock.sendall(start)
        began = time.monotonic()
        dripper = threading.Thread(target=_drip, args=(sock, pieces, 0.2, stop))
        dripper.start()
        try:
            answer = read_answer(sock)
        finally:
            stop.set()
            dripper.join()
    return answer, time.monotonic() - began


def test_a_head_sent_a_line_at_a_time_is_cut_off(served: ServedGateway) -> None:
    lines = [f"X-Drip-{i}: 1\r\n".encode() for i in range(40)]  # 8 s of drip, far past the timeout
    answer, took = _answer_to_a_drip(served, b"GET /v1/whoami HTTP/1.1\r\nHost: gateway.test\r\n", lines)
    error = assert_envelope(answer, 408, "REQUEST_TIMEOUT")
    assert "headers" in str(error["message"])
    assert answer.closed
    assert TIMEOUT_SECONDS <= took < TIMEOUT_SECONDS + 2.5


def test_a_head_that_stops_halfway_is_cut_off(served: ServedGateway) -> None:
    with served.connect() as sock:
        sock.sendall(b"GET /v1/whoami HTTP/1.1\r\nHo")
        began = time.monotonic()
        answer = read_answer(sock)
    assert_envelope(answer, 408, "REQUEST_TIMEOUT")
    assert TIMEOUT_SECONDS <= time.monotonic() - began < TIMEOUT_SECONDS + 2.5


def test_a_body_sent_a_byte_at_a_time_is_cut_off_with_one_quiet_log_line(served: ServedGateway) -> None:
    offset = served.log_size()
    start = (
        f"POST {UGC_REMIX} HTTP/1.1\r\nHost: gateway.test\r\nAuthorization: Bearer {ALL}\r\n"
        "Content-Type: application/json\r\nContent-Length: 500\r\n\r\n"
    ).encode()
    answer, took = _answer_to_a_drip(served, start, [b" "] * 40)
    error = assert_envelope(answer, 408, "REQUEST_TIMEOUT")
    assert "body" in str(error["message"])
    assert answer.closed
    assert TIMEOUT_SECONDS <= took < TIMEOUT_SECONDS + 2.5
    lines = served.log_since(offset)
    assert not any("Traceback" in line for line in lines), "\n".join(lines)
    assert len(lines) <= 2, "\n".join(lines)  # the refusal, and the request that never got its body


@pytest.mark.parametrize("target", [UGC_REMIX, UGC_REMIX.replace("content/ugc-remix", "app-media")])
def test_a_client_gone_mid_body_is_one_quiet_log_line(served: ServedGateway, target: str) -> None:
    offset = served.log_size()
    content_type = "application/json" if target == UGC_REMIX else "multipart/form-data; boundary=b"
    body = b'{"influencerId": ' if target == UGC_REMIX else b'--b\r\nContent-Disposition: form-data; name="kind"\r\n'
    with served.connect() as sock:
        sock.sendall(
            (
                f"POST {target} HTTP/1.1\r\nHost: gateway.test\r\nAuthorization: Bearer {ALL}\r\n"
                f"Content-Type: {content_type}\r\nContent-Length: 5000\r\n\r\n"
            ).encode()
            + body
        )
        time.sleep(0.3)  # the app is waiting for the rest of the body
    lines = served.log_since(offset)
    assert len(lines) == 1 and "went away" in lines[0], "\n".join(lines)


def test_a_slow_but_steady_client_is_served(served: ServedGateway) -> None:
    body = json.dumps({"influencerId": "inf_1", "hook": "hi"}).encode().ljust(3000)
    head_pieces = [f"Authorization: Bearer {ALL}\r\n".encode(), b"Content-Type: application/json\r\n"]
    head_pieces.append(f"Content-Length: {len(body)}\r\n\r\n".encode())
    pieces = head_pieces + [body[i : i + 1000] for i in range(0, len(body), 1000)]
    answer, _ = _answer_to_a_drip(served, f"POST {UGC_REMIX} HTTP/1.1\r\nHost: gateway.test\r\n".encode(), pieces)
    assert answer.status == 202, answer.body
