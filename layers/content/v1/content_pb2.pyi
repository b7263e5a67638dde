import datetime

from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class JobStatus(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    JOB_STATUS_UNSPECIFIED: _ClassVar[JobStatus]
    JOB_STATUS_RUNNING: _ClassVar[JobStatus]
    JOB_STATUS_COMPLETED: _ClassVar[JobStatus]
    JOB_STATUS_FAILED: _ClassVar[JobStatus]
    JOB_STATUS_CANCELED: _ClassVar[JobStatus]

class JobStage(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    JOB_STAGE_UNSPECIFIED: _ClassVar[JobStage]
    JOB_STAGE_QUEUED: _ClassVar[JobStage]
    JOB_STAGE_FETCHING_INPUTS: _ClassVar[JobStage]
    JOB_STAGE_COMPOSITING: _ClassVar[JobStage]
    JOB_STAGE_UPLOADING: _ClassVar[JobStage]

class ContainerStatus(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    CONTAINER_STATUS_UNSPECIFIED: _ClassVar[ContainerStatus]
    CONTAINER_STATUS_QUEUED: _ClassVar[ContainerStatus]
    CONTAINER_STATUS_PROCESSING: _ClassVar[ContainerStatus]
    CONTAINER_STATUS_COMPLETED: _ClassVar[ContainerStatus]
    CONTAINER_STATUS_FAILED: _ClassVar[ContainerStatus]
    CONTAINER_STATUS_CANCELED: _ClassVar[ContainerStatus]
JOB_STATUS_UNSPECIFIED: JobStatus
JOB_STATUS_RUNNING: JobStatus
JOB_STATUS_COMPLETED: JobStatus
JOB_STATUS_FAILED: JobStatus
JOB_STATUS_CANCELED: JobStatus
JOB_STAGE_UNSPECIFIED: JobStage
JOB_STAGE_QUEUED: JobStage
JOB_STAGE_FETCHING_INPUTS: JobStage
JOB_STAGE_COMPOSITING: JobStage
JOB_STAGE_UPLOADING: JobStage
CONTAINER_STATUS_UNSPECIFIED: ContainerStatus
CONTAINER_STATUS_QUEUED: ContainerStatus
CONTAINER_STATUS_PROCESSING: ContainerStatus
CONTAINER_STATUS_COMPLETED: ContainerStatus
CONTAINER_STATUS_FAILED: ContainerStatus
CONTAINER_STATUS_CANCELED: ContainerStatus

class Asset(_message.Message):
    __slots__ = ("asset_id", "kind", "blob_id", "thumbnail_blob_id", "duration_ms", "width", "height", "mime_type", "size_bytes", "checksum_sha256")
    ASSET_ID_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    BLOB_ID_FIELD_NUMBER: _ClassVar[int]
    THUMBNAIL_BLOB_ID_FIELD_NUMBER: _ClassVar[int]
    DURATION_MS_FIELD_NUMBER: _ClassVar[int]
    WIDTH_FIELD_NUMBER: _ClassVar[int]
    HEIGHT_FIELD_NUMBER: _ClassVar[int]
    MIME_TYPE_FIELD_NUMBER: _ClassVar[int]
    SIZE_BYTES_FIELD_NUMBER: _ClassVar[int]
    CHECKSUM_SHA256_FIELD_NUMBER: _ClassVar[int]
    asset_id: str
    kind: str
    blob_id: str
    thumbnail_blob_id: str
    duration_ms: int
    width: int
    height: int
    mime_type: str
    size_bytes: int
    checksum_sha256: str
    def __init__(self, asset_id: _Optional[str] = ..., kind: _Optional[str] = ..., blob_id: _Optional[str] = ..., thumbnail_blob_id: _Optional[str] = ..., duration_ms: _Optional[int] = ..., width: _Optional[int] = ..., height: _Optional[int] = ..., mime_type: _Optional[str] = ..., size_bytes: _Optional[int] = ..., checksum_sha256: _Optional[str] = ...) -> None: ...

class JobError(_message.Message):
    __slots__ = ("code", "message")
    CODE_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    code: str
    message: str
    def __init__(self, code: _Optional[str] = ..., message: _Optional[str] = ...) -> None: ...

class Job(_message.Message):
    __slots__ = ("job_id", "kind", "status", "stage", "progress", "organization_id", "project_id", "container_ids", "started_at", "finished_at", "assets", "error", "stage_progress", "eta_seconds", "updated_at")
    JOB_ID_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    STAGE_FIELD_NUMBER: _ClassVar[int]
    PROGRESS_FIELD_NUMBER: _ClassVar[int]
    ORGANIZATION_ID_FIELD_NUMBER: _ClassVar[int]
    PROJECT_ID_FIELD_NUMBER: _ClassVar[int]
    CONTAINER_IDS_FIELD_NUMBER: _ClassVar[int]
    STARTED_AT_FIELD_NUMBER: _ClassVar[int]
    FINISHED_AT_FIELD_NUMBER: _ClassVar[int]
    ASSETS_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    STAGE_PROGRESS_FIELD_NUMBER: _ClassVar[int]
    ETA_SECONDS_FIELD_NUMBER: _ClassVar[int]
    UPDATED_AT_FIELD_NUMBER: _ClassVar[int]
    job_id: str
    kind: str
    status: JobStatus
    stage: JobStage
    progress: float
    organization_id: str
    project_id: str
    container_ids: _containers.RepeatedScalarFieldContainer[str]
    started_at: _timestamp_pb2.Timestamp
    finished_at: _timestamp_pb2.Timestamp
    assets: _containers.RepeatedCompositeFieldContainer[Asset]
    error: JobError
    stage_progress: float
    eta_seconds: int
    updated_at: _timestamp_pb2.Timestamp
    def __init__(self, job_id: _Optional[str] = ..., kind: _Optional[str] = ..., status: _Optional[_Union[JobStatus, str]] = ..., stage: _Optional[_Union[JobStage, str]] = ..., progress: _Optional[float] = ..., organization_id: _Optional[str] = ..., project_id: _Optional[str] = ..., container_ids: _Optional[_Iterable[str]] = ..., started_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., finished_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., assets: _Optional[_Iterable[_Union[Asset, _Mapping]]] = ..., error: _Optional[_Union[JobError, _Mapping]] = ..., stage_progress: _Optional[float] = ..., eta_seconds: _Optional[int] = ..., updated_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class Container(_message.Message):
    __slots__ = ("container_id", "organization_id", "project_id", "status", "format", "hook", "influencer_id", "social_account_id", "layer_id", "media_id", "reaction_template_id", "music_track_id", "language", "voice", "assets", "created_at", "completed_at", "failed_at", "last_error", "job_id")
    CONTAINER_ID_FIELD_NUMBER: _ClassVar[int]
    ORGANIZATION_ID_FIELD_NUMBER: _ClassVar[int]
    PROJECT_ID_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    FORMAT_FIELD_NUMBER: _ClassVar[int]
    HOOK_FIELD_NUMBER: _ClassVar[int]
    INFLUENCER_ID_FIELD_NUMBER: _ClassVar[int]
    SOCIAL_ACCOUNT_ID_FIELD_NUMBER: _ClassVar[int]
    LAYER_ID_FIELD_NUMBER: _ClassVar[int]
    MEDIA_ID_FIELD_NUMBER: _ClassVar[int]
    REACTION_TEMPLATE_ID_FIELD_NUMBER: _ClassVar[int]
    MUSIC_TRACK_ID_FIELD_NUMBER: _ClassVar[int]
    LANGUAGE_FIELD_NUMBER: _ClassVar[int]
    VOICE_FIELD_NUMBER: _ClassVar[int]
    ASSETS_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_FIELD_NUMBER: _ClassVar[int]
    COMPLETED_AT_FIELD_NUMBER: _ClassVar[int]
    FAILED_AT_FIELD_NUMBER: _ClassVar[int]
    LAST_ERROR_FIELD_NUMBER: _ClassVar[int]
    JOB_ID_FIELD_NUMBER: _ClassVar[int]
    container_id: str
    organization_id: str
    project_id: str
    status: ContainerStatus
    format: str
    hook: str
    influencer_id: str
    social_account_id: str
    layer_id: str
    media_id: str
    reaction_template_id: str
    music_track_id: str
    language: str
    voice: str
    assets: _containers.RepeatedCompositeFieldContainer[Asset]
    created_at: _timestamp_pb2.Timestamp
    completed_at: _timestamp_pb2.Timestamp
    failed_at: _timestamp_pb2.Timestamp
    last_error: JobError
    job_id: str
    def __init__(self, container_id: _Optional[str] = ..., organization_id: _Optional[str] = ..., project_id: _Optional[str] = ..., status: _Optional[_Union[ContainerStatus, str]] = ..., format: _Optional[str] = ..., hook: _Optional[str] = ..., influencer_id: _Optional[str] = ..., social_account_id: _Optional[str] = ..., layer_id: _Optional[str] = ..., media_id: _Optional[str] = ..., reaction_template_id: _Optional[str] = ..., music_track_id: _Optional[str] = ..., language: _Optional[str] = ..., voice: _Optional[str] = ..., assets: _Optional[_Iterable[_Union[Asset, _Mapping]]] = ..., created_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., completed_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., failed_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., last_error: _Optional[_Union[JobError, _Mapping]] = ..., job_id: _Optional[str] = ...) -> None: ...

class CreateUgcRemixRequest(_message.Message):
    __slots__ = ("organization_id", "project_id", "social_account_id", "influencer_id", "hook", "media_id", "idempotency_key", "request_fingerprint", "request_id", "api_key_id")
    ORGANIZATION_ID_FIELD_NUMBER: _ClassVar[int]
    PROJECT_ID_FIELD_NUMBER: _ClassVar[int]
    SOCIAL_ACCOUNT_ID_FIELD_NUMBER: _ClassVar[int]
    INFLUENCER_ID_FIELD_NUMBER: _ClassVar[int]
    HOOK_FIELD_NUMBER: _ClassVar[int]
    MEDIA_ID_FIELD_NUMBER: _ClassVar[int]
    IDEMPOTENCY_KEY_FIELD_NUMBER: _ClassVar[int]
    REQUEST_FINGERPRINT_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    API_KEY_ID_FIELD_NUMBER: _ClassVar[int]
    organization_id: str
    project_id: str
    social_account_id: str
    influencer_id: str
    hook: str
    media_id: str
    idempotency_key: str
    request_fingerprint: str
    request_id: str
    api_key_id: str
    def __init__(self, organization_id: _Optional[str] = ..., project_id: _Optional[str] = ..., social_account_id: _Optional[str] = ..., influencer_id: _Optional[str] = ..., hook: _Optional[str] = ..., media_id: _Optional[str] = ..., idempotency_key: _Optional[str] = ..., request_fingerprint: _Optional[str] = ..., request_id: _Optional[str] = ..., api_key_id: _Optional[str] = ...) -> None: ...

class CreateUgcRemixResponse(_message.Message):
    __slots__ = ("job", "replayed")
    JOB_FIELD_NUMBER: _ClassVar[int]
    REPLAYED_FIELD_NUMBER: _ClassVar[int]
    job: Job
    replayed: bool
    def __init__(self, job: _Optional[_Union[Job, _Mapping]] = ..., replayed: _Optional[bool] = ...) -> None: ...

class GetJobRequest(_message.Message):
    __slots__ = ("organization_id", "job_id", "fresh")
    ORGANIZATION_ID_FIELD_NUMBER: _ClassVar[int]
    JOB_ID_FIELD_NUMBER: _ClassVar[int]
    FRESH_FIELD_NUMBER: _ClassVar[int]
    organization_id: str
    job_id: str
    fresh: bool
    def __init__(self, organization_id: _Optional[str] = ..., job_id: _Optional[str] = ..., fresh: _Optional[bool] = ...) -> None: ...

class GetJobResponse(_message.Message):
    __slots__ = ("job",)
    JOB_FIELD_NUMBER: _ClassVar[int]
    job: Job
    def __init__(self, job: _Optional[_Union[Job, _Mapping]] = ...) -> None: ...

class CancelJobRequest(_message.Message):
    __slots__ = ("organization_id", "job_id")
    ORGANIZATION_ID_FIELD_NUMBER: _ClassVar[int]
    JOB_ID_FIELD_NUMBER: _ClassVar[int]
    organization_id: str
    job_id: str
    def __init__(self, organization_id: _Optional[str] = ..., job_id: _Optional[str] = ...) -> None: ...

class CancelJobResponse(_message.Message):
    __slots__ = ("accepted", "reason", "job")
    ACCEPTED_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    JOB_FIELD_NUMBER: _ClassVar[int]
    accepted: bool
    reason: str
    job: Job
    def __init__(self, accepted: _Optional[bool] = ..., reason: _Optional[str] = ..., job: _Optional[_Union[Job, _Mapping]] = ...) -> None: ...

class GetContainerRequest(_message.Message):
    __slots__ = ("organization_id", "container_id")
    ORGANIZATION_ID_FIELD_NUMBER: _ClassVar[int]
    CONTAINER_ID_FIELD_NUMBER: _ClassVar[int]
    organization_id: str
    container_id: str
    def __init__(self, organization_id: _Optional[str] = ..., container_id: _Optional[str] = ...) -> None: ...

class GetContainerResponse(_message.Message):
    __slots__ = ("container", "job")
    CONTAINER_FIELD_NUMBER: _ClassVar[int]
    JOB_FIELD_NUMBER: _ClassVar[int]
    container: Container
    job: Job
    def __init__(self, container: _Optional[_Union[Container, _Mapping]] = ..., job: _Optional[_Union[Job, _Mapping]] = ...) -> None: ...

class StartRenderRequest(_message.Message):
    __slots__ = ("job_id",)
    JOB_ID_FIELD_NUMBER: _ClassVar[int]
    job_id: str
    def __init__(self, job_id: _Optional[str] = ...) -> None: ...

class StartRenderResponse(_message.Message):
    __slots__ = ("proceed", "job")
    PROCEED_FIELD_NUMBER: _ClassVar[int]
    JOB_FIELD_NUMBER: _ClassVar[int]
    proceed: bool
    job: Job
    def __init__(self, proceed: _Optional[bool] = ..., job: _Optional[_Union[Job, _Mapping]] = ...) -> None: ...

class ReportRenderProgressRequest(_message.Message):
    __slots__ = ("job_id", "stage", "stage_progress", "eta_seconds")
    JOB_ID_FIELD_NUMBER: _ClassVar[int]
    STAGE_FIELD_NUMBER: _ClassVar[int]
    STAGE_PROGRESS_FIELD_NUMBER: _ClassVar[int]
    ETA_SECONDS_FIELD_NUMBER: _ClassVar[int]
    job_id: str
    stage: JobStage
    stage_progress: float
    eta_seconds: int
    def __init__(self, job_id: _Optional[str] = ..., stage: _Optional[_Union[JobStage, str]] = ..., stage_progress: _Optional[float] = ..., eta_seconds: _Optional[int] = ...) -> None: ...

class ReportRenderProgressResponse(_message.Message):
    __slots__ = ("canceled",)
    CANCELED_FIELD_NUMBER: _ClassVar[int]
    canceled: bool
    def __init__(self, canceled: _Optional[bool] = ...) -> None: ...

class CompleteRenderRequest(_message.Message):
    __slots__ = ("job_id", "assets")
    JOB_ID_FIELD_NUMBER: _ClassVar[int]
    ASSETS_FIELD_NUMBER: _ClassVar[int]
    job_id: str
    assets: _containers.RepeatedCompositeFieldContainer[Asset]
    def __init__(self, job_id: _Optional[str] = ..., assets: _Optional[_Iterable[_Union[Asset, _Mapping]]] = ...) -> None: ...

class CompleteRenderResponse(_message.Message):
    __slots__ = ("job", "recorded")
    JOB_FIELD_NUMBER: _ClassVar[int]
    RECORDED_FIELD_NUMBER: _ClassVar[int]
    job: Job
    recorded: bool
    def __init__(self, job: _Optional[_Union[Job, _Mapping]] = ..., recorded: _Optional[bool] = ...) -> None: ...

class FailRenderRequest(_message.Message):
    __slots__ = ("job_id", "error")
    JOB_ID_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    job_id: str
    error: JobError
    def __init__(self, job_id: _Optional[str] = ..., error: _Optional[_Union[JobError, _Mapping]] = ...) -> None: ...

class FailRenderResponse(_message.Message):
    __slots__ = ("job",)
    JOB_FIELD_NUMBER: _ClassVar[int]
    job: Job
    def __init__(self, job: _Optional[_Union[Job, _Mapping]] = ...) -> None: ...

class AuthenticateApiKeyRequest(_message.Message):
    __slots__ = ("api_key",)
    API_KEY_FIELD_NUMBER: _ClassVar[int]
    api_key: str
    def __init__(self, api_key: _Optional[str] = ...) -> None: ...

class AuthenticateApiKeyResponse(_message.Message):
    __slots__ = ("organization_id", "key_id", "scopes")
    ORGANIZATION_ID_FIELD_NUMBER: _ClassVar[int]
    KEY_ID_FIELD_NUMBER: _ClassVar[int]
    SCOPES_FIELD_NUMBER: _ClassVar[int]
    organization_id: str
    key_id: str
    scopes: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, organization_id: _Optional[str] = ..., key_id: _Optional[str] = ..., scopes: _Optional[_Iterable[str]] = ...) -> None: ...

class Organization(_message.Message):
    __slots__ = ("organization_id", "name")
    ORGANIZATION_ID_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    organization_id: str
    name: str
    def __init__(self, organization_id: _Optional[str] = ..., name: _Optional[str] = ...) -> None: ...

class CreateOrganizationRequest(_message.Message):
    __slots__ = ("name",)
    NAME_FIELD_NUMBER: _ClassVar[int]
    name: str
    def __init__(self, name: _Optional[str] = ...) -> None: ...

class CreateOrganizationResponse(_message.Message):
    __slots__ = ("organization",)
    ORGANIZATION_FIELD_NUMBER: _ClassVar[int]
    organization: Organization
    def __init__(self, organization: _Optional[_Union[Organization, _Mapping]] = ...) -> None: ...

class Project(_message.Message):
    __slots__ = ("project_id", "organization_id", "name")
    PROJECT_ID_FIELD_NUMBER: _ClassVar[int]
    ORGANIZATION_ID_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    project_id: str
    organization_id: str
    name: str
    def __init__(self, project_id: _Optional[str] = ..., organization_id: _Optional[str] = ..., name: _Optional[str] = ...) -> None: ...

class CreateProjectRequest(_message.Message):
    __slots__ = ("organization_id", "name")
    ORGANIZATION_ID_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    organization_id: str
    name: str
    def __init__(self, organization_id: _Optional[str] = ..., name: _Optional[str] = ...) -> None: ...

class CreateProjectResponse(_message.Message):
    __slots__ = ("project",)
    PROJECT_FIELD_NUMBER: _ClassVar[int]
    project: Project
    def __init__(self, project: _Optional[_Union[Project, _Mapping]] = ...) -> None: ...

class GetProjectRequest(_message.Message):
    __slots__ = ("organization_id", "project_id")
    ORGANIZATION_ID_FIELD_NUMBER: _ClassVar[int]
    PROJECT_ID_FIELD_NUMBER: _ClassVar[int]
    organization_id: str
    project_id: str
    def __init__(self, organization_id: _Optional[str] = ..., project_id: _Optional[str] = ...) -> None: ...

class GetProjectResponse(_message.Message):
    __slots__ = ("project",)
    PROJECT_FIELD_NUMBER: _ClassVar[int]
    project: Project
    def __init__(self, project: _Optional[_Union[Project, _Mapping]] = ...) -> None: ...

class LookupProjectRequest(_message.Message):
    __slots__ = ("project_id",)
    PROJECT_ID_FIELD_NUMBER: _ClassVar[int]
    project_id: str
    def __init__(self, project_id: _Optional[str] = ...) -> None: ...

class LookupProjectResponse(_message.Message):
    __slots__ = ("project",)
    PROJECT_FIELD_NUMBER: _ClassVar[int]
    project: Project
    def __init__(self, project: _Optional[_Union[Project, _Mapping]] = ...) -> None: ...

class CreateApiKeyRequest(_message.Message):
    __slots__ = ("organization_id", "scopes", "test_mode")
    ORGANIZATION_ID_FIELD_NUMBER: _ClassVar[int]
    SCOPES_FIELD_NUMBER: _ClassVar[int]
    TEST_MODE_FIELD_NUMBER: _ClassVar[int]
    organization_id: str
    scopes: _containers.RepeatedScalarFieldContainer[str]
    test_mode: bool
    def __init__(self, organization_id: _Optional[str] = ..., scopes: _Optional[_Iterable[str]] = ..., test_mode: _Optional[bool] = ...) -> None: ...

class CreateApiKeyResponse(_message.Message):
    __slots__ = ("key_id", "api_key")
    KEY_ID_FIELD_NUMBER: _ClassVar[int]
    API_KEY_FIELD_NUMBER: _ClassVar[int]
    key_id: str
    api_key: str
    def __init__(self, key_id: _Optional[str] = ..., api_key: _Optional[str] = ...) -> None: ...

class RevokeApiKeyRequest(_message.Message):
    __slots__ = ("key_id",)
    KEY_ID_FIELD_NUMBER: _ClassVar[int]
    key_id: str
    def __init__(self, key_id: _Optional[str] = ...) -> None: ...

class RevokeApiKeyResponse(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class RecountRunningJobsRequest(_message.Message):
    __slots__ = ("key_id",)
    KEY_ID_FIELD_NUMBER: _ClassVar[int]
    key_id: str
    def __init__(self, key_id: _Optional[str] = ...) -> None: ...

class RunningJobsCorrection(_message.Message):
    __slots__ = ("key_id", "counted", "running")
    KEY_ID_FIELD_NUMBER: _ClassVar[int]
    COUNTED_FIELD_NUMBER: _ClassVar[int]
    RUNNING_FIELD_NUMBER: _ClassVar[int]
    key_id: str
    counted: int
    running: int
    def __init__(self, key_id: _Optional[str] = ..., counted: _Optional[int] = ..., running: _Optional[int] = ...) -> None: ...

class RecountRunningJobsResponse(_message.Message):
    __slots__ = ("keys_checked", "corrections")
    KEYS_CHECKED_FIELD_NUMBER: _ClassVar[int]
    CORRECTIONS_FIELD_NUMBER: _ClassVar[int]
    keys_checked: int
    corrections: _containers.RepeatedCompositeFieldContainer[RunningJobsCorrection]
    def __init__(self, keys_checked: _Optional[int] = ..., corrections: _Optional[_Iterable[_Union[RunningJobsCorrection, _Mapping]]] = ...) -> None: ...

class Influencer(_message.Message):
    __slots__ = ("influencer_id", "project_id", "name", "voice", "language", "created_at")
    INFLUENCER_ID_FIELD_NUMBER: _ClassVar[int]
    PROJECT_ID_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    VOICE_FIELD_NUMBER: _ClassVar[int]
    LANGUAGE_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_FIELD_NUMBER: _ClassVar[int]
    influencer_id: str
    project_id: str
    name: str
    voice: str
    language: str
    created_at: _timestamp_pb2.Timestamp
    def __init__(self, influencer_id: _Optional[str] = ..., project_id: _Optional[str] = ..., name: _Optional[str] = ..., voice: _Optional[str] = ..., language: _Optional[str] = ..., created_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class CreateInfluencerRequest(_message.Message):
    __slots__ = ("project_id", "name", "voice", "language")
    PROJECT_ID_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    VOICE_FIELD_NUMBER: _ClassVar[int]
    LANGUAGE_FIELD_NUMBER: _ClassVar[int]
    project_id: str
    name: str
    voice: str
    language: str
    def __init__(self, project_id: _Optional[str] = ..., name: _Optional[str] = ..., voice: _Optional[str] = ..., language: _Optional[str] = ...) -> None: ...

class CreateInfluencerResponse(_message.Message):
    __slots__ = ("influencer",)
    INFLUENCER_FIELD_NUMBER: _ClassVar[int]
    influencer: Influencer
    def __init__(self, influencer: _Optional[_Union[Influencer, _Mapping]] = ...) -> None: ...

class ListInfluencersRequest(_message.Message):
    __slots__ = ("organization_id", "project_id", "page_size", "page_token")
    ORGANIZATION_ID_FIELD_NUMBER: _ClassVar[int]
    PROJECT_ID_FIELD_NUMBER: _ClassVar[int]
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    organization_id: str
    project_id: str
    page_size: int
    page_token: str
    def __init__(self, organization_id: _Optional[str] = ..., project_id: _Optional[str] = ..., page_size: _Optional[int] = ..., page_token: _Optional[str] = ...) -> None: ...

class ListInfluencersResponse(_message.Message):
    __slots__ = ("influencers", "next_page_token")
    INFLUENCERS_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    influencers: _containers.RepeatedCompositeFieldContainer[Influencer]
    next_page_token: str
    def __init__(self, influencers: _Optional[_Iterable[_Union[Influencer, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class Layer(_message.Message):
    __slots__ = ("layer_id", "project_id", "kind", "name", "influencer_id")
    LAYER_ID_FIELD_NUMBER: _ClassVar[int]
    PROJECT_ID_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    INFLUENCER_ID_FIELD_NUMBER: _ClassVar[int]
    layer_id: str
    project_id: str
    kind: str
    name: str
    influencer_id: str
    def __init__(self, layer_id: _Optional[str] = ..., project_id: _Optional[str] = ..., kind: _Optional[str] = ..., name: _Optional[str] = ..., influencer_id: _Optional[str] = ...) -> None: ...

class CreateLayerRequest(_message.Message):
    __slots__ = ("project_id", "kind", "name", "influencer_id")
    PROJECT_ID_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    INFLUENCER_ID_FIELD_NUMBER: _ClassVar[int]
    project_id: str
    kind: str
    name: str
    influencer_id: str
    def __init__(self, project_id: _Optional[str] = ..., kind: _Optional[str] = ..., name: _Optional[str] = ..., influencer_id: _Optional[str] = ...) -> None: ...

class CreateLayerResponse(_message.Message):
    __slots__ = ("layer",)
    LAYER_FIELD_NUMBER: _ClassVar[int]
    layer: Layer
    def __init__(self, layer: _Optional[_Union[Layer, _Mapping]] = ...) -> None: ...

class SocialAccount(_message.Message):
    __slots__ = ("social_account_id", "project_id", "platform", "handle", "layer_ids", "created_at")
    SOCIAL_ACCOUNT_ID_FIELD_NUMBER: _ClassVar[int]
    PROJECT_ID_FIELD_NUMBER: _ClassVar[int]
    PLATFORM_FIELD_NUMBER: _ClassVar[int]
    HANDLE_FIELD_NUMBER: _ClassVar[int]
    LAYER_IDS_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_FIELD_NUMBER: _ClassVar[int]
    social_account_id: str
    project_id: str
    platform: str
    handle: str
    layer_ids: _containers.RepeatedScalarFieldContainer[str]
    created_at: _timestamp_pb2.Timestamp
    def __init__(self, social_account_id: _Optional[str] = ..., project_id: _Optional[str] = ..., platform: _Optional[str] = ..., handle: _Optional[str] = ..., layer_ids: _Optional[_Iterable[str]] = ..., created_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class CreateSocialAccountRequest(_message.Message):
    __slots__ = ("project_id", "platform", "handle")
    PROJECT_ID_FIELD_NUMBER: _ClassVar[int]
    PLATFORM_FIELD_NUMBER: _ClassVar[int]
    HANDLE_FIELD_NUMBER: _ClassVar[int]
    project_id: str
    platform: str
    handle: str
    def __init__(self, project_id: _Optional[str] = ..., platform: _Optional[str] = ..., handle: _Optional[str] = ...) -> None: ...

class CreateSocialAccountResponse(_message.Message):
    __slots__ = ("social_account",)
    SOCIAL_ACCOUNT_FIELD_NUMBER: _ClassVar[int]
    social_account: SocialAccount
    def __init__(self, social_account: _Optional[_Union[SocialAccount, _Mapping]] = ...) -> None: ...

class ListSocialAccountsRequest(_message.Message):
    __slots__ = ("organization_id", "project_id", "platform", "page_size", "page_token")
    ORGANIZATION_ID_FIELD_NUMBER: _ClassVar[int]
    PROJECT_ID_FIELD_NUMBER: _ClassVar[int]
    PLATFORM_FIELD_NUMBER: _ClassVar[int]
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    organization_id: str
    project_id: str
    platform: str
    page_size: int
    page_token: str
    def __init__(self, organization_id: _Optional[str] = ..., project_id: _Optional[str] = ..., platform: _Optional[str] = ..., page_size: _Optional[int] = ..., page_token: _Optional[str] = ...) -> None: ...

class ListSocialAccountsResponse(_message.Message):
    __slots__ = ("social_accounts", "next_page_token")
    SOCIAL_ACCOUNTS_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    social_accounts: _containers.RepeatedCompositeFieldContainer[SocialAccount]
    next_page_token: str
    def __init__(self, social_accounts: _Optional[_Iterable[_Union[SocialAccount, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class WireSocialAccountRequest(_message.Message):
    __slots__ = ("social_account_id", "layer_id")
    SOCIAL_ACCOUNT_ID_FIELD_NUMBER: _ClassVar[int]
    LAYER_ID_FIELD_NUMBER: _ClassVar[int]
    social_account_id: str
    layer_id: str
    def __init__(self, social_account_id: _Optional[str] = ..., layer_id: _Optional[str] = ...) -> None: ...

class WireSocialAccountResponse(_message.Message):
    __slots__ = ("social_account",)
    SOCIAL_ACCOUNT_FIELD_NUMBER: _ClassVar[int]
    social_account: SocialAccount
    def __init__(self, social_account: _Optional[_Union[SocialAccount, _Mapping]] = ...) -> None: ...

class BeginIdempotentRequestRequest(_message.Message):
    __slots__ = ("organization_id", "scope", "idempotency_key", "request_fingerprint")
    ORGANIZATION_ID_FIELD_NUMBER: _ClassVar[int]
    SCOPE_FIELD_NUMBER: _ClassVar[int]
    IDEMPOTENCY_KEY_FIELD_NUMBER: _ClassVar[int]
    REQUEST_FINGERPRINT_FIELD_NUMBER: _ClassVar[int]
    organization_id: str
    scope: str
    idempotency_key: str
    request_fingerprint: str
    def __init__(self, organization_id: _Optional[str] = ..., scope: _Optional[str] = ..., idempotency_key: _Optional[str] = ..., request_fingerprint: _Optional[str] = ...) -> None: ...

class BeginIdempotentRequestResponse(_message.Message):
    __slots__ = ("replay", "status_code", "body")
    REPLAY_FIELD_NUMBER: _ClassVar[int]
    STATUS_CODE_FIELD_NUMBER: _ClassVar[int]
    BODY_FIELD_NUMBER: _ClassVar[int]
    replay: bool
    status_code: int
    body: bytes
    def __init__(self, replay: _Optional[bool] = ..., status_code: _Optional[int] = ..., body: _Optional[bytes] = ...) -> None: ...

class CompleteIdempotentRequestRequest(_message.Message):
    __slots__ = ("organization_id", "scope", "idempotency_key", "status_code", "body")
    ORGANIZATION_ID_FIELD_NUMBER: _ClassVar[int]
    SCOPE_FIELD_NUMBER: _ClassVar[int]
    IDEMPOTENCY_KEY_FIELD_NUMBER: _ClassVar[int]
    STATUS_CODE_FIELD_NUMBER: _ClassVar[int]
    BODY_FIELD_NUMBER: _ClassVar[int]
    organization_id: str
    scope: str
    idempotency_key: str
    status_code: int
    body: bytes
    def __init__(self, organization_id: _Optional[str] = ..., scope: _Optional[str] = ..., idempotency_key: _Optional[str] = ..., status_code: _Optional[int] = ..., body: _Optional[bytes] = ...) -> None: ...

class CompleteIdempotentRequestResponse(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class AbandonIdempotentRequestRequest(_message.Message):
    __slots__ = ("organization_id", "scope", "idempotency_key")
    ORGANIZATION_ID_FIELD_NUMBER: _ClassVar[int]
    SCOPE_FIELD_NUMBER: _ClassVar[int]
    IDEMPOTENCY_KEY_FIELD_NUMBER: _ClassVar[int]
    organization_id: str
    scope: str
    idempotency_key: str
    def __init__(self, organization_id: _Optional[str] = ..., scope: _Optional[str] = ..., idempotency_key: _Optional[str] = ...) -> None: ...

class AbandonIdempotentRequestResponse(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...
