import { getBaseline, listBaselines, type BaselineRecord, type BaselineSummary } from "./baselines.js";
import { listChaosWindows, type ChaosWindowRecord, type WindowQuery } from "./chaosWindows.js";
import { readSoakSamples, soakPollCounts, type SoakPollCounts } from "./soak.js";
import type { SoakSample } from "../samples.js";
import type Database from "better-sqlite3";
import type { ConsistencySample, ContinuitySample, ErrorClass, ProbeSample } from "../samples.js";
import { decodeHashes } from "./consistency.js";
import {
  addAnomaly, addDelivered, decodeDelivered, EVENT_CODES, eventOfCode, mergeEncodedCont, newContAgg, STATE_EVENTS,
  type AnomalyEvent, type ContAgg, type EventStats, type StoredAnomaly,
} from "./continuity.js";
import {
  loadDictionary, SERIES_CONSISTENCY, SERIES_PROBE, type ContinuityKey, type Dictionary, type SeriesKey,
} from "./intern.js";
import { bucketOfKey, rowKey, seriesOfKey } from "./keys.js";
import { LatencyCounts } from "./latency.js";
import { decodeStaged, unpackRecords, type StoredProbe } from "./record.js";
import { addSample, mergeEncoded, newAgg, type Agg } from "./rollup.js";
import { StoreOpenError } from "./openError.js";
import { openDatabase, SchemaVersionError, type Db } from "./schema.js";
import { parseServedBy } from "./servedBy.js";
import { planRead, type Horizons, type ReadPlan } from "./segments.js";
import { sampleSpan, type SampleSpan, type Wanted } from "./span.js";
import { DAY_MS, HOUR_MS, MINUTE_MS, minuteOf } from "./time.js";
import { DEFAULT_TIMELINE_POINTS, readTimeline, type Timeline } from "./timeline.js";

export interface TimeRange {
  /** Inclusive, wall-clock ms. */
  since: number;
  /** Exclusive, wall-clock ms. */
  until: number;
  chain?: string | undefined;
}

/** Rollups of one probe series merged over a range, with ids resolved to names. */
export interface SeriesAggregate extends SeriesKey {
  requests: number;
  /** Well-formed answers (ProbeSample outcome "ok"), whatever the assertions said. */
  ok: number;
  /** error class -> count; "unknown" when a failed sample carried no class. */
  errors: Map<string, number>;
  /** provider id -> count; null when routing metadata named no provider. */
  providers: Map<string | null, number>;
  /** Latency of well-formed answers (outcome ok). */
  latency: LatencyCounts;
  /** `latency`: the overhead histogram (see Agg.overheadLatency: its total may be below `count`). */
  overhead: { count: number; sumMs: number; maxMs: number; latency: LatencyCounts };
  /** head lag in blocks -> number of samples */
  headLag: Map<number, number>;
  regressions: number;
  retriesTotal: number;
  retriedRequests: number;
  /** Answers the correctness SLI judged (ProbeSample.correct not null), and those that failed it. */
  judged: number;
  incorrect: number;
  /** assertion name -> answers that failed it (freshness included). */
  failedAssertions: Map<string, number>;
}

export interface ConsistencyAggregate {
  target: string;
  chain: string;
  checks: number;
  mismatches: number;
}

/**
 * Rollups of one subscription watcher series merged over a range. Delivered counts and delays
 * cover whole buckets at the range's edges; anomalies are exact to the millisecond within raw
 * retention (`AggregateResult.continuityCoverage`, StoreReader.readContinuity).
 */
export interface ContinuityAggregate extends ContinuityKey {
  /** Delivered samples (every event received, repeats included). */
  delivered: number;
  /** Delivered samples that were backfilled full blocks. */
  backfilled: number;
  /** Arrival minus block timestamp, of delivered samples that had one; negatives recorded as 0. */
  delay: LatencyCounts;
  delayClamped: number;
  delayMaxMs: number | null;
  /** Arrival minus first HTTP sighting, of delivered samples that had one; negatives recorded as 0. */
  sighting: LatencyCounts;
  sightingClamped: number;
  sightingMaxMs: number | null;
  /** Per anomaly kind that occurred: samples, their `count` sum and max, delays. */
  events: Map<AnomalyEvent, EventStats>;
  /**
   * The last STATE_EVENTS sample in the range (from raw anomalies; null when none, or past raw
   * retention): what the watcher was doing at the range's end (refused, stalled, live, ...).
   */
  lastState: LastState | null;
}

