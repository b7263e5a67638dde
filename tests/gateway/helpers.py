"""Assertions shared by the gateway tests."""

from __future__ import annotations

from typing import Any

from tests.gateway.fakes import PROJECT
from tests.support.envelope import ERROR_KEYS, REQUEST_ID, bearer, error_of, request_id

__all__ = ["ERROR_KEYS", "REQUEST_ID", "UGC_REMIX", "bearer", "error_of", "fields_of", "request_id"]

UGC_REMIX = f"/v1/projects/{PROJECT}/content/ugc-remix"


def fields_of(error: dict[str, Any]) -> list[str]:
    return [f["field"] for f in error["details"]["fields"]]
