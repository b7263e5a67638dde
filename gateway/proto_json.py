"""The JSON spelling of proto values: RFC 3339 ms timestamps, optional times, empty-as-null, enum names."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from google.protobuf.message import Message
from google.protobuf.timestamp_pb2 import Timestamp


def rfc3339(ts: Timestamp) -> str:
    """`2026-04-18T12:04:11.000Z`: UTC, milliseconds (truncated), Z."""
    moment = datetime.fromtimestamp(ts.seconds, tz=UTC)
    return f"{moment:%Y-%m-%dT%H:%M:%S}.{ts.nanos // 1_000_000:03d}Z"


def optional_time(message: Message, field: str) -> str | None:
    """A Timestamp field as RFC 3339, or None when it was never set."""
    return rfc3339(getattr(message, field)) if message.HasField(field) else None


def or_none(value: str) -> str | None:
    # proto3 strings cannot be null; empty means "not known".
    return value or None


def enum_name(enum: Any, prefix: str, value: int) -> str | None:
    """JOB_STATUS_RUNNING -> "running"; UNSPECIFIED or a value newer than this code -> None."""
    try:
        name: str = enum.Name(value)
    except ValueError:
        return None
    short = name.removeprefix(prefix).lower()
    return None if short == "unspecified" else short


def same_named(message: Message, *names: str) -> dict[str, Any]:
    """These fields of `message` as they are, for the body fields of the same names."""
    return {name: getattr(message, name) for name in names}


def known_strings(message: Message, *names: str) -> dict[str, str | None]:
    """These string fields of `message` for the body fields of the same names, the empty ones as None."""
    return {name: getattr(message, name) or None for name in names}
