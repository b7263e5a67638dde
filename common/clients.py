"""The one way every process talks to the services: typed stubs over channels that carry the calls'
defaults, for the gateway (grpc.aio), the renderer, the CLI and content itself (blocking).

Defaults live in each channel's service config rather than at call sites: every unary call gets a deadline
of `rpc_timeout_seconds`, and the idempotent reads are retried on UNAVAILABLE with backoff (a restarting
server, a dropped connection). Streams and URL imports get no config deadline; their callers set one
that fits the transfer.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import grpc

from common import grpc_context
from common.settings import Settings
from common.tls import GrpcTls
from layers.billing.v1 import billing_pb2_grpc
from layers.content.v1 import content_pb2_grpc
from layers.media.v1 import media_pb2_grpc
from layers.webhooks.v1 import webhooks_pb2_grpc

# Large enough for blob chunks plus framing; chunks themselves are 1 MiB.
MAX_MESSAGE_BYTES = 8 * 1024 * 1024
CHANNEL_OPTIONS: list[tuple[str, Any]] = [
    ("grpc.max_send_message_length", MAX_MESSAGE_BYTES),
    ("grpc.max_receive_message_length", MAX_MESSAGE_BYTES),
]

# Calls that change nothing, so a retry cannot do anything twice.
IDEMPOTENT_READS: dict[str, tuple[str, ...]] = {
    "layers.content.v1.PartnerService": (
        "GetJob",
        "GetContainer",
        "GetProject",
        "ListInfluencers",
        "ListSocialAccounts",
    ),
    "layers.content.v1.EdgeService": ("AuthenticateApiKey",),
    "layers.content.v1.TenancyAdminService": ("LookupProject",),
    "layers.media.v1.MediaService": (
        "GetMedia",
        "ListMedia",
        "StatBlob",
        "PickReactionTemplate",
        "PickMusicTrack",
        "PickRenderInputs",
    ),
    "layers.billing.v1.BillingService": ("GetWallet", "GetReservation", "ListLedgerEntries"),
    "layers.webhooks.v1.WebhookService": ("GetEndpoint", "ListEndpoints", "ListDeliveries"),
}
# Calls whose length is the transfer's, not a request's: no deadline from the config.
LONG_CALLS: dict[str, tuple[str, ...]] = {
    "layers.media.v1.MediaService": ("WriteBlob", "ReadBlob", "ImportMedia"),
}
READ_RETRY_POLICY = {
    "maxAttempts": 3,
    "initialBackoff": "0.05s",
    "maxBackoff": "0.5s",
    "backoffMultiplier": 2,
    "retryableStatusCodes": ["UNAVAILABLE"],
}


def _names(methods: dict[str, tuple[str, ...]]) -> list[dict[str, str]]:
    return [{"service": service, "method": method} for service, names in methods.items() for method in names]


def service_config(timeout_seconds: float) -> str:
    """The JSON service config every channel carries (a more specific name wins over the default)."""
    timeout = f"{timeout_seconds:.3f}s"
    return json.dumps(
        {
            "methodConfig": [
                {"name": [{}], "timeout": timeout},
                {"name": _names(IDEMPOTENT_READS), "timeout": timeout, "retryPolicy": READ_RETRY_POLICY},
                {"name": _names(LONG_CALLS)},
            ]
        }
    )


def _options(timeout_seconds: float) -> list[tuple[str, Any]]:
    return [
        *CHANNEL_OPTIONS,
        ("grpc.service_config", service_config(timeout_seconds)),
        ("grpc.enable_retries", 1),
    ]


def channel(address: str, timeout_seconds: float = 30.0, tls: GrpcTls | None = None) -> grpc.Channel:
    """A blocking channel with the project's limits, deadlines and retries, passing the request id on; mutual
    TLS with `tls` (the server's certificate must name the host of `address`)."""
    if tls is None:
        raw = grpc.insecure_channel(address, options=_options(timeout_seconds))
    else:
        raw = grpc.secure_channel(address, tls.channel_credentials(), options=_options(timeout_seconds))
    return grpc.intercept_channel(raw, *interceptors())


def interceptors() -> list[Any]:
    """Every blocking channel's client interceptors, outermost first."""
    return [grpc_context.ClientContextInterceptor()]


def aio_channel(address: str, timeout_seconds: float = 30.0, tls: GrpcTls | None = None) -> grpc.aio.Channel:
    """The same for asyncio callers; build it on the event loop that will use it."""
    options, interceptors = _options(timeout_seconds), grpc_context.aio_interceptors()
    if tls is None:
        return grpc.aio.insecure_channel(address, options=options, interceptors=interceptors)
    return grpc.aio.secure_channel(address, tls.channel_credentials(), options=options, interceptors=interceptors)


@dataclass
class Clients:
    """Stubs of every service, by caller role. Channels connect lazily: building them needs no server up,
    and a role nobody calls costs nothing. Whoever builds them closes them."""

    partner: content_pb2_grpc.PartnerServiceStub
    render: content_pb2_grpc.RenderCallbackServiceStub
    admin: content_pb2_grpc.TenancyAdminServiceStub
    edge: content_pb2_grpc.EdgeServiceStub
    media: media_pb2_grpc.MediaServiceStub
    billing: billing_pb2_grpc.BillingServiceStub
    webhooks: webhooks_pb2_grpc.WebhookServiceStub
    channels: tuple[Any, ...]

    @classmethod
    def connect(cls, settings: Settings) -> Clients:
        """Blocking stubs (renderer, CLI, content)."""
        return cls._build(settings, channel)

    @classmethod
    def connect_aio(cls, settings: Settings) -> Clients:
        """grpc.aio stubs (the gateway); call from the event loop that will use them."""
        return cls._build(settings, aio_channel)

    @classmethod
    def _build(cls, settings: Settings, make: Any) -> Clients:
        timeout = settings.rpc_timeout_seconds
        tls = GrpcTls.from_settings(settings)
        content, media, billing, webhooks = (
            make(address, timeout, tls)
            for address in (settings.content_addr, settings.media_addr, settings.billing_addr, settings.webhooks_addr)
        )
        return cls(
            partner=content_pb2_grpc.PartnerServiceStub(content),
            render=content_pb2_grpc.RenderCallbackServiceStub(content),
            admin=content_pb2_grpc.TenancyAdminServiceStub(content),
            edge=content_pb2_grpc.EdgeServiceStub(content),
            media=media_pb2_grpc.MediaServiceStub(media),
            billing=billing_pb2_grpc.BillingServiceStub(billing),
            webhooks=webhooks_pb2_grpc.WebhookServiceStub(webhooks),
            channels=(content, media, billing, webhooks),
        )

    def close(self) -> None:
        for ch in self.channels:
            ch.close()

    async def aclose(self) -> None:
        for ch in self.channels:
            await ch.close()
