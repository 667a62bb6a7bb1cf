import Database from "better-sqlite3";
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import type { ConsistencySample, ContinuitySample, ErrorClass, ProbeSample } from "../src/samples.js";
import { RollupWriter } from "../src/store/compact.js";
import type { EventStats } from "../src/store/continuity.js";
import { clampUs, LatencyCounts, latencyIndex } from "../src/store/latency.js";
import { encodeStaged, toStored } from "../src/store/record.js";
import { addSample, encodeAgg, mergeEncoded, newAgg, SparseCounts } from "../src/store/rollup.js";
import { MIGRATIONS, SCHEMA_VERSION, SchemaVersionError, migrate } from "../src/store/schema.js";
import { planRead } from "../src/store/segments.js";
import { SampleStore } from "../src/store/store.js";
import { StoreReader, type AggregateResult, type ContinuityAggregate, type TimeRange } from "../src/store/reader.js";
import type { StoreLogger } from "../src/store/options.js";
import { DAY, HOUR, MIN, T0, continuitySample, probeSample, rng, tempDbPaths } from "./helpers/storeFixtures.js";
import { waitFor } from "./helpers/waitFor.js";

const newPath = tempDbPaths("lasso-canary-store-test-");
const probe = probeSample;

function consistency(ts: number, agree: boolean): ConsistencySample {
  return {
    kind: "consistency", ts, target: "lb", chain: "ethereum", blockNumber: 20_999_936,
    hashes: { alchemy: "0xaa", infura: agree ? "0xaa" : "0xbb", drpc: null }, agree,
  };
}

class Clock {
  constructor(public t: number) {}
  readonly now = (): number => this.t;
}

function open(path: string, clock: Clock, extra: Partial<ConstructorParameters<typeof SampleStore>[0]> = {}): SampleStore {
  return new SampleStore({ path, now: clock.now, flushIntervalMs: 0, ...extra });
}

function tableNames(path: string): string[] {
  const db = new Database(path, { readonly: true });
  const rows = db.prepare("SELECT name FROM sqlite_schema WHERE type = 'table' ORDER BY name").all() as { name: string }[];
  db.close();
  return rows.map((r) => r.name);
}

describe("schema migrations", () => {
  test("a fresh file is created at the current version with WAL", () => {
    const path = newPath();
    const store = open(path, new Clock(T0));
    store.close();
    const db = new Database(path, { readonly: true });
    assert.equal(db.pragma("user_version", { simple: true }), SCHEMA_VERSION);
    assert.equal(db.pragma("journal_mode", { simple: true }), "wal");
    db.close();
    for (const t of ["raw", "rollup_m", "rollup_h", "rollup_d", "staging", "series", "names", "consistency"]) {
      assert.ok(tableNames(path).includes(t), `missing table ${t}`);
    }
  });

  test("an existing file keeps its data, gets only the new migrations, and a newer file is refused", () => {
    const path = newPath();
    const clock = new Clock(T0 + 10 * MIN);
    const store = open(path, clock);
    store.accept(probe(T0));
    assert.equal(store.flush(), true, "the queued samples are written");
    store.close();

    const db = new Database(path);
    assert.deepEqual(migrate(db), { from: SCHEMA_VERSION, to: SCHEMA_VERSION }, "nothing to do at the current version");
    let ran = 0;
    const next = {
      version: SCHEMA_VERSION + 1,
      description: "test: one more table",
      up: (d: Database.Database) => {
        ran++;
        d.exec("CREATE TABLE extra (x INTEGER)");
      },
    };
    assert.deepEqual(migrate(db, [...MIGRATIONS, next]), { from: SCHEMA_VERSION, to: SCHEMA_VERSION + 1 });
    assert.deepEqual(migrate(db, [...MIGRATIONS, next]), { from: SCHEMA_VERSION + 1, to: SCHEMA_VERSION + 1 });
    assert.equal(ran, 1, "a migration runs once");
    assert.equal((db.prepare("SELECT count(*) AS n FROM raw").get() as { n: number }).n, 1, "data survived");
    db.close();

    assert.throws(() => open(path, clock), (err: unknown) => {
      assert.ok(err instanceof SchemaVersionError, `a SchemaVersionError, got ${String(err)}`);
      assert.match(err.message, /newer than this lasso-canary supports/);
      return true;
    });
    assert.throws(() => StoreReader.open(path), SchemaVersionError);
  });

  test("a failing migration leaves the version where it was", () => {
    const db = new Database(newPath());
    migrate(db);
    const broken = { version: SCHEMA_VERSION + 1, description: "broken", up: (d: Database.Database) => d.exec("CREATE TABLE nope (") };
    assert.throws(() => migrate(db, [...MIGRATIONS, broken]));
    assert.equal(db.pragma("user_version", { simple: true }), SCHEMA_VERSION);
    db.close();
  });
});

