import { test } from "node:test";
import assert from "node:assert/strict";
import { gridOffsetMs, nextFireAt } from "../src/probes/grid.js";
import { HeadBoard, lassoConsensus, type ChainTiming } from "../src/probes/heads.js";
import { toSample } from "../src/probes/probe.js";
import { probeUrl } from "../src/probes/fromPlan.js";
import type { ProbeSeriesSpec } from "../src/probes/types.js";
import type { RpcCallResult } from "../src/lasso/rpcClient.js";

test("grid: fires on offset + k*interval, never drifts, and spreads series", () => {
  const interval = 5000;
  const offset = gridOffsetMs("lb|ethereum|default|eth_blockNumber", interval);
  assert.equal(gridOffsetMs("lb|ethereum|default|eth_blockNumber", interval), offset, "stable per series");
  let t = 1_700_000_000_123;
  const fires: number[] = [];
  for (let i = 0; i < 5; i++) {
    t = nextFireAt(t + 137, interval, offset); // late wake-ups do not shift the grid
    fires.push(t);
  }
  for (const f of fires) assert.equal((f - offset) % interval, 0);
  for (let i = 1; i < fires.length; i++) assert.equal(fires[i]! - fires[i - 1]!, interval);
  const offsets = new Set(Array.from({ length: 50 }, (_, i) => Math.floor(gridOffsetMs(`series-${i}`, interval) / 500)));
  assert.ok(offsets.size >= 6, `50 series land in ${offsets.size} of 10 half-second slots`);
});

test("consensus: Lasso's rule, the head at index floor(n/4) from the top: max with 1-3, second with 4-7, third with 8+", () => {
  assert.equal(lassoConsensus([100, 103, 101]), 103, "3 heads: the max");
  assert.equal(lassoConsensus([100, 103, 101, 102]), 102, "4 heads: the second-highest");
  assert.equal(lassoConsensus([5, 9, 7, 8, 6, 4, 3]), 8, "7 heads: the second-highest");
  assert.equal(lassoConsensus([5, 9, 7, 8, 6, 4, 3, 2]), 7, "8 heads: the third-highest");
  assert.equal(lassoConsensus([]), null);
  const board = new HeadBoard(() => ({ blockTimeMs: 1000, horizonMs: 10_000 }));
  assert.equal(board.consensus("lb", "eth", 1000), null, "no answers: no consensus");
  [5, 9, 7, 8, 6, 4, 3, 2].forEach((h, i) => board.report("lb", "eth", `p${i}`, h, 1000));
  assert.equal(board.consensus("lb", "eth", 1000), 7, "the board applies the rule to its providers");
  assert.equal(board.consensus("lb", "other", 1000), null, "per chain");
});

test("consensus: answers are carried forward one block per whole block time, future and old answers are not used", () => {
  const board = new HeadBoard(() => ({ blockTimeMs: 1000, horizonMs: 10_000 }));
  board.report("lb", "eth", "a", 100, 1000);
  board.report("lb", "eth", "b", 99, 1500);
  assert.equal(board.consensus("lb", "eth", 1999), 100, "under one block time: as answered");
  assert.equal(board.consensus("lb", "eth", 2000), 101, "one block time later: one block on");
  assert.equal(board.consensus("lb", "eth", 4400), 103, "a: 100 + 3; b: 99 + 2");
  assert.equal(board.consensus("lb", "eth", 900), null, "answers that arrived after the instant do not count");
  assert.equal(board.consensus("lb", "eth", 11_400), 108, "a is past the horizon; b: 99 + 9");
  assert.equal(board.consensus("lb", "eth", 11_600), null, "both past the horizon");
  board.report("lb", "eth", "a", 105, 6000);
  assert.equal(board.consensus("lb", "eth", 5500), 104, "an instant before a's newest answer uses a's previous one: 100 + 4");
  const badTiming = new HeadBoard(() => ({ blockTimeMs: 0, horizonMs: 1 }));
  badTiming.report("lb", "eth", "a", 100, 1);
  assert.throws(() => badTiming.consensus("lb", "eth", 1), /block time must be > 0/);
});

const spec: ProbeSeriesSpec = {
  id: "s", target: "lb", url: "http://127.0.0.1:1/rpc/eth", headers: {}, chain: "eth", chainId: 1, blockTimeMs: 1000,
  route: "default", pinnedProvider: null, feedsConsensus: false, method: "eth_blockNumber", params: [], intervalMs: 1000, timeoutMs: 500,
  assertions: [{ kind: "shape", shape: "quantity" }, { kind: "monotonicHead" }, { kind: "freshness" }], maxHeadLagBlocks: 2,
};
const ok = (result: unknown, provider = "alpha"): RpcCallResult => ({
  outcome: "ok", errorClass: null, errorDetail: null, latencyMs: 12, httpStatus: 200, rpcCode: null, result,
  meta: { selected_provider: { id: provider }, retries: 0, circuit_breaker_state: "closed", lasso_overhead_ms: 1.5, upstream_latency_ms: 10 },
});

