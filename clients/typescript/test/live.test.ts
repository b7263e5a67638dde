// The SDK against a live `layers dev` (LAYERS_BASE_URL, LAYERS_API_KEY, LAYERS_DEMO: its demo.json), and
// through LAYERS_PROXY_URL, a proxy that answers the first ugc-remix 503 after the gateway did the work.
import { test } from "node:test";
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { mkdtempSync, readFileSync, statSync, existsSync } from "node:fs";
import { createServer, type Server } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  IdempotencyConflict,
  LayersClient,
  NotFound,
  Unauthenticated,
  ValidationError,
  WebhookVerificationError,
  verifyWebhook,
  type WebhookEvent,
} from "../src/index.js";

const baseUrl = process.env.LAYERS_BASE_URL;
const demoFile = process.env.LAYERS_DEMO;
const skip = !baseUrl || !demoFile ? "LAYERS_BASE_URL and LAYERS_DEMO name no layers dev" : false;
const demo = demoFile ? (JSON.parse(readFileSync(demoFile, "utf8")) as Record<string, string>) : {};
const fast = { initialBackoffMs: 50, maxBackoffMs: 500, deadlineMs: 30_000 };
const client = () => new LayersClient({ apiKey: demo.apiKey, baseUrl, retry: fast });
const work = mkdtempSync(join(tmpdir(), "layers-ts-"));
const sha256 = (path: string) => createHash("sha256").update(readFileSync(path)).digest("hex");
const fastWait = { intervalMs: 200, maxIntervalMs: 500, raiseOnFailure: true };

interface Hook {
  server: Server;
  url: string;
  received: { headers: Record<string, string | string[] | undefined>; body: Buffer }[];
  next: () => Promise<{ headers: Record<string, string | string[] | undefined>; body: Buffer }>;
}

async function receiver(): Promise<Hook> {
  const received: Hook["received"] = [];
  const waiters: (() => void)[] = [];
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      received.push({ headers: req.headers, body: Buffer.concat(chunks) });
      res.writeHead(200).end();
      waiters.splice(0).forEach((w) => w());
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const address = server.address();
  const port = typeof address === "object" && address ? address.port : 0;
  let taken = 0;
  const next = async () => {
    while (received.length <= taken) await new Promise<void>((resolve) => waiters.push(resolve));
    return received[taken++]!;
  };
  return { server, url: `http://127.0.0.1:${port}/hooks`, received, next };
}

test("identity and wallet", { skip }, async () => {
  const layers = client();
  const me = await layers.whoami();
  assert.equal(me.organizationId, demo.organizationId);
  const wallet = await layers.credits();
  assert.equal(wallet.estimatedCreditsPerFormat.ugc_remix, 120);
});

test("remix, wait and a checked download", { skip }, async () => {
  const layers = client();
  const accepted = await layers.ugcRemix(demo.projectId!, { influencerId: demo.influencerId, hook: "Wait for it" });
  assert.equal(accepted.containerIds.length, 1);
  const job = await layers.jobs.wait(accepted.jobId, fastWait);
  assert.equal(job.status, "completed");
  const [asset] = job.result!.assets;
  assert.ok(asset && asset.url.startsWith(`${baseUrl}/v1/content/`), "links are absolute");
  const path = await layers.content.download(asset, join(work, "remix.mp4"));
  assert.equal(statSync(path).size, asset.sizeBytes);
  assert.equal(sha256(path), asset.checksumSha256);
  assert.equal(existsSync(`${path}.part`), false);
  assert.equal((await layers.content.get(accepted.containerIds[0]!)).hook, "Wait for it");
  assert.equal((await layers.content.progress(accepted.containerIds[0]!)).status, "completed");
});

test("a 503 after the gateway did the work still makes one job", { skip: skip || (!process.env.LAYERS_PROXY_URL && "no LAYERS_PROXY_URL") }, async () => {
  const direct = client();
  const before = (await direct.credits()).available;
  const proxied = new LayersClient({ apiKey: demo.apiKey, baseUrl: process.env.LAYERS_PROXY_URL, retry: fast });
  const accepted = await proxied.ugcRemix(demo.projectId!, { influencerId: demo.influencerId, hook: "typescript retry" });
  await direct.jobs.wait(accepted.jobId, fastWait);
  assert.equal(before - (await direct.credits()).available, 120, "one job's credits");
});

