"""The blob disk full or read-only under a running system: uploads answer 503 with nothing half-stored, renders
fail with their credits released, and writes resume once the disk does. The disk is a small tmpfs mounted for
the test and unmounted afterwards, also when it fails."""

from __future__ import annotations

import contextlib
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from services.media import seed_clips
from tests.conftest import IN_CI
from tests.e2e.stack import running_stack
from tests.e2e.test_app_media import Leftovers, upload
from tests.e2e.test_render_e2e import credits, is_terminal, start_job, wait_for


def require_root(what: str) -> None:
    if os.geteuid() == 0:
        return
    message = f"{what} needs root"
    if IN_CI:
        pytest.fail(message)
    pytest.skip(message)


@contextlib.contextmanager
def small_disk(path: Path, size: str = "16m") -> Iterator[Path]:
    """A tmpfs of `size` mounted at `path`, unmounted afterwards whatever happens."""
    require_root("mounting a small disk")
    path.mkdir(parents=True, exist_ok=True)
    subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(path)], check=True)
    try:
        yield path
    finally:
        subprocess.run(["umount", "-l", str(path)], check=False)


def fill(disk: Path) -> Path:
    """Write a filler file until the disk refuses more."""
    filler = disk / "filler"
    block = b"\0" * 65536
    with filler.open("wb", buffering=0) as out, contextlib.suppress(OSError):
        while True:
            out.write(block)
    return filler


def partial_files(disk: Path) -> list[Path]:
    return [p for p in disk.rglob("*.part")]


def test_a_full_or_read_only_blob_disk_refuses_uploads_with_503_and_fails_renders_releasing_credits(
    tmp_path: Path,
) -> None:
    clip = seed_clips.make_app_demo(tmp_path / "upload.mp4")
    with (
        small_disk(tmp_path / "blobs") as disk,
        running_stack(
            tmp_path / "data",
            renderer=True,
            catalog=(1, 1),
            blob_dir=disk,
            render_max_attempts=2,
            render_retry_base_seconds=0.2,
        ) as stack,
    ):
        tenant = stack.tenant()
        leftovers = Leftovers(stack)
        try:
            stored = leftovers.snapshot()
            before = credits(stack, tenant)

            filler = fill(disk)
            refused = upload(stack, tenant, tenant["projectId"], clip, "demo-video")
            assert refused.status_code == 503, refused.text
            assert refused.json()["error"]["code"] == "UNAVAILABLE"
            assert leftovers.snapshot() == (stored[0], stored[1], stored[2] + 1)  # only the filler is new
            assert partial_files(disk) == []

            job = wait_for(stack, tenant, start_job(stack, tenant)["jobId"], is_terminal, timeout=120)
            assert job["status"] == "failed", job
            after = credits(stack, tenant)
            assert after["reservedCredits"] == 0 and after["balance"] == before["balance"]  # nothing charged
            assert partial_files(disk) == []

            filler.unlink()
            subprocess.run(["mount", "-o", "remount,ro", str(disk)], check=True)
            try:
                refused = upload(stack, tenant, tenant["projectId"], clip, "demo-video")
                assert refused.status_code == 503, refused.text
                assert leftovers.snapshot() == stored
            finally:
                subprocess.run(["mount", "-o", "remount,rw", str(disk)], check=True)

            # Writable again: the next upload goes through, with no restart.
            accepted = upload(stack, tenant, tenant["projectId"], clip, "demo-video")
            assert accepted.status_code == 201, accepted.text
        finally:
            leftovers.engine.dispose()
