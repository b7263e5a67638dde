"""The gRPC edge of the media service: parse the request, call one MediaLibrary method, build the reply.

ServiceErrors raised below travel untouched; the server's ErrorInterceptor turns them into rich statuses.
"""

from __future__ import annotations

from collections.abc import Iterator

import grpc

from common.errors import ServiceError, invalid
from common.timeutil import to_timestamp
from layers.media.v1 import media_pb2, media_pb2_grpc
from services.media.blob_store import STORAGE_UNAVAILABLE, cancelled
from services.media.library import AppDemoProblem, MediaLibrary
from services.media.models import BlobRow, MediaItemRow, MusicTrackRow, ProbeColumns, ReactionTemplateRow
from services.media.url_import import UrlImporter

SERVICE_NAME = media_pb2.DESCRIPTOR.services_by_name["MediaService"].full_name

_APP_DEMO_PROBLEMS = {
    AppDemoProblem.NONE: media_pb2.APP_DEMO_PROBLEM_UNSPECIFIED,
    AppDemoProblem.NOT_APP_DEMO: media_pb2.APP_DEMO_PROBLEM_NOT_APP_DEMO,
    AppDemoProblem.MISSING: media_pb2.APP_DEMO_PROBLEM_MISSING,
}


class MediaServicer(media_pb2_grpc.MediaServiceServicer):
    def __init__(self, library: MediaLibrary, importer: UrlImporter) -> None:
        self._library = library
        self._importer = importer

    def WriteBlob(
        self, request_iterator: Iterator[media_pb2.WriteBlobRequest], context: grpc.ServicerContext
    ) -> media_pb2.WriteBlobResponse:
        first = next(request_iterator, None)
        if first is None or first.WhichOneof("payload") != "metadata":
            raise invalid("The first WriteBlob message must carry metadata.", field="metadata")
        try:
            blob = self._library.write_blob(
                first.metadata.mime_type, first.metadata.max_size_bytes, _chunks(request_iterator), context.is_active
            )
        except ServiceError as exc:
            if exc.reason == STORAGE_UNAVAILABLE:
                # Read the rest (up to the upload limit) before answering: an asyncio client still writing when
                # the status arrives reports INTERNAL instead of it (grpc/grpc#36066). The bytes are dropped.
                drained, limit = 0, self._library.upload_limit(first.metadata.max_size_bytes)
                for message in request_iterator:
                    drained += len(message.chunk)
                    if drained > limit:
                        break
            raise
        return media_pb2.WriteBlobResponse(blob=blob_pb(blob))

    def ReadBlob(
        self, request: media_pb2.ReadBlobRequest, context: grpc.ServicerContext
    ) -> Iterator[media_pb2.ReadBlobResponse]:
        chunks = self._library.read_blob(request.blob_id, request.offset, request.length)
        for chunk in chunks:
            yield media_pb2.ReadBlobResponse(chunk=chunk)

    def StatBlob(self, request: media_pb2.StatBlobRequest, context: grpc.ServicerContext) -> media_pb2.StatBlobResponse:
        return media_pb2.StatBlobResponse(blob=blob_pb(self._library.stat_blob(request.blob_id)))

    def DeleteBlob(
        self, request: media_pb2.DeleteBlobRequest, context: grpc.ServicerContext
    ) -> media_pb2.DeleteBlobResponse:
        self._library.delete_blob(request.blob_id)
        return media_pb2.DeleteBlobResponse()

    def CreateMedia(
        self, request: media_pb2.CreateMediaRequest, context: grpc.ServicerContext
    ) -> media_pb2.CreateMediaResponse:
        row = self._library.create_media(request.organization_id, request.project_id, request.kind, request.blob_id)
        return media_pb2.CreateMediaResponse(media=media_item_pb(row))

    def ImportMedia(
        self, request: media_pb2.ImportMediaRequest, context: grpc.ServicerContext
    ) -> media_pb2.ImportMediaResponse:
        row = self._importer.import_media(request.organization_id, request.project_id, request.kind, request.url)
        return media_pb2.ImportMediaResponse(media=media_item_pb(row))

    def GetMedia(self, request: media_pb2.GetMediaRequest, context: grpc.ServicerContext) -> media_pb2.GetMediaResponse:
        row = self._library.get_media(request.organization_id, request.project_id, request.media_id)
        return media_pb2.GetMediaResponse(media=media_item_pb(row))

    def ListMedia(
        self, request: media_pb2.ListMediaRequest, context: grpc.ServicerContext
    ) -> media_pb2.ListMediaResponse:
        page = self._library.list_media(
            request.organization_id, request.project_id, request.media_role, request.page_size, request.page_token
        )
        return media_pb2.ListMediaResponse(
            media=[media_item_pb(row) for row in page.items], next_page_token=page.next_page_token
        )

    def CreateReactionTemplate(
        self, request: media_pb2.CreateReactionTemplateRequest, context: grpc.ServicerContext
    ) -> media_pb2.CreateReactionTemplateResponse:
        face = request.face_box if request.HasField("face_box") else None
        face_box = None if face is None else (face.x, face.y, face.width, face.height)
        row = self._library.create_reaction_template(request.name, request.blob_id, face_box)
        return media_pb2.CreateReactionTemplateResponse(reaction_template=reaction_template_pb(row))

    def GetReactionTemplate(
        self, request: media_pb2.GetReactionTemplateRequest, context: grpc.ServicerContext
    ) -> media_pb2.GetReactionTemplateResponse:
        row = self._library.get_reaction_template(request.reaction_template_id)
        return media_pb2.GetReactionTemplateResponse(reaction_template=reaction_template_pb(row))

    def PickReactionTemplate(
        self, request: media_pb2.PickReactionTemplateRequest, context: grpc.ServicerContext
    ) -> media_pb2.PickReactionTemplateResponse:
        row = self._library.pick_reaction_template()
        return media_pb2.PickReactionTemplateResponse(reaction_template=reaction_template_pb(row))

    def CreateMusicTrack(
        self, request: media_pb2.CreateMusicTrackRequest, context: grpc.ServicerContext
    ) -> media_pb2.CreateMusicTrackResponse:
        row = self._library.create_music_track(request.title, request.blob_id)
        return media_pb2.CreateMusicTrackResponse(music_track=music_track_pb(row))

    def GetMusicTrack(
        self, request: media_pb2.GetMusicTrackRequest, context: grpc.ServicerContext
    ) -> media_pb2.GetMusicTrackResponse:
        row = self._library.get_music_track(request.music_track_id)
        return media_pb2.GetMusicTrackResponse(music_track=music_track_pb(row))

    def PickMusicTrack(
        self, request: media_pb2.PickMusicTrackRequest, context: grpc.ServicerContext
    ) -> media_pb2.PickMusicTrackResponse:
        row = self._library.pick_music_track()
        return media_pb2.PickMusicTrackResponse(music_track=music_track_pb(row))

    def PickRenderInputs(
        self, request: media_pb2.PickRenderInputsRequest, context: grpc.ServicerContext
    ) -> media_pb2.PickRenderInputsResponse:
        picked = self._library.pick_render_inputs(
            request.organization_id, request.project_id, request.media_id, max(request.draws, 1)
        )
        return media_pb2.PickRenderInputsResponse(
            app_demo_media_id=picked.app_demo_media_id,
            reaction_template_id=picked.reaction_template_id,
            music_track_id=picked.music_track_id,
            app_demo_problem=_APP_DEMO_PROBLEMS[picked.app_demo_problem],
            further_draws=[
                media_pb2.RenderDraw(reaction_template_id=template, music_track_id=track)
                for template, track in picked.further_draws
            ],
            further_draws_valid_ms=int(picked.further_draws_valid_seconds * 1000),
        )