export interface LastState {
  event: AnomalyEvent;
  ts: number;
  block: number | null;
  count: number;
  delayMs: number | null;
  detail: string | null;
}

/** Rows read per table by one aggregate() call (tests and benchmarks: what a plan cost). */
export interface RowsRead {
  rollup_d: number;
  rollup_h: number;
  rollup_m: number;
  raw: number;
  staging: number;
  cons_d: number;
  cons_h: number;
  cons_m: number;
  consistency: number;
  crollup_d: number;
  crollup_h: number;
  crollup_m: number;
  cevents: number;
  cstaging: number;
}

export interface AggregateResult {
  /** What was read: the range, its edges rounded out where raw samples are past retention. */
  plan: ReadPlan;
  /** The first and last probe or consistency sample actually in the range (see SampleSpan). */
  samples: SampleSpan;
  series: SeriesAggregate[];
  consistency: ConsistencyAggregate[];
  continuity: ContinuityAggregate[];
  /** What `continuity` covers; it has a plan of its own (see StoreReader.readContinuity). */
  continuityCoverage: ContinuityCoverage;
  rowsRead: RowsRead;
}

export interface ContinuityCoverage {
  /**
   * Anomalies (every event kind but delivered): exactly [since, until) (exactEdges) unless an
   * edge's raw anomalies are past raw retention, when that edge is rounded out to its bucket.
   * Null when the range is empty.
   */
  from: number | null;
  to: number | null;
  exactEdges: boolean;
  /**
   * Delivered counts and delays: whole rollup buckets, so the range rounded out to whole
   * minutes, or to whole hours where continuity minute rollups are past their retention.
   */
  delivered: { from: number | null; to: number | null };
}

interface RollupRow {
  key: number;
  n: number;
  ok: number;
  data: Buffer;
}

interface ConsRow {
  key: number;
  checks: number;
  mismatches: number;
}

interface ConsSample {
  ts: number;
  scope: number;
  agree: number;
}

interface ContRow {
  key: number;
  n: number;
  ev: number;
  data: Buffer;
}

/** The compacted raw samples of one edge minute (wanted series and scopes only). */
interface EdgeMinute {
  probes: StoredProbe[];
  checks: ConsSample[];
}

function emptyRowsRead(): RowsRead {
  return {
    rollup_d: 0, rollup_h: 0, rollup_m: 0, raw: 0, staging: 0, cons_d: 0, cons_h: 0, cons_m: 0, consistency: 0,
    crollup_d: 0, crollup_h: 0, crollup_m: 0, cevents: 0, cstaging: 0,
  };
}

interface AnomalyRow {
  id: number;
  ts: number;
  series: number;
  event: number;
  block: number | null;
  count: number;
  delay: number | null;
  detail: string | null;
}

/**
 * Queries over the store. Works on the writer's connection or on its own read-only one
 * (StoreReader.open), which is what the report worker uses: WAL lets it read while the
 * daemon writes.
 */
export class StoreReader {
  private readonly statements = new Map<string, Database.Statement>();

  constructor(private readonly db: Db) {}

  /** Each statement is prepared once per connection, not ~25 times per report. */
  prepare<P extends unknown[] = unknown[], R = unknown>(sql: string): Database.Statement<P, R> {
    let s = this.statements.get(sql);
    if (!s) {
      s = this.db.prepare(sql);
      this.statements.set(sql, s);
    }
    return s as Database.Statement<P, R>;
  }

  static open(path: string): StoreReader {
    try {
      return new StoreReader(openDatabase(path, { readonly: true }));
    } catch (err) {
      throw err instanceof SchemaVersionError ? err : new StoreOpenError(path, err, true);
    }
  }

