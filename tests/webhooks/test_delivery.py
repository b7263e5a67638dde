"""Delivery rules against real receivers on loopback: retries with one event id, no retry of a 4xx, the
timeout, auto-pause and resume, secret rotation, redirects not followed. On SQLite and PostgreSQL."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from google.protobuf import field_mask_pb2
from sqlalchemy import select

from layers.webhooks.v1 import webhooks_pb2 as pb
from services.webhooks import signing
from services.webhooks.models import EndpointSecret
from services.webhooks.store import AUTO_PAUSE_AFTER
from tests.support.receiver import HANG, receiver
from tests.webhooks.conftest import ORG, Service, webhooks_service
from tests.webhooks.helpers import eventually


@pytest.fixture
def service(tmp_path: Path, db_url: str) -> Iterator[Service]:
    with webhooks_service(tmp_path, db_url, webhook_timeout_seconds=1.0) as running:
        yield running


def _settled(service: Service, endpoint_id: str, count: int = 1) -> list[pb.Delivery]:
    return list(
        eventually(
            lambda: (
                (rows := service.deliveries(endpoint_id))
                and len(rows) >= count
                and all(d.status != pb.DELIVERY_STATUS_PENDING for d in rows)
                and rows
            )
        )
        or service.deliveries(endpoint_id)
    )


def test_500_503_then_200_is_one_event_three_times(service: Service) -> None:
    with receiver([500, 503, 200]) as hook:
        created = service.endpoint(hook.url)
        event_id = service.publish()
        received = hook.wait_for(3)
        assert [r.event_id for r in received] == [event_id] * 3
        assert len({r.body for r in received}) == 1  # the same bytes every time
        for r in received:
            assert signing.verify(created.signing_secret, r.headers["x-layers-signature"], r.body)
        [delivery] = _settled(service, created.endpoint.endpoint_id)
        assert delivery.status == pb.DELIVERY_STATUS_SUCCEEDED and delivery.attempts == 3
        assert delivery.last_status_code == 200 and not delivery.HasField("next_attempt_at")


def test_410_is_not_retried(service: Service) -> None:
    with receiver([410]) as hook:
        created = service.endpoint(hook.url)
        service.publish()
        [delivery] = _settled(service, created.endpoint.endpoint_id)
        assert delivery.status == pb.DELIVERY_STATUS_FAILED and delivery.attempts == 1
        assert delivery.last_status_code == 410
        assert len(hook.wait_for(2, timeout=1.0)) == 1


def test_a_hanging_receiver_is_cut_at_the_timeout_and_retried(service: Service) -> None:
    with receiver([HANG, 200]) as hook:
        created = service.endpoint(hook.url)
        service.publish()
        received = hook.wait_for(2)
        assert len(received) == 2 and received[0].event_id == received[1].event_id
        # Cut after the 1 s timeout, then the 0.2 s step of the ladder.
        assert 0.9 < received[1].at - received[0].at < 5.0
        [delivery] = _settled(service, created.endpoint.endpoint_id)
        assert delivery.status == pb.DELIVERY_STATUS_SUCCEEDED and delivery.attempts == 2


def test_every_attempt_failing_abandons(service: Service) -> None:
    with receiver(default=503) as hook:
        created = service.endpoint(hook.url)
        service.publish()
        [delivery] = _settled(service, created.endpoint.endpoint_id)
        assert delivery.status == pb.DELIVERY_STATUS_ABANDONED and delivery.attempts == 3
        assert delivery.last_error == "answered HTTP 503"


def test_redirects_are_not_followed(service: Service) -> None:
    with receiver(default=302) as hook:
        created = service.endpoint(hook.url)
        service.publish()
        [delivery] = _settled(service, created.endpoint.endpoint_id)
        assert delivery.last_status_code == 302 and delivery.status != pb.DELIVERY_STATUS_SUCCEEDED
        assert all(r.headers.get("host", "").startswith("127.0.0.1") for r in hook.requests)


def test_twenty_failed_deliveries_auto_pause_and_patch_resumes(tmp_path: Path, db_url: str) -> None:
    with webhooks_service(tmp_path, db_url, webhook_retry_delays="0") as service, receiver(default=500) as hook:
        created = service.endpoint(hook.url)
        endpoint_id = created.endpoint.endpoint_id
        for _ in range(AUTO_PAUSE_AFTER):
            service.publish()
        assert eventually(lambda: service.get(endpoint_id).status == pb.ENDPOINT_STATUS_AUTO_PAUSED)
        assert len(hook.wait_for(AUTO_PAUSE_AFTER)) == AUTO_PAUSE_AFTER
        held = service.publish()
        time.sleep(0.5)
        assert held not in {r.event_id for r in hook.requests}  # paused: it waits
        hook.default = 200
        service.stub.UpdateEndpoint(
            pb.UpdateEndpointRequest(
                organization_id=ORG,
                endpoint=pb.Endpoint(endpoint_id=endpoint_id, status=pb.ENDPOINT_STATUS_ACTIVE),
                update_mask=field_mask_pb2.FieldMask(paths=["status"]),
            )
        )
        assert hook.wait_for(1, where=lambda r: r.event_id == held)
        assert service.get(endpoint_id).status == pb.ENDPOINT_STATUS_ACTIVE


def test_rotation_signs_with_both_secrets_then_with_the_new_one(tmp_path: Path, db_url: str) -> None:
    with webhooks_service(tmp_path, db_url, webhook_secret_overlap_seconds=1.5) as service, receiver() as hook:
        created = service.endpoint(hook.url, ["test.ping"])
        endpoint_id = created.endpoint.endpoint_id
        rotated = service.stub.RotateSecret(pb.RotateSecretRequest(organization_id=ORG, endpoint_id=endpoint_id))
        assert rotated.signing_secret != created.signing_secret
        service.stub.SendTestEvent(pb.SendTestEventRequest(organization_id=ORG, endpoint_id=endpoint_id))
        [during] = hook.wait_for(1)
        header = during.headers["x-layers-signature"]
        assert header.count("v1=") == 2
        assert signing.verify(created.signing_secret, header, during.body)
        assert signing.verify(rotated.signing_secret, header, during.body)
        assert during.json["type"] == "test.ping" and during.json["data"] == {"endpointId": endpoint_id}
        time.sleep(1.6)
        service.stub.SendTestEvent(pb.SendTestEventRequest(organization_id=ORG, endpoint_id=endpoint_id))
        after = hook.wait_for(2)[1]
        header = after.headers["x-layers-signature"]
        assert header.count("v1=") == 1
        assert signing.verify(rotated.signing_secret, header, after.body)
        assert not signing.verify(created.signing_secret, header, after.body)


def test_secrets_are_encrypted_at_rest(service: Service) -> None:
    created = service.endpoint("http://127.0.0.1:9/hooks")
    with service.running.webhooks.db.read() as session:
        stored = list(session.scalars(select(EndpointSecret.ciphertext)))
    assert stored and created.signing_secret.encode() not in stored[0]
    assert created.signing_secret.removeprefix("whsec_").encode() not in stored[0]


def test_rotating_again_and_again_keeps_two_live_secrets(tmp_path: Path, db_url: str) -> None:
    with webhooks_service(tmp_path, db_url) as service, receiver() as hook:
        created = service.endpoint(hook.url, ["test.ping"])
        endpoint_id = created.endpoint.endpoint_id

        def rotate(key: str = "") -> pb.RotateSecretResponse:
            request = pb.RotateSecretRequest(
                organization_id=ORG, endpoint_id=endpoint_id, idempotency_key=key, request_fingerprint="f"
            )
            return service.stub.RotateSecret(request)

        kept = rotate("first-rotation")
        secrets = [created.signing_secret, kept.signing_secret] + [rotate().signing_secret for _ in range(10)]
        service.stub.SendTestEvent(pb.SendTestEventRequest(organization_id=ORG, endpoint_id=endpoint_id))
        [received] = hook.wait_for(1)
        header = received.headers["x-layers-signature"]
        assert header.count("v1=") == 2
        assert [signing.verify(s, header, received.body) for s in secrets] == [False] * 10 + [True] * 2
        with service.running.webhooks.db.read() as session:
            stored = len(list(session.scalars(select(EndpointSecret.id))))
        assert stored == 3  # the two live ones, and the one a still-valid Idempotency-Key answers with
        assert rotate("first-rotation").signing_secret == kept.signing_secret
