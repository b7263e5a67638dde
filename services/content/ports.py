"""What the content service needs from media and billing, and their gRPC implementations.

Handlers depend on these small protocols so their logic can be unit-tested with fakes.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

import grpc

from common.errors import ServiceError, unpack
from common.settings import MAX_CATALOG_CACHE_SECONDS
from layers.billing.v1 import billing_pb2, billing_pb2_grpc
from layers.media.v1 import media_pb2, media_pb2_grpc


@dataclass(frozen=True)
class RenderInputs:
    """What one start takes from media. app_demo_problem is "" (app_demo_media_id, reaction_template_id
    and music_track_id are set), "NOT_APP_DEMO" (the pinned media is not an app-demo) or "MISSING" (nothing was
    pinned and the project has no app-demo); with a problem the three ids are empty."""

    app_demo_media_id: str
    app_demo_problem: str
    reaction_template_id: str
    music_track_id: str


class MediaPort(Protocol):
    def pick_render_inputs(self, organization_id: str, project_id: str, media_id: str) -> RenderInputs: ...


class BillingPort(Protocol):
    def reserve(self, reservation_id: str, organization_id: str, amount: int, ttl_seconds: int) -> None: ...
    def capture(self, reservation_id: str) -> None: ...
    def release(self, reservation_id: str) -> None: ...


def _call(fn, request):  # type: ignore[no-untyped-def]
    """Call a stub method (the channel's service config sets its deadline) and turn its failure into the
    ServiceError it carries."""
    try:
        return fn(request)
    except grpc.RpcError as exc:
        raise unpack(exc) from None


# Template and track pairs asked of media in one call, for the starts of one project that follow.
DRAWS_AHEAD = 32
# Projects (with their pinned app demo) whose draws are kept; the least recently started are dropped first.
PROJECTS_DRAWN_AHEAD = 1024


@dataclass
class _DrawnAhead:
    app_demo_media_id: str
    pairs: list[tuple[str, str]]  # (reaction_template_id, music_track_id), used from the end
    usable_until: float  # on the monotonic clock


class GrpcMedia:
    """Media's picks for a start. One call answers the app demo and several template and track pairs; the
    starts of that project that follow take the next pair with no call, for as long as media says the
    draws may be used (until its catalog is due to be read again). Only a usable answer is kept: an unknown
    media id, a missing or wrong app demo and an empty catalog are asked afresh every time, so an app demo
    uploaded just now is used by the next start. The app demo a kept answer names stays usable, as media is
    never deleted nor changes its role; only two first app demos uploaded at once may be seen in either
    order for those seconds. While draws last, starts of that project need no answer from media at all."""

    def __init__(
        self,
        stub: media_pb2_grpc.MediaServiceStub,
        draws_ahead: int = DRAWS_AHEAD,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._stub = stub
        self._draws_ahead = draws_ahead
        self._clock = clock
        self._lock = threading.Lock()
        self._ahead: OrderedDict[tuple[str, str, str], _DrawnAhead] = OrderedDict()

    def pick_render_inputs(self, organization_id: str, project_id: str, media_id: str) -> RenderInputs:
        """The app demo, a template and a track. A pinned media_id not on the project raises NOT_FOUND
        "mediaId is not on this project."; an empty pool or catalog raises UNAVAILABLE."""
        key = (organization_id, project_id, media_id)
        with self._lock:
            asked_at = self._clock()
            drawn = self._ahead.pop(key, None)
            if drawn is not None and drawn.usable_until > asked_at and drawn.pairs:
                template, track = drawn.pairs.pop()
                if drawn.pairs:
                    self._ahead[key] = drawn
                return RenderInputs(drawn.app_demo_media_id, "", template, track)
        request = media_pb2.PickRenderInputsRequest(
            organization_id=organization_id, project_id=project_id, media_id=media_id, draws=self._draws_ahead
        )
        response = _pick(self._stub.PickRenderInputs, request)
        inputs = RenderInputs(
            app_demo_media_id=str(response.app_demo_media_id),
            app_demo_problem=_APP_DEMO_PROBLEMS[response.app_demo_problem],
            reaction_template_id=str(response.reaction_template_id),
            music_track_id=str(response.music_track_id),
        )
        if not inputs.app_demo_problem and response.further_draws and response.further_draws_valid_ms:
            further = [
                (str(d.reaction_template_id), str(d.music_track_id))
                for d in response.further_draws[: self._draws_ahead - 1]
            ]
            # Timed from before the call, as media's window began no later than that; never past its longest.
            valid_seconds = min(response.further_draws_valid_ms / 1000, MAX_CATALOG_CACHE_SECONDS)
            kept = _DrawnAhead(inputs.app_demo_media_id, further, asked_at + valid_seconds)
            with self._lock:
                self._ahead[key] = kept  # a concurrent caller's draws for this key, if any, are dropped
                while len(self._ahead) > PROJECTS_DRAWN_AHEAD:
                    self._ahead.popitem(last=False)
        return inputs


_APP_DEMO_PROBLEMS = {
    media_pb2.APP_DEMO_PROBLEM_UNSPECIFIED: "",
    media_pb2.APP_DEMO_PROBLEM_NOT_APP_DEMO: "NOT_APP_DEMO",
    media_pb2.APP_DEMO_PROBLEM_MISSING: "MISSING",
}


def _pick(fn, request):  # type: ignore[no-untyped-def]
    try:
        return _call(fn, request)
    except ServiceError as exc:
        # An empty pool or catalog is the operator's problem, not the partner's: answer "unavailable".
        if exc.code == grpc.StatusCode.FAILED_PRECONDITION:
            raise ServiceError(grpc.StatusCode.UNAVAILABLE, exc.reason, exc.message) from None
        raise


class GrpcBilling:
    def __init__(self, stub: billing_pb2_grpc.BillingServiceStub) -> None:
        self._stub = stub

    def reserve(self, reservation_id: str, organization_id: str, amount: int, ttl_seconds: int) -> None:
        request = billing_pb2.ReserveRequest(
            reservation_id=reservation_id,
            organization_id=organization_id,
            amount=amount,
            ttl_seconds=ttl_seconds,
        )
        _call(self._stub.Reserve, request)

    def capture(self, reservation_id: str) -> None:
        _call(self._stub.Capture, billing_pb2.CaptureRequest(reservation_id=reservation_id))

    def release(self, reservation_id: str) -> None:
        _call(self._stub.Release, billing_pb2.ReleaseRequest(reservation_id=reservation_id))