describe("batched writer", () => {
  test("accept() only queues; flush() writes every field back exactly", () => {
    const clock = new Clock(T0 + 30_000);
    const store = open(newPath(), clock);
    const samples = [
      probe(T0 + 1000),
      probe(T0 + 2000, {
        outcome: "error", errorClass: "http_502", errorDetail: "bad gateway from upstream", latencyMs: 1503.27,
        provider: null, retries: 2, circuitState: null, upstreamLatencyMs: null, lassoOverheadMs: null,
        blockHeight: null, headLagBlocks: null, failedAssertions: ["chainId", "monotonic"],
      }),
      probe(T0 + 3000, { route: "pin:infura", provider: "infura", headLagBlocks: 3, headRegression: true, blockHeight: 20_999_990, lassoOverheadMs: -0.5 }),
      probe(T0 + 4000, { provider: "infura", transport: "ws" }),
      probe(T0 + 5000, { provider: "infura", transport: "http" }),
      probe(T0 + 6000, { provider: null, transport: "ws" }),
      probe(T0 + 7000, { outcome: "error", errorClass: "plan_mismatch", provider: null }),
      // Well-formed answers: wrong (and stale), not judged (stale), judged right.
      probe(T0 + 8000, { correct: false, failedAssertions: ["chainId", "freshness"], errorDetail: "failed: chainId, freshness" }),
      probe(T0 + 9000, { correct: null, failedAssertions: ["freshness"] }),
      probe(T0 + 10_000, { correct: true }),
    ];
    for (const s of samples) store.accept(s);
    const reader = store.reader();
    const range = { since: T0, until: T0 + HOUR };
    assert.equal(reader.probeSamples(range).length, 0, "nothing written before flush");
    assert.equal(store.stats().queued, samples.length);
    assert.equal(store.flush(), true, "the queued samples are written");
    assert.deepEqual(reader.probeSamples(range), samples);
    assert.equal(store.stats().written, samples.length);
    assert.equal(store.stats().queued, 0);
    store.close();
  });

  test("a rollup blob written before correctness was counted reads as nothing judged; a current one keeps its counts", () => {
    const ids = { series: 1, errorClass: 0, provider: 0, circuit: 0, assertions: [7] };
    const wrong = newAgg(new SparseCounts(), new SparseCounts());
    addSample(wrong, toStored(probe(T0, { correct: false, failedAssertions: ["chainId"] }), ids));
    const current = newAgg(new LatencyCounts(), new LatencyCounts());
    mergeEncoded(current, 1, 1, encodeAgg(wrong));
    assert.deepEqual([current.judged, current.incorrect, [...current.failedAssertions], current.latency.total], [1, 1, [[7, 1]], 1]);

    const unjudged = newAgg(new SparseCounts(), new SparseCounts());
    addSample(unjudged, toStored(probe(T0, { correct: null, lassoOverheadMs: null }), { ...ids, assertions: [] }));
    const blob = encodeAgg(unjudged);
    // The earlier layout is this blob without its last four fields: judged 0, incorrect 0, no assertion counts, an empty overhead histogram.
    assert.deepEqual([...blob.subarray(blob.length - 4)], [0, 0, 0, 0]);
    const earlier = newAgg(new LatencyCounts(), new LatencyCounts());
    mergeEncoded(earlier, 1, 1, blob.subarray(0, blob.length - 4));
    assert.deepEqual([earlier.n, earlier.ok, earlier.latency.total, earlier.retriedRequests, earlier.judged, earlier.incorrect, earlier.failedAssertions.size],
      [1, 1, 1, 0, 0, 0, 0]);
  });

  test("a rollup blob written before the overhead histogram keeps its overhead count and adds no bucket; a current one keeps its buckets", () => {
    const ids = { series: 1, errorClass: 0, provider: 0, circuit: 0, assertions: [] };
    const agg = newAgg(new SparseCounts(), new SparseCounts());
    for (const ms of [1.25, 1.25, 40]) addSample(agg, toStored(probe(T0, { lassoOverheadMs: ms }), ids));
    const blob = encodeAgg(agg);
    const current = newAgg(new LatencyCounts(), new LatencyCounts());
    mergeEncoded(current, 3, 3, blob);
    assert.deepEqual([current.overheadCount, current.overheadLatency.total], [3, 3]);
    const [p50 = null, max = null] = current.overheadLatency.percentilesMs([50, 100]);
    assert.ok(p50 !== null && Math.abs(p50 - 1.25) <= 1.25 * 0.01, `overhead p50 ${p50} within 1% of 1.25 ms`);
    assert.ok(max !== null && Math.abs(max - 40) <= 40 * 0.01, `overhead max ${max} within 1% of 40 ms`);

    const without = newAgg(new SparseCounts(), new SparseCounts());
    for (const ms of [1.25, 1.25, 40]) addSample(without, toStored(probe(T0, { lassoOverheadMs: ms }), ids));
    without.overheadLatency.map.clear();
    const cut = encodeAgg(without);
    // An empty histogram is one byte (0): the layout before it is the blob without that byte.
    assert.equal(cut.at(-1), 0);
    const earlier = newAgg(new LatencyCounts(), new LatencyCounts());
    mergeEncoded(earlier, 3, 3, cut.subarray(0, cut.length - 1));
    assert.deepEqual([earlier.overheadCount, earlier.overheadSumUs, earlier.overheadLatency.total, earlier.latency.total], [3, 42_500, 0, 3]);
  });

  test("compacted overhead: hour and day rows keep its histogram, minute rows only its count and sum", () => {
    const path = newPath();
    const clock = new Clock(T0);
    const store = open(path, clock);
    for (const [i, ms] of [1.25, 3, 40].entries()) store.accept(probe(T0 + i * 1000, { lassoOverheadMs: ms }));
    assert.equal(store.flush(), true, "written");
    clock.t = T0 + 10 * MIN;
    store.compact();
    store.close();
    const db = new Database(path, { readonly: true });
    const decoded = (table: string): [number, number] => {
      const row = db.prepare(`SELECT n, ok, data FROM ${table}`).get() as { n: number; ok: number; data: Buffer };
      const a = newAgg(new LatencyCounts(), new LatencyCounts());
      mergeEncoded(a, row.n, row.ok, row.data);
      return [a.overheadCount, a.overheadLatency.total];
    };
    try {
      assert.deepEqual(decoded("rollup_m"), [3, 0], "minute row: count, no histogram");
      assert.deepEqual(decoded("rollup_h"), [3, 3], "hour row: count and histogram");
      assert.deepEqual(decoded("rollup_d"), [3, 3], "day row: count and histogram");
    } finally {
      db.close();
    }
  });

  test("a full batch is written on the next turn, and the timer writes a partial one", async () => {
    const clock = new Clock(T0);
    const byCount = open(newPath(), clock, { batchSize: 10 });
    for (let i = 0; i < 10; i++) byCount.accept(probe(T0 + i));
    assert.equal(byCount.stats().written, 0, "accept never writes synchronously");
    await waitFor(() => byCount.stats().written === 10, { timeoutMs: 2000, message: "batch of 10 written" });
    byCount.close();

    const byTimer = open(newPath(), clock, { flushIntervalMs: 20, batchSize: 1000 });
    byTimer.accept(probe(T0));
    await waitFor(() => byTimer.stats().written === 1, { timeoutMs: 2000, message: "timer flush" });
    byTimer.close();
  });

  test("a compaction backlog drains one slice per event-loop turn, not one per tick", async () => {
    const clock = new Clock(T0);
    // The timer never fires within the test: only the backlog's own turns can compact more than one slice.
    const store = open(newPath(), clock, { flushIntervalMs: 3_600_000, batchSize: 10, maxCompactRows: 50 });
    for (let i = 0; i < 500; i++) store.accept(probe(T0 + i * 10));
    await waitFor(() => store.stats().written === 500, { timeoutMs: 5000, message: "all 500 staged" });
    clock.t = T0 + 10 * MIN;
    for (let i = 0; i < 10; i++) store.accept(probe(clock.t + i));
    await waitFor(() => store.stats().compacted === 500, { timeoutMs: 5000, message: "the 500 samples of the closed minutes compacted" });
    store.close();
  });

  test("every write transaction, and every compaction that folds rows, is told with its duration", () => {
    const clock = new Clock(T0 + 30_000);
    const told: Array<[string, number]> = [];
    const store = open(newPath(), clock, { maxBatchRows: 50, onTransaction: (phase, ms) => told.push([phase, ms]) });
    for (let i = 0; i < 120; i++) store.accept(probe(T0 + i * 5000));
    store.flush();
    assert.equal(store.compact(), 0, "no minute is closed yet");
    clock.t = T0 + 10 * MIN + 90_000;
    assert.equal(store.compact(), 120);
    assert.equal(store.compact(), 0);
    store.close();
    assert.deepEqual(told.map(([phase]) => phase), ["write", "write", "write", "compact"], "120 samples in batches of 50, then one compaction");
    for (const [phase, ms] of told) assert.ok(Number.isFinite(ms) && ms >= 0, `${phase} duration ${ms} ms`);
  });

  test("compaction packs closed minutes; raw samples read back the same", () => {
    const clock = new Clock(T0 + 30_000);
    const path = newPath();
    const store = open(path, clock);
    const samples: ProbeSample[] = [];
    for (let i = 0; i < 120; i++) {
      samples.push(probe(T0 + i * 5000 + (i % 3), {
        latencyMs: 20 + (i % 17) + 0.01 * i, blockHeight: 21_000_000 + Math.floor(i / 2), correct: [true, false, null][i % 3] ?? null,
      }));
    }
    for (const s of samples) store.accept(s);
    store.flush();
    assert.equal(store.compact(), 0, "no minute is closed yet");
    clock.t = T0 + 10 * MIN + 90_000;
    assert.equal(store.compact(), 120);
    const reader = store.reader();
    const counts = reader.rowCounts();
    assert.equal(counts["staging"], 0);
    assert.equal(counts["raw"], 10, "one packed row per series-minute");
    assert.equal(counts["rollup_m"], 10);
    assert.equal(counts["rollup_h"], 1);
    assert.equal(counts["rollup_d"], 1);
    assert.deepEqual(reader.probeSamples({ since: T0, until: T0 + HOUR }), samples);
    assert.equal(reader.probeSamples({ since: T0 + MIN, until: T0 + 2 * MIN }).length, 12, "range filter on ts");
    store.close();
  });

  test("reopening keeps history and a restart mid-minute does not double count", () => {
    const path = newPath();
    const clock = new Clock(T0 + 30_000);
    const a = open(path, clock);
    for (let i = 0; i < 5; i++) a.accept(probe(T0 + i * 5000));
    a.close(); // minute T0 is still open: its samples stay staged

    const b = open(path, clock);
    for (let i = 5; i < 10; i++) b.accept(probe(T0 + i * 5000));
    b.flush();
    const minuteRange = { since: T0, until: T0 + MIN };
    const hourRange = { since: T0, until: T0 + HOUR };
    const dayRange = { since: T0, until: T0 + DAY };
    assert.equal(b.reader().aggregate(hourRange).series[0]?.requests, 10, "staged samples count before compaction");
    clock.t = T0 + 5 * MIN;
    assert.equal(b.compact(), 10);
    assert.equal(b.compact(), 0, "compaction is idempotent");
    for (const r of [minuteRange, hourRange, dayRange]) {
      assert.equal(b.reader().aggregate(r).series[0]?.requests, 10, `requests over ${r.until - r.since} ms`);
    }
    // A late sample for the already compacted minute adds to it.
    b.accept(probe(T0 + 59_000, { outcome: "error", errorClass: "timeout" }));
    b.close(); // closes with compaction of closed minutes

    const c = open(path, clock);
    assert.equal(c.compact(), 0);
    const reader = c.reader();
    for (const r of [minuteRange, hourRange, dayRange]) {
      const s = reader.aggregate(r).series[0];
      assert.equal(s?.requests, 11);
      assert.equal(s?.ok, 10);
      assert.equal(s?.latency.total, 10, "histogram counts ok requests once");
    }
    assert.equal(reader.probeSamples(hourRange).length, 11);
    assert.equal(reader.rowCounts()["raw"], 1, "the late sample joined the existing packed row");
    c.close();
  });

  test("consistency samples are stored raw and counted per chain", () => {
    const clock = new Clock(T0 + 5 * MIN);
    const store = open(newPath(), clock);
    const samples = [consistency(T0, true), consistency(T0 + MIN, false), consistency(T0 + 2 * MIN, true)];
    for (const s of samples) store.accept(s);
    store.flush();
    const reader = store.reader();
    assert.deepEqual(reader.consistencySamples({ since: T0, until: T0 + HOUR }), samples);
    assert.deepEqual(reader.aggregate({ since: T0, until: T0 + HOUR }).consistency, [
      { target: "lb", chain: "ethereum", checks: 3, mismatches: 1 },
    ]);
    assert.deepEqual(reader.aggregate({ since: T0 + MIN, until: T0 + 2 * MIN }).consistency, [
      { target: "lb", chain: "ethereum", checks: 1, mismatches: 1 },
    ]);
    store.close();
  });

  test("malformed samples are rejected alone", () => {
    const store = open(newPath(), new Clock(T0));
    store.accept(probe(Number.NaN));
    store.accept(probe(T0));
    assert.equal(store.flush(), true, "the queued samples are written");
    assert.equal(store.stats().rejected, 1);
    assert.equal(store.stats().written, 1);
    store.close();
  });
});