  close(): void {
    this.db.close();
  }

  /** Chaos windows planned in the range, newest first. */
  chaosWindows(q: WindowQuery): ChaosWindowRecord[] {
    return listChaosWindows((sql) => this.prepare(sql), q);
  }

  /** A named baseline (statistics as stored JSON), or null. */
  baseline(name: string): BaselineRecord | null {
    return getBaseline((sql) => this.prepare(sql), name);
  }

  baselines(): BaselineSummary[] {
    return listBaselines((sql) => this.prepare(sql));
  }

  /** Soak samples with since <= ts < until, oldest first. */
  soakSamples(since: number, until: number): SoakSample[] {
    return readSoakSamples((sql) => this.prepare(sql), since, until);
  }

  /** Soak polls, errors and restarts per subject in [since, until). */
  soakPollCounts(since: number, until: number): SoakPollCounts[] {
    return soakPollCounts((sql) => this.prepare(sql), since, until);
  }

  meta(key: string): number | null {
    const row = this.prepare("SELECT value FROM meta WHERE key = ?").get(key) as { value: number } | undefined;
    return row?.value ?? null;
  }

  /**
   * Aggregates per probe series (and consistency counts per scope) over exactly
   * [since, until): whole days, hours and minutes from rollups (see planRead), the partial
   * minutes at the edges from the raw samples filtered by timestamp, plus the staged
   * samples of the range not yet folded into raw rows and rollups. Everything is read in one
   * read transaction: compaction moves a sample from staging into its raw row and rollups
   * in one transaction, so in one snapshot every sample is counted exactly once, whether
   * its minute is open, being compacted, or closed. Where an edge's raw samples are past
   * retention (or found incomplete) the edge falls back to its whole rollup bucket and
   * `plan` says so (`exactEdges`, `from`, `to`). Continuity aggregates per watcher series
   * come from the same snapshot on a plan of their own (`continuityCoverage`, readContinuity).
   */
  aggregate(range: TimeRange): AggregateResult {
    return this.db.transaction(() => this.aggregateInSnapshot(range))();
  }

