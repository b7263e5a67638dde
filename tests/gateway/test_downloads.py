"""The signed download URLs: bytes streamed from MediaService with Range, ETag/304 and HEAD; the
signature (not an API key) as the authority.

A gateway of its own, in front of the shared fake content service and a fake media service holding
in-memory blobs; one test module further down runs the same requests against the real media service.
"""

from __future__ import annotations

import hashlib
import random
import time
from collections.abc import Iterator
from urllib.parse import urlsplit

import grpc
import httpx
import pytest

from common.errors import ServiceError
from common.grpc_server import create_server
from gateway.app import create_app
from gateway.downloads import WINDOW_BYTES
from gateway.signing import UrlSigner
from layers.content.v1 import content_pb2
from layers.media.v1 import media_pb2_grpc
from tests.gateway.blob_fakes import FakeBlobs
from tests.gateway.conftest import LiveGateway, gateway_settings
from tests.gateway.fakes import ALL, ASSET_ID, CONTAINER_ID, JOB_ID, ORG, OTHER_ORG, PROJECT, FakeContent, asset
from tests.gateway.helpers import bearer, error_of, request_id

SECRET = "download-tests-signing-secret-0123456789"
VIDEO = random.Random(7).randbytes(2 * WINDOW_BYTES + 123_457)  # three windows, the last one short
THUMB = b"\xff\xd8\xff\xe0" + random.Random(8).randbytes(5_000)
SIZE = len(VIDEO)
EMPTY_ASSET = "ast_01HZX3GGGGGGGGGGGGGGGGGGGG"


def quoted_sha(data: bytes) -> str:
    return f'"{hashlib.sha256(data).hexdigest()}"'


@pytest.fixture(scope="module")
def fake_blobs() -> FakeBlobs:
    return FakeBlobs()


@pytest.fixture(scope="module")
def blobs_addr(fake_blobs: FakeBlobs) -> Iterator[str]:
    def register(server: grpc.Server) -> None:
        media_pb2_grpc.add_MediaServiceServicer_to_server(fake_blobs, server)

    server, port = create_server(register, ["layers.media.v1.MediaService"], "127.0.0.1:0")
    yield f"127.0.0.1:{port}"
    server.stop(0).wait()


@pytest.fixture(scope="module")
def downloads(services_addr: str, blobs_addr: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveGateway]:
    settings = gateway_settings(
        services_addr, tmp_path_factory.mktemp("downloads"), media_addr=blobs_addr, signing_secret=SECRET
    )
    live = LiveGateway(create_app(settings)).start()
    yield live
    live.stop()


@pytest.fixture
def dl(downloads: LiveGateway) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=downloads.base_url, timeout=10) as client:
        yield client


@pytest.fixture(autouse=True)
def stored(_fresh_fakes: None, fake_content: FakeContent, fake_blobs: FakeBlobs) -> None:
    """A completed container with a video asset (and thumbnail) and an empty one, their blobs stored."""
    fake_blobs.reset()
    fake_blobs.put("blb_video", VIDEO, "video/mp4")
    fake_blobs.put("blb_thumb", THUMB, "image/jpeg")
    fake_blobs.put("blb_empty", b"", "video/mp4")
    empty = content_pb2.Asset(asset_id=EMPTY_ASSET, kind="video", blob_id="blb_empty", mime_type="video/mp4")
    fake_content.containers[CONTAINER_ID] = content_pb2.Container(
        container_id=CONTAINER_ID,
        organization_id=ORG,
        project_id=PROJECT,
        status=content_pb2.CONTAINER_STATUS_COMPLETED,
        job_id=JOB_ID,
        assets=[asset(), empty],
    )


def link(
    signer: UrlSigner, variant: str = "file", org: str = ORG, container: str = CONTAINER_ID, asset_id: str = ASSET_ID
) -> str:
    """A signed URL, as path and query (the gateway under test is not at the public base URL)."""
    if variant == "file":
        url = signer.asset_file_url(org, container, asset_id)
    else:
        url = signer.asset_thumbnail_url(org, container, asset_id)
    parts = urlsplit(url)
    return f"{parts.path}?{parts.query}"


@pytest.fixture
def file_url(downloads: LiveGateway) -> str:
    return link(downloads.signer)


# --- whole file ----------------------------------------------------------------------------------------


