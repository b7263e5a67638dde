"""Composition root of the media service: engine, migrations, blob store, library, gRPC server."""

from __future__ import annotations

import logging
from pathlib import Path

import grpc

from common import logs
from common.db import make_engine, migrate, ping
from common.grpc_server import RunningService, create_service_server, serve
from common.settings import Settings, load_settings
from layers.media.v1 import media_pb2_grpc
from services.media.blob_store import LocalBlobStore
from services.media.library import MediaLibrary
from services.media.servicer import SERVICE_NAME, MediaServicer
from services.media.url_import import UrlFetcher, UrlImporter

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"
VERSION_TABLE = "alembic_version_media"

log = logging.getLogger("layers.media")


def start(settings: Settings, address: str | None = None, reuse_port: bool = False) -> RunningService:
    """Build everything once and start serving; the caller stops it with `running.stop()`."""
    engine = make_engine(settings.media_database)
    try:
        migrate(engine, MIGRATIONS_DIR, VERSION_TABLE)
        library = MediaLibrary(
            engine,
            LocalBlobStore(settings.blobs),
            settings.max_upload_bytes,
            catalog_ttl_seconds=settings.catalog_cache_seconds,
        )
        fetcher = UrlFetcher(
            settings.fetch_allowed_hosts,
            settings.fetch_timeout_seconds,
            settings.max_upload_bytes,
            settings.fetch_ca_file,
        )
        servicer = MediaServicer(library, UrlImporter(library, fetcher))

        def register(server: grpc.Server) -> None:
            media_pb2_grpc.add_MediaServiceServicer_to_server(servicer, server)

        server, port = create_service_server(
            register, [SERVICE_NAME], address or settings.media_addr, settings, reuse_port=reuse_port
        )
    except BaseException:
        engine.dispose()
        raise
    return RunningService("media", server, port, [engine.dispose], checks=[lambda: ping(engine)])


def main() -> None:
    logs.configure()
    settings = load_settings()
    serve("media", __name__, settings.media_addr, settings, settings.media_database)
