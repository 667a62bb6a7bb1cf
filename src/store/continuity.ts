import type Database from "better-sqlite3";
import type { ContinuityEvent } from "../samples.js";
import { ByteReader, ByteWriter } from "./bytes.js";
import { rowKey } from "./keys.js";
import { latencyIndex } from "./latency.js";
import { readLatency, SparseCounts, writeLatency, type LatencySink } from "./rollup.js";
import type { Db } from "./schema.js";
import { DAY_MS, HOUR_MS, MINUTE_MS, minuteOf } from "./time.js";

/**
 * Subscription continuity (ContinuitySample) storage. Two very different streams:
 *
 * - `delivered`: one sample per event received, ~1.7 M/day for 20 watchers at 1 block/s. They
 *   are staged (`cstaging`) and compacted into minute/hour/day rollups per watcher series
 *   (`crollup_m/h/d`), and NOT kept raw: 7 days of them would cost ~80 MB (see bench/store.ts),
 *   more than everything else raw. So report edges for delivered counts and delays are whole
 *   rollup buckets (the report's coverage says so).
 * - anomalies (every other event kind): rare and precious. Each is kept raw (`cevents`, for the
 *   raw retention) AND counted into the same rollup rows in the same write transaction, so
 *   edges are exact for them and a crash can neither lose nor double count one.
 */

export type AnomalyEvent = Exclude<ContinuityEvent, "delivered">;

/** Stored event codes (in `cevents.event` and the rollup blobs): never renumber. */
export const EVENT_CODES: Readonly<Record<AnomalyEvent, number>> = {
  gap: 1,
  duplicate: 2,
  reorg: 3,
  out_of_order: 4,
  stall: 5,
  reconnect: 6,
  client_gap: 7,
  subscription_id_change: 8,
  first_event: 9,
  log_missing: 10,
  log_duplicate: 11,
  subscribe_refused: 12,
  upgrade_refused: 13,
  connect_failed: 14,
  never_live: 15,
  plan_mismatch: 16,
};

export const ANOMALY_EVENTS = Object.keys(EVENT_CODES) as AnomalyEvent[];

/**
 * Events that say what state a watcher is in (subscribed and live, stalled, never live,
 * refused, unreachable): the last of them in a range is the watcher's state at its end.
 */
export const STATE_EVENTS: readonly AnomalyEvent[] = [
  "stall", "reconnect", "first_event", "subscribe_refused", "upgrade_refused", "connect_failed", "never_live", "plan_mismatch",
];
const EVENT_OF_CODE = new Map<number, AnomalyEvent>(ANOMALY_EVENTS.map((e) => [EVENT_CODES[e], e]));

export function eventOfCode(code: number): AnomalyEvent | null {
  return EVENT_OF_CODE.get(code) ?? null;
}

export function isAnomalyEvent(e: string): e is AnomalyEvent {
  return Object.hasOwn(EVENT_CODES, e);
}

/** Details are for humans; cap them so one noisy watcher cannot bloat the file. */
export const MAX_EVENT_DETAIL_CHARS = 500;

/** A delivered sample as stored: series interned, delays in whole ms (signed: clock skew). */
export interface StoredDelivered {
  series: number;
  ts: number;
  block: number | null;
  delayMs: number | null;
  sightingMs: number | null;
  backfilled: boolean | null;
}

/** An anomaly as stored (one `cevents` row). */
export interface StoredAnomaly {
  series: number;
  ts: number;
  /** EVENT_CODES value. */
  event: number;
  block: number | null;
  /** >= 0, whole. */
  count: number;
  /** Whole ms, >= 0 (clamped), or null. */
  delayMs: number | null;
  detail: string | null;
}

/** Whole ms or null (non-finite values are treated as missing). */
export function wholeMs(v: number | null): number | null {
  return v === null || !Number.isFinite(v) ? null : Math.round(v);
}

// ---------------------------------------------------------------- staged delivered records

const DELAY = 1;
const SIGHTING = 2;
const BLOCK = 4;
const BF_KNOWN = 8;
const BF_TRUE = 16;

