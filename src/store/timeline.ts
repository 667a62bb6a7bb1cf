/**
 * Time-bucketed series for charts: a range cut into at most `maxPoints` equal UTC buckets,
 * each the merge of the rollup rows inside it (plus staged samples not yet compacted), per
 * probe route (methods merged, as SLO rows are) and per subscription watcher. Read from the
 * finest rollup level that needs at most MAX_ROWS_PER_SERIES rows per series (chooseStep): a
 * day from hour rows (24 buckets), a week from hour rows (2 h buckets), 30 days from day rows.
 *
 * Buckets are whole rollup buckets: the first and last may stick out of the range (a minute,
 * an hour or a day rounded out); `from`/`to` say how far. Charts show shape over time; the
 * exact verdicts are the report's SLO rows.
 */
import { addDelivered, decodeDelivered, eventOfCode, mergeEncodedCont, newContAgg, type AnomalyEvent, type ContAgg } from "./continuity.js";
import { loadDictionary, SERIES_PROBE, type Dictionary } from "./intern.js";
import { bucketOfKey, rowKey, seriesOfKey } from "./keys.js";
import { LatencyCounts, percentilesOfCounts } from "./latency.js";
import { decodeStaged, type StoredProbe } from "./record.js";
import { addSample, DISCARD_LATENCY, mergeEncoded, newAgg, SparseCounts, type Agg, type LatencySink } from "./rollup.js";
import type { StoreReader } from "./reader.js";
import { DAY_MS, HOUR_MS, MINUTE_MS } from "./time.js";

export const DEFAULT_TIMELINE_POINTS = 120;

/** Candidate bucket sizes: each divides the next coarser rollup bucket or is a whole number of them. */
const STEPS_MS = [
  1, 2, 5, 10, 15, 30,
].map((m) => m * MINUTE_MS).concat([1, 2, 3, 6, 8, 12].map((h) => h * HOUR_MS), [1, 2, 7, 14, 28, 56, 91].map((d) => d * DAY_MS));

export type TimelineLevel = "minute" | "hour" | "day";

const LEVEL_MS: Record<TimelineLevel, number> = { minute: MINUTE_MS, hour: HOUR_MS, day: DAY_MS };

/** Where each rollup level's rows are complete from (earlier ones may be pruned). */
export interface TimelineHorizons {
  minute: number;
  hour: number;
  continuityMinute: number;
}

/**
 * Rollup rows read per series at most (unless only day rows are left): reading costs ~10 us a
 * row, so a month of hour rows for 70 series (~50,000 rows) alone would miss the report's
 * 250 ms; its 30 day rows do not.
 */
export const MAX_ROWS_PER_SERIES = 500;

const LEVELS: TimelineLevel[] = ["minute", "hour", "day"];

/**
 * The finest rollup level that is retained since `since` and needs at most maxRowsPerSeries
 * rows per series for the range, and the smallest step (whole buckets of that level,
 * epoch-aligned) that cuts the range into at most maxPoints buckets.
 */
export function chooseStep(
  since: number, until: number, horizons: TimelineHorizons, maxPoints = DEFAULT_TIMELINE_POINTS, maxRowsPerSeries = MAX_ROWS_PER_SERIES,
): { stepMs: number; level: TimelineLevel } {
  if (!(maxPoints >= 1)) throw new Error(`maxPoints must be >= 1, got ${maxPoints}`);
  const buckets = (step: number): number => Math.floor((until - 1) / step) - Math.floor(since / step) + 1;
  const retained: Record<TimelineLevel, boolean> = {
    minute: since >= Math.max(horizons.minute, horizons.continuityMinute), hour: since >= horizons.hour, day: true,
  };
  const level = LEVELS.find((l) => l === "day" || (retained[l] && buckets(LEVEL_MS[l]) <= maxRowsPerSeries)) ?? "day";
  const size = LEVEL_MS[level];
  const stepMs = STEPS_MS.find((s) => s >= size && buckets(s) <= maxPoints) ??
    Math.ceil((until - since) / maxPoints / DAY_MS + 1) * DAY_MS;
  return { stepMs, level };
}

