"""The background thread that expires reservations nobody captured or released in time."""

from __future__ import annotations

import logging
import threading
from datetime import timedelta

from common import metrics
from common.timeutil import Clock, utcnow
from services.billing.ledger import Ledger

log = logging.getLogger("layers.billing.sweeper")


# What layers_billing_reservations_expiring counts (its alert fires before the credits are lost).
EXPIRING_WITHIN = timedelta(minutes=10)


class ExpirySweeper:
    """Runs `ledger.expire_due(now)` at start and then every interval until stopped."""

    def __init__(self, ledger: Ledger, interval_seconds: float, clock: Clock = utcnow) -> None:
        if interval_seconds <= 0:
            raise ValueError("interval_seconds must be positive")
        self._ledger = ledger
        self._interval = interval_seconds
        self._clock = clock
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="billing-expiry-sweeper", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout)

    def _run(self) -> None:
        # Sweep once right away: holds may have fallen due while the service was down.
        while not self._stop.is_set():
            try:
                expired = self._ledger.expire_due(self._clock())
                if expired:
                    log.info("expired %d reservation(s)", expired)
                metrics.RESERVATIONS_EXPIRING.set(self._ledger.count_expiring(self._clock(), EXPIRING_WITHIN))
            except Exception:  # a database hiccup must not kill the sweeper; try again next round
                log.exception("expiry sweep failed")
            if self._stop.wait(self._interval):
                return
