"""GET /healthz: the process is up and serving (no auth; liveness and container health checks call it).
GET /readyz: it can serve requests now: content answers its readiness check over the gateway's own gRPC
channel, and Redis answers a PING when configured (no auth; readiness probes call it)."""

from __future__ import annotations

import grpc
from fastapi import APIRouter, Request, Response
from grpc_health.v1 import health_pb2, health_pb2_grpc

from common.clients import Clients
from common.grpc_server import READINESS_SERVICE
from common.settings import Settings
from gateway.rendering import json_response
from gateway.responses import Health, NotReady

router = APIRouter(tags=["health"])

READY_TIMEOUT_SECONDS = 1.0  # a probe's own timeout is a few seconds; answer well within it


@router.get("/healthz", name="healthz", response_model=Health)
def healthz() -> Response:
    return json_response(Health(status="ok"))


@router.get(
    "/readyz",
    name="readyz",
    response_model=Health,
    responses={503: {"model": NotReady, "description": "Not ready: `reason` names what does not answer."}},
)
async def readyz(request: Request) -> Response:
    clients: Clients = request.app.state.clients
    settings: Settings = request.app.state.settings
    content = health_pb2_grpc.HealthStub(clients.channels[0])
    try:
        reply = await content.Check(
            health_pb2.HealthCheckRequest(service=READINESS_SERVICE), timeout=READY_TIMEOUT_SECONDS
        )
    except grpc.RpcError:
        return _not_ready("content unreachable")
    if reply.status != health_pb2.HealthCheckResponse.SERVING:
        return _not_ready("content not ready")
    if settings.redis_url and not await _redis_answers(settings.redis_url):
        return _not_ready("redis unreachable")
    return json_response(Health(status="ok"))


async def _redis_answers(url: str) -> bool:
    import redis.asyncio as aioredis

    client = aioredis.from_url(url, socket_connect_timeout=READY_TIMEOUT_SECONDS, socket_timeout=READY_TIMEOUT_SECONDS)
    try:
        return bool(await client.ping())
    except (aioredis.RedisError, OSError):
        return False
    finally:
        await client.aclose()


def _not_ready(reason: str) -> Response:
    return json_response(NotReady(status="unavailable", reason=reason), status_code=503)
