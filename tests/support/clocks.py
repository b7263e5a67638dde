"""A clock a test moves on instead of sleeping."""

from __future__ import annotations

from datetime import datetime, timedelta

from common.timeutil import utcnow


class MovableClock:
    """The real time, plus however far the test moved it on."""

    def __init__(self) -> None:
        self.ahead = timedelta(0)

    def __call__(self) -> datetime:
        return utcnow() + self.ahead

    def advance(self, seconds: float) -> None:
        self.ahead += timedelta(seconds=seconds)
