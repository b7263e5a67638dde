"""Composition root of the renderer: stubs for content and media, the pipeline, and a consumer thread."""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass

from common import logs, metrics
from common.clients import Clients
from common.grpc_server import wait_for_stop_signal
from common.render_queue import InProcessQueue
from common.settings import Settings, load_settings
from services.renderer.consumers import Consumer, Heartbeat, InProcessConsumer, RabbitConsumer
from services.renderer.pipeline import RenderPipeline
from services.renderer.workspace import WorkArea

log = logging.getLogger("layers.renderer")


@dataclass
class RunningRenderer:
    consumer: Consumer
    thread: threading.Thread
    clients: Clients
    workspace: WorkArea

    def close(self) -> None:
        self.consumer.stop()
        self.thread.join(timeout=15)
        self.clients.close()
        # Also when a render outlasted the join: its message goes back to the queue, its files go now.
        self.workspace.close()


def start(settings: Settings, in_process: InProcessQueue | None = None) -> RunningRenderer:
    """Start consuming in a background thread: from in_process when given, else from RabbitMQ. What
    renderers that died left in the work folder is removed first."""
    if in_process is None and not settings.amqp_url:
        raise SystemExit("LAYERS_AMQP_URL is required to run the renderer on its own")
    workspace = WorkArea.open(settings.render_work)
    clients = Clients.connect(settings)
    pipeline = RenderPipeline(clients.render, clients.media, workspace, demo_cap_seconds=settings.demo_cap_seconds)
    options = {
        "heartbeat": Heartbeat(settings.data_dir / "renderer-heartbeat"),
        "max_attempts": settings.render_max_attempts,
        "retry_base_seconds": settings.render_retry_base_seconds,
    }
    consumer: Consumer
    if in_process is not None:
        consumer = InProcessConsumer(in_process, pipeline, **options)
    else:
        assert settings.amqp_url is not None
        consumer = RabbitConsumer(settings.amqp_url, settings.render_queue, pipeline, **options)
    thread = threading.Thread(target=consumer.run_forever, name="renderer", daemon=True)
    thread.start()
    return RunningRenderer(consumer, thread, clients, workspace)


def main() -> None:
    logs.configure()
    settings = load_settings()
    stop_metrics = metrics.serve(settings.metrics_port)
    running = start(settings)
    log.info("renderer started")
    wait_for_stop_signal(running.close)
    stop_metrics()
