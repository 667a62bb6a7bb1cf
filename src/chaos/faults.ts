import { z } from "zod";

/** Upper bound on stale_head's k: the proxy buffers k+1 head frames per newHeads subscription. */
export const MAX_STALE_BLOCKS = 128;

export const faultSchema = z.discriminatedUnion("kind", [
  z.strictObject({ kind: z.literal("pass") }),
  z.strictObject({
    kind: z.literal("latency"),
    fixedMs: z.number().int().min(0).max(600_000),
    jitterMs: z.number().int().min(0).max(600_000),
  }),
  z.strictObject({ kind: z.literal("blackhole") }),
  z.strictObject({ kind: z.literal("reset") }),
  z.strictObject({ kind: z.literal("http_5xx"), status: z.number().int().min(500).max(599) }),
  z.strictObject({ kind: z.literal("http_429"), retryAfterSec: z.number().int().min(0).max(86_400) }),
  z.strictObject({
    kind: z.literal("rpc_error"),
    code: z.number().int(),
    message: z.string().max(500),
  }),
  z.strictObject({ kind: z.literal("malformed") }),
  z.strictObject({ kind: z.literal("stale_head"), blocks: z.number().int().min(1).max(MAX_STALE_BLOCKS) }),
  z.strictObject({ kind: z.literal("ws_drop") }),
  z.strictObject({ kind: z.literal("ws_stall") }),
]);

/**
 * What a fault proxy does to the traffic passing through it while a fault window is open.
 * - pass: pass-through (also the state outside any window)
 * - latency: delay each request by fixedMs + uniform [0, jitterMs) before forwarding
 * - blackhole: accept, never answer (HTTP: hold the request; WS: swallow requests and all upstream frames)
 * - reset: TCP-reset the client connection instead of answering
 * - http_5xx / http_429: answer HTTP requests (and WS handshakes) with that status
 * - rpc_error: HTTP 200 / WS frame with a JSON-RPC error object per request (batch-aware)
 * - malformed: HTTP 200 / WS frame whose body is not valid JSON
 * - stale_head: eth_blockNumber and eth_getBlockByNumber("latest") answered `blocks` behind;
 *   newHeads notifications delayed by `blocks` blocks
 * - ws_drop: close every client WS socket now and refuse new ones
 * - ws_stall: keep WS sockets, drop eth_subscription notifications (requests still answered)
 */
export type Fault = z.infer<typeof faultSchema>;
export type FaultKind = Fault["kind"];

/** Parses an untrusted value (config, JSON body) into a Fault; throws a ZodError when invalid. */
export function parseFault(input: unknown): Fault {
  return faultSchema.parse(input);
}