describe("database failures", () => {
  test("a locked database does not throw into the producer; the queue is capped; writes resume", () => {
    const path = newPath();
    const clock = new Clock(T0 + 30_000);
    const logged: { level: string; msg: string | undefined }[] = [];
    const logger: StoreLogger = {
      info: (_o, msg) => logged.push({ level: "info", msg }),
      warn: (_o, msg) => logged.push({ level: "warn", msg }),
      error: (_o, msg) => logged.push({ level: "error", msg }),
    };
    const store = open(path, clock, { maxQueue: 20, busyTimeoutMs: 0, logger });
    store.accept(probe(T0)); // interns the series while the file is writable
    assert.equal(store.flush(), true, "the queued samples are written");

    const other = new Database(path);
    other.exec("BEGIN IMMEDIATE"); // another writer holds the lock: our writes fail with SQLITE_BUSY
    for (let i = 1; i <= 10; i++) assert.doesNotThrow(() => store.accept(probe(T0 + i * 1000)));
    assert.equal(store.flush(), false);
    assert.ok(store.stats().writeErrors >= 1, `write errors counted: ${store.stats().writeErrors}`);
    assert.equal(store.stats().queued, 10, "failed batch stays queued");
    assert.ok(logged.some((l) => l.level === "error"), "failure logged");

    for (let i = 11; i <= 35; i++) assert.doesNotThrow(() => store.accept(probe(T0 + i * 1000)));
    assert.equal(store.stats().queued, 20);
    assert.equal(store.stats().dropped, 15, "oldest beyond the cap are dropped");
    assert.ok(logged.some((l) => l.level === "warn"), "drops logged");
    assert.equal(store.flush(), false, "still locked");

    other.exec("COMMIT");
    other.close();
    assert.equal(store.flush(), true);
    assert.ok(logged.some((l) => l.level === "info" && /recovered/.test(l.msg ?? "")), `recovery logged at info: ${JSON.stringify(logged)}`);
    const ts = store.reader().probeSamples({ since: T0, until: T0 + HOUR }).map((s) => s.ts);
    const expected = [T0, ...Array.from({ length: 20 }, (_, i) => T0 + (16 + i) * 1000)];
    assert.deepEqual(ts, expected, "the first sample plus the newest 20 survived");
    assert.equal(store.stats().written, 21);
    store.close();
  });

  test("a transaction that fails after interning a new name does not leave stale ids behind", () => {
    const path = newPath();
    const store = open(path, new Clock(T0 + 30_000));
    store.accept(probe(T0));
    assert.equal(store.flush(), true, "the queued samples are written");
    // Injected fault: a trigger (added by the test, not the product) aborts staging inserts,
    // after the new series and provider names have been inserted in the same transaction.
    const other = new Database(path);
    other.exec("INSERT INTO meta (key, value) VALUES ('fail', 1)");
    other.exec(`CREATE TRIGGER inject_fault BEFORE INSERT ON staging
      WHEN (SELECT value FROM meta WHERE key = 'fail') = 1 BEGIN SELECT RAISE(ABORT, 'injected fault'); END`);
    const fresh = probe(T0 + 1000, { route: "pin:newprovider", provider: "newprovider", circuitState: "half_open" });
    store.accept(fresh);
    assert.equal(store.flush(), false);
    other.exec("DELETE FROM meta WHERE key = 'fail'");
    const other2 = probe(T0 + 2000, { route: "pin:another", provider: "another" });
    store.accept(other2);
    assert.equal(store.flush(), true);
    other.close();
    assert.deepEqual(store.reader().probeSamples({ since: T0, until: T0 + HOUR }), [probe(T0), fresh, other2]);
    store.close();
  });

  test("samples offered after close are counted as dropped, not thrown", () => {
    const store = open(newPath(), new Clock(T0));
    store.close();
    assert.doesNotThrow(() => store.accept(probe(T0)));
    assert.equal(store.stats().dropped, 1);
  });
});

describe("retention", () => {
  test("prunes raw, minute, hour and day rows by their own retention, in bounded steps", () => {
    const now = T0 + 200 * DAY + 12 * HOUR;
    const clock = new Clock(now);
    const store = open(newPath(), clock, { pruneBatchRows: 7 });
    const ages = [0.5, 3, 8, 20, 100];
    for (const age of ages) {
      const start = Math.floor((now - age * DAY) / HOUR) * HOUR;
      for (let m = 0; m < 20; m++) store.accept(probe(start + m * MIN + 1000));
      store.accept(consistency(start, true));
    }
    store.flush();
    assert.equal(store.compact(), 100);
    const reader = store.reader();
    assert.equal(reader.rowCounts()["raw"], 100);

    const steps: number[] = [];
    for (let n = store.pruneStep(); n > 0; n = store.pruneStep()) steps.push(n);
    assert.ok(steps.length > 5, `pruning took several steps (${steps.length})`);
    assert.ok(steps.every((n) => n <= 7), `every step bounded: ${steps.join(",")}`);

    const counts = reader.rowCounts();
    assert.equal(counts["raw"], 40, "raw kept 7 days: ages 0.5 and 3");
    assert.equal(counts["consistency"], 2);
    assert.equal(counts["rollup_m"], 60, "minute rollups kept 14 days: ages 0.5, 3, 8");
    assert.equal(counts["rollup_h"], 4, "hour rollups kept 90 days: ages 0.5, 3, 8, 20");
    assert.equal(counts["cons_h"], 4);
    const all = { since: now - 365 * DAY, until: now };
    assert.equal(reader.probeSamples(all).length, 40);
    assert.equal(reader.aggregate(all).series[0]?.requests, 80, "the 100-day-old hour is gone from every level");
    assert.equal(store.pruneStep(), 0);
    store.close();
  });
});

/** What aggregate() must report for one series, computed straight from the generated samples. */
interface Summary {
  requests: number;
  ok: number;
  errors: [string, number][];
  providers: [string | null, number][];
  /** Non-empty latency histogram buckets: [index, count]. */
  latency: [number, number][];
  overhead: { count: number; sumUs: number; maxUs: number | null };
  headLag: [number, number][];
  regressions: number;
  retriesTotal: number;
  retriedRequests: number;
  judged: number;
  incorrect: number;
  failedAssertions: [string, number][];
}

const seriesName = (s: { chain: string; route: string; method: string }): string => `${s.chain} ${s.route} ${s.method}`;
const sorted = <K>(m: Map<K, number>): [K, number][] => [...m].sort((a, b) => String(a[0]).localeCompare(String(b[0])));
const us = (ms: number): number => Math.round((ms * 1000) / 10) * 10;

function expectedSeries(samples: readonly ProbeSample[], r: TimeRange): Map<string, Summary> {
  const acc = new Map<string, { s: Summary; errors: Map<string, number>; providers: Map<string | null, number>;
    latency: Map<number, number>; lag: Map<number, number>; failed: Map<string, number> }>();
  const bump = <K>(m: Map<K, number>, k: K): void => void m.set(k, (m.get(k) ?? 0) + 1);
  for (const p of samples) {
    if (p.ts < r.since || p.ts >= r.until || (r.chain !== undefined && p.chain !== r.chain)) continue;
    const key = seriesName(p);
    let a = acc.get(key);
    if (!a) {
      a = {
        s: { requests: 0, ok: 0, errors: [], providers: [], latency: [], overhead: { count: 0, sumUs: 0, maxUs: null },
          headLag: [], regressions: 0, retriesTotal: 0, retriedRequests: 0, judged: 0, incorrect: 0, failedAssertions: [] },
        errors: new Map(), providers: new Map(), latency: new Map(), lag: new Map(), failed: new Map(),
      };
      acc.set(key, a);
    }
    a.s.requests++;
    if (p.outcome === "ok") {
      a.s.ok++;
      bump(a.latency, latencyIndex(clampUs(us(p.latencyMs))));
    } else {
      bump(a.errors, p.errorClass ?? "unknown");
    }
    bump(a.providers, p.provider);
    if (p.lassoOverheadMs !== null) {
      const o = us(p.lassoOverheadMs);
      a.s.overhead.count++;
      a.s.overhead.sumUs += o;
      a.s.overhead.maxUs = Math.max(a.s.overhead.maxUs ?? -Infinity, o);
    }
    if (p.headLagBlocks !== null) bump(a.lag, p.headLagBlocks);
    if (p.headRegression) a.s.regressions++;
    if ((p.retries ?? 0) > 0) {
      a.s.retriesTotal += p.retries ?? 0;
      a.s.retriedRequests++;
    }
    if (p.outcome === "ok" && p.correct !== null) {
      a.s.judged++;
      if (!p.correct) a.s.incorrect++;
    }
    for (const name of p.failedAssertions) bump(a.failed, name);
  }
  const out = new Map<string, Summary>();
  for (const [k, a] of acc) {
    out.set(k, { ...a.s, errors: sorted(a.errors), providers: sorted(a.providers),
      latency: [...a.latency].sort((x, y) => x[0] - y[0]), headLag: sorted(a.lag), failedAssertions: sorted(a.failed) });
  }
  return out;
}

function actualSeries(agg: AggregateResult): Map<string, Summary> {
  const out = new Map<string, Summary>();
  for (const s of agg.series) {
    const latency = s.latency.entries();
    assert.equal(s.latency.total, s.ok, `${seriesName(s)}: histogram total`);
    out.set(seriesName(s), {
      requests: s.requests, ok: s.ok, errors: sorted(s.errors), providers: sorted(s.providers), latency,
      overhead: { count: s.overhead.count, sumUs: Math.round(s.overhead.sumMs * 1000),
        maxUs: s.overhead.count === 0 ? null : Math.round(s.overhead.maxMs * 1000) },
      headLag: sorted(s.headLag), regressions: s.regressions, retriesTotal: s.retriesTotal,
      retriedRequests: s.retriedRequests, judged: s.judged, incorrect: s.incorrect, failedAssertions: sorted(s.failedAssertions),
    });
  }
  return out;
}

