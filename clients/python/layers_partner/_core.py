"""What the sync and the async client share: the calls the API takes, the retry rules, paging, the waits
for jobs and the state of a resumable download. No I/O here; client.py and aio.py do it, each in its own way."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import mimetypes
import os
import random
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, Generic, TypeVar
from urllib.parse import urljoin

import httpx
from pydantic import BaseModel

from layers_partner import errors, models
from layers_partner.webhooks import TERMINAL_EVENTS, WebhookEvent

__version__ = "0.1.0"
DEFAULT_BASE_URL = "http://127.0.0.1:8080"
USER_AGENT = f"layers-partner-python/{__version__}"
TERMINAL_STATUSES = frozenset({"completed", "failed", "canceled"})
MEDIA_KINDS = frozenset({"demo-video", "logo", "screenshot", "end-card"})
HOOK_MAX_CHARACTERS = 2000
MAX_PAGE_LIMIT = 200

Model = TypeVar("Model", bound=BaseModel)
WakeT = TypeVar("WakeT", "Wake", "AsyncWake")


@dataclass(frozen=True)
class RetryPolicy:
    """When and how long to retry: connection errors, 408, 429, 503 and 409 IN_PROGRESS, with full-jitter
    exponential backoff (never sooner than a Retry-After), at most `max_attempts` tries in all and never
    past `deadline_seconds` from the call's start. A POST keeps its Idempotency-Key across tries."""

    max_attempts: int = 6
    initial_backoff_seconds: float = 0.5
    max_backoff_seconds: float = 20.0
    deadline_seconds: float = 120.0

    def __post_init__(self) -> None:
        if not 1 <= self.max_attempts <= 100:
            raise ValueError("max_attempts must be from 1 to 100")
        if self.initial_backoff_seconds < 0 or self.max_backoff_seconds < self.initial_backoff_seconds:
            raise ValueError("backoff must be 0 <= initial_backoff_seconds <= max_backoff_seconds")
        if not 0 < self.deadline_seconds <= 24 * 3600:
            raise ValueError("deadline_seconds must be more than 0 and at most a day")

    def backoff(self, attempt: int, retry_after: float | None, rng: Callable[[], float] = random.random) -> float:
        """Seconds to wait after try number `attempt` (1-based) failed."""
        ceiling = min(self.max_backoff_seconds, self.initial_backoff_seconds * 2 ** (attempt - 1))
        jittered = ceiling * rng()
        return max(jittered, retry_after) if retry_after is not None else jittered


NO_RETRY = RetryPolicy(max_attempts=1)


def retryable(error: errors.ApiError) -> bool:
    """A 4xx is never retried except 408, 429 and 409 IN_PROGRESS; a 5xx only when it is 503."""
    if error.status in (408, 429, 503):
        return True
    return isinstance(error, errors.IdempotencyConflict) and error.reason == "IN_PROGRESS"


@dataclass
class Call:
    """One API operation, as often as it is tried."""

    method: str
    path: str
    params: dict[str, Any] = field(default_factory=dict)
    json: Any = None
    # Multipart uploads open their file for every try: a factory, not an open file.
    files: Callable[[], dict[str, tuple[str, IO[bytes], str]]] | None = None
    data: dict[str, str] | None = None
    headers: dict[str, str] = field(default_factory=dict)
    idempotency_key: str | None = None

    def __post_init__(self) -> None:
        if self.method == "POST" and self.idempotency_key is None:
            self.idempotency_key = str(uuid.uuid4())
        self.params = {k: v for k, v in self.params.items() if v is not None}


class Attempts:
    """The try loop's bookkeeping for one call: its deadline, the delay before the next try, the last error."""

    def __init__(self, policy: RetryPolicy, clock: Callable[[], float] = time.monotonic) -> None:
        self.policy = policy
        self.clock = clock
        self.deadline = clock() + policy.deadline_seconds
        self.number = 0
        self.last: BaseException | None = None

    def remaining(self) -> float:
        return self.deadline - self.clock()

    def start(self) -> None:
        self.number += 1

    def delay_after(self, failure: BaseException, retry_after: float | None = None) -> float:
        """The seconds to wait before trying again, or re-raise `failure` when the rules say not to."""
        self.last = failure
        if self.number >= self.policy.max_attempts:
            raise failure
        delay = self.policy.backoff(self.number, retry_after)
        if delay >= self.remaining():
            if isinstance(failure, errors.ApiError):
                raise failure
            raise errors.DeadlineExceeded(
                f"gave up after {self.number} tries in {self.policy.deadline_seconds:g} s: {failure}", failure
            ) from failure
        return delay

    def delay_before_retry(self, failure: Exception, what: str) -> float:
        """`delay_after` for what a try of `what` can end in: a broken connection, an error of ours (a
        resume that does not fit) or the API's error answer (retried only when `retryable`, never sooner
        than its Retry-After)."""
        if isinstance(failure, httpx.TransportError):
            return self.delay_after(errors.TransportError(f"{what}: {failure!r}"))
        if isinstance(failure, errors.ApiError):
            if not retryable(failure):
                raise failure
            return self.delay_after(failure, errors.retry_after(failure.headers))
        return self.delay_after(failure)

    def timeout(self, per_try: float) -> float:
        left = self.remaining()
        if left <= 0:
            raise errors.DeadlineExceeded(f"no time left for another try: {self.last}", self.last)
        return min(per_try, left)


