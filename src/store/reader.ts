import type { ConsistencySample, ErrorClass, ProbeSample } from "../samples.js";
import { decodeHashes } from "./consistency.js";
import { loadDictionary, SERIES_CONSISTENCY, SERIES_PROBE, type Dictionary, type SeriesKey } from "./intern.js";
import { bucketOfKey, rowKey, seriesOfKey } from "./keys.js";
import { LatencyCounts } from "./latency.js";
import { decodeStaged, unpackRecords, type StoredProbe } from "./record.js";
import { addSample, mergeEncoded, newAgg, type Agg } from "./rollup.js";
import { openDatabase, type Db } from "./schema.js";
import { planRead, type ReadPlan } from "./segments.js";
import { MINUTE_MS } from "./time.js";

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
  ok: number;
  /** error class -> count; "unknown" when a failed sample carried no class. */
  errors: Map<string, number>;
  /** provider id -> count; null when routing metadata named no provider. */
  providers: Map<string | null, number>;
  /** Latency of successful requests. */
  latency: LatencyCounts;
  overhead: { count: number; sumMs: number; maxMs: number };
  /** head lag in blocks -> number of samples */
  headLag: Map<number, number>;
  regressions: number;
  retriesTotal: number;
  retriedRequests: number;
}

export interface ConsistencyAggregate {
  target: string;
  chain: string;
  checks: number;
  mismatches: number;
}

export interface AggregateResult {
  plan: ReadPlan;
  series: SeriesAggregate[];
  consistency: ConsistencyAggregate[];
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

/**
 * Queries over the store. Works on the writer's connection or on its own read-only one
 * (StoreReader.open), which is what the report worker uses: WAL lets it read while the
 * daemon writes.
 */
export class StoreReader {
  constructor(private readonly db: Db) {}

  static open(path: string): StoreReader {
    return new StoreReader(openDatabase(path, { readonly: true }));
  }

  close(): void {
    this.db.close();
  }

  meta(key: string): number | null {
    const row = this.db.prepare("SELECT value FROM meta WHERE key = ?").get(key) as { value: number } | undefined;
    return row?.value ?? null;
  }

  /**
   * Merged rollups per series (and consistency counts per scope) for a report range, plus
   * the staged samples of that range not yet folded into rollups. Everything is read in
   * one read transaction: a sample stays in staging until the transaction that folds it
   * into rollups deletes it, so in one snapshot every sample is counted exactly once.
   */
  aggregate(range: TimeRange): AggregateResult {
    return this.db.transaction(() => this.aggregateInSnapshot(range))();
  }

