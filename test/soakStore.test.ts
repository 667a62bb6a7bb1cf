import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { after, describe, test } from "node:test";
import type { SoakSample } from "../src/samples.js";
import { SampleStore, StoreReader } from "../src/store/index.js";

const DAY = 86_400_000;
const dirs: string[] = [];
after(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

function fresh(now: { t: number }): SampleStore {
  const dir = mkdtempSync(path.join(os.tmpdir(), "soak-store-"));
  dirs.push(dir);
  return new SampleStore({ path: path.join(dir, "canary.db"), now: () => now.t, flushIntervalMs: 0, rawRetentionDays: 7 });
}

function sample(ts: number, over: Partial<SoakSample> = {}): SoakSample {
  return {
    kind: "soak", ts, subject: "lasso", target: "node-a", values: { memory_mb: 812.4, process_count: 1432, run_queue: 0 }, uptimeSeconds: 3600,
    seriesStart: 1000, restart: null, errorClass: null, errorDetail: null, ...over,
  };
}

describe("soak samples in SQLite", () => {
  test("written through the queue and read back as they were, oldest first", () => {
    const now = { t: 10 * DAY };
    const store = fresh(now);
    const samples = [
      sample(now.t - 120_000),
      sample(now.t - 60_000, { values: {}, seriesStart: null, uptimeSeconds: null, errorClass: "invalid_response", errorDetail: "x".repeat(1000) }),
      sample(now.t, { restart: "uptime", seriesStart: now.t, uptimeSeconds: 2 }),
      sample(now.t, { subject: "canary", target: "self", values: { rss_mb: 96.5, heap_mb: 31.2, loop_lag_ms: 0.4 }, uptimeSeconds: 120.5, seriesStart: now.t - 60_000 }),
    ];
    for (const s of samples) store.accept(s);
    const back = store.soakSamples(now.t - 60_000);
    assert.equal(back.length, 3);
    assert.deepEqual(back[0], { ...samples[1], errorDetail: "x".repeat(300) });
    assert.deepEqual(back[1], samples[2]);
    assert.deepEqual(back[2], samples[3]);
    const counts = store.reader().soakPollCounts(now.t - DAY, now.t + 1).sort((a, b) => a.target.localeCompare(b.target));
    assert.deepEqual(counts, [
      { subject: "lasso", target: "node-a", polls: 3, errors: 1, restarts: 1, errorClasses: { invalid_response: 1 } },
      { subject: "canary", target: "self", polls: 1, errors: 0, restarts: 0, errorClasses: {} },
    ]);
    store.close();
  });

  test("a sample with a non-finite time is rejected, not written", () => {
    const now = { t: 10 * DAY };
    const store = fresh(now);
    store.accept(sample(Number.NaN));
    store.accept(sample(now.t, { values: { memory_mb: Number.POSITIVE_INFINITY, run_queue: 1 } }));
    assert.equal(store.flush(), true);
    assert.equal(store.stats().rejected, 1);
    assert.deepEqual(store.soakSamples(0).map((s) => s.values), [{ run_queue: 1 }]);
    store.close();
  });

  test("pruned with the raw retention", () => {
    const now = { t: 10 * DAY };
    const store = fresh(now);
    store.accept(sample(now.t - 8 * DAY));
    store.accept(sample(now.t - 6 * DAY));
    store.flush();
    store.pruneAll();
    assert.deepEqual(store.soakSamples(0).map((s) => s.ts), [now.t - 6 * DAY]);
    store.close();
  });

  test("the report worker's read-only connection sees them", () => {
    const now = { t: 10 * DAY };
    const store = fresh(now);
    store.accept(sample(now.t));
    store.flush();
    const reader = StoreReader.open(store.path);
    try {
      assert.equal(reader.soakSamples(now.t, now.t + 1).length, 1);
    } finally {
      reader.close();
      store.close();
    }
  });
});
