// One class per `error.code` of the API's error envelope, and the SDK's own failures.
import type { components } from "./schema.js";

type ErrorCode = components["schemas"]["ErrorBody"]["code"];

export class LayersError extends Error {
  constructor(message: string) {
    super(message);
    this.name = new.target.name; // the subclass: NotFound, ValidationError, …
  }
}

export interface ApiErrorInit {
  status: number;
  code?: string;
  requestId?: string | null;
  details?: Record<string, unknown>;
  headers?: Headers;
}

/** The API answered with its error envelope: `status`, `code`, `requestId`, `details`. */
export class ApiError extends LayersError {
  static readonly code: string = "";
  readonly status: number;
  readonly code: string;
  readonly requestId: string | null;
  readonly details: Record<string, unknown>;
  readonly headers: Headers;

  constructor(message: string, init: ApiErrorInit) {
    super(message);
    this.status = init.status;
    this.code = init.code || (this.constructor as typeof ApiError).code;
    this.requestId = init.requestId ?? null;
    this.details = init.details ?? {};
    this.headers = init.headers ?? new Headers();
  }
}

export class Unauthenticated extends ApiError { static override readonly code = "UNAUTHENTICATED"; }
export class ForbiddenScope extends ApiError { static override readonly code = "FORBIDDEN_SCOPE"; }
export class NotFound extends ApiError { static override readonly code = "NOT_FOUND"; }
/** 422: `fields` lists each refused field; `detailCode` is a ugc-remix failure such as MISSING_APP_DEMO. */
export class ValidationError extends ApiError {
  static override readonly code = "VALIDATION";
  get fields(): { field: string; problem: string }[] {
    return (this.details.fields as { field: string; problem: string }[] | undefined) ?? [];
  }
  get detailCode(): string | undefined {
    return this.details.code as string | undefined;
  }
}
export class BillingExhausted extends ApiError { static override readonly code = "BILLING_EXHAUSTED"; }
/** 409: `reason` BODY_MISMATCH (the key was used with another body) or IN_PROGRESS (retried). */
export class IdempotencyConflict extends ApiError {
  static override readonly code = "IDEMPOTENCY_CONFLICT";
  get reason(): string | undefined {
    return this.details.reason as string | undefined;
  }
}
export class Conflict extends ApiError { static override readonly code = "CONFLICT"; }
export class PayloadTooLarge extends ApiError { static override readonly code = "PAYLOAD_TOO_LARGE"; }
export class RateLimited extends ApiError { static override readonly code = "RATE_LIMITED"; }
export class ForbiddenSignature extends ApiError { static override readonly code = "FORBIDDEN_SIGNATURE"; }
export class RangeNotSatisfiable extends ApiError { static override readonly code = "RANGE_NOT_SATISFIABLE"; }
export class MethodNotAllowed extends ApiError { static override readonly code = "METHOD_NOT_ALLOWED"; }
export class BadRequest extends ApiError { static override readonly code = "BAD_REQUEST"; }
export class HeadersTooLarge extends ApiError { static override readonly code = "HEADERS_TOO_LARGE"; }
export class RequestTimeout extends ApiError { static override readonly code = "REQUEST_TIMEOUT"; }
export class InternalError extends ApiError { static override readonly code = "INTERNAL"; }
export class Unavailable extends ApiError { static override readonly code = "UNAVAILABLE"; }

// Typed by the OpenAPI document's codes: a code added there and not here fails the build.
export const ERRORS: Record<ErrorCode, typeof ApiError> = {
  UNAUTHENTICATED: Unauthenticated,
  FORBIDDEN_SCOPE: ForbiddenScope,
  NOT_FOUND: NotFound,
  VALIDATION: ValidationError,
  BILLING_EXHAUSTED: BillingExhausted,
  IDEMPOTENCY_CONFLICT: IdempotencyConflict,
  CONFLICT: Conflict,
  PAYLOAD_TOO_LARGE: PayloadTooLarge,
  RATE_LIMITED: RateLimited,
  FORBIDDEN_SIGNATURE: ForbiddenSignature,
  RANGE_NOT_SATISFIABLE: RangeNotSatisfiable,
  METHOD_NOT_ALLOWED: MethodNotAllowed,
  BAD_REQUEST: BadRequest,
  HEADERS_TOO_LARGE: HeadersTooLarge,
  REQUEST_TIMEOUT: RequestTimeout,
  INTERNAL: InternalError,
  UNAVAILABLE: Unavailable,
};

/** The API could not be reached (or the connection broke) and retrying did not help. */
export class TransportError extends LayersError {}
/** The call's total deadline passed; `last` is the last failure seen. */
export class DeadlineExceeded extends LayersError {
  constructor(message: string, readonly last?: unknown) {
    super(message);
  }
}
/** A downloaded file's SHA-256 is not the asset's checksumSha256; the file was removed. */
export class ChecksumMismatch extends LayersError {}
/** `jobs.wait(id, { raiseOnFailure: true })` saw the job end failed or canceled. */
export class JobFailed extends LayersError {
  constructor(message: string, readonly job: unknown) {
    super(message);
  }
}
/** A webhook delivery whose signature or timestamp does not hold. */
export class WebhookVerificationError extends LayersError {}

/** Retry-After in seconds, or null. */
/** Retry-After in seconds, or null. The API sends seconds; a proxy or load balancer may send an HTTP-date. */
export function retryAfterSeconds(headers: Headers, now: number = Date.now()): number | null {
  const value = headers.get("retry-after")?.trim();
  if (value === undefined || value === "") return null;
  if (/^\d+(\.\d+)?$/.test(value)) return Number(value);
  const when = Date.parse(value);
  return Number.isNaN(when) ? null : Math.max(0, (when - now) / 1000);
}

/** The error an answer is: its envelope's code picks the class (an unknown code: ApiError). */
export function errorFrom(status: number, body: string, headers: Headers): ApiError {
  let error: Record<string, unknown> = {};
  try {
    const parsed = JSON.parse(body) as { error?: Record<string, unknown> };
    if (parsed && typeof parsed.error === "object" && parsed.error !== null) error = parsed.error;
  } catch {
    // not the envelope: described by the status alone
  }
  const code = typeof error.code === "string" ? error.code : "";
  const cls = (ERRORS as Record<string, typeof ApiError>)[code] ?? ApiError;
  const message = typeof error.message === "string" ? error.message : `HTTP ${status} without the error envelope`;
  const details = typeof error.details === "object" && error.details !== null ? (error.details as Record<string, unknown>) : {};
  const requestId = typeof error.requestId === "string" ? error.requestId : headers.get("x-request-id");
  return new cls(message, { status, code: code || undefined, requestId, details, headers });
}