/** One probe route (all its methods) per bucket; arrays are index-aligned with Timeline.buckets. */
export interface RouteTimeline {
  target: string;
  chain: string;
  route: string;
  /** Probes that count for availability (plan mismatches excluded). */
  requests: number[];
  /** Well-formed answers / requests; null without requests. */
  successRatio: (number | null)[];
  /** Latency of well-formed answers, ms (HdrHistogram, within 1%); null without any. */
  p50: (number | null)[];
  p95: (number | null)[];
  p99: (number | null)[];
  /** Head lag in blocks of answers that had one: mean and max; null without any. */
  headLagMean: (number | null)[];
  headLagMax: (number | null)[];
  /** Answers per provider that served them (null provider: "unknown"), per bucket; most first. */
  providers: { provider: string; counts: number[] }[];
}

/** One subscription watcher per bucket. */
export interface WatcherTimeline {
  target: string;
  chain: string;
  watcher: string;
  route: string;
  subscription: string;
  delivered: number[];
  /** Blocks (or logs) never delivered: gap + log_missing counts. */
  missing: number[];
  /** Repeated deliveries: duplicate + log_duplicate counts. */
  duplicates: number[];
  reorgs: number[];
  /** Stalls detected (their opening samples). */
  stalls: number[];
  /** Subscribe or upgrade refusals, and sessions that never went live. */
  refused: number[];
  neverLive: number[];
}

export interface Timeline {
  stepMs: number;
  level: TimelineLevel;
  /** Bucket start times, ms, ascending; every bucket is stepMs long. */
  buckets: number[];
  /** What the buckets cover: the range rounded out to whole buckets. */
  from: number;
  to: number;
  routes: RouteTimeline[];
  watchers: WatcherTimeline[];
}

export interface TimelineRange {
  since: number;
  until: number;
  chain?: string | undefined;
}

interface Staged {
  series: number;
  ts: number;
  rec: Buffer;
}

const byName = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);

