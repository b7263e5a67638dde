"""WriteBlob / ReadBlob / StatBlob / DeleteBlob over real gRPC, on SQLite and PostgreSQL."""

from __future__ import annotations

import hashlib
import os
import threading
import time
from collections.abc import Callable, Iterator

import grpc
import pytest

from common.errors import ServiceError
from layers.media.v1 import media_pb2
from services.media.client import download_to, read_range, upload_file, upload_stream
from tests.media.conftest import MAX_UPLOAD_BYTES, MediaService, call_error

MIB = 1024 * 1024


def wait_until(condition: Callable[[], bool], timeout: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.02)
    return condition()


def test_round_trip_with_ranges_and_checksum(media: MediaService, tmp_path) -> None:
    data = os.urandom(3 * MIB + 12345)
    # Odd chunk sizes on the way in: the client re-cuts them, the server must not care.
    blob = upload_stream(media.stub, [data[:777], data[777 : 2 * MIB + 5], data[2 * MIB + 5 :]], "video/mp4")

    assert blob.blob_id.startswith("blb_")
    assert blob.size_bytes == len(data)
    assert blob.checksum_sha256 == hashlib.sha256(data).hexdigest()
    assert blob.mime_type == "video/mp4"
    assert media.stub.StatBlob(media_pb2.StatBlobRequest(blob_id=blob.blob_id)).blob == blob
    # Stored under root/<2 chars>/<blob_id>, nothing else left in the folder.
    files = media.blob_files()
    assert [p.name for p in files] == [blob.blob_id]
    assert files[0].parent.parent == media.blob_dir.resolve() and len(files[0].parent.name) == 2

    assert b"".join(read_range(media.stub, blob.blob_id)) == data
    chunks = list(read_range(media.stub, blob.blob_id))
    assert max(len(c) for c in chunks) <= MIB
    assert b"".join(read_range(media.stub, blob.blob_id, 10, 100)) == data[10:110]
    assert b"".join(read_range(media.stub, blob.blob_id, MIB - 3, MIB + 7)) == data[MIB - 3 : 2 * MIB + 4]
    assert b"".join(read_range(media.stub, blob.blob_id, len(data) - 5)) == data[-5:]
    # A length past the end is cut at the end, like an HTTP range.
    assert b"".join(read_range(media.stub, blob.blob_id, len(data) - 5, 1000)) == data[-5:]

    dest = download_to(media.stub, blob.blob_id, tmp_path / "out" / "copy.bin")
    assert dest.read_bytes() == data


def test_upload_file_and_empty_blob(media: MediaService, tmp_path) -> None:
    source = tmp_path / "small.bin"
    source.write_bytes(b"hello blob")
    blob = upload_file(media.stub, source, "application/octet-stream")
    assert blob.size_bytes == 10
    assert blob.checksum_sha256 == hashlib.sha256(b"hello blob").hexdigest()

    empty = upload_stream(media.stub, [], "")
    assert empty.size_bytes == 0
    assert empty.checksum_sha256 == hashlib.sha256(b"").hexdigest()
    assert empty.mime_type == "application/octet-stream"
    assert b"".join(read_range(media.stub, empty.blob_id)) == b""
    assert media.blob_rows() == 2


def test_range_errors_and_unknown_blob(media: MediaService) -> None:
    blob = upload_stream(media.stub, [b"0123456789"], "text/plain")

    err = call_error(lambda: list(read_range(media.stub, blob.blob_id, 10)))
    assert (err.code, err.reason) == (grpc.StatusCode.OUT_OF_RANGE, "RANGE_NOT_SATISFIABLE")
    assert err.metadata["sizeBytes"] == "10"
    err = call_error(lambda: list(read_range(media.stub, blob.blob_id, 11, 1)))
    assert err.reason == "RANGE_NOT_SATISFIABLE"
    err = call_error(lambda: list(read_range(media.stub, blob.blob_id, -1)))
    assert (err.code, err.reason) == (grpc.StatusCode.INVALID_ARGUMENT, "VALIDATION")

    missing = "blb_01J00000000000000000000000"
    err = call_error(lambda: list(read_range(media.stub, missing)))
    assert err.code == grpc.StatusCode.NOT_FOUND
    err = call_error(media.stub.StatBlob, media_pb2.StatBlobRequest(blob_id="../../etc/passwd"))
    assert err.code == grpc.StatusCode.NOT_FOUND


