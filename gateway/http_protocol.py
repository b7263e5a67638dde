"""The gateway's HTTP/1.1 server protocol: uvicorn's httptools protocol with the bounds a client must not be
able to push past, enforced before the app (and so authentication) sees a request, and the error envelope
(with a request id) on what it refuses itself.

- A request's head (its target and header fields) is at most MAX_HEAD_BYTES and MAX_HEADER_FIELDS; beyond
  either the answer is 431 HEADERS_TOO_LARGE. httptools hands a header over only once it is whole and
  buffers it until then, so the bytes of a head still arriving are counted as they come: an endless header
  is cut off near the limit instead of being held.
- A head must arrive whole within the header timeout of its first byte, and a body must bring at least
  BODY_MIN_BYTES every body timeout: a client dripping either is answered 408 REQUEST_TIMEOUT.
- Bytes the parser refuses (a control character in a header, two Content-Lengths, Content-Length with
  Transfer-Encoding, no HTTP at all) are 400 BAD_REQUEST, where uvicorn answers text/plain.

After such an answer the connection lingers a little, reading and dropping what the client still sends, so
that it reads the answer rather than a reset, then closes.

On the request path all of it is counters in the parser's callbacks. The clock is read by one sweep per
server a fraction of a timeout apart, over the connections in the middle of a head or a body.
"""

from __future__ import annotations

import asyncio
import json
import logging
import weakref
from typing import Any, cast

import httptools
import uvicorn
from uvicorn.protocols.http.httptools_impl import STATUS_LINE, HttpToolsProtocol
from uvicorn.server import ServerState

from common.ids import new_id
from gateway.errors import envelope

log = logging.getLogger("layers.gateway")

MAX_HEAD_BYTES = 64 * 1024
MAX_HEADER_FIELDS = 100
# The ": " and CRLF around a field's name and value, counted so the limit is close to the bytes sent.
_FIELD_FRAMING = 4
# What a body must bring in each body timeout, however slow the link: 1 KiB in 10 s is 0.1 KiB/s.
BODY_MIN_BYTES = 1024
# How long, and for how many bytes, a refused client's connection is drained before it is closed.
LINGER_SECONDS = 2.0
LINGER_BYTES = 16 * 1024 * 1024
# The sweep runs this often, and at least four times per timeout.
_SWEEP_SECONDS = 1.0

_HEAD, _BODY = "head", "body"


class GatewayConfig(uvicorn.Config):
    """uvicorn's Config, serving GatewayHttpProtocol with the slow-client timeouts it reads."""

    def __init__(self, app: Any, *, header_timeout_seconds: float, body_timeout_seconds: float, **kwargs: Any) -> None:
        super().__init__(app, http=GatewayHttpProtocol, **kwargs)
        self.header_timeout_seconds = header_timeout_seconds
        self.body_timeout_seconds = body_timeout_seconds


class _Answered(Exception):
    """Raised in a parser callback to stop parsing a request that has been answered already."""


# The servers (one per event loop) whose connections a sweep is watching.
_SWEPT: weakref.WeakSet[ServerState] = weakref.WeakSet()