def test_full_download_streams_the_blob_in_windows(
    dl: httpx.Client, file_url: str, fake_content: FakeContent, fake_blobs: FakeBlobs
) -> None:
    response = dl.get(file_url)  # no API key: the signature is the authority
    assert response.status_code == 200
    assert response.content == VIDEO
    assert response.headers["content-type"] == "video/mp4"
    assert response.headers["content-length"] == str(SIZE)
    assert response.headers["etag"] == quoted_sha(VIDEO)
    assert response.headers["accept-ranges"] == "bytes"
    assert "content-range" not in response.headers
    max_age = int(response.headers["cache-control"].removeprefix("private, max-age="))
    assert 3000 < max_age <= 3600 + 300
    request_id(response)
    assert fake_content.requests("AuthenticateApiKey") == []
    (looked_up,) = fake_content.requests("GetContainer")
    assert (looked_up.organization_id, looked_up.container_id) == (ORG, CONTAINER_ID)
    reads = [(r.blob_id, r.offset, r.length) for r in fake_blobs.requests("ReadBlob")]
    assert reads == [
        ("blb_video", 0, WINDOW_BYTES),
        ("blb_video", WINDOW_BYTES, WINDOW_BYTES),
        ("blb_video", 2 * WINDOW_BYTES, SIZE - 2 * WINDOW_BYTES),
    ]


def test_metadata_url_downloads(dl: httpx.Client, downloads: LiveGateway) -> None:
    body = dl.get(f"/v1/content/{CONTAINER_ID}/assets/{ASSET_ID}", headers=bearer(ALL)).json()
    for key, data in (("url", VIDEO), ("thumbnailUrl", THUMB)):
        parts = urlsplit(body[key])
        assert dl.get(f"{parts.path}?{parts.query}").content == data


def test_thumbnail_is_jpeg_with_its_own_etag(dl: httpx.Client, downloads: LiveGateway, fake_blobs: FakeBlobs) -> None:
    response = dl.get(link(downloads.signer, "thumbnail"))
    assert response.status_code == 200
    assert response.content == THUMB
    assert response.headers["content-type"] == "image/jpeg"
    assert response.headers["content-length"] == str(len(THUMB))
    assert response.headers["etag"] == quoted_sha(THUMB)
    assert [r.blob_id for r in fake_blobs.requests("StatBlob")] == ["blb_thumb"]


def test_empty_file(dl: httpx.Client, downloads: LiveGateway, fake_blobs: FakeBlobs) -> None:
    url = link(downloads.signer, asset_id=EMPTY_ASSET)
    response = dl.get(url)
    assert (response.status_code, response.content) == (200, b"")
    assert response.headers["content-length"] == "0"
    assert fake_blobs.requests("ReadBlob") == []
    error = error_of(dl.get(url, headers={"Range": "bytes=0-"}), 416, "RANGE_NOT_SATISFIABLE")
    assert error["details"] == {"sizeBytes": 0}


# --- ranges --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("header", "start", "end"),
    [
        ("bytes=0-99", 0, 99),
        ("bytes=100-", 100, SIZE - 1),
        ("bytes=-500", SIZE - 500, SIZE - 1),
        ("bytes=1048570-1048590", 1048570, 1048590),  # across a window boundary
        (f"bytes={SIZE - 1}-{SIZE - 1}", SIZE - 1, SIZE - 1),
        ("bytes=5-99999999999", 5, SIZE - 1),  # the end is clamped to the file
        ("bytes=100-9999999999999999999", 100, SIZE - 1),  # past any int64, still clamped
        ("bytes=0-" + "9" * 5000, 0, SIZE - 1),  # more digits than int() takes
        ("bytes=-" + "9" * 40, 0, SIZE - 1),
        (f"bytes=-{SIZE + 10}", 0, SIZE - 1),  # a suffix longer than the file is all of it
        ("Bytes=10-19", 10, 19),  # the unit is case-insensitive
        ("bytes=10-19,", 10, 19),  # an empty list element is not a second range
    ],
)
def test_single_range_is_206_with_exact_bytes(
    dl: httpx.Client, file_url: str, fake_blobs: FakeBlobs, header: str, start: int, end: int
) -> None:
    response = dl.get(file_url, headers={"Range": header})
    assert response.status_code == 206, response.text
    assert response.content == VIDEO[start : end + 1]
    assert response.headers["content-range"] == f"bytes {start}-{end}/{SIZE}"
    assert response.headers["content-length"] == str(end - start + 1)
    assert response.headers["content-type"] == "video/mp4"
    assert response.headers["etag"] == quoted_sha(VIDEO)
    assert response.headers["accept-ranges"] == "bytes"
    reads = fake_blobs.requests("ReadBlob")
    assert reads[0].offset == start
    assert sum(r.length for r in reads) == end - start + 1
    assert all(0 < r.length <= WINDOW_BYTES for r in reads)