  private aggregateInSnapshot(range: TimeRange): AggregateResult {
    const dict = loadDictionary(this);
    const rowsRead = emptyRowsRead();
    const horizons = {
      hour: this.meta("hour_horizon") ?? 0,
      minute: this.meta("minute_horizon") ?? 0,
      raw: this.meta("raw_horizon") ?? 0,
    };
    const wanted: Wanted = (id, kind) => {
      const s = dict.series.get(id);
      return s !== undefined && s.kind === kind && (range.chain === undefined || s.chain === range.chain);
    };
    let plan = planRead(range.since, range.until, horizons);
    // Read the edge minutes' raw samples first: a minute whose raw rows hold fewer samples
    // than its minute rollup (pruned, or written without raw rows) is read whole instead.
    const edges = new Map<number, EdgeMinute>();
    const gaps = new Set<number>();
    for (const [from] of plan.exact) {
      const m = minuteOf(from);
      if (edges.has(m) || gaps.has(m)) continue;
      const edge = this.readEdgeMinute(m, wanted, rowsRead);
      if (edge) edges.set(m, edge);
      else gaps.add(m);
    }
    if (gaps.size > 0) plan = planRead(range.since, range.until, horizons, gaps);

    const accs = new Map<number, Agg<LatencyCounts>>();
    const accFor = (series: number): Agg<LatencyCounts> => {
      let a = accs.get(series);
      if (!a) accs.set(series, (a = newAgg(new LatencyCounts(), new LatencyCounts())));
      return a;
    };
    const cons = new Map<number, { checks: number; mismatches: number }>();
    const addChecks = (scope: number, checks: number, mismatches: number): void => {
      const c = cons.get(scope) ?? { checks: 0, mismatches: 0 };
      c.checks += checks;
      c.mismatches += mismatches;
      cons.set(scope, c);
    };

    const tables = { day: ["rollup_d", "cons_d"], hour: ["rollup_h", "cons_h"], minute: ["rollup_m", "cons_m"] } as const;
    for (const level of ["day", "hour", "minute"] as const) {
      const [rollup, consTable] = tables[level];
      const rows = this.prepare<[number, number], RollupRow>(
        `SELECT key, n, ok, data FROM ${rollup} WHERE key >= ? AND key < ?`,
      );
      const consRows = this.prepare<[number, number], ConsRow>(
        `SELECT key, checks, mismatches FROM ${consTable} WHERE key >= ? AND key < ?`,
      );
      for (const [a, b] of plan[level]) {
        for (const r of rows.iterate(rowKey(a, 0), rowKey(b, 0))) {
          rowsRead[rollup]++;
          const series = seriesOfKey(r.key);
          if (wanted(series, SERIES_PROBE)) mergeEncoded(accFor(series), r.n, r.ok, r.data);
        }
        for (const r of consRows.iterate(rowKey(a, 0), rowKey(b, 0))) {
          rowsRead[consTable]++;
          const scope = seriesOfKey(r.key);
          if (wanted(scope, SERIES_CONSISTENCY)) addChecks(scope, r.checks, r.mismatches);
        }
      }
    }
    for (const [from, to] of plan.exact) {
      const edge = edges.get(minuteOf(from));
      if (!edge) throw new Error(`edge minute ${minuteOf(from)} was planned exact but not read`);
      for (const r of edge.probes) if (r.ts >= from && r.ts < to) addSample(accFor(r.series), r);
      for (const c of edge.checks) if (c.ts >= from && c.ts < to) addChecks(c.scope, 1, c.agree ? 0 : 1);
    }
    if (plan.from !== null && plan.to !== null) {
      // Not yet compacted: in no raw row or rollup. The covered range is contiguous, and
      // exact at the edges where `exact` intervals are.
      const staged = this.prepare<[number, number], { series: number; ts: number; rec: Buffer }>(
        "SELECT series, ts, rec FROM staging WHERE ts >= ? AND ts < ?",
      );
      for (const r of staged.iterate(plan.from, plan.to)) {
        rowsRead.staging++;
        if (wanted(r.series, SERIES_PROBE)) addSample(accFor(r.series), decodeStaged(r.rec, r.series, r.ts));
      }
    }

    const series: SeriesAggregate[] = [];
    for (const [id, a] of accs) {
      const s = dict.series.get(id);
      if (s) series.push(resolve(s, a, dict));
    }
    const consistency: ConsistencyAggregate[] = [];
    for (const [id, c] of cons) {
      const s = dict.series.get(id);
      if (s) consistency.push({ target: s.target, chain: s.chain, ...c });
    }
    const cont = this.readContinuity(range, dict, { ...horizons, continuityMinute: this.meta("cminute_horizon") ?? 0 }, rowsRead);
    const samples = sampleSpan(this, range.since, range.until, wanted, horizons);
    return { plan, samples, series, consistency, continuity: cont.continuity, continuityCoverage: cont.coverage, rowsRead };
  }

  /** Per route and watcher, the range in at most `maxPoints` time buckets, for charts (see timeline.ts). */
  timeline(range: TimeRange, maxPoints: number = DEFAULT_TIMELINE_POINTS): Timeline {
    return this.db.transaction(() => readTimeline(this, range, maxPoints))();
  }

