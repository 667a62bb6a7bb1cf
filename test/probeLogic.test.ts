import { test } from "node:test";
import assert from "node:assert/strict";
import { gridOffsetMs, nextFireAt } from "../src/probes/grid.js";
import { HeadBoard } from "../src/probes/heads.js";
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

test("consensus: max with up to 3 providers, second-highest with 4+, ignores old or future reports", () => {
  const board = new HeadBoard(() => 10_000);
  board.report("lb", "eth", "a", 100, 1000);
  board.report("lb", "eth", "b", 103, 1000);
  board.report("lb", "eth", "c", 101, 1000);
  assert.equal(board.consensus("lb", "eth", 2000), 103);
  board.report("lb", "eth", "d", 102, 1000);
  assert.equal(board.consensus("lb", "eth", 2000), 102);
  assert.equal(board.consensus("lb", "eth", 500), null, "reports after the probe was sent do not count");
  assert.equal(board.consensus("lb", "eth", 20_000), null, "reports older than max age do not count");
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

test("sample: provider from metadata, head lag vs consensus, regressions and shape failures", () => {
  const board = new HeadBoard(() => 60_000);
  board.report("lb", "eth", "alpha", 110, 500);
  const state = { lastHeight: null as number | null };
  const s1 = toSample(spec, 1000, ok("0x6c"), board, state); // 108
  assert.equal(s1.outcome, "ok");
  assert.equal(s1.provider, "alpha");
  assert.equal(s1.blockHeight, 108);
  assert.equal(s1.headLagBlocks, 2);
  assert.equal(s1.lassoOverheadMs, 1.5);

  const s2 = toSample(spec, 2000, ok("0x64", "bravo"), board, state); // 100: behind consensus and backwards
  assert.equal(s2.outcome, "error");
  assert.equal(s2.errorClass, "assertion");
  assert.equal(s2.headLagBlocks, 10);
  assert.equal(s2.headRegression, true);
  assert.deepEqual(s2.failedAssertions.sort(), ["freshness", "monotonicHead"]);

  const s3 = toSample(spec, 3000, ok({ not: "a quantity" }), board, state);
  assert.deepEqual(s3.failedAssertions, ["shape:quantity"]);
});

test("sample: pinned series feed the consensus; chainId assertion checks the number", () => {
  const board = new HeadBoard(() => 60_000);
  const pinned: ProbeSeriesSpec = { ...spec, route: "pin:bravo", pinnedProvider: "bravo", feedsConsensus: true, assertions: [] };
  const s = toSample(pinned, 1000, { ...ok("0x20"), meta: null }, board, { lastHeight: null });
  assert.equal(s.provider, "bravo", "pinned route names its provider without metadata");
  assert.equal(board.consensus("lb", "eth", 5000), 32);
  const chainIdSpec: ProbeSeriesSpec = { ...pinned, method: "eth_chainId", assertions: [{ kind: "chainId" }] };
  assert.equal(toSample(chainIdSpec, 1000, ok("0x1"), board, { lastHeight: null }).outcome, "ok");
  assert.equal(toSample(chainIdSpec, 1000, ok("0x2105"), board, { lastHeight: null }).errorClass, "assertion");
});

test("sample: a transport failure keeps its class and carries no height", () => {
  const failed: RpcCallResult = { outcome: "error", errorClass: "timeout", errorDetail: "no answer", latencyMs: 500, httpStatus: null, rpcCode: null, result: undefined, meta: null };
  const s = toSample(spec, 1000, failed, new HeadBoard(() => 1000), { lastHeight: 5 });
  assert.equal(s.errorClass, "timeout");
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
