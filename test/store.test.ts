import Database from "better-sqlite3";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import type { ConsistencySample, ProbeSample } from "../src/samples.js";
import { MIGRATIONS, SCHEMA_VERSION, SchemaVersionError, migrate } from "../src/store/schema.js";
import { planRead } from "../src/store/segments.js";
import { SampleStore } from "../src/store/store.js";
import { StoreReader } from "../src/store/reader.js";
import type { StoreLogger } from "../src/store/options.js";
import { waitFor } from "./helpers/waitFor.js";

const MIN = 60_000;
const HOUR = 3_600_000;
const DAY = 86_400_000;
/** A fixed, day-aligned origin so bucket arithmetic in assertions is obvious. */
const T0 = Date.UTC(2025, 0, 15);

let dir = "";
let fileNo = 0;
before(() => {
  dir = mkdtempSync(join(tmpdir(), "lasso-canary-store-test-"));
});
after(() => {
  rmSync(dir, { recursive: true, force: true });
});
const newPath = (): string => join(dir, `db-${++fileNo}.sqlite`);

function probe(ts: number, over: Partial<ProbeSample> = {}): ProbeSample {
  return {
    kind: "probe", ts, target: "lb", chain: "ethereum", route: "default", method: "eth_blockNumber",
    outcome: "ok", errorClass: null, errorDetail: null, latencyMs: 42.17, provider: "alchemy", retries: 0,
    circuitState: "closed", upstreamLatencyMs: 39.5, lassoOverheadMs: 1.25, blockHeight: 21_000_000,
    headLagBlocks: 0, headRegression: false, failedAssertions: [], ...over,
  };
}

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
    assert.ok(store.flush());
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
      assert.ok(err instanceof SchemaVersionError);
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
    ];
    for (const s of samples) store.accept(s);
    const reader = store.reader();
    const range = { since: T0, until: T0 + HOUR };
    assert.equal(reader.probeSamples(range).length, 0, "nothing written before flush");
    assert.equal(store.stats().queued, 3);
    assert.ok(store.flush());
    assert.deepEqual(reader.probeSamples(range), samples);
    assert.equal(store.stats().written, 3);
    assert.equal(store.stats().queued, 0);
    store.close();
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

  test("compaction packs closed minutes; raw samples read back the same", () => {
    const clock = new Clock(T0 + 30_000);
    const path = newPath();
    const store = open(path, clock);
    const samples: ProbeSample[] = [];
    for (let i = 0; i < 120; i++) {
      samples.push(probe(T0 + i * 5000 + (i % 3), { latencyMs: 20 + (i % 17) + 0.01 * i, blockHeight: 21_000_000 + Math.floor(i / 2) }));
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
    assert.ok(store.flush());
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
    assert.ok(store.flush());

    const other = new Database(path);
    other.exec("BEGIN IMMEDIATE"); // another writer holds the lock: our writes fail with SQLITE_BUSY
    for (let i = 1; i <= 10; i++) assert.doesNotThrow(() => store.accept(probe(T0 + i * 1000)));
    assert.equal(store.flush(), false);
    assert.ok(store.stats().writeErrors >= 1);
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
    assert.ok(logged.some((l) => l.level === "info" && /recovered/.test(l.msg ?? "")));
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
    assert.ok(store.flush());
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

describe("read planning", () => {
  const horizons = { hour: 0, minute: 0 };

  test("whole days from day rows, partial days from hours, partial hours from minutes", () => {
    const since = T0 + 2 * HOUR + 30 * MIN;
    const until = T0 + 3 * DAY + HOUR + 15 * MIN + 10_000;
    const p = planRead(since, until, horizons);
    assert.deepEqual(p.day, [[T0 / DAY + 1, T0 / DAY + 3]]);
    assert.deepEqual(p.hour, [[T0 / HOUR + 3, T0 / HOUR + 24], [T0 / HOUR + 72, T0 / HOUR + 73]]);
    assert.deepEqual(p.minute, [
      [since / MIN, since / MIN + 30],
      [(T0 + 3 * DAY + HOUR) / MIN, (T0 + 3 * DAY + HOUR) / MIN + 16],
    ]);
    assert.equal(p.from, since);
    assert.equal(p.to, T0 + 3 * DAY + HOUR + 16 * MIN, "partial last minute rounded outward");
    assert.equal(p.granularity, "mixed");
  });

  test("edges older than the finer level's horizon read the enclosing bucket whole", () => {
    const since = T0 + 2 * HOUR + 30 * MIN;
    const p = planRead(since, T0 + 3 * HOUR, { hour: 0, minute: T0 + DAY });
    assert.deepEqual(p.minute, []);
    assert.deepEqual(p.hour, [[T0 / HOUR + 2, T0 / HOUR + 3]]);
    assert.equal(p.from, T0 + 2 * HOUR);
    assert.equal(p.granularity, "hour");
    const q = planRead(since, T0 + 3 * HOUR, { hour: T0 + DAY, minute: T0 + DAY });
    assert.deepEqual(q.day, [[T0 / DAY, T0 / DAY + 1]]);
    assert.equal(q.granularity, "day");
  });

  test("an empty range reads nothing", () => {
    const p = planRead(T0, T0, horizons);
    assert.deepEqual([p.day, p.hour, p.minute, p.from, p.granularity], [[], [], [], null, "none"]);
  });
});