@pytest.mark.parametrize(
    "header",
    [
        f"bytes={SIZE}-",
        f"bytes={SIZE + 10}-{SIZE + 20}",
        "bytes=-0",
        "bytes=" + "9" * 30 + "-",  # a first byte past any file we hold
        "bytes=" + "9" * 19 + "-" + "9" * 20,
    ],
)
def test_unsatisfiable_range_is_416(dl: httpx.Client, file_url: str, fake_blobs: FakeBlobs, header: str) -> None:
    response = dl.get(file_url, headers={"Range": header})
    error = error_of(response, 416, "RANGE_NOT_SATISFIABLE")
    assert error["details"] == {"sizeBytes": SIZE}
    assert response.headers["content-range"] == f"bytes */{SIZE}"
    assert fake_blobs.requests("ReadBlob") == []


@pytest.mark.parametrize(
    "header",
    [
        "bytes=0-1,5-6",  # several ranges: the whole file is a valid answer
        "bytes=9-3",  # last before first: invalid, ignored
        "items=0-1",  # another unit
        "bytes=abc",
        "bytes=-",
        "bytes=1-2-3",
    ],
)
def test_multiple_or_invalid_ranges_get_the_whole_file(dl: httpx.Client, file_url: str, header: str) -> None:
    response = dl.get(file_url, headers={"Range": header})
    assert response.status_code == 200
    assert response.content == VIDEO
    assert "content-range" not in response.headers


def test_if_range_holds_the_range_only_for_the_same_etag(dl: httpx.Client, file_url: str) -> None:
    same = dl.get(file_url, headers={"Range": "bytes=0-9", "If-Range": quoted_sha(VIDEO)})
    assert (same.status_code, same.content) == (206, VIDEO[:10])
    changed = dl.get(file_url, headers={"Range": "bytes=0-9", "If-Range": '"something-else"'})
    assert (changed.status_code, changed.content) == (200, VIDEO)
    dated = dl.get(file_url, headers={"Range": "bytes=0-9", "If-Range": "Sat, 18 Apr 2026 12:04:11 GMT"})
    assert dated.status_code == 200


def test_media_range_refusal_maps_to_416(dl: httpx.Client, file_url: str, fake_blobs: FakeBlobs) -> None:
    # The blob store disagrees with StatBlob (say, it shrank): its OUT_OF_RANGE goes through the table.
    fake_blobs.fail(
        "ReadBlob",
        ServiceError(grpc.StatusCode.OUT_OF_RANGE, "RANGE_NOT_SATISFIABLE", "past the end", {"sizeBytes": "10"}),
    )
    response = dl.get(file_url, headers={"Range": "bytes=100-"})
    assert error_of(response, 416, "RANGE_NOT_SATISFIABLE")["details"] == {"sizeBytes": 10}
    assert response.headers["content-range"] == "bytes */10"


def test_media_down_before_the_first_byte_is_503(dl: httpx.Client, file_url: str, fake_blobs: FakeBlobs) -> None:
    fake_blobs.fail("ReadBlob", ServiceError(grpc.StatusCode.UNAVAILABLE, "UNAVAILABLE", "disk at 10.0.0.9"))
    response = dl.get(file_url)
    error_of(response, 503, "UNAVAILABLE")
    assert "10.0.0.9" not in response.text


# --- conditional requests and HEAD ---------------------------------------------------------------------


@pytest.mark.parametrize("header", ["{etag}", "W/{etag}", '"other", {etag}', "*"])
def test_if_none_match_is_304(dl: httpx.Client, file_url: str, fake_blobs: FakeBlobs, header: str) -> None:
    etag = quoted_sha(VIDEO)
    response = dl.get(file_url, headers={"If-None-Match": header.format(etag=etag), "Range": "bytes=0-9"})
    assert response.status_code == 304
    assert response.content == b""
    assert response.headers["etag"] == etag
    request_id(response)
    assert fake_blobs.requests("ReadBlob") == []


