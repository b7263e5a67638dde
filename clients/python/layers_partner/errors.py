"""One exception class per `error.code` of the API's error envelope, and the SDK's own failures.

Every API error carries what the envelope says (`code`, `message`, `request_id`, `details`) and the HTTP
`status`; catch `LayersError` for all of them, or the one class of the code you handle.
"""

from __future__ import annotations

import email.utils
import json
from datetime import UTC, datetime
from typing import Any


class LayersError(Exception):
    """Base of everything this SDK raises."""


class ApiError(LayersError):
    """The API answered with its error envelope."""

    code = ""

    def __init__(
        self,
        message: str,
        *,
        status: int,
        code: str | None = None,
        request_id: str | None = None,
        details: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.status = status
        self.code = code or type(self).code
        self.request_id = request_id
        self.details: dict[str, Any] = dict(details or {})
        self.headers: dict[str, str] = dict(headers or {})

    def __str__(self) -> str:
        where = f" [{self.request_id}]" if self.request_id else ""
        return f"{self.status} {self.code}: {self.message}{where}"


class Unauthenticated(ApiError):
    code = "UNAUTHENTICATED"


class ForbiddenScope(ApiError):
    code = "FORBIDDEN_SCOPE"

    @property
    def required_scope(self) -> str | None:
        return self.details.get("requiredScope")


class NotFound(ApiError):
    code = "NOT_FOUND"


class ValidationError(ApiError):
    """422: `fields` lists each refused field; `detail_code` is the ugc-remix failure (e.g. MISSING_APP_DEMO)."""

    code = "VALIDATION"

    @property
    def fields(self) -> list[dict[str, str]]:
        return list(self.details.get("fields") or [])

    @property
    def detail_code(self) -> str | None:
        return self.details.get("code")


class BillingExhausted(ApiError):
    code = "BILLING_EXHAUSTED"

    @property
    def required(self) -> int | None:
        return self.details.get("required")

    @property
    def available(self) -> int | None:
        return self.details.get("available")


class IdempotencyConflict(ApiError):
    """409: the key was used with another body (`reason` BODY_MISMATCH) or is still running (IN_PROGRESS)."""

    code = "IDEMPOTENCY_CONFLICT"

    @property
    def reason(self) -> str | None:
        return self.details.get("reason")


class Conflict(ApiError):
    code = "CONFLICT"

    @property
    def subcode(self) -> str | None:
        return self.details.get("subcode")


class PayloadTooLarge(ApiError):
    code = "PAYLOAD_TOO_LARGE"


class RateLimited(ApiError):
    code = "RATE_LIMITED"

    @property
    def retry_after_seconds(self) -> float | None:
        return retry_after(self.headers) or self.details.get("retryAfterSeconds")


class ForbiddenSignature(ApiError):
    """403 on a download link: tampered with, or expired (ask for the asset again for a fresh one)."""

    code = "FORBIDDEN_SIGNATURE"


class RangeNotSatisfiable(ApiError):
    code = "RANGE_NOT_SATISFIABLE"


class MethodNotAllowed(ApiError):
    code = "METHOD_NOT_ALLOWED"


class BadRequest(ApiError):
    code = "BAD_REQUEST"


class HeadersTooLarge(ApiError):
    code = "HEADERS_TOO_LARGE"


class RequestTimeout(ApiError):
    code = "REQUEST_TIMEOUT"


class InternalError(ApiError):
    code = "INTERNAL"


class Unavailable(ApiError):
    code = "UNAVAILABLE"


ERRORS: dict[str, type[ApiError]] = {
    cls.code: cls
    for cls in (
        Unauthenticated,
        ForbiddenScope,
        NotFound,
        ValidationError,
        BillingExhausted,
        IdempotencyConflict,
        Conflict,
        PayloadTooLarge,
        RateLimited,
        ForbiddenSignature,
        RangeNotSatisfiable,
        MethodNotAllowed,
        BadRequest,
        HeadersTooLarge,
        RequestTimeout,
        InternalError,
        Unavailable,
    )
}


class TransportError(LayersError):
    """The API could not be reached (or the connection broke) and retrying did not help in time."""


class DeadlineExceeded(LayersError):
    """The call's total deadline passed before it succeeded; `last` is the last failure seen."""

    def __init__(self, message: str, last: BaseException | None = None) -> None:
        super().__init__(message)
        self.last = last


class ChecksumMismatch(LayersError):
    """A downloaded file's SHA-256 is not the asset's `checksumSha256`; the file was removed."""


class JobFailed(LayersError):
    """`jobs.wait(..., raise_on_failure=True)` saw the job end failed or canceled."""

    def __init__(self, message: str, job: Any) -> None:
        super().__init__(message)
        self.job = job


class WebhookVerificationError(LayersError):
    """A webhook delivery whose signature or timestamp does not hold."""


def retry_after(headers: Any) -> float | None:
    """Retry-After in seconds, or None. The API sends seconds; a proxy or load balancer in front of it may
    send an HTTP-date."""
    value = headers.get("retry-after") if headers is not None else None
    if value is None:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        return None
    return max(0.0, (when - datetime.now(UTC)).total_seconds())


def from_response(status: int, body: bytes, headers: Any) -> ApiError:
    """The exception for an error answer: its envelope's code picks the class (unknown codes: ApiError)."""
    error: dict[str, Any] = {}
    try:
        parsed = json.loads(body) if body else {}
        if isinstance(parsed, dict) and isinstance(parsed.get("error"), dict):
            error = parsed["error"]
    except ValueError:
        pass
    code = str(error.get("code") or "")
    cls = ERRORS.get(code, ApiError)
    message = str(error.get("message") or f"HTTP {status} without the error envelope")
    details = error.get("details") if isinstance(error.get("details"), dict) else {}
    request_id = error.get("requestId") or (headers.get("x-request-id") if headers is not None else None)
    return cls(
        message,
        status=status,
        code=code or None,
        request_id=request_id,
        details=details,
        headers={k.lower(): v for k, v in dict(headers or {}).items()},
    )
