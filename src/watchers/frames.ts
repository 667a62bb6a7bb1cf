/**
 * Every WebSocket frame and HTTP result the watchers read, parsed into typed values. Nothing
 * here throws: a frame that is not what docs/lasso-contract.md says is a `malformed` value with a reason.
 */
import { z } from "zod";

const quantity = z
  .string()
  .regex(/^0x[0-9a-fA-F]{1,15}$/)
  .transform((s) => Number.parseInt(s, 16));
const hash32 = z
  .string()
  .regex(/^0x[0-9a-fA-F]{64}$/)
  .transform((s) => s.toLowerCase());
const rpcId = z.union([z.number(), z.string(), z.null()]);

export type Frame =
  | { kind: "response"; id: number | string | null; result: unknown }
  | { kind: "error"; id: number | string | null; code: number; message: string }
  | { kind: "notification"; subscription: string; result: unknown }
  /** Lasso's routing metadata frame (`"lasso_meta":"notify"`): not used by watchers. */
  | { kind: "meta" }
  | { kind: "malformed"; reason: string };

const notificationSchema = z.object({
  jsonrpc: z.literal("2.0"),
  method: z.literal("eth_subscription"),
  params: z.object({ subscription: z.string().min(1), result: z.unknown() }),
});
const errorSchema = z.object({
  jsonrpc: z.literal("2.0"),
  id: rpcId,
  error: z.object({ code: z.number().int(), message: z.string() }),
});
const responseSchema = z.object({ jsonrpc: z.literal("2.0"), id: rpcId, result: z.unknown() });

export function parseFrame(text: string): Frame {
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch {
    return { kind: "malformed", reason: `not JSON: ${text.slice(0, 60)}` };
  }
  if (typeof v !== "object" || v === null || Array.isArray(v)) return { kind: "malformed", reason: "not a JSON-RPC object" };
  if ("method" in v) {
    if (v.method === "lasso_meta") return { kind: "meta" };
    const n = notificationSchema.safeParse(v);
    if (n.success) return { kind: "notification", subscription: n.data.params.subscription, result: n.data.params.result };
    return { kind: "malformed", reason: `bad notification: ${issueText(n.error)}` };
  }
  if ("error" in v) {
    const e = errorSchema.safeParse(v);
    if (e.success) return { kind: "error", id: e.data.id, code: e.data.error.code, message: e.data.error.message };
    return { kind: "malformed", reason: `bad error response: ${issueText(e.error)}` };
  }
  const r = responseSchema.safeParse(v);
  if (r.success && "result" in v) return { kind: "response", id: r.data.id, result: r.data.result };
  return { kind: "malformed", reason: r.success ? "response without result or error" : `bad response: ${issueText(r.error)}` };
}

/** A newHeads event (live header) or a block (backfilled event, or an HTTP answer). */
export interface HeadEvent {
  number: number;
  hash: string;
  parentHash: string;
  /** Block timestamp, seconds. */
  timestampSec: number;
  /** A full block (has a `transactions` array): Lasso backfilled it; live headers have none. */
  backfilled: boolean;
}

const headSchema = z.object({
  number: quantity,
  hash: hash32,
  parentHash: hash32,
  timestamp: quantity,
  transactions: z.array(z.unknown()).optional(),
});

export type Parsed<T> = { ok: true; value: T } | { ok: false; reason: string };

export function parseHead(v: unknown): Parsed<HeadEvent> {
  const r = headSchema.safeParse(v);
  if (!r.success) return { ok: false, reason: `bad head: ${issueText(r.error)}` };
  const h = r.data;
  return { ok: true, value: { number: h.number, hash: h.hash, parentHash: h.parentHash, timestampSec: h.timestamp, backfilled: h.transactions !== undefined } };
}

/** eth_getBlockByNumber answer: a block, or null when the node does not have it. */
export function parseBlockResult(v: unknown): Parsed<HeadEvent | null> {
  if (v === null) return { ok: true, value: null };
  return parseHead(v);
}

export interface LogEvent {
  blockNumber: number;
  blockHash: string;
  logIndex: number;
  transactionHash: string;
  removed: boolean;
  /** Present on nodes that add it to logs (anvil, recent geth). Seconds. */
  blockTimestampSec: number | null;
}

const logSchema = z.object({
  address: z.string().regex(/^0x[0-9a-fA-F]{40}$/),
  topics: z.array(z.string()),
  blockNumber: quantity,
  blockHash: hash32,
  logIndex: quantity,
  transactionHash: hash32,
  removed: z.boolean().optional(),
  blockTimestamp: quantity.optional(),
});

export function parseLog(v: unknown): Parsed<LogEvent> {
  const r = logSchema.safeParse(v);
  if (!r.success) return { ok: false, reason: `bad log: ${issueText(r.error)}` };
  const l = r.data;
  return {
    ok: true,
    value: {
      blockNumber: l.blockNumber,
      blockHash: l.blockHash,
      logIndex: l.logIndex,
      transactionHash: l.transactionHash,
      removed: l.removed === true,
      blockTimestampSec: l.blockTimestamp ?? null,
    },
  };
}

export function parseLogsResult(v: unknown): Parsed<LogEvent[]> {
  if (!Array.isArray(v)) return { ok: false, reason: "eth_getLogs result is not a list" };
  const out: LogEvent[] = [];
  for (const item of v) {
    const l = parseLog(item);
    if (!l.ok) return l;
    out.push(l.value);
  }
  return { ok: true, value: out };
}

/** Lasso's subscription id: 16 lowercase hex chars (docs/lasso-contract.md); other non-empty strings are accepted but noted. */
export function parseSubscriptionId(v: unknown): Parsed<string> {
  if (typeof v === "string" && v.length > 0 && v.length <= 128) return { ok: true, value: v };
  return { ok: false, reason: `subscription id is not a string: ${JSON.stringify(v)?.slice(0, 60)}` };
}

export function parseQuantity(v: unknown): number | null {
  const r = quantity.safeParse(v);
  return r.success ? r.data : null;
}

export function toHex(n: number): string {
  return `0x${n.toString(16)}`;
}

function issueText(err: z.ZodError): string {
  const first = err.issues[0];
  if (first === undefined) return "invalid";
  const at = first.path.map(String).join(".");
  return at === "" ? first.message : `${at}: ${first.message}`;
}
