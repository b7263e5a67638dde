"""POST /v1/projects/:projectId/app-media through real HTTP, gRPC, SQLite and the blob folder: uploads,
refusals that leave nothing behind, the 200 MB limit on a stream with no Content-Length, idempotency, and
the URL import against an https server of the test's own."""

from __future__ import annotations

import select
import socket
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import create_engine, func
from sqlalchemy import select as sql_select

from gateway.app import create_app
from layers.content.v1 import content_pb2
from services.media import seed_clips
from services.media.models import BlobRow, MediaItemRow
from tests.e2e.stack import Stack, running_stack
from tests.e2e.test_ugc_remix_http import assert_error, post
from tests.gateway.conftest import LiveGateway
from tests.media.conftest import ffmpeg
from tests.support.https_server import HttpsServer, https_server


@pytest.fixture(scope="module")
def clips(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    d = tmp_path_factory.mktemp("app-media")
    phone = seed_clips.make_app_demo(d / "phone.mp4", seconds=2)
    ffmpeg("-f", "lavfi", "-i", "testsrc2=s=64x48", "-frames:v", "1", str(d / "logo.png"))
    data = phone.read_bytes()
    (d / "truncated.mp4").write_bytes(data[: len(data) // 2])
    (d / "empty.mp4").write_bytes(b"")
    return {"phone": phone, "png": d / "logo.png", "truncated": d / "truncated.mp4", "empty": d / "empty.mp4"}


def bare_project(stack: Stack, tenant: dict[str, Any]) -> str:
    """A project of the tenant's organization with a wired influencer and no app demo."""
    admin = stack.stubs.admin
    project = admin.CreateProject(
        content_pb2.CreateProjectRequest(organization_id=tenant["organizationId"], name="No demo yet")
    ).project.project_id
    influencer = admin.CreateInfluencer(
        content_pb2.CreateInfluencerRequest(project_id=project, name="Mia", voice="warm", language="en")
    ).influencer.influencer_id
    admin.CreateLayer(
        content_pb2.CreateLayerRequest(project_id=project, kind="content", name="Main", influencer_id=influencer)
    )
    return project


def upload(
    stack: Stack, tenant: dict[str, Any], project: str, path: Path, kind: str, key: str | None = None, **extra: Any
):
    headers = {"Idempotency-Key": key} if key else {}
    with stack.http(tenant["apiKey"]) as client, path.open("rb") as f:
        return client.post(
            f"/v1/projects/{project}/app-media",
            files={"file": (path.name, f, "video/mp4")},
            data={"kind": kind, **extra},
            headers=headers,
        )


class Leftovers:
    """What the media service keeps: blob files on disk and blob and media rows."""

    def __init__(self, stack: Stack) -> None:
        self.blob_dir = stack.settings.blobs
        self.engine = create_engine(stack.settings.media_database)

    def snapshot(self) -> tuple[int, int, int]:
        with self.engine.connect() as conn:
            blobs = conn.scalar(sql_select(func.count()).select_from(BlobRow))
            items = conn.scalar(sql_select(func.count()).select_from(MediaItemRow))
        files = sum(1 for p in self.blob_dir.rglob("*") if p.is_file())
        return int(blobs or 0), int(items or 0), files

    def settles_to(self, expected: tuple[int, int, int], seconds: float = 5.0) -> tuple[int, int, int]:
        """The snapshot once it equals `expected` (a cancelled upload is cleaned up a moment later)."""
        deadline = time.monotonic() + seconds
        while (now := self.snapshot()) != expected and time.monotonic() < deadline:
            time.sleep(0.05)
        return now


@pytest.fixture(scope="module")
def leftovers(stack: Stack) -> Iterator[Leftovers]:
    tracker = Leftovers(stack)
    yield tracker
    tracker.engine.dispose()


def test_upload_fixes_missing_app_demo(stack: Stack, clips: dict[str, Path]) -> None:
    tenant = stack.tenant()
    project = bare_project(stack, tenant)
    influencer = content_pb2.ListInfluencersRequest(organization_id=tenant["organizationId"], project_id=project)
    influencer_id = stack.stubs.partner.ListInfluencers(influencer).influencers[0].influencer_id
    path = f"/v1/projects/{project}/content/ugc-remix"
    body = {"influencerId": influencer_id}
    assert_error(post(stack, tenant, body, path=path), 422, "VALIDATION", "MISSING_APP_DEMO")

    response = upload(stack, tenant, project, clips["phone"], "demo-video")
    assert response.status_code == 201, response.text
    media = response.json()
    assert set(media) == {
        "mediaId", "projectId", "kind", "mediaRole", "mimeType", "sizeBytes", "durationMs", "width", "height",
        "createdAt",
    }  # fmt: skip
    assert media["mediaId"].startswith("med_") and media["projectId"] == project
    assert (media["kind"], media["mediaRole"], media["mimeType"]) == ("demo-video", "app-demo", "video/mp4")
    assert media["sizeBytes"] == clips["phone"].stat().st_size
    assert (media["width"], media["height"]) == (720, 1280) and 1900 <= media["durationMs"] <= 2100
    assert media["createdAt"].endswith("Z")

    accepted = post(stack, tenant, body, path=path)
    assert accepted.status_code == 202, accepted.text
    with stack.http(tenant["apiKey"]) as client:
        container = client.get(f"/v1/content/{accepted.json()['containerIds'][0]}").json()
    assert container["mediaId"] == media["mediaId"]

    # A second demo is allowed; the first stays the default.
    second = upload(stack, tenant, project, clips["phone"], "demo-video")
    assert second.status_code == 201 and second.json()["mediaId"] != media["mediaId"]
    again = post(stack, tenant, body, path=path)
    with stack.http(tenant["apiKey"]) as client:
        assert client.get(f"/v1/content/{again.json()['containerIds'][0]}").json()["mediaId"] == media["mediaId"]


def test_images_are_filed_under_their_own_role(stack: Stack, clips: dict[str, Path]) -> None:
    tenant = stack.tenant()
    response = upload(stack, tenant, tenant["projectId"], clips["png"], "logo")
    assert response.status_code == 201, response.text
    logo = response.json()
    assert (logo["kind"], logo["mediaRole"], logo["durationMs"], logo["width"]) == ("logo", "logo", None, 64)


@pytest.mark.parametrize(
    ("clip", "reason"), [("png", "NOT_A_VIDEO"), ("truncated", "UNDECODABLE"), ("empty", "EMPTY_FILE")]
)
def test_files_that_are_not_a_demo_video_are_refused_and_leave_nothing(
    stack: Stack, clips: dict[str, Path], leftovers: Leftovers, clip: str, reason: str
) -> None:
    tenant = stack.tenant()
    before = leftovers.snapshot()
    error = assert_error(upload(stack, tenant, tenant["projectId"], clips[clip], "demo-video"), 422, "VALIDATION")
    assert error["details"] == {"reason": reason, "fields": [{"field": "file", "problem": error["message"]}]}
    assert leftovers.settles_to(before) == before


def _chunked_upload(stack: Stack, tenant: dict[str, Any], total: int) -> tuple[int, bytes, int]:
    """Stream a multipart body of a `total`-byte file with chunked encoding (no Content-Length), reading
    the answer as soon as one comes. Returns the status, the body and how many file bytes were sent."""
    boundary = "----layers-test-boundary"
    head = (
        f'--{boundary}\r\nContent-Disposition: form-data; name="kind"\r\n\r\ndemo-video\r\n'
        f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="big.mp4"\r\n'
        "Content-Type: video/mp4\r\n\r\n"
    ).encode()
    port = int(stack.base_url.rsplit(":", 1)[1])
    sock = socket.create_connection(("127.0.0.1", port))
    request = (
        f"POST /v1/projects/{tenant['projectId']}/app-media HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        f"Authorization: Bearer {tenant['apiKey']}\r\nTransfer-Encoding: chunked\r\n"
        f"Content-Type: multipart/form-data; boundary={boundary}\r\n\r\n"
    ).encode()
    sock.sendall(request + b"%x\r\n%s\r\n" % (len(head), head))
    block = b"\x42" * (1024 * 1024)
    sent = 0
    answer = b""
    try:
        while sent < total:
            readable, _, _ = select.select([sock], [], [], 0)
            if readable:
                break
            piece = block[: min(len(block), total - sent)]
            sock.sendall(b"%x\r\n%s\r\n" % (len(piece), piece))
            sent += len(piece)
    except (BrokenPipeError, ConnectionResetError):
        pass
    sock.settimeout(30)
    try:
        while chunk := sock.recv(65536):
            answer += chunk
            if b"\r\n\r\n" in answer and answer.endswith(b"}"):
                break
    except (ConnectionResetError, TimeoutError):
        pass
    sock.close()
    status = int(answer.split(b" ", 2)[1])
    return status, answer.split(b"\r\n\r\n", 1)[1], sent


def test_a_201_mb_stream_without_content_length_is_413_and_leaves_nothing(stack: Stack, leftovers: Leftovers) -> None:
    tenant = stack.tenant()
    before = leftovers.snapshot()
    status, body, _ = _chunked_upload(stack, tenant, 201 * 1000 * 1000)
    assert status == 413, body[:500]
    # The route's own count of file bytes refused it (not the body limit, which has room for framing).
    assert b'"code":"PAYLOAD_TOO_LARGE"' in body and b'"limitBytes":200000000' in body
    assert leftovers.settles_to(before) == before


def test_idempotent_upload_replays_and_keeps_one_row(
    stack: Stack, clips: dict[str, Path], leftovers: Leftovers
) -> None:
    tenant = stack.tenant()
    key = str(uuid.uuid4())
    first = upload(stack, tenant, tenant["projectId"], clips["phone"], "demo-video", key=key)
    assert first.status_code == 201, first.text
    after_first = leftovers.snapshot()
    second = upload(stack, tenant, tenant["projectId"], clips["phone"], "demo-video", key=key)
    assert second.status_code == 201 and second.content == first.content
    assert second.headers["Idempotent-Replayed"] == "true" and "Idempotent-Replayed" not in first.headers
    assert leftovers.settles_to(after_first) == after_first  # the replay's copy of the file was dropped

    other_file = upload(stack, tenant, tenant["projectId"], clips["png"], "demo-video", key=key)
    assert assert_error(other_file, 409, "IDEMPOTENCY_CONFLICT")["details"] == {"reason": "BODY_MISMATCH"}

    # A refused upload is not stored: the same key works once the file is right.
    retry_key = str(uuid.uuid4())
    assert upload(stack, tenant, tenant["projectId"], clips["png"], "demo-video", key=retry_key).status_code == 422
    fixed = upload(stack, tenant, tenant["projectId"], clips["phone"], "demo-video", key=retry_key)
    assert fixed.status_code == 201 and "Idempotent-Replayed" not in fixed.headers


def test_form_shape_errors(stack: Stack, clips: dict[str, Path], leftovers: Leftovers) -> None:
    tenant = stack.tenant()
    project = tenant["projectId"]
    before = leftovers.snapshot()
    cases = [
        ({"data": {"kind": "gif"}, "files": {"file": ("a.mp4", b"x")}}, "kind"),
        ({"data": {"kind": "demo-video", "extra": "1"}, "files": {"file": ("a.mp4", b"x")}}, "extra"),
        ({"files": {"kind": (None, "demo-video")}}, "file"),
        ({"files": {"file": ("a.mp4", b"x")}}, "kind"),
    ]
    with stack.http(tenant["apiKey"]) as client:
        for kwargs, field in cases:
            response = client.post(f"/v1/projects/{project}/app-media", **kwargs)
            error = assert_error(response, 422, "VALIDATION")
            assert field in [f["field"] for f in error["details"]["fields"]], error
        plain = client.post(f"/v1/projects/{project}/app-media", content=b"x", headers={"Content-Type": "text/plain"})
        assert assert_error(plain, 422, "VALIDATION")["details"]["fields"][0]["field"] == "Content-Type"
        big_json = client.post(
            f"/v1/projects/{project}/app-media", json={"kind": "demo-video", "url": "https://x/" + "a" * 70_000}
        )
        assert assert_error(big_json, 413, "PAYLOAD_TOO_LARGE")["details"] == {"limitBytes": 65536}
        bad_url = client.post(f"/v1/projects/{project}/app-media", json={"kind": "demo-video", "url": "http://x/a"})
        assert assert_error(bad_url, 422, "VALIDATION")["details"]["fields"][0]["field"] == "url"
    assert leftovers.settles_to(before) == before


def test_tenancy_and_scope(stack: Stack, clips: dict[str, Path]) -> None:
    mine, theirs = stack.tenant(), stack.tenant()
    assert_error(upload(stack, mine, theirs["projectId"], clips["phone"], "demo-video"), 404, "NOT_FOUND")
    assert_error(upload(stack, mine, "not-a-uuid", clips["phone"], "demo-video"), 404, "NOT_FOUND")
    reader = stack.stubs.admin.CreateApiKey(
        content_pb2.CreateApiKeyRequest(organization_id=mine["organizationId"], scopes=["projects:read"])
    ).api_key
    error = assert_error(upload(stack, {**mine, "apiKey": reader}, mine["projectId"], clips["png"], "logo"), 403,
                         "FORBIDDEN_SCOPE")  # fmt: skip
    assert error["details"] == {"requiredScope": "projects:write"}


@pytest.fixture(scope="module")
def fetch_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Stack, HttpsServer]]:
    """A stack whose media service may fetch from the test's own https server (and only from it)."""
    workdir = tmp_path_factory.mktemp("fetch")
    with (
        https_server(workdir) as server,
        running_stack(workdir / "stack", fetch_allowed_hosts="localhost", fetch_ca_file=server.ca_file) as stack,
    ):
        yield stack, server


def test_url_import_files_the_fetched_clip_and_is_idempotent(
    fetch_stack: tuple[Stack, HttpsServer], clips: dict[str, Path]
) -> None:
    stack, server = fetch_stack
    server.files["demo.mp4"] = (clips["phone"].read_bytes(), "video/mp4")
    tenant = stack.tenant()
    project = bare_project(stack, tenant)
    body = {"kind": "demo-video", "url": server.url("/file/demo.mp4")}
    key = str(uuid.uuid4())
    with stack.http(tenant["apiKey"]) as client:
        first = client.post(f"/v1/projects/{project}/app-media", json=body, headers={"Idempotency-Key": key})
        assert first.status_code == 201, first.text
        assert first.json()["mediaRole"] == "app-demo" and first.json()["width"] == 720
        server.requests.clear()
        second = client.post(f"/v1/projects/{project}/app-media", json=body, headers={"Idempotency-Key": key})
        assert second.content == first.content and second.headers["Idempotent-Replayed"] == "true"
        assert server.requests == []  # a replay fetches nothing
        listed = client.get(f"/v1/projects/{project}/media?role=app-demo").json()
        assert [m["mediaId"] for m in listed["items"]] == [first.json()["mediaId"]]

        redirect = {"kind": "demo-video", "url": server.url(f"/redirect?to=https://127.0.0.1:{server.port}/x")}
        error = assert_error(client.post(f"/v1/projects/{project}/app-media", json=redirect), 422, "VALIDATION")
        assert error["details"] == {
            "reason": "URL_FORBIDDEN",
            "fields": [{"field": "url", "problem": error["message"]}],
        }


def test_url_import_refuses_internal_addresses_when_nothing_is_allowed(stack: Stack) -> None:
    tenant = stack.tenant()
    assert stack.settings.fetch_allowed_hosts == ""
    with stack.http(tenant["apiKey"]) as client:
        for url in ("https://127.0.0.1/demo.mp4", "https://169.254.169.254/latest/meta-data/"):
            response = client.post(
                f"/v1/projects/{tenant['projectId']}/app-media", json={"kind": "demo-video", "url": url}
            )
            assert assert_error(response, 422, "VALIDATION")["details"]["reason"] == "URL_FORBIDDEN"


def test_media_service_down_mid_upload_is_503_not_500(stack: Stack, clips: dict[str, Path]) -> None:
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        nowhere = f"127.0.0.1:{closed.getsockname()[1]}"  # bound, never listening: connections are refused
        gateway = LiveGateway(create_app(stack.settings.model_copy(update={"media_addr": nowhere}))).start()
        try:
            tenant = stack.tenant()
            auth = {"Authorization": f"Bearer {tenant['apiKey']}"}
            with httpx.Client(base_url=gateway.base_url, headers=auth) as client, clips["phone"].open("rb") as f:
                response = client.post(
                    f"/v1/projects/{tenant['projectId']}/app-media",
                    files={"file": ("phone.mp4", f, "video/mp4")},
                    data={"kind": "demo-video"},
                )
            assert_error(response, 503, "UNAVAILABLE")
        finally:
            gateway.stop()
