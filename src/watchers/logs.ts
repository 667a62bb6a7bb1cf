/**
 * logs continuity as a pure state machine. Every log Lasso delivers is remembered by
 * (blockHash, logIndex); a repeat within a session is a log_duplicate at once. Closed ranges
 * (`confirmBlocks` below the HTTP head) are compared with eth_getLogs: a log the chain has
 * that never arrived is log_missing when the range was covered by an open subscription, and
 * counted as client_gap when our own socket was down.
 *
 * Coverage: a session owes logs of blocks from (HTTP head at subscribe) + 2 (the subscribe
 * reply does not prove the upstream is live yet: one block of margin) up to the last block
 * HTTP saw `deliveryAllowanceMs` before the socket dropped.
 */
import type { LogEvent } from "./frames.js";
import type { Sightings } from "./sightings.js";
import type { ContinuityRecord } from "./types.js";

export interface LogsContinuityConfig {
  confirmBlocks: number;
  /** Widest eth_getLogs range asked at once. */
  maxRangeBlocks: number;
  deliveryAllowanceMs: number;
  /** Delivered logs are remembered for this many blocks below the checked range (late duplicates). */
  windowBlocks: number;
  /** Bound on remembered logs (a busy filter); beyond it the oldest are forgotten. */
  maxTracked: number;
}

export function defaultLogsConfig(blockTimeMs: number, confirmBlocks: number): LogsContinuityConfig {
  return { confirmBlocks, maxRangeBlocks: 100, deliveryAllowanceMs: Math.max(blockTimeMs, 500), windowBlocks: 256, maxTracked: 50_000 };
}

export interface GetLogsAction {
  kind: "getLogs";
  id: number;
  fromBlock: number;
  toBlock: number;
}

export type LogsLookup = { ok: true; logs: LogEvent[] } | { ok: false; error: string };

interface Received {
  blockNumber: number;
  session: number;
  removed: boolean;
}

interface Coverage {
  from: number;
  /** null while the session is open. */
  to: number | null;
}

export class LogsContinuity {
  private session = 0;
  private sessionOpen = false;
  private subscribeSentAt = 0;
  private subId: string | null = null;
  private gotFirst = false;
  /** Waiting for an HTTP head to place the start of the open session's coverage. */
  private coverageStartPending = false;
  private readonly coverage: Coverage[] = [];
  private checkedTo: number | null = null;
  private inFlight: GetLogsAction | null = null;
  private readonly received = new Map<string, Received>();
  /** (blockNumber, logIndex) of the last log of this session, for out-of-order delivery. */
  private cursor: [number, number] | null = null;
  private nextActionId = 1;
  private records: ContinuityRecord[] = [];

  constructor(
    private readonly cfg: LogsContinuityConfig,
    private readonly sightings: Sightings,
    /** Block timestamp (seconds) when known from elsewhere (the group's newHeads), for the delivery delay. */
    private readonly timestampOf: (height: number) => number | undefined = () => undefined,
  ) {}

  /** Highest block compared with eth_getLogs (null before the first session). */
  get checkedThrough(): number | null {
    return this.checkedTo;
  }

  drainRecords(): ContinuityRecord[] {
    const out = this.records;
    this.records = [];
    return out;
  }

  sessionStarted(_t: number, subId: string, sentAt: number): void {
    this.session += 1;
    this.sessionOpen = true;
    this.subscribeSentAt = sentAt;
    this.subId = subId;
    this.gotFirst = false;
    this.cursor = null;
    this.coverageStartPending = true;
    this.placeCoverageStart();
  }

  sessionEnded(t: number): void {
    if (!this.sessionOpen) return;
    this.sessionOpen = false;
    if (this.coverageStartPending) {
      this.coverageStartPending = false;
      return;
    }
    const open = this.coverage[this.coverage.length - 1];
    if (open === undefined || open.to !== null) return;
    const seen = this.sightings.highestSeenBy(t - this.cfg.deliveryAllowanceMs);
    open.to = Math.max(open.from - 1, seen ?? open.from - 1);
    if (open.to < open.from) this.coverage.pop();
  }

  /** New HTTP head: may place the open session's coverage start. */
  httpHead(): void {
    if (this.coverageStartPending) this.placeCoverageStart();
  }

  private placeCoverageStart(): void {
    const head = this.sightings.head();
    if (head === null) return;
    this.coverageStartPending = false;
    const from = head + 2;
    this.coverage.push({ from, to: null });
    this.checkedTo ??= from - 1;
    while (this.coverage.length > 64) this.coverage.shift();
  }

