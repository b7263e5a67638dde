"""gRPC edge of webhooks: protos in, one Webhooks call, protos out. Secrets leave only in the answers to
CreateEndpoint and RotateSecret."""

from __future__ import annotations

import grpc

from layers.webhooks.v1 import webhooks_pb2 as pb
from layers.webhooks.v1 import webhooks_pb2_grpc
from services.webhooks.store import Webhooks
from services.webhooks.views import STATUS_NAMES, delivery_pb, endpoint_pb


class WebhookServicer(webhooks_pb2_grpc.WebhookServiceServicer):
    def __init__(self, webhooks: Webhooks) -> None:
        self._webhooks = webhooks

    def CreateEndpoint(
        self, request: pb.CreateEndpointRequest, context: grpc.ServicerContext
    ) -> pb.CreateEndpointResponse:
        return self._webhooks.create_endpoint(
            request.organization_id,
            request.url,
            list(request.events),
            request.description,
            request.project_id,
            idempotency_key=request.idempotency_key,
            fingerprint=request.request_fingerprint,
        )

    def GetEndpoint(self, request: pb.GetEndpointRequest, context: grpc.ServicerContext) -> pb.GetEndpointResponse:
        return pb.GetEndpointResponse(
            endpoint=endpoint_pb(self._webhooks.get_endpoint(request.organization_id, request.endpoint_id))
        )

    def ListEndpoints(
        self, request: pb.ListEndpointsRequest, context: grpc.ServicerContext
    ) -> pb.ListEndpointsResponse:
        rows, token = self._webhooks.list_endpoints(request.organization_id, request.page_size, request.page_token)
        return pb.ListEndpointsResponse(endpoints=[endpoint_pb(r) for r in rows], next_page_token=token)

    def UpdateEndpoint(
        self, request: pb.UpdateEndpointRequest, context: grpc.ServicerContext
    ) -> pb.UpdateEndpointResponse:
        change = request.endpoint
        row = self._webhooks.update_endpoint(
            request.organization_id,
            change.endpoint_id,
            list(request.update_mask.paths),
            change.url,
            list(change.events),
            change.description,
            STATUS_NAMES.get(change.status, ""),
        )
        return pb.UpdateEndpointResponse(endpoint=endpoint_pb(row))

    def DeleteEndpoint(
        self, request: pb.DeleteEndpointRequest, context: grpc.ServicerContext
    ) -> pb.DeleteEndpointResponse:
        self._webhooks.delete_endpoint(request.organization_id, request.endpoint_id)
        return pb.DeleteEndpointResponse()

    def RotateSecret(self, request: pb.RotateSecretRequest, context: grpc.ServicerContext) -> pb.RotateSecretResponse:
        return self._webhooks.rotate_secret(
            request.organization_id,
            request.endpoint_id,
            idempotency_key=request.idempotency_key,
            fingerprint=request.request_fingerprint,
        )

    def SendTestEvent(
        self, request: pb.SendTestEventRequest, context: grpc.ServicerContext
    ) -> pb.SendTestEventResponse:
        row = self._webhooks.send_test(request.organization_id, request.endpoint_id)
        return pb.SendTestEventResponse(delivery=delivery_pb(row))

    def ListDeliveries(
        self, request: pb.ListDeliveriesRequest, context: grpc.ServicerContext
    ) -> pb.ListDeliveriesResponse:
        rows, token = self._webhooks.list_deliveries(
            request.organization_id, request.endpoint_id, request.page_size, request.page_token
        )
        return pb.ListDeliveriesResponse(deliveries=[delivery_pb(r) for r in rows], next_page_token=token)

    def ReplayDelivery(
        self, request: pb.ReplayDeliveryRequest, context: grpc.ServicerContext
    ) -> pb.ReplayDeliveryResponse:
        row = self._webhooks.replay(request.organization_id, request.delivery_id)
        return pb.ReplayDeliveryResponse(delivery=delivery_pb(row))
