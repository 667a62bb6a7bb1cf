/**
 * One long-lived subscription: connect, subscribe, feed every event to the continuity state
 * machine, run the HTTP lookups it asks for (one at a time), and when the socket ends for any
 * reason other than stop(), reconnect with capped exponential backoff and subscribe again.
 */
import type { RpcHttpClient } from "../lasso/rpcClient.js";
import type { LoopLag } from "../metrics/loopLag.js";
import type { ContinuitySample } from "../samples.js";
import { backoffMs } from "./budget.js";
import { defaultHeadConfig, HeadContinuity, type BlockLookup, type FetchBlocksAction } from "./continuity.js";
import { parseHead, parseLog, parseSubscriptionId, type HeadEvent } from "./frames.js";
import { sleep, type WatchGroup } from "./group.js";
import { defaultLogsConfig, LogsContinuity } from "./logs.js";
import { startGridTimer, type GridTimer } from "../probes/grid.js";
import type { ContinuityRecord, WatcherRuntimeSpec } from "./types.js";
import { WsConnectError, WsRpcConnection, type CloseInfo } from "./wsClient.js";

const SUBSCRIBE_TIMEOUT_MS = 10_000;
const HANDSHAKE_TIMEOUT_MS = 10_000;
const MAX_PRESESSION_EVENTS = 1024;
/** A refusal's text from Lasso, cut so the attempt and block counts still fit a stored detail. */
const MAX_REASON_CHARS = 300;

/** Things worth a log line that are not continuity samples. */
export type WatchNotice =
  | { kind: "malformed_frame"; reason: string }
  | { kind: "connect_failed"; attempt: number; reason: string }
  | { kind: "subscribe_failed"; attempt: number; reason: string }
  | { kind: "disconnected"; cause: CloseInfo["cause"]; detail: string };

export interface WatcherContext {
  group: WatchGroup;
  client: RpcHttpClient;
  emit(sample: ContinuitySample): void;
  notice(watcher: string, notice: WatchNotice): void;
  onError(err: unknown, what: string): void;
  clock(): number;
  lag?: LoopLag | undefined;
  random(): number;
  /** Our own WS pings (0: off). */
  pingIntervalMs: number;
  /** True when the plan check found this route unknown to the target: a refusal there is our plan, not Lasso. */
  planMismatch?: ((route: string) => boolean) | undefined;
}

export interface WatcherStats {
  /** Logs watchers: highest block compared with eth_getLogs so far (null: none yet, or newHeads). */
  logsCheckedTo: number | null;
  sessions: number;
  reconnects: number;
  connectFailures: number;
  malformedFrames: number;
  events: number;
}

export class Watcher {
  readonly stats: WatcherStats = { logsCheckedTo: null, sessions: 0, reconnects: 0, connectFailures: 0, malformedFrames: 0, events: 0 };
  private readonly heads: HeadContinuity | null;
  private readonly logs: LogsContinuity | null;
  private readonly stopping = new AbortController();
  private conn: WsRpcConnection | null = null;
  private loop: Promise<void> | null = null;
  private timers: Array<NodeJS.Timeout | GridTimer> = [];
  private unsubscribeSightings: (() => void) | null = null;
  private http: Promise<void> = Promise.resolve();
  private attempt = 0;
  private subId: string | null = null;
  private inSession = false;
  private preSession: Array<{ t: number; sub: string; result: unknown }> = [];
  private lastDrop: { at: number; info: CloseInfo } | null = null;
  private hadSession = false;
  /** HTTP head at the previous attempt when it was refused (null: it was not, or no head yet): refusals count blocks from here. */
  private refusedMark: number | null = null;

  constructor(
    readonly spec: WatcherRuntimeSpec,
    private readonly ctx: WatcherContext,
  ) {
    const bt = ctx.group.spec.blockTimeMs;
    const sightings = ctx.group.sightings;
    this.heads =
      spec.subscription === "newHeads" ? new HeadContinuity(defaultHeadConfig(bt, spec.stallBlockTimes, ctx.group.spec.headPollIntervalMs), sightings) : null;
    this.logs =
      spec.subscription === "logs"
        ? new LogsContinuity(defaultLogsConfig(bt, ctx.group.spec.logsConfirmBlocks), sightings, (h) => ctx.group.timestampOf(h))
        : null;
  }