test("errors are their code's class", { skip }, async () => {
  const layers = client();
  await assert.rejects(layers.jobs.get("job_00000000000000000000000000"), (e: unknown) => e instanceof NotFound && e.status === 404 && !!e.requestId);
  await assert.rejects(
    layers.ugcRemix(demo.projectId!, { influencerId: demo.influencerId, mediaId: "not an id!" }),
    (e: unknown) => e instanceof ValidationError && e.fields.some((f) => f.field === "mediaId"),
  );
  const key = `ts-${Date.now()}`;
  const first = await layers.ugcRemix(demo.projectId!, { influencerId: demo.influencerId, hook: "one" }, { idempotencyKey: key });
  await assert.rejects(
    layers.ugcRemix(demo.projectId!, { influencerId: demo.influencerId, hook: "two" }, { idempotencyKey: key }),
    (e: unknown) => e instanceof IdempotencyConflict && e.reason === "BODY_MISMATCH",
  );
  await layers.jobs.wait(first.jobId, { intervalMs: 200, maxIntervalMs: 500 });
  await assert.rejects(new LayersClient({ apiKey: "lp_live_nope_nope", baseUrl }).whoami(), Unauthenticated);
});

test("upload and lists turn every page", { skip }, async () => {
  const layers = client();
  const clip = join(work, "remix.mp4");
  const uploaded = await layers.media.upload(demo.projectId!, clip);
  assert.equal(uploaded.mediaRole, "app-demo");
  const ids: string[] = [];
  for await (const item of layers.media.list(demo.projectId!, { role: "app-demo", limit: 1 })) ids.push(item.mediaId);
  assert.ok(ids.includes(uploaded.mediaId) && ids.length >= 2 && new Set(ids).size === ids.length, String(ids));
  const influencers: string[] = [];
  for await (const i of layers.influencers(demo.projectId!, { limit: 1 })) influencers.push(i.influencerId);
  assert.deepEqual(influencers, [demo.influencerId]);
});

test("cancel answers typed", { skip }, async () => {
  const layers = client();
  const accepted = await layers.ugcRemix(demo.projectId!, { socialAccountId: demo.socialAccountId });
  const result = await layers.jobs.cancel(accepted.jobId);
  const job = await layers.jobs.wait(accepted.jobId, { intervalMs: 200, maxIntervalMs: 500 });
  assert.ok(result.accepted || result.reason === "ALREADY_COMPLETED");
  assert.equal(job.status, result.accepted ? "canceled" : "completed");
});

test("webhook endpoints and signatures", { skip }, async () => {
  const layers = client();
  const hook = await receiver();
  try {
    const created = await layers.webhooks.create({ url: hook.url, events: ["test.ping"], description: "ts test" });
    const id = created.endpoint.endpointId;
    const sent = await layers.webhooks.test(id);
    const delivery = await hook.next();
    const header = String(delivery.headers["x-layers-signature"]);
    const event = verifyWebhook(delivery.body, header, created.signingSecret);
    assert.deepEqual([event.id, event.type], [sent.eventId, "test.ping"]);
    assert.throws(() => verifyWebhook(delivery.body, header, "whsec_other"), WebhookVerificationError);
    assert.throws(() => verifyWebhook(Buffer.concat([delivery.body, Buffer.from(" ")]), header, created.signingSecret), WebhookVerificationError);
    const listed: string[] = [];
    for await (const e of layers.webhooks.list({ limit: 1 })) listed.push(e.endpointId);
    assert.ok(listed.includes(id));
    assert.equal((await layers.webhooks.update(id, { status: "paused" })).status, "paused");
    assert.equal((await layers.webhooks.update(id, { status: "active" })).status, "active");
    const rotated = await layers.webhooks.rotateSecret(id);
    await layers.webhooks.test(id);
    const overlap = await hook.next();
    for (const secret of [created.signingSecret, rotated.signingSecret]) {
      verifyWebhook(overlap.body, String(overlap.headers["x-layers-signature"]), secret);
    }
    const deliveries = [];
    for await (const d of layers.webhooks.deliveries(id)) deliveries.push(d);
    assert.ok(deliveries.some((d) => d.eventId === sent.eventId));
    const replayed = await layers.webhooks.replay(deliveries.at(-1)!.deliveryId);
    assert.notEqual(replayed.deliveryId, deliveries.at(-1)!.deliveryId);
    await layers.webhooks.delete(id);
    await assert.rejects(layers.webhooks.get(id), NotFound);
  } finally {
    hook.server.close();
  }
});

test("wait returns as soon as a webhook event is handed to it", { skip }, async () => {
  const layers = client();
  const hook = await receiver();
  try {
    const created = await layers.webhooks.create({ url: hook.url, events: ["job.completed", "job.failed", "job.canceled"] });
    const accepted = await layers.ugcRemix(demo.projectId!, { influencerId: demo.influencerId });
    void hook.next().then((d) => {
      const event: WebhookEvent = verifyWebhook(d.body, String(d.headers["x-layers-signature"]), [created.signingSecret]);
      layers.jobs.notify(event);
    });
    const started = Date.now();
    const job = await layers.jobs.wait(accepted.jobId, { intervalMs: 60_000, maxIntervalMs: 60_000 });
    const waited = (Date.now() - started) / 1000;
    await layers.webhooks.delete(created.endpoint.endpointId);
    assert.equal(job.status, "completed");
    assert.ok(waited < 45, `woken by the event, not the 60 s poll (${waited} s)`);
  } finally {
    hook.server.close();
  }
});