  log(t: number, ev: LogEvent, subId: string): void {
    if (subId !== this.subId) {
      this.record(t, "subscription_id_change", ev.blockNumber, 1, { detail: `notifications moved from subscription ${this.subId ?? "?"} to ${subId}` });
      this.subId = subId;
    }
    const seenAt = this.sightings.firstSeenAt(ev.blockNumber);
    const ts = ev.blockTimestampSec ?? this.timestampOf(ev.blockNumber);
    this.record(t, "delivered", ev.blockNumber, 1, {
      delayMs: ts === undefined ? null : t - ts * 1000,
      sightingDelayMs: seenAt !== undefined && seenAt <= t ? t - seenAt : null,
      detail: ev.removed ? `removed (reorg): block ${ev.blockNumber} log ${ev.logIndex}` : null,
    });
    if (!this.gotFirst) {
      this.gotFirst = true;
      this.record(t, "first_event", ev.blockNumber, 1, { delayMs: t - this.subscribeSentAt, detail: `session ${this.session}` });
    }
    const key = logKey(ev);
    const prev = this.received.get(key);
    if (ev.removed) {
      this.received.set(key, { blockNumber: ev.blockNumber, session: this.session, removed: true });
      // The new branch's logs come next, possibly at lower heights: ordering starts over.
      this.cursor = null;
      return;
    }
    if (prev !== undefined && !prev.removed) {
      if (prev.session === this.session) this.record(t, "log_duplicate", ev.blockNumber, 1, { detail: `block ${ev.blockNumber} log ${ev.logIndex} (tx ${ev.transactionHash.slice(0, 10)}) delivered again` });
      return;
    }
    this.received.set(key, { blockNumber: ev.blockNumber, session: this.session, removed: false });
    if (this.cursor !== null && (ev.blockNumber < this.cursor[0] || (ev.blockNumber === this.cursor[0] && ev.logIndex < this.cursor[1]))) {
      this.record(t, "out_of_order", ev.blockNumber, 1, { detail: `block ${ev.blockNumber} log ${ev.logIndex} arrived after block ${this.cursor[0]} log ${this.cursor[1]}` });
    } else {
      this.cursor = [ev.blockNumber, ev.logIndex];
    }
    if (this.received.size > this.cfg.maxTracked) this.prune();
  }

  /** The next closed range to compare with eth_getLogs, if one is due and none is in flight. */
  nextCheck(): GetLogsAction | null {
    if (this.inFlight !== null || this.checkedTo === null) return null;
    const head = this.sightings.head();
    if (head === null) return null;
    const to = Math.min(head - this.cfg.confirmBlocks, this.checkedTo + this.cfg.maxRangeBlocks);
    if (to <= this.checkedTo) return null;
    this.inFlight = { kind: "getLogs", id: this.nextActionId++, fromBlock: this.checkedTo + 1, toBlock: to };
    return this.inFlight;
  }

  checkResult(t: number, id: number, result: LogsLookup): void {
    const range = this.inFlight;
    if (range === null || range.id !== id) return;
    this.inFlight = null;
    if (!result.ok) return; // the same range is asked again next time
    const missing: LogEvent[] = [];
    let clientLogs = 0;
    const uncovered: number[] = [];
    for (let h = range.fromBlock; h <= range.toBlock; h++) if (!this.covered(h)) uncovered.push(h);
    const uncoveredSet = new Set(uncovered);
    let expected = 0;
    for (const log of result.logs) {
      if (log.removed || log.blockNumber < range.fromBlock || log.blockNumber > range.toBlock) continue;
      if (uncoveredSet.has(log.blockNumber)) {
        clientLogs += 1;
        continue;
      }
      expected += 1;
      const got = this.received.get(logKey(log));
      if (got === undefined || got.removed) missing.push(log);
    }
    const span = `${range.fromBlock}-${range.toBlock}`;
    if (uncovered.length > 0) {
      const first = uncovered[0] ?? range.fromBlock;
      this.record(t, "client_gap", first, clientLogs, {
        detail: `${uncovered.length} block(s) from ${first} of ${span} not covered (our socket was down): ${clientLogs} log(s) fetched over HTTP`,
      });
    }
    if (missing.length > 0) {
      const m = missing[0];
      this.record(t, "log_missing", m?.blockNumber ?? range.fromBlock, missing.length, {
        detail: `${missing.length} of ${expected} log(s) of blocks ${span} never arrived; first: block ${m?.blockNumber} log ${m?.logIndex} tx ${m?.transactionHash.slice(0, 10)}`,
      });
    }
    this.checkedTo = range.toBlock;
    this.prune();
  }

  private covered(h: number): boolean {
    return this.coverage.some((c) => h >= c.from && (c.to === null || h <= c.to));
  }

  private prune(): void {
    const floor = (this.checkedTo ?? 0) - this.cfg.windowBlocks;
    for (const [k, r] of this.received) if (r.blockNumber < floor) this.received.delete(k);
    while (this.received.size > this.cfg.maxTracked) {
      const oldest = this.received.keys().next();
      if (oldest.done === true) break;
      this.received.delete(oldest.value);
    }
    while (this.coverage.length > 1 && (this.coverage[0]?.to ?? Infinity) < floor) this.coverage.shift();
  }

  private record(
    t: number,
    event: ContinuityRecord["event"],
    blockNumber: number | null,
    count: number,
    extra: Partial<Pick<ContinuityRecord, "delayMs" | "sightingDelayMs" | "detail">> = {},
  ): void {
    this.records.push({ ts: t, event, blockNumber, count, delayMs: extra.delayMs ?? null, sightingDelayMs: extra.sightingDelayMs ?? null, backfilled: null, detail: extra.detail ?? null });
  }
}

function logKey(l: LogEvent): string {
  return `${l.blockHash}:${l.logIndex}`;
}
