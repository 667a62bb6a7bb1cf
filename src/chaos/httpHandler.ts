import type { IncomingMessage, ServerResponse } from "node:http";
import { pipeline } from "node:stream/promises";
import { outcomeName, UNPARSEABLE, type Outcome } from "./counts.js";
import { MALFORMED_BODY, type ProxyContext } from "./context.js";
import type { FaultWindow } from "./faultClock.js";
import { errorResponse, idKey, parseRpcBody, serialiseAnswers, type RpcBody, type RpcCall } from "./jsonrpc.js";
import { latencyMs, pause } from "./pause.js";
import { isStaleHeadTarget, lagResponses, needsHead, pinBlock } from "./staleHead.js";
import { UpstreamHttp } from "./upstreamHttp.js";

const MAX_BODY = 16 * 1024 * 1024;
/** Blackholed requests held at once; beyond this, new ones are dropped unanswered at once. */
const MAX_HELD = 1024;

interface Exchange {
  req: IncomingMessage;
  res: ServerResponse;
  text: string;
  body: RpcBody | null;
  calls: RpcCall[];
  /** Aborts when the client goes away before its answer was written. */
  gone: AbortSignal;
}

/**
 * HTTP side of the proxy: every POST (any path) goes to the upstream URL, unless the open
 * fault says otherwise. Each request item is counted once, under its method, with one outcome.
 */
export class HttpFaultHandler {
  readonly #ctx: ProxyContext;
  #held = 0;

  constructor(ctx: ProxyContext) {
    this.#ctx = ctx;
  }

  readonly handle = (req: IncomingMessage, res: ServerResponse): void => {
    this.#handle(req, res).catch(() => res.destroy());
  };

