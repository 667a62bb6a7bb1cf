import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { test } from "node:test";
import { HeapTrim } from "../src/metrics/heapTrim.js";

const MB = 2 ** 20;

/** A heap whose size the test sets; a collection brings it down to `live`. */
function fakeHeap(live: number): { used: number; live: number; gcCalls: number; gc: () => void } {
  const heap = { used: live, live, gcCalls: 0, gc: () => undefined as void };
  heap.gc = () => {
    heap.gcCalls++;
    heap.used = heap.live;
  };
  return heap;
}

test("collects once at the first check to learn the live size, then only when the heap outgrew it by the slack", () => {
  const heap = fakeHeap(20 * MB);
  const trim = new HeapTrim({ slackBytes: 4 * MB, checkIntervalMs: 1000, gc: heap.gc, usedBytes: () => heap.used });
  heap.used = 23 * MB;
  trim.check();
  assert.equal(heap.gcCalls, 1, "the first check collects");
  assert.equal(trim.stats.liveBytes, 20 * MB, "and records what the collection left");
  heap.used = 20 * MB + 4 * MB - 1;
  trim.check();
  assert.equal(heap.gcCalls, 1, "one byte short of the slack: no collection");
  heap.used = 24 * MB;
  trim.check();
  assert.equal(heap.gcCalls, 2, "the slack reached: a collection");
  assert.equal(trim.stats.collections, 2);
});

test("follows V8's own collections down, so the slack counts from the newest live size", () => {
  const heap = fakeHeap(20 * MB);
  const trim = new HeapTrim({ slackBytes: 4 * MB, checkIntervalMs: 1000, gc: heap.gc, usedBytes: () => heap.used });
  trim.check();
  heap.used = 17 * MB; // V8 collected on its own and the live size fell
  trim.check();
  assert.equal(trim.stats.liveBytes, 17 * MB);
  assert.equal(heap.gcCalls, 1, "following the heap down is not a collection");
  heap.live = 17 * MB;
  heap.used = 21 * MB;
  trim.check();
  assert.equal(heap.gcCalls, 2, "17 + 4 MiB reached: a collection (from 20 MiB it would not be)");
});

test("a large heap gets a proportional slack: collected when it grows by the fraction, not by the fixed minimum", () => {
  const heap = fakeHeap(100 * MB);
  const trim = new HeapTrim({ slackBytes: 4 * MB, slackFraction: 0.25, checkIntervalMs: 1000, gc: heap.gc, usedBytes: () => heap.used });
  trim.check();
  heap.used = 100 * MB + 24 * MB;
  trim.check();
  assert.equal(heap.gcCalls, 1, "24 MiB over a 100 MiB live heap is under a quarter: no collection");
  heap.used = 125 * MB;
  trim.check();
  assert.equal(heap.gcCalls, 2, "a quarter reached: a collection");
  const small = fakeHeap(8 * MB);
  const smallTrim = new HeapTrim({ slackBytes: 4 * MB, slackFraction: 0.25, checkIntervalMs: 1000, gc: small.gc, usedBytes: () => small.used });
  smallTrim.check();
  small.used = 11 * MB;
  smallTrim.check();
  assert.equal(small.gcCalls, 1, "a small heap keeps the 4 MiB minimum (a quarter would be 2 MiB)");
});

test("without a collector (node run without --expose-gc) it is off and never throws", () => {
  const trim = new HeapTrim({ slackBytes: 4 * MB, checkIntervalMs: 1000, gc: null, usedBytes: () => 100 * MB });
  assert.equal(trim.enabled, false);
  trim.check();
  trim.start();
  trim.stop();
  assert.equal(trim.stats.collections, 0);
});

test("with --expose-gc in a real node, the committed heap stays near the live size under steady garbage", () => {
  // A child node process makes long-lived garbage (objects that survive the young generation,
  // as the daemon's per-probe state does) with and without the trimmer, and reports the
  // largest heap V8 kept. Slack 2 MiB; without it V8 lets the heap grow far past that.
  const script = `
    import { HeapTrim } from ${JSON.stringify(new URL("../src/metrics/heapTrim.ts", import.meta.url).href)};
    import v8 from "node:v8";
    const trim = new HeapTrim({ slackBytes: 2 * 2 ** 20, checkIntervalMs: 1000 });
    const useTrim = process.argv.includes("trim");
    let keep = [];
    let peak = 0;
    for (let round = 0; round < 400; round++) {
      keep.push(Array.from({ length: 2000 }, (_, i) => ({ i, s: "x" + i })));
      if (keep.length > 8) keep = keep.slice(-4);
      if (useTrim) trim.check();
      peak = Math.max(peak, v8.getHeapStatistics().total_heap_size);
    }
    console.log(JSON.stringify({ peak, collections: trim.stats.collections }));
  `;
  const run = (mode: string): { peak: number; collections: number } => {
    const out = spawnSync(process.execPath, ["--expose-gc", "--max-semi-space-size=1", "--import", "tsx", "--input-type=module", "-e", script, mode], { encoding: "utf8", timeout: 60_000 });
    assert.equal(out.status, 0, `child failed: ${out.stderr}`);
    return JSON.parse(out.stdout.trim().split("\n").pop() ?? "{}") as { peak: number; collections: number };
  };
  const trimmed = run("trim");
  const untrimmed = run("none");
  assert.ok(trimmed.collections > 1, `the trimmer collected more than once (${trimmed.collections})`);
  assert.ok(trimmed.peak < untrimmed.peak, `peak heap with the trimmer ${(trimmed.peak / MB).toFixed(1)} MiB is below V8's own ${(untrimmed.peak / MB).toFixed(1)} MiB`);
});