function expectedChecks(samples: readonly ConsistencySample[], r: TimeRange): Map<string, [number, number]> {
  const out = new Map<string, [number, number]>();
  for (const c of samples) {
    if (c.ts < r.since || c.ts >= r.until || (r.chain !== undefined && c.chain !== r.chain)) continue;
    const v = out.get(c.chain) ?? [0, 0];
    out.set(c.chain, [v[0] + 1, v[1] + (c.agree ? 0 : 1)]);
  }
  return out;
}

const actualChecks = (agg: AggregateResult): Map<string, [number, number]> =>
  new Map(agg.consistency.map((c) => [c.chain, [c.checks, c.mismatches]]));

/** Asserts aggregate(range) equals the brute-force answer over exactly since <= ts < until. */
function assertExact(
  reader: StoreReader, probes: readonly ProbeSample[], checks: readonly ConsistencySample[], r: TimeRange, label: string,
): AggregateResult {
  const agg = reader.aggregate(r);
  const what = `${label}: [${r.since - T0}, ${r.until - T0}) ms after T0${r.chain ? ` on ${r.chain}` : ""}`;
  assert.deepEqual(actualSeries(agg), expectedSeries(probes, r), what);
  assert.deepEqual(actualChecks(agg), expectedChecks(checks, r), `${what} (consistency)`);
  assert.deepEqual([agg.plan.from, agg.plan.to, agg.plan.exactEdges], [r.since, r.until, true], `${what} (coverage)`);
  return agg;
}

/** Four minutes of irregular probes on three series and two chains, plus consistency checks. */
function edgeSamples(seed: number): { probes: ProbeSample[]; checks: ConsistencySample[] } {
  const rand = rng(seed);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)] as T;
  const probes: ProbeSample[] = [];
  const lanes = [
    { chain: "ethereum", method: "eth_blockNumber" }, { chain: "ethereum", method: "eth_call" },
    { chain: "base", method: "eth_blockNumber" },
  ];
  for (const lane of lanes) {
    for (let ts = T0 + Math.floor(rand() * 2000); ts < T0 + 4 * MIN; ts += 1 + Math.floor(rand() * 4000)) {
      const failed = rand() < 0.2;
      // A well-formed answer: judged right, judged wrong, or not judged; stale or not.
      const correct = failed ? null : pick([true, true, false, null]);
      const failedAssertions = [...(correct === false ? [pick(["chainId", "shape:quantity", "monotonicHead"])] : []),
        ...(!failed && rand() < 0.2 ? ["freshness"] : [])];
      probes.push(probe(ts, {
        ...lane,
        correct,
        failedAssertions,
        outcome: failed ? "error" : "ok",
        errorClass: failed ? pick<ErrorClass | null>(["timeout", "http_502", "connect", null]) : null,
        errorDetail: failed ? "no" : null,
        latencyMs: Math.round(1000 + rand() * 90_000) / 100,
        provider: pick(["alpha", "bravo", "charlie", null]),
        retries: pick([null, 0, 0, 1, 2]),
        lassoOverheadMs: rand() < 0.2 ? null : Math.round(50 + rand() * 500) / 100,
        headLagBlocks: rand() < 0.3 ? null : Math.floor(rand() * 5),
        headRegression: rand() < 0.05,
      }));
    }
  }
  probes.sort((a, b) => a.ts - b.ts);
  const checks: ConsistencySample[] = [];
  for (let ts = T0 + 1500; ts < T0 + 4 * MIN; ts += 3000 + Math.floor(rand() * 5000)) {
    const c = consistency(ts, rand() > 0.3);
    checks.push(rand() < 0.5 ? c : { ...c, chain: "base" });
  }
  return { probes, checks };
}

/** Hand-picked edge cases plus random ms-precision ranges over the four minutes. */
function edgeRanges(seed: number): TimeRange[] {
  const rand = rng(seed);
  const ranges: TimeRange[] = [
    { since: T0 + 30_000, until: T0 + 3 * MIN + 20_000 },
    { since: T0 + MIN + 12_345, until: T0 + MIN + 47_891 },
    { since: T0 + MIN + 30_000, until: T0 + 2 * MIN + 30_000 },
    { since: T0 + 2 * MIN, until: T0 + 3 * MIN + 1 },
    { since: T0 + 59_999, until: T0 + 4 * MIN },
    { since: T0 + 45_000, until: T0 + 3 * MIN + 15_000, chain: "base" },
  ];
  for (let i = 0; i < 30; i++) {
    const a = T0 - 5000 + Math.floor(rand() * (4 * MIN + 10_000));
    const b = T0 - 5000 + Math.floor(rand() * (4 * MIN + 10_000));
    if (a !== b) ranges.push({ since: Math.min(a, b), until: Math.max(a, b) });
  }
  return ranges;
}