/** Reads the timeline in the caller's snapshot (StoreReader.timeline wraps it in a read transaction). */
export function readTimeline(db: StoreReader, range: TimelineRange, maxPoints = DEFAULT_TIMELINE_POINTS): Timeline {
  const { since, until } = range;
  if (!(until > since)) throw new Error("timeline range must have until > since");
  const horizons = {
    minute: db.meta("minute_horizon") ?? 0, hour: db.meta("hour_horizon") ?? 0, continuityMinute: db.meta("cminute_horizon") ?? 0,
  };
  const { stepMs, level } = chooseStep(since, until, horizons, maxPoints);
  const first = Math.floor(since / stepMs);
  const count = Math.floor((until - 1) / stepMs) - first + 1;
  const buckets = Array.from({ length: count }, (_, i) => (first + i) * stepMs);
  const from = first * stepMs;
  const to = from + count * stepMs;
  const slot = (ts: number): number => Math.floor(ts / stepMs) - first;
  const dict = loadDictionary(db);
  const inChain = (chain: string): boolean => range.chain === undefined || range.chain === chain;

  const size = LEVEL_MS[level];
  const tables = { minute: ["rollup_m", "crollup_m"], hour: ["rollup_h", "crollup_h"], day: ["rollup_d", "crollup_d"] }[level];
  const lo = rowKey(Math.floor(from / size), 0);
  const hi = rowKey(Math.ceil(to / size), 0);

  const probes = new Map<string, RouteAcc>();
  const routeAcc = (seriesId: number, i: number): RouteAcc | null => {
    const s = dict.series.get(seriesId);
    if (!s || s.kind !== SERIES_PROBE || !inChain(s.chain) || i < 0 || i >= count) return null;
    const k = `${s.target}\u0000${s.chain}\u0000${s.route}`;
    let p = probes.get(k);
    if (!p) probes.set(k, (p = new RouteAcc({ target: s.target, chain: s.chain, route: s.route }, count)));
    return p;
  };
  // Staged samples first (the newest minutes, few): rollup rows then arrive bucket by bucket.
  const staged = db.prepare<[number, number], Staged>("SELECT series, ts, rec FROM staging WHERE ts >= ? AND ts < ?").iterate(from, to);
  for (const r of staged) {
    const i = slot(r.ts);
    routeAcc(r.series, i)?.addStaged(i, decodeStaged(r.rec, r.series, r.ts));
  }
  // Row keys are bucket * 2^16 + series: rows come in bucket order, so each route fills one bucket at a time.
  const rows = db.prepare<[number, number], { key: number; n: number; ok: number; data: Buffer }>(`SELECT key, n, ok, data FROM ${tables[0]} WHERE key >= ? AND key < ?`).iterate(lo, hi);
  for (const r of rows) {
    const i = slot(bucketOfKey(r.key) * size);
    routeAcc(seriesOfKey(r.key), i)?.addRow(i, r.n, r.ok, r.data);
  }
  for (const p of probes.values()) p.finish();

  const watchers = new Map<number, (ContAgg | undefined)[]>();
  const contAgg = (seriesId: number, i: number): ContAgg | null => {
    const s = dict.continuity.get(seriesId);
    if (!s || !inChain(s.chain) || i < 0 || i >= count) return null;
    let list = watchers.get(seriesId);
    if (!list) watchers.set(seriesId, (list = Array.from({ length: count }, () => undefined)));
    return (list[i] ??= newContAgg(DISCARD_LATENCY, DISCARD_LATENCY));
  };
  const crows = db.prepare<[number, number], { key: number; n: number; ev: number; data: Buffer }>(`SELECT key, n, ev, data FROM ${tables[1]} WHERE key >= ? AND key < ?`).iterate(lo, hi);
  for (const r of crows) {
    const a = contAgg(seriesOfKey(r.key), slot(bucketOfKey(r.key) * size));
    if (a) mergeEncodedCont(a, r.n, r.ev, r.data);
  }
  // Anomalies are in the rollups from their write on; delivered samples only once compacted.
  const cstaged = db.prepare<[number, number], Staged>("SELECT series, ts, rec FROM cstaging WHERE ts >= ? AND ts < ?").iterate(from, to);
  for (const r of cstaged) {
    const a = contAgg(r.series, slot(r.ts));
    if (a) addDelivered(a, decodeDelivered(r.rec, r.series, r.ts));
  }

  return {
    stepMs, level, buckets, from, to,
    routes: [...probes.values()]
      .map((p) => routeTimeline(p.key, p.aggs, p.percentiles, dict))
      .sort((a, b) => byName(a.chain, b.chain) || byName(a.target, b.target) || byName(a.route, b.route)),
    watchers: [...watchers.entries()]
      .flatMap(([id, aggs]) => {
        const s = dict.continuity.get(id);
        return s ? [watcherTimeline(s, aggs)] : [];
      })
      .sort((a, b) => byName(a.chain, b.chain) || byName(a.target, b.target) || byName(a.watcher, b.watcher)),
  };
}

const PERCENTILES = [50, 95, 99];

/** One route's buckets being read: rows fill one bucket at a time; staged samples may be in any. */
class RouteAcc {
  readonly aggs: (Agg | undefined)[];
  readonly percentiles: ((number | null)[] | undefined)[];
  /** The bucket being filled, dense: merging a rollup's histogram is array adds (a Map per bucket cost more than the rest of a 30-day report). */
  private readonly latency = new LatencyCounts();
  private open = -1;

  constructor(readonly key: { target: string; chain: string; route: string }, count: number) {
    this.aggs = Array.from({ length: count }, () => undefined);
    this.percentiles = Array.from({ length: count }, () => undefined);
  }

  addStaged(i: number, r: StoredProbe): void {
    addSample((this.aggs[i] ??= newAgg<LatencySink>(new SparseCounts(), DISCARD_LATENCY)), r);
  }

  addRow(i: number, n: number, ok: number, data: Buffer): void {
    if (i !== this.open) this.openBucket(i);
    mergeEncoded(this.aggs[i] as Agg, n, ok, data);
  }

  private openBucket(i: number): void {
    this.close();
    this.open = i;
    const a = (this.aggs[i] ??= newAgg<LatencySink>(this.latency, DISCARD_LATENCY));
    if (a.latency instanceof SparseCounts) for (const [k, c] of a.latency.map) this.latency.add(k, c);
    a.latency = this.latency;
  }

  private close(): void {
    if (this.open >= 0) this.percentiles[this.open] = this.latency.percentilesMs(PERCENTILES);
    this.latency.clear();
    this.open = -1;
  }

