import type { Duplex } from "node:stream";
import { Socket } from "node:net";
import { WebSocket, type RawData } from "ws";
import { outcomeName, UNPARSEABLE, type Outcome } from "./counts.js";
import { MALFORMED_BODY, type ProxyContext } from "./context.js";
import type { FaultWindow } from "./faultClock.js";
import {
  errorResponse,
  idKey,
  isObject,
  parseJson,
  parseRpcBody,
  serialiseAnswers,
  toId,
  type JsonObject,
  type JsonValue,
  type RpcBody,
  type RpcCall,
} from "./jsonrpc.js";
import { latencyMs, pause } from "./pause.js";
import { HeadDelay, isStaleHeadTarget, lagBlockNumber, needsHead, pinBlock } from "./staleHead.js";

/** Requests awaiting an upstream answer per connection; the oldest is forgotten beyond this. */
const MAX_PENDING = 1024;
/** Subscriptions tracked per connection (Lasso's own limit is 128). */
const MAX_SUBSCRIPTIONS = 128;
/** Latency-delayed requests per connection; beyond this the connection is dropped. */
const MAX_DELAYED = 1024;
/** Bytes queued towards a slow peer before the connection is dropped. */
const MAX_QUEUED_BYTES = 16 * 1024 * 1024;

interface Pending {
  method: string;
  /** params[0]: the subscription kind of eth_subscribe, the id of eth_unsubscribe. */
  arg0: JsonValue | undefined;
  /** Already counted when the request was sent (a faulted request). */
  counted: boolean;
  /** eth_blockNumber under stale_head: answer this many blocks behind. */
  lagBlocks: number | null;
}

export function resetSocket(socket: Duplex): void {
  if (socket instanceof Socket) socket.resetAndDestroy();
  else socket.destroy();
}

function toBuffer(data: RawData): Buffer {
  if (Buffer.isBuffer(data)) return data;
  if (Array.isArray(data)) return Buffer.concat(data);
  return Buffer.from(data);
}

/**
 * One client WS connection and its own upstream WS connection, relaying frames both ways.
 * Requests are counted under their method with a "ws:" outcome; upstream notifications are
 * counted under "eth_subscription".
 */
export class WsSession {
  readonly #ctx: ProxyContext;
  readonly #client: WebSocket;
  readonly #upstream: WebSocket;
  readonly #socket: Duplex;
  readonly #onClosed: (session: WsSession) => void;
  readonly #pending = new Map<string, Pending>();
  /** Subscription id -> head delay buffer (newHeads) or null (other kinds). */
  readonly #subs = new Map<string, HeadDelay | null>();
  readonly #closed = new AbortController();
  #delayed = 0;
  /** Why the proxy itself cut the connection: unanswered requests are counted as that fault. */
  #cutBy: Outcome | null = null;