describe("exact range edges", () => {
  test("a mid-minute range counts exactly the samples with since <= ts < until: staged, partly and fully compacted, late", () => {
    const { probes, checks } = edgeSamples(11);
    const ranges = edgeRanges(12);
    const clock = new Clock(T0 + 4 * MIN);
    const store = open(newPath(), clock);
    for (const s of [...probes, ...checks]) store.accept(s);
    assert.equal(store.flush(), true, "the queued samples are written");
    const reader = store.reader();
    const check = (label: string): void => {
      for (const r of ranges) assertExact(reader, probes, checks, r, label);
    };

    assert.deepEqual([reader.rowCounts()["staging"], reader.rowCounts()["raw"]], [probes.length, 0]);
    check("all staged");

    // Minutes 0 and 1 compacted into raw rows and rollups, 2 and 3 still staged.
    clock.t = T0 + 2 * MIN + 90_000;
    const compacted = store.compact();
    const inFirstTwo = probes.filter((p) => p.ts < T0 + 2 * MIN).length;
    assert.equal(compacted, inFirstTwo);
    assert.deepEqual([reader.rowCounts()["staging"], reader.rowCounts()["raw"]], [probes.length - inFirstTwo, 6]);
    check("partly compacted");

    clock.t = T0 + 10 * MIN;
    store.compact();
    assert.deepEqual([reader.rowCounts()["staging"], reader.rowCounts()["raw"]], [0, 12]);
    check("all compacted");

    // Late samples for an already compacted minute wait in staging next to its raw row.
    const late = [
      probe(T0 + MIN + 5_001, { provider: "late", outcome: "error", errorClass: "timeout" }),
      probe(T0 + MIN + 40_001, { provider: "late", latencyMs: 4321.09 }),
    ];
    for (const s of late) store.accept(s);
    assert.equal(store.flush(), true, "the queued samples are written");
    probes.push(...late);
    assert.equal(reader.rowCounts()["staging"], 2);
    check("compacted minute plus late staged samples");
    const lateRange = { since: T0 + MIN + 20_000, until: T0 + MIN + 50_000 };
    assertExact(reader, probes, checks, lateRange, "late");
    store.compact();
    assert.equal(reader.rowCounts()["staging"], 0);
    check("late samples compacted");
    store.close();
  });

  test("a range that starts after the last sample of its minute is empty, until a new sample arrives", () => {
    const clock = new Clock(T0 + 30_000);
    const store = open(newPath(), clock);
    for (let i = 0; i < 8; i++) store.accept(probe(T0 + i * 3000, { provider: "bravo" }));
    assert.equal(store.flush(), true, "the queued samples are written");
    const since = T0 + 25_000;
    const reader = store.reader();
    assert.deepEqual(reader.aggregate({ since, until: T0 + 30_000 }).series, [], "8 older samples of the same minute are not 'since'");
    store.accept(probe(T0 + 27_000, { provider: "alpha" }));
    assert.equal(store.flush(), true, "the queued samples are written");
    const s = reader.aggregate({ since, until: T0 + 30_000 }).series[0];
    assert.deepEqual([s?.requests, [...(s?.providers ?? [])]], [1, [["alpha", 1]]]);
    clock.t = T0 + 5 * MIN;
    store.compact();
    const c = reader.aggregate({ since, until: T0 + 30_000 }).series[0];
    assert.deepEqual([c?.requests, [...(c?.providers ?? [])]], [1, [["alpha", 1]]], "same once compacted");
    store.close();
  });

  test("an edge past raw retention falls back to its whole minute rollup, and the plan says so", () => {
    const now = T0 + 10 * DAY + 12 * HOUR;
    const clock = new Clock(now);
    const store = open(newPath(), clock);
    const oldMinute = T0 + DAY + 5 * HOUR + 3 * MIN; // 9.3 days old: raw pruned, minute rollups kept
    const recentMinute = now - HOUR + 7 * MIN;
    const probes: ProbeSample[] = [];
    const checks: ConsistencySample[] = [];
    for (const m of [oldMinute, recentMinute]) {
      for (let i = 0; i < 12; i++) probes.push(probe(m + i * 5000 + 1, { provider: i < 6 ? "early" : "late" }));
      checks.push(consistency(m + 10_000, false), consistency(m + 40_000, true));
    }
    for (const s of [...probes, ...checks]) store.accept(s);
    assert.equal(store.flush(), true, "the queued samples are written");
    store.compact();
    store.pruneAll();
    const reader = store.reader();
    assert.equal(reader.rowCounts()["raw"], 1, "only the recent minute's raw row is left");
    assert.equal(reader.rowCounts()["consistency"], 2);
    assert.equal(reader.meta("raw_horizon"), Math.floor((now - 7 * DAY) / MIN) * MIN);

    const range = { since: oldMinute + 30_000, until: recentMinute + 30_000 };
    const agg = reader.aggregate(range);
    assert.equal(agg.plan.exactEdges, false);
    assert.equal(agg.plan.from, oldMinute, "rounded back to the start of the old edge's minute");
    assert.equal(agg.plan.to, range.until, "the recent edge is still exact");
    assert.deepEqual(agg.plan.exact, [[recentMinute, range.until]]);
    // The recorded raw horizon rules the old edge out before its rows are even looked at:
    // minute rows read are the old minute's rollup and the recent edge's completeness check.
    assert.deepEqual([agg.rowsRead.raw, agg.rowsRead.rollup_m, agg.rowsRead.consistency], [1, 2, 2]);
    const s = agg.series[0];
    assert.equal(s?.requests, 12 + 6, "the whole old minute plus the recent minute's first half");
    assert.deepEqual(sorted(s?.providers ?? new Map()), [["early", 12], ["late", 6]]);
    assert.deepEqual(agg.consistency.map((c) => [c.checks, c.mismatches]), [[3, 2]]);

    // Both edges within raw retention: exact again.
    const recent = reader.aggregate({ since: recentMinute + 30_000, until: recentMinute + 50_000 });
    assert.equal(recent.plan.exactEdges, true);
    assert.equal(recent.series[0]?.requests, 4);
    store.close();
  });

  test("raw rows found incomplete (no horizon recorded) make the edge fall back too", () => {
    const clock = new Clock(T0 + HOUR);
    const path = newPath();
    const store = open(path, clock);
    const probes: ProbeSample[] = [];
    for (let i = 0; i < 12; i++) probes.push(probe(T0 + 5 * MIN + i * 5000 + 1, { provider: i < 6 ? "early" : "late" }));
    const checks = [consistency(T0 + 5 * MIN + 10_000, false), consistency(T0 + 5 * MIN + 40_000, true)];
    for (const s of [...probes, ...checks]) store.accept(s);
    assert.equal(store.flush(), true, "the queued samples are written");
    store.compact();
    const reader = store.reader();
    const range = { since: T0 + 5 * MIN + 30_000, until: T0 + 6 * MIN };
    assertExact(reader, probes, checks, range, "complete raw rows");

    // An older file pruned consistency rows by the ms, and recorded no raw horizon.
    const other = new Database(path);
    other.exec(`DELETE FROM consistency WHERE ts < ${T0 + 5 * MIN + 20_000}`);
    let agg = reader.aggregate(range);
    assert.deepEqual([agg.plan.from, agg.plan.exactEdges], [T0 + 5 * MIN, false]);
    assert.deepEqual(agg.consistency.map((c) => [c.checks, c.mismatches]), [[2, 1]], "whole minute from cons_m");
    assert.equal(agg.series[0]?.requests, 12);

    // Put the consistency row back: exact again.
    other.exec(`INSERT INTO consistency (ts, scope, block, agree, hashes) SELECT ${T0 + 5 * MIN + 10_000}, scope, block, 0, hashes FROM consistency`);
    assertExact(reader, probes, checks, range, "consistency rows restored");

    // Rollups written without raw rows (a backfill, or raw pruned without a recorded horizon).
    other.exec("DELETE FROM raw");
    other.close();
    agg = reader.aggregate(range);
    assert.deepEqual([agg.plan.from, agg.plan.exactEdges, agg.plan.exact], [T0 + 5 * MIN, false, []]);
    assert.equal(agg.series[0]?.requests, 12, "the whole minute from its rollup, not 0 from missing raw rows");
    store.close();
  });

  test("a 30-day range reads rollups for the middle and raw rows only for the two edge minutes", () => {
    const since = T0 + 3 * HOUR + 7 * MIN + 20_000;
    const until = T0 + 30 * DAY + 5 * HOUR + 2 * MIN + 40_000;
    const clock = new Clock(until + HOUR);
    const store = open(newPath(), clock, { rawRetentionDays: 40, minuteRetentionDays: 40 });
    const probes: ProbeSample[] = [];
    for (let t = T0; t < until + 10 * MIN; t += 10 * MIN) probes.push(probe(t + 1234));
    for (const m of [Math.floor(since / MIN) * MIN, Math.floor(until / MIN) * MIN]) {
      for (let i = 0; i < 12; i++) probes.push(probe(m + i * 5000, { provider: i % 2 === 0 ? "even" : "odd" }));
    }
    probes.sort((a, b) => a.ts - b.ts);
    store.importSamples(probes);
    store.pruneAll();
    const reader = store.reader();
    const agg = assertExact(reader, probes, [], { since, until }, "30 days");
    assert.deepEqual(agg.plan.day, [[T0 / DAY + 1, T0 / DAY + 30]]);
    assert.equal(agg.rowsRead.rollup_d, 29, "one day row per whole day");
    assert.equal(agg.rowsRead.raw, 2, "raw rows of the two edge minutes only");
    assert.ok(agg.rowsRead.rollup_h <= 20 + 5, `hour rows ${agg.rowsRead.rollup_h}`);
    assert.ok(agg.rowsRead.rollup_m <= 53 + 2 + 2, `minute rows ${agg.rowsRead.rollup_m}`);
    assert.ok((reader.rowCounts()["raw"] ?? 0) > 4000, "the raw rows were there to be read");
    store.close();
  });
});

describe("read planning", () => {
  const horizons = { hour: 0, minute: 0, raw: 0 };

  test("whole days from day rows, partial days from hours, partial hours from minutes, partial minutes exact", () => {
    const since = T0 + 2 * HOUR + 30 * MIN;
    const until = T0 + 3 * DAY + HOUR + 15 * MIN + 10_000;
    const p = planRead(since, until, horizons);
    assert.deepEqual(p.day, [[T0 / DAY + 1, T0 / DAY + 3]]);
    assert.deepEqual(p.hour, [[T0 / HOUR + 3, T0 / HOUR + 24], [T0 / HOUR + 72, T0 / HOUR + 73]]);
    assert.deepEqual(p.minute, [
      [since / MIN, since / MIN + 30],
      [(T0 + 3 * DAY + HOUR) / MIN, (T0 + 3 * DAY + HOUR) / MIN + 15],
    ]);
    assert.deepEqual(p.exact, [[T0 + 3 * DAY + HOUR + 15 * MIN, until]], "the partial last minute from raw samples");
    assert.equal(p.from, since);
    assert.equal(p.to, until);
    assert.equal(p.exactEdges, true);
    assert.equal(p.granularity, "mixed");
  });

  test("both edges mid-minute, and a range inside one minute", () => {
    const since = T0 + 5 * MIN + 12_345;
    const until = T0 + 9 * MIN + 59_999;
    const p = planRead(since, until, horizons);
    assert.deepEqual(p.minute, [[T0 / MIN + 6, T0 / MIN + 9]]);
    assert.deepEqual(p.exact, [[since, T0 + 6 * MIN], [T0 + 9 * MIN, until]]);
    assert.deepEqual([p.from, p.to, p.exactEdges, p.granularity], [since, until, true, "minute"]);
    const q = planRead(since, since + 1000, horizons);
    assert.deepEqual([q.day, q.hour, q.minute, q.exact], [[], [], [], [[since, since + 1000]]]);
    assert.deepEqual([q.from, q.to, q.exactEdges, q.granularity], [since, since + 1000, true, "raw"]);
  });

  test("a partial minute past the raw horizon, or with a raw gap, is read as its whole minute", () => {
    const since = T0 + 5 * MIN + 12_345;
    const until = T0 + 9 * MIN + 30_000;
    const p = planRead(since, until, { hour: 0, minute: 0, raw: T0 + 7 * MIN });
    assert.deepEqual(p.minute, [[T0 / MIN + 5, T0 / MIN + 9]], "the first minute whole");
    assert.deepEqual(p.exact, [[T0 + 9 * MIN, until]], "the last minute is within raw retention");
    assert.deepEqual([p.from, p.to, p.exactEdges], [T0 + 5 * MIN, until, false]);
    const q = planRead(since, until, horizons, new Set([T0 / MIN + 9]));
    assert.deepEqual(q.minute, [[T0 / MIN + 6, T0 / MIN + 10]]);
    assert.deepEqual(q.exact, [[since, T0 + 6 * MIN]]);
    assert.deepEqual([q.from, q.to, q.exactEdges], [since, T0 + 10 * MIN, false]);
  });

  test("edges older than the finer level's horizon read the enclosing bucket whole", () => {
    const since = T0 + 2 * HOUR + 30 * MIN + 5000;
    const p = planRead(since, T0 + 3 * HOUR, { hour: 0, minute: T0 + DAY, raw: T0 + DAY });
    assert.deepEqual([p.minute, p.exact], [[], []]);
    assert.deepEqual(p.hour, [[T0 / HOUR + 2, T0 / HOUR + 3]]);
    assert.equal(p.from, T0 + 2 * HOUR);
    assert.equal(p.granularity, "hour");
    assert.equal(p.exactEdges, false);
    const q = planRead(since, T0 + 3 * HOUR, { hour: T0 + DAY, minute: T0 + DAY, raw: T0 + DAY });
    assert.deepEqual(q.day, [[T0 / DAY, T0 / DAY + 1]]);
    assert.equal(q.granularity, "day");
  });

  test("a 30-day range reads days in the middle and raw samples only for the two partial minutes", () => {
    const since = T0 + 3 * HOUR + 7 * MIN + 20_000;
    const until = T0 + 30 * DAY + 5 * HOUR + 2 * MIN + 40_000;
    const p = planRead(since, until, horizons);
    assert.deepEqual(p.day, [[T0 / DAY + 1, T0 / DAY + 30]]);
    assert.deepEqual(p.hour, [[T0 / HOUR + 4, T0 / HOUR + 24], [T0 / HOUR + 30 * 24, T0 / HOUR + 30 * 24 + 5]]);
    assert.deepEqual(p.minute, [
      [(T0 + 3 * HOUR) / MIN + 8, (T0 + 4 * HOUR) / MIN],
      [(T0 + 30 * DAY + 5 * HOUR) / MIN, (T0 + 30 * DAY + 5 * HOUR) / MIN + 2],
    ]);
    assert.deepEqual(p.exact, [[since, T0 + 3 * HOUR + 8 * MIN], [T0 + 30 * DAY + 5 * HOUR + 2 * MIN, until]]);
  });

  test("an empty range reads nothing", () => {
    const p = planRead(T0, T0, horizons);
    assert.deepEqual([p.day, p.hour, p.minute, p.exact, p.from, p.granularity], [[], [], [], [], null, "none"]);
  });
});

