"""CreateMedia / GetMedia / ListMedia over real gRPC, with real files, on SQLite and PostgreSQL."""

from __future__ import annotations

from pathlib import Path

import grpc
import pytest

from layers.media.v1 import media_pb2
from services.media.client import upload_file
from services.media.probing import Measured
from tests.media.conftest import MediaFiles, MediaService, call_error

ORG = "org_01J0000000000000000000000A"
PROJECT = "4d7e3f4a-8a5b-4a52-9a55-0c1d2e3f4a5b"


def create(media: MediaService, path: Path, kind: str, mime: str, org: str = ORG, project: str = PROJECT):
    blob = upload_file(media.stub, path, mime)
    request = media_pb2.CreateMediaRequest(organization_id=org, project_id=project, kind=kind, blob_id=blob.blob_id)
    return blob, request


def test_demo_video_becomes_an_app_demo_row(media: MediaService, files: MediaFiles) -> None:
    blob, request = create(media, files.mp4, "demo-video", "video/mp4")
    item = media.stub.CreateMedia(request).media

    assert item.media_id.startswith("med_")
    assert (item.organization_id, item.project_id) == (ORG, PROJECT)
    assert (item.kind, item.media_role) == ("demo-video", "app-demo")
    assert item.blob == blob
    assert item.probe.duration_ms == pytest.approx(2000, abs=100)
    assert (item.probe.width, item.probe.height) == (320, 568)
    assert item.probe.has_video and item.probe.has_audio
    assert "mp4" in item.probe.format_name.split(",")
    assert item.created_at.seconds > 0

    got = media.stub.GetMedia(
        media_pb2.GetMediaRequest(organization_id=ORG, project_id=PROJECT, media_id=item.media_id)
    )
    assert got.media == item


@pytest.mark.parametrize("name", ["mov", "webm"])
def test_quicktime_and_webm_are_accepted(media: MediaService, files: MediaFiles, name: str) -> None:
    _, request = create(media, getattr(files, name), "demo-video", f"video/{name}")
    item = media.stub.CreateMedia(request).media
    assert item.media_role == "app-demo"
    assert item.probe.has_video and not item.probe.has_audio
    assert item.probe.width > 0 and item.probe.duration_ms > 0


@pytest.mark.parametrize(
    ("name", "kind", "reason"),
    [
        ("png", "demo-video", "NOT_A_VIDEO"),
        ("text", "demo-video", "NOT_A_VIDEO"),
        ("truncated_faststart", "demo-video", "UNDECODABLE"),
        ("truncated_tail", "demo-video", "NOT_A_VIDEO"),
        ("avi", "demo-video", "UNSUPPORTED_CONTAINER"),
        ("empty", "demo-video", "EMPTY_FILE"),
        ("mp4", "logo", "NOT_AN_IMAGE"),
        ("text", "screenshot", "NOT_AN_IMAGE"),
        ("empty", "end-card", "EMPTY_FILE"),
    ],
)
def test_refused_files_leave_nothing_behind(
    media: MediaService, files: MediaFiles, name: str, kind: str, reason: str
) -> None:
    blob, request = create(media, getattr(files, name), kind, "application/octet-stream")

    err = call_error(media.stub.CreateMedia, request)

    assert (err.code, err.reason, err.fields[0].field) == (grpc.StatusCode.INVALID_ARGUMENT, reason, "file")
    assert err.message
    missing = call_error(media.stub.StatBlob, media_pb2.StatBlobRequest(blob_id=blob.blob_id))
    assert missing.code == grpc.StatusCode.NOT_FOUND
    assert media.blob_files() == [] and media.blob_rows() == 0
    assert not media.stub.ListMedia(media_pb2.ListMediaRequest(organization_id=ORG, project_id=PROJECT)).media


@pytest.mark.parametrize("kind", ["logo", "screenshot", "end-card"])
def test_image_kinds_accept_a_png(media: MediaService, files: MediaFiles, kind: str) -> None:
    blob, request = create(media, files.png, kind, "image/png")
    item = media.stub.CreateMedia(request).media
    assert (item.kind, item.media_role) == (kind, kind)
    assert item.blob.blob_id == blob.blob_id
    assert (item.probe.width, item.probe.height, item.probe.duration_ms) == (64, 48, 0)
    assert item.probe.has_video and not item.probe.has_audio


def test_jpeg_logo_and_bad_kind(media: MediaService, files: MediaFiles) -> None:
    _, request = create(media, files.jpeg, "logo", "image/jpeg")
    assert media.stub.CreateMedia(request).media.probe.format_name == "jpeg_pipe"

    blob, request = create(media, files.png, "banner", "image/png")
    err = call_error(media.stub.CreateMedia, request)
    assert (err.code, err.reason) == (grpc.StatusCode.INVALID_ARGUMENT, "VALIDATION")
    assert err.fields[0].field == "kind" and "demo-video" in err.message
    # A refused request takes its blob with it, whatever the cause.
    assert call_error(media.stub.StatBlob, media_pb2.StatBlobRequest(blob_id=blob.blob_id)).reason == "NOT_FOUND"

    request = media_pb2.CreateMediaRequest(
        organization_id=ORG, project_id=PROJECT, kind="logo", blob_id="blb_01J00000000000000000000000"
    )
    assert call_error(media.stub.CreateMedia, request).code == grpc.StatusCode.NOT_FOUND


