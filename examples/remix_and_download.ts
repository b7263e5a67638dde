// Start a UGC remix, wait for it, download the video (resumable, checksum-checked) and print what ffprobe
// says of it. Build: npm install && npm run build (in examples/), then:
//   LAYERS_API_KEY=lp_live_… node dist/remix_and_download.js --project-id <uuid> --influencer-id inf_…
// Against `layers dev`: --demo .layers-data/demo.json. Exit status: 0 done, 1 API or job failed, 2 bad arguments.
import { execFileSync } from "node:child_process";
import { readFileSync, statSync } from "node:fs";
import { parseArgs } from "node:util";
import { LayersClient, LayersError, ValidationError } from "@layers/partner";

const USAGE = `usage: remix_and_download.js [--base-url URL] [--api-key KEY] [--demo demo.json]
  [--project-id ID] [--influencer-id ID | --social-account-id ID] [--hook TEXT] [--media-id ID]
  [--out remix.mp4] [--timeout SECONDS (1-3600, default 600)]`;

function fail(message: string): never {
  console.error(`${message}\n${USAGE}`);
  process.exit(2);
}

let parsed;
try {
  parsed = parseArgs({
    options: {
      help: { type: "boolean", short: "h" },
      "base-url": { type: "string", default: process.env.LAYERS_BASE_URL ?? "http://127.0.0.1:8080" },
      "api-key": { type: "string", default: process.env.LAYERS_API_KEY },
      demo: { type: "string" },
      "project-id": { type: "string" },
      "influencer-id": { type: "string" },
      "social-account-id": { type: "string" },
      hook: { type: "string" },
      "media-id": { type: "string" },
      out: { type: "string", default: "remix.mp4" },
      timeout: { type: "string", default: "600" },
    },
  }).values;
} catch (error) {
  fail(String((error as Error).message));
}
if (parsed.help) {
  console.log(USAGE);
  process.exit(0);
}
const demo = parsed.demo ? (JSON.parse(readFileSync(parsed.demo, "utf8")) as Record<string, string>) : {};
const apiKey = parsed["api-key"] ?? demo.apiKey;
const projectId = parsed["project-id"] ?? demo.projectId;
const socialAccountId = parsed["social-account-id"];
const influencerId = parsed["influencer-id"] ?? (socialAccountId ? undefined : demo.influencerId);
const timeout = Number(parsed.timeout);
if (!apiKey || !projectId || !(influencerId || socialAccountId)) {
  fail("need an API key, --project-id and --influencer-id or --social-account-id (or --demo)");
}
if (!(timeout >= 1 && timeout <= 3600)) fail("--timeout must be from 1 to 3600 seconds");
if (parsed.hook !== undefined && (parsed.hook.length < 1 || parsed.hook.length > 2000)) fail("--hook must be 1 to 2000 characters");

function ffprobeSummary(path: string): string {
  let out: string;
  try {
    out = execFileSync("ffprobe", ["-v", "error", "-print_format", "json", "-show_format", "-show_streams", path], {
      encoding: "utf8",
      timeout: 60_000,
    });
  } catch (error) {
    return `ffprobe failed or is not installed: ${(error as Error).message}`;
  }
  const probe = JSON.parse(out) as {
    format: { format_name: string; duration: string };
    streams: Record<string, string | number>[];
  };
  const lines = [`format: ${probe.format.format_name}, ${Number(probe.format.duration).toFixed(2)} s`];
  for (const s of probe.streams) {
    if (s.codec_type === "video") lines.push(`video: ${s.codec_name} ${s.width}x${s.height} ${s.avg_frame_rate} fps`);
    if (s.codec_type === "audio") lines.push(`audio: ${s.codec_name} ${s.sample_rate} Hz ${s.channels ?? "?"} ch`);
  }
  return lines.join("\n");
}

const layers = new LayersClient({ apiKey, baseUrl: parsed["base-url"] });
try {
  const job = await layers.ugcRemix(projectId, {
    influencerId,
    socialAccountId,
    hook: parsed.hook,
    mediaId: parsed["media-id"],
  });
  console.log(`started ${job.jobId} (container ${job.containerIds[0]})`);
  const done = await layers.jobs.wait(job.jobId, { timeoutMs: timeout * 1000, raiseOnFailure: true });
  const video = done.result?.assets.find((a) => a.kind === "video");
  if (!video) throw new LayersError(`job ${job.jobId} completed without a video`);
  const path = await layers.content.download(video, parsed.out);
  console.log(`downloaded ${path} (${statSync(path).size} bytes, sha256 ${video.checksumSha256} checked)`);
  console.log(ffprobeSummary(path));
} catch (error) {
  if (error instanceof ValidationError) {
    console.error(`refused: ${error.message} ${error.detailCode ?? ""} ${JSON.stringify(error.fields)}`);
  } else if (error instanceof LayersError) {
    console.error(`failed: ${error.name}: ${error.message}`);
  } else {
    throw error;
  }
  process.exit(1);
}
