/**
 * Shared upstream subscriptions. One upstream WS subscription per (profile, chain, filter)
 * serves every client; it lives on the healthy capable provider (a ws_url; for newHeads also
 * subscribe_new_heads) with the lowest priority value, whatever strategy the client URL names.
 * With no capable provider the client still gets its id and no event ever comes. Pinned URLs get their own stream on that provider
 * and never fail over (they reconnect to the same provider and gap-fill).
 *
 * Failover: on upstream close/error or staleness (no newHeads for `staleBlockTimes` block
 * times) the stream switches to the next provider by priority, buffers its live events,
 * backfills the missed range over HTTP (`eth_getBlockByNumber(n, false)` per height for
 * newHeads, one `eth_getLogs` range for logs; at most 100 blocks / 30 s), dedups (newHeads by
 * hash, logs by blockHash+logIndex+removed; 256 items / 30 s) and then goes live again.
 */
import { randomBytes } from "node:crypto";
import WebSocket from "ws";
import { DedupWindow } from "./dedup.js";
import { hexToNumber, isObject, parseJson, toHex, type JsonObject, type JsonValue, type RpcErrorObject } from "./jsonrpc.js";
import type { ChainRuntime, ProviderRuntime } from "./providerPool.js";
import type { Defects } from "./types.js";
import type { UpstreamClient } from "./upstream.js";
import { rawToString } from "./upstreamWs.js";

export type StreamKind = { type: "newHeads" } | { type: "logs"; filter: JsonObject };
export type EventListener = (result: JsonValue) => void;

export interface StreamDeps {
  client: UpstreamClient;
  defects: () => Defects;
  /** Failover after this many block times without a newHeads event. */
  staleBlockTimes: number;
}

const MAX_BACKFILL_BLOCKS = 100;
const BACKFILL_BUDGET_MS = 30_000;
const SETUP_TIMEOUT_MS = 5_000;
const BACKFILL_CALL_TIMEOUT_MS = 2_000;
const DUPLICATES_REPLAYED = 2;

type Which = "main" | "heads";
type Phase = "idle" | "connecting" | "switching" | "live" | "stopped";

interface Buffered {
  which: Which;
  result: JsonValue;
}

/** Introspection for tests and the demo. */
export interface StreamStatus {
  key: string;
  provider: string | null;
  phase: Phase;
  switches: number;
  subscribers: number;
}

export class UpstreamStream {
  readonly subscribers = new Map<string, EventListener>();
  private current: ProviderRuntime | null = null;
  private ws: WebSocket | null = null;
  private gen = 0;
  private phase: Phase = "idle";
  private buffer: Buffered[] = [];
  /** Highest block number delivered (newHeads). */
  private lastDeliveredNumber: number | null = null;
  /** Highest head seen on a live connection (logs streams; from the companion newHeads). */
  private lastSeenHead: number | null = null;
  private recent: JsonValue[] = [];
  private readonly dedup = new DedupWindow(256, 30_000);
  private staleTimer: NodeJS.Timeout | null = null;
  private retryTimer: NodeJS.Timeout | null = null;
  private retryCount = 0;
  private readonly failedAt = new Map<string, number>();
  private switches = 0;

  constructor(
    readonly key: string,
    readonly chain: ChainRuntime,
    readonly kind: StreamKind,
    readonly pinned: ProviderRuntime | null,
    private readonly deps: StreamDeps,
  ) {}

  status(): StreamStatus {
    return { key: this.key, provider: this.current?.id ?? null, phase: this.phase, switches: this.switches, subscribers: this.subscribers.size };
  }

  start(): void {
    this.connectNext(false);
  }

  stop(): void {
    this.phase = "stopped";
    this.gen += 1;
    this.clearTimers();
    this.closeSocket();
  }

  private get blockTimeMs(): number {
    return Math.max(100, this.chain.cfg.blockTimeMs);
  }

  private get cooldownMs(): number {
    return Math.max(2000, 2 * this.blockTimeMs);
  }

  private hasHistory(): boolean {
    return this.kind.type === "newHeads" ? this.lastDeliveredNumber !== null : this.lastSeenHead !== null;
  }