  get target(): string {
    return this.ctx.group.spec.target;
  }

  get chain(): string {
    return this.ctx.group.spec.chain;
  }

  get connected(): boolean {
    return this.inSession;
  }

  start(): void {
    if (this.loop !== null) return;
    const g = this.ctx.group.spec;
    if (this.heads !== null) {
      const tickMs = Math.min(1000, Math.max(50, g.blockTimeMs / 4));
      this.timers.push(setInterval(() => this.guard(() => this.tick(), "tick"), tickMs));
    }
    if (this.logs !== null) {
      this.timers.push(startGridTimer(`watch|${g.target}|${g.chain}|${this.spec.name}|getLogs`, g.logsCheckIntervalMs, () => this.checkLogs(), { now: this.ctx.clock, lag: this.ctx.lag }));
    }
    this.unsubscribeSightings = this.ctx.group.onSighting(() =>
      this.guard(() => {
        this.heads?.tick(this.ctx.clock());
        this.logs?.httpHead();
        this.flush();
      }, "sighting"),
    );
    this.loop = this.run();
  }

  async stop(): Promise<void> {
    this.stopping.abort();
    for (const t of this.timers) {
      if ("stop" in t) t.stop();
      else clearInterval(t);
    }
    this.timers = [];
    this.unsubscribeSightings?.();
    this.conn?.close("watcher stopped");
    // Lookups in flight are left to their own timeouts: their answers are dropped once stopping.
    await this.loop;
  }

  // ------------------------------------------------------------------ connection loop

  private async run(): Promise<void> {
    while (!this.stopping.signal.aborted) {
      this.attempt += 1;
      try {
        await this.connectAndServe(this.attempt);
      } catch (err) {
        this.ctx.onError(err, `watcher ${this.spec.name}`);
      }
      if (this.stopping.signal.aborted) break;
      const g = this.ctx.group.spec;
      await sleep(backoffMs(this.attempt, g.reconnectInitialMs, g.reconnectMaxMs, this.ctx.random), this.stopping.signal);
    }
  }

  /** One connection: resolves when it has ended (or could not be made). */
  private async connectAndServe(attempt: number): Promise<void> {
    let ended!: (info: CloseInfo) => void;
    const closed = new Promise<CloseInfo>((resolve) => (ended = resolve));
    let conn: WsRpcConnection;
    try {
      conn = await WsRpcConnection.connect(
        this.spec.wsUrl,
        { handshakeTimeoutMs: HANDSHAKE_TIMEOUT_MS, pingIntervalMs: this.ctx.pingIntervalMs, signal: this.stopping.signal, headers: this.ctx.group.spec.headers },
        {
          notification: (sub, result) => this.guard(() => this.onNotification(sub, result), "notification"),
          malformed: (reason) => this.malformed(reason),
          close: (info) => ended(info),
        },
      );
    } catch (err) {
      if (this.stopping.signal.aborted) return;
      this.stats.connectFailures += 1;
      const reason = err instanceof WsConnectError ? err.message : String(err);
      this.ctx.notice(this.spec.name, { kind: "connect_failed", attempt, reason });
      if (err instanceof WsConnectError && err.kind === "refused") this.refused("upgrade_refused", attempt, reason);
      else this.unreachable(attempt, reason);
      return;
    }
    this.conn = conn;
    if (this.stopping.signal.aborted) conn.close("watcher stopped");
    const sentAt = this.ctx.clock();
    const params = this.spec.subscription === "logs" ? ["logs", this.spec.filter ?? {}] : ["newHeads"];
    const reply = await conn.request("eth_subscribe", params, SUBSCRIBE_TIMEOUT_MS);
    const id = reply.ok ? parseSubscriptionId(reply.result) : null;
    if (id === null || !id.ok) {
      const reason = !reply.ok ? `${reply.code === null ? "" : `error ${reply.code}: `}${reply.message}` : id?.ok === false ? id.reason : "no id";
      if (!this.stopping.signal.aborted) this.ctx.notice(this.spec.name, { kind: "subscribe_failed", attempt, reason });
      conn.close(`subscribe failed: ${reason}`);
      const info = await closed;
      this.conn = null;
      this.preSession = [];
      if (this.stopping.signal.aborted) return;
      // A socket that died under the subscribe is connection trouble unless the server closed it.
      if (!reply.ok && reply.closed === true && info.cause !== "server_close") this.unreachable(attempt, `socket ended before eth_subscribe was answered: ${info.detail}`);
      else if (!reply.ok && reply.closed === true) this.refused("subscribe_refused", attempt, `eth_subscribe not answered: ${info.detail}`);
      else this.refused("subscribe_refused", attempt, reason);
      return;
    }
    this.beginSession(id.value, sentAt, attempt);
    const info = await closed;
    this.endSession(info);
    this.conn = null;
  }

