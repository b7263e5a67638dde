"""Idempotency-Key for POSTs whose work is not one content call (ugc-remix does it inside content).

Content keeps the records (BeginIdempotentRequest / Complete / Abandon), so every gateway replica sees
them. The first 2xx answer is stored and replayed byte for byte with `Idempotent-Replayed: true`; a request
that fails is forgotten, so the same key can be retried once the cause is fixed.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Annotated, Any

import grpc
from fastapi import Depends, Header, Request, Response

from common.clients import Clients
from gateway.auth import ApiKey, require_scope
from gateway.deps import BodyDep, ClientsDep
from gateway.errors import validation_error
from gateway.schemas import IDEMPOTENCY_HEADER, idempotency_key_problems, no_fields_problems
from layers.content.v1 import content_pb2

REPLAYED_HEADER = "Idempotent-Replayed"
IdempotencyKey = Annotated[str | None, Header(alias=IDEMPOTENCY_HEADER)]


def request_fingerprint(method: str, path: str, body: Any) -> str:
    """What tells a replay from a conflicting reuse of an Idempotency-Key: the same method, path and
    body, the body compared as canonical JSON (so key order and whitespace do not matter)."""
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(f"{method}\n{path}\n{canonical}".encode()).hexdigest()


@dataclass(frozen=True)
class IdempotentPost:
    clients: Clients
    organization_id: str
    path: str
    key: str | None

    @property
    def scope(self) -> str:
        return f"POST {self.path}"

    async def run(self, fingerprint: str, work: Callable[[], Awaitable[Response]]) -> Response:
        """Answer from the stored response, or do the work and store its answer when it succeeded."""
        if not self.key:
            return await work()
        begun = await self.clients.edge.BeginIdempotentRequest(
            content_pb2.BeginIdempotentRequestRequest(
                organization_id=self.organization_id,
                scope=self.scope,
                idempotency_key=self.key,
                request_fingerprint=fingerprint,
            ),
        )
        if begun.replay:
            return Response(
                begun.body,
                status_code=begun.status_code,
                media_type="application/json",
                headers={REPLAYED_HEADER: "true"},
            )
        try:
            response = await work()
        except BaseException:
            # If content cannot hear it either, the claim's lease runs out on its own.
            with contextlib.suppress(grpc.RpcError):
                await self._abandon()
            raise
        if 200 <= response.status_code < 300:
            await self.clients.edge.CompleteIdempotentRequest(
                content_pb2.CompleteIdempotentRequestRequest(
                    organization_id=self.organization_id,
                    scope=self.scope,
                    idempotency_key=self.key,
                    status_code=response.status_code,
                    body=bytes(response.body),
                ),
            )
        else:
            await self._abandon()
        return response

    async def _abandon(self) -> None:
        await self.clients.edge.AbandonIdempotentRequest(
            content_pb2.AbandonIdempotentRequestRequest(
                organization_id=self.organization_id, scope=self.scope, idempotency_key=self.key
            ),
        )


def bodiless_post(scope: str) -> Callable[..., Awaitable[IdempotentPost]]:
    """A dependency for a POST that takes no body (cancel, rotate-secret, test, replay): the caller's key
    must grant `scope`, then any body field or a malformed Idempotency-Key is 422. It gives the request's
    IdempotentPost, for the key's organization and the request's path."""

    async def dependency(
        *,  # keyword-only, so the key (a default) can come before the body: an unauthenticated body is never read
        request: Request,
        # A default, not Annotated: annotations are strings here, and `scope` is not a module name.
        key: ApiKey = Depends(require_scope(scope)),  # noqa: B008
        body: BodyDep,
        clients: ClientsDep,
        idempotency_key: IdempotencyKey = None,
    ) -> IdempotentPost:
        problems = no_fields_problems(body) + idempotency_key_problems(idempotency_key)
        if problems:
            raise validation_error(problems)
        return IdempotentPost(clients, key.organization_id, request.url.path, idempotency_key)

    return dependency