def test_if_none_match_other_etag_is_200(dl: httpx.Client, file_url: str) -> None:
    response = dl.get(file_url, headers={"If-None-Match": '"stale"'})
    assert (response.status_code, response.content) == (200, VIDEO)


def test_head_sends_headers_only(dl: httpx.Client, file_url: str, fake_blobs: FakeBlobs) -> None:
    whole = dl.head(file_url)
    assert whole.status_code == 200
    assert whole.content == b""
    assert whole.headers["content-length"] == str(SIZE)
    assert whole.headers["content-type"] == "video/mp4"
    assert whole.headers["etag"] == quoted_sha(VIDEO)
    assert whole.headers["accept-ranges"] == "bytes"
    part = dl.head(file_url, headers={"Range": "bytes=-100"})
    assert part.status_code == 206
    assert part.headers["content-range"] == f"bytes {SIZE - 100}-{SIZE - 1}/{SIZE}"
    assert part.headers["content-length"] == "100"
    assert fake_blobs.requests("ReadBlob") == []


# --- the signature -------------------------------------------------------------------------------------


def _tamper(url: str, how: str) -> str:
    path, _, query = url.partition("?")
    params = dict(p.split("=", 1) for p in query.split("&"))
    if how == "signature":
        sig = params["signature"]
        params["signature"] = ("0" if sig[0] != "0" else "1") + sig[1:]
    elif how == "org":
        params["org"] = OTHER_ORG
    elif how == "expires":
        params["expires"] = str(int(params["expires"]) + 300)
    elif how == "asset":
        path = path.replace(ASSET_ID, EMPTY_ASSET)
    elif how == "variant":
        path = path.replace("/file", "/thumbnail")
    elif how.startswith("drop_"):
        del params[how.removeprefix("drop_")]
    elif how == "no_query":
        return path
    return path + "?" + "&".join(f"{k}={v}" for k, v in params.items())


@pytest.mark.parametrize(
    "how", ["signature", "org", "expires", "asset", "variant", "drop_signature", "drop_org", "drop_expires", "no_query"]
)
def test_tampered_link_is_403(dl: httpx.Client, file_url: str, fake_content: FakeContent, how: str) -> None:
    assert dl.head(file_url).status_code == 200  # the untampered link works
    fake_content.reset()
    error = error_of(dl.get(_tamper(file_url, how)), 403, "FORBIDDEN_SIGNATURE")
    assert error["details"] == {}
    assert fake_content.requests("GetContainer") == []  # refused before any look-up


def test_a_signed_link_with_a_trailing_slash_is_404_and_its_signature_goes_nowhere(
    dl: httpx.Client, file_url: str
) -> None:
    path, _, query = file_url.partition("?")
    response = dl.get(f"{path}/?{query}", headers={"Host": "evil.example.com"})
    error_of(response, 404, "NOT_FOUND")
    assert "location" not in response.headers


def test_expired_link_is_403(dl: httpx.Client) -> None:
    past = UrlSigner(SECRET.encode(), ttl_seconds=60, clock=lambda: time.time() - 3600)
    url = link(past)
    expires = int(url.split("expires=")[1].split("&")[0])
    assert expires < time.time()
    error_of(dl.get(url), 403, "FORBIDDEN_SIGNATURE")
    head = dl.head(url)
    assert (head.status_code, head.content) == (403, b"")  # HEAD: the status, never a body


def test_link_signed_with_another_secret_is_403(dl: httpx.Client) -> None:
    error_of(dl.get(link(UrlSigner(b"x" * 40))), 403, "FORBIDDEN_SIGNATURE")


def test_validly_signed_for_another_org_is_404(
    dl: httpx.Client, downloads: LiveGateway, fake_content: FakeContent
) -> None:
    error_of(dl.get(link(downloads.signer, org=OTHER_ORG)), 404, "NOT_FOUND")
    (looked_up,) = fake_content.requests("GetContainer")
    assert looked_up.organization_id == OTHER_ORG


def test_unknown_asset_and_missing_thumbnail_are_404(
    dl: httpx.Client, downloads: LiveGateway, fake_content: FakeContent
) -> None:
    error = error_of(dl.get(link(downloads.signer, asset_id="ast_nope")), 404, "NOT_FOUND")
    assert error["message"] == "assetId is not an asset of this container."
    error = error_of(dl.get(link(downloads.signer, "thumbnail", asset_id=EMPTY_ASSET)), 404, "NOT_FOUND")
    assert error["message"] == "This asset has no thumbnail."
