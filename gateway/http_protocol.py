"""The gateway's HTTP/1.1 server protocol: uvicorn's httptools protocol with the bounds a client must not be
able to push past, enforced before the app (and so authentication) sees a request, and the error envelope
(with a request id) on what it refuses itself.

A request's head (its target and header fields) is at most MAX_HEAD_BYTES and MAX_HEADER_FIELDS; beyond
either the answer is 431 HEADERS_TOO_LARGE and the connection closes. httptools hands a header over only
once it is whole and buffers it until then, so the bytes of a head still arriving are counted as they come:
an endless header is cut off near the limit instead of being held. After such an answer the connection
lingers a little, reading and dropping what the client still sends, so that it reads the answer rather
than a reset.

Bytes the parser refuses (a control character in a header, two Content-Lengths, Content-Length with
Transfer-Encoding, no HTTP at all) are 400 BAD_REQUEST, where uvicorn answers text/plain.

All of it is counters in the parser's callbacks; nothing else runs per request.
"""

from __future__ import annotations

import json
import logging
from typing import Any

import httptools
from uvicorn.protocols.http.httptools_impl import STATUS_LINE, HttpToolsProtocol

from common.ids import new_id
from gateway.errors import envelope

log = logging.getLogger("layers.gateway")

MAX_HEAD_BYTES = 64 * 1024
MAX_HEADER_FIELDS = 100
# The ": " and CRLF around a field's name and value, counted so the limit is close to the bytes sent.
_FIELD_FRAMING = 4
# How long, and for how many bytes, a refused client's connection is drained before it is closed.
LINGER_SECONDS = 2.0
LINGER_BYTES = 16 * 1024 * 1024


class _Answered(Exception):
    """Raised in a parser callback to stop parsing a request that has been answered already."""


class GatewayHttpProtocol(HttpToolsProtocol):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._head_bytes = 0  # target and fields of the current head, as the parser hands them over
        self._reading_head = True  # between requests, or inside one's head (not its body)
        self._head_received = 0  # bytes received while reading a head, whole or not
        self._answered = False
        self._drained = 0

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

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._head_bytes = 0

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
        self._head_received = 0
        super().on_message_complete()

    def _answer(self, status: int, code: str, message: str) -> None:
        """Answer with the error envelope straight on the transport, for a request the app never sees, and
        close the connection."""
        self._answered = True
        if self.transport.is_closing():
            return
        if self.cycle is not None and not self.cycle.response_complete:
            # An earlier request's answer is still being written; a second one would be spliced into it.
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
