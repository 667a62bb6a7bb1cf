/**
 * Chaos windows end to end (issue 10 item 7), failover storm after Lasso's PR #118: the
 * provider serving the canary profile's shared newHeads subscription is dropped every 2 s;
 * the plan's own newHeads watcher on the canary profile's default route feeds the window's
 * continuity (the runner's ContinuityTap), judged by the real verdict against the claim
 * "zero gaps, zero duplicates".
 *
 * In the sim a switch between providers takes a few milliseconds, far below the 1 s block
 * time, so with three subscription-capable providers no block falls into a switch: the storm
 * shows Lasso following every drop with nothing lost, but there is nothing to backfill or lose
 * either. With a single subscription-capable provider each drop keeps the subscription down for
 * the drop's lease (handshakes refused, Lasso retries), so every drop misses a block: defects
 * off Lasso backfills it (zero gaps), with gapOnFailover it is lost and must be counted.
 * (A drop every 2 s there left ~0.25 s of live stream between outages: with gapOnFailover the
 * watcher saw one long stall instead of gaps, and only a block after the window proved them.)
 */
import assert from "node:assert/strict";
import { after, before, describe, test, type TestContext } from "node:test";
import type { ContinuityObservation, WindowResult } from "../src/chaos/windowTypes.js";
import { shortWindow } from "./helpers/chaosBed.js";
import { startE2eBed, type E2eBed, type E2eBedOptions } from "./helpers/chaosE2eBed.js";

const storm8s = ["kind: failover_storm", "duration: 8s", "stormEvery: 2s", "abortFloor: 0.5", "abortWindow: 2s", "slo: { maxRecovery: 3s }"];
/**
 * With one subscription provider each drop takes the subscription down for ~1.75 s (the 1 s
 * drop lease, Lasso's retries after 250, 500 and 1000 ms): a drop every 3 s leaves over a block
 * time of live stream between drops, so a block after each outage proves what it missed.
 */
const storm9s = ["kind: failover_storm", "duration: 9s", "stormEvery: 3s", "abortFloor: 0.5", "abortWindow: 2s", "slo: { maxRecovery: 3s }"];
const WATCHER: E2eBedOptions["checks"] = { extra: ["watchers:", "  - { subscription: newHeads, routes: [canary/default] }"] };

interface StormOutcome {
  verdict: string | null;
  result: WindowResult;
  continuity: ContinuityObservation;
}

/**
 * Runs a storm window to its end: its verdict, result and continuity (asserted observed, with
 * at least `minFailovers` drops: a loaded machine may lose the last planned one).
 */
async function storm(e: E2eBed, name: string, minFailovers: number, t: TestContext): Promise<StormOutcome> {
  const id = await e.run(name);
  const { row } = await e.finished(id, 40_000);
  const r = row.result;
  assert.ok(r !== null && r.continuity !== null, `continuity observed: ${JSON.stringify(row)}`);
  t.diagnostic(`${JSON.stringify(r.continuity)} | ${r.reasons.join(" | ")}`);
  assert.ok(r.continuity.failovers >= minFailovers, `${r.continuity.failovers} failovers (at least ${minFailovers})`);
  return { verdict: row.verdict, result: r, continuity: r.continuity };
}

describe("chaos e2e: failover storm across three subscription providers, judged by the real verdict", { timeout: 60_000 }, () => {
  let e: E2eBed;

  before(async () => {
    e = await startE2eBed(shortWindow("storm-clean", storm8s), { checks: WATCHER });
  });
  after(async () => {
    await e?.stop();
  });

  test("defects off: every drop makes Lasso fail over to another provider, zero gaps and zero duplicates: pass", async (t) => {
    const { verdict, result: r, continuity: c } = await storm(e, "storm-clean", 3, t);
    assert.equal(verdict, "pass", `verdict ${verdict}: ${r.reasons.join(" | ")}`);
    assert.deepEqual([c.gaps, c.missingBlocks, c.duplicates], [0, 0, 0], "zero gaps, zero duplicates");
    assert.ok(r.reasons.some((x) => x.startsWith("continuity: 0 gaps, 0 duplicates")), r.reasons.join(" | "));
    assert.equal(r.clientSuccess.experiment, 1, `clients unaffected: ${r.clientSuccess.experiment}`);
  });
});

describe("chaos e2e: failover storm with one subscription provider (every drop misses a block), judged by the real verdict", { timeout: 90_000 }, () => {
  let e: E2eBed;

  before(async () => {
    e = await startE2eBed([...shortWindow("storm-backfill", storm9s), ...shortWindow("storm-gap", storm9s)], {
      bed: {
        chains: [{ name: "ethereum", chainId: 1, blockTimeSec: 1, providers: ["alpha", { id: "bravo", subscribeNewHeads: false }, { id: "charlie", subscribeNewHeads: false }] }],
      },
      checks: WATCHER,
    });
  });
  after(async () => {
    e?.bed.lasso.setDefects({ gapOnFailover: false });
    await e?.stop();
  });

  test("defects off: the blocks each drop missed are backfilled, zero gaps and zero duplicates: pass", async (t) => {
    const { verdict, result: r, continuity: c } = await storm(e, "storm-backfill", 2, t);
    assert.equal(verdict, "pass", `verdict ${verdict}: ${r.reasons.join(" | ")}`);
    // Each drop misses at least one block; the last drop's backfill may land after the capture closed.
    assert.ok(c.backfilledBlocks >= c.failovers - 1, `each drop missed at least one block, backfilled: ${JSON.stringify(c)}`);
    assert.deepEqual([c.gaps, c.missingBlocks, c.duplicates], [0, 0, 0], "zero gaps, zero duplicates");
  });

  test("gapOnFailover: the blocks each drop missed are lost and counted as gaps: fail", async (t) => {
    e.bed.lasso.setDefects({ gapOnFailover: true });
    let outcome: StormOutcome;
    try {
      outcome = await storm(e, "storm-gap", 2, t);
    } finally {
      e.bed.lasso.setDefects({ gapOnFailover: false });
    }
    const { verdict, result: r, continuity: c } = outcome;
    assert.equal(verdict, "fail", `verdict ${verdict}: ${r.reasons.join(" | ")}`);
    assert.ok(c.gaps >= 1 && c.missingBlocks >= c.gaps, `gaps counted: ${JSON.stringify(c)}`);
    assert.equal(c.backfilledBlocks, 0, "nothing was backfilled");
    assert.ok(r.reasons.some((x) => x.startsWith(`continuity_gaps: ${c.gaps} gaps, ${c.missingBlocks} missing blocks`)), r.reasons.join(" | "));
  });
});
