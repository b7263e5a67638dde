import datetime

from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class AppDemoProblem(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    APP_DEMO_PROBLEM_UNSPECIFIED: _ClassVar[AppDemoProblem]
    APP_DEMO_PROBLEM_NOT_APP_DEMO: _ClassVar[AppDemoProblem]
    APP_DEMO_PROBLEM_MISSING: _ClassVar[AppDemoProblem]
APP_DEMO_PROBLEM_UNSPECIFIED: AppDemoProblem
APP_DEMO_PROBLEM_NOT_APP_DEMO: AppDemoProblem
APP_DEMO_PROBLEM_MISSING: AppDemoProblem

class Blob(_message.Message):
    __slots__ = ("blob_id", "size_bytes", "checksum_sha256", "mime_type")
    BLOB_ID_FIELD_NUMBER: _ClassVar[int]
    SIZE_BYTES_FIELD_NUMBER: _ClassVar[int]
    CHECKSUM_SHA256_FIELD_NUMBER: _ClassVar[int]
    MIME_TYPE_FIELD_NUMBER: _ClassVar[int]
    blob_id: str
    size_bytes: int
    checksum_sha256: str
    mime_type: str
    def __init__(self, blob_id: _Optional[str] = ..., size_bytes: _Optional[int] = ..., checksum_sha256: _Optional[str] = ..., mime_type: _Optional[str] = ...) -> None: ...

class Probe(_message.Message):
    __slots__ = ("duration_ms", "width", "height", "has_audio", "has_video", "format_name")
    DURATION_MS_FIELD_NUMBER: _ClassVar[int]
    WIDTH_FIELD_NUMBER: _ClassVar[int]
    HEIGHT_FIELD_NUMBER: _ClassVar[int]
    HAS_AUDIO_FIELD_NUMBER: _ClassVar[int]
    HAS_VIDEO_FIELD_NUMBER: _ClassVar[int]
    FORMAT_NAME_FIELD_NUMBER: _ClassVar[int]
    duration_ms: int
    width: int
    height: int
    has_audio: bool
    has_video: bool
    format_name: str
    def __init__(self, duration_ms: _Optional[int] = ..., width: _Optional[int] = ..., height: _Optional[int] = ..., has_audio: _Optional[bool] = ..., has_video: _Optional[bool] = ..., format_name: _Optional[str] = ...) -> None: ...

class MediaItem(_message.Message):
    __slots__ = ("media_id", "organization_id", "project_id", "kind", "media_role", "blob", "probe", "created_at")
    MEDIA_ID_FIELD_NUMBER: _ClassVar[int]
    ORGANIZATION_ID_FIELD_NUMBER: _ClassVar[int]
    PROJECT_ID_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    MEDIA_ROLE_FIELD_NUMBER: _ClassVar[int]
    BLOB_FIELD_NUMBER: _ClassVar[int]
    PROBE_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_FIELD_NUMBER: _ClassVar[int]
    media_id: str
    organization_id: str
    project_id: str
    kind: str
    media_role: str
    blob: Blob
    probe: Probe
    created_at: _timestamp_pb2.Timestamp
    def __init__(self, media_id: _Optional[str] = ..., organization_id: _Optional[str] = ..., project_id: _Optional[str] = ..., kind: _Optional[str] = ..., media_role: _Optional[str] = ..., blob: _Optional[_Union[Blob, _Mapping]] = ..., probe: _Optional[_Union[Probe, _Mapping]] = ..., created_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class FaceBox(_message.Message):
    __slots__ = ("x", "y", "width", "height")
    X_FIELD_NUMBER: _ClassVar[int]
    Y_FIELD_NUMBER: _ClassVar[int]
    WIDTH_FIELD_NUMBER: _ClassVar[int]
    HEIGHT_FIELD_NUMBER: _ClassVar[int]
    x: float
    y: float
    width: float
    height: float
    def __init__(self, x: _Optional[float] = ..., y: _Optional[float] = ..., width: _Optional[float] = ..., height: _Optional[float] = ...) -> None: ...

class ReactionTemplate(_message.Message):
    __slots__ = ("reaction_template_id", "name", "blob", "probe", "face_box")
    REACTION_TEMPLATE_ID_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    BLOB_FIELD_NUMBER: _ClassVar[int]
    PROBE_FIELD_NUMBER: _ClassVar[int]
    FACE_BOX_FIELD_NUMBER: _ClassVar[int]
    reaction_template_id: str
    name: str
    blob: Blob
    probe: Probe
    face_box: FaceBox
    def __init__(self, reaction_template_id: _Optional[str] = ..., name: _Optional[str] = ..., blob: _Optional[_Union[Blob, _Mapping]] = ..., probe: _Optional[_Union[Probe, _Mapping]] = ..., face_box: _Optional[_Union[FaceBox, _Mapping]] = ...) -> None: ...

class MusicTrack(_message.Message):
    __slots__ = ("music_track_id", "title", "blob", "probe")
    MUSIC_TRACK_ID_FIELD_NUMBER: _ClassVar[int]
    TITLE_FIELD_NUMBER: _ClassVar[int]
    BLOB_FIELD_NUMBER: _ClassVar[int]
    PROBE_FIELD_NUMBER: _ClassVar[int]
    music_track_id: str
    title: str
    blob: Blob
    probe: Probe
    def __init__(self, music_track_id: _Optional[str] = ..., title: _Optional[str] = ..., blob: _Optional[_Union[Blob, _Mapping]] = ..., probe: _Optional[_Union[Probe, _Mapping]] = ...) -> None: ...

class WriteBlobMetadata(_message.Message):
    __slots__ = ("mime_type", "max_size_bytes")
    MIME_TYPE_FIELD_NUMBER: _ClassVar[int]
    MAX_SIZE_BYTES_FIELD_NUMBER: _ClassVar[int]
    mime_type: str
    max_size_bytes: int
    def __init__(self, mime_type: _Optional[str] = ..., max_size_bytes: _Optional[int] = ...) -> None: ...

class WriteBlobRequest(_message.Message):
    __slots__ = ("metadata", "chunk")
    METADATA_FIELD_NUMBER: _ClassVar[int]
    CHUNK_FIELD_NUMBER: _ClassVar[int]
    metadata: WriteBlobMetadata
    chunk: bytes
    def __init__(self, metadata: _Optional[_Union[WriteBlobMetadata, _Mapping]] = ..., chunk: _Optional[bytes] = ...) -> None: ...

class WriteBlobResponse(_message.Message):
    __slots__ = ("blob",)
    BLOB_FIELD_NUMBER: _ClassVar[int]
    blob: Blob
    def __init__(self, blob: _Optional[_Union[Blob, _Mapping]] = ...) -> None: ...

class ReadBlobRequest(_message.Message):
    __slots__ = ("blob_id", "offset", "length")
    BLOB_ID_FIELD_NUMBER: _ClassVar[int]
    OFFSET_FIELD_NUMBER: _ClassVar[int]
    LENGTH_FIELD_NUMBER: _ClassVar[int]
    blob_id: str
    offset: int
    length: int
    def __init__(self, blob_id: _Optional[str] = ..., offset: _Optional[int] = ..., length: _Optional[int] = ...) -> None: ...

class ReadBlobResponse(_message.Message):
    __slots__ = ("chunk",)
    CHUNK_FIELD_NUMBER: _ClassVar[int]
    chunk: bytes
    def __init__(self, chunk: _Optional[bytes] = ...) -> None: ...

class StatBlobRequest(_message.Message):
    __slots__ = ("blob_id",)
    BLOB_ID_FIELD_NUMBER: _ClassVar[int]
    blob_id: str
    def __init__(self, blob_id: _Optional[str] = ...) -> None: ...

class StatBlobResponse(_message.Message):
    __slots__ = ("blob",)
    BLOB_FIELD_NUMBER: _ClassVar[int]
    blob: Blob
    def __init__(self, blob: _Optional[_Union[Blob, _Mapping]] = ...) -> None: ...

class DeleteBlobRequest(_message.Message):
    __slots__ = ("blob_id",)
    BLOB_ID_FIELD_NUMBER: _ClassVar[int]
    blob_id: str
    def __init__(self, blob_id: _Optional[str] = ...) -> None: ...

class DeleteBlobResponse(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class CreateMediaRequest(_message.Message):
    __slots__ = ("organization_id", "project_id", "kind", "blob_id")
    ORGANIZATION_ID_FIELD_NUMBER: _ClassVar[int]
    PROJECT_ID_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    BLOB_ID_FIELD_NUMBER: _ClassVar[int]
    organization_id: str
    project_id: str
    kind: str
    blob_id: str
    def __init__(self, organization_id: _Optional[str] = ..., project_id: _Optional[str] = ..., kind: _Optional[str] = ..., blob_id: _Optional[str] = ...) -> None: ...

class CreateMediaResponse(_message.Message):
    __slots__ = ("media",)
    MEDIA_FIELD_NUMBER: _ClassVar[int]
    media: MediaItem
    def __init__(self, media: _Optional[_Union[MediaItem, _Mapping]] = ...) -> None: ...

class ImportMediaRequest(_message.Message):
    __slots__ = ("organization_id", "project_id", "kind", "url")
    ORGANIZATION_ID_FIELD_NUMBER: _ClassVar[int]
    PROJECT_ID_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    URL_FIELD_NUMBER: _ClassVar[int]
    organization_id: str
    project_id: str
    kind: str
    url: str
    def __init__(self, organization_id: _Optional[str] = ..., project_id: _Optional[str] = ..., kind: _Optional[str] = ..., url: _Optional[str] = ...) -> None: ...

class ImportMediaResponse(_message.Message):
    __slots__ = ("media",)
    MEDIA_FIELD_NUMBER: _ClassVar[int]
    media: MediaItem
    def __init__(self, media: _Optional[_Union[MediaItem, _Mapping]] = ...) -> None: ...

class GetMediaRequest(_message.Message):
    __slots__ = ("organization_id", "project_id", "media_id")
    ORGANIZATION_ID_FIELD_NUMBER: _ClassVar[int]
    PROJECT_ID_FIELD_NUMBER: _ClassVar[int]
    MEDIA_ID_FIELD_NUMBER: _ClassVar[int]
    organization_id: str
    project_id: str
    media_id: str
    def __init__(self, organization_id: _Optional[str] = ..., project_id: _Optional[str] = ..., media_id: _Optional[str] = ...) -> None: ...

class GetMediaResponse(_message.Message):
    __slots__ = ("media",)
    MEDIA_FIELD_NUMBER: _ClassVar[int]
    media: MediaItem
    def __init__(self, media: _Optional[_Union[MediaItem, _Mapping]] = ...) -> None: ...

class ListMediaRequest(_message.Message):
    __slots__ = ("organization_id", "project_id", "media_role", "page_size", "page_token")
    ORGANIZATION_ID_FIELD_NUMBER: _ClassVar[int]
    PROJECT_ID_FIELD_NUMBER: _ClassVar[int]
    MEDIA_ROLE_FIELD_NUMBER: _ClassVar[int]
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    organization_id: str
    project_id: str
    media_role: str
    page_size: int
    page_token: str
    def __init__(self, organization_id: _Optional[str] = ..., project_id: _Optional[str] = ..., media_role: _Optional[str] = ..., page_size: _Optional[int] = ..., page_token: _Optional[str] = ...) -> None: ...

class ListMediaResponse(_message.Message):
    __slots__ = ("media", "next_page_token")
    MEDIA_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    media: _containers.RepeatedCompositeFieldContainer[MediaItem]
    next_page_token: str
    def __init__(self, media: _Optional[_Iterable[_Union[MediaItem, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class CreateReactionTemplateRequest(_message.Message):
    __slots__ = ("name", "blob_id", "face_box")
    NAME_FIELD_NUMBER: _ClassVar[int]
    BLOB_ID_FIELD_NUMBER: _ClassVar[int]
    FACE_BOX_FIELD_NUMBER: _ClassVar[int]
    name: str
    blob_id: str
    face_box: FaceBox
    def __init__(self, name: _Optional[str] = ..., blob_id: _Optional[str] = ..., face_box: _Optional[_Union[FaceBox, _Mapping]] = ...) -> None: ...

class CreateReactionTemplateResponse(_message.Message):
    __slots__ = ("reaction_template",)
    REACTION_TEMPLATE_FIELD_NUMBER: _ClassVar[int]
    reaction_template: ReactionTemplate
    def __init__(self, reaction_template: _Optional[_Union[ReactionTemplate, _Mapping]] = ...) -> None: ...

class GetReactionTemplateRequest(_message.Message):
    __slots__ = ("reaction_template_id",)
    REACTION_TEMPLATE_ID_FIELD_NUMBER: _ClassVar[int]
    reaction_template_id: str
    def __init__(self, reaction_template_id: _Optional[str] = ...) -> None: ...

class GetReactionTemplateResponse(_message.Message):
    __slots__ = ("reaction_template",)
    REACTION_TEMPLATE_FIELD_NUMBER: _ClassVar[int]
    reaction_template: ReactionTemplate
    def __init__(self, reaction_template: _Optional[_Union[ReactionTemplate, _Mapping]] = ...) -> None: ...

class PickReactionTemplateRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class PickReactionTemplateResponse(_message.Message):
    __slots__ = ("reaction_template",)
    REACTION_TEMPLATE_FIELD_NUMBER: _ClassVar[int]
    reaction_template: ReactionTemplate
    def __init__(self, reaction_template: _Optional[_Union[ReactionTemplate, _Mapping]] = ...) -> None: ...

class CreateMusicTrackRequest(_message.Message):
    __slots__ = ("title", "blob_id")
    TITLE_FIELD_NUMBER: _ClassVar[int]
    BLOB_ID_FIELD_NUMBER: _ClassVar[int]
    title: str
    blob_id: str
    def __init__(self, title: _Optional[str] = ..., blob_id: _Optional[str] = ...) -> None: ...

class CreateMusicTrackResponse(_message.Message):
    __slots__ = ("music_track",)
    MUSIC_TRACK_FIELD_NUMBER: _ClassVar[int]
    music_track: MusicTrack
    def __init__(self, music_track: _Optional[_Union[MusicTrack, _Mapping]] = ...) -> None: ...

class GetMusicTrackRequest(_message.Message):
    __slots__ = ("music_track_id",)
    MUSIC_TRACK_ID_FIELD_NUMBER: _ClassVar[int]
    music_track_id: str
    def __init__(self, music_track_id: _Optional[str] = ...) -> None: ...

class GetMusicTrackResponse(_message.Message):
    __slots__ = ("music_track",)
    MUSIC_TRACK_FIELD_NUMBER: _ClassVar[int]
    music_track: MusicTrack
    def __init__(self, music_track: _Optional[_Union[MusicTrack, _Mapping]] = ...) -> None: ...

class PickMusicTrackRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class PickMusicTrackResponse(_message.Message):
    __slots__ = ("music_track",)
    MUSIC_TRACK_FIELD_NUMBER: _ClassVar[int]
    music_track: MusicTrack
    def __init__(self, music_track: _Optional[_Union[MusicTrack, _Mapping]] = ...) -> None: ...

class PickRenderInputsRequest(_message.Message):
    __slots__ = ("organization_id", "project_id", "media_id", "draws")
    ORGANIZATION_ID_FIELD_NUMBER: _ClassVar[int]
    PROJECT_ID_FIELD_NUMBER: _ClassVar[int]
    MEDIA_ID_FIELD_NUMBER: _ClassVar[int]
    DRAWS_FIELD_NUMBER: _ClassVar[int]
    organization_id: str
    project_id: str
    media_id: str
    draws: int
    def __init__(self, organization_id: _Optional[str] = ..., project_id: _Optional[str] = ..., media_id: _Optional[str] = ..., draws: _Optional[int] = ...) -> None: ...

class RenderDraw(_message.Message):
    __slots__ = ("reaction_template_id", "music_track_id")
    REACTION_TEMPLATE_ID_FIELD_NUMBER: _ClassVar[int]
    MUSIC_TRACK_ID_FIELD_NUMBER: _ClassVar[int]
    reaction_template_id: str
    music_track_id: str
    def __init__(self, reaction_template_id: _Optional[str] = ..., music_track_id: _Optional[str] = ...) -> None: ...

class PickRenderInputsResponse(_message.Message):
    __slots__ = ("app_demo_media_id", "reaction_template_id", "music_track_id", "app_demo_problem", "further_draws", "further_draws_valid_ms")
    APP_DEMO_MEDIA_ID_FIELD_NUMBER: _ClassVar[int]
    REACTION_TEMPLATE_ID_FIELD_NUMBER: _ClassVar[int]
    MUSIC_TRACK_ID_FIELD_NUMBER: _ClassVar[int]
    APP_DEMO_PROBLEM_FIELD_NUMBER: _ClassVar[int]
    FURTHER_DRAWS_FIELD_NUMBER: _ClassVar[int]
    FURTHER_DRAWS_VALID_MS_FIELD_NUMBER: _ClassVar[int]
    app_demo_media_id: str
    reaction_template_id: str
    music_track_id: str
    app_demo_problem: AppDemoProblem
    further_draws: _containers.RepeatedCompositeFieldContainer[RenderDraw]
    further_draws_valid_ms: int
    def __init__(self, app_demo_media_id: _Optional[str] = ..., reaction_template_id: _Optional[str] = ..., music_track_id: _Optional[str] = ..., app_demo_problem: _Optional[_Union[AppDemoProblem, str]] = ..., further_draws: _Optional[_Iterable[_Union[RenderDraw, _Mapping]]] = ..., further_draws_valid_ms: _Optional[int] = ...) -> None: ...
