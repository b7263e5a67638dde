// The Layers partner API from TypeScript (Node 20+): a fetch-based client, typed from the API's OpenAPI
// document, with an error class per code and webhook verification. No runtime dependencies.
export * from "./client.js";
export * from "./errors.js";
export * from "./webhooks.js";
export type { components, paths } from "./schema.js";