class GatewayHttpProtocol(HttpToolsProtocol):
    def __init__(self, config: uvicorn.Config, *args: Any, **kwargs: Any) -> None:
        super().__init__(config, *args, **kwargs)
        gateway_config = cast(GatewayConfig, config)
        self._header_timeout = gateway_config.header_timeout_seconds
        self._body_timeout = gateway_config.body_timeout_seconds
        self._head_bytes = 0  # target and fields of the current head, as the parser hands them over
        self._reading_head = True  # between requests, or inside one's head (not its body)
        self._head_received = 0  # bytes received while reading a head, whole or not
        self._body_received = 0
        # The sweep's (phase, deadline, bytes received when it was set), reset with each request.
        self._window: tuple[str, float, int] | None = None
        self._answered = False
        self._drained = 0

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        if self.server_state not in _SWEPT:
            _SWEPT.add(self.server_state)
            tick = min(_SWEEP_SECONDS, self._header_timeout / 4, self._body_timeout / 4)
            self.loop.call_later(tick, _sweep, self.loop, self.server_state, tick)

    def data_received(self, data: bytes) -> None:
        # uvicorn's, with a count of an unfinished head's bytes and answers of our own.
        if self._answered:
            self._drained += len(data)
            if self._drained > LINGER_BYTES:
                self.transport.close()
            return
        self._unset_keepalive_if_required()
        if self._reading_head:
            self._head_received += len(data)
        else:
            self._body_received += len(data)  # with any chunked framing: near enough to judge a rate
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserError:
            if not self._answered:
                self._answer(400, "BAD_REQUEST", "The request is not valid HTTP/1.1.")
            return
        except httptools.HttpParserUpgrade:
            if self._should_upgrade():
                self.handle_websocket_upgrade()
            else:
                self._unsupported_upgrade_warning()
            return
        if self._reading_head and self._head_received > MAX_HEAD_BYTES:
            self._answer(431, "HEADERS_TOO_LARGE", f"The request's headers are larger than {MAX_HEAD_BYTES} bytes.")

    def on_url(self, url: bytes) -> None:
        self.url += url
        self._head_bytes += len(url)

    def on_header(self, name: bytes, value: bytes) -> None:
        # uvicorn's, plus the count.
        name = name.lower()
        if name == b"expect" and value.lower() == b"100-continue":
            self.expect_100_continue = True
        self.headers.append((name, value))
        self._head_bytes += len(name) + len(value) + _FIELD_FRAMING

    def on_headers_complete(self) -> None:
        self._reading_head = False
        if self._head_bytes > MAX_HEAD_BYTES:
            self._answer(431, "HEADERS_TOO_LARGE", f"The request's headers are larger than {MAX_HEAD_BYTES} bytes.")
            raise _Answered
        if len(self.headers) > MAX_HEADER_FIELDS:
            self._answer(431, "HEADERS_TOO_LARGE", f"The request has more than {MAX_HEADER_FIELDS} header fields.")
            raise _Answered
        super().on_headers_complete()

    def on_message_complete(self) -> None:
        self._reading_head = True
        self._head_received = self._head_bytes = 0
        self._window = None
        super().on_message_complete()

    # -- the sweep's side --------------------------------------------------------------------------------

    def check_progress(self, now: float) -> None:
        """Called by the sweep: time out a head or a body that has stopped coming, or comes too slowly."""
        if self._answered:
            return
        if self._reading_head:
            if self._head_received == 0:
                return  # between requests: uvicorn's keep-alive timeout has this
            phase, received, timeout = _HEAD, self._head_received, self._header_timeout
        else:
            cycle = self.cycle
            if cycle is None or self.flow.read_paused or cycle.waiting_for_100_continue:
                # The app is not reading yet (or is behind): the client is not the one holding things up.
                self._window = None
                return
            phase, received, timeout = _BODY, self._body_received, self._body_timeout
        window = self._window
        if window is None or window[0] != phase:
            self._window = (phase, now + timeout, received)
            return
        _, deadline, mark = window
        if now < deadline:
            return
        if phase == _HEAD:
            self._answer(408, "REQUEST_TIMEOUT", f"The request's headers took longer than {timeout:g} s to arrive.")
        elif received - mark < BODY_MIN_BYTES:
            self._time_out_body(timeout)
        else:
            self._window = (phase, now + timeout, received)

    def _time_out_body(self, timeout: float) -> None:
        cycle = self.cycle
        if cycle.response_started:
            self.transport.close()  # too late for an answer of ours
            return
        # To the app the client is gone (its receive() says so, its answer goes nowhere); it gets ours.
        cycle.disconnected = True
        cycle.message_event.set()
        message = f"The request's body arrived slower than {BODY_MIN_BYTES} bytes in {timeout:g} s."
        self._answer(408, "REQUEST_TIMEOUT", message)

    def _answer(self, status: int, code: str, message: str) -> None:
        """Answer with the error envelope straight on the transport, for a request the app has not answered,
        then drain the connection for a little while and close it."""
        self._answered = True
        if self.transport.is_closing():
            return
        cycle = self.cycle
        if cycle is not None and not cycle.response_complete and not cycle.disconnected:
            # An earlier request is still being answered; answers go in order, so this one gets none.
            self.transport.close()
            return
        log.info("refused a request from %s: %d %s", self.client and self.client[0], status, code)
        request_id = new_id("req")
        body = json.dumps(envelope(code, message, request_id), separators=(",", ":")).encode()
        head = [STATUS_LINE[status]]
        for name, value in self.server_state.default_headers:
            head += [name, b": ", value, b"\r\n"]
        head += [
            b"content-type: application/json\r\ncontent-length: %d\r\n" % len(body),
            b"x-request-id: %s\r\nconnection: close\r\n\r\n" % request_id.encode("ascii"),
            body,
        ]
        self.transport.write(b"".join(head))
        if not self.transport.can_write_eof():
            self.transport.close()
            return
        self.transport.write_eof()
        self.loop.call_later(LINGER_SECONDS, self.transport.close)


def _sweep(loop: asyncio.AbstractEventLoop, state: ServerState, tick: float) -> None:
    """Check every connection of one server, then again a tick later; stop when it has none (the next
    connection starts it again)."""
    if not state.connections:
        _SWEPT.discard(state)
        return
    now = loop.time()
    for connection in list(state.connections):
        if isinstance(connection, GatewayHttpProtocol):
            connection.check_progress(now)
    loop.call_later(tick, _sweep, loop, state, tick)