  /**
   * Continuity aggregates over [since, until), on a plan of their own: delivered samples have
   * no raw rows, and continuity minute rollups a shorter retention than probe ones. Whole
   * buckets inside the range count whole. A bucket that sticks out of the range (the partial
   * minute at an edge, or the partial hour once its minute rows are pruned) counts its
   * delivered part whole, and its anomalies from the raw `cevents` rows filtered by
   * timestamp, so anomalies are exact wherever raw anomalies are retained (and complete:
   * no fewer than the bucket's rollup counts); otherwise that bucket counts whole.
   */
  private readContinuity(
    range: TimeRange, dict: Dictionary, horizons: Horizons & { continuityMinute: number }, rowsRead: RowsRead,
  ): { continuity: ContinuityAggregate[]; coverage: ContinuityCoverage } {
    const { since, until } = range;
    const wanted = (id: number): boolean => {
      const s = dict.continuity.get(id);
      return s !== undefined && (range.chain === undefined || s.chain === range.chain);
    };
    // raw: Infinity: no partial minute is read from raw rows (delivered samples have none).
    const plan = planRead(since, until, { hour: horizons.hour, minute: horizons.continuityMinute, raw: Infinity });
    const accs = new Map<number, ContAgg<LatencyCounts>>();
    const accFor = (series: number): ContAgg<LatencyCounts> => {
      let a = accs.get(series);
      if (!a) accs.set(series, (a = newContAgg(new LatencyCounts(), new LatencyCounts())));
      return a;
    };
    // Exact unless an edge bucket's raw anomalies are past retention (or incomplete).
    let anomalyFrom = plan.from === null ? null : since;
    let anomalyTo = plan.to === null ? null : until;
    const levels = [["day", "crollup_d", DAY_MS], ["hour", "crollup_h", HOUR_MS], ["minute", "crollup_m", MINUTE_MS]] as const;
    for (const [level, table, size] of levels) {
      const rows = this.prepare<[number, number], ContRow>(`SELECT key, n, ev, data FROM ${table} WHERE key >= ? AND key < ?`);
      for (const [a, b] of plan[level]) {
        const edge = new Map<number, ContRow[]>();
        for (const r of rows.iterate(rowKey(a, 0), rowKey(b, 0))) {
          rowsRead[table]++;
          const series = seriesOfKey(r.key);
          if (!wanted(series)) continue;
          const bucket = bucketOfKey(r.key);
          if (bucket * size >= since && (bucket + 1) * size <= until) {
            mergeEncodedCont(accFor(series), r.n, r.ev, r.data);
            continue;
          }
          const list = edge.get(bucket);
          if (list) list.push(r);
          else edge.set(bucket, [r]);
        }
        for (const bucket of new Set([a, b - 1])) {
          const start = bucket * size;
          const end = start + size;
          if (start >= since && end <= until) continue;
          const list = edge.get(bucket) ?? [];
          const events = start >= horizons.raw ? this.readAnomalies(start, end, wanted, rowsRead) : null;
          const complete = events !== null && list.every((r) => (events.perSeries.get(seriesOfKey(r.key)) ?? 0) >= r.ev);
          for (const r of list) mergeEncodedCont(accFor(seriesOfKey(r.key)), r.n, r.ev, r.data, complete ? "delivered" : "all");
          if (complete) {
            for (const e of events.list) if (e.ts >= since && e.ts < until) addAnomaly(accFor(e.series), e);
          } else if (start < since) {
            anomalyFrom = start;
          } else {
            anomalyTo = end;
          }
        }
      }
    }
    if (plan.from !== null && plan.to !== null) {
      // Staged delivered samples of the same whole buckets the delivered rollups were read for.
      const staged = this.prepare<[number, number], { series: number; ts: number; rec: Buffer }>(
        "SELECT series, ts, rec FROM cstaging WHERE ts >= ? AND ts < ?",
      );
      for (const r of staged.iterate(plan.from, plan.to)) {
        rowsRead.cstaging++;
        if (wanted(r.series)) addDelivered(accFor(r.series), decodeDelivered(r.rec, r.series, r.ts));
      }
    }
    const states = this.lastStates(range, wanted, rowsRead);
    for (const id of states.keys()) accFor(id);
    const continuity: ContinuityAggregate[] = [];
    for (const [id, a] of accs) {
      const s = dict.continuity.get(id);
      if (s) continuity.push(resolveContinuity(s, a, states.get(id) ?? null));
    }
    return {
      continuity,
      coverage: {
        from: anomalyFrom, to: anomalyTo,
        exactEdges: plan.from === null || (anomalyFrom === since && anomalyTo === until),
        delivered: { from: plan.from, to: plan.to },
      },
    };
  }

