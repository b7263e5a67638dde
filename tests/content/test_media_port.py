"""GrpcMedia's draws made ahead: which answers are kept, for how long, and for whom (a stub stands in for
media; the real round trip is in tests/media/test_render_inputs.py)."""

from __future__ import annotations

import itertools
import threading
from typing import Any

import grpc
import pytest

from common.errors import ServiceError
from layers.media.v1 import media_pb2
from services.content import ports
from services.content.ports import GrpcMedia

ORG, PROJECT = "org_a", "prj_a"


class Clock:
    now = 100.0

    def __call__(self) -> float:
        return self.now


class FakePick:
    """PickRenderInputs answering `valid_ms` draws of t<n>/m<n>, or the problem or error it is set to."""

    def __init__(self) -> None:
        self.requests: list[media_pb2.PickRenderInputsRequest] = []
        self.valid_ms = 5000
        self.problem = media_pb2.APP_DEMO_PROBLEM_UNSPECIFIED
        self.error: grpc.StatusCode | None = None
        self._drawn = itertools.count(1)  # next() on it is atomic: callers on several threads draw apart

    def __call__(self, request: media_pb2.PickRenderInputsRequest) -> media_pb2.PickRenderInputsResponse:
        self.requests.append(request)
        if self.error is not None:
            raise ServiceError(self.error, "NOT_FOUND", "mediaId is not on this project.")
        pairs = [self._next() for _ in range(max(request.draws, 1))]
        return media_pb2.PickRenderInputsResponse(
            # With a problem, draws too: content must keep them nonetheless not.
            app_demo_media_id="" if self.problem else f"demo-of-{request.project_id}",
            app_demo_problem=self.problem,
            reaction_template_id=pairs[0][0],
            music_track_id=pairs[0][1],
            further_draws=[media_pb2.RenderDraw(reaction_template_id=t, music_track_id=m) for t, m in pairs[1:]],
            further_draws_valid_ms=self.valid_ms if len(pairs) > 1 else 0,
        )

    def _next(self) -> tuple[str, str]:
        n = next(self._drawn)
        return f"t{n}", f"m{n}"


class Stub:
    def __init__(self) -> None:
        self.PickRenderInputs = FakePick()


@pytest.fixture
def stub() -> Stub:
    return Stub()


def port(stub: Stub, clock: Clock | None = None, draws_ahead: int = 4) -> GrpcMedia:
    return GrpcMedia(stub, draws_ahead=draws_ahead, clock=clock or Clock())  # type: ignore[arg-type]


def test_each_draw_is_used_once_then_media_is_asked_again(stub: Stub) -> None:
    media = port(stub)
    picked = [media.pick_render_inputs(ORG, PROJECT, "") for _ in range(9)]
    assert [p.reaction_template_id for p in picked] == [f"t{n}" for n in (1, 4, 3, 2, 5, 8, 7, 6, 9)]
    assert {p.app_demo_media_id for p in picked} == {"demo-of-prj_a"}
    assert [r.draws for r in stub.PickRenderInputs.requests] == [4, 4, 4]


def test_draws_are_not_used_past_the_time_media_gave(stub: Stub) -> None:
    clock = Clock()
    media = port(stub, clock)
    media.pick_render_inputs(ORG, PROJECT, "")
    clock.now += 4.999
    assert media.pick_render_inputs(ORG, PROJECT, "").reaction_template_id == "t4"
    clock.now += 0.001
    assert media.pick_render_inputs(ORG, PROJECT, "").reaction_template_id == "t5"  # asked afresh
    assert len(stub.PickRenderInputs.requests) == 2


def test_no_time_given_keeps_nothing(stub: Stub) -> None:
    stub.PickRenderInputs.valid_ms = 0
    media = port(stub)
    for _ in range(3):
        media.pick_render_inputs(ORG, PROJECT, "")
    assert len(stub.PickRenderInputs.requests) == 3