  async #handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    if (req.method !== "POST") {
      reply(res, 405, { allow: "POST", "content-type": "text/plain" }, "fault proxy: POST JSON-RPC only\n");
      return;
    }
    const gone = new AbortController();
    res.on("close", () => {
      if (!res.writableFinished) gone.abort();
    });
    const text = await readBody(req, MAX_BODY);
    if (text === null) {
      this.#ctx.counts.add(UNPARSEABLE, "too_large");
      res.once("finish", () => req.socket.destroy());
      reply(res, 413, { connection: "close", "content-type": "text/plain" }, "fault proxy: body too large\n");
      return;
    }
    const body = parseRpcBody(text);
    const calls = body?.calls ?? [{ id: null, method: UNPARSEABLE, params: [], raw: null }];
    const ex: Exchange = { req, res, text, body, calls, gone: gone.signal };
    const window = this.#ctx.clock.current();
    if (!window) {
      await this.#forward(ex, true);
      return;
    }
    await this.#faulted(ex, window);
  }

  async #faulted(ex: Exchange, window: FaultWindow): Promise<void> {
    const fault = window.fault;
    if (fault.kind === "pass" || fault.kind === "ws_drop" || fault.kind === "ws_stall") {
      await this.#forward(ex, true);
      return;
    }
    if (fault.kind === "stale_head") {
      await this.#staleHead(ex, fault.blocks);
      return;
    }
    this.#record(ex, `fault:${fault.kind}`);
    const { req, res } = ex;
    switch (fault.kind) {
      case "latency":
        // The delay ends early when the window does: a latency fault never outlives it.
        await pause(latencyMs(fault.fixedMs, fault.jitterMs), [window.ended, ex.gone, this.#ctx.stopping]);
        if (!ex.gone.aborted && !this.#ctx.stopping.aborted) await this.#forward(ex, false);
        return;
      case "blackhole":
        // Held until the client gives up, the window ends or the proxy stops; then dropped
        // unanswered (never forwarded late), so nothing of the window leaks past its end.
        if (this.#held >= MAX_HELD) {
          req.socket.destroy();
          return;
        }
        this.#held++;
        try {
          await pause(Infinity, [window.ended, ex.gone, this.#ctx.stopping]);
        } finally {
          this.#held--;
        }
        req.socket.destroy();
        return;
      case "reset":
        req.socket.resetAndDestroy();
        return;
      case "http_5xx":
        reply(res, fault.status, { "content-type": "text/plain" }, `fault proxy: injected HTTP ${fault.status}\n`);
        return;
      case "http_429":
        reply(res, 429, { "content-type": "text/plain", "retry-after": String(fault.retryAfterSec) }, "fault proxy: rate limited\n");
        return;
      case "rpc_error": {
        const answers = ex.calls.map((c) => errorResponse(c.id, fault.code, fault.message));
        reply(res, 200, { "content-type": "application/json" }, serialiseAnswers(ex.body, answers));
        return;
      }
      case "malformed":
        reply(res, 200, { "content-type": "application/json" }, MALFORMED_BODY);
        return;
    }
  }

  /** Streams the upstream answer back; counts each item when `count` (faulted items were counted already). */
  async #forward(ex: Exchange, count: boolean): Promise<void> {
    let up;
    try {
      up = await this.#ctx.upstream.post(ex.text, ex.gone);
    } catch {
      this.#failed(ex, count);
      return;
    }
    if (count) this.#record(ex, "forwarded");
    ex.res.writeHead(up.statusCode, { "content-type": contentType(up.headers["content-type"]) });
    try {
      await pipeline(up.body, ex.res);
    } catch {
      ex.res.destroy();
    }
  }

  async #staleHead(ex: Exchange, k: number): Promise<void> {
    const { body, calls } = ex;
    if (!body || !calls.some(isStaleHeadTarget)) {
      await this.#forward(ex, true);
      return;
    }
    try {
      let text = ex.text;
      if (calls.some(needsHead)) {
        const target = Math.max(0, (await this.#ctx.upstream.blockNumber(ex.gone)) - k);
        const items = calls.map((c) => (needsHead(c) ? pinBlock(c, target) : c.raw));
        text = JSON.stringify(body.batch ? items : items[0]);
      }
      const up = await this.#ctx.upstream.post(text, ex.gone);
      const answer = await UpstreamHttp.readText(up.body);
      const lagged = new Set(calls.filter((c) => c.method === "eth_blockNumber").map((c) => idKey(c.id)));
      this.#record(ex, (c) => (isStaleHeadTarget(c) ? "fault:stale_head" : "forwarded"));
      reply(ex.res, up.statusCode, { "content-type": contentType(up.headers["content-type"]) }, lagResponses(answer, lagged, k));
    } catch {
      this.#failed(ex, true);
    }
  }

  #failed(ex: Exchange, count: boolean): void {
    if (ex.gone.aborted) {
      if (count) this.#record(ex, "client_aborted");
      return;
    }
    if (count) this.#record(ex, "upstream_error");
    reply(ex.res, 502, { "content-type": "text/plain" }, "fault proxy: upstream unavailable\n");
  }

  #record(ex: Exchange, outcome: Outcome | ((call: RpcCall) => Outcome)): void {
    for (const call of ex.calls) {
      this.#ctx.counts.add(call.method, outcomeName("http", typeof outcome === "string" ? outcome : outcome(call)));
    }
  }
}

function contentType(value: string | string[] | undefined): string {
  return typeof value === "string" ? value : "application/json";
}

function reply(res: ServerResponse, status: number, headers: Record<string, string>, body: string): void {
  if (res.headersSent || res.destroyed) return;
  res.writeHead(status, { ...headers, "content-length": Buffer.byteLength(body) });
  res.end(body);
}

/** The request body as text, or null when it exceeds `max` bytes (the rest is discarded). */
function readBody(req: IncomingMessage, max: number): Promise<string | null> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const onData = (chunk: Buffer): void => {
      size += chunk.length;
      if (size > max) {
        req.off("data", onData);
        req.resume();
        resolve(null);
        return;
      }
      chunks.push(chunk);
    };
    req.on("data", onData);
    req.once("end", () => resolve(size > max ? null : Buffer.concat(chunks).toString("utf8")));
    req.once("error", reject);
  });
}