  /** Per wanted series, its last STATE_EVENTS row with since <= ts < until (by insertion order). */
  private lastStates(range: TimeRange, wanted: (id: number) => boolean, rowsRead: RowsRead): Map<number, LastState> {
    const codes = STATE_EVENTS.map((e) => EVENT_CODES[e]).join(", ");
    // SQLite takes the bare columns from the row holding MAX(id).
    const rows = this.prepare<[number, number], AnomalyRow>(
      `SELECT MAX(id) AS id, ts, series, event, block, count, delay, detail FROM cevents WHERE ts >= ? AND ts < ? AND event IN (${codes}) GROUP BY series`,
    );
    const out = new Map<number, LastState>();
    for (const r of rows.iterate(range.since, range.until)) {
      rowsRead.cevents++;
      const event = eventOfCode(r.event);
      if (event === null || !wanted(r.series)) continue;
      out.set(r.series, { event, ts: r.ts, block: r.block, count: r.count, delayMs: r.delay, detail: r.detail });
    }
    return out;
  }

  /** Raw anomalies of wanted series with start <= ts < end, and how many per series. */
  private readAnomalies(
    start: number, end: number, wanted: (id: number) => boolean, rowsRead: RowsRead,
  ): { list: StoredAnomaly[]; perSeries: Map<number, number> } {
    const list: StoredAnomaly[] = [];
    const perSeries = new Map<number, number>();
    const events = this.prepare<[number, number], AnomalyRow>(
      "SELECT id, ts, series, event, block, count, delay, detail FROM cevents WHERE ts >= ? AND ts < ?",
    );
    for (const e of events.iterate(start, end)) {
      rowsRead.cevents++;
      if (!wanted(e.series)) continue;
      list.push(storedAnomaly(e));
      perSeries.set(e.series, (perSeries.get(e.series) ?? 0) + 1);
    }
    return { list, perSeries };
  }

  /**
   * The compacted raw probe samples and the consistency samples of minute `m`, or null if
   * they are incomplete for a wanted series or scope: fewer than its minute rollup counts.
   * (Staged samples are in neither, and are read with the rest of the range.)
   */
  private readEdgeMinute(m: number, wanted: Wanted, rowsRead: RowsRead): EdgeMinute | null {
    const lo = rowKey(m, 0);
    const hi = rowKey(m + 1, 0);
    const start = m * MINUTE_MS;
    const probes: StoredProbe[] = [];
    const found = new Map<number, number>();
    const packed = this.prepare<[number, number], { key: number; data: Buffer }>(
      "SELECT key, data FROM raw WHERE key >= ? AND key < ?",
    );
    for (const r of packed.iterate(lo, hi)) {
      rowsRead.raw++;
      const series = seriesOfKey(r.key);
      if (!wanted(series, SERIES_PROBE)) continue;
      const records = unpackRecords(r.data, series, start);
      found.set(series, records.length);
      for (const rec of records) probes.push(rec);
    }
    const counted = this.prepare<[number, number], { key: number; n: number }>(
      "SELECT key, n FROM rollup_m WHERE key >= ? AND key < ?",
    );
    for (const r of counted.iterate(lo, hi)) {
      rowsRead.rollup_m++;
      const series = seriesOfKey(r.key);
      if (wanted(series, SERIES_PROBE) && (found.get(series) ?? 0) < r.n) return null;
    }
    const checks: ConsSample[] = [];
    const perScope = new Map<number, number>();
    const raw = this.prepare<[number, number], ConsSample>(
      "SELECT ts, scope, agree FROM consistency WHERE ts >= ? AND ts < ?",
    );
    for (const c of raw.iterate(start, start + MINUTE_MS)) {
      rowsRead.consistency++;
      if (!wanted(c.scope, SERIES_CONSISTENCY)) continue;
      checks.push(c);
      perScope.set(c.scope, (perScope.get(c.scope) ?? 0) + 1);
    }
    const consCounted = this.prepare<[number, number], { key: number; checks: number }>(
      "SELECT key, checks FROM cons_m WHERE key >= ? AND key < ?",
    );
    for (const r of consCounted.iterate(lo, hi)) {
      rowsRead.cons_m++;
      const scope = seriesOfKey(r.key);
      if (wanted(scope, SERIES_CONSISTENCY) && (perScope.get(scope) ?? 0) < r.checks) return null;
    }
    return { probes, checks };
  }

