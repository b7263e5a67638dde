"""Fixtures for the media service: a real server on loopback over SQLite or PostgreSQL, real media files."""

from __future__ import annotations

import subprocess
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import grpc
import pytest
from sqlalchemy import Engine, func, select

from common.clients import channel
from common.db import make_engine
from common.errors import ServiceError, unpack
from common.ffmpeg import ffmpeg_path
from common.grpc_server import RunningService
from common.settings import Settings
from layers.media.v1 import media_pb2_grpc
from services.media import seed_clips
from services.media.blob_store import LocalBlobStore
from services.media.library import MediaLibrary
from services.media.models import BlobRow
from services.media.server import start

# Small enough that the over-the-limit tests stream only a few MiB.
MAX_UPLOAD_BYTES = 8 * 1024 * 1024


@dataclass
class MediaService:
    running: RunningService
    stub: media_pb2_grpc.MediaServiceStub
    channel: grpc.Channel
    blob_dir: Path
    engine: Engine

    def blob_files(self) -> list[Path]:
        """Every file under the blob folder, temp files included."""
        return sorted(p for p in self.blob_dir.rglob("*") if p.is_file())

    def blob_rows(self) -> int:
        with self.engine.connect() as conn:
            return int(conn.scalar(select(func.count()).select_from(BlobRow)) or 0)

    def library(self) -> MediaLibrary:
        """The domain class on the same database and folder, for filling tables fast."""
        return MediaLibrary(self.engine, LocalBlobStore(self.blob_dir), MAX_UPLOAD_BYTES)


@pytest.fixture
def media(db_url: str, tmp_path: Path) -> Iterator[MediaService]:
    settings = Settings(
        data_dir=tmp_path,
        media_db_url=db_url,
        blob_dir=tmp_path / "blobs",
        max_upload_bytes=MAX_UPLOAD_BYTES,
    )
    running = start(settings, "127.0.0.1:0")
    chan = channel(running.address)
    engine = make_engine(db_url)
    try:
        yield MediaService(running, media_pb2_grpc.MediaServiceStub(chan), chan, settings.blobs, engine)
    finally:
        chan.close()
        running.stop(grace_seconds=1)
        engine.dispose()


def call_error(fn: Callable[..., Any], *args: Any, **kwargs: Any) -> ServiceError:
    """Make a call that must fail; return its rich error."""
    with pytest.raises(grpc.RpcError) as info:
        fn(*args, **kwargs)
    return unpack(info.value)


def ffmpeg(*args: str) -> None:
    subprocess.run([ffmpeg_path(), "-v", "error", "-nostdin", "-y", *args], check=True, timeout=60)


@dataclass(frozen=True)
class MediaFiles:
    mp4: Path
    mov: Path
    webm: Path
    avi: Path
    silent_mp4: Path
    truncated_faststart: Path
    truncated_tail: Path
    png: Path
    jpeg: Path
    empty: Path
    text: Path


def _truncate(source: Path, dest: Path) -> Path:
    data = source.read_bytes()
    dest.write_bytes(data[: len(data) // 2])
    return dest


@pytest.fixture(scope="session")
def files(tmp_path_factory: pytest.TempPathFactory) -> MediaFiles:
    """Real media made once per run with ffmpeg (never committed)."""
    d = tmp_path_factory.mktemp("media-files")
    video = ["-f", "lavfi", "-i", "testsrc2=s=320x568:r=30:d=2"]
    audio = ["-f", "lavfi", "-i", "sine=frequency=440:d=2"]
    x264 = ["-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p"]
    ffmpeg(*video, *audio, *x264, "-c:a", "aac", "-shortest", str(d / "demo.mp4"))
    ffmpeg(*video, *audio, *x264, "-c:a", "aac", "-shortest", "-movflags", "+faststart", str(d / "fast.mp4"))
    ffmpeg(*video, *x264, "-f", "mov", str(d / "demo.mov"))
    ffmpeg(*video, *x264, str(d / "silent.mp4"))
    ffmpeg(
        "-f", "lavfi", "-i", "testsrc2=s=160x284:r=15:d=1",
        "-c:v", "libvpx", "-deadline", "realtime", "-cpu-used", "8", "-b:v", "200k", str(d / "demo.webm"),
    )  # fmt: skip
    ffmpeg(*video, "-c:v", "mpeg4", str(d / "demo.avi"))
    ffmpeg("-f", "lavfi", "-i", "testsrc2=s=64x48", "-frames:v", "1", str(d / "image.png"))
    ffmpeg("-f", "lavfi", "-i", "testsrc2=s=64x48", "-frames:v", "1", str(d / "image.jpg"))
    (d / "empty.bin").write_bytes(b"")
    (d / "text.txt").write_text("not media at all\n")
    return MediaFiles(
        mp4=d / "demo.mp4",
        mov=d / "demo.mov",
        webm=d / "demo.webm",
        avi=d / "demo.avi",
        silent_mp4=d / "silent.mp4",
        truncated_faststart=_truncate(d / "fast.mp4", d / "truncated-fast.mp4"),
        truncated_tail=_truncate(d / "demo.mp4", d / "truncated-tail.mp4"),
        png=d / "image.png",
        jpeg=d / "image.jpg",
        empty=d / "empty.bin",
        text=d / "text.txt",
    )


@dataclass(frozen=True)
class SeedClips:
    reaction: Path
    music: Path
    app_demo: Path
    seconds: dict[str, float]


@pytest.fixture(scope="session")
def seed_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One seed work folder per run, so seeding a second database reuses the clips."""
    return tmp_path_factory.mktemp("seed")


@pytest.fixture(scope="session")
def clips(tmp_path_factory: pytest.TempPathFactory) -> SeedClips:
    """The default-size seed clips, made once per run, with how long each took."""
    d = tmp_path_factory.mktemp("clips")
    seconds: dict[str, float] = {}
    made: dict[str, Path] = {}
    makers: list[tuple[str, Callable[[Path], Path], str]] = [
        ("reaction", seed_clips.make_reaction_clip, "reaction.mp4"),
        ("music", seed_clips.make_music_track, "music.m4a"),
        ("app_demo", seed_clips.make_app_demo, "demo.mp4"),
    ]
    for name, make, file in makers:
        began = time.monotonic()
        made[name] = make(d / file)
        seconds[name] = time.monotonic() - began
    return SeedClips(made["reaction"], made["music"], made["app_demo"], seconds)
