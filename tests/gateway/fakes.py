"""In-test gRPC services behind the gateway: the generated servicers with canned answers.

They run on a real gRPC server (common.grpc_server.create_server, so errors travel as the same rich
statuses the real services send), record every request, and can be told to fail or stall a method.
"""

from __future__ import annotations

import threading
import time
from typing import Any

import grpc
from google.protobuf.timestamp_pb2 import Timestamp

from common.errors import ServiceError
from layers.billing.v1 import billing_pb2, billing_pb2_grpc
from layers.content.v1 import content_pb2, content_pb2_grpc

ORG = "org_01HZX3AAAAAAAAAAAAAAAAAAAA"
OTHER_ORG = "org_01HZX3BBBBBBBBBBBBBBBBBBBB"
PROJECT = "6f1c2a4e-8d3b-4c5a-9e7f-0a1b2c3d4e5f"
JOB_ID = "job_01HZX3CCCCCCCCCCCCCCCCCCCC"
CONTAINER_ID = "cnt_01HZX3DDDDDDDDDDDDDDDDDDDD"
ASSET_ID = "ast_01HZX3EEEEEEEEEEEEEEEEEEEE"

# key -> scopes; the key id is the segment after lp_live_/lp_test_.
KEYS: dict[str, list[str]] = {
    "lp_live_keyall_s3cretALL": ["*"],
    "lp_live_keywrite_s3cretWRITE": ["content:write"],
    "lp_live_keyread_s3cretREAD": ["content:read", "jobs:read", "credits:read"],
    "lp_test_keynone_s3cret_with_under-scores": [],
}
ALL = "lp_live_keyall_s3cretALL"
WRITE_ONLY = "lp_live_keywrite_s3cretWRITE"
READ_ONLY = "lp_live_keyread_s3cretREAD"
NO_SCOPES = "lp_test_keynone_s3cret_with_under-scores"


def ts(seconds: int, nanos: int = 0) -> Timestamp:
    return Timestamp(seconds=seconds, nanos=nanos)


STARTED = ts(1_776_513_851, 0)  # 2026-04-18T12:04:11.000Z


def accepted_job(job_id: str = JOB_ID, container_id: str = CONTAINER_ID) -> content_pb2.Job:
    return content_pb2.Job(
        job_id=job_id,
        kind="content_generate",
        status=content_pb2.JOB_STATUS_RUNNING,
        stage=content_pb2.JOB_STAGE_QUEUED,
        progress=0.0,
        organization_id=ORG,
        project_id=PROJECT,
        container_ids=[container_id],
        started_at=STARTED,
        updated_at=STARTED,
    )


def asset(asset_id: str = ASSET_ID, thumbnail: bool = True) -> content_pb2.Asset:
    return content_pb2.Asset(
        asset_id=asset_id,
        kind="video",
        blob_id="blb_video",
        thumbnail_blob_id="blb_thumb" if thumbnail else "",
        duration_ms=14_500,
        width=1080,
        height=1920,
        mime_type="video/mp4",
        size_bytes=3_456_789,
        checksum_sha256="ab" * 32,
    )


class _Recorder:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.reset()

    def reset(self) -> None:
        with self._lock:
            self.calls: list[tuple[str, Any]] = []
            self.errors: dict[str, ServiceError] = {}
            self.delays: dict[str, float] = {}

    def _enter(self, method: str, request: Any) -> None:
        with self._lock:
            self.calls.append((method, request))
            delay = self.delays.get(method, 0.0)
            error = self.errors.get(method)
        if delay:
            time.sleep(delay)
        if error is not None:
            raise error

    def requests(self, method: str) -> list[Any]:
        with self._lock:
            return [r for m, r in self.calls if m == method]

    def fail(self, method: str, error: ServiceError) -> None:
        with self._lock:
            self.errors[method] = error