  /**
   * Raw continuity anomalies (every event kind but delivered) with since <= ts < until, oldest
   * first, for drill-down. `chain` (or range.chain) filters. Delivered samples are not kept raw.
   * Anomalies store no sighting delay or backfilled flag (null); count and delayMs are whole ms,
   * delayMs clamped at 0; detail capped at 500 characters.
   */
  continuityEvents(range: TimeRange, chain: string | undefined = range.chain): ContinuitySample[] {
    const dict = loadDictionary(this);
    const rows = this
      .prepare<[number, number], AnomalyRow>(
        "SELECT id, ts, series, event, block, count, delay, detail FROM cevents WHERE ts >= ? AND ts < ? ORDER BY ts, id",
      )
      .all(range.since, range.until);
    const out: ContinuitySample[] = [];
    for (const r of rows) {
      const s = dict.continuity.get(r.series);
      const event = eventOfCode(r.event);
      if (!s || event === null || (chain !== undefined && s.chain !== chain)) continue;
      out.push({
        kind: "continuity", ts: r.ts, target: s.target, chain: s.chain, watcher: s.watcher, route: s.route,
        subscription: s.subscription === "logs" ? "logs" : "newHeads", event, blockNumber: r.block, count: r.count,
        delayMs: r.delay, sightingDelayMs: null, backfilled: null, detail: r.detail,
      });
    }
    return out;
  }

  /** Raw probe samples with since <= ts < until, oldest first (tests and debugging). */
  probeSamples(range: TimeRange): ProbeSample[] {
    const dict = loadDictionary(this);
    const records: StoredProbe[] = [];
    const inRange = (ts: number): boolean => ts >= range.since && ts < range.until;
    const packed = this
      .prepare<[number, number], { key: number; data: Buffer }>("SELECT key, data FROM raw WHERE key >= ? AND key < ?")
      .all(rowKey(Math.floor(range.since / MINUTE_MS), 0), rowKey(Math.ceil(range.until / MINUTE_MS), 0));
    for (const row of packed) {
      const start = bucketOfKey(row.key) * MINUTE_MS;
      for (const r of unpackRecords(row.data, seriesOfKey(row.key), start)) if (inRange(r.ts)) records.push(r);
    }
    const staged = this
      .prepare<[number, number], { series: number; ts: number; rec: Buffer }>(
        "SELECT series, ts, rec FROM staging WHERE ts >= ? AND ts < ?",
      )
      .all(range.since, range.until);
    for (const row of staged) records.push(decodeStaged(row.rec, row.series, row.ts));
    records.sort((a, b) => a.ts - b.ts);
    const out: ProbeSample[] = [];
    for (const r of records) {
      const s = dict.series.get(r.series);
      if (s && (range.chain === undefined || s.chain === range.chain)) out.push(toProbeSample(r, s, dict));
    }
    return out;
  }

  consistencySamples(range: TimeRange): ConsistencySample[] {
    const dict = loadDictionary(this);
    const rows = this
      .prepare<[number, number], { ts: number; scope: number; block: number; agree: number; hashes: string }>(
        "SELECT ts, scope, block, agree, hashes FROM consistency WHERE ts >= ? AND ts < ? ORDER BY ts, id",
      )
      .all(range.since, range.until);
    const out: ConsistencySample[] = [];
    for (const r of rows) {
      const s = dict.series.get(r.scope);
      if (!s || (range.chain !== undefined && s.chain !== range.chain)) continue;
      out.push({
        kind: "consistency", ts: r.ts, target: s.target, chain: s.chain, blockNumber: r.block,
        hashes: decodeHashes(r.hashes), agree: r.agree === 1,
      });
    }
    return out;
  }

