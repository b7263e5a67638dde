"""The webhook benchmark's receiver: an ASGI app (served by uvicorn, https) that answers 200 at once and
keeps, per delivery, the lag from the event's `createdAt` (the state change) to its arrival here.

GET /stats answers {"count", "unique", "lagsMs": [...]}; a POST to any other path is a delivery.
"""

from __future__ import annotations

import json
import time
from datetime import datetime
from typing import Any

_arrivals: list[tuple[str, float]] = []


def lag_ms(created_at: str, arrived: float) -> float:
    """Milliseconds from the event's createdAt (RFC 3339, UTC, ms) to `arrived` (Unix seconds)."""
    return (arrived - datetime.fromisoformat(created_at.replace("Z", "+00:00")).timestamp()) * 1000


async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    if scope["type"] != "http":
        return
    body = b""
    while True:
        message = await receive()
        body += message.get("body", b"")
        if not message.get("more_body"):
            break
    if scope["method"] == "GET" and scope["path"] == "/stats":
        lags = [lag for _, lag in _arrivals]
        ids = {event_id for event_id, _ in _arrivals}
        payload = json.dumps({"count": len(_arrivals), "unique": len(ids), "lagsMs": lags}).encode()
    else:
        arrived = time.time()
        event = json.loads(body)
        headers = dict(scope["headers"])
        key = headers.get(b"x-layers-event-id", b"").decode() + scope["path"]
        _arrivals.append((key, lag_ms(event["createdAt"], arrived)))
        payload = b"{}"
    await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"application/json")]})
    await send({"type": "http.response.body", "body": payload})
