"""The asyncio client: `Client`'s surface with `await` (and `async for` over lists).

The synchronous client, layers_partner/client.py, is generated from this file by clients/python/gen_sync.py
(`python scripts/gen_openapi.py` runs it): change the clients here."""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx

from layers_partner import _core, errors, models
from layers_partner._core import Call, Model, RetryPolicy
from layers_partner.webhooks import WebhookEvent


class _AsyncTransport:
    def __init__(
        self, base_url: str, api_key: str, timeout: float, retry: RetryPolicy, http: httpx.AsyncClient
    ) -> None:
        self.base_url, self.api_key, self.timeout, self.retry, self.http = base_url, api_key, timeout, retry, http

    async def send(self, call: Call) -> httpx.Response:
        """The call's answer (2xx or 304), tried again while the rules allow; its error otherwise."""
        attempts = _core.Attempts(self.retry)
        while True:
            attempts.start()
            arguments = _core.request_arguments(call, self.base_url, self.api_key, attempts.timeout(self.timeout))
            try:
                response = await self.http.request(**arguments)
            except httpx.TransportError as exc:
                await asyncio.sleep(attempts.delay_before_retry(exc, f"{call.method} {call.path}"))
                continue
            finally:
                _core.close_files(arguments)
            failure = _core.failure_of(response)
            if failure is None:
                return response
            await asyncio.sleep(attempts.delay_before_retry(failure, f"{call.method} {call.path}"))

    async def model(self, call: Call, model: type[Model]) -> Model:
        return _core.parse(model, await self.send(call))

    async def pages(self, path: str, page: type[Any], limit: int | None, **filters: Any) -> AsyncIterator[Any]:
        cursor = None
        while True:
            answer = await self.model(_core.page(path, cursor, limit, **filters), page)
            for item in answer.items:
                yield item
            if not answer.next_cursor:
                return
            cursor = answer.next_cursor


class AsyncJobs:
    def __init__(self, transport: _AsyncTransport) -> None:
        self._t = transport
        self._waits: _core.Waits[_core.AsyncWake] = _core.Waits()

    async def get(self, job_id: str) -> models.Job:
        return await self._t.model(Call("GET", f"/v1/jobs/{job_id}"), models.Job)

    async def cancel(self, job_id: str, *, idempotency_key: str | None = None) -> models.CancelResult:
        call = Call("POST", f"/v1/jobs/{job_id}/cancel", idempotency_key=idempotency_key)
        return await self._t.model(call, models.CancelResult)

    def notify(self, event: WebhookEvent) -> None:
        """Hand over a verified webhook event (from any thread): a `wait` for its job returns at once."""
        for woken in self._waits.ended(event):
            woken.set()

    async def wait(
        self,
        job_id: str,
        *,
        timeout: float = 900.0,
        interval: float = 1.0,
        max_interval: float = 10.0,
        raise_on_failure: bool = False,
    ) -> models.Job:
        """Poll the job (If-None-Match, the interval growing to `max_interval`) until it ends, or until a
        webhook event handed to `notify` says it has; then the job as it ended."""
        poll = _core.Poll(job_id, interval, max_interval, timeout)
        woken = _core.AsyncWake()
        with self._waits.waiting(job_id, woken):
            while True:
                job = poll.take(await self._t.send(poll.call()))
                if _core.is_terminal(job):
                    return _core.finished(job, raise_on_failure)
                left = poll.time_left(job)
                if not self._waits.take_ended(job_id):
                    await woken.wait(min(poll.next_delay(), left))
                woken.clear()


class AsyncContent:
    def __init__(self, transport: _AsyncTransport) -> None:
        self._t = transport

    async def get(self, container_id: str) -> models.Container:
        return await self._t.model(Call("GET", f"/v1/content/{container_id}"), models.Container)

    async def progress(self, container_id: str) -> models.Progress:
        return await self._t.model(Call("GET", f"/v1/content/{container_id}/progress"), models.Progress)

    async def asset(self, container_id: str, asset_id: str) -> models.Asset:
        return await self._t.model(Call("GET", f"/v1/content/{container_id}/assets/{asset_id}"), models.Asset)

    async def download(
        self, asset: models.Asset | str, to: str | os.PathLike[str], *, chunk_bytes: int = 1 << 16
    ) -> Path:
        """Stream an asset (or a signed URL) into `to`: resumed with Range after a broken connection,
        checked against the asset's checksumSha256, and only then in place. No API key is sent."""
        download = _core.download_of(asset, to, self._t.base_url)
        attempts = _core.Attempts(self._t.retry)
        while True:
            attempts.start()
            arguments = download.request_arguments(attempts.timeout(self._t.timeout))
            try:
                async with self._t.http.stream(**arguments) as response:
                    if response.status_code >= 400:
                        await response.aread()
                    sink = download.open(response)
                    if sink is not None:
                        with sink:
                            async for chunk in response.aiter_bytes(chunk_bytes):
                                sink.write(chunk)
                return download.finish()
            except (httpx.TransportError, errors.TransportError, errors.ApiError) as exc:
                await asyncio.sleep(attempts.delay_before_retry(exc, f"download {download.url}"))


