"""The gRPC edge of the content service, one servicer per caller: partners (through the gateway), the
renderer, the operator, and the gateway's own plumbing. Each parses, calls one handler and builds the
response."""

from __future__ import annotations

import grpc

from common.broadcasts import KEY_REVOKED, Broadcaster
from common.errors import invalid
from layers.content.v1 import content_pb2 as pb
from layers.content.v1 import content_pb2_grpc
from services.content import views
from services.content.idempotency import IdempotencyStore, Replay
from services.content.jobs import Jobs
from services.content.tenancy import Tenancy
from services.content.ugc_remix import UgcRemixHandler


class PartnerServicer(content_pb2_grpc.PartnerServiceServicer):
    def __init__(self, tenancy: Tenancy, ugc_remix: UgcRemixHandler, jobs: Jobs) -> None:
        self.tenancy = tenancy
        self.ugc_remix = ugc_remix
        self.jobs = jobs

    def CreateUgcRemix(self, request: pb.CreateUgcRemixRequest, context: grpc.ServicerContext):
        return self.ugc_remix.handle(request)

    def GetJob(self, request: pb.GetJobRequest, context: grpc.ServicerContext):
        return pb.GetJobResponse(job=self.jobs.get_job(request.organization_id, request.job_id, fresh=request.fresh))

    def CancelJob(self, request: pb.CancelJobRequest, context: grpc.ServicerContext):
        accepted, reason, job = self.jobs.cancel(request.organization_id, request.job_id)
        return pb.CancelJobResponse(accepted=accepted, reason=reason, job=job)

    def GetContainer(self, request: pb.GetContainerRequest, context: grpc.ServicerContext):
        container, job = self.jobs.get_container(request.organization_id, request.container_id)
        return pb.GetContainerResponse(container=container, job=job)

    def GetProject(self, request: pb.GetProjectRequest, context: grpc.ServicerContext):
        if not request.organization_id:
            raise invalid("organization_id is required.", field="organization_id")
        return pb.GetProjectResponse(
            project=_project(self.tenancy.get_project(request.organization_id, request.project_id))
        )

    def ListInfluencers(self, request: pb.ListInfluencersRequest, context: grpc.ServicerContext):
        rows, token = self.tenancy.list_influencers(
            request.organization_id, request.project_id, request.page_size, request.page_token
        )
        return pb.ListInfluencersResponse(influencers=[views.influencer_pb(r) for r in rows], next_page_token=token)

    def ListSocialAccounts(self, request: pb.ListSocialAccountsRequest, context: grpc.ServicerContext):
        rows, token = self.tenancy.list_social_accounts(
            request.organization_id, request.project_id, request.platform, request.page_size, request.page_token
        )
        return pb.ListSocialAccountsResponse(
            social_accounts=[views.social_account_pb(row, layers) for row, layers in rows], next_page_token=token
        )


class RenderCallbackServicer(content_pb2_grpc.RenderCallbackServiceServicer):
    def __init__(self, jobs: Jobs) -> None:
        self.jobs = jobs

    def StartRender(self, request: pb.StartRenderRequest, context: grpc.ServicerContext):
        proceed, job = self.jobs.start_render(request.job_id)
        return pb.StartRenderResponse(proceed=proceed, job=job)

    def ReportRenderProgress(self, request: pb.ReportRenderProgressRequest, context: grpc.ServicerContext):
        stage = views.STAGE_NAMES.get(request.stage, "queued")
        eta = request.eta_seconds if request.HasField("eta_seconds") else None
        stop = self.jobs.report_progress(request.job_id, stage, request.stage_progress, eta)
        return pb.ReportRenderProgressResponse(canceled=stop)

    def CompleteRender(self, request: pb.CompleteRenderRequest, context: grpc.ServicerContext):
        recorded, job = self.jobs.complete(request.job_id, request.assets)
        return pb.CompleteRenderResponse(job=job, recorded=recorded)

    def FailRender(self, request: pb.FailRenderRequest, context: grpc.ServicerContext):
        job = self.jobs.fail(request.job_id, request.error.code or "RENDER_FAILED", request.error.message)
        return pb.FailRenderResponse(job=job)


