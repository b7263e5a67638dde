"""Downloads against the real media service (its SQLite and blob folder in a temp dir): blobs written
with upload_file, read back through the gateway's signed links in windows, ranges and HEAD included."""

from __future__ import annotations

import hashlib
import random
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest

from common.clients import channel
from common.grpc_server import RunningService
from common.settings import Settings
from gateway.app import create_app
from gateway.downloads import WINDOW_BYTES
from layers.content.v1 import content_pb2
from layers.media.v1 import media_pb2, media_pb2_grpc
from services.media import server as media_server
from services.media.client import upload_file
from tests.gateway.conftest import LiveGateway, gateway_settings
from tests.gateway.fakes import ASSET_ID, CONTAINER_ID, JOB_ID, ORG, PROJECT, FakeContent
from tests.gateway.helpers import error_of

VIDEO = random.Random(11).randbytes(2 * WINDOW_BYTES + 777)
THUMB = b"\xff\xd8\xff\xe0" + random.Random(12).randbytes(3_000)
SIZE = len(VIDEO)


@pytest.fixture(scope="module")
def media(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningService]:
    running = media_server.start(Settings(data_dir=tmp_path_factory.mktemp("media-data")), "127.0.0.1:0")
    yield running
    running.stop(grace_seconds=1)


@pytest.fixture(scope="module")
def blobs(media: RunningService, tmp_path_factory: pytest.TempPathFactory) -> dict[str, media_pb2.Blob]:
    folder: Path = tmp_path_factory.mktemp("files")
    ch = channel(media.address)
    try:
        stub = media_pb2_grpc.MediaServiceStub(ch)
        stored = {}
        for name, data, mime in (("video", VIDEO, "video/mp4"), ("thumb", THUMB, "image/jpeg")):
            path = folder / name
            path.write_bytes(data)
            stored[name] = upload_file(stub, path, mime, timeout=10)
        return stored
    finally:
        ch.close()


@pytest.fixture(scope="module")
def live(services_addr: str, media: RunningService, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveGateway]:
    settings = gateway_settings(services_addr, tmp_path_factory.mktemp("gw"), media_addr=media.address)
    gateway = LiveGateway(create_app(settings)).start()
    yield gateway
    gateway.stop()


@pytest.fixture
def urls(
    live: LiveGateway, blobs: dict[str, media_pb2.Blob], fake_content: FakeContent
) -> Iterator[tuple[httpx.Client, str, str]]:
    video, thumb = blobs["video"], blobs["thumb"]
    fake_content.containers[CONTAINER_ID] = content_pb2.Container(
        container_id=CONTAINER_ID,
        organization_id=ORG,
        project_id=PROJECT,
        status=content_pb2.CONTAINER_STATUS_COMPLETED,
        job_id=JOB_ID,
        assets=[
            content_pb2.Asset(
                asset_id=ASSET_ID,
                kind="video",
                blob_id=video.blob_id,
                thumbnail_blob_id=thumb.blob_id,
                mime_type="video/mp4",
                size_bytes=video.size_bytes,
                checksum_sha256=video.checksum_sha256,
            )
        ],
    )

    def local(url: str) -> str:
        parts = urlsplit(url)
        return f"{parts.path}?{parts.query}"

    with httpx.Client(base_url=live.base_url, timeout=10) as client:
        yield (
            client,
            local(live.signer.asset_file_url(ORG, CONTAINER_ID, ASSET_ID)),
            local(live.signer.asset_thumbnail_url(ORG, CONTAINER_ID, ASSET_ID)),
        )


def test_whole_file_and_thumbnail(urls: tuple[httpx.Client, str, str], blobs: dict[str, media_pb2.Blob]) -> None:
    client, file_url, thumb_url = urls
    response = client.get(file_url)
    assert response.status_code == 200
    assert response.content == VIDEO
    assert response.headers["content-length"] == str(SIZE)
    assert response.headers["content-type"] == "video/mp4"
    assert response.headers["etag"] == f'"{hashlib.sha256(VIDEO).hexdigest()}"' == f'"{blobs["video"].checksum_sha256}"'
    thumb = client.get(thumb_url)
    assert (thumb.status_code, thumb.content) == (200, THUMB)
    assert thumb.headers["content-type"] == "image/jpeg"
    assert thumb.headers["etag"] == f'"{hashlib.sha256(THUMB).hexdigest()}"'


@pytest.mark.parametrize(
    ("header", "start", "end"),
    [
        ("bytes=0-0", 0, 0),
        (f"bytes={WINDOW_BYTES - 3}-{WINDOW_BYTES + 3}", WINDOW_BYTES - 3, WINDOW_BYTES + 3),
        (f"bytes={WINDOW_BYTES}-", WINDOW_BYTES, SIZE - 1),
        ("bytes=-777", SIZE - 777, SIZE - 1),
    ],
)
def test_ranges(urls: tuple[httpx.Client, str, str], header: str, start: int, end: int) -> None:
    client, file_url, _ = urls
    response = client.get(file_url, headers={"Range": header})
    assert response.status_code == 206
    assert response.content == VIDEO[start : end + 1]
    assert response.headers["content-range"] == f"bytes {start}-{end}/{SIZE}"
    assert response.headers["content-length"] == str(end - start + 1)


def test_unsatisfiable_304_and_head(urls: tuple[httpx.Client, str, str]) -> None:
    client, file_url, _ = urls
    refused = client.get(file_url, headers={"Range": f"bytes={SIZE}-"})
    error_of(refused, 416, "RANGE_NOT_SATISFIABLE")
    assert refused.headers["content-range"] == f"bytes */{SIZE}"
    etag = client.head(file_url).headers["etag"]
    assert client.get(file_url, headers={"If-None-Match": etag}).status_code == 304
    head = client.head(file_url, headers={"Range": "bytes=10-"})
    assert (head.status_code, head.content) == (206, b"")
    assert head.headers["content-length"] == str(SIZE - 10)
