import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before } from "node:test";
import type { ContinuitySample, ProbeSample } from "../../src/samples.js";

export const MIN = 60_000;
export const HOUR = 3_600_000;
export const DAY = 86_400_000;
/** A fixed, day-aligned origin so bucket arithmetic in assertions is obvious. */
export const T0 = Date.UTC(2025, 0, 15);

export { rng } from "../../bench/storeGen.js";

/** A temp directory for this test file's databases (made before, removed after); returns a fresh-path maker. */
export function tempDbPaths(prefix: string): () => string {
  let dir = "";
  let fileNo = 0;
  before(() => {
    dir = mkdtempSync(join(tmpdir(), prefix));
  });
  after(() => {
    rmSync(dir, { recursive: true, force: true });
  });
  return () => join(dir, `db-${++fileNo}.sqlite`);
}

/** A successful probe sample with every field set; override what a test is about. */
export function probeSample(ts: number, over: Partial<ProbeSample> = {}): ProbeSample {
  return {
    kind: "probe", ts, target: "lb", chain: "ethereum", route: "default", method: "eth_blockNumber",
    outcome: "ok", errorClass: null, errorDetail: null, latencyMs: 42.17, provider: "alchemy", transport: null, retries: 0,
    circuitState: "closed", upstreamLatencyMs: 39.5, lassoOverheadMs: 1.25, blockHeight: 21_000_000,
    headLagBlocks: 0, headRegression: false, failedAssertions: [], correct: over.outcome === "error" ? null : true, ...over,
  };
}

/**
 * A continuity sample: by default a live newHeads block delivered on ethereum's default route,
 * 850 ms after its timestamp and 120 ms after HTTP saw it; override `event` and what it carries.
 */
export function continuitySample(ts: number, over: Partial<ContinuitySample> = {}): ContinuitySample {
  return {
    kind: "continuity", ts, target: "lb", chain: "ethereum", watcher: "newHeads:default", route: "default",
    subscription: "newHeads", event: "delivered", blockNumber: 21_000_000, count: 1, delayMs: 850, sightingDelayMs: 120,
    backfilled: false, detail: null, ...over,
  };
}