def request_arguments(call: Call, base_url: str, api_key: str, timeout: float) -> dict[str, Any]:
    headers = {"Authorization": f"Bearer {api_key}", "User-Agent": USER_AGENT, "Accept": "application/json"}
    if call.idempotency_key is not None:
        headers["Idempotency-Key"] = call.idempotency_key
    headers.update(call.headers)
    arguments: dict[str, Any] = {
        "method": call.method,
        "url": f"{base_url}{call.path}",
        "params": call.params or None,
        "headers": headers,
        "timeout": timeout,
    }
    if call.json is not None:
        arguments["json"] = call.json
    if call.files is not None:
        arguments["files"] = call.files()
        arguments["data"] = call.data
    return arguments


def close_files(arguments: dict[str, Any]) -> None:
    """Close the files `request_arguments` opened for a multipart try, however the try ended."""
    for _, handle, _ in (arguments.get("files") or {}).values():
        handle.close()


def failure_of(response: httpx.Response) -> errors.ApiError | None:
    """The error an answer is, or None for a 2xx or 304."""
    if response.is_success or response.status_code == 304:
        return None
    return errors.from_response(response.status_code, response.content, response.headers)


def parse(model: type[Model], response: httpx.Response) -> Model:
    return model.model_validate_json(response.content)


def normalize_base_url(base_url: str | None) -> str:
    url = (base_url or os.environ.get("LAYERS_BASE_URL") or DEFAULT_BASE_URL).rstrip("/")
    if not url.startswith(("http://", "https://")):
        raise ValueError(f"base_url must start with http:// or https:// (got {url!r})")
    return url


def api_key_of(api_key: str | None) -> str:
    key = api_key or os.environ.get("LAYERS_API_KEY")
    if not key:
        raise ValueError("no API key: pass api_key= or set LAYERS_API_KEY")
    return key


# --- the calls -------------------------------------------------------------------------------------------


def ugc_remix(
    project_id: str,
    influencer_id: str | None,
    social_account_id: str | None,
    hook: str | None,
    media_id: str | None,
    idempotency_key: str | None,
) -> Call:
    if not influencer_id and not social_account_id:
        raise ValueError("ugc_remix needs influencer_id= or social_account_id=")
    if hook is not None and not 1 <= len(hook) <= HOOK_MAX_CHARACTERS:
        raise ValueError(f"hook must be 1 to {HOOK_MAX_CHARACTERS} characters")
    body = models.UgcRemixBody.model_validate(
        {"influencer_id": influencer_id, "social_account_id": social_account_id, "hook": hook, "media_id": media_id}
    )
    return Call(
        "POST",
        f"/v1/projects/{project_id}/content/ugc-remix",
        json=body.model_dump(by_alias=True, exclude_none=True),
        idempotency_key=idempotency_key,
    )


def page(path: str, cursor: str | None, limit: int | None, **filters: Any) -> Call:
    if limit is not None and not 1 <= limit <= MAX_PAGE_LIMIT:
        raise ValueError(f"limit must be from 1 to {MAX_PAGE_LIMIT}")
    return Call("GET", path, params={"limit": limit, "cursor": cursor, **filters})


def upload(project_id: str, source: str | os.PathLike[str], kind: str, idempotency_key: str | None) -> Call:
    """A URL (the API fetches it over https) or a local file (sent as multipart)."""
    if kind not in MEDIA_KINDS:
        raise ValueError(f"kind must be one of {sorted(MEDIA_KINDS)}")
    path = f"/v1/projects/{project_id}/app-media"
    if isinstance(source, str) and source.startswith(("https://", "http://")):
        body = models.AppMediaUrlBody.model_validate({"kind": kind, "url": source})
        return Call("POST", path, json=body.model_dump(by_alias=True), idempotency_key=idempotency_key)
    file = Path(source)
    if not file.is_file():
        raise FileNotFoundError(f"no such file to upload: {file}")
    mime = mimetypes.guess_type(file.name)[0] or "application/octet-stream"

    def files() -> dict[str, tuple[str, IO[bytes], str]]:
        return {"file": (file.name, file.open("rb"), mime)}

    return Call("POST", path, files=files, data={"kind": kind}, idempotency_key=idempotency_key)


