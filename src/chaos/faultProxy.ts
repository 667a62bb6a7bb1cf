import { EventEmitter } from "node:events";
import { createServer, type Server } from "node:http";
import type { TrafficBucket } from "./control.js";
import { OutcomeCounts } from "./counts.js";
import type { ProxyContext } from "./context.js";
import { FaultClock, type ActiveFault, type ClearReason } from "./faultClock.js";
import type { Fault } from "./faults.js";
import { HttpFaultHandler } from "./httpHandler.js";
import { TrafficRing } from "./traffic.js";
import { UpstreamHttp } from "./upstreamHttp.js";
import { WsRelay } from "./wsRelay.js";

export type { Fault, FaultKind } from "./faults.js";
export { faultSchema, parseFault } from "./faults.js";
export type { ActiveFault, ClearReason } from "./faultClock.js";

export interface FaultProxyOptions {
  /** Provider id or label; not used in any URL. */
  name: string;
  upstreamHttpUrl: string;
  /** Without it, WS handshakes are refused (503). */
  upstreamWsUrl?: string;
  /**
   * Sent with every upstream HTTP request and WS handshake (a provider's api_key / headers /
   * auth_headers, which Lasso would have sent itself). Secrets: never logged.
   */
  upstreamHeaders?: Record<string, string>;
  /** Default 127.0.0.1. */
  host?: string;
  /** Default 0 (ephemeral). */
  port?: number;
  /** Hard cap on any fault's duration; default 600000 (10 min). */
  maxFaultMs?: number;
}

export interface FaultProxyEvents {
  fault: [active: ActiveFault];
  "fault-cleared": [reason: ClearReason, fault: Fault];
}

/**
 * A reverse proxy (HTTP + WS) in front of one upstream JSON-RPC node that can be told to
 * misbehave for a bounded window. It always starts in pass-through and enforces each
 * window's end itself, so a fault can neither outlive its window nor survive a restart.
 */
export class FaultProxy extends EventEmitter<FaultProxyEvents> {
  readonly name: string;
  readonly #host: string;
  readonly #port: number;
  readonly #clock: FaultClock;
  readonly #traffic = new TrafficRing();
  readonly #counts = new OutcomeCounts(this.#traffic.observe);
  readonly #upstream: UpstreamHttp;
  readonly #relay: WsRelay;
  readonly #server: Server;
  readonly #stopping = new AbortController();
  #listening: { httpUrl: string; wsUrl: string } | null = null;
  #stopped: Promise<void> | null = null;

  constructor(opts: FaultProxyOptions) {
    super();
    this.name = opts.name;
    checkUrl(opts.upstreamHttpUrl, ["http:", "https:"], "upstreamHttpUrl");
    if (opts.upstreamWsUrl !== undefined) checkUrl(opts.upstreamWsUrl, ["ws:", "wss:"], "upstreamWsUrl");
    this.#host = opts.host ?? "127.0.0.1";
    this.#port = opts.port ?? 0;
    this.#clock = new FaultClock(opts.maxFaultMs ?? 600_000);
    this.#upstream = new UpstreamHttp(opts.upstreamHttpUrl, opts.upstreamHeaders);
    const ctx: ProxyContext = { clock: this.#clock, counts: this.#counts, upstream: this.#upstream, stopping: this.#stopping.signal };
    this.#relay = new WsRelay(ctx, opts.upstreamWsUrl, opts.upstreamHeaders);
    this.#server = createServer(new HttpFaultHandler(ctx).handle);
    this.#server.on("upgrade", this.#relay.handleUpgrade);
    this.#server.on("clientError", (_err, socket) => socket.destroy());
    this.#clock.on("fault", (active) => {
      this.#relay.onFaultStart(active.fault);
      this.emit("fault", active);
    });
    this.#clock.on("fault-cleared", (reason, fault) => {
      this.#relay.onFaultEnd();
      this.emit("fault-cleared", reason, fault);
    });
  }

  async start(): Promise<void> {
    if (this.#stopped) throw new Error(`fault proxy ${this.name} was stopped`);
    if (this.#listening) return;
    await new Promise<void>((resolve, reject) => {
      this.#server.once("error", reject);
      this.#server.listen(this.#port, this.#host, () => {
        this.#server.off("error", reject);
        resolve();
      });
    });
    const addr = this.#server.address();
    if (addr === null || typeof addr === "string") throw new Error("fault proxy is not listening on TCP");
    const host = addr.family === "IPv6" ? `[${addr.address}]` : addr.address;
    this.#listening = { httpUrl: `http://${host}:${addr.port}`, wsUrl: `ws://${host}:${addr.port}` };
  }

  get httpUrl(): string {
    return this.#started().httpUrl;
  }

  get wsUrl(): string {
    return this.#started().wsUrl;
  }

  /**
   * Opens a fault window now, replacing any open one. durationMs must be > 0 and is capped
   * at maxFaultMs. Throws on an invalid fault (ZodError) or duration (RangeError).
   */
  setFault(fault: Fault, durationMs: number): { expiresAt: number } {
    if (this.#stopped) throw new Error(`fault proxy ${this.name} was stopped`);
    return { expiresAt: this.#clock.set(fault, durationMs).expiresAt };
  }

  /**
   * Sets or renews a fault lease: the same fault already open just gets its new end (now +
   * durationMs, capped at maxFaultMs) without being interrupted; another fault replaces it.
   */
  leaseFault(fault: Fault, durationMs: number, notAfter = Infinity): { expiresAt: number } {
    if (this.#stopped) throw new Error(`fault proxy ${this.name} was stopped`);
    return { expiresAt: this.#clock.renew(fault, durationMs, notAfter).expiresAt };
  }

  clearFault(): void {
    this.#clock.clear();
  }

  currentFault(): ActiveFault | null {
    const window = this.#clock.current();
    return window ? { fault: window.fault, expiresAt: window.expiresAt } : null;
  }

  /**
   * Requests seen per JSON-RPC method and outcome (a copy). Outcomes: forwarded,
   * upstream_error, client_aborted, too_large, refused, fault:<kind>; "ws:"-prefixed for WS.
   */
  counts(): Record<string, Record<string, number>> {
    return this.#counts.snapshot();
  }

  /** Per-second traffic from `since` (ms) through now, oldest first, at most the last ~hour (TrafficRing). */
  traffic(since: number): TrafficBucket[] {
    return this.#traffic.since(since);
  }

  resetCounts(): void {
    this.#counts.reset();
  }

  /** Ends any fault, lets go of held requests, closes every socket and the servers. Idempotent. */
  stop(): Promise<void> {
    this.#stopped ??= this.#stop();
    return this.#stopped;
  }

  async #stop(): Promise<void> {
    this.#stopping.abort();
    this.#clock.clear();
    this.#relay.close();
    const closed = new Promise<void>((resolve) => this.#server.close(() => resolve()));
    this.#server.closeAllConnections();
    await closed;
    await this.#upstream.close();
  }

  #started(): { httpUrl: string; wsUrl: string } {
    if (!this.#listening) throw new Error(`fault proxy ${this.name} is not started`);
    return this.#listening;
  }
}

function checkUrl(value: string, protocols: string[], field: string): void {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new Error(`${field} is not a valid URL`);
  }
  // The URL may carry an API key: name the field, never the value.
  if (!protocols.includes(url.protocol)) throw new Error(`${field} must use ${protocols.join(" or ")}`);
}