def test_projects_and_pinned_demos_draw_apart(stub: Stub) -> None:
    media = port(stub)
    a = media.pick_render_inputs(ORG, PROJECT, "")
    b = media.pick_render_inputs(ORG, "prj_b", "")
    pinned = media.pick_render_inputs(ORG, PROJECT, "med_1")
    other_org = media.pick_render_inputs("org_b", PROJECT, "")
    assert len(stub.PickRenderInputs.requests) == 4
    assert (a.app_demo_media_id, b.app_demo_media_id) == ("demo-of-prj_a", "demo-of-prj_b")
    assert stub.PickRenderInputs.requests[2].media_id == "med_1" and pinned.reaction_template_id
    assert other_org.reaction_template_id == "t13"
    media.pick_render_inputs(ORG, PROJECT, "")  # from the first call's draws
    assert len(stub.PickRenderInputs.requests) == 4


def test_problems_and_errors_are_asked_afresh_every_time(stub: Stub) -> None:
    media = port(stub)
    stub.PickRenderInputs.problem = media_pb2.APP_DEMO_PROBLEM_MISSING
    assert media.pick_render_inputs(ORG, PROJECT, "").app_demo_problem == "MISSING"
    assert media.pick_render_inputs(ORG, PROJECT, "").app_demo_problem == "MISSING"
    stub.PickRenderInputs.problem = media_pb2.APP_DEMO_PROBLEM_UNSPECIFIED
    stub.PickRenderInputs.error = grpc.StatusCode.NOT_FOUND
    for _ in range(2):
        with pytest.raises(ServiceError):
            media.pick_render_inputs(ORG, PROJECT, "med_gone")
    stub.PickRenderInputs.error = None
    assert media.pick_render_inputs(ORG, PROJECT, "").app_demo_media_id == "demo-of-prj_a"  # the demo arrived
    assert len(stub.PickRenderInputs.requests) == 5


def test_more_draws_or_time_than_asked_for_are_not_kept(stub: Stub) -> None:
    clock = Clock()
    media = port(stub, clock, draws_ahead=3)
    stub.PickRenderInputs.valid_ms = 10**9  # a media answering far past any catalog cache's time
    original = stub.PickRenderInputs.__call__

    def generous(request: media_pb2.PickRenderInputsRequest) -> media_pb2.PickRenderInputsResponse:
        request.draws = 10  # answers 10 draws to a request for 3
        return original(request)

    stub.PickRenderInputs = generous  # type: ignore[assignment]
    media.pick_render_inputs(ORG, PROJECT, "")
    kept = [media.pick_render_inputs(ORG, PROJECT, "").reaction_template_id for _ in range(3)]
    assert kept == ["t3", "t2", "t11"]  # two kept (3 asked, one used at once), then asked again
    clock.now += 300  # the longest a catalog may be cached
    assert media.pick_render_inputs(ORG, PROJECT, "").reaction_template_id == "t21"


def test_starts_on_many_threads_never_share_a_draw(stub: Stub) -> None:
    media = port(stub, draws_ahead=8)
    taken: list[tuple[str, str]] = []

    def starts() -> None:
        for _ in range(200):
            picked = media.pick_render_inputs(ORG, PROJECT, "")
            taken.append((picked.reaction_template_id, picked.music_track_id))

    threads = [threading.Thread(target=starts) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(taken) == 1600 and len(set(taken)) == 1600


def test_the_least_recently_started_projects_are_dropped(stub: Stub, monkeypatch: Any) -> None:
    monkeypatch.setattr(ports, "PROJECTS_DRAWN_AHEAD", 2)
    media = port(stub)
    for project in ("p1", "p2", "p1", "p3"):  # p2 is the least recent when p3 arrives
        media.pick_render_inputs(ORG, project, "")
    asked = len(stub.PickRenderInputs.requests)
    media.pick_render_inputs(ORG, "p1", "")
    media.pick_render_inputs(ORG, "p3", "")
    assert len(stub.PickRenderInputs.requests) == asked
    media.pick_render_inputs(ORG, "p2", "")
    assert len(stub.PickRenderInputs.requests) == asked + 1
