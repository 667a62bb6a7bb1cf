import { performance } from "node:perf_hooks";
import { Agent, errors as undiciErrors, request } from "undici";
import type { ErrorClass } from "../samples.js";
import { decodeLassoMetaHeader, type LassoMeta } from "./meta.js";

export interface RpcCallResult {
  outcome: "ok" | "error";
  errorClass: ErrorClass | null;
  errorDetail: string | null;
  /** Client-observed latency, monotonic clock. */
  latencyMs: number;
  httpStatus: number | null;
  /** The JSON-RPC `result` when outcome is ok. */
  result: unknown;
  meta: LassoMeta | null;
}

const MAX_BODY_BYTES = 8 * 1024 * 1024;
let nextId = 1;

/**
 * JSON-RPC over HTTP the way a client of Lasso would do it: one keep-alive agent, a hard
 * deadline per call, and every way a call can go wrong turned into a classified result.
 */
export class RpcHttpClient {
  private readonly agent: Agent;

  constructor(opts: { connectionsPerOrigin?: number; keepAliveTimeoutMs?: number } = {}) {
    this.agent = new Agent({
      connections: opts.connectionsPerOrigin ?? 8,
      keepAliveTimeout: opts.keepAliveTimeoutMs ?? 30_000,
      pipelining: 1,
    });
  }

  async call(url: string, method: string, params: unknown[], timeoutMs: number): Promise<RpcCallResult> {
    const id = nextId++;
    const controller = new AbortController();
    const timer = setTimeout(() => controller.abort(), timeoutMs);
    const started = performance.now();
    const done = (r: Omit<RpcCallResult, "latencyMs">): RpcCallResult => ({ ...r, latencyMs: performance.now() - started });
    try {
      const res = await request(url, {
        method: "POST",
        dispatcher: this.agent,
        signal: controller.signal,
        headers: { "content-type": "application/json", accept: "application/json" },
        body: JSON.stringify({ jsonrpc: "2.0", id, method, params }),
      });
      const meta = decodeLassoMetaHeader(headerValue(res.headers["x-lasso-meta"]));
      const text = await readBody(res.body);
      const status = res.statusCode;
      if (status < 200 || status >= 300) {
        return done(failure(`http_${status}`, `HTTP ${status}: ${text.slice(0, 200)}`, status, meta));
      }
      return done(interpretBody(text, id, status, meta));
    } catch (err) {
      if (controller.signal.aborted) return done(failure("timeout", `no answer within ${timeoutMs} ms`, null, null));
      return done(failure(classifyTransportError(err), describe(err), null, null));
    } finally {
      clearTimeout(timer);
    }
  }

  async close(): Promise<void> {
    await this.agent.close();
  }
}

function headerValue(v: string | string[] | undefined): string | undefined {
  return Array.isArray(v) ? v[0] : v;
}

async function readBody(body: AsyncIterable<Buffer>): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of body) {
    size += chunk.length;
    if (size > MAX_BODY_BYTES) throw new BodyTooLarge();
    chunks.push(chunk);
  }
  return Buffer.concat(chunks).toString("utf8");
}

class BodyTooLarge extends Error {
  constructor() {
    super(`response body over ${MAX_BODY_BYTES} bytes`);
  }
}

function failure(errorClass: ErrorClass, detail: string, httpStatus: number | null, meta: LassoMeta | null): Omit<RpcCallResult, "latencyMs"> {
  return { outcome: "error", errorClass, errorDetail: detail, httpStatus, result: undefined, meta };
}

/** Exported for tests: what a 2xx body means. */
export function interpretBody(text: string, id: number, status: number, meta: LassoMeta | null): Omit<RpcCallResult, "latencyMs"> {
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    return failure("invalid_response", `body is not JSON: ${text.slice(0, 80)}`, status, meta);
  }
  if (!isObject(body) || body.jsonrpc !== "2.0") {
    return failure("invalid_response", "not a JSON-RPC 2.0 response object", status, meta);
  }
  if (isObject(body.error)) {
    const code = typeof body.error.code === "number" && Number.isInteger(body.error.code) ? body.error.code : null;
    const message = typeof body.error.message === "string" ? body.error.message : "";
    if (code === null) return failure("invalid_response", "error object without an integer code", status, meta);
    return failure(`rpc_${code}`, `JSON-RPC error ${code}: ${message.slice(0, 200)}`, status, meta);
  }
  if (body.id !== id) return failure("invalid_response", `response id ${JSON.stringify(body.id)} does not match request id ${id}`, status, meta);
  if (!("result" in body)) return failure("invalid_response", "neither result nor error", status, meta);
  return { outcome: "ok", errorClass: null, errorDetail: null, httpStatus: status, result: body.result, meta: meta };
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

/** Anything below HTTP that is not our own deadline: refused, reset, closed, DNS. */
function classifyTransportError(err: unknown): ErrorClass {
  if (err instanceof BodyTooLarge) return "invalid_response";
  if (
    err instanceof undiciErrors.ConnectTimeoutError ||
    err instanceof undiciErrors.HeadersTimeoutError ||
    err instanceof undiciErrors.BodyTimeoutError
  ) {
    return "timeout";
  }
  return "connect";
}

function errorCode(err: unknown): string | undefined {
  if (!isObject(err)) return undefined;
  if (typeof err.code === "string") return err.code;
  return errorCode(err.cause);
}

function describe(err: unknown): string {
  const code = errorCode(err);
  const message = err instanceof Error ? err.message : String(err);
  return code ? `${code}: ${message}` : message;
}
