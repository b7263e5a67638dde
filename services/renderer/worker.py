"""Composition root of the renderer: stubs for content and media, the pipeline, and a consumer thread."""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass

import grpc

from common.grpc_server import channel, wait_for_stop_signal
from common.render_queue import InProcessQueue
from common.settings import Settings
from layers.content.v1 import content_pb2_grpc
from layers.media.v1 import media_pb2_grpc
from services.renderer.consumers import Consumer, Heartbeat, InProcessConsumer, RabbitConsumer
from services.renderer.pipeline import RenderPipeline

log = logging.getLogger("layers.renderer")


@dataclass
class RunningRenderer:
    consumer: Consumer
    thread: threading.Thread
    channels: tuple[grpc.Channel, ...]

    def close(self) -> None:
        self.consumer.stop()
        self.thread.join(timeout=15)
        for ch in self.channels:
            ch.close()


def start(settings: Settings, in_process: InProcessQueue | None = None) -> RunningRenderer:
    """Start consuming in a background thread: from in_process when given, else from RabbitMQ."""
    content_channel, media_channel = channel(settings.content_addr), channel(settings.media_addr)
    pipeline = RenderPipeline(
        content_pb2_grpc.ContentServiceStub(content_channel),
        media_pb2_grpc.MediaServiceStub(media_channel),
        demo_cap_seconds=settings.demo_cap_seconds,
        timeout=settings.rpc_timeout_seconds,
    )
    options = {
        "heartbeat": Heartbeat(settings.data_dir / "renderer-heartbeat"),
        "max_attempts": settings.render_max_attempts,
        "retry_base_seconds": settings.render_retry_base_seconds,
    }
    consumer: Consumer
    if in_process is not None:
        consumer = InProcessConsumer(in_process, pipeline, **options)
    elif settings.amqp_url:
        consumer = RabbitConsumer(settings.amqp_url, settings.render_queue, pipeline, **options)
    else:
        raise SystemExit("LAYERS_AMQP_URL is required to run the renderer on its own")
    thread = threading.Thread(target=consumer.run_forever, name="renderer", daemon=True)
    thread.start()
    return RunningRenderer(consumer, thread, (content_channel, media_channel))


def main() -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    running = start(Settings())
    log.info("renderer started")
    wait_for_stop_signal(running.close)
