"""GET /v1/jobs/:jobId and POST /v1/jobs/:jobId/cancel."""

from __future__ import annotations

import hashlib
from typing import Annotated

from fastapi import APIRouter, Depends, Header, Request, Response

from gateway.auth import ApiKey, require_scope
from gateway.deps import ClientsDep, SignerDep
from gateway.idempotency import IdempotentPost, bodiless_post
from gateway.polled_jobs import PolledJobs
from gateway.rendering import conditional_json, json_response
from gateway.responses import CancelResult, Job
from gateway.schemas import JobId
from layers.content.v1 import content_pb2

router = APIRouter(tags=["jobs"])

CancelPost = Annotated[IdempotentPost, Depends(bodiless_post("jobs:cancel"))]


@router.get("/jobs/{jobId}", name="get_job", response_model=Job)
async def get_job(
    job_id: JobId,
    key: Annotated[ApiKey, Depends(require_scope("jobs:read"))],
    clients: ClientsDep,
    signer: SignerDep,
    request: Request,
    if_none_match: Annotated[str | None, Header()] = None,
) -> Response:
    jobs: PolledJobs = request.app.state.polled_jobs
    return conditional_json(Job.of(await jobs.of(clients, key.organization_id, job_id), signer), if_none_match)


@router.post(
    "/jobs/{jobId}/cancel",
    name="cancel_job",
    status_code=202,
    response_model=CancelResult,
    responses={200: {"model": CancelResult, "description": "Successful Response"}},
)
async def cancel_job(job_id: JobId, post: CancelPost, clients: ClientsDep, request: Request) -> Response:
    jobs: PolledJobs = request.app.state.polled_jobs

    async def cancel() -> Response:
        response = await clients.partner.CancelJob(
            content_pb2.CancelJobRequest(organization_id=post.organization_id, job_id=job_id)
        )
        jobs.forget_key(job_id)  # the caller's next poll reads the cancel, whether or not the broadcast came yet
        status = 202 if response.accepted else 200
        return json_response(CancelResult.of(response.accepted, response.reason), status_code=status)

    # A retry with the same key replays the first answer (202) rather than answering ALREADY_COMPLETED.
    return await post.run(hashlib.sha256(f"POST\n{post.path}\n".encode()).hexdigest(), cancel)
