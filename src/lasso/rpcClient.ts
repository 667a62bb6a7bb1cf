import { performance } from "node:perf_hooks";
import { createRequire } from "node:module";
import type { Agent as UndiciAgent, Dispatcher } from "undici";
import type { ErrorClass } from "../samples.js";
import { isPlausibleRpcCode } from "./answerValues.js";
import { readLassoMetaHeader, type LassoMeta, type MetaStatus } from "./meta.js";

export interface RpcCallResult {
  outcome: "ok" | "error";
  errorClass: ErrorClass | null;
  errorDetail: string | null;
  /** Client-observed latency, monotonic clock. */
  latencyMs: number;
  httpStatus: number | null;
  /** The JSON-RPC error code, also when it came with a non-2xx status (Lasso's 400 -32602, 404 -32000, 503 -32008). */
  rpcCode: number | null;
  /** The JSON-RPC `result` when outcome is ok. */
  result: unknown;
  meta: LassoMeta | null;
  /**
   * What became of the answer's `X-Lasso-Meta` header; null when no HTTP answer arrived.
   * Always set by RpcHttpClient; optional so results built elsewhere (tests) need not say.
   */
  metaStatus?: MetaStatus | null;
}

/** What a call's body and status say, before latency and the metadata header's fate are added. */
type CallVerdict = Omit<RpcCallResult, "latencyMs" | "metaStatus">;

/**
 * undici's Agent from its own module: the package index also loads fetch, WebSocket,
 * caches and mocks (~9 MB of RSS) that a probe never uses. Pinned by package-lock; the
 * client tests fail if an upgrade moves the file.
 */
const Agent = createRequire(import.meta.url)("undici/lib/dispatcher/agent.js") as typeof UndiciAgent;
type Agent = UndiciAgent;

const MAX_BODY_BYTES = 8 * 1024 * 1024;
const REQUEST_HEADERS = { "content-type": "application/json", accept: "application/json" };
let nextId = 1;

/**
 * JSON-RPC over HTTP the way a client of Lasso would do it: one keep-alive agent, a hard
 * deadline per call, and every way a call can go wrong turned into a classified result.
 *
 * It drives undici's dispatcher with callbacks rather than `request()`: no body stream,
 * no async iteration, no AbortSignal per call. At 10 probes/s that was ~0.5 ms of CPU per
 * probe, a sixth of the daemon's whole budget.
 */
export class RpcHttpClient {
  private readonly agent: Agent;
  private readonly targets = new Map<string, { origin: string; path: string; source: Record<string, string> | undefined; headers: Record<string, string> }>();

  constructor(opts: { connectionsPerOrigin?: number; keepAliveTimeoutMs?: number } = {}) {
    this.agent = new Agent({
      connections: opts.connectionsPerOrigin ?? 8,
      keepAliveTimeout: opts.keepAliveTimeoutMs ?? 30_000,
      pipelining: 1,
    });
  }

