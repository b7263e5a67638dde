from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from typing import ClassVar as _ClassVar, Optional as _Optional

DESCRIPTOR: _descriptor.FileDescriptor

class RenderJob(_message.Message):
    __slots__ = ("job_id", "container_id", "organization_id", "project_id", "media_id", "reaction_template_id", "music_track_id", "hook", "language", "voice")
    JOB_ID_FIELD_NUMBER: _ClassVar[int]
    CONTAINER_ID_FIELD_NUMBER: _ClassVar[int]
    ORGANIZATION_ID_FIELD_NUMBER: _ClassVar[int]
    PROJECT_ID_FIELD_NUMBER: _ClassVar[int]
    MEDIA_ID_FIELD_NUMBER: _ClassVar[int]
    REACTION_TEMPLATE_ID_FIELD_NUMBER: _ClassVar[int]
    MUSIC_TRACK_ID_FIELD_NUMBER: _ClassVar[int]
    HOOK_FIELD_NUMBER: _ClassVar[int]
    LANGUAGE_FIELD_NUMBER: _ClassVar[int]
    VOICE_FIELD_NUMBER: _ClassVar[int]
    job_id: str
    container_id: str
    organization_id: str
    project_id: str
    media_id: str
    reaction_template_id: str
    music_track_id: str
    hook: str
    language: str
    voice: str
    def __init__(self, job_id: _Optional[str] = ..., container_id: _Optional[str] = ..., organization_id: _Optional[str] = ..., project_id: _Optional[str] = ..., media_id: _Optional[str] = ..., reaction_template_id: _Optional[str] = ..., music_track_id: _Optional[str] = ..., hook: _Optional[str] = ..., language: _Optional[str] = ..., voice: _Optional[str] = ...) -> None: ...
