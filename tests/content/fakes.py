"""In-memory stand-ins for the media and billing ports, for unit tests of the content handlers' logic."""

from __future__ import annotations

import threading
from dataclasses import dataclass

import grpc

from common.errors import ServiceError
from services.content.ports import RenderInputs


@dataclass(frozen=True)
class AppDemo:
    media_id: str
    media_role: str


class FakeMedia:
    def __init__(self) -> None:
        self.media: dict[tuple[str, str], list[AppDemo]] = {}

    def add(self, organization_id: str, project_id: str, media_id: str, role: str = "app-demo") -> None:
        self.media.setdefault((organization_id, project_id), []).append(AppDemo(media_id, role))

    def get_media(self, organization_id: str, project_id: str, media_id: str) -> AppDemo:
        for item in self.media.get((organization_id, project_id), []):
            if item.media_id == media_id:
                return item
        raise ServiceError(grpc.StatusCode.NOT_FOUND, "NOT_FOUND", "mediaId is not on this project.")

    def first_app_demo(self, organization_id: str, project_id: str) -> AppDemo | None:
        demos = [m for m in self.media.get((organization_id, project_id), []) if m.media_role == "app-demo"]
        return demos[0] if demos else None

    def pick_reaction_template(self) -> str:
        return "rtp_fake"

    def pick_music_track(self) -> str:
        return "trk_fake"

    def pick_render_inputs(self, organization_id: str, project_id: str, media_id: str) -> RenderInputs:
        """As the real one: NOT_FOUND for a pinned id not on the project, an app-demo problem as data (and
        then nothing picked), else the picks above (so a test replacing one of them changes this too)."""
        if media_id:
            pinned = self.get_media(organization_id, project_id, media_id)
            if pinned.media_role != "app-demo":
                return RenderInputs("", "NOT_APP_DEMO", "", "")
            demo_id = pinned.media_id
        else:
            first = self.first_app_demo(organization_id, project_id)
            if first is None:
                return RenderInputs("", "MISSING", "", "")
            demo_id = first.media_id
        return RenderInputs(demo_id, "", self.pick_reaction_template(), self.pick_music_track())


class FakeBilling:
    def __init__(self, available: int) -> None:
        self.available = available
        self.held: dict[str, int] = {}
        self.captured: list[str] = []
        self.released: list[str] = []
        self.lock = threading.Lock()

    def reserve(self, reservation_id: str, organization_id: str, amount: int, ttl_seconds: int) -> None:
        with self.lock:
            if reservation_id in self.held:
                return
            if reservation_id in self.released or reservation_id in self.captured:
                # As the real ledger: a repeat succeeds only while the hold is held.
                raise ServiceError(grpc.StatusCode.FAILED_PRECONDITION, "RESERVATION_NOT_HELD", "Not held.")
            if self.available < amount:
                raise ServiceError(
                    grpc.StatusCode.FAILED_PRECONDITION,
                    "BILLING_EXHAUSTED",
                    "Not enough credits.",
                    {"required": str(amount), "available": str(self.available)},
                )
            self.available -= amount
            self.held[reservation_id] = amount

    def capture(self, reservation_id: str) -> None:
        with self.lock:
            self.captured.append(reservation_id)

    def release(self, reservation_id: str) -> None:
        with self.lock:
            if reservation_id not in self.held and reservation_id not in self.released:
                # As the real ledger: an id nobody reserved is not found.
                raise ServiceError(grpc.StatusCode.NOT_FOUND, "NOT_FOUND", "The reservation was not found.")
            self.available += self.held.pop(reservation_id, 0)
            self.released.append(reservation_id)
