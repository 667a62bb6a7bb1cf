import assert from "node:assert/strict";
import { createRequire } from "node:module";
import { describe, test } from "node:test";
import { LATENCY_INDEXES, LatencyCounts, latencyIndex } from "../src/store/latency.js";
import { rng } from "./helpers/storeFixtures.js";

const Hist = (createRequire(import.meta.url)("hdr-histogram-js/dist/Float64Histogram.js") as typeof import("hdr-histogram-js/dist/Float64Histogram.js")).default;
const PS = [0, 50, 95, 99, 99.9, 100];

/** Latencies in us, added in the order given, into a LatencyCounts and into HdrHistogram itself. */
function both(us: readonly number[]): { counts: LatencyCounts; hist: InstanceType<typeof Hist>; byIndex: Map<number, number> } {
  const counts = new LatencyCounts();
  const hist = new Hist(1, 3_600_000_000, 2);
  const byIndex = new Map<number, number>();
  for (const v of us) {
    counts.add(latencyIndex(v), 1);
    hist.recordValue(v);
    byIndex.set(latencyIndex(v), (byIndex.get(latencyIndex(v)) ?? 0) + 1);
  }
  return { counts, hist, byIndex };
}

const sortedEntries = (m: Map<number, number>): [number, number][] => [...m].sort((a, b) => a[0] - b[0]);

function assertSame(counts: LatencyCounts, hist: InstanceType<typeof Hist>, byIndex: Map<number, number>, label: string): void {
  assert.deepEqual(counts.percentilesMs(PS), PS.map((p) => hist.getValueAtPercentile(p) / 1000), `${label}: percentiles`);
  assert.deepEqual(counts.entries(), sortedEntries(byIndex), `${label}: entries`);
  assert.equal(counts.total, hist.totalCount, `${label}: total`);
  for (const us of [0, 900, 40_000, 2_000_000]) {
    const above = [...byIndex].filter(([i]) => i > latencyIndex(us)).reduce((n, [, c]) => n + c, 0);
    assert.equal(counts.countAbove(us), above, `${label}: countAbove(${us})`);
  }
}

describe("LatencyCounts", () => {
  const rand = rng(11);
  const wide = Array.from({ length: 400 }, () => Math.round(Math.exp(1 + 20 * rand())));
  const orders: [string, number[]][] = [
    ["ascending", [...wide].sort((a, b) => a - b)],
    ["descending", [...wide].sort((a, b) => b - a)],
    ["random", wide],
    ["one value", [250_000, 250_000]],
    ["both ends of the index range", [0, 3_600_000_000, 1, 3_599_000_000]],
  ];
  for (const [label, us] of orders) {
    test(`counts added ${label} read back as HdrHistogram's own`, () => {
      const { counts, hist, byIndex } = both(us);
      assertSame(counts, hist, byIndex, label);
    });
  }

  test("merging histograms over disjoint and overlapping index ranges equals adding every value to one", () => {
    const low = Array.from({ length: 50 }, (_, i) => 100 + i * 7);
    const high = Array.from({ length: 50 }, (_, i) => 5_000_000 + i * 90_000);
    const middle = Array.from({ length: 50 }, (_, i) => 30_000 + i * 1_000);
    const into = both(middle);
    for (const part of [high, low, [...low, ...high]]) {
      const other = both(part);
      into.counts.merge(other.counts);
      for (const v of part) {
        into.hist.recordValue(v);
        into.byIndex.set(latencyIndex(v), (into.byIndex.get(latencyIndex(v)) ?? 0) + 1);
      }
    }
    assertSame(into.counts, into.hist, into.byIndex, "merged");
    const empty = new LatencyCounts();
    empty.merge(into.counts);
    assertSame(empty, into.hist, into.byIndex, "merged into an empty one");
  });

  test("a cleared histogram is empty and counts afresh, also outside what it held before", () => {
    const { counts } = both([40_000, 41_000, 45_000]);
    counts.clear();
    assert.deepEqual(counts.percentilesMs([50]), [null]);
    assert.deepEqual(counts.entries(), []);
    assert.equal(counts.total, 0);
    assert.equal(counts.countAbove(0), 0);
    // First inside the range it held (around the old counts), then far outside it.
    for (const again of [[39_000, 44_000, 46_000], [10, 3_000_000_000]]) {
      counts.clear();
      const ref = both(again);
      for (const v of again) counts.add(latencyIndex(v), 1);
      assertSame(counts, ref.hist, ref.byIndex, `after clear: ${again.join(", ")}`);
    }
  });

  test("an index outside the histogram is refused", () => {
    const counts = new LatencyCounts();
    for (const bad of [-1, LATENCY_INDEXES, Number.NaN]) {
      assert.throws(() => counts.add(bad, 1), /latency bucket .* out of range/, `index ${bad}`);
    }
  });
});