  private aggregateInSnapshot(range: TimeRange): AggregateResult {
    const dict = loadDictionary(this.db);
    const plan = planRead(range.since, range.until, {
      hour: this.meta("hour_horizon") ?? 0,
      minute: this.meta("minute_horizon") ?? 0,
    });
    const wanted = (id: number, kind: number): boolean => {
      const s = dict.series.get(id);
      return s !== undefined && s.kind === kind && (range.chain === undefined || s.chain === range.chain);
    };
    const accs = new Map<number, Agg<LatencyCounts>>();
    const accFor = (series: number): Agg<LatencyCounts> => {
      let a = accs.get(series);
      if (!a) accs.set(series, (a = newAgg(new LatencyCounts())));
      return a;
    };
    const cons = new Map<number, { checks: number; mismatches: number }>();

    const tables = { day: ["rollup_d", "cons_d"], hour: ["rollup_h", "cons_h"], minute: ["rollup_m", "cons_m"] } as const;
    for (const level of ["day", "hour", "minute"] as const) {
      const [rollup, consTable] = tables[level];
      const rows = this.db.prepare<[number, number], RollupRow>(
        `SELECT key, n, ok, data FROM ${rollup} WHERE key >= ? AND key < ?`,
      );
      const consRows = this.db.prepare<[number, number], ConsRow>(
        `SELECT key, checks, mismatches FROM ${consTable} WHERE key >= ? AND key < ?`,
      );
      for (const [a, b] of plan[level]) {
        for (const r of rows.iterate(rowKey(a, 0), rowKey(b, 0))) {
          const series = seriesOfKey(r.key);
          if (wanted(series, SERIES_PROBE)) mergeEncoded(accFor(series), r.n, r.ok, r.data);
        }
        for (const r of consRows.iterate(rowKey(a, 0), rowKey(b, 0))) {
          const scope = seriesOfKey(r.key);
          if (!wanted(scope, SERIES_CONSISTENCY)) continue;
          const c = cons.get(scope) ?? { checks: 0, mismatches: 0 };
          c.checks += r.checks;
          c.mismatches += r.mismatches;
          cons.set(scope, c);
        }
      }
    }
    if (plan.from !== null && plan.to !== null) {
      const staged = this.db.prepare<[number, number], { series: number; ts: number; rec: Buffer }>(
        "SELECT series, ts, rec FROM staging WHERE ts >= ? AND ts < ?",
      );
      for (const r of staged.iterate(plan.from, plan.to)) {
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
    return { plan, series, consistency };
  }

  /** Raw probe samples with since <= ts < until, oldest first (tests and debugging). */
  probeSamples(range: TimeRange): ProbeSample[] {
    const dict = loadDictionary(this.db);
    const records: StoredProbe[] = [];
    const inRange = (ts: number): boolean => ts >= range.since && ts < range.until;
    const packed = this.db
      .prepare<[number, number], { key: number; data: Buffer }>("SELECT key, data FROM raw WHERE key >= ? AND key < ?")
      .all(rowKey(Math.floor(range.since / MINUTE_MS), 0), rowKey(Math.ceil(range.until / MINUTE_MS), 0));
    for (const row of packed) {
      const start = bucketOfKey(row.key) * MINUTE_MS;
      for (const r of unpackRecords(row.data, seriesOfKey(row.key), start)) if (inRange(r.ts)) records.push(r);
    }
    const staged = this.db
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
    const dict = loadDictionary(this.db);
    const rows = this.db
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
    for (const t of ["staging", "raw", "rollup_m", "rollup_h", "rollup_d", "consistency", "cons_m", "cons_h", "cons_d", "series", "names"]) {
      out[t] = (this.db.prepare(`SELECT count(*) AS n FROM ${t}`).get() as { n: number }).n;
    }
    return out;
  }
}

function name(dict: Dictionary, id: number): string | null {
  return id === 0 ? null : (dict.names.get(id) ?? `#${id}`);
}

function resolve(s: SeriesKey, a: Agg<LatencyCounts>, dict: Dictionary): SeriesAggregate {
  const errors = new Map<string, number>();
  for (const [id, c] of a.errors) {
    const k = name(dict, id) ?? "unknown";
    errors.set(k, (errors.get(k) ?? 0) + c);
  }
  const providers = new Map<string | null, number>();
  for (const [id, c] of a.providers) {
    const k = name(dict, id);
    providers.set(k, (providers.get(k) ?? 0) + c);
  }
  return {
    target: s.target, chain: s.chain, route: s.route, method: s.method,
    requests: a.n, ok: a.ok, errors, providers, latency: a.latency,
    overhead: { count: a.overheadCount, sumMs: a.overheadSumUs / 1000, maxMs: a.overheadMaxUs / 1000 },
    headLag: a.lag, regressions: a.regressions, retriesTotal: a.retriesTotal, retriedRequests: a.retriedRequests,
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
    provider: name(dict, r.provider),
    retries: r.retries,
    circuitState: name(dict, r.circuit),
    upstreamLatencyMs: ms(r.upstreamUs),
    lassoOverheadMs: ms(r.overheadUs),
    blockHeight: r.block,
    headLagBlocks: r.lag,
    headRegression: r.regression,
    failedAssertions: r.assertions.map((id) => name(dict, id) ?? `#${id}`),
  };
}