  private pickProvider(force: boolean): ProviderRuntime | null {
    if (this.pinned) return this.pinned;
    const now = performance.now();
    // Only providers that can serve this kind; none: retry forever, silently (as Lasso does).
    const byPriority = this.chain.providers.filter((p) => canServe(p, this.kind)).sort((a, b) => a.priority - b.priority);
    const cooling = (p: ProviderRuntime): boolean => {
      const t = this.failedAt.get(p.id);
      return t !== undefined && now - t < this.cooldownMs;
    };
    const healthy = byPriority.find((p) => !cooling(p) && p.breaker("ws").allows() && !this.chain.isLagging(p));
    if (healthy) return healthy;
    const notCooling = byPriority.find((p) => !cooling(p));
    if (notCooling) return notCooling;
    if (!force) return null;
    // Everyone failed recently: retry the one that failed longest ago.
    return [...byPriority].sort((a, b) => (this.failedAt.get(a.id) ?? 0) - (this.failedAt.get(b.id) ?? 0))[0] ?? null;
  }

  private connectNext(force: boolean): void {
    if (this.phase === "stopped") return;
    const p = this.pickProvider(force);
    if (!p) {
      this.scheduleRetry();
      return;
    }
    this.connect(p);
  }

  private scheduleRetry(): void {
    if (this.phase === "stopped" || this.retryTimer) return;
    const delay = Math.min(1000, 250 * 2 ** Math.min(this.retryCount, 2));
    this.retryCount += 1;
    this.retryTimer = setTimeout(() => {
      this.retryTimer = null;
      this.connectNext(true);
    }, delay);
    this.retryTimer.unref();
  }

  private connect(p: ProviderRuntime): void {
    const gen = ++this.gen;
    this.current = p;
    this.phase = this.hasHistory() ? "switching" : "connecting";
    this.buffer = [];
    this.clearStale();
    this.closeSocket();
    const ws = new WebSocket(p.instance.wsUrl ?? "", { handshakeTimeout: SETUP_TIMEOUT_MS });
    this.ws = ws;
    const subIds = new Map<string, Which>();
    const need = this.kind.type === "logs" ? 2 : 1;
    let acked = 0;
    const setupTimer = setTimeout(() => fail("subscribe timeout"), SETUP_TIMEOUT_MS);
    setupTimer.unref();
    const fail = (reason: string): void => {
      clearTimeout(setupTimer);
      if (gen !== this.gen) return;
      this.onUpstreamFailure(p, reason);
    };
    ws.on("open", () => {
      const main = this.kind.type === "logs" ? ["logs", this.kind.filter] : ["newHeads"];
      ws.send(JSON.stringify({ jsonrpc: "2.0", id: 1, method: "eth_subscribe", params: main }));
      if (this.kind.type === "logs") ws.send(JSON.stringify({ jsonrpc: "2.0", id: 2, method: "eth_subscribe", params: ["newHeads"] }));
    });
    ws.on("message", (data: WebSocket.RawData) => {
      if (gen !== this.gen) return;
      const parsed = parseJson(rawToString(data));
      if (!parsed.ok || !isObject(parsed.value)) return;
      const msg = parsed.value;
      if (msg["method"] === "eth_subscription" && isObject(msg["params"])) {
        const sub = msg["params"]["subscription"];
        const which = typeof sub === "string" ? subIds.get(sub) : undefined;
        const result = msg["params"]["result"];
        if (which && result !== undefined) this.onEvent(gen, which, result);
        return;
      }
      if (msg["id"] === 1 || msg["id"] === 2) {
        const result = msg["result"];
        if (typeof result !== "string") {
          fail("subscribe rejected");
          return;
        }
        subIds.set(result, msg["id"] === 1 ? "main" : "heads");
        acked += 1;
        if (acked === need) {
          clearTimeout(setupTimer);
          this.onSubscribed(gen, p);
        }
      }
    });
    ws.on("close", () => fail("closed"));
    ws.on("error", (err: Error) => fail(`error: ${err.message}`));
  }