export function encodeDelivered(r: StoredDelivered): Buffer {
  const w = new ByteWriter(16);
  let flags = 0;
  if (r.delayMs !== null) flags |= DELAY;
  if (r.sightingMs !== null) flags |= SIGHTING;
  if (r.block !== null) flags |= BLOCK;
  if (r.backfilled !== null) flags |= BF_KNOWN;
  if (r.backfilled === true) flags |= BF_TRUE;
  w.uint(flags);
  if (r.delayMs !== null) w.int(r.delayMs);
  if (r.sightingMs !== null) w.int(r.sightingMs);
  if (r.block !== null) w.int(r.block);
  return w.finish();
}

export function decodeDelivered(blob: Uint8Array, series: number, ts: number): StoredDelivered {
  const rd = new ByteReader(blob);
  const flags = rd.uint();
  const delayMs = flags & DELAY ? rd.int() : null;
  const sightingMs = flags & SIGHTING ? rd.int() : null;
  const block = flags & BLOCK ? rd.int() : null;
  const backfilled = flags & BF_KNOWN ? (flags & BF_TRUE) !== 0 : null;
  return { series, ts, block, delayMs, sightingMs, backfilled };
}

// ---------------------------------------------------------------- aggregates

/** One anomaly kind within a bucket. */
export interface EventStats {
  /** Samples of this kind. */
  events: number;
  /** Sum and max of their `count` (gap blocks, repeats, reorg depth, stall ms, ...). */
  countSum: number;
  countMax: number;
  /** Samples that carried a delay (first_event; a stall's closing sample), and its sum and max, ms. */
  delayed: number;
  delaySumMs: number;
  delayMaxMs: number;
}

/**
 * What a continuity rollup holds for one watcher series and bucket. The delay histograms are
 * the probe latency HdrHistograms (microseconds, 2 significant digits: within 1%); negative
 * delays (clock skew between the node's block timestamp or the HTTP sighting and us) are
 * recorded as 0 and counted in `*Clamped`.
 */
export interface ContAgg<L extends LatencySink = LatencySink> {
  delivered: number;
  backfilled: number;
  /** Arrival minus the block's timestamp. */
  delay: L;
  delayClamped: number;
  delayMaxMs: number | null;
  /** Arrival minus the first HTTP sighting of the height. */
  sighting: L;
  sightingClamped: number;
  sightingMaxMs: number | null;
  /** event code -> stats */
  events: Map<number, EventStats>;
  /** Anomaly samples in total (sum of events[].events). */
  anomalies: number;
}

export function newContAgg<L extends LatencySink>(delay: L, sighting: L): ContAgg<L> {
  return {
    delivered: 0, backfilled: 0, delay, delayClamped: 0, delayMaxMs: null, sighting, sightingClamped: 0,
    sightingMaxMs: null, events: new Map(), anomalies: 0,
  };
}

const maxOf = (a: number | null, b: number | null): number | null => (a === null ? b : b === null ? a : Math.max(a, b));

export function addDelivered(a: ContAgg, r: StoredDelivered): void {
  a.delivered++;
  if (r.backfilled === true) a.backfilled++;
  if (r.delayMs !== null) {
    if (r.delayMs < 0) a.delayClamped++;
    const v = Math.max(0, r.delayMs);
    a.delay.add(latencyIndex(v * 1000), 1);
    a.delayMaxMs = maxOf(a.delayMaxMs, v);
  }
  if (r.sightingMs !== null) {
    if (r.sightingMs < 0) a.sightingClamped++;
    const v = Math.max(0, r.sightingMs);
    a.sighting.add(latencyIndex(v * 1000), 1);
    a.sightingMaxMs = maxOf(a.sightingMaxMs, v);
  }
}

function mergeStats(a: ContAgg, code: number, s: EventStats): void {
  const prev = a.events.get(code);
  a.anomalies += s.events;
  if (!prev) {
    a.events.set(code, { ...s });
    return;
  }
  prev.events += s.events;
  prev.countSum += s.countSum;
  prev.countMax = Math.max(prev.countMax, s.countMax);
  if (s.delayed > 0) {
    prev.delayMaxMs = prev.delayed === 0 ? s.delayMaxMs : Math.max(prev.delayMaxMs, s.delayMaxMs);
    prev.delayed += s.delayed;
    prev.delaySumMs += s.delaySumMs;
  }
}

