// A small fetch-based client: one Idempotency-Key per POST across its retries, jittered backoff honouring
// Retry-After under a total deadline, ETag polling woken by webhook events, resumable checked downloads.
import { createHash, randomUUID } from "node:crypto";
import { createReadStream, createWriteStream, existsSync, openAsBlob, statSync } from "node:fs";
import { rename, rm, stat } from "node:fs/promises";
import { basename } from "node:path";
import { once } from "node:events";
import type { components, paths } from "./schema.js";
import {
  ApiError,
  ChecksumMismatch,
  DeadlineExceeded,
  IdempotencyConflict,
  JobFailed,
  TransportError,
  errorFrom,
  retryAfterSeconds,
} from "./errors.js";
import { TERMINAL_EVENTS, type WebhookEvent } from "./webhooks.js";

type S = components["schemas"];
export type AcceptedJob = S["AcceptedJob"];
export type Job = S["Job"];
export type Asset = S["Asset"];
export type Container = S["Container"];
export type Progress = S["Progress"];
export type CancelResult = S["CancelResult"];
export type Credits = S["Credits"];
export type WhoAmI = S["WhoAmI"];
export type MediaItem = S["MediaItem"];
export type Influencer = S["Influencer"];
export type SocialAccount = S["SocialAccount"];
export type WebhookEndpoint = S["WebhookEndpoint"];
export type CreatedWebhookEndpoint = S["CreatedWebhookEndpoint"];
export type RotatedWebhookSecret = S["RotatedWebhookSecret"];
export type WebhookTestAccepted = S["WebhookTestAccepted"];
export type WebhookDelivery = S["WebhookDelivery"];
export type ReplayAccepted = S["ReplayAccepted"];
type Json<P extends keyof paths, M extends "post" | "patch"> = paths[P][M] extends {
  requestBody: { content: { "application/json": infer B } };
}
  ? B
  : never;
export type UgcRemixBody = Json<"/v1/projects/{projectId}/content/ugc-remix", "post">;
export type CreateWebhookEndpointBody = Json<"/v1/webhook-endpoints", "post">;
export type UpdateWebhookEndpointBody = Json<"/v1/webhook-endpoints/{endpointId}", "patch">;

export const VERSION = "0.1.0";
const USER_AGENT = `layers-partner-typescript/${VERSION}`;
const TERMINAL = new Set(["completed", "failed", "canceled"]);
const MAX_PAGE_LIMIT = 200;

export interface RetryPolicy {
  maxAttempts: number;
  initialBackoffMs: number;
  maxBackoffMs: number;
  deadlineMs: number;
}
export const DEFAULT_RETRY: RetryPolicy = { maxAttempts: 6, initialBackoffMs: 500, maxBackoffMs: 20_000, deadlineMs: 120_000 };

/** Milliseconds to wait after try number `attempt` (1-based): full jitter, never sooner than Retry-After. */
export function backoffMs(policy: RetryPolicy, attempt: number, retryAfter: number | null, random = Math.random): number {
  const ceiling = Math.min(policy.maxBackoffMs, policy.initialBackoffMs * 2 ** (attempt - 1));
  const jittered = ceiling * random();
  return retryAfter === null ? jittered : Math.max(jittered, retryAfter * 1000);
}

/** A 4xx is never retried except 408, 429 and 409 IN_PROGRESS; a 5xx only when it is 503. */
export function isRetryable(error: ApiError): boolean {
  if (error.status === 408 || error.status === 429 || error.status === 503) return true;
  return error instanceof IdempotencyConflict && error.reason === "IN_PROGRESS";
}

export interface ClientOptions {
  /** Default: process.env.LAYERS_API_KEY. */
  apiKey?: string;
  /** Default: process.env.LAYERS_BASE_URL, else http://127.0.0.1:8080. */
  baseUrl?: string;
  /** One try's time. */
  timeoutMs?: number;
  retry?: Partial<RetryPolicy>;
}