def webhook_update(endpoint_id: str, **changes: Any) -> Call:
    body = models.UpdateWebhookEndpointBody.model_validate(changes)
    fields = body.model_dump(by_alias=True, exclude_unset=True, exclude_none=True)
    if not fields:
        raise ValueError("nothing to change: pass url=, events=, description= or status=")
    return Call("PATCH", f"/v1/webhook-endpoints/{endpoint_id}", json=fields)


def webhook_create(
    url: str, events: list[str], description: str | None, project_id: str | None, idempotency_key: str | None
) -> Call:
    body = models.CreateWebhookEndpointBody.model_validate(
        {"url": url, "events": events, "description": description or "", "project_id": project_id}
    )
    return Call(
        "POST",
        "/v1/webhook-endpoints",
        json=body.model_dump(by_alias=True, exclude_none=True),
        idempotency_key=idempotency_key,
    )


# --- waiting for a job -------------------------------------------------------------------------------------


@dataclass
class Poll:
    """A job being waited for: its last answer and ETag (polls send If-None-Match), the growing interval,
    the wait's deadline."""

    job_id: str
    interval: float
    max_interval: float
    timeout: float
    etag: str | None = None
    job: models.Job | None = None
    deadline: float = field(init=False)

    def __post_init__(self) -> None:
        if not 0 < self.interval <= self.max_interval <= 300:
            raise ValueError("need 0 < interval <= max_interval <= 300 seconds")
        self.deadline = time.monotonic() + self.timeout

    def call(self) -> Call:
        headers = {"If-None-Match": self.etag} if self.etag else {}
        return Call("GET", f"/v1/jobs/{self.job_id}", headers=headers)

    def take(self, response: httpx.Response) -> models.Job:
        if response.status_code != 304 or self.job is None:
            self.job = parse(models.Job, response)
            self.etag = response.headers.get("etag")
        return self.job

    def next_delay(self) -> float:
        delay, self.interval = self.interval, min(self.max_interval, self.interval * 1.6)
        return delay

    def time_left(self, job: models.Job) -> float:
        """The seconds left before the deadline; DeadlineExceeded once it has passed with `job` still going."""
        left = self.deadline - time.monotonic()
        if left <= 0:
            raise errors.DeadlineExceeded(
                f"job {self.job_id} still {job.status} ({job.stage}) after {self.timeout:g} s"
            )
        return left


class EndedJobs:
    """Jobs a webhook event said have ended, kept (the most recent `limit`) until a wait takes them: an
    event that arrives before its wait starts is not lost."""

    def __init__(self, limit: int = 10_000) -> None:
        self._ids: dict[str, None] = {}
        self._limit = limit

    def add(self, job_id: str) -> None:
        self._ids[job_id] = None
        while len(self._ids) > self._limit:
            del self._ids[next(iter(self._ids))]

    def take(self, job_id: str) -> bool:
        return self._ids.pop(job_id, 0) is None


class Wake:
    """The sync client's pause between polls, which a webhook event handed over from any thread cuts short."""

    def __init__(self) -> None:
        self._event = threading.Event()

    def set(self) -> None:
        self._event.set()

    def clear(self) -> None:
        self._event.clear()

    def wait(self, seconds: float) -> None:
        self._event.wait(seconds)


class AsyncWake:
    """The same pause for a coroutine: `set` may still come from any thread, so it goes through the loop."""

    def __init__(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._event = asyncio.Event()

    def set(self) -> None:
        # The loop may have closed since the wait was handed out (asyncio.run returned): nobody waits then.
        with contextlib.suppress(RuntimeError):
            self._loop.call_soon_threadsafe(self._event.set)

    def clear(self) -> None:
        self._event.clear()

    async def wait(self, seconds: float) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._event.wait(), seconds)