  /** Closes the bucket being filled; buckets with staged samples only get their percentiles here. */
  finish(): void {
    this.close();
    this.aggs.forEach((a, i) => {
      if (a && this.percentiles[i] === undefined) this.percentiles[i] = a.latency instanceof SparseCounts ? percentilesOfCounts(a.latency.map, PERCENTILES) : [null, null, null];
    });
  }
}

function routeTimeline(
  key: { target: string; chain: string; route: string }, aggs: readonly (Agg | undefined)[], percentiles: readonly ((number | null)[] | undefined)[], dict: Dictionary,
): RouteTimeline {
  const out: RouteTimeline = {
    ...key, requests: [], successRatio: [], p50: [], p95: [], p99: [], headLagMean: [], headLagMax: [], providers: [],
  };
  const mismatchIds = new Set([...dict.names].filter(([, n]) => n === "plan_mismatch").map(([id]) => id));
  const providerCounts = new Map<string, number[]>();
  const totals = new Map<string, number>();
  for (let i = 0; i < aggs.length; i++) {
    const a = aggs[i];
    if (!a) {
      out.requests.push(0);
      for (const k of ["successRatio", "p50", "p95", "p99", "headLagMean", "headLagMax"] as const) out[k].push(null);
      continue;
    }
    let excluded = 0;
    for (const [id, c] of a.errors) if (mismatchIds.has(id)) excluded += c;
    const requests = a.n - excluded;
    out.requests.push(requests);
    out.successRatio.push(requests > 0 ? a.ok / requests : null);
    const [p50, p95, p99] = percentiles[i] ?? [null, null, null];
    out.p50.push(p50 ?? null);
    out.p95.push(p95 ?? null);
    out.p99.push(p99 ?? null);
    let lagN = 0;
    let lagSum = 0;
    let lagMax: number | null = null;
    for (const [lag, c] of a.lag) {
      lagN += c;
      lagSum += lag * c;
      lagMax = lagMax === null ? lag : Math.max(lagMax, lag);
    }
    out.headLagMean.push(lagN > 0 ? lagSum / lagN : null);
    out.headLagMax.push(lagMax);
    for (const [id, c] of a.providers) {
      const name = id === 0 ? "unknown" : (dict.names.get(id) ?? `#${id}`);
      let list = providerCounts.get(name);
      if (!list) providerCounts.set(name, (list = new Array<number>(aggs.length).fill(0)));
      list[i] = (list[i] ?? 0) + c;
      totals.set(name, (totals.get(name) ?? 0) + c);
    }
  }
  out.providers = [...providerCounts.entries()]
    .map(([provider, counts]) => ({ provider, counts }))
    .sort((a, b) => (totals.get(b.provider) ?? 0) - (totals.get(a.provider) ?? 0) || byName(a.provider, b.provider));
  return out;
}

function watcherTimeline(
  s: { target: string; chain: string; watcher: string; route: string; subscription: string }, aggs: (ContAgg | undefined)[],
): WatcherTimeline {
  const sum = (a: ContAgg | undefined, kinds: AnomalyEvent[], field: "events" | "countSum"): number => {
    if (!a) return 0;
    let n = 0;
    for (const [code, st] of a.events) {
      const e = eventOfCode(code);
      if (e !== null && kinds.includes(e)) n += st[field];
    }
    return n;
  };
  const opened = (a: ContAgg | undefined): number => {
    if (!a) return 0;
    for (const [code, st] of a.events) if (eventOfCode(code) === "stall") return Math.max(st.events - st.delayed, 0);
    return 0;
  };
  return {
    target: s.target, chain: s.chain, watcher: s.watcher, route: s.route, subscription: s.subscription,
    delivered: aggs.map((a) => a?.delivered ?? 0),
    missing: aggs.map((a) => sum(a, ["gap", "log_missing"], "countSum")),
    duplicates: aggs.map((a) => sum(a, ["duplicate", "log_duplicate"], "countSum")),
    reorgs: aggs.map((a) => sum(a, ["reorg"], "events")),
    stalls: aggs.map(opened),
    refused: aggs.map((a) => sum(a, ["subscribe_refused", "upgrade_refused"], "events")),
    neverLive: aggs.map((a) => sum(a, ["never_live"], "events")),
  };
}