  private onSubscribed(gen: number, p: ProviderRuntime): void {
    this.retryCount = 0;
    this.armStale(gen);
    if (this.phase === "connecting") {
      this.phase = "live";
      this.flushBuffer(false);
      return;
    }
    this.switches += 1;
    void this.completeSwitch(gen, p);
  }

  private async completeSwitch(gen: number, p: ProviderRuntime): Promise<void> {
    const d = this.deps.defects();
    if (d.duplicatesOnFailover) {
      // Regression: replay the last delivered events, no dedup on the way back.
      for (const r of this.recent.slice(-DUPLICATES_REPLAYED)) this.emit(r);
    }
    if (!d.gapOnFailover) {
      try {
        await this.backfill(gen, p, d.duplicatesOnFailover);
      } catch {
        // Backfill is best effort; live delivery continues.
      }
    }
    if (gen !== this.gen) return;
    this.phase = "live";
    this.flushBuffer(d.duplicatesOnFailover);
  }

  private async backfill(gen: number, p: ProviderRuntime, noDedup: boolean): Promise<void> {
    const started = performance.now();
    const headRes = await this.httpCall(p, "eth_blockNumber", []);
    if (gen !== this.gen) return;
    const httpHead = hexToNumber(headRes);
    if (this.kind.type === "newHeads") {
      if (this.lastDeliveredNumber === null) return;
      const bufferedMin = minNumber(this.buffer.filter((b) => b.which === "main").map((b) => blockNumberOf(b.result)));
      const target = Math.max(httpHead ?? -1, bufferedMin === null ? -1 : bufferedMin - 1);
      let from = this.lastDeliveredNumber + 1;
      if (target < from) return;
      if (target - from + 1 > MAX_BACKFILL_BLOCKS) from = target - MAX_BACKFILL_BLOCKS + 1;
      for (let n = from; n <= target; n++) {
        if (gen !== this.gen || performance.now() - started > BACKFILL_BUDGET_MS) return;
        const block = await this.httpCall(p, "eth_getBlockByNumber", [toHex(n), false]);
        if (gen !== this.gen) return;
        if (!isObject(block)) return;
        this.deliverMain(block, noDedup);
      }
      return;
    }
    // logs
    if (this.lastSeenHead === null || "blockHash" in this.kind.filter) return;
    const bufferedMin = minNumber(this.buffer.filter((b) => b.which === "heads").map((b) => blockNumberOf(b.result)));
    const target = Math.max(httpHead ?? -1, bufferedMin === null ? -1 : bufferedMin - 1);
    let from = this.lastSeenHead; // inclusive: logs of the last seen block may not have arrived
    if (target < from) return;
    if (target - from + 1 > MAX_BACKFILL_BLOCKS) from = target - MAX_BACKFILL_BLOCKS + 1;
    const logs = await this.httpCall(p, "eth_getLogs", [{ ...this.kind.filter, fromBlock: toHex(from), toBlock: toHex(target) }]);
    if (gen !== this.gen || !Array.isArray(logs)) return;
    for (const log of [...logs].sort(compareLogs)) this.deliverMain(log, noDedup);
    this.lastSeenHead = Math.max(this.lastSeenHead ?? target, target);
  }

  /** HTTP call for backfill: the new provider first, then (unpinned) the others by priority. */
  private async httpCall(p: ProviderRuntime, method: string, params: JsonValue[]): Promise<JsonValue | undefined> {
    const order = this.pinned ? [p] : [p, ...[...this.chain.providers].filter((x) => x !== p && x.breaker("http").allows()).sort((a, b) => a.priority - b.priority)];
    for (const q of order) {
      const r = await this.deps.client.call(q.instance.url, method, params, BACKFILL_CALL_TIMEOUT_MS);
      if (r.kind === "response" && "result" in r.response) return r.response.result;
    }
    return undefined;
  }

  private onEvent(gen: number, which: Which, raw: JsonValue): void {
    if (gen !== this.gen) return;
    const result = this.kind.type === "newHeads" && which === "main" ? liveHeader(raw) : raw;
    if (which === "heads" || this.kind.type === "newHeads") this.armStale(gen);
    if (this.phase !== "live") {
      this.buffer.push({ which, result });
      return;
    }
    this.process(which, result, false);
  }

