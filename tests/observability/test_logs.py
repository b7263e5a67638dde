"""The one logging setup: JSON lines with the bound context, redaction of secrets, and the request id
crossing gRPC (blocking and grpc.aio channels, over loopback) and RabbitMQ headers."""

from __future__ import annotations

import asyncio
import io
import json
import logging
import uuid
from collections.abc import Iterator

import grpc
import pika
import pytest

from common import clients, logs
from common.grpc_server import create_server
from common.render_queue import RabbitPublisher

API_KEY = "lp_live_01JBKEYID_" + "s3cr3t-Secret_value-0123456789abcdef"
WEBHOOK_SECRET = "whsec_" + "Zm9vYmFyYmF6cXV4cXV1eC1zZWNyZXQ"
SIGNATURE = "a3f1" * 16


@pytest.fixture
def captured(monkeypatch: pytest.MonkeyPatch) -> Iterator[io.StringIO]:
    """The process's logging configured as `layers serve` does, into a buffer; restored afterwards."""
    monkeypatch.setenv("LAYERS_LOG_FORMAT", "json")
    root = logging.getLogger()
    saved, level = list(root.handlers), root.level
    logs.configure()
    stream = io.StringIO()
    root.handlers[0].setStream(stream)  # type: ignore[attr-defined]
    yield stream
    root.handlers, root.level = saved, level


def lines(stream: io.StringIO) -> list[dict[str, object]]:
    return [json.loads(line) for line in stream.getvalue().splitlines()]


def test_json_lines_carry_the_bound_context_and_no_secret(captured: io.StringIO) -> None:
    log = logging.getLogger("layers.test")
    with logs.bound(requestId="req_1", jobId="job_1"), logs.bound(organizationId="org_1"):
        log.info("key %s secret %s", API_KEY, WEBHOOK_SECRET)
        log.info("url /v1/downloads/x?org=org_1&expires=1&signature=%s", SIGNATURE)
        log.info("header t=1,v1=%s and Authorization: Bearer %s", SIGNATURE, API_KEY)
    try:
        raise ValueError(f"failed with {API_KEY}")
    except ValueError:
        log.exception("outside any request")
    first, second, third, fourth = lines(captured)
    assert first["requestId"] == "req_1" and first["jobId"] == "job_1" and first["organizationId"] == "org_1"
    assert first["level"] == "INFO" and first["logger"] == "layers.test"
    assert "lp_live_01JBKEYID_[REDACTED]" in str(first["message"])
    assert "signature=[REDACTED]" in str(second["message"]) and "v1=[REDACTED]" in str(third["message"])
    assert "requestId" not in fourth and "Traceback" in str(fourth["exc_info"])
    text = captured.getvalue()
    for secret in ("s3cr3t", WEBHOOK_SECRET.removeprefix("whsec_"), SIGNATURE):
        assert secret not in text


def test_passwords_in_urls_and_encoded_signatures_are_masked(captured: io.StringIO) -> None:
    log = logging.getLogger("layers.test")
    log.error("broker amqp://layers:hunter2pw@rabbit:5672/ down, redis redis://:r3dispw@cache:6379/0 too")
    log.info("download=%s", "https%3A%2F%2Fh%2Fx%3Fsignature%3D" + SIGNATURE)
    text = captured.getvalue()
    assert "amqp://layers:[REDACTED]@rabbit" in text and "redis://:[REDACTED]@cache" in text
    for secret in ("hunter2pw", "r3dispw", SIGNATURE):
        assert secret not in text


def test_request_ids_from_headers_must_look_like_ours() -> None:
    assert logs.request_id_from({"x-request-id": b"req_01M8SW1WPY1XQB9E571H0WF79P"}) == "req_01M8SW1WPY1XQB9E571H0WF79P"
    for forged in ("", "a" * 65, "req\nERROR forged", "req id"):
        assert logs.request_id_from({"x-request-id": forged}) is None