export function addAnomaly(a: ContAgg, r: Pick<StoredAnomaly, "event" | "count" | "delayMs">): void {
  const d = r.delayMs;
  mergeStats(a, r.event, {
    events: 1, countSum: r.count, countMax: r.count,
    delayed: d === null ? 0 : 1, delaySumMs: d ?? 0, delayMaxMs: d ?? 0,
  });
}

/** The blob next to the (n = delivered, ev = anomalies) columns of a continuity rollup row. */
export function encodeContAgg(a: ContAgg<SparseCounts>): Buffer {
  const w = new ByteWriter(64);
  w.uint(a.backfilled);
  writeLatency(w, a.delay.map);
  w.uint(a.delayClamped);
  w.uint(a.delayMaxMs === null ? 0 : a.delayMaxMs + 1);
  writeLatency(w, a.sighting.map);
  w.uint(a.sightingClamped);
  w.uint(a.sightingMaxMs === null ? 0 : a.sightingMaxMs + 1);
  const codes = [...a.events.keys()].sort((x, y) => x - y);
  w.uint(codes.length);
  for (const code of codes) {
    const s = a.events.get(code) as EventStats;
    w.uint(code);
    w.uint(s.events);
    w.uint(s.countSum);
    w.uint(s.countMax);
    w.uint(s.delayed);
    if (s.delayed > 0) {
      w.uint(s.delaySumMs);
      w.uint(s.delayMaxMs);
    }
  }
  return w.finish();
}

/**
 * Adds a stored rollup (n, ev, blob) into `a`. `part` "delivered" takes only the delivered
 * counts and delays (an edge minute, whose anomalies are read raw and filtered by timestamp).
 */
export function mergeEncodedCont(
  a: ContAgg, n: number, ev: number, blob: Uint8Array, part: "all" | "delivered" = "all",
): void {
  const rd = new ByteReader(blob);
  a.delivered += n;
  a.backfilled += rd.uint();
  readLatency(rd, a.delay);
  a.delayClamped += rd.uint();
  const dMax = rd.uint();
  if (dMax > 0) a.delayMaxMs = maxOf(a.delayMaxMs, dMax - 1);
  readLatency(rd, a.sighting);
  a.sightingClamped += rd.uint();
  const sMax = rd.uint();
  if (sMax > 0) a.sightingMaxMs = maxOf(a.sightingMaxMs, sMax - 1);
  if (part === "delivered") return;
  const before = a.anomalies;
  for (let i = rd.uint(); i > 0; i--) {
    const code = rd.uint();
    const events = rd.uint();
    const countSum = rd.uint();
    const countMax = rd.uint();
    const delayed = rd.uint();
    const delaySumMs = delayed > 0 ? rd.uint() : 0;
    const delayMaxMs = delayed > 0 ? rd.uint() : 0;
    mergeStats(a, code, { events, countSum, countMax, delayed, delaySumMs, delayMaxMs });
  }
  if (a.anomalies - before !== ev) throw new Error(`continuity rollup counts ${ev} anomalies but holds ${a.anomalies - before}`);
}

export function mergeContAgg(into: ContAgg<SparseCounts>, from: ContAgg<SparseCounts>): void {
  into.delivered += from.delivered;
  into.backfilled += from.backfilled;
  for (const [k, c] of from.delay.map) into.delay.add(k, c);
  into.delayClamped += from.delayClamped;
  into.delayMaxMs = maxOf(into.delayMaxMs, from.delayMaxMs);
  for (const [k, c] of from.sighting.map) into.sighting.add(k, c);
  into.sightingClamped += from.sightingClamped;
  into.sightingMaxMs = maxOf(into.sightingMaxMs, from.sightingMaxMs);
  for (const [code, s] of from.events) mergeStats(into, code, s);
}

const sparseAgg = (): ContAgg<SparseCounts> => newContAgg(new SparseCounts(), new SparseCounts());

// ---------------------------------------------------------------- writer

interface ContRow {
  n: number;
  ev: number;
  data: Buffer;
}

class ContRollupTable {
  private readonly get: Database.Statement<[number], ContRow>;
  private readonly put: Database.Statement<[number, number, number, Buffer]>;

