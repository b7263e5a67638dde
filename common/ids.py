"""Public ids: a short type prefix and a ULID, e.g. job_01HZX3...; project ids are bare UUIDs."""

import uuid

from ulid import ULID


def new_id(prefix: str) -> str:
    return f"{prefix}_{ULID()}"


def new_project_id() -> str:
    return str(uuid.uuid4())