  constructor(ctx: ProxyContext, client: WebSocket, upstream: WebSocket, socket: Duplex, onClosed: (s: WsSession) => void) {
    this.#ctx = ctx;
    this.#client = client;
    this.#upstream = upstream;
    this.#socket = socket;
    this.#onClosed = onClosed;
    client.on("error", () => {}); // always followed by "close"
    client.on("message", (data, isBinary) => this.#fromClient(data, isBinary));
    client.on("close", () => this.#close("client"));
    upstream.on("message", (data, isBinary) => this.#fromUpstream(data, isBinary));
    upstream.on("close", (code, reason) => this.#close("upstream", code, reason));
  }

  /** Cuts both sides at once without a close handshake (ws_drop). */
  drop(cause: Outcome): void {
    this.#cutBy ??= cause;
    this.#client.terminate();
    this.#upstream.terminate();
  }

  /** TCP-resets the client connection (reset). */
  reset(): void {
    this.#cutBy ??= "fault:reset";
    resetSocket(this.#socket);
    this.#upstream.terminate();
  }

  /** Sends the heads held back by stale_head (the catch-up when the fault ends). */
  flushHeads(): void {
    for (const delay of this.#subs.values()) {
      for (const frame of delay?.flush() ?? []) this.#toClient(frame);
    }
  }

  #fromClient(data: RawData, isBinary: boolean): void {
    if (isBinary) {
      this.#toUpstream(toBuffer(data));
      return;
    }
    const text = toBuffer(data).toString("utf8");
    const body = parseRpcBody(text);
    const calls = body?.calls ?? [{ id: null, method: UNPARSEABLE, params: [], raw: null }];
    const window = this.#ctx.clock.current();
    if (!window) {
      this.#forward(text, calls, () => false, null);
      return;
    }
    this.#faulted(text, body, calls, window);
  }

  #faulted(text: string, body: RpcBody | null, calls: RpcCall[], window: FaultWindow): void {
    const fault = window.fault;
    switch (fault.kind) {
      case "pass":
      case "http_5xx":
      case "http_429":
      case "ws_stall":
        this.#forward(text, calls, () => false, null);
        return;
      case "stale_head":
        this.#staleHead(text, body, calls, fault.blocks);
        return;
      default:
        break;
    }
    this.#record(calls, `fault:${fault.kind}`);
    switch (fault.kind) {
      case "latency":
        if (this.#delayed >= MAX_DELAYED) {
          this.drop("fault:latency");
          return;
        }
        this.#delayed++;
        void pause(latencyMs(fault.fixedMs, fault.jitterMs), [window.ended, this.#closed.signal, this.#ctx.stopping]).then(() => {
          this.#delayed--;
          if (!this.#closed.signal.aborted) this.#forward(text, calls, () => true, null);
        });
        return;
      case "blackhole":
        return;
      case "reset":
        this.reset();
        return;
      case "ws_drop":
        this.drop("fault:ws_drop");
        return;
      case "rpc_error":
        this.#toClient(serialiseAnswers(body, calls.map((c) => errorResponse(c.id, fault.code, fault.message))));
        return;
      case "malformed":
        this.#toClient(MALFORMED_BODY);
        return;
    }
  }

  #staleHead(text: string, body: RpcBody | null, calls: RpcCall[], k: number): void {
    if (!body || !calls.some(isStaleHeadTarget)) {
      this.#forward(text, calls, () => false, null);
      return;
    }
    this.#record(calls.filter(isStaleHeadTarget), "fault:stale_head");
    if (!calls.some(needsHead)) {
      this.#forward(text, calls, isStaleHeadTarget, k);
      return;
    }
    this.#ctx.upstream.blockNumber(this.#closed.signal).then(
      (head) => {
        const items = calls.map((c) => (needsHead(c) ? pinBlock(c, Math.max(0, head - k)) : c.raw));
        this.#forward(JSON.stringify(body.batch ? items : items[0]), calls, isStaleHeadTarget, k);
      },
      () => {
        if (this.#closed.signal.aborted) return;
        this.#record(calls.filter((c) => !isStaleHeadTarget(c)), "upstream_error");
        const answers = calls.map((c) => errorResponse(c.id, -32603, "fault proxy: upstream head unavailable"));
        this.#toClient(serialiseAnswers(body, answers));
      },
    );
  }

  /** Sends to upstream and remembers each call until its answer; `counted` ones were counted already. */
  #forward(text: string, calls: RpcCall[], counted: (c: RpcCall) => boolean, lagBlocks: number | null): void {
    for (const call of calls) {
      const isCounted = counted(call);
      if (call.id === null) {
        // A notification or an id-less item gets no answer to wait for.
        if (!isCounted) this.#count(call.method, "forwarded");
        continue;
      }
      if (this.#pending.size >= MAX_PENDING) this.#forgetOldest();
      this.#pending.set(idKey(call.id), {
        method: call.method,
        arg0: call.params[0],
        counted: isCounted,
        lagBlocks: call.method === "eth_blockNumber" ? lagBlocks : null,
      });
    }
    this.#toUpstream(text);
  }

  #forgetOldest(): void {
    const oldest = this.#pending.entries().next();
    if (oldest.done) return;
    const [key, p] = oldest.value;
    this.#pending.delete(key);
    if (!p.counted) this.#count(p.method, "upstream_error");
  }