class TenancyAdminServicer(content_pb2_grpc.TenancyAdminServiceServicer):
    def __init__(self, tenancy: Tenancy, broadcasts: Broadcaster) -> None:
        self.tenancy = tenancy
        self.broadcasts = broadcasts

    def CreateOrganization(self, request: pb.CreateOrganizationRequest, context: grpc.ServicerContext):
        org = self.tenancy.create_organization(request.name)
        return pb.CreateOrganizationResponse(
            organization=pb.Organization(organization_id=org.organization_id, name=org.name)
        )

    def CreateProject(self, request: pb.CreateProjectRequest, context: grpc.ServicerContext):
        project = self.tenancy.create_project(request.organization_id, request.name)
        return pb.CreateProjectResponse(project=_project(project))

    def LookupProject(self, request: pb.LookupProjectRequest, context: grpc.ServicerContext):
        return pb.LookupProjectResponse(project=_project(self.tenancy.get_project("", request.project_id)))

    def CreateApiKey(self, request: pb.CreateApiKeyRequest, context: grpc.ServicerContext):
        key_id, api_key = self.tenancy.create_api_key(request.organization_id, list(request.scopes), request.test_mode)
        return pb.CreateApiKeyResponse(key_id=key_id, api_key=api_key)

    def RevokeApiKey(self, request: pb.RevokeApiKeyRequest, context: grpc.ServicerContext):
        self.tenancy.revoke_api_key(request.key_id)
        # After the commit: every gateway drops the key from its cache of verified keys.
        self.broadcasts.publish(KEY_REVOKED, request.key_id)
        return pb.RevokeApiKeyResponse()

    def RecountRunningJobs(self, request: pb.RecountRunningJobsRequest, context: grpc.ServicerContext):
        checked, corrections = self.tenancy.recount_running_jobs(request.key_id)
        return pb.RecountRunningJobsResponse(
            keys_checked=checked,
            corrections=[pb.RunningJobsCorrection(key_id=k, counted=c, running=r) for k, c, r in corrections],
        )

    def CreateInfluencer(self, request: pb.CreateInfluencerRequest, context: grpc.ServicerContext):
        row = self.tenancy.create_influencer(request.project_id, request.name, request.voice, request.language)
        return pb.CreateInfluencerResponse(influencer=views.influencer_pb(row))

    def CreateLayer(self, request: pb.CreateLayerRequest, context: grpc.ServicerContext):
        layer = self.tenancy.create_layer(request.project_id, request.kind, request.name, request.influencer_id)
        return pb.CreateLayerResponse(
            layer=pb.Layer(
                layer_id=layer.layer_id,
                project_id=layer.project_id,
                kind=layer.kind,
                name=layer.name,
                influencer_id=layer.influencer_id or "",
            )
        )

    def CreateSocialAccount(self, request: pb.CreateSocialAccountRequest, context: grpc.ServicerContext):
        account = self.tenancy.create_social_account(request.project_id, request.platform, request.handle)
        return pb.CreateSocialAccountResponse(social_account=views.social_account_pb(account, []))

    def WireSocialAccount(self, request: pb.WireSocialAccountRequest, context: grpc.ServicerContext):
        account, layers = self.tenancy.wire(request.social_account_id, request.layer_id)
        return pb.WireSocialAccountResponse(social_account=views.social_account_pb(account, layers))


class EdgeServicer(content_pb2_grpc.EdgeServiceServicer):
    def __init__(self, tenancy: Tenancy, idempotency: IdempotencyStore) -> None:
        self.tenancy = tenancy
        self.idempotency = idempotency

    def AuthenticateApiKey(self, request: pb.AuthenticateApiKeyRequest, context: grpc.ServicerContext):
        principal = self.tenancy.authenticate(request.api_key)
        return pb.AuthenticateApiKeyResponse(
            organization_id=principal.organization_id, key_id=principal.key_id, scopes=list(principal.scopes)
        )

    def BeginIdempotentRequest(self, request: pb.BeginIdempotentRequestRequest, context: grpc.ServicerContext):
        _require_claim_fields(request.organization_id, request.scope, request.idempotency_key)
        if not request.request_fingerprint:
            raise invalid("request_fingerprint is required.", field="request_fingerprint")
        outcome = self.idempotency.claim(
            request.organization_id,
            request.scope,
            request.idempotency_key,
            request.request_fingerprint,
            with_job=False,
        )
        if isinstance(outcome, Replay):
            return pb.BeginIdempotentRequestResponse(
                replay=True, status_code=outcome.status_code or 0, body=outcome.response
            )
        return pb.BeginIdempotentRequestResponse(replay=False)

    def CompleteIdempotentRequest(self, request: pb.CompleteIdempotentRequestRequest, context: grpc.ServicerContext):
        _require_claim_fields(request.organization_id, request.scope, request.idempotency_key)
        if not 100 <= request.status_code <= 599:
            raise invalid("status_code must be an HTTP status.", field="status_code")
        self.idempotency.complete_request(
            request.organization_id, request.scope, request.idempotency_key, request.status_code, request.body
        )
        return pb.CompleteIdempotentRequestResponse()

    def AbandonIdempotentRequest(self, request: pb.AbandonIdempotentRequestRequest, context: grpc.ServicerContext):
        _require_claim_fields(request.organization_id, request.scope, request.idempotency_key)
        self.idempotency.abandon_request(request.organization_id, request.scope, request.idempotency_key)
        return pb.AbandonIdempotentRequestResponse()


def _require_claim_fields(organization_id: str, scope: str, key: str) -> None:
    for field, value in (("organization_id", organization_id), ("scope", scope), ("idempotency_key", key)):
        if not value:
            raise invalid(f"{field} is required.", field=field)
    if len(scope) > 300 or len(key) > 255:
        raise invalid("scope or idempotency_key is too long.", field="idempotency_key")


def _project(project) -> pb.Project:  # type: ignore[no-untyped-def]
    return pb.Project(project_id=project.project_id, organization_id=project.organization_id, name=project.name)