  private beginSession(subId: string, sentAt: number, attempt: number): void {
    const t = this.ctx.clock();
    this.refusedMark = null;
    this.subId = subId;
    this.inSession = true;
    this.stats.sessions += 1;
    this.heads?.sessionStarted(t, subId, sentAt);
    this.logs?.sessionStarted(t, subId, sentAt);
    if (this.hadSession && this.lastDrop !== null) {
      this.stats.reconnects += 1;
      this.emit({
        ts: t,
        event: "reconnect",
        blockNumber: this.heads?.highestDelivered ?? null,
        count: attempt,
        delayMs: t - this.lastDrop.at,
        sightingDelayMs: null,
        backfilled: null,
        detail: `resubscribed (attempt ${attempt}, ${Math.round(t - this.lastDrop.at)} ms after our socket ended: ${this.lastDrop.info.detail})`,
      });
    }
    this.hadSession = true;
    const early = this.preSession;
    this.preSession = [];
    for (const e of early) this.deliver(e.t, e.sub, e.result);
    this.flush();
  }

  private endSession(info: CloseInfo): void {
    const t = this.ctx.clock();
    this.inSession = false;
    if (this.stopping.signal.aborted && info.cause === "local") {
      this.heads?.stopped(t);
      this.flush();
      return;
    }
    this.lastDrop = { at: t, info };
    this.ctx.notice(this.spec.name, { kind: "disconnected", cause: info.cause, detail: info.detail });
    this.heads?.sessionEnded(t, info.detail);
    this.logs?.sessionEnded(t);
    this.flush();
  }

  /**
   * Lasso refused this attempt (subscribe or upgrade). The blocks HTTP saw since the previous
   * attempt, when that one was refused too, were unserved: the sample counts them (the first
   * refusal of a spell counts none: what came before it was a session's or our own).
   */
  private refused(event: "subscribe_refused" | "upgrade_refused", attempt: number, reason: string): void {
    if (this.ctx.planMismatch?.(this.spec.route) === true) {
      this.excluded(attempt, reason);
      return;
    }
    const head = this.ctx.group.sightings.head();
    const from = this.refusedMark;
    const count = from !== null && head !== null && head > from ? head - from : 0;
    if (from !== null && count > 0) this.heads?.unserved(from + 1, from + count);
    if (head !== null) this.refusedMark = Math.max(from ?? head, head);
    const blocks = from !== null && count > 0 ? `; ${count} block(s) ${from + 1}-${from + count} produced since the previous refused attempt` : "";
    this.emit({
      ts: this.ctx.clock(), event, blockNumber: from !== null && count > 0 ? from + 1 : head, count,
      delayMs: null, sightingDelayMs: null, backfilled: null, detail: `${reason.slice(0, MAX_REASON_CHARS)} (attempt ${attempt}${blocks})`,
    });
  }

  /** Refused on a route the target does not know (plan mismatch): counted apart, never against Lasso. */
  private excluded(attempt: number, reason: string): void {
    this.refusedMark = null;
    this.emit({
      ts: this.ctx.clock(), event: "plan_mismatch", blockNumber: this.ctx.group.sightings.head(), count: 1,
      delayMs: null, sightingDelayMs: null, backfilled: null, detail: `refused on a route the target does not know (plan mismatch): ${reason.slice(0, MAX_REASON_CHARS)} (attempt ${attempt})`,
    });
  }