class Waits(Generic[WakeT]):
    """The waits in progress and the jobs webhook events said have ended, shared with whichever thread hands
    the events over. Each client wakes its own kind of pause: `Wake` or `AsyncWake`."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._ended = EndedJobs()
        self._waiting: dict[str, set[WakeT]] = {}

    def ended(self, event: WebhookEvent) -> list[WakeT]:
        """Note that a terminal event's job has ended; the waits in progress for it, to wake."""
        if event.type not in TERMINAL_EVENTS or not event.job_id:
            return []
        with self._lock:
            self._ended.add(event.job_id)
            return list(self._waiting.get(event.job_id, ()))

    @contextlib.contextmanager
    def waiting(self, job_id: str, wake: WakeT) -> Iterator[None]:
        with self._lock:
            self._waiting.setdefault(job_id, set()).add(wake)
        try:
            yield
        finally:
            with self._lock:
                waits = self._waiting.get(job_id, set())
                waits.discard(wake)
                if not waits:
                    self._waiting.pop(job_id, None)

    def take_ended(self, job_id: str) -> bool:
        """Whether an event said the job has ended since the last poll (then poll again at once)."""
        with self._lock:
            return self._ended.take(job_id)


def is_terminal(job: models.Job) -> bool:
    return job.status in TERMINAL_STATUSES


def finished(job: models.Job, raise_on_failure: bool) -> models.Job:
    if raise_on_failure and job.status != "completed":
        reason = f": {job.error.code}: {job.error.message}" if job.error else ""
        raise errors.JobFailed(f"job {job.job_id} ended {job.status}{reason}", job)
    return job


# --- downloads ---------------------------------------------------------------------------------------------


class Download:
    """A download into `<target>.part`, resumed with Range from what is already there, checked against the
    asset's SHA-256 and renamed into place only when whole."""

    def __init__(self, url: str, target: Path, checksum_sha256: str | None, size_bytes: int | None) -> None:
        self.url = url
        self.target = target
        self.part = target.with_name(target.name + ".part")
        self.checksum = checksum_sha256.lower() if checksum_sha256 else None
        self.size = size_bytes
        # The file's ETag is its quoted SHA-256: a part left by an earlier run resumes only while it is a part
        # of this very file (If-Range). Without a checksum nothing says so, and it starts over.
        self.etag: str | None = f'"{self.checksum}"' if self.checksum else None
        if self.checksum is None:
            self.part.unlink(missing_ok=True)
        self.restarted = False

    def have(self) -> int:
        return self.part.stat().st_size if self.part.exists() else 0

    def headers(self) -> dict[str, str]:
        have = self.have()
        if not have:
            return {}
        headers = {"Range": f"bytes={have}-"}
        if self.etag:
            headers["If-Range"] = self.etag
        return headers

    def request_arguments(self, timeout: float) -> dict[str, Any]:
        """The next try's GET, from where the part ends; no API key (a download URL is signed)."""
        headers = {"User-Agent": USER_AGENT, **self.headers()}
        return {"method": "GET", "url": self.url, "headers": headers, "timeout": timeout}

    def open(self, response: httpx.Response) -> IO[bytes] | None:
        """The file to write this answer's body to (None: nothing to write, the part is already whole)."""
        self.etag = response.headers.get("etag") or self.etag
        if response.status_code == 206:
            start = _range_start(response.headers.get("content-range", ""))
            if start != self.have():
                raise errors.TransportError(f"the server resumed at byte {start}, not {self.have()}")
            return self.part.open("ab")
        if response.status_code == 200:
            self.part.parent.mkdir(parents=True, exist_ok=True)
            return self.part.open("wb")
        if response.status_code == 416 and self.size is not None and self.have() == self.size:
            return None
        if response.status_code == 416:
            self.part.unlink(missing_ok=True)  # the part is longer than the file: start again
            raise errors.TransportError("the partial download does not fit the file; starting over")
        raise errors.from_response(response.status_code, response.content, response.headers)

    def finish(self) -> Path:
        """Check the whole file and move it into place; a bad file is removed (once it is retried whole)."""
        if self.checksum:
            digest = hashlib.sha256()
            with self.part.open("rb") as f:
                for chunk in iter(lambda: f.read(1 << 20), b""):
                    digest.update(chunk)
            if digest.hexdigest() != self.checksum:
                self.part.unlink(missing_ok=True)
                if not self.restarted:
                    self.restarted = True
                    raise errors.TransportError("checksum mismatch after a resumed download; starting over")
                raise errors.ChecksumMismatch(f"{self.target.name}: SHA-256 {digest.hexdigest()} != {self.checksum}")
        self.part.replace(self.target)
        return self.target


def download_of(asset: models.Asset | str, to: str | os.PathLike[str], base_url: str) -> Download:
    if isinstance(asset, models.Asset):
        url, checksum, size = asset.url, asset.checksum_sha256, asset.size_bytes
    else:
        url, checksum, size = asset, None, None
    return Download(urljoin(base_url + "/", url), Path(to), checksum, size)


def _range_start(content_range: str) -> int:
    # "bytes 100-999/1000"
    try:
        return int(content_range.split(" ", 1)[1].split("-", 1)[0])
    except (IndexError, ValueError):
        return -1
