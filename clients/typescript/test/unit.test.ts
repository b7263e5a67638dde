// The SDK's pure rules: backoff, what is retried, error classes, webhook signatures.
import { test } from "node:test";
import assert from "node:assert/strict";
import { createHmac } from "node:crypto";
import {
  ApiError,
  BillingExhausted,
  DEFAULT_RETRY,
  ERRORS,
  ValidationError,
  WebhookVerificationError,
  backoffMs,
  errorFrom,
  isRetryable,
  retryAfterSeconds,
  verifyWebhook,
  LayersClient,
} from "../src/index.js";

const envelope = (code: string, details: Record<string, unknown> = {}) =>
  JSON.stringify({ error: { code, message: "m", requestId: "req_1", details } });

test("backoff is full jitter, capped, never sooner than Retry-After", () => {
  const policy = { ...DEFAULT_RETRY, initialBackoffMs: 500, maxBackoffMs: 4000 };
  assert.deepEqual([1, 2, 3, 4, 5].map((n) => backoffMs(policy, n, null, () => 1)), [500, 1000, 2000, 4000, 4000]);
  assert.equal(backoffMs(policy, 3, null, () => 0.25), 500);
  assert.equal(backoffMs(policy, 1, 7, () => 1), 7000);
});

test("only 408, 429, 503 and 409 IN_PROGRESS are retried", () => {
  const cases: [number, string, Record<string, unknown>, boolean][] = [
    [503, "UNAVAILABLE", {}, true],
    [429, "RATE_LIMITED", {}, true],
    [408, "REQUEST_TIMEOUT", {}, true],
    [409, "IDEMPOTENCY_CONFLICT", { reason: "IN_PROGRESS" }, true],
    [409, "IDEMPOTENCY_CONFLICT", { reason: "BODY_MISMATCH" }, false],
    [409, "CONFLICT", {}, false],
    [402, "BILLING_EXHAUSTED", {}, false],
    [404, "NOT_FOUND", {}, false],
    [422, "VALIDATION", {}, false],
    [500, "INTERNAL", {}, false],
  ];
  for (const [status, code, details, retried] of cases) {
    assert.equal(isRetryable(errorFrom(status, envelope(code, details), new Headers())), retried, `${status} ${code}`);
  }
});

test("an error carries the envelope and is its code's class", () => {
  const billing = errorFrom(402, envelope("BILLING_EXHAUSTED", { required: 120, available: 3 }), new Headers());
  assert.ok(billing instanceof BillingExhausted && billing instanceof ApiError);
  assert.deepEqual([billing.status, billing.code, billing.requestId, billing.details.required], [402, "BILLING_EXHAUSTED", "req_1", 120]);
  const invalid = errorFrom(422, envelope("VALIDATION", { fields: [{ field: "hook", problem: "Too long." }] }), new Headers());
  assert.ok(invalid instanceof ValidationError);
  assert.deepEqual(invalid.fields, [{ field: "hook", problem: "Too long." }]);
  const odd = errorFrom(502, "<html>", new Headers({ "x-request-id": "req_2" }));
  assert.equal(odd.constructor, ApiError);
  assert.equal(odd.requestId, "req_2");
  assert.equal(Object.keys(ERRORS).length, 17);
  for (const [code, cls] of Object.entries(ERRORS)) assert.equal(cls.code, code);
});

const sign = (body: string, secrets: string[], t: number) =>
  [`t=${t}`, ...secrets.map((s) => `v1=${createHmac("sha256", s).update(`${t}.${body}`).digest("hex")}`)].join(",");

test("verifyWebhook takes any live secret and refuses the rest", () => {
  const body = '{"id":"evt_1","type":"job.completed","data":{"jobId":"job_1"}}';
  const now = Math.floor(Date.now() / 1000);
  const header = sign(body, ["whsec_old", "whsec_new"], now);
  assert.equal(verifyWebhook(Buffer.from(body), header, ["whsec_new"]).data.jobId, "job_1");
  assert.equal(verifyWebhook(body, header, "whsec_old").type, "job.completed");
  assert.throws(() => verifyWebhook(body, sign(body, ["k"], now - 301), "k"), /more than 300 s/);
  assert.ok(verifyWebhook(body, sign(body, ["k"], now - 50), "k", { toleranceSeconds: 60 }));
  for (const bad of ["", "t=abc,v1=00", `t=${now}`, `t=${now},t=${now},v1=00`, "x".repeat(5000)]) {
    assert.throws(() => verifyWebhook(body, bad, "k"), WebhookVerificationError);
  }
  assert.throws(() => verifyWebhook(body + " ", header, "whsec_new"), WebhookVerificationError);
});

test("bad arguments are refused before any request", () => {
  assert.throws(() => new LayersClient({ apiKey: "k", baseUrl: "127.0.0.1:8080" }), /baseUrl/);
  const client = new LayersClient({ apiKey: "k", baseUrl: "http://127.0.0.1:1" });
  assert.throws(() => client.ugcRemix("p", {}), /influencerId/);
  assert.throws(() => client.ugcRemix("p", { influencerId: "inf_1", hook: "x".repeat(2001) }), /hook/);
  assert.throws(() => client.media.upload("p", "/no/such/clip.mp4"), /no such file/);
});

test("an error is named after its class", () => {
  const missing = errorFrom(404, envelope("NOT_FOUND"), new Headers());
  assert.equal(missing.name, "NotFound");
  assert.equal(String(new WebhookVerificationError("x")), "WebhookVerificationError: x");
});

test("an empty secret is refused, not trusted", () => {
  const body = '{"id":"evt_1","type":"job.completed","createdAt":"2026-01-01T00:00:00.000Z","data":{"jobId":"job_1"}}';
  const forged = sign(body, [""], Math.floor(Date.now() / 1000)); // anyone can sign with an empty key
  assert.throws(() => verifyWebhook(body, forged, ""), /no signing secret/);
  assert.throws(() => verifyWebhook(body, forged, ["whsec_real", ""]), /no signing secret/);
});

test("Retry-After as seconds or as an HTTP-date", () => {
  const now = Date.parse("2026-12-02T12:00:00Z");
  const after = (value: string) => retryAfterSeconds(new Headers({ "Retry-After": value }), now);
  assert.equal(after("7"), 7);
  assert.equal(after("Wed, 02 Dec 2026 12:00:30 GMT"), 30);
  assert.equal(after("Wed, 02 Dec 2026 11:00:00 GMT"), 0);
  assert.equal(after("soon"), null);
});