  /** We could not reach the target (or lost the socket before the subscribe was answered): not Lasso's refusal. */
  private unreachable(attempt: number, reason: string): void {
    this.refusedMark = null;
    this.emit({
      ts: this.ctx.clock(), event: "connect_failed", blockNumber: this.ctx.group.sightings.head(), count: 1,
      delayMs: null, sightingDelayMs: null, backfilled: null, detail: `target unreachable: ${reason.slice(0, MAX_REASON_CHARS)} (attempt ${attempt})`,
    });
  }

  // ------------------------------------------------------------------ events

  private onNotification(sub: string, result: unknown): void {
    const t = this.ctx.clock();
    if (!this.inSession) {
      // The subscribe answer and the first events can arrive in one read: hold them for the session.
      if (this.preSession.length < MAX_PRESESSION_EVENTS) this.preSession.push({ t, sub, result });
      return;
    }
    this.deliver(t, sub, result);
    this.flush();
  }

  private deliver(t: number, sub: string, result: unknown): void {
    if (this.heads !== null) {
      const h = parseHead(result);
      if (!h.ok) {
        this.malformed(h.reason);
        return;
      }
      this.stats.events += 1;
      this.ctx.group.noteTimestamp(h.value.number, h.value.timestampSec);
      this.heads.head(t, h.value, sub);
    } else if (this.logs !== null) {
      const l = parseLog(result);
      if (!l.ok) {
        this.malformed(l.reason);
        return;
      }
      this.stats.events += 1;
      this.logs.log(t, l.value, sub);
    }
    // A session that delivers is a healthy one: the next drop starts the backoff from the beginning.
    this.attempt = 0;
  }

  private malformed(reason: string): void {
    this.stats.malformedFrames += 1;
    this.ctx.notice(this.spec.name, { kind: "malformed_frame", reason });
  }

  private tick(): void {
    this.heads?.tick(this.ctx.clock());
    this.flush();
  }

  // ------------------------------------------------------------------ HTTP

  private flush(): void {
    if (this.heads !== null) {
      const { records, actions } = this.heads.drain();
      for (const r of records) this.emit(r);
      for (const a of actions) this.enqueue(() => this.fetchBlocks(a));
    }
    if (this.logs !== null) for (const r of this.logs.drainRecords()) this.emit(r);
  }

  private enqueue(job: () => Promise<void>): void {
    this.http = this.http.then(job).catch((err: unknown) => this.ctx.onError(err, `watcher ${this.spec.name} lookup`));
  }

  private async fetchBlocks(a: FetchBlocksAction): Promise<void> {
    const blocks = new Map<number, HeadEvent | null>();
    let failed: string | null = null;
    for (const h of a.heights) {
      if (this.stopping.signal.aborted) return;
      const r = await this.ctx.group.getBlock(h);
      if (!r.ok) {
        failed = r.error;
        break;
      }
      blocks.set(h, r.block);
    }
    if (this.stopping.signal.aborted) return;
    const result: BlockLookup = failed === null ? { ok: true, blocks } : { ok: false, error: failed };
    this.heads?.lookup(this.ctx.clock(), a.id, result);
    this.flush();
  }

  private async checkLogs(): Promise<void> {
    const logs = this.logs;
    if (logs === null || this.spec.filter === null) return;
    const action = logs.nextCheck();
    if (action === null) return;
    const r = await this.ctx.group.getLogs(this.spec.filter, action.fromBlock, action.toBlock);
    if (this.stopping.signal.aborted) return;
    logs.checkResult(this.ctx.clock(), action.id, r.ok ? { ok: true, logs: r.logs } : { ok: false, error: r.error });
    this.stats.logsCheckedTo = logs.checkedThrough;
    this.flush();
  }

  private emit(r: ContinuityRecord): void {
    const g = this.ctx.group.spec;
    const ms = (v: number | null): number | null => (v === null ? null : Math.round(v));
    this.ctx.emit({
      kind: "continuity",
      target: g.target,
      chain: g.chain,
      watcher: this.spec.name,
      route: this.spec.route,
      subscription: this.spec.subscription,
      ...r,
      ts: Math.round(r.ts),
      count: Math.round(r.count),
      delayMs: ms(r.delayMs),
      sightingDelayMs: ms(r.sightingDelayMs),
    });
  }

  private guard(fn: () => void, what: string): void {
    try {
      fn();
    } catch (err) {
      this.ctx.onError(err, `watcher ${this.spec.name} ${what}`);
    }
  }
}