def test_get_media_is_scoped_to_org_and_project(media: MediaService, files: MediaFiles) -> None:
    _, request = create(media, files.png, "logo", "image/png")
    item = media.stub.CreateMedia(request).media

    for org, project, media_id in [
        (ORG, "11111111-1111-4111-8111-111111111111", item.media_id),
        ("org_01J0000000000000000000000B", PROJECT, item.media_id),
        (ORG, PROJECT, "med_01J00000000000000000000000"),
    ]:
        err = call_error(
            media.stub.GetMedia, media_pb2.GetMediaRequest(organization_id=org, project_id=project, media_id=media_id)
        )
        assert (err.code, err.reason) == (grpc.StatusCode.NOT_FOUND, "NOT_FOUND")
        assert err.message == "mediaId is not on this project."


def _walk(media: MediaService, role: str = "", page_size: int = 200, between_pages=None) -> tuple[list[str], list[int]]:
    ids: list[str] = []
    sizes: list[int] = []
    token = ""
    while True:
        page = media.stub.ListMedia(
            media_pb2.ListMediaRequest(
                organization_id=ORG, project_id=PROJECT, media_role=role, page_size=page_size, page_token=token
            )
        )
        ids.extend(m.media_id for m in page.media)
        sizes.append(len(page.media))
        if not page.next_page_token:
            return ids, sizes
        token = page.next_page_token
        if between_pages is not None:
            between_pages()


def test_list_media_pages(media: MediaService, files: MediaFiles) -> None:
    library = media.library()
    png = library.write_blob("image/png", 0, [files.png.read_bytes()])
    measured = Measured(0, 64, 48, False, True, "png_pipe")
    expected_demo: list[str] = []
    expected_all: list[str] = []
    for i in range(450):
        row = library.record_media(ORG, PROJECT, "demo-video", png.blob_id, measured)
        expected_demo.append(row.media_id)
        expected_all.append(row.media_id)
        if i % 9 == 0:
            logo = library.record_media(ORG, PROJECT, "logo", png.blob_id, measured)
            expected_all.append(logo.media_id)
    # Other projects' and orgs' rows never show up.
    library.record_media(ORG, "other-project", "demo-video", png.blob_id, measured)
    library.record_media("org_other", PROJECT, "demo-video", png.blob_id, measured)

    ids, sizes = _walk(media, "app-demo")
    assert ids == expected_demo  # oldest first, no duplicate, no gap
    assert sizes == [200, 200, 50]

    ids, sizes = _walk(media)
    assert ids == expected_all
    assert sizes == [200, 200, 100]

    logos, _ = _walk(media, "logo")
    assert len(logos) == 50 and set(logos) < set(expected_all)

    default = media.stub.ListMedia(media_pb2.ListMediaRequest(organization_id=ORG, project_id=PROJECT))
    assert len(default.media) == 50 and default.next_page_token
    first = media.stub.GetMedia(
        media_pb2.GetMediaRequest(organization_id=ORG, project_id=PROJECT, media_id=default.media[0].media_id)
    )
    assert first.media.media_role == "app-demo" and first.media.media_id == expected_demo[0]

    # Rows added while a client pages through appear once, at the end; nothing shifts.
    added: list[str] = []

    def insert_some() -> None:
        for _ in range(7):
            added.append(library.record_media(ORG, PROJECT, "demo-video", png.blob_id, measured).media_id)

    ids, _ = _walk(media, "app-demo", page_size=200, between_pages=insert_some)
    assert ids == expected_demo + added
    assert len(set(ids)) == len(ids) == 450 + 14


def test_list_media_arguments(media: MediaService) -> None:
    for size in (201, -1):
        err = call_error(
            media.stub.ListMedia,
            media_pb2.ListMediaRequest(organization_id=ORG, project_id=PROJECT, page_size=size),
        )
        assert (err.code, err.reason, err.fields[0].field) == (
            grpc.StatusCode.INVALID_ARGUMENT,
            "VALIDATION",
            "limit",
        )
    for token in ("not-a-token", "c2VxOng", "!!!"):
        err = call_error(
            media.stub.ListMedia,
            media_pb2.ListMediaRequest(organization_id=ORG, project_id=PROJECT, page_token=token),
        )
        assert (err.reason, err.fields[0].field) == ("VALIDATION", "cursor")
    empty = media.stub.ListMedia(media_pb2.ListMediaRequest(organization_id=ORG, project_id=PROJECT, page_size=200))
    assert not empty.media and empty.next_page_token == ""