  constructor(db: Db, table: string) {
    this.get = db.prepare(`SELECT n, ev, data FROM ${table} WHERE key = ?`);
    this.put = db.prepare(`INSERT OR REPLACE INTO ${table} (key, n, ev, data) VALUES (?, ?, ?, ?)`);
  }

  /** Adds `agg` to the stored row (mutating `agg` into the merged result). */
  mergeInto(bucket: number, series: number, agg: ContAgg<SparseCounts>): void {
    const key = rowKey(bucket, series);
    const prev = this.get.get(key);
    if (prev) mergeEncodedCont(agg, prev.n, prev.ev, prev.data);
    this.put.run(key, agg.delivered, agg.anomalies, encodeContAgg(agg));
  }
}

export interface ContOutputs {
  /** Anomalies' raw rows (`cevents`); delivered samples have none. */
  raw: boolean;
  minute: boolean;
  /** Hour and day rollups. */
  coarse: boolean;
}

/**
 * Writes continuity rollups: folds delivered samples (from compaction or a bulk import) and
 * single anomalies (in the write transaction) into the minute, hour and day rows, every target
 * row read-merged-written, so a late sample or a restart adds instead of replacing.
 */
export class ContinuityWriter {
  private readonly minute: ContRollupTable;
  private readonly coarse: { table: ContRollupTable; size: number }[];
  private readonly insEvent: Database.Statement<[number, number, number, number | null, number, number | null, string | null]>;

  constructor(db: Db) {
    this.minute = new ContRollupTable(db, "crollup_m");
    this.coarse = [
      { table: new ContRollupTable(db, "crollup_h"), size: HOUR_MS },
      { table: new ContRollupTable(db, "crollup_d"), size: DAY_MS },
    ];
    this.insEvent = db.prepare(
      "INSERT INTO cevents (ts, series, event, block, count, delay, detail) VALUES (?, ?, ?, ?, ?, ?, ?)",
    );
  }

  applyDelivered(records: readonly StoredDelivered[], out: ContOutputs): void {
    const byMinute = new Map<number, Map<number, ContAgg<SparseCounts>>>();
    for (const r of records) {
      const m = minuteOf(r.ts);
      let bySeries = byMinute.get(m);
      if (!bySeries) byMinute.set(m, (bySeries = new Map()));
      let a = bySeries.get(r.series);
      if (!a) bySeries.set(r.series, (a = sparseAgg()));
      addDelivered(a, r);
    }
    const coarse = this.coarse.map(() => new Map<number, Map<number, ContAgg<SparseCounts>>>());
    for (const [minute, bySeries] of byMinute) {
      for (const [series, fresh] of bySeries) {
        if (out.coarse) {
          this.coarse.forEach((level, i) => {
            const bucket = Math.floor((minute * MINUTE_MS) / level.size);
            const byBucket = coarse[i] as Map<number, Map<number, ContAgg<SparseCounts>>>;
            let aggs = byBucket.get(bucket);
            if (!aggs) byBucket.set(bucket, (aggs = new Map()));
            let acc = aggs.get(series);
            if (!acc) aggs.set(series, (acc = sparseAgg()));
            mergeContAgg(acc, fresh);
          });
        }
        if (out.minute) this.minute.mergeInto(minute, series, fresh);
      }
    }
    if (!out.coarse) return;
    this.coarse.forEach((level, i) => {
      for (const [bucket, aggs] of coarse[i] as Map<number, Map<number, ContAgg<SparseCounts>>>) {
        for (const [series, agg] of aggs) level.table.mergeInto(bucket, series, agg);
      }
    });
  }

  /** One anomaly: its raw row and its count in each rollup level. */
  applyAnomaly(r: StoredAnomaly, out: ContOutputs): void {
    if (out.raw) this.insEvent.run(r.ts, r.series, r.event, r.block, r.count, r.delayMs, r.detail);
    const one = (): ContAgg<SparseCounts> => {
      const a = sparseAgg();
      addAnomaly(a, r);
      return a;
    };
    if (out.minute) this.minute.mergeInto(minuteOf(r.ts), r.series, one());
    if (out.coarse) for (const level of this.coarse) level.table.mergeInto(Math.floor(r.ts / level.size), r.series, one());
  }
}