class AsyncMedia:
    def __init__(self, transport: _AsyncTransport) -> None:
        self._t = transport

    async def upload(
        self,
        project_id: str,
        source: str | os.PathLike[str],
        *,
        kind: str = "demo-video",
        idempotency_key: str | None = None,
    ) -> models.MediaItem:
        """A local file (multipart) or an https URL the API fetches; `kind` demo-video, logo, screenshot, end-card."""
        return await self._t.model(_core.upload(project_id, source, kind, idempotency_key), models.MediaItem)

    def list(
        self, project_id: str, *, role: str | None = None, limit: int | None = None
    ) -> AsyncIterator[models.MediaItem]:
        return self._t.pages(f"/v1/projects/{project_id}/media", models.MediaPage, limit, role=role)


class AsyncWebhooks:
    def __init__(self, transport: _AsyncTransport) -> None:
        self._t = transport

    async def create(
        self,
        url: str,
        events: list[str],
        *,
        description: str | None = None,
        project_id: str | None = None,
        idempotency_key: str | None = None,
    ) -> models.CreatedWebhookEndpoint:
        call = _core.webhook_create(url, events, description, project_id, idempotency_key)
        return await self._t.model(call, models.CreatedWebhookEndpoint)

    def list(self, *, limit: int | None = None) -> AsyncIterator[models.WebhookEndpoint]:
        return self._t.pages("/v1/webhook-endpoints", models.WebhookEndpointPage, limit)

    async def get(self, endpoint_id: str) -> models.WebhookEndpoint:
        return await self._t.model(Call("GET", f"/v1/webhook-endpoints/{endpoint_id}"), models.WebhookEndpoint)

    async def update(self, endpoint_id: str, **changes: Any) -> models.WebhookEndpoint:
        """Change `url`, `events`, `description` or `status` ("active" / "paused")."""
        return await self._t.model(_core.webhook_update(endpoint_id, **changes), models.WebhookEndpoint)

    async def delete(self, endpoint_id: str) -> None:
        await self._t.send(Call("DELETE", f"/v1/webhook-endpoints/{endpoint_id}"))

    async def rotate_secret(self, endpoint_id: str) -> models.RotatedWebhookSecret:
        call = Call("POST", f"/v1/webhook-endpoints/{endpoint_id}/rotate-secret")
        return await self._t.model(call, models.RotatedWebhookSecret)

    async def test(self, endpoint_id: str) -> models.WebhookTestAccepted:
        call = Call("POST", f"/v1/webhook-endpoints/{endpoint_id}/test")
        return await self._t.model(call, models.WebhookTestAccepted)

    def deliveries(self, endpoint_id: str, *, limit: int | None = None) -> AsyncIterator[models.WebhookDelivery]:
        path = f"/v1/webhook-endpoints/{endpoint_id}/deliveries"
        return self._t.pages(path, models.WebhookDeliveryPage, limit)

    async def replay(self, delivery_id: str) -> models.ReplayAccepted:
        call = Call("POST", f"/v1/webhook-deliveries/{delivery_id}/replay")
        return await self._t.model(call, models.ReplayAccepted)


class AsyncClient:
    """The Layers partner API over asyncio. `api_key` and `base_url` default to LAYERS_API_KEY and LAYERS_BASE_URL."""

    def __init__(
        self,
        api_key: str | None = None,
        *,
        base_url: str | None = None,
        timeout: float = 30.0,
        retry: RetryPolicy | None = None,
        http_client: httpx.AsyncClient | None = None,
    ) -> None:
        self.base_url = _core.normalize_base_url(base_url)
        self._own_http = http_client is None
        self._http = http_client or httpx.AsyncClient()
        key = _core.api_key_of(api_key)
        self._t = _AsyncTransport(self.base_url, key, timeout, retry or RetryPolicy(), self._http)
        self.jobs = AsyncJobs(self._t)
        self.content = AsyncContent(self._t)
        self.media = AsyncMedia(self._t)
        self.webhooks = AsyncWebhooks(self._t)

    async def ugc_remix(
        self,
        project_id: str,
        *,
        influencer_id: str | None = None,
        social_account_id: str | None = None,
        hook: str | None = None,
        media_id: str | None = None,
        idempotency_key: str | None = None,
    ) -> models.AcceptedJob:
        """Start a UGC reaction video; one Idempotency-Key (yours, or a fresh one) covers every retry."""
        call = _core.ugc_remix(project_id, influencer_id, social_account_id, hook, media_id, idempotency_key)
        return await self._t.model(call, models.AcceptedJob)

    def influencers(self, project_id: str, *, limit: int | None = None) -> AsyncIterator[models.Influencer]:
        return self._t.pages(f"/v1/projects/{project_id}/influencers", models.InfluencerPage, limit)

    def social_accounts(self, project_id: str, *, limit: int | None = None) -> AsyncIterator[models.SocialAccount]:
        return self._t.pages(f"/v1/projects/{project_id}/social-accounts", models.SocialAccountPage, limit)

    async def credits(self) -> models.Credits:
        return await self._t.model(Call("GET", "/v1/credits"), models.Credits)

    async def whoami(self) -> models.WhoAmI:
        return await self._t.model(Call("GET", "/v1/whoami"), models.WhoAmI)

    async def aclose(self) -> None:
        if self._own_http:
            await self._http.aclose()

    async def __aenter__(self) -> AsyncClient:
        return self

    async def __aexit__(self, *_exc: object) -> None:
        await self.aclose()