const timing = (): ChainTiming => ({ blockTimeMs: 1000, horizonMs: 60_000 });

test("sample: provider from metadata, head lag vs consensus at arrival; a stale or wrong answer is still available", () => {
  const board = new HeadBoard(timing);
  board.report("lb", "eth", "alpha", 110, 500);
  const state = { lastHeight: null as number | null };
  const s1 = toSample(spec, 1000, ok("0x6c"), board, state); // 108
  assert.equal(s1.outcome, "ok");
  assert.equal(s1.correct, true, "shape and monotonic head judged and passed");
  assert.deepEqual(s1.failedAssertions, []);
  assert.equal(s1.provider, "alpha");
  assert.equal(s1.blockHeight, 108);
  assert.equal(s1.headLagBlocks, 2);
  assert.equal(s1.lassoOverheadMs, 1.5);

  const s2 = toSample(spec, 2000, ok("0x64", "bravo"), board, state); // 100: behind consensus and backwards
  assert.equal(s2.outcome, "ok", "a well-formed answer counts for availability whatever it says");
  assert.equal(s2.errorClass, null);
  assert.equal(s2.correct, false, "the regression is a correctness failure");
  assert.equal(s2.errorDetail, "failed: monotonicHead, freshness");
  assert.equal(s2.headLagBlocks, 11, "judged on arrival (2012): 110 answered at 500 is carried one block on");
  assert.equal(s2.headRegression, true);
  assert.deepEqual(s2.failedAssertions.sort(), ["freshness", "monotonicHead"]);

  const s3 = toSample(spec, 3000, ok({ not: "a quantity" }), board, state);
  assert.deepEqual([s3.outcome, s3.correct, s3.failedAssertions], ["ok", false, ["shape:quantity"]]);

  // Only stale: the freshness SLI's business, not correctness.
  board.report("lb", "eth", "alpha", 120, 3500);
  const s4 = toSample(spec, 4000, ok("0x6e"), board, state); // 110, 10 behind
  assert.deepEqual([s4.outcome, s4.correct, s4.failedAssertions, s4.headLagBlocks], ["ok", true, ["freshness"], 10]);

  const freshnessOnly: ProbeSeriesSpec = { ...spec, assertions: [{ kind: "freshness" }] };
  const s5 = toSample(freshnessOnly, 5000, ok("0x6e"), board, { lastHeight: null });
  assert.deepEqual([s5.outcome, s5.correct, s5.failedAssertions], ["ok", null, ["freshness"]], "no correctness assertion: not judged");
});

test("sample: pinned series feed the consensus; chainId assertion checks the number", () => {
  const board = new HeadBoard(timing);
  const pinned: ProbeSeriesSpec = { ...spec, route: "pin:bravo", pinnedProvider: "bravo", feedsConsensus: true, assertions: [] };
  const s = toSample(pinned, 1000, { ...ok("0x20"), meta: null }, board, { lastHeight: null });
  assert.equal(s.provider, "bravo", "pinned route names its provider without metadata");
  assert.equal(board.consensus("lb", "eth", 1012), 32, "reported at its arrival, sentAt + latency");
  assert.equal(board.consensus("lb", "eth", 1011), null);
  const chainIdSpec: ProbeSeriesSpec = { ...pinned, method: "eth_chainId", assertions: [{ kind: "chainId" }] };
  const right = toSample(chainIdSpec, 1000, ok("0x1"), board, { lastHeight: null });
  assert.deepEqual([right.outcome, right.correct, right.failedAssertions], ["ok", true, []]);
  const wrong = toSample(chainIdSpec, 1000, ok("0x2105"), board, { lastHeight: null });
  assert.deepEqual([wrong.outcome, wrong.errorClass, wrong.correct, wrong.failedAssertions], ["ok", null, false, ["chainId"]]);
});

test("sample: a transport failure keeps its class and carries no height", () => {
  const failed: RpcCallResult = { outcome: "error", errorClass: "timeout", errorDetail: "no answer", latencyMs: 500, httpStatus: null, rpcCode: null, result: undefined, meta: null };
  const s = toSample(spec, 1000, failed, new HeadBoard(timing), { lastHeight: 5 });
  assert.equal(s.outcome, "error");
  assert.equal(s.errorClass, "timeout");
  assert.equal(s.correct, null, "no answer: not judged for correctness");
  assert.equal(s.blockHeight, null);
  assert.equal(s.provider, null);
});

test("probe URLs keep the target's path prefix and query (API keys) and ask for routing metadata", () => {
  assert.equal(
    probeUrl("https://lasso.example.com/v2/KEY/?apikey=x", "/rpc/provider/alpha/ethereum"),
    "https://lasso.example.com/v2/KEY/rpc/provider/alpha/ethereum?apikey=x&include_meta=headers",
  );
  assert.equal(probeUrl("http://127.0.0.1:4000", "/rpc/fastest/1"), "http://127.0.0.1:4000/rpc/fastest/1?include_meta=headers");
});
