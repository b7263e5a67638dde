"""GET /v1/jobs/:jobId."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Header, Path, Response

from gateway.auth import ApiKey, require_scope
from gateway.deps import ClientsDep, SettingsDep, SignerDep
from gateway.routes._responses import conditional_json
from gateway.serializers import job_json
from layers.content.v1 import content_pb2

router = APIRouter(tags=["jobs"])


@router.get("/jobs/{jobId}", name="get_job")
def get_job(
    job_id: Annotated[str, Path(alias="jobId")],
    key: Annotated[ApiKey, Depends(require_scope("jobs:read"))],
    clients: ClientsDep,
    settings: SettingsDep,
    signer: SignerDep,
    if_none_match: Annotated[str | None, Header()] = None,
) -> Response:
    response = clients.content.GetJob(
        content_pb2.GetJobRequest(organization_id=key.organization_id, job_id=job_id),
        timeout=settings.rpc_timeout_seconds,
    )
    return conditional_json(job_json(response.job, signer), if_none_match)
