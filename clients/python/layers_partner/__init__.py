"""The Layers partner API from Python: `Client` (sync) and `AsyncClient` (asyncio), typed models for every
schema of the API's OpenAPI document, one exception per error code, and webhook verification.

    from layers_partner import Client

    with Client() as layers:  # LAYERS_API_KEY, LAYERS_BASE_URL
        job = layers.ugc_remix(project_id, influencer_id="inf_…", hook="Wait for it")
        done = layers.jobs.wait(job.job_id)
        layers.content.download(done.result.assets[0], "remix.mp4")
"""

from layers_partner import models, webhooks
from layers_partner._core import NO_RETRY, RetryPolicy, __version__
from layers_partner.aio import AsyncClient
from layers_partner.client import Client
from layers_partner.errors import (
    ApiError,
    BadRequest,
    BillingExhausted,
    ChecksumMismatch,
    Conflict,
    DeadlineExceeded,
    ForbiddenScope,
    ForbiddenSignature,
    HeadersTooLarge,
    IdempotencyConflict,
    InternalError,
    JobFailed,
    LayersError,
    MethodNotAllowed,
    NotFound,
    PayloadTooLarge,
    RangeNotSatisfiable,
    RateLimited,
    RequestTimeout,
    TransportError,
    Unauthenticated,
    Unavailable,
    ValidationError,
    WebhookVerificationError,
)

__all__ = [
    "NO_RETRY",
    "ApiError",
    "AsyncClient",
    "BadRequest",
    "BillingExhausted",
    "ChecksumMismatch",
    "Client",
    "Conflict",
    "DeadlineExceeded",
    "ForbiddenScope",
    "ForbiddenSignature",
    "HeadersTooLarge",
    "IdempotencyConflict",
    "InternalError",
    "JobFailed",
    "LayersError",
    "MethodNotAllowed",
    "NotFound",
    "PayloadTooLarge",
    "RangeNotSatisfiable",
    "RateLimited",
    "RequestTimeout",
    "RetryPolicy",
    "TransportError",
    "Unauthenticated",
    "Unavailable",
    "ValidationError",
    "WebhookVerificationError",
    "__version__",
    "models",
    "webhooks",
]