  #fromUpstream(data: RawData, isBinary: boolean): void {
    const kind = this.#ctx.clock.current()?.fault.kind;
    if (isBinary) {
      if (kind !== "blackhole") this.#toClient(toBuffer(data));
      return;
    }
    const text = toBuffer(data).toString("utf8");
    const msg = parseJson(text);
    if (isObject(msg) && msg.method === "eth_subscription") {
      this.#notification(text, msg);
      return;
    }
    const swallow = kind === "blackhole";
    let changed = false;
    const answer = (item: JsonValue): JsonValue => {
      if (!isObject(item)) return item;
      const out = this.#answer(item, swallow);
      if (out !== item) changed = true;
      return out;
    };
    const out = Array.isArray(msg) ? msg.map(answer) : msg === undefined ? undefined : answer(msg);
    if (swallow) return;
    this.#toClient(changed ? JSON.stringify(out) : text);
  }

  #answer(item: JsonObject, swallowed: boolean): JsonValue {
    const key = idKey(toId(item.id));
    const p = this.#pending.get(key);
    if (!p) return item;
    this.#pending.delete(key);
    if (!p.counted) this.#count(p.method, swallowed ? "fault:blackhole" : "forwarded");
    if (swallowed) return item;
    if (p.method === "eth_subscribe" && typeof item.result === "string" && this.#subs.size < MAX_SUBSCRIPTIONS) {
      this.#subs.set(item.result, p.arg0 === "newHeads" ? new HeadDelay() : null);
    }
    if (p.method === "eth_unsubscribe" && typeof p.arg0 === "string" && item.result === true) this.#subs.delete(p.arg0);
    return p.lagBlocks === null ? item : lagBlockNumber(item, p.lagBlocks);
  }

  #notification(text: string, msg: JsonObject): void {
    const window = this.#ctx.clock.current();
    const params = msg.params;
    const subId = isObject(params) && typeof params.subscription === "string" ? params.subscription : null;
    const delay = subId === null ? undefined : this.#subs.get(subId);
    const fault = window?.fault;
    if (fault?.kind === "blackhole" || fault?.kind === "ws_stall") {
      this.#count("eth_subscription", `fault:${fault.kind}`);
      return;
    }
    if (fault?.kind === "stale_head" && delay) {
      this.#count("eth_subscription", "fault:stale_head");
      for (const frame of delay.push(text, fault.blocks)) this.#toClient(frame);
      return;
    }
    // Held heads go first, so a missed fault-end flush cannot reorder the stream.
    for (const frame of delay?.flush() ?? []) this.#toClient(frame);
    this.#count("eth_subscription", "forwarded");
    this.#toClient(text);
  }

  #toClient(data: string | Buffer): void {
    if (this.#client.readyState !== WebSocket.OPEN) return;
    if (this.#client.bufferedAmount > MAX_QUEUED_BYTES) {
      this.drop("upstream_error");
      return;
    }
    this.#client.send(data, { binary: Buffer.isBuffer(data) });
  }

  #toUpstream(data: string | Buffer): void {
    if (this.#upstream.readyState !== WebSocket.OPEN) return;
    if (this.#upstream.bufferedAmount > MAX_QUEUED_BYTES) {
      this.drop("upstream_error");
      return;
    }
    this.#upstream.send(data, { binary: Buffer.isBuffer(data) });
  }

  #close(side: "client" | "upstream", code?: number, reason?: Buffer): void {
    if (this.#closed.signal.aborted) return;
    this.#closed.abort();
    const cause: Outcome = this.#cutBy ?? (side === "client" ? "client_aborted" : "upstream_error");
    for (const p of this.#pending.values()) if (!p.counted) this.#count(p.method, cause);
    this.#pending.clear();
    this.#subs.clear();
    if (side === "client") this.#upstream.close(1000);
    else closeLike(this.#client, code, reason);
    this.#onClosed(this);
  }

  #record(calls: RpcCall[], outcome: Outcome): void {
    for (const call of calls) this.#count(call.method, outcome);
  }

  #count(method: string, outcome: Outcome): void {
    this.#ctx.counts.add(method, outcomeName("ws", outcome));
  }
}

/** Passes the upstream's close on to the client: same code when it may be sent, abrupt otherwise. */
function closeLike(client: WebSocket, code: number | undefined, reason: Buffer | undefined): void {
  if (client.readyState === WebSocket.CLOSED) return;
  if (code === undefined || code === 1005) client.close();
  else if (code === 1000 || (code >= 1001 && code <= 1003) || (code >= 1007 && code <= 1014) || (code >= 3000 && code <= 4999)) {
    client.close(code, reason);
  } else client.terminate();
}