interface Call {
  method: "GET" | "POST" | "PATCH" | "DELETE";
  path: string;
  query?: Record<string, string | number | undefined | null>;
  json?: unknown;
  form?: () => Promise<FormData>;
  headers?: Record<string, string>;
  idempotencyKey?: string;
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

class Attempts {
  readonly deadline: number;
  number = 0;
  last: unknown;
  constructor(readonly policy: RetryPolicy) {
    this.deadline = Date.now() + policy.deadlineMs;
  }
  remaining(): number {
    return this.deadline - Date.now();
  }
  timeout(perTry: number): number {
    const left = this.remaining();
    if (left <= 0) throw new DeadlineExceeded(`no time left for another try: ${String(this.last)}`, this.last);
    return Math.min(perTry, left);
  }
  /** The wait before the next try, or throw `failure` when the rules say not to try again. */
  delayAfter(failure: unknown, retryAfter: number | null = null): number {
    this.last = failure;
    if (this.number >= this.policy.maxAttempts) throw failure;
    const delay = backoffMs(this.policy, this.number, retryAfter);
    if (delay >= this.remaining()) {
      if (failure instanceof ApiError) throw failure;
      throw new DeadlineExceeded(`gave up after ${this.number} tries: ${String(failure)}`, failure);
    }
    return delay;
  }
}

/** The Layers partner API. */
export class LayersClient {
  readonly baseUrl: string;
  readonly retry: RetryPolicy;
  private readonly apiKey: string;
  private readonly timeoutMs: number;
  private readonly ended = new Set<string>();
  private readonly waiting = new Map<string, () => void>();