class FakeContent(content_pb2_grpc.PartnerServiceServicer, content_pb2_grpc.EdgeServiceServicer, _Recorder):
    """The partner and edge services of content, as the gateway sees them."""

    def reset(self) -> None:
        super().reset()
        self.projects: set[tuple[str, str]] = {(ORG, PROJECT)}
        self.create_response = content_pb2.CreateUgcRemixResponse(job=accepted_job(), replayed=False)
        self.jobs: dict[str, content_pb2.Job] = {JOB_ID: accepted_job()}
        self.containers: dict[str, content_pb2.Container] = {}

    def AuthenticateApiKey(self, request: Any, context: grpc.ServicerContext) -> Any:
        self._enter("AuthenticateApiKey", request)
        scopes = KEYS.get(request.api_key)
        if scopes is None:
            raise ServiceError(grpc.StatusCode.UNAUTHENTICATED, "UNAUTHENTICATED", "Unknown or revoked API key.")
        key_id = request.api_key.split("_")[2]
        return content_pb2.AuthenticateApiKeyResponse(organization_id=ORG, key_id=key_id, scopes=scopes)

    def GetProject(self, request: Any, context: grpc.ServicerContext) -> Any:
        self._enter("GetProject", request)
        if (request.organization_id, request.project_id) not in self.projects:
            raise ServiceError(grpc.StatusCode.NOT_FOUND, "NOT_FOUND", "Project not found.")
        return content_pb2.GetProjectResponse(
            project=content_pb2.Project(
                project_id=request.project_id, organization_id=request.organization_id, name="Demo"
            )
        )

    def CreateUgcRemix(self, request: Any, context: grpc.ServicerContext) -> Any:
        self._enter("CreateUgcRemix", request)
        return self.create_response

    def GetJob(self, request: Any, context: grpc.ServicerContext) -> Any:
        self._enter("GetJob", request)
        job = self.jobs.get(request.job_id)
        if job is None or job.organization_id != request.organization_id:
            raise ServiceError(grpc.StatusCode.NOT_FOUND, "NOT_FOUND", "Job not found.")
        return content_pb2.GetJobResponse(job=job)

    def GetContainer(self, request: Any, context: grpc.ServicerContext) -> Any:
        self._enter("GetContainer", request)
        container = self.containers.get(request.container_id)
        if container is None or container.organization_id != request.organization_id:
            raise ServiceError(grpc.StatusCode.NOT_FOUND, "NOT_FOUND", "Container not found.")
        return content_pb2.GetContainerResponse(container=container, job=self.jobs.get(container.job_id))

    def CancelJob(self, request: Any, context: grpc.ServicerContext) -> Any:
        # The content service's rule: a running job becomes canceled; a terminal one is left alone.
        self._enter("CancelJob", request)
        job = self.jobs.get(request.job_id)
        if job is None or job.organization_id != request.organization_id:
            raise ServiceError(grpc.StatusCode.NOT_FOUND, "NOT_FOUND", "Job not found.")
        if job.status != content_pb2.JOB_STATUS_RUNNING:
            return content_pb2.CancelJobResponse(accepted=False, reason="ALREADY_COMPLETED", job=job)
        job.status = content_pb2.JOB_STATUS_CANCELED
        return content_pb2.CancelJobResponse(accepted=True, job=job)

    def BeginIdempotentRequest(self, request: Any, context: grpc.ServicerContext) -> Any:
        self._enter("BeginIdempotentRequest", request)
        return content_pb2.BeginIdempotentRequestResponse(replay=False)

    def CompleteIdempotentRequest(self, request: Any, context: grpc.ServicerContext) -> Any:
        self._enter("CompleteIdempotentRequest", request)
        return content_pb2.CompleteIdempotentRequestResponse()

    def AbandonIdempotentRequest(self, request: Any, context: grpc.ServicerContext) -> Any:
        self._enter("AbandonIdempotentRequest", request)
        return content_pb2.AbandonIdempotentRequestResponse()


class FakeBilling(billing_pb2_grpc.BillingServiceServicer, _Recorder):
    def reset(self) -> None:
        super().reset()
        self.wallets: dict[str, billing_pb2.Wallet] = {
            ORG: billing_pb2.Wallet(organization_id=ORG, balance=1000, reserved_credits=240, available=760)
        }

    def GetWallet(self, request: Any, context: grpc.ServicerContext) -> Any:
        self._enter("GetWallet", request)
        wallet = self.wallets.get(request.organization_id)
        if wallet is None:
            raise ServiceError(grpc.StatusCode.NOT_FOUND, "NOT_FOUND", "Wallet not found.")
        return billing_pb2.GetWalletResponse(wallet=wallet)