// ------------------------------------------------------------------------------ continuity

type Anomaly = Exclude<ContinuitySample["event"], "delivered">;

interface ContSummary {
  delivered: number;
  backfilled: number;
  /** Non-empty histogram buckets: [index, count]. */
  delay: [number, number][];
  delayClamped: number;
  delayMaxMs: number | null;
  sighting: [number, number][];
  sightingClamped: number;
  sightingMaxMs: number | null;
  events: [string, EventStats][];
}

/**
 * HdrHistogram at 2 significant digits keeps 256 sub-buckets per power of two, so above 256 us a
 * bucket spans at most 1/128 of its values (below, every microsecond is its own bucket); a
 * percentile reads back as the highest value of the sample's bucket: never below the sample,
 * at most 1/128 (0.78%) above it.
 */
const HDR_BUCKET_SPAN = 1 / 128;

const watcherKey = (c: { target: string; chain: string; watcher: string; route: string; subscription: string }): string =>
  `${c.target} ${c.chain} ${c.watcher} ${c.route} ${c.subscription}`;
const pairs = (m: Map<number, number>): [number, number][] => [...m].sort((a, b) => a[0] - b[0]);
const sortedEvents = (m: Map<string, EventStats>): [string, EventStats][] => [...m].sort((a, b) => a[0].localeCompare(b[0]));
const delayIndex = (ms: number): number => latencyIndex(Math.max(0, Math.round(ms)) * 1000);

/**
 * Brute force: delivered samples of the whole minutes around [since, until) (they are kept in
 * rollups only), anomalies with since <= ts < until exactly.
 */
function expectedContinuity(samples: readonly ContinuitySample[], r: TimeRange): Map<string, ContSummary> {
  const dFrom = Math.floor(r.since / MIN) * MIN;
  const dTo = Math.ceil(r.until / MIN) * MIN;
  const acc = new Map<string, { s: ContSummary; delay: Map<number, number>; sighting: Map<number, number>;
    events: Map<string, EventStats> }>();
  const bump = (m: Map<number, number>, k: number): void => void m.set(k, (m.get(k) ?? 0) + 1);
  for (const c of samples) {
    if (r.chain !== undefined && c.chain !== r.chain) continue;
    const delivered = c.event === "delivered";
    if (delivered ? c.ts < dFrom || c.ts >= dTo : c.ts < r.since || c.ts >= r.until) continue;
    const key = watcherKey(c);
    let a = acc.get(key);
    if (!a) {
      a = {
        s: { delivered: 0, backfilled: 0, delay: [], delayClamped: 0, delayMaxMs: null, sighting: [], sightingClamped: 0,
          sightingMaxMs: null, events: [] },
        delay: new Map(), sighting: new Map(), events: new Map(),
      };
      acc.set(key, a);
    }
    if (delivered) {
      a.s.delivered++;
      if (c.backfilled === true) a.s.backfilled++;
      if (c.delayMs !== null) {
        bump(a.delay, delayIndex(c.delayMs));
        if (Math.round(c.delayMs) < 0) a.s.delayClamped++;
        a.s.delayMaxMs = Math.max(a.s.delayMaxMs ?? 0, Math.max(0, Math.round(c.delayMs)));
      }
      if (c.sightingDelayMs !== null) {
        bump(a.sighting, delayIndex(c.sightingDelayMs));
        if (Math.round(c.sightingDelayMs) < 0) a.s.sightingClamped++;
        a.s.sightingMaxMs = Math.max(a.s.sightingMaxMs ?? 0, Math.max(0, Math.round(c.sightingDelayMs)));
      }
      continue;
    }
    const e = a.events.get(c.event) ?? { events: 0, countSum: 0, countMax: 0, delayed: 0, delaySumMs: 0, delayMaxMs: 0 };
    const count = Math.max(0, Math.round(c.count));
    e.events++;
    e.countSum += count;
    e.countMax = Math.max(e.countMax, count);
    if (c.delayMs !== null) {
      const d = Math.max(0, Math.round(c.delayMs));
      e.delayMaxMs = e.delayed === 0 ? d : Math.max(e.delayMaxMs, d);
      e.delayed++;
      e.delaySumMs += d;
    }
    a.events.set(c.event, e);
  }
  const out = new Map<string, ContSummary>();
  for (const [k, a] of acc) {
    out.set(k, { ...a.s, delay: pairs(a.delay), sighting: pairs(a.sighting), events: sortedEvents(a.events) });
  }
  return out;
}

function actualContinuity(agg: AggregateResult): Map<string, ContSummary> {
  const out = new Map<string, ContSummary>();
  const nonEmpty = (h: ContinuityAggregate["delay"]): [number, number][] => {
    const p = h.entries();
    assert.equal(p.reduce((n, [, c]) => n + c, 0), h.total, "histogram total");
    return p;
  };
  for (const c of agg.continuity) {
    out.set(watcherKey(c), {
      delivered: c.delivered, backfilled: c.backfilled, delay: nonEmpty(c.delay), delayClamped: c.delayClamped,
      delayMaxMs: c.delayMaxMs, sighting: nonEmpty(c.sighting), sightingClamped: c.sightingClamped,
      sightingMaxMs: c.sightingMaxMs, events: sortedEvents(c.events),
    });
  }
  return out;
}

function assertContinuity(reader: StoreReader, samples: readonly ContinuitySample[], r: TimeRange, label: string): AggregateResult {
  const agg = reader.aggregate(r);
  const what = `${label}: [${r.since - T0}, ${r.until - T0}) ms after T0${r.chain ? ` on ${r.chain}` : ""}`;
  assert.deepEqual(actualContinuity(agg), expectedContinuity(samples, r), what);
  assert.deepEqual(agg.continuityCoverage, {
    from: r.since, to: r.until, exactEdges: true,
    delivered: { from: Math.floor(r.since / MIN) * MIN, to: Math.ceil(r.until / MIN) * MIN },
  }, `${what} (coverage)`);
  return agg;
}

/** Delivered samples every `stepMs` for `watchers`, with skewed (some negative) and missing delays. */
function deliveredStream(seed: number, from: number, to: number, stepMs: number, watchers: Partial<ContinuitySample>[]): ContinuitySample[] {
  const rand = rng(seed);
  const out: ContinuitySample[] = [];
  watchers.forEach((w, i) => {
    let block = 21_000_000 + i * 1000;
    for (let ts = from + Math.floor(rand() * stepMs); ts < to; ts += stepMs - 200 + Math.floor(rand() * 400)) {
      const g = Math.sqrt(-2 * Math.log(Math.max(rand(), 1e-12))) * Math.cos(2 * Math.PI * rand());
      const backfilled = rand() < 0.05;
      const skewed = rand() < 0.03;
      const delayMs = rand() < 0.01 ? null
        : skewed ? -1 - Math.floor(rand() * 80)
        : backfilled ? 5000 + Math.floor(rand() * 15_000) : Math.round(Math.exp(6.5 + 0.5 * g));
      const sightingDelayMs = rand() < 0.05 ? null : rand() < 0.02 ? -Math.floor(rand() * 30) - 1 : Math.floor(rand() * 300);
      out.push(continuitySample(ts, { ...w, blockNumber: block++, delayMs, sightingDelayMs, backfilled }));
    }
  });
  return out.sort((a, b) => a.ts - b.ts);
}