  /** `headers` (a target's configured headers) are sent along with the client's own. */
  call(url: string, method: string, params: unknown[], timeoutMs: number, headers?: Record<string, string>): Promise<RpcCallResult> {
    const id = nextId++;
    const body = JSON.stringify({ jsonrpc: "2.0", id, method, params });
    const started = performance.now();
    return new Promise<RpcCallResult>((resolve) => {
      let controller: Dispatcher.DispatchController | null = null;
      let settled = false;
      let status = 0;
      let meta: LassoMeta | null = null;
      let metaStatus: MetaStatus | null = null;
      let size = 0;
      const chunks: Buffer[] = [];
      const finish = (r: CallVerdict): void => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        resolve({ ...r, metaStatus, latencyMs: performance.now() - started });
      };
      const timer = setTimeout(() => {
        finish(failure("timeout", `no answer within ${timeoutMs} ms`, null, null));
        controller?.abort(new DeadlineExceeded(timeoutMs));
      }, timeoutMs);
      try {
        const t = this.target(url, headers);
        this.agent.dispatch({ origin: t.origin, path: t.path, method: "POST", headers: t.headers, body }, {
          onRequestStart(c) {
            controller = c;
            if (settled) c.abort(new DeadlineExceeded(timeoutMs));
          },
          onResponseStart(_c, statusCode, headers) {
            status = statusCode;
            ({ meta, status: metaStatus } = readLassoMetaHeader(headerValue(headers["x-lasso-meta"])));
          },
          onResponseData(c, chunk) {
            size += chunk.length;
            if (size > MAX_BODY_BYTES) c.abort(new BodyTooLarge());
            else chunks.push(chunk);
          },
          onResponseEnd() {
            const text = Buffer.concat(chunks).toString("utf8");
            if (status < 200 || status >= 300) finish({ ...failure(`http_${status}`, `HTTP ${status}: ${text.slice(0, 200)}`, status, meta), rpcCode: errorCodeOf(text) });
            else finish(interpretBody(text, id, status, meta));
          },
          onResponseError(_c, err) {
            finish(failure(classifyTransportError(err), describe(err), null, null));
          },
        });
      } catch (err) {
        finish(failure(classifyTransportError(err), describe(err), null, null));
      }
    });
  }

  async close(): Promise<void> {
    await this.agent.close();
  }

  /** Route URLs are few and fixed: split each into origin and path, and merge its headers, once. */
  private target(url: string, headers: Record<string, string> | undefined): { origin: string; path: string; headers: Record<string, string> } {
    let t = this.targets.get(url);
    if (!t || t.source !== headers) {
      const u = new URL(url);
      t = { origin: u.origin, path: `${u.pathname}${u.search}`, source: headers, headers: { ...headers, ...REQUEST_HEADERS } };
      this.targets.set(url, t);
    }
    return t;
  }
}

function headerValue(v: string | string[] | undefined): string | undefined {
  return Array.isArray(v) ? v[0] : v;
}

class BodyTooLarge extends Error {
  constructor() {
    super(`response body over ${MAX_BODY_BYTES} bytes`);
  }
}

class DeadlineExceeded extends Error {
  constructor(ms: number) {
    super(`no answer within ${ms} ms`);
  }
}

function failure(errorClass: ErrorClass, detail: string, httpStatus: number | null, meta: LassoMeta | null, rpcCode: number | null = null): CallVerdict {
  return { outcome: "error", errorClass, errorDetail: detail, httpStatus, rpcCode, result: undefined, meta };
}

/** The integer `error.code` of a JSON-RPC error body, else null. */
function errorCodeOf(text: string): number | null {
  try {
    const body: unknown = JSON.parse(text);
    const code = isObject(body) && isObject(body.error) ? body.error.code : undefined;
    return isPlausibleRpcCode(code) ? code : null;
  } catch {
    return null;
  }
}

/** Exported for tests: what a 2xx body means. */
export function interpretBody(text: string, id: number, status: number, meta: LassoMeta | null): CallVerdict {
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
    const code = isPlausibleRpcCode(body.error.code) ? body.error.code : null;
    const message = typeof body.error.message === "string" ? body.error.message : "";
    if (code === null) return failure("invalid_response", "error object without a 32-bit integer code", status, meta);
    return failure(`rpc_${code}`, `JSON-RPC error ${code}: ${message.slice(0, 200)}`, status, meta, code);
  }
  if (body.id !== id) return failure("invalid_response", `response id ${JSON.stringify(body.id)} does not match request id ${id}`, status, meta);
  if (!("result" in body)) return failure("invalid_response", "neither result nor error", status, meta);
  return { outcome: "ok", errorClass: null, errorDetail: null, httpStatus: status, rpcCode: null, result: body.result, meta: meta };
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

/** Anything below HTTP that is not our own deadline: refused, reset, closed, DNS. */
function classifyTransportError(err: unknown): ErrorClass {
  if (err instanceof BodyTooLarge) return "invalid_response";
  const code = errorCode(err);
  return code === "UND_ERR_CONNECT_TIMEOUT" || code === "UND_ERR_HEADERS_TIMEOUT" || code === "UND_ERR_BODY_TIMEOUT" ? "timeout" : "connect";
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