  private process(which: Which, result: JsonValue, noDedup: boolean): void {
    if (which === "heads") {
      const n = blockNumberOf(result);
      if (n !== null) this.lastSeenHead = Math.max(this.lastSeenHead ?? n, n);
      return;
    }
    this.deliverMain(result, noDedup);
  }

  private flushBuffer(noDedup: boolean): void {
    const items = this.buffer;
    this.buffer = [];
    const order = (b: Buffered): [number, number] =>
      this.kind.type === "logs" && b.which === "main" ? [blockNumberOf(b.result) ?? 0, logIndexOf(b.result) ?? 0] : [blockNumberOf(b.result) ?? 0, -1];
    const sorted = items
      .map((b, i) => ({ b, i, k: order(b) }))
      .sort((x, y) => x.k[0] - y.k[0] || x.k[1] - y.k[1] || x.i - y.i)
      .map((x) => x.b);
    for (const b of sorted) this.process(b.which, b.result, noDedup);
  }

  private deliverMain(result: JsonValue, noDedup: boolean): void {
    const key = this.dedupKey(result);
    if (key !== null) {
      if (noDedup) this.dedup.add(key);
      else if (this.dedup.checkAndAdd(key)) return;
    }
    const n = blockNumberOf(result);
    if (n !== null) {
      if (this.kind.type === "newHeads") this.lastDeliveredNumber = Math.max(this.lastDeliveredNumber ?? n, n);
      // A log of block n means block n was (at least partly) seen; backfill restarts there.
      else this.lastSeenHead = Math.max(this.lastSeenHead ?? n, n);
    }
    this.recent.push(result);
    if (this.recent.length > DUPLICATES_REPLAYED) this.recent.shift();
    this.emit(result);
  }

  private dedupKey(result: JsonValue): string | null {
    if (!isObject(result)) return null;
    if (this.kind.type === "newHeads") return typeof result["hash"] === "string" ? result["hash"] : null;
    const bh = result["blockHash"];
    const li = result["logIndex"];
    if (typeof bh !== "string" || typeof li !== "string") return null;
    return `${bh}:${li}:${result["removed"] === true ? "r" : ""}`;
  }

  private emit(result: JsonValue): void {
    if (this.deps.defects().silentDrop) return; // regression: sockets stay open, events vanish
    for (const listener of [...this.subscribers.values()]) listener(result);
  }

  private armStale(gen: number): void {
    this.clearStale();
    const ms = this.deps.staleBlockTimes * this.blockTimeMs;
    this.staleTimer = setTimeout(() => {
      if (gen !== this.gen || !this.current) return;
      this.onUpstreamFailure(this.current, `stale: no newHeads for ${ms} ms`);
    }, ms);
    this.staleTimer.unref();
  }

  private onUpstreamFailure(p: ProviderRuntime, _reason: string): void {
    if (this.phase === "stopped") return;
    this.gen += 1;
    this.clearStale();
    this.closeSocket();
    this.failedAt.set(p.id, performance.now());
    this.buffer = [];
    this.phase = "idle";
    if (this.pinned) this.scheduleRetry();
    else this.connectNext(false);
  }

  private closeSocket(): void {
    const ws = this.ws;
    this.ws = null;
    if (!ws) return;
    ws.removeAllListeners();
    ws.on("error", () => undefined);
    try {
      ws.terminate();
    } catch {
      // already closed
    }
  }

  private clearStale(): void {
    if (this.staleTimer) clearTimeout(this.staleTimer);
    this.staleTimer = null;
  }

  private clearTimers(): void {
    this.clearStale();
    if (this.retryTimer) clearTimeout(this.retryTimer);
    this.retryTimer = null;
  }
}

export class SubscriptionManager {
  private readonly streams = new Map<string, UpstreamStream>();
  /** client subscription id -> stream key */
  private readonly owners = new Map<string, string>();

  constructor(private readonly deps: StreamDeps) {}