/** One sample of every anomaly kind, and more of some, over minutes 0-2 on two watchers. */
function anomalySamples(): ContinuitySample[] {
  const a = (ts: number, event: Anomaly, count: number, over: Partial<ContinuitySample> = {}): ContinuitySample =>
    continuitySample(ts, { event, count, delayMs: null, sightingDelayMs: null, backfilled: null, detail: `${event} here`, ...over });
  const logs = { watcher: "logs:default", subscription: "logs" as const };
  return [
    a(T0 + 5_000, "first_event", 1, { delayMs: 420 }),
    a(T0 + 12_345, "gap", 3, { blockNumber: 21_000_010 }),
    a(T0 + 20_000, "duplicate", 1),
    a(T0 + 25_000, "duplicate", 2),
    a(T0 + 31_000, "reorg", 2),
    a(T0 + 33_000, "reorg", 6),
    a(T0 + 40_000, "out_of_order", 1),
    a(T0 + 45_000, "stall", 4_000, { blockNumber: 21_000_020 }),
    a(T0 + 50_500, "stall", 5_500, { delayMs: 9_500, detail: "x".repeat(800) }),
    a(T0 + 55_000, "reconnect", 1, { delayMs: 1_200, blockNumber: null }),
    a(T0 + MIN + 1_000, "reconnect", 2, { delayMs: 3_400 }),
    a(T0 + MIN + 2_000, "first_event", 1, { delayMs: -15 }),
    a(T0 + MIN + 9_000, "client_gap", 4),
    a(T0 + MIN + 30_000, "subscription_id_change", 1),
    a(T0 + MIN + 40_000, "gap", 1),
    a(T0 + 2 * MIN + 1_000, "log_missing", 2, logs),
    a(T0 + 2 * MIN + 2_000, "log_duplicate", 1, logs),
    a(T0 + 2 * MIN + 3_000, "client_gap", 7, logs),
  ];
}

/** What continuityEvents() gives back for an anomaly: no sighting or backfilled, whole ms, delay >= 0, detail capped. */
function asStoredEvent(s: ContinuitySample): ContinuitySample {
  return {
    ...s, count: Math.max(0, Math.round(s.count)), delayMs: s.delayMs === null ? null : Math.max(0, Math.round(s.delayMs)),
    sightingDelayMs: null, backfilled: null, detail: s.detail === null ? null : s.detail.slice(0, 500),
  };
}