def test_a_row_keeps_only_the_bounded_request_id_and_trace_context_of_headers() -> None:
    traceparent = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
    received = {
        "x-request-id": b"req_1",
        "traceparent": traceparent.encode(),
        "tracestate": "x" * 513,  # over the W3C bound
        "x-render-attempt": 3,
        "authorization": "Bearer lk_secret",
    }
    assert logs.parse_headers(logs.carried_json(received)) == {"x-request-id": "req_1", "traceparent": traceparent}
    assert logs.carried_json({"traceparent": "00-\n-forged"}) is None
    assert logs.carried_json(None) is None


def test_text_lines_are_readable_and_redacted(monkeypatch: pytest.MonkeyPatch, captured: io.StringIO) -> None:
    monkeypatch.setenv("LAYERS_LOG_FORMAT", "text")
    logs.configure("json")  # the variable wins over a process's default
    stream = io.StringIO()
    logging.getLogger().handlers[0].setStream(stream)  # type: ignore[attr-defined]
    with logs.bound(requestId="req_2"):
        logging.getLogger("layers.test").warning("key %s", API_KEY)
    line = stream.getvalue().strip()
    assert line.endswith("[requestId=req_2]") and " WARNING layers.test key lp_live_01JBKEYID_[REDACTED]" in line


def test_a_bad_log_format_is_refused_in_one_line(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LAYERS_LOG_FORMAT", "xml")
    with pytest.raises(SystemExit, match="LAYERS_LOG_FORMAT must be json or text"):
        logs.configure()


def _echo_server() -> tuple[grpc.Server, str]:
    """A server built like every service's, whose methods answer with the request id bound in them."""

    def unary(request: bytes, context: grpc.ServicerContext) -> bytes:
        return logs.fields().get("requestId", "").encode()

    def stream(request: bytes, context: grpc.ServicerContext) -> Iterator[bytes]:
        yield logs.fields().get("requestId", "").encode()

    handler = grpc.method_handlers_generic_handler(
        "test.Echo",
        {"Unary": grpc.unary_unary_rpc_method_handler(unary), "Stream": grpc.unary_stream_rpc_method_handler(stream)},
    )
    server, port = create_server(lambda s: s.add_generic_rpc_handlers((handler,)), [], "127.0.0.1:0")
    return server, f"127.0.0.1:{port}"


def test_the_request_id_travels_in_grpc_metadata() -> None:
    server, address = _echo_server()
    channel = clients.channel(address, timeout_seconds=5)
    try:
        unary = channel.unary_unary("/test.Echo/Unary", None, None)
        stream = channel.unary_stream("/test.Echo/Stream", None, None)
        with logs.bound(requestId="req_sync"):
            assert unary(b"") == b"req_sync" and list(stream(b"")) == [b"req_sync"]
        assert unary(b"") == b""  # nothing bound, nothing sent: the server's thread keeps no old id
        for forged in ("r" * 65, "req_1 INFO forged line"):
            with logs.bound(requestId=forged):
                assert unary(b"") == b""  # not an id of ours: the server drops it rather than log it

        async def gateway_side() -> tuple[bytes, list[bytes]]:
            aio = clients.aio_channel(address, timeout_seconds=5)
            try:
                with logs.bound(requestId="req_aio"):
                    one = await aio.unary_unary("/test.Echo/Unary", None, None)(b"")
                    many = [m async for m in aio.unary_stream("/test.Echo/Stream", None, None)(b"")]
                return one, many
            finally:
                await aio.close(None)

        assert asyncio.run(gateway_side()) == (b"req_aio", [b"req_aio"])
    finally:
        channel.close()
        server.stop(None)


@pytest.mark.rabbitmq
def test_the_request_id_travels_in_amqp_headers(amqp_url: str) -> None:
    queue = f"test.logs.{uuid.uuid4().hex[:8]}"
    publisher = RabbitPublisher(amqp_url, queue)
    connection = pika.BlockingConnection(pika.URLParameters(amqp_url))
    try:
        with logs.bound(requestId="req_amqp"):
            publisher.publish("job_1", b"body", logs.headers())
        method, properties, _ = connection.channel().basic_get(queue, auto_ack=True)
        assert method is not None and logs.request_id_from(properties.headers) == "req_amqp"
    finally:
        publisher.close()
        channel = connection.channel()
        for name in (queue, f"{queue}.retry", f"{queue}.dead"):
            channel.queue_delete(name)
        connection.close()