  /** Registers a client subscription; returns Lasso's own 16-hex-char subscription id. */
  subscribe(chain: ChainRuntime, kind: StreamKind, pinned: ProviderRuntime | null, listener: EventListener): string {
    const kindKey = kind.type === "logs" ? `logs:${canonicalJson(kind.filter)}` : "newHeads";
    const key = `${chain.profile.slug}|${chain.name}|${kindKey}|${pinned ? `pin:${pinned.id}` : "*"}`;
    let stream = this.streams.get(key);
    const fresh = !stream;
    if (!stream) {
      stream = new UpstreamStream(key, chain, kind, pinned, this.deps);
      this.streams.set(key, stream);
    }
    let id = newSubscriptionId();
    while (this.owners.has(id)) id = newSubscriptionId();
    stream.subscribers.set(id, listener);
    this.owners.set(id, key);
    if (fresh) stream.start();
    return id;
  }

  unsubscribe(id: string): boolean {
    const key = this.owners.get(id);
    if (key === undefined) return false;
    this.owners.delete(id);
    const stream = this.streams.get(key);
    if (!stream) return false;
    stream.subscribers.delete(id);
    if (stream.subscribers.size === 0) {
      stream.stop();
      this.streams.delete(key);
    }
    return true;
  }

  status(): StreamStatus[] {
    return [...this.streams.values()].map((s) => s.status());
  }

  stop(): void {
    for (const s of this.streams.values()) s.stop();
    this.streams.clear();
    this.owners.clear();
  }
}

/** Lasso's subscription provider filter: a ws_url, and `subscribe_new_heads` for newHeads. */
function canServe(p: ProviderRuntime, kind: StreamKind): boolean {
  return p.hasWs && (kind.type === "logs" || p.subscribeNewHeads);
}

/**
 * A pinned eth_subscribe to a provider that cannot serve it (UpstreamSubscriptionPool.
 * validate_constrained_provider/3): -32602 with the provider, chain id and profile as data.
 */
export function pinnedSubscribeRefusal(chain: ChainRuntime, p: ProviderRuntime, kind: StreamKind): RpcErrorObject | null {
  const data = { provider_id: p.id, chain_id: chain.chainId, profile: chain.profile.slug };
  if (!p.hasWs) return { code: -32602, message: `Provider '${p.id}' does not support WebSocket subscriptions`, data };
  if (kind.type === "newHeads" && !p.subscribeNewHeads) return { code: -32602, message: `Provider '${p.id}' does not support newHeads subscriptions`, data };
  return null;
}

export function newSubscriptionId(): string {
  return randomBytes(8).toString("hex");
}

function canonicalJson(v: JsonValue): string {
  if (Array.isArray(v)) return `[${v.map(canonicalJson).join(",")}]`;
  if (isObject(v)) {
    return `{${Object.keys(v)
      .sort()
      .map((k) => `${JSON.stringify(k)}:${canonicalJson(v[k] ?? null)}`)
      .join(",")}}`;
  }
  return JSON.stringify(v);
}

/**
 * Live newHeads are delivered as headers, as geth-style nodes send them. anvil adds
 * `transactions: []` (and uncles/withdrawals) to its newHeads; dropping them keeps the one
 * documented difference between a live head and a backfilled block (`eth_getBlockByNumber`,
 * which always has a `transactions` array).
 */
function liveHeader(v: JsonValue): JsonValue {
  if (!isObject(v)) return v;
  const { transactions: _t, uncles: _u, withdrawals: _w, ...header } = v;
  return header;
}


function blockNumberOf(v: JsonValue): number | null {
  if (!isObject(v)) return null;
  return hexToNumber(v["number"] ?? v["blockNumber"]);
}

function logIndexOf(v: JsonValue): number | null {
  return isObject(v) ? hexToNumber(v["logIndex"]) : null;
}

function compareLogs(a: JsonValue, b: JsonValue): number {
  return (blockNumberOf(a) ?? 0) - (blockNumberOf(b) ?? 0) || (logIndexOf(a) ?? 0) - (logIndexOf(b) ?? 0);
}

function minNumber(xs: (number | null)[]): number | null {
  const ns = xs.filter((x): x is number => x !== null);
  return ns.length === 0 ? null : Math.min(...ns);
}