  /** Row counts per table (benchmarks, debugging). */
  rowCounts(): Record<string, number> {
    const out: Record<string, number> = {};
    for (const t of [
      "staging", "raw", "rollup_m", "rollup_h", "rollup_d", "consistency", "cons_m", "cons_h", "cons_d", "series", "names",
      "cseries", "cstaging", "cevents", "crollup_m", "crollup_h", "crollup_d",
    ]) {
      out[t] = (this.prepare(`SELECT count(*) AS n FROM ${t}`).get() as { n: number }).n;
    }
    return out;
  }
}

function name(dict: Dictionary, id: number): string | null {
  return id === 0 ? null : (dict.names.get(id) ?? `#${id}`);
}

/** Counts by name id -> counts by name; `unnamed` for id 0. */
function byName(counts: Map<number, number>, dict: Dictionary, unnamed: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const [id, c] of counts) {
    const k = name(dict, id) ?? unnamed;
    out.set(k, (out.get(k) ?? 0) + c);
  }
  return out;
}

function resolve(s: SeriesKey, a: Agg<LatencyCounts>, dict: Dictionary): SeriesAggregate {
  const errors = byName(a.errors, dict, "unknown");
  const providers = new Map<string | null, number>();
  for (const [id, c] of a.providers) {
    const k = name(dict, id);
    providers.set(k, (providers.get(k) ?? 0) + c);
  }
  return {
    target: s.target, chain: s.chain, route: s.route, method: s.method,
    requests: a.n, ok: a.ok, errors, providers, latency: a.latency,
    overhead: { count: a.overheadCount, sumMs: a.overheadSumUs / 1000, maxMs: a.overheadMaxUs / 1000, latency: a.overheadLatency },
    headLag: a.lag, regressions: a.regressions, retriesTotal: a.retriesTotal, retriedRequests: a.retriedRequests,
    judged: a.judged, incorrect: a.incorrect, failedAssertions: byName(a.failedAssertions, dict, "unknown"),
  };
}

function storedAnomaly(r: AnomalyRow): StoredAnomaly {
  return { series: r.series, ts: r.ts, event: r.event, block: r.block, count: r.count, delayMs: r.delay, detail: r.detail };
}

function resolveContinuity(s: ContinuityKey, a: ContAgg<LatencyCounts>, lastState: LastState | null): ContinuityAggregate {
  const events = new Map<AnomalyEvent, EventStats>();
  for (const [code, st] of a.events) {
    const e = eventOfCode(code);
    if (e !== null) events.set(e, st);
  }
  return {
    target: s.target, chain: s.chain, watcher: s.watcher, route: s.route, subscription: s.subscription,
    delivered: a.delivered, backfilled: a.backfilled,
    delay: a.delay, delayClamped: a.delayClamped, delayMaxMs: a.delayMaxMs,
    sighting: a.sighting, sightingClamped: a.sightingClamped, sightingMaxMs: a.sightingMaxMs,
    events, lastState,
  };
}

function toProbeSample(r: StoredProbe, s: SeriesKey, dict: Dictionary): ProbeSample {
  const ms = (us: number | null): number | null => (us === null ? null : us / 1000);
  return {
    kind: "probe", ts: r.ts, target: s.target, chain: s.chain, route: s.route, method: s.method,
    outcome: r.ok ? "ok" : "error",
    errorClass: name(dict, r.errorClass) as ErrorClass | null,
    errorDetail: r.errorDetail,
    latencyMs: r.latencyUs / 1000,
    ...parseServedBy(name(dict, r.provider)),
    retries: r.retries,
    circuitState: name(dict, r.circuit),
    upstreamLatencyMs: ms(r.upstreamUs),
    lassoOverheadMs: ms(r.overheadUs),
    blockHeight: r.block,
    headLagBlocks: r.lag,
    headRegression: r.regression,
    failedAssertions: r.assertions.map((id) => name(dict, id) ?? `#${id}`),
    correct: r.correct,
  };
}
