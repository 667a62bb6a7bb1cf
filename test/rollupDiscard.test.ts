import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { addAnomaly, addDelivered, encodeContAgg, EVENT_CODES, mergeEncodedCont, newContAgg } from "../src/store/continuity.js";
import { LatencyCounts } from "../src/store/latency.js";
import type { StoredProbe } from "../src/store/record.js";
import { ByteReader, ByteWriter } from "../src/store/bytes.js";
import { addSample, DISCARD_LATENCY, encodeAgg, mergeEncoded, newAgg, SparseCounts, writeLatency } from "../src/store/rollup.js";
import { rng } from "./helpers/storeFixtures.js";

/**
 * A histogram read into DISCARD_LATENCY is stepped over, not decoded: whatever follows it in
 * the blob must read exactly as when the histogram is read into a real sink. Three values far
 * apart, each seen three times (counts above 1 take a byte of their own), make the sparse
 * layout; 2000 spread values the run-length one (writeLatency picks the shorter).
 */
const LAYOUTS = [["sparse", 9, 0], ["run-length", 2000, 1]] as const;
const FAR_APART_MS = [2, 150, 9000];

/** A value in ms: for few samples one of FAR_APART_MS in turn, for many a random one up to `maxMs`. */
const valueMs = (n: number, i: number, rand: () => number, maxMs: number): number =>
  n < 100 ? (FAR_APART_MS[i % 3] as number) : Math.round(rand() * maxMs);

/** The layout bit writeLatency chose for these counts (0 sparse, 1 run-length). */
function layoutOf(counts: SparseCounts): number {
  const w = new ByteWriter();
  writeLatency(w, counts.map);
  return new ByteReader(w.finish()).uint() % 2;
}

function probe(rand: () => number, n: number, i: number): StoredProbe {
  return {
    series: 1, ts: i, ok: i % 17 !== 0, errorClass: 2, errorDetail: null, latencyUs: 1000 * valueMs(n, i, rand, 3000),
    provider: 1 + (i % 3), retries: i % 5 === 0 ? 1 : null, circuit: 0, upstreamUs: null, overheadUs: 1000 * valueMs(n, i, rand, 300),
    block: i, lag: i % 4, regression: i % 50 === 0, assertions: i % 2 === 0 ? [7] : [], correct: i % 17 !== 0 ? i % 11 !== 0 : null,
  };
}

describe("rollup blobs read with DISCARD_LATENCY", () => {
  for (const [layout, n, bit] of LAYOUTS) {
    test(`probe rollup, ${layout} histograms: every other field reads the same`, () => {
      const rand = rng(3);
      const written = newAgg(new SparseCounts(), new SparseCounts());
      for (let i = 1; i <= n; i++) addSample(written, probe(rand, n, i));
      assert.deepEqual([layoutOf(written.latency), layoutOf(written.overheadLatency)], [bit, bit], `${layout} layout written`);
      const blob = encodeAgg(written);
      const full = newAgg(new LatencyCounts(), new LatencyCounts());
      mergeEncoded(full, written.n, written.ok, blob);
      const skipped = newAgg(DISCARD_LATENCY, DISCARD_LATENCY);
      mergeEncoded(skipped, written.n, written.ok, blob);
      const { latency: _l, overheadLatency: _o, ...rest } = full;
      const { latency: _sl, overheadLatency: _so, ...skippedRest } = skipped;
      assert.deepEqual(skippedRest, rest);
      assert.equal(full.latency.total, written.ok, "the real sink got every answer's latency");
      assert.ok(rest.lag.size > 0 && rest.failedAssertions.size > 0 && rest.judged > 0, "the fields after the histograms are not empty");
    });

    test(`continuity rollup, ${layout} delay histograms: anomalies and maxima read the same`, () => {
      const rand = rng(4);
      const written = newContAgg(new SparseCounts(), new SparseCounts());
      for (let i = 1; i <= n; i++) {
        addDelivered(written, { series: 1, ts: i, block: i, delayMs: valueMs(n, i, rand, 3000) - 50, sightingMs: valueMs(n, i, rand, 400), backfilled: i % 9 === 0 });
      }
      addAnomaly(written, { event: EVENT_CODES.gap, count: 3, delayMs: null });
      addAnomaly(written, { event: EVENT_CODES.reorg, count: 1, delayMs: 1200 });
      assert.deepEqual([layoutOf(written.delay), layoutOf(written.sighting)], [bit, bit], `${layout} layout written`);
      const blob = encodeContAgg(written);
      const full = newContAgg(new LatencyCounts(), new LatencyCounts());
      mergeEncodedCont(full, written.delivered, written.anomalies, blob);
      const skipped = newContAgg(DISCARD_LATENCY, DISCARD_LATENCY);
      mergeEncodedCont(skipped, written.delivered, written.anomalies, blob);
      const { delay: _d, sighting: _s, ...rest } = full;
      const { delay: _sd, sighting: _ss, ...skippedRest } = skipped;
      assert.deepEqual(skippedRest, rest);
      assert.equal(rest.events.size, 2, "both anomalies read back");
      assert.equal(full.delay.total, n, "the real sink got every delay");
    });
  }
});
