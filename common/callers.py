"""Who may call what on the internal gRPC ports: one table, enforced by every server under mutual TLS.

A caller is named by its client certificate's subject common name (CN); every process has its own
certificate. Each name may call only the methods listed for it; anything else is PERMISSION_DENIED.
Health and reflection answer any certificate the CA signed (probes and operators' tools), since the
TLS handshake has already refused everyone else. Without TLS (the embedded default, `layers dev`) there is
no name to check, and nothing is enforced.
"""

from __future__ import annotations

from collections.abc import Callable
from types import ModuleType
from typing import Any

import grpc
from grpc_health.v1 import health
from grpc_reflection.v1alpha import reflection

from common.errors import ServiceError
from common.grpc_context import Wrapper, cached_wrap
from layers.billing.v1 import billing_pb2
from layers.content.v1 import content_pb2
from layers.media.v1 import media_pb2
from layers.webhooks.v1 import webhooks_pb2


def _service(module: ModuleType, name: str) -> str:
    """A service's full name from its compiled proto: a renamed service fails here, at import."""
    return str(module.DESCRIPTOR.services_by_name[name].full_name)


PARTNER = _service(content_pb2, "PartnerService")
RENDER_CALLBACK = _service(content_pb2, "RenderCallbackService")
TENANCY_ADMIN = _service(content_pb2, "TenancyAdminService")
EDGE = _service(content_pb2, "EdgeService")
MEDIA = _service(media_pb2, "MediaService")
BILLING = _service(billing_pb2, "BillingService")
WEBHOOKS = _service(webhooks_pb2, "WebhookService")

# Every method of the service, including ones added later (the service exists for that caller).
EVERY_METHOD = ("*",)

# Identity (certificate CN) -> service -> the methods it calls. Built from the calls in the code:
# gateway (gateway/), renderer (services/renderer/), admin (cli/admin.py), content (services/content/ports.py).
# media, billing and webhooks call no other service.
CALLERS: dict[str, dict[str, tuple[str, ...]]] = {
    "gateway": {
        PARTNER: EVERY_METHOD,
        EDGE: EVERY_METHOD,
        WEBHOOKS: EVERY_METHOD,
        MEDIA: ("WriteBlob", "ReadBlob", "StatBlob", "DeleteBlob", "CreateMedia", "ImportMedia", "ListMedia"),
        BILLING: ("GetWallet",),
    },
    "renderer": {
        RENDER_CALLBACK: EVERY_METHOD,
        MEDIA: ("ReadBlob", "WriteBlob", "DeleteBlob", "GetMedia", "GetReactionTemplate", "GetMusicTrack"),
    },
    "admin": {
        TENANCY_ADMIN: EVERY_METHOD,
        BILLING: ("CreateWallet", "GrantCredits"),
        MEDIA: ("WriteBlob", "CreateMedia", "CreateReactionTemplate", "CreateMusicTrack"),
    },
    "content": {
        MEDIA: ("PickRenderInputs",),
        BILLING: ("Reserve", "Capture", "Release"),
    },
}

# Open to any certificate from the CA.
OPEN_SERVICES = frozenset({health.SERVICE_NAME, reflection.SERVICE_NAME})


def may_call(identity: str, full_method: str) -> bool:
    """Whether `identity` may call `full_method` ("/package.Service/Method")."""
    service, _, method = full_method.lstrip("/").partition("/")
    if service in OPEN_SERVICES:
        return True
    allowed = CALLERS.get(identity, {}).get(service, ())
    return allowed == EVERY_METHOD or method in allowed


def identity_of(context: grpc.ServicerContext) -> str:
    """The caller's certificate common name; empty without one."""
    names = context.auth_context().get("x509_common_name") or [b""]
    return bytes(names[0]).decode(errors="replace")


class CallerInterceptor(grpc.ServerInterceptor):
    """Refuses each call its caller's identity may not make (CALLERS), before the handler runs."""

    def __init__(self) -> None:
        self._checked: dict[str, Any] = {}  # each method's checked handler, built once

    def intercept_service(self, continuation: Callable[..., Any], handler_call_details: Any) -> Any:
        return cached_wrap(self._checked, continuation, handler_call_details, _checks)


def _checks(method: str) -> tuple[Wrapper, Wrapper]:
    """The identity check in front of a method's behaviour, whatever its kind (a streaming one is refused
    before its first message)."""

    def check(behaviour: Callable[..., Any]) -> Callable[..., Any]:
        def checked(request: Any, context: grpc.ServicerContext) -> Any:
            identity = identity_of(context)
            if not may_call(identity, method):
                refusal = ServiceError(
                    grpc.StatusCode.PERMISSION_DENIED, "PERMISSION_DENIED", f"{identity!r} may not call {method}"
                )
                context.abort_with_status(refusal.to_status())
            return behaviour(request, context)

        return checked

    return check, check
