// A webhook receiver: checks each delivery's X-Layers-Signature with verifyWebhook and prints one line per
// event (`<event id> <type> signature ok <data>`); a bad one is answered 400.
//   node dist/webhook_receiver.js --port 9000 --secret whsec_…
// --register creates its own endpoint (http://127.0.0.1:<port>/hooks, which `layers dev` accepts) and uses its
// secret, deleting it on exit; --send-test then asks for a test.ping; --max-events N stops after N good ones.
import { createServer } from "node:http";
import { parseArgs } from "node:util";
import { LayersClient, LayersError, WebhookVerificationError, verifyWebhook, type CreateWebhookEndpointBody } from "@layers/partner";

const USAGE = `usage: webhook_receiver.js [--port 9000] [--secret whsec_… ...] [--register [--send-test]]
  [--events a,b] [--max-events N] [--base-url URL] [--api-key KEY]`;
const MAX_BODY_BYTES = 1 << 20;
const EVENTS = "job.completed,job.failed,job.canceled,content.generated,test.ping";

function fail(message: string): never {
  console.error(`${message}\n${USAGE}`);
  process.exit(2);
}

let args;
try {
  args = parseArgs({
    options: {
      help: { type: "boolean", short: "h" },
      port: { type: "string", default: "9000" },
      secret: { type: "string", multiple: true, default: [] },
      register: { type: "boolean", default: false },
      "send-test": { type: "boolean", default: false },
      events: { type: "string", default: EVENTS },
      "max-events": { type: "string", default: "0" },
      "base-url": { type: "string", default: process.env.LAYERS_BASE_URL ?? "http://127.0.0.1:8080" },
      "api-key": { type: "string", default: process.env.LAYERS_API_KEY },
    },
  }).values;
} catch (error) {
  fail((error as Error).message);
}
if (args.help) {
  console.log(USAGE);
  process.exit(0);
}
const port = Number(args.port);
const maxEvents = Number(args["max-events"]);
const secrets = [...args.secret, ...(process.env.LAYERS_WEBHOOK_SECRET ? [process.env.LAYERS_WEBHOOK_SECRET] : [])];
if (!Number.isInteger(port) || port < 0 || port > 65535 || !Number.isInteger(maxEvents) || maxEvents < 0) {
  fail("--port must be 0-65535 and --max-events a whole number, at least 0");
}
if (args.register && !args["api-key"]) fail("--register needs an API key (--api-key or LAYERS_API_KEY)");
if (args["send-test"] && !args.register) fail("--send-test needs --register");
if (!args.register && secrets.length === 0) fail("need --secret (or LAYERS_WEBHOOK_SECRET), or --register");

let good = 0;
let stop: () => void = () => {};
const stopped = new Promise<void>((resolve) => (stop = resolve));

const server = createServer((req, res) => {
  const chunks: Buffer[] = [];
  let size = 0;
  req.on("data", (chunk: Buffer) => {
    size += chunk.length;
    if (size > MAX_BODY_BYTES) req.destroy();
    else chunks.push(chunk);
  });
  req.on("end", () => {
    try {
      const event = verifyWebhook(Buffer.concat(chunks), req.headers["x-layers-signature"] as string | undefined, secrets);
      res.writeHead(200).end();
      console.log(`${event.id} ${event.type} signature ok ${JSON.stringify(event.data)}`);
      good += 1;
      if (maxEvents && good >= maxEvents) stop();
    } catch (error) {
      if (!(error instanceof WebhookVerificationError)) throw error;
      res.writeHead(400).end();
      console.log(`${req.headers["x-layers-event-id"]} BAD SIGNATURE: ${error.message}`);
    }
  });
});
await new Promise<void>((resolve) => server.listen(port, "127.0.0.1", resolve));
const address = server.address();
const url = `http://127.0.0.1:${typeof address === "object" && address ? address.port : port}/hooks`;
console.log(`listening on ${url}`);
process.on("SIGINT", () => stop());
process.on("SIGTERM", () => stop());

const layers = args.register ? new LayersClient({ apiKey: args["api-key"], baseUrl: args["base-url"] }) : null;
let endpointId: string | null = null;
let status = 0;
try {
  if (layers) {
    const created = await layers.webhooks.create({
      url,
      events: args.events.split(",") as CreateWebhookEndpointBody["events"],
      description: "examples/webhook_receiver.ts",
    });
    endpointId = created.endpoint.endpointId;
    secrets.push(created.signingSecret);
    console.log(`registered ${endpointId}`);
    if (args["send-test"]) await layers.webhooks.test(endpointId);
  }
  await stopped;
} catch (error) {
  if (!(error instanceof LayersError)) throw error;
  console.error(`failed: ${error.name}: ${error.message}`);
  status = 1;
} finally {
  server.close();
  if (layers && endpointId) await layers.webhooks.delete(endpointId);
}
process.exit(status);
