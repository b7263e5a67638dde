"""The ceiling of bench/request_path.py: the cheapest FastAPI app, one route answering a small JSON.

Served the way the gateway is served (uvicorn, the same worker processes, no access log), it says how many
requests per second FastAPI and uvicorn alone allow on this machine. Its route is a plain `def`, as the
gateway's routes are, so it pays the same thread-pool hop.

    .venv/bin/python -m uvicorn --app-dir bench ceiling_app:app --workers 2 --no-access-log --port 8099
"""

from __future__ import annotations

from fastapi import FastAPI

app = FastAPI(title="request-path ceiling", docs_url=None, redoc_url=None, openapi_url=None)


@app.get("/v1/ping")
def ping() -> dict[str, str]:
    return {"status": "ok"}
