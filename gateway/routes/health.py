"""GET /healthz: the process is up and serving (no auth; container health checks call it)."""

from __future__ import annotations

from fastapi import APIRouter, Response

from gateway.openapi import Health
from gateway.routes._responses import json_response

router = APIRouter(tags=["health"])


@router.get("/healthz", name="healthz", response_model=Health)
def healthz() -> Response:
    return json_response({"status": "ok"})
