"""Request shapes the gateway checks before anything reaches a service."""

from __future__ import annotations

import json
import re
import uuid
from typing import Annotated, Any, Literal, TypeVar, get_args

from fastapi import Path
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationError, field_validator
from pydantic.alias_generators import to_camel
from pydantic_core import PydanticCustomError

from gateway.errors import FieldProblem, problems_from_errors

BodyT = TypeVar("BodyT", bound=BaseModel)

IDEMPOTENCY_HEADER = "Idempotency-Key"
_IDEMPOTENCY_KEY = re.compile(r"[\x20-\x7e]{1,255}")
_UUID = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")

# Our ids are `<prefix>_<ULID>`. Anything else (a NUL, a slash, a 10 kB string) names nothing of ours and is
# refused here, before it reaches a service or a database.
_ID_CHARS = "[A-Za-z0-9_-]{1,100}"
ID_PATTERN = f"^{_ID_CHARS}$"
_ID = re.compile(_ID_CHARS)
INVALID_ID = "Not a valid id (1-100 letters, digits, '_' or '-')."


def _valid_id(value: str) -> str:
    if not _ID.fullmatch(value):
        raise PydanticCustomError("invalid_id", INVALID_ID)
    return value


Id = Annotated[str, AfterValidator(_valid_id), Field(json_schema_extra={"pattern": ID_PATTERN})]

# Path ids. One that is not an Id fails validation in the path, which the error handler answers with the
# 404 of an unknown id (gateway.errors.path_not_found), the same on every route.
JobId = Annotated[Id, Path(alias="jobId", description="The job (`job_…`).")]
ContainerId = Annotated[Id, Path(alias="containerId", description="The content container (`cnt_…`).")]
AssetId = Annotated[Id, Path(alias="assetId", description="An asset of the container (`ast_…`).")]


class UgcRemixBody(BaseModel):
    """POST /v1/projects/:projectId/content/ugc-remix. Strict: a number is not a string, and an
    unknown field is an error rather than silently ignored (no mass assignment)."""

    model_config = ConfigDict(extra="forbid", strict=True, alias_generator=to_camel, populate_by_name=False)

    social_account_id: Id | None = None
    influencer_id: Id | None = None
    # Counted in code points (Python len) and kept byte-exact: no stripping, no normalisation.
    hook: Annotated[str, Field(min_length=1, max_length=2000)] | None = None
    media_id: Id | None = None

    @field_validator("*")
    @classmethod
    def _encodable(cls, value: Any) -> Any:
        # JSON allows lone surrogates ("\ud800") that UTF-8, and so protobuf, cannot carry.
        if isinstance(value, str):
            try:
                value.encode("utf-8")
            except UnicodeEncodeError as exc:
                raise ValueError("must be valid Unicode text (no lone surrogates)") from exc
        return value

    def canonical(self) -> dict[str, str]:
        """The body as sent, minus nulls: what the idempotency fingerprint is taken over."""
        return self.model_dump(by_alias=True, exclude_none=True)


MediaKind = Literal["demo-video", "logo", "screenshot", "end-card"]
MediaRole = Literal["app-demo", "logo", "screenshot", "end-card"]
Platform = Literal["tiktok", "instagram"]
MEDIA_KINDS: tuple[str, ...] = get_args(MediaKind)


class AppMediaUrlBody(BaseModel):
    """POST /v1/projects/:projectId/app-media as JSON: a file for the media service to fetch over https."""

    model_config = ConfigDict(extra="forbid", strict=True)

    kind: MediaKind
    url: Annotated[str, Field(min_length=1, max_length=2048, pattern=r"^https://")]

    def canonical(self) -> dict[str, str]:
        return self.model_dump()


# Documents the multipart form only: the route parses the stream itself, so the file never sits whole in memory.
class AppMediaUpload(BaseModel):
    """POST /v1/projects/:projectId/app-media as multipart/form-data: the file and what it is."""

    kind: MediaKind
    file: Annotated[bytes, Field(json_schema_extra={"format": "binary"})]


def parse_json_object(raw: bytes) -> tuple[dict[str, Any] | None, list[FieldProblem]]:
    """Decode a JSON object body, or say why it is not one."""
    if not raw.strip():
        return None, [FieldProblem("body", "A JSON object body is required.")]
    try:
        data = json.loads(raw.decode("utf-8"), parse_constant=_reject_constant)
    except (UnicodeDecodeError, ValueError, RecursionError):
        return None, [FieldProblem("body", "Malformed JSON.")]
    if not isinstance(data, dict):
        return None, [FieldProblem("body", "The body must be a JSON object.")]
    return data, []


def no_fields_problems(raw: bytes) -> list[FieldProblem]:
    """For a POST that takes no fields (cancel, rotate, test, replay): no body or `{}`; anything else is
    refused rather than ignored."""
    if not raw.strip():
        return []
    data, problems = parse_json_object(raw)
    return problems or [FieldProblem(name, "Unknown field.") for name in data or {}]


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def parse_body(model: type[BodyT], raw: bytes) -> tuple[BodyT | None, list[FieldProblem]]:
    """A JSON object body read into `model`, or every problem found with it (each named by its field)."""
    data, problems = parse_json_object(raw)
    if data is None:
        return None, problems
    try:
        return model.model_validate(data), []
    except ValidationError as exc:
        return None, problems_from_errors(exc.errors(include_url=False))


def idempotency_key_problems(value: str | None) -> list[FieldProblem]:
    if value is None or _IDEMPOTENCY_KEY.fullmatch(value):
        return []
    return [FieldProblem(IDEMPOTENCY_HEADER, "Must be 1-255 printable ASCII characters.")]


def canonical_project_id(value: str) -> str | None:
    """The bare lower-case UUID, or None when `value` is not one (which answers like an unknown project)."""
    return str(uuid.UUID(value)) if _UUID.fullmatch(value) else None
