"""gRPC stubs of the three services, dialled at the addresses the servers bind (LAYERS_*_ADDR)."""

from __future__ import annotations

from dataclasses import dataclass

import grpc

from common.grpc_server import channel
from common.settings import Settings
from layers.billing.v1 import billing_pb2_grpc
from layers.content.v1 import content_pb2_grpc
from layers.media.v1 import media_pb2_grpc


@dataclass
class Stubs:
    content: content_pb2_grpc.ContentServiceStub
    media: media_pb2_grpc.MediaServiceStub
    billing: billing_pb2_grpc.BillingServiceStub
    channels: tuple[grpc.Channel, ...]
    timeout: float

    @classmethod
    def connect(cls, settings: Settings) -> Stubs:
        content, media, billing = (
            channel(a) for a in (settings.content_addr, settings.media_addr, settings.billing_addr)
        )
        return cls(
            content_pb2_grpc.ContentServiceStub(content),
            media_pb2_grpc.MediaServiceStub(media),
            billing_pb2_grpc.BillingServiceStub(billing),
            (content, media, billing),
            settings.rpc_timeout_seconds,
        )

    def close(self) -> None:
        for ch in self.channels:
            ch.close()
