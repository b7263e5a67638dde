"""The composition root: health, reflection, and `python -m services.media` as a real process."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc

from common.clients import channel
from layers.media.v1 import media_pb2, media_pb2_grpc
from tests.media.conftest import MediaService

SERVICE = "layers.media.v1.MediaService"
REPO_ROOT = Path(__file__).resolve().parents[2]


def test_health_and_reflection(media: MediaService) -> None:
    health = health_pb2_grpc.HealthStub(media.channel)
    for name in (SERVICE, ""):
        answer = health.Check(health_pb2.HealthCheckRequest(service=name), timeout=5)
        assert answer.status == health_pb2.HealthCheckResponse.SERVING

    stub = reflection_pb2_grpc.ServerReflectionStub(media.channel)
    responses = stub.ServerReflectionInfo(iter([reflection_pb2.ServerReflectionRequest(list_services="")]), timeout=5)
    names = {s.name for r in responses for s in r.list_services_response.service}
    assert SERVICE in names and "grpc.health.v1.Health" in names


def test_python_m_services_media_runs_and_stops_on_sigterm(tmp_path: Path) -> None:
    env = {
        **os.environ,
        "LAYERS_MEDIA_ADDR": "127.0.0.1:0",
        "LAYERS_DATA_DIR": str(tmp_path / "data"),
        "LAYERS_MEDIA_DB_URL": f"sqlite:///{tmp_path / 'media.db'}",
        "LAYERS_BLOB_DIR": str(tmp_path / "blobs"),
    }
    proc = subprocess.Popen(
        [sys.executable, "-m", "services.media"],
        cwd=REPO_ROOT,
        env=env,
        stderr=subprocess.PIPE,
        text=True,
    )
    lines: list[str] = []
    found = threading.Event()
    port: list[int] = []

    def read() -> None:
        assert proc.stderr is not None
        for line in proc.stderr:
            lines.append(line)
            match = re.search(r"listening on 127\.0\.0\.1:(\d+)", line)
            if match:
                port.append(int(match.group(1)))
                found.set()

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    try:
        assert found.wait(30), "".join(lines)
        with channel(f"127.0.0.1:{port[0]}") as chan:
            answer = health_pb2_grpc.HealthStub(chan).Check(health_pb2.HealthCheckRequest(service=SERVICE), timeout=5)
            assert answer.status == health_pb2.HealthCheckResponse.SERVING
            stub = media_pb2_grpc.MediaServiceStub(chan)
            blob = stub.WriteBlob(
                iter([media_pb2.WriteBlobRequest(metadata=media_pb2.WriteBlobMetadata(mime_type="text/plain"))]),
                timeout=5,
            ).blob
            assert blob.size_bytes == 0
        assert (tmp_path / "media.db").exists() and (tmp_path / "blobs").is_dir()
        began = time.monotonic()
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=20) == 0, "".join(lines)
        assert time.monotonic() - began < 15
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        reader.join(timeout=5)
