"""ImportMedia's fetcher and SSRF guard against a real https server on loopback (no other address is ever
contacted: the guard refuses internal addresses before connecting)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import func, select

from common.errors import ServiceError
from services.media.blob_store import LocalBlobStore
from services.media.library import MediaLibrary
from services.media.models import BlobRow, MediaItemRow
from services.media.url_import import UrlFetcher, UrlImporter, is_public
from tests.media.conftest import MAX_UPLOAD_BYTES, MediaFiles, MediaService
from tests.support.https_server import HttpsServer, https_server


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[HttpsServer]:
    with https_server(tmp_path_factory.mktemp("https")) as running:
        yield running


def fetcher(server: HttpsServer, allowed: str = "", max_bytes: int = MAX_UPLOAD_BYTES) -> UrlFetcher:
    return UrlFetcher(allowed, timeout_seconds=5, max_bytes=max_bytes, ca_file=server.ca_file)


def refusal(fn, *args) -> ServiceError:  # type: ignore[no-untyped-def]
    with pytest.raises(ServiceError) as info:
        result = fn(*args)
        b"".join(result.chunks)
    return info.value


@pytest.mark.parametrize(
    "address",
    [
        "127.0.0.1",
        "127.8.9.10",
        "10.1.2.3",
        "172.16.0.1",
        "192.168.1.1",
        "169.254.169.254",
        "100.64.0.1",
        "0.0.0.0",
        "224.0.0.251",
        "255.255.255.255",
        "::1",
        "fe80::1",
        "fd00:ec2::254",
        "::ffff:127.0.0.1",
        "::ffff:169.254.169.254",
        "ff02::1",
        # IPv6 forms that carry an internal IPv4 address: NAT64, local-use NAT64, 6to4, SIIT,
        # IPv4-compatible, Teredo.
        "64:ff9b::7f00:1",
        "64:ff9b::a9fe:a9fe",
        "64:ff9b:1::808:808",
        "2002:7f00:1::1",
        "2002:c0a8:101::1",
        "::ffff:0:7f00:1",
        "::127.0.0.1",
        "::10.0.0.1",
        "2001:0:4136:e378:8000:63bf:3fff:fdd2",
    ],
)
def test_internal_addresses_are_not_public(address: str) -> None:
    assert not is_public(address)


@pytest.mark.parametrize(
    "address", ["93.184.216.34", "8.8.8.8", "2606:4700:4700::1111", "64:ff9b::808:808", "2002:808:808::1"]
)
def test_internet_addresses_are_public(address: str) -> None:
    assert is_public(address)


@pytest.mark.parametrize(
    "url",
    [
        "https://127.0.0.1/demo.mp4",
        "https://169.254.169.254/latest/meta-data/iam/security-credentials/",
        "https://[::1]/demo.mp4",
        "https://[::ffff:169.254.169.254]/latest",
        "https://[64:ff9b::a9fe:a9fe]/latest/meta-data/",
        "https://[2002:7f00:1::1]/demo.mp4",
        "https://localhost/demo.mp4",
    ],
)
def test_with_no_allowed_host_the_guard_refuses_internal_targets_before_connecting(
    server: HttpsServer, url: str
) -> None:
    server.requests.clear()
    error = refusal(fetcher(server).open, url)
    assert (error.reason, error.fields[0].field) == ("URL_FORBIDDEN", "url")
    assert server.requests == []


def test_our_own_https_server_is_refused_unless_its_host_is_allowed(server: HttpsServer) -> None:
    server.files["demo"] = (b"hello", "video/mp4")
    server.requests.clear()
    assert refusal(fetcher(server).open, server.url("/file/demo")).reason == "URL_FORBIDDEN"
    assert server.requests == []
    fetched = fetcher(server, allowed="localhost").open(server.url("/file/demo"))
    assert (fetched.mime_type, b"".join(fetched.chunks)) == ("video/mp4", b"hello")


@pytest.mark.parametrize("target", ["https://127.0.0.1:{port}/file/demo", "https://169.254.169.254/latest/meta-data/"])
def test_a_redirect_to_an_internal_address_is_refused(server: HttpsServer, target: str) -> None:
    server.files["demo"] = (b"secret", "video/mp4")
    server.requests.clear()
    url = server.url("/redirect?to=" + target.format(port=server.port))
    error = refusal(fetcher(server, allowed="localhost").open, url)
    assert error.reason == "URL_FORBIDDEN"
    assert [p.split("?")[0] for p in server.requests] == ["/redirect"]


def test_only_https_is_fetched_even_after_a_redirect(server: HttpsServer) -> None:
    assert refusal(fetcher(server, "localhost").open, "http://localhost/x").reason == "URL_NOT_HTTPS"
    url = server.url(f"/redirect?to=http://localhost:{server.port}/file/demo")
    assert refusal(fetcher(server, "localhost").open, url).reason == "URL_NOT_HTTPS"
    assert refusal(fetcher(server, "localhost").open, "ftp://localhost/x").reason == "URL_NOT_HTTPS"


def test_redirects_are_followed_three_times_and_no_more(server: HttpsServer) -> None:
    server.files["demo"] = (b"ok", "video/mp4")
    hop3 = server.url("/file/demo")
    for _ in range(3):
        hop3 = server.url("/redirect?to=" + hop3)
    assert b"".join(fetcher(server, "localhost").open(hop3).chunks) == b"ok"
    server.requests.clear()
    assert refusal(fetcher(server, "localhost").open, server.url("/loop")).reason == "TOO_MANY_REDIRECTS"
    assert server.requests == ["/loop"] * 4


def test_untrusted_certificates_and_error_statuses_fail_the_fetch(server: HttpsServer) -> None:
    untrusting = UrlFetcher("localhost", timeout_seconds=5, max_bytes=1024, ca_file=None)
    error = refusal(untrusting.open, server.url("/file/demo"))
    assert error.reason == "URL_FETCH_FAILED" and "certificate" in error.message
    error = refusal(fetcher(server, "localhost").open, server.url("/status/404"))
    assert error.reason == "URL_FETCH_FAILED" and "404" in error.message


@pytest.fixture
def importer(media: MediaService, server: HttpsServer) -> UrlImporter:
    library = MediaLibrary(media.engine, LocalBlobStore(media.blob_dir), MAX_UPLOAD_BYTES)
    return UrlImporter(library, fetcher(server, "localhost"))


def _rows(media: MediaService) -> tuple[int, int]:
    with media.engine.connect() as conn:
        blobs = conn.scalar(select(func.count()).select_from(BlobRow))
        items = conn.scalar(select(func.count()).select_from(MediaItemRow))
    return int(blobs or 0), int(items or 0)


def test_import_files_a_real_video(importer: UrlImporter, server: HttpsServer, files: MediaFiles) -> None:
    server.files["demo.mp4"] = (files.mp4.read_bytes(), "video/mp4; charset=binary")
    row = importer.import_media("org_1", "p1", "demo-video", server.url("/file/demo.mp4"))
    assert (row.kind, row.media_role, row.blob.mime_type) == ("demo-video", "app-demo", "video/mp4")
    assert row.blob.size_bytes == files.mp4.stat().st_size and (row.width, row.height) == (320, 568)


def test_refused_or_oversized_imports_leave_nothing(
    importer: UrlImporter, server: HttpsServer, media: MediaService, files: MediaFiles
) -> None:
    server.files["image.png"] = (files.png.read_bytes(), "image/png")
    server.files["big"] = (b"\0" * (MAX_UPLOAD_BYTES + 1), "video/mp4")
    cases = [
        (server.url("/file/image.png"), "NOT_A_VIDEO"),
        (server.url("/file/big"), "PAYLOAD_TOO_LARGE"),  # declared Content-Length over the cap
        (server.url(f"/stream?bytes={MAX_UPLOAD_BYTES + 1}"), "PAYLOAD_TOO_LARGE"),  # none declared
    ]
    for url, reason in cases:
        error = refusal(importer.import_media, "org_1", "p1", "demo-video", url)
        assert error.reason == reason, error
        assert _rows(media) == (0, 0)
        assert media.blob_files() == []


def test_kind_is_checked_before_anything_is_fetched(importer: UrlImporter, server: HttpsServer) -> None:
    server.requests.clear()
    error = refusal(importer.import_media, "org_1", "p1", "gif", server.url("/file/demo"))
    assert error.fields[0].field == "kind" and server.requests == []
