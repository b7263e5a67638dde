"""gRPC clients of the services the gateway fronts: one channel per service, built once at startup."""

from __future__ import annotations

from dataclasses import dataclass, field

import grpc

from common.grpc_server import channel
from common.settings import Settings
from layers.billing.v1 import billing_pb2_grpc
from layers.content.v1 import content_pb2_grpc
from layers.media.v1 import media_pb2_grpc


@dataclass
class ServiceClients:
    """The stubs routes call. The composition root builds them; whoever built them closes them."""

    content: content_pb2_grpc.ContentServiceStub
    media: media_pb2_grpc.MediaServiceStub
    billing: billing_pb2_grpc.BillingServiceStub
    channels: list[grpc.Channel] = field(default_factory=list)

    @classmethod
    def connect(cls, settings: Settings) -> ServiceClients:
        # Channels connect lazily, so building them does not need the services to be up yet.
        content = channel(settings.content_addr)
        media = channel(settings.media_addr)
        billing = channel(settings.billing_addr)
        return cls(
            content=content_pb2_grpc.ContentServiceStub(content),
            media=media_pb2_grpc.MediaServiceStub(media),
            billing=billing_pb2_grpc.BillingServiceStub(billing),
            channels=[content, media, billing],
        )

    def close(self) -> None:
        for ch in self.channels:
            ch.close()
        self.channels.clear()