describe("continuity samples", () => {
  test("delivered samples roll up per watcher with counts, clamped skew and delay histograms, staged or compacted", () => {
    const watchers = [
      {}, { watcher: "newHeads:pin:alpha", route: "pin:alpha" }, { chain: "base", target: "node-a" },
    ];
    const samples = deliveredStream(3, T0, T0 + 3 * HOUR, 2000, watchers);
    const clock = new Clock(T0 + 3 * HOUR);
    const store = open(newPath(), clock);
    for (const s of samples) store.accept(s);
    assert.equal(store.flush(), true, "the queued samples are written");
    assert.equal(store.stats().written, samples.length);
    const reader = store.reader();
    const ranges: TimeRange[] = [
      { since: T0, until: T0 + 3 * HOUR },
      { since: T0 + 10 * MIN + 17_250, until: T0 + 2 * HOUR + 30 * MIN + 41_000 },
      { since: T0 - DAY, until: T0 + 2 * DAY },
      { since: T0 + 61 * MIN + 1, until: T0 + 61 * MIN + 59_999 },
      { since: T0 + 5 * MIN, until: T0 + 2 * HOUR, chain: "base" },
    ];
    const check = (label: string): void => {
      for (const r of ranges) assertContinuity(reader, samples, r, label);
    };
    assert.equal(reader.rowCounts()["cstaging"], samples.length);
    check("all staged");
    clock.t = T0 + HOUR + 30 * MIN + 90_000;
    store.compact();
    assert.ok((reader.rowCounts()["cstaging"] ?? 0) > 0 && (reader.rowCounts()["crollup_m"] ?? 0) > 0,
      `both staged and rolled-up rows: ${JSON.stringify(reader.rowCounts())}`);
    check("partly compacted");
    clock.t = T0 + DAY;
    assert.equal(store.compact(), samples.filter((s) => s.ts >= T0 + HOUR + 30 * MIN).length);
    const counts = reader.rowCounts();
    assert.deepEqual([counts["cstaging"], counts["crollup_m"], counts["crollup_h"], counts["crollup_d"], counts["cevents"]],
      [0, 3 * 180, 3 * 3, 3, 0], "one rollup row per watcher and bucket; delivered samples are not kept raw");
    check("all compacted");

    // Percentiles from the merged histograms against the raw delays (clamped at 0).
    const agg = reader.aggregate({ since: T0, until: T0 + 3 * HOUR });
    const w = agg.continuity.find((c) => c.watcher === "newHeads:default" && c.chain === "ethereum");
    assert.ok(w, "the newHeads:default watcher on ethereum is aggregated");
    const raw = samples.filter((s) => watcherKey(s) === watcherKey(w) && s.delayMs !== null)
      .map((s) => Math.max(0, s.delayMs ?? 0)).sort((a, b) => a - b);
    assert.ok(w.delayClamped > 0 && w.backfilled > 0, "the stream has skewed and backfilled deliveries");
    const got = w.delay.percentilesMs([50, 95, 99]);
    [50, 95, 99].forEach((p, i) => {
      const want = raw[Math.ceil((p / 100) * raw.length) - 1] as number;
      const g = got[i] ?? null;
      assert.ok(g !== null && g >= want && g <= want * (1 + HDR_BUCKET_SPAN), `delay p${p}: ${g} vs raw ${want} (at most +${(HDR_BUCKET_SPAN * 100).toFixed(2)}%)`);
    });
    assert.equal(w.delayMaxMs, raw.at(-1));
    store.close();
  });

  test("every anomaly kind is stored raw and counted, exact at mid-minute edges while delivered counts whole minutes", () => {
    const clock = new Clock(T0 + 3 * MIN);
    const path = newPath();
    const store = open(path, clock);
    const anomalies = anomalySamples();
    const delivered = deliveredStream(5, T0, T0 + 3 * MIN, 1000, [{}, { watcher: "logs:default", subscription: "logs" }]);
    const all = [...anomalies, ...delivered].sort((a, b) => a.ts - b.ts);
    for (const s of all) store.accept(s);
    assert.equal(store.flush(), true, "the queued samples are written");
    const reader = store.reader();
    assert.deepEqual(reader.continuityEvents({ since: T0, until: T0 + HOUR }), anomalies.map(asStoredEvent));
    assert.deepEqual(reader.continuityEvents({ since: T0 + 20_000, until: T0 + 31_000 }).map((e) => e.event), ["duplicate", "duplicate"]);
    assert.deepEqual(reader.continuityEvents({ since: T0, until: T0 + HOUR }, "base"), []);
    const kinds = new Set(reader.continuityEvents({ since: T0, until: T0 + HOUR }).map((e) => e.event));
    assert.equal(kinds.size, 11, "all eleven anomaly kinds");

    const ranges: TimeRange[] = [
      { since: T0, until: T0 + HOUR },
      { since: T0 + 12_345, until: T0 + 50_500 }, // exactly the first gap through the sample before the stall's end
      { since: T0 + 12_346, until: T0 + MIN + 40_001 },
      { since: T0 + 30_000, until: T0 + 2 * MIN + 2_500 },
      { since: T0 + MIN + 1_500, until: T0 + MIN + 35_000 },
    ];
    const check = (label: string): void => {
      for (const r of ranges) assertContinuity(reader, all, r, label);
    };
    check("delivered staged");
    const r = reader.aggregate({ since: T0 + 12_345, until: T0 + 50_500 }).continuity.find((c) => c.watcher === "newHeads:default");
    assert.deepEqual(
      [r?.events.get("gap")?.countSum, r?.events.get("reorg")?.countMax, r?.events.get("stall")?.events, r?.events.has("first_event")],
      [3, 6, 1, false], "the stall's end at 50.5 s and the first event at 5 s are outside",
    );
    clock.t = T0 + HOUR;
    assert.equal(store.compact(), delivered.length);
    check("delivered compacted into the rows the anomalies were counted in");
    assert.equal(reader.rowCounts()["cevents"], anomalies.length);

    // Raw anomalies found missing for an edge minute (an older file pruned them by the ms):
    // the edge falls back to its whole minute rollup, and the plan says so.
    const other = new Database(path);
    other.exec(`DELETE FROM cevents WHERE ts < ${T0 + 10_000}`);
    other.close();
    const edge = reader.aggregate({ since: T0 + 30_000, until: T0 + 2 * MIN });
    assert.deepEqual(edge.continuityCoverage, { from: T0, to: T0 + 2 * MIN, exactEdges: false, delivered: { from: T0, to: T0 + 2 * MIN } });
    assert.equal(edge.plan.exactEdges, true, "the probe plan is not affected");
    const w = edge.continuity.find((c) => c.watcher === "newHeads:default");
    assert.equal(w?.events.get("first_event")?.events, 2, "the whole first minute, from its rollup");
    assert.equal(w?.events.get("gap")?.countSum, 4);
    store.close();
  });

  test("a restart mid-minute, repeated compaction and late samples never double count", () => {
    const path = newPath();
    const clock = new Clock(T0 + 30_000);
    const d = (ts: number, delayMs = 700): ContinuitySample => continuitySample(ts, { blockNumber: 21_000_000 + ts / 1000, delayMs });
    const gap = continuitySample(T0 + 10_000, { event: "gap", count: 2, delayMs: null, sightingDelayMs: null, backfilled: null });
    const a = open(path, clock);
    for (let i = 0; i < 5; i++) a.accept(d(T0 + i * 5000));
    a.accept(gap);
    a.close(); // minute T0 still open: delivered samples stay staged, the gap is raw and counted

    const b = open(path, clock);
    for (let i = 5; i < 10; i++) b.accept(d(T0 + i * 5000, 900));
    b.accept(continuitySample(T0 + 40_000, { event: "duplicate", count: 1, delayMs: null }));
    assert.equal(b.flush(), true, "the queued samples are written");
    const ranges = [{ since: T0, until: T0 + MIN }, { since: T0, until: T0 + HOUR }, { since: T0, until: T0 + DAY }];
    const summary = (r: StoreReader, range: TimeRange): [number, number, number | undefined, number | undefined, number | null] => {
      const c = r.aggregate(range).continuity[0];
      return [c?.delivered ?? -1, c?.delay.total ?? -1, c?.events.get("gap")?.countSum, c?.events.get("duplicate")?.events, c?.delayMaxMs ?? null];
    };
    for (const r of ranges) assert.deepEqual(summary(b.reader(), r), [10, 10, 2, 1, 900], "staged and raw before compaction");
    clock.t = T0 + 5 * MIN;
    assert.equal(b.compact(), 10);
    assert.equal(b.compact(), 0, "compaction is idempotent");
    for (const r of ranges) assert.deepEqual(summary(b.reader(), r), [10, 10, 2, 1, 900], "after compaction");
    b.accept(d(T0 + 59_000, 5000)); // late, for the compacted minute
    b.accept(continuitySample(T0 + 59_500, { event: "reorg", count: 3, delayMs: null }));
    b.close();

    const c = open(path, clock);
    assert.equal(c.compact(), 0);
    const reader = c.reader();
    for (const r of ranges) {
      assert.deepEqual(summary(reader, r), [11, 11, 2, 1, 5000], `after restart over ${r.until - r.since} ms`);
      assert.equal(reader.aggregate(r).continuity[0]?.events.get("reorg")?.countMax, 3);
    }
    assert.deepEqual([reader.rowCounts()["cstaging"], reader.rowCounts()["crollup_m"], reader.rowCounts()["cevents"]], [0, 1, 3]);
    c.close();
  });

  test("a version 1 file is migrated in place: its probes survive and continuity samples can be stored", () => {
    const path = newPath();
    // A file as version 1 wrote it: one probe series with a compacted and a staged sample.
    const v1 = new Database(path);
    assert.deepEqual(migrate(v1, MIGRATIONS.slice(0, 1)), { from: 0, to: 1 });
    v1.prepare("INSERT INTO series (id, kind, target, chain, route, method) VALUES (1, 0, 'lb', 'ethereum', 'default', 'eth_blockNumber')").run();
    const ids = { series: 1, errorClass: 0, provider: 0, circuit: 0, assertions: [] };
    const old = [probe(T0 + 1000, { provider: null, circuitState: null }), probe(T0 + 2 * MIN, { provider: null, circuitState: null })];
    new RollupWriter(v1).apply([toStored(old[0] as ProbeSample, ids)]);
    const staged = toStored(old[1] as ProbeSample, ids);
    v1.prepare("INSERT INTO staging (series, ts, rec) VALUES (1, ?, ?)").run(staged.ts, encodeStaged(staged));
    v1.close();
    assert.throws(() => StoreReader.open(path), new RegExp(`schema version 1, expected ${SCHEMA_VERSION}; open it with the writer first`));

    const clock = new Clock(T0 + 2 * MIN + 30_000);
    const logged: string[] = [];
    const store = open(path, clock, { logger: { info: (o, m) => logged.push(`${m} ${JSON.stringify(o)}`), warn: () => {}, error: () => {} } });
    assert.ok(logged.some((l) => new RegExp(`store schema migrated.*"from":1,"to":${SCHEMA_VERSION}`).test(l)), logged.join("\n"));
    const reader = store.reader();
    assert.deepEqual(reader.probeSamples({ since: T0, until: T0 + HOUR }), old);
    assert.equal(reader.aggregate({ since: T0, until: T0 + HOUR }).series[0]?.requests, 2);
    store.accept(continuitySample(T0 + 2 * MIN + 1000));
    store.accept(continuitySample(T0 + 2 * MIN + 2000, { event: "gap", count: 4 }));
    assert.equal(store.flush(), true, "the queued samples are written");
    const c = reader.aggregate({ since: T0, until: T0 + HOUR }).continuity[0];
    assert.deepEqual([c?.delivered, c?.events.get("gap")?.countSum], [1, 4]);
    store.close();
    const db = new Database(path, { readonly: true });
    assert.equal(db.pragma("user_version", { simple: true }), SCHEMA_VERSION);
    db.close();
    for (const t of ["cseries", "cstaging", "cevents", "crollup_m", "crollup_h", "crollup_d"]) {
      assert.ok(tableNames(path).includes(t), `missing table ${t}`);
    }
  });

  test("retention prunes continuity events and rollups by their own retention", () => {
    const now = T0 + 200 * DAY + 12 * HOUR;
    const clock = new Clock(now);
    const store = open(newPath(), clock, { pruneBatchRows: 7, continuityMinuteRetentionDays: 10 });
    for (const age of [0.5, 3, 8, 20, 100]) {
      const start = Math.floor((now - age * DAY) / HOUR) * HOUR;
      for (let m = 0; m < 20; m++) store.accept(continuitySample(start + m * MIN + 1000));
      store.accept(continuitySample(start + 500, { event: "gap", count: 1 }));
    }
    assert.equal(store.flush(), true, "the queued samples are written");
    assert.equal(store.compact(), 100);
    const reader = store.reader();
    assert.deepEqual([reader.rowCounts()["cevents"], reader.rowCounts()["crollup_m"]], [5, 100]);
    store.pruneAll();
    const counts = reader.rowCounts();
    assert.equal(counts["cevents"], 2, "raw anomalies kept 7 days: ages 0.5 and 3");
    assert.equal(counts["crollup_m"], 60, "continuity minute rollups kept 10 days here: ages 0.5, 3, 8");
    assert.equal(counts["crollup_h"], 4, "hour rollups kept 90 days");
    assert.equal(counts["crollup_d"], 4);
    const all = { since: now - 365 * DAY, until: now };
    assert.equal(reader.continuityEvents(all).length, 2);
    const c = reader.aggregate(all).continuity[0];
    assert.deepEqual([c?.delivered, c?.events.get("gap")?.events], [80, 4], "the 100-day-old hour is gone from every level");
    assert.equal(store.pruneStep(), 0);
    store.close();
  });

  test("past the continuity minute retention a partial hour counts delivered whole, anomalies stay exact until raw retention", () => {
    const clock = new Clock(T0 + 5 * DAY);
    const store = open(newPath(), clock);
    const hour = T0 + 10 * HOUR;
    const samples: ContinuitySample[] = [];
    for (let i = 0; i < 360; i++) samples.push(continuitySample(hour + i * 10_000 + 1, { delayMs: i < 180 ? 300 : 900 }));
    for (const m of [5, 40, 70]) samples.push(continuitySample(hour + m * MIN, { event: "gap", count: m, delayMs: null }));
    for (const s of samples) store.accept(s);
    assert.equal(store.flush(), true, "the queued samples are written");
    store.compact();
    store.pruneAll();
    const reader = store.reader();
    assert.deepEqual([reader.rowCounts()["crollup_m"], reader.rowCounts()["crollup_h"], reader.rowCounts()["cevents"]], [0, 2, 3],
      "5-day-old minute rows pruned (3 days), hour rows and raw anomalies kept");
    const range = { since: hour + 30 * MIN, until: hour + 2 * HOUR };
    let agg = reader.aggregate(range);
    let c = agg.continuity[0];
    assert.deepEqual(agg.continuityCoverage, { from: range.since, to: range.until, exactEdges: true, delivered: { from: hour, to: hour + 2 * HOUR } });
    assert.deepEqual([c?.delivered, c?.delayMaxMs, c?.events.get("gap")?.events, c?.events.get("gap")?.countSum], [360, 900, 2, 110],
      "the whole hour's deliveries; the gap at minute 5 is before since");

    clock.t = T0 + 8 * DAY; // raw anomalies of that hour pruned too
    store.pruneAll();
    agg = reader.aggregate(range);
    c = agg.continuity[0];
    assert.deepEqual(agg.continuityCoverage, { from: hour, to: range.until, exactEdges: false, delivered: { from: hour, to: hour + 2 * HOUR } });
    assert.deepEqual([c?.delivered, c?.events.get("gap")?.events], [360, 3], "the whole first hour, anomalies included");
    store.close();
  });

  test("malformed continuity samples are rejected alone; non-finite delays are stored as missing", () => {
    const clock = new Clock(T0 + 30_000);
    const store = open(newPath(), clock);
    store.accept(continuitySample(Number.NaN));
    store.accept(continuitySample(T0, { event: "bogus" as ContinuitySample["event"] }));
    store.accept(continuitySample(T0, { event: "gap", count: Number.NaN }));
    store.accept(continuitySample(T0 + 1000, { delayMs: Number.POSITIVE_INFINITY, sightingDelayMs: Number.NaN }));
    assert.equal(store.flush(), true, "the queued samples are written");
    assert.deepEqual([store.stats().rejected, store.stats().written], [3, 1]);
    const c = store.reader().aggregate({ since: T0, until: T0 + MIN }).continuity[0];
    assert.deepEqual([c?.delivered, c?.delay.total, c?.sighting.total, c?.events.size], [1, 0, 0, 0]);
    store.close();
  });
});