def test_first_message_must_be_metadata(media: MediaService) -> None:
    def requests() -> Iterator[media_pb2.WriteBlobRequest]:
        yield media_pb2.WriteBlobRequest(chunk=b"data first")

    err = call_error(media.stub.WriteBlob, requests())
    assert (err.code, err.reason) == (grpc.StatusCode.INVALID_ARGUMENT, "VALIDATION")
    err = call_error(media.stub.WriteBlob, iter([]))
    assert err.reason == "VALIDATION"
    assert media.blob_files() == [] and media.blob_rows() == 0


def test_size_limit_refusal_leaves_no_file_and_no_row(media: MediaService) -> None:
    sent: list[int] = []
    zeros = b"\0" * MIB

    def chunks(count: int) -> Iterator[bytes]:
        for _ in range(count):
            sent.append(MIB)
            yield zeros

    # The writer's own limit.
    err = call_error(upload_stream, media.stub, chunks(3), "video/mp4", max_size_bytes=MIB + 1)
    assert (err.code, err.reason) == (grpc.StatusCode.OUT_OF_RANGE, "PAYLOAD_TOO_LARGE")
    assert err.metadata == {"limitBytes": str(MIB + 1)}
    # The server's limit wins over a larger one asked for.
    sent.clear()
    err = call_error(upload_stream, media.stub, chunks(200), "video/mp4", max_size_bytes=1000 * MIB)
    assert err.metadata == {"limitBytes": str(MAX_UPLOAD_BYTES)}
    # Refused while streaming: the client stopped long before its 200 MiB were all sent.
    assert len(sent) < 100

    assert media.blob_files() == []
    assert media.blob_rows() == 0
    # Exactly at the limit is fine.
    assert upload_stream(media.stub, chunks(1), "video/mp4", max_size_bytes=MIB).size_bytes == MIB


def test_cancelled_upload_leaves_no_file(media: MediaService) -> None:
    release = threading.Event()

    def requests() -> Iterator[media_pb2.WriteBlobRequest]:
        yield media_pb2.WriteBlobRequest(metadata=media_pb2.WriteBlobMetadata(mime_type="video/mp4"))
        for _ in range(2):
            yield media_pb2.WriteBlobRequest(chunk=b"\1" * MIB)
        release.wait(10)  # hold the stream open until the test cancels it

    future = media.stub.WriteBlob.future(requests())
    try:
        assert wait_until(lambda: any(p.name.endswith(".part") for p in media.blob_files()))
        future.cancel()
    finally:
        release.set()
    assert future.cancelled()
    assert wait_until(lambda: media.blob_files() == []), media.blob_files()
    assert media.blob_rows() == 0


def test_delete_blob(media: MediaService, files) -> None:
    blob = upload_stream(media.stub, [b"bytes"], "text/plain")
    media.stub.DeleteBlob(media_pb2.DeleteBlobRequest(blob_id=blob.blob_id))
    assert media.blob_files() == [] and media.blob_rows() == 0
    # Deleting again, or something that never existed, is a no-op.
    media.stub.DeleteBlob(media_pb2.DeleteBlobRequest(blob_id=blob.blob_id))
    media.stub.DeleteBlob(media_pb2.DeleteBlobRequest(blob_id="nonsense"))

    # A blob filed in the media library stays.
    used = upload_file(media.stub, files.png, "image/png")
    media.stub.CreateMedia(
        media_pb2.CreateMediaRequest(organization_id="org_a", project_id="p", kind="logo", blob_id=used.blob_id)
    )
    err = call_error(media.stub.DeleteBlob, media_pb2.DeleteBlobRequest(blob_id=used.blob_id))
    assert (err.code, err.reason) == (grpc.StatusCode.FAILED_PRECONDITION, "BLOB_IN_USE")
    assert media.blob_rows() == 1 and len(media.blob_files()) == 1


def test_a_stream_that_ends_because_it_was_cancelled_stores_nothing(media: MediaService) -> None:
    # gRPC may report a cancelled stream as ended a moment before it reports the cancellation, so the
    # library asks again before and after filing the blob.
    library = media.library()
    err = call_error_of(lambda: library.write_blob("video/mp4", 0, [b"partial"], still_wanted=lambda: False))
    assert (err.code, err.reason) == (grpc.StatusCode.CANCELLED, "CANCELLED")
    assert media.blob_files() == [] and media.blob_rows() == 0

    answers = iter([True, False])  # still there when the file is renamed, gone once the row is in
    err = call_error_of(lambda: library.write_blob("video/mp4", 0, [b"partial"], still_wanted=lambda: next(answers)))
    assert err.reason == "CANCELLED"
    assert media.blob_files() == [] and media.blob_rows() == 0


def call_error_of(fn: Callable[[], object]) -> ServiceError:
    with pytest.raises(ServiceError) as info:
        fn()
    return info.value