  constructor(options: ClientOptions = {}) {
    const key = options.apiKey ?? process.env.LAYERS_API_KEY;
    if (!key) throw new TypeError("no API key: pass apiKey or set LAYERS_API_KEY");
    const base = (options.baseUrl ?? process.env.LAYERS_BASE_URL ?? "http://127.0.0.1:8080").replace(/\/+$/, "");
    if (!/^https?:\/\//.test(base)) throw new TypeError(`baseUrl must start with http:// or https:// (got ${base})`);
    this.apiKey = key;
    this.baseUrl = base;
    this.timeoutMs = options.timeoutMs ?? 30_000;
    this.retry = { ...DEFAULT_RETRY, ...options.retry };
    if (this.retry.maxAttempts < 1 || this.retry.deadlineMs <= 0) throw new TypeError("retry needs maxAttempts >= 1 and deadlineMs > 0");
  }

  // -- the transport -------------------------------------------------------------------------------------

  private async send(call: Call): Promise<Response> {
    const attempts = new Attempts(this.retry);
    const key = call.method === "POST" ? (call.idempotencyKey ?? randomUUID()) : undefined;
    const url = new URL(this.baseUrl + call.path);
    for (const [name, value] of Object.entries(call.query ?? {})) {
      if (value !== undefined && value !== null) url.searchParams.set(name, String(value));
    }
    for (;;) {
      attempts.number += 1;
      const headers: Record<string, string> = {
        Authorization: `Bearer ${this.apiKey}`,
        "User-Agent": USER_AGENT,
        Accept: "application/json",
        ...(key ? { "Idempotency-Key": key } : {}),
        ...(call.json !== undefined ? { "Content-Type": "application/json" } : {}),
        ...call.headers,
      };
      let response: Response;
      try {
        // An upload's answer comes only once its whole body is sent: no per-try limit on that (the
        // deadline still ends the retries, and undici's own idle timeouts end a stalled connection).
        response = await fetchHead(
          url,
          {
            method: call.method,
            headers,
            body: call.form ? await call.form() : call.json !== undefined ? JSON.stringify(call.json) : undefined,
          },
          call.form ? null : attempts.timeout(this.timeoutMs),
        );
      } catch (error) {
        if (error instanceof DeadlineExceeded) throw error;
        await sleep(attempts.delayAfter(new TransportError(`${call.method} ${call.path}: ${String(error)}`)));
        continue;
      }
      if (response.ok || response.status === 304) return response;
      const failure = errorFrom(response.status, await response.text(), response.headers);
      if (!isRetryable(failure)) throw failure;
      await sleep(attempts.delayAfter(failure, retryAfterSeconds(response.headers)));
    }
  }

  private async json<T>(call: Call): Promise<T> {
    return (await (await this.send(call)).json()) as T;
  }

  private async *pages<T>(path: string, limit?: number, filters: Record<string, string | undefined> = {}): AsyncGenerator<T> {
    if (limit !== undefined && (limit < 1 || limit > MAX_PAGE_LIMIT)) throw new RangeError(`limit must be from 1 to ${MAX_PAGE_LIMIT}`);
    let cursor: string | null = null;
    for (;;) {
      const page: { items: T[]; nextCursor: string | null } = await this.json({
        method: "GET",
        path,
        query: { limit, cursor, ...filters },
      });
      yield* page.items;
      if (!page.nextCursor) return;
      cursor = page.nextCursor;
    }
  }

  // -- the API ---------------------------------------------------------------------------------------------

  /** Start a UGC reaction video; one Idempotency-Key (yours, or a fresh one) covers every retry. */
  ugcRemix(
    projectId: string,
    body: { influencerId?: string; socialAccountId?: string; hook?: string; mediaId?: string },
    options: { idempotencyKey?: string } = {},
  ): Promise<AcceptedJob> {
    if (!body.influencerId && !body.socialAccountId) throw new TypeError("ugcRemix needs influencerId or socialAccountId");
    if (body.hook !== undefined && (body.hook.length < 1 || body.hook.length > 2000)) throw new RangeError("hook must be 1 to 2000 characters");
    const json: UgcRemixBody = body;
    return this.json({ method: "POST", path: `/v1/projects/${projectId}/content/ugc-remix`, json, ...options });
  }

  credits(): Promise<Credits> {
    return this.json({ method: "GET", path: "/v1/credits" });
  }

  whoami(): Promise<WhoAmI> {
    return this.json({ method: "GET", path: "/v1/whoami" });
  }

  influencers(projectId: string, options: { limit?: number } = {}): AsyncGenerator<Influencer> {
    return this.pages(`/v1/projects/${projectId}/influencers`, options.limit);
  }

  socialAccounts(projectId: string, options: { limit?: number } = {}): AsyncGenerator<SocialAccount> {
    return this.pages(`/v1/projects/${projectId}/social-accounts`, options.limit);
  }

  readonly jobs = {
    get: (jobId: string): Promise<Job> => this.json({ method: "GET", path: `/v1/jobs/${jobId}` }),
    cancel: (jobId: string, options: { idempotencyKey?: string } = {}): Promise<CancelResult> =>
      this.json({ method: "POST", path: `/v1/jobs/${jobId}/cancel`, ...options }),
    /** Hand over a verified webhook event: a `wait` for its job returns at once. */
    notify: (event: WebhookEvent): void => {
      const jobId = event.data?.jobId;
      if (!TERMINAL_EVENTS.has(event.type) || typeof jobId !== "string") return;
      this.ended.add(jobId);
      if (this.ended.size > 10_000) this.ended.delete(this.ended.values().next().value as string);
      this.waiting.get(jobId)?.();
    },
    /** Poll (If-None-Match, the interval growing to maxIntervalMs) until the job ends or `notify` says so. */
    wait: async (
      jobId: string,
      options: { timeoutMs?: number; intervalMs?: number; maxIntervalMs?: number; raiseOnFailure?: boolean } = {},
    ): Promise<Job> => {
      const deadline = Date.now() + (options.timeoutMs ?? 900_000);
      const maxInterval = options.maxIntervalMs ?? 10_000;
      let interval = options.intervalMs ?? 1_000;
      if (!(interval > 0 && interval <= maxInterval && maxInterval <= 300_000)) throw new RangeError("need 0 < intervalMs <= maxIntervalMs <= 300000");
      let etag: string | null = null;
      let job: Job | null = null;
      try {
        for (;;) {
          const response = await this.send({ method: "GET", path: `/v1/jobs/${jobId}`, headers: etag ? { "If-None-Match": etag } : {} });
          if (response.status !== 304 || job === null) {
            job = (await response.json()) as Job;
            etag = response.headers.get("etag");
          }
          if (job.status && TERMINAL.has(job.status)) {
            if (options.raiseOnFailure && job.status !== "completed") {
              throw new JobFailed(`job ${jobId} ended ${job.status}${job.error ? `: ${job.error.code}: ${job.error.message}` : ""}`, job);
            }
            return job;
          }
          const left = deadline - Date.now();
          if (left <= 0) throw new DeadlineExceeded(`job ${jobId} still ${job.status} (${job.stage})`);
          if (!this.ended.delete(jobId)) {
            await new Promise<void>((resolve) => {
              const timer = setTimeout(resolve, Math.min(interval, left));
              this.waiting.set(jobId, () => {
                clearTimeout(timer);
                resolve();
              });
            });
            this.ended.delete(jobId);
          }
          interval = Math.min(maxInterval, interval * 1.6);
        }
      } finally {
        this.waiting.delete(jobId);
      }
    },
  };

  readonly content = {
    get: (containerId: string): Promise<Container> => this.json({ method: "GET", path: `/v1/content/${containerId}` }),
    progress: (containerId: string): Promise<Progress> =>
      this.json({ method: "GET", path: `/v1/content/${containerId}/progress` }),
    asset: (containerId: string, assetId: string): Promise<Asset> =>
      this.json({ method: "GET", path: `/v1/content/${containerId}/assets/${assetId}` }),
    /**
     * Stream an asset (or a signed URL) to `path`: resumed with Range after a broken connection, checked
     * against checksumSha256, and only then renamed into place. No API key is sent with a signed link.
     */
    download: (asset: Asset | string, path: string): Promise<string> => this.download(asset, path),
  };

  readonly media = {
    /** A local file (multipart) or an https URL the API fetches. */
    upload: (projectId: string, source: string, options: { kind?: string; idempotencyKey?: string } = {}): Promise<MediaItem> => {
      const kind = options.kind ?? "demo-video";
      const path = `/v1/projects/${projectId}/app-media`;
      if (/^https?:\/\//.test(source)) {
        return this.json({ method: "POST", path, json: { kind, url: source }, idempotencyKey: options.idempotencyKey });
      }
      if (!existsSync(source) || !statSync(source).isFile()) throw new TypeError(`no such file to upload: ${source}`);
      const form = async () => {
        const data = new FormData();
        data.set("kind", kind);
        data.set("file", await openAsBlob(source, { type: mimeOf(source) }), basename(source));
        return data;
      };
      return this.json({ method: "POST", path, form, idempotencyKey: options.idempotencyKey });
    },
    list: (projectId: string, options: { role?: string; limit?: number } = {}): AsyncGenerator<MediaItem> =>
      this.pages(`/v1/projects/${projectId}/media`, options.limit, { role: options.role }),
  };

  readonly webhooks = {
    create: (body: CreateWebhookEndpointBody, options: { idempotencyKey?: string } = {}): Promise<CreatedWebhookEndpoint> =>
      this.json({ method: "POST", path: "/v1/webhook-endpoints", json: body, ...options }),
    list: (options: { limit?: number } = {}): AsyncGenerator<WebhookEndpoint> => this.pages("/v1/webhook-endpoints", options.limit),
    get: (endpointId: string): Promise<WebhookEndpoint> => this.json({ method: "GET", path: `/v1/webhook-endpoints/${endpointId}` }),
    update: (endpointId: string, changes: UpdateWebhookEndpointBody): Promise<WebhookEndpoint> =>
      this.json({ method: "PATCH", path: `/v1/webhook-endpoints/${endpointId}`, json: changes }),
    delete: async (endpointId: string): Promise<void> => {
      await this.send({ method: "DELETE", path: `/v1/webhook-endpoints/${endpointId}` });
    },
    rotateSecret: (endpointId: string): Promise<RotatedWebhookSecret> =>
      this.json({ method: "POST", path: `/v1/webhook-endpoints/${endpointId}/rotate-secret` }),
    test: (endpointId: string): Promise<WebhookTestAccepted> =>
      this.json({ method: "POST", path: `/v1/webhook-endpoints/${endpointId}/test` }),
    deliveries: (endpointId: string, options: { limit?: number } = {}): AsyncGenerator<WebhookDelivery> =>
      this.pages(`/v1/webhook-endpoints/${endpointId}/deliveries`, options.limit),
    replay: (deliveryId: string): Promise<ReplayAccepted> =>
      this.json({ method: "POST", path: `/v1/webhook-deliveries/${deliveryId}/replay` }),
  };

  private async download(asset: Asset | string, path: string): Promise<string> {
    const url = new URL(typeof asset === "string" ? asset : asset.url, this.baseUrl + "/");
    const checksum = typeof asset === "string" ? null : asset.checksumSha256;
    const size = typeof asset === "string" ? null : asset.sizeBytes;
    const part = `${path}.part`;
    const attempts = new Attempts(this.retry);
    // The file's ETag is its quoted SHA-256: a part left by an earlier run resumes only while it is a part of
    // this very file (If-Range). Without a checksum nothing says so, and it starts over.
    let etag: string | null = checksum ? `"${checksum.toLowerCase()}"` : null;
    if (!checksum) await rm(part, { force: true });
    let restarted = false;
    for (;;) {
      attempts.number += 1;
      const have = await sizeOf(part);
      const headers: Record<string, string> = { "User-Agent": USER_AGENT };
      if (have > 0) headers.Range = `bytes=${have}-`;
      if (have > 0 && etag) headers["If-Range"] = etag;
      try {
        const response = await fetchHead(url, { headers }, attempts.timeout(this.timeoutMs));
        etag = response.headers.get("etag") ?? etag;
        let flags: "a" | "w" | null;
        if (response.status === 206) {
          const start = Number((response.headers.get("content-range") ?? "").split(" ")[1]?.split("-")[0]);
          if (start !== have) throw new TransportError(`the server resumed at byte ${start}, not ${have}`);
          flags = "a";
        } else if (response.status === 200) {
          flags = "w";
        } else if (response.status === 416 && size !== null && have === size) {
          flags = null;
        } else if (response.status === 416) {
          await rm(part, { force: true });
          throw new TransportError("the partial download does not fit the file; starting over");
        } else {
          throw errorFrom(response.status, await response.text(), response.headers);
        }
        if (flags !== null && response.body) {
          const sink = createWriteStream(part, { flags });
          try {
            for await (const chunk of response.body) {
              if (!sink.write(chunk)) await once(sink, "drain");
            }
          } finally {
            sink.end();
            await once(sink, "close");
          }
        }
        if (checksum) {
          const digest = await sha256Of(part);
          if (digest !== checksum.toLowerCase()) {
            await rm(part, { force: true });
            if (restarted) throw new ChecksumMismatch(`${basename(path)}: SHA-256 ${digest} != ${checksum}`);
            restarted = true;
            throw new TransportError("checksum mismatch; downloading again");
          }
        }
        await rename(part, path);
        return path;
      } catch (error) {
        if (error instanceof ChecksumMismatch || error instanceof DeadlineExceeded) throw error;
        if (error instanceof ApiError) {
          if (!isRetryable(error)) throw error;
          await sleep(attempts.delayAfter(error, retryAfterSeconds(error.headers)));
        } else {
          await sleep(attempts.delayAfter(error instanceof TransportError ? error : new TransportError(`download: ${String(error)}`)));
        }
      }
    }
  }
}

async function sizeOf(path: string): Promise<number> {
  try {
    return (await stat(path)).size;
  } catch {
    return 0;
  }
}

async function sha256Of(path: string): Promise<string> {
  const hash = createHash("sha256");
  for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer);
  return hash.digest("hex");
}

function mimeOf(path: string): string {
  const extension = path.toLowerCase().split(".").pop() ?? "";
  const types: Record<string, string> = { mp4: "video/mp4", mov: "video/quicktime", webm: "video/webm", png: "image/png", jpg: "image/jpeg", jpeg: "image/jpeg" };
  return types[extension] ?? "application/octet-stream";
}

/** fetch, with `ms` (or none) to get the answer's head: not its body, which for a large download takes as
 * long as it takes (undici ends a body that stalls). */
async function fetchHead(url: URL, init: RequestInit, ms: number | null): Promise<Response> {
  if (ms === null) return fetch(url, init);
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(new DOMException("no answer in time", "TimeoutError")), ms);
  try {
    return await fetch(url, { ...init, signal: controller.signal });
  } finally {
    clearTimeout(timer);
  }
}
