// Checking a webhook delivery: verifyWebhook(rawBody, signatureHeader, secrets) returns the event or throws.
import { createHmac, timingSafeEqual } from "node:crypto";
import { WebhookVerificationError } from "./errors.js";

export const DEFAULT_TOLERANCE_SECONDS = 300;
const MAX_HEADER_LENGTH = 4096;
export const TERMINAL_EVENTS = new Set(["job.completed", "job.failed", "job.canceled"]);

export interface WebhookEvent {
  id: string;
  type: string;
  createdAt?: string;
  data: Record<string, unknown>;
  replayOf?: string;
}

/** The v1 value `secret` gives a body sent at `timestamp`: HMAC-SHA256 of "<t>.<raw body>". */
export function webhookSignature(secret: string, timestamp: number, rawBody: Uint8Array | string): string {
  return createHmac("sha256", secret).update(`${timestamp}.`).update(rawBody).digest("hex");
}

export interface VerifyOptions {
  toleranceSeconds?: number;
  /** Seconds since the epoch (for tests). */
  now?: number;
}

/**
 * The delivery's event when one of `secrets` signed this very body (the raw bytes, not re-serialised JSON)
 * within `toleranceSeconds` of now; WebhookVerificationError otherwise (answer 400 then).
 */
export function verifyWebhook(
  rawBody: Uint8Array | string,
  signatureHeader: string | null | undefined,
  secrets: string | string[],
  options: VerifyOptions = {},
): WebhookEvent {
  const tolerance = options.toleranceSeconds ?? DEFAULT_TOLERANCE_SECONDS;
  if (!signatureHeader || signatureHeader.length > MAX_HEADER_LENGTH) {
    throw new WebhookVerificationError("missing or oversized X-Layers-Signature header");
  }
  const keys = typeof secrets === "string" ? [secrets] : secrets;
  // An empty key would accept anything signed with an empty key: a missing secret, not a check.
  if (keys.length === 0 || keys.some((key) => !key)) {
    throw new WebhookVerificationError("no signing secret to check against (an empty one is none)");
  }
  const pairs = signatureHeader.split(",").map((part) => {
    const at = part.indexOf("=");
    return at < 0 ? ["", ""] : [part.slice(0, at).trim(), part.slice(at + 1).trim()];
  });
  const timestamps = pairs.filter(([name]) => name === "t").map(([, value]) => value ?? "");
  const candidates = pairs.filter(([name]) => name === "v1").map(([, value]) => (value ?? "").toLowerCase());
  const [t] = timestamps;
  if (timestamps.length !== 1 || t === undefined || !/^\d{1,12}$/.test(t)) {
    throw new WebhookVerificationError("the signature header has no valid t=");
  }
  const sent = Number(t);
  const now = options.now ?? Date.now() / 1000;
  if (Math.abs(now - sent) > tolerance) {
    throw new WebhookVerificationError(`the signature's timestamp is more than ${tolerance} s off`);
  }
  const expected = keys.map((key) => Buffer.from(webhookSignature(key, sent, rawBody)));
  const matches = expected.some((e) =>
    candidates.some((c) => c.length === e.length && timingSafeEqual(Buffer.from(c), e)),
  );
  if (!matches) throw new WebhookVerificationError("no v1 signature matches a signing secret");
  let event: unknown;
  try {
    event = JSON.parse(typeof rawBody === "string" ? rawBody : Buffer.from(rawBody).toString("utf8"));
  } catch (error) {
    throw new WebhookVerificationError(`the signed body is not JSON: ${String(error)}`);
  }
  const e = event as Partial<WebhookEvent> | null;
  if (!e || typeof e !== "object" || typeof e.id !== "string" || typeof e.type !== "string") {
    throw new WebhookVerificationError("the signed body is not an event");
  }
  return { ...e, data: (e.data as Record<string, unknown>) ?? {} } as WebhookEvent;
}