def _chunks(requests: Iterator[media_pb2.WriteBlobRequest]) -> Iterator[bytes]:
    try:
        for message in requests:
            if message.WhichOneof("payload") != "chunk":
                raise invalid("Only the first WriteBlob message may carry metadata.", field="metadata")
            yield message.chunk
    except grpc.RpcError as exc:  # the client went away mid-stream: expected, not a server fault
        raise cancelled() from exc


def blob_pb(row: BlobRow) -> media_pb2.Blob:
    return media_pb2.Blob(
        blob_id=row.blob_id, size_bytes=row.size_bytes, checksum_sha256=row.checksum_sha256, mime_type=row.mime_type
    )


def probe_pb(row: ProbeColumns) -> media_pb2.Probe:
    return media_pb2.Probe(
        duration_ms=row.duration_ms,
        width=row.width,
        height=row.height,
        has_audio=row.has_audio,
        has_video=row.has_video,
        format_name=row.format_name,
    )


def media_item_pb(row: MediaItemRow) -> media_pb2.MediaItem:
    return media_pb2.MediaItem(
        media_id=row.media_id,
        organization_id=row.organization_id,
        project_id=row.project_id,
        kind=row.kind,
        media_role=row.media_role,
        blob=blob_pb(row.blob),
        probe=probe_pb(row),
        created_at=to_timestamp(row.created_at),
    )


def reaction_template_pb(row: ReactionTemplateRow) -> media_pb2.ReactionTemplate:
    face = row.face_box
    return media_pb2.ReactionTemplate(
        reaction_template_id=row.reaction_template_id,
        name=row.name,
        blob=blob_pb(row.blob),
        probe=probe_pb(row),
        face_box=None if face is None else media_pb2.FaceBox(x=face[0], y=face[1], width=face[2], height=face[3]),
    )


def music_track_pb(row: MusicTrackRow) -> media_pb2.MusicTrack:
    return media_pb2.MusicTrack(
        music_track_id=row.music_track_id, title=row.title, blob=blob_pb(row.blob), probe=probe_pb(row)
    )
