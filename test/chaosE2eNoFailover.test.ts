/**
 * Chaos windows end to end (issue 10 item 7), faults that must NOT open Lasso's breaker
 * (docs/lasso-contract.md: 429s and pure latency do not count against it), judged by the real verdict.
 * Two canary providers, so alpha gets about half of the experiment's requests and a latency
 * fault on it moves the experiment's latency distribution enough for the rank test.
 */
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import type { WindowObservations } from "../src/chaos/windowTypes.js";
import { shortWindow } from "./helpers/chaosBed.js";
import { startE2eBed, type E2eBed } from "./helpers/chaosE2eBed.js";
import { waitFor } from "./helpers/waitFor.js";

const PROVIDERS = ["alpha", "bravo"];
const LATENCY_MS = 300;
/** How far into a window the breaker would long have opened had the fault counted against it (5 failures in a row). */
const BREAKER_CHECK_AFTER_MS = 4_000;

/** Requests Lasso sent alpha's proxy in [from, to): forwarded or faulted. */
function sentToAlpha(obs: WindowObservations, from: number, to: number): number {
  return obs.traffic.filter((b) => b.at >= from && b.at + 1000 <= to).reduce((n, b) => n + b.forwarded + b.faulted, 0);
}

describe("chaos e2e: faults that must not open the breaker, judged by the real verdict", { timeout: 110_000 }, () => {
  let e: E2eBed;

  before(async () => {
    e = await startE2eBed(
      [
        ...shortWindow("latency-alpha", ["duration: 8s", `fault: { kind: latency, fixedMs: ${LATENCY_MS}, jitterMs: 0 }`, "expect: no_failover", "abortWindow: 2s", "slo: { maxRecovery: 5s }"]),
        ...shortWindow("ratelimit-alpha", ["duration: 8s", "fault: { kind: http_429, retryAfterSec: 1 }", "expect: no_failover", "abortWindow: 2s", "slo: { maxRecovery: 5s }"]),
      ],
      { bed: { chains: [{ name: "ethereum", chainId: 1, blockTimeSec: 1, providers: PROVIDERS }] }, checks: { providers: PROVIDERS } },
    );
  });
  after(async () => {
    await e?.stop();
  });

  /** Waits until the running window `id` has held its fault this long. */
  const faultHeldFor = (id: number, ms: number): Promise<unknown> =>
    waitFor(() => {
      const w = e.daemon.chaos?.running();
      if (w?.id !== id) throw new Error(`window ${id} is not running (${JSON.stringify(w)})`);
      return w.started !== null && Date.now() >= w.started + ms;
    }, { timeoutMs: 15_000, message: `window ${id} ${ms} ms into its fault` });

  test("latency only: the experiment is measurably slower (Mann-Whitney, shift higher), alpha keeps serving, no breaker opens: pass", async (t) => {
    await e.untilServing("alpha");
    const id = await e.run("latency-alpha");
    await faultHeldFor(id, BREAKER_CHECK_AFTER_MS);
    const late = await e.pinned("alpha");
    assert.equal(late.outcome, "ok", `alpha's pinned route still answers late in the window: ${late.errorDetail}`);
    assert.equal(late.meta?.circuit_breaker_state, "closed", "alpha's breaker is closed late in the window");
    assert.ok(late.latencyMs >= LATENCY_MS, `and its answer carries the fault's delay (${late.latencyMs} ms)`);

    const { row, obs } = await e.finished(id, 40_000);
    const r = row.result;
    assert.ok(r !== null && obs.start !== null && obs.end !== null, "a started window with a result");
    assert.equal(row.verdict, "pass", `verdict ${row.verdict}: ${r.reasons.join(" | ")}`);
    assert.equal(r.latency.shift, "higher", `latency shift: ${JSON.stringify(r.latency)}`);
    assert.ok(r.latency.p !== null && r.latency.p < 0.01, `rank test p ${r.latency.p}`);
    assert.ok((r.latency.experimentP50Ms ?? 0) > (r.latency.controlP50Ms ?? Infinity), `experiment p50 ${r.latency.experimentP50Ms} ms > control p50 ${r.latency.controlP50Ms} ms`);
    assert.ok(r.reasons.some((x) => x.startsWith("latency_shift: ")), r.reasons.join(" | "));
    assert.equal(r.breaker.stoppedAt, null, `the upstream side saw no stop: ${JSON.stringify(r.breaker)}`);
    assert.ok(r.reasons.some((x) => x.startsWith("breaker_kept_sending: ")), r.reasons.join(" | "));
    assert.equal(r.failoverMs, null, "no failover: alpha was never routed around");
    // Clients kept being served by alpha to the end of the fault, and Lasso kept sending to it.
    const end = obs.end;
    const tail = obs.experiment.filter((o) => o.ts >= end - 2_000 && o.ts < end);
    assert.ok(tail.some((o) => o.ok && o.provider === "alpha"), `alpha served clients in the window's last 2 s: ${JSON.stringify(tail.map((o) => o.provider))}`);
    assert.ok(sentToAlpha(obs, obs.start, obs.end) > 0, `Lasso sent alpha requests during the window: ${JSON.stringify(obs.traffic)}`);
    assert.equal(r.clientSuccess.experiment, 1, `experiment success ${r.clientSuccess.experiment}`);
    t.diagnostic(`latency p50 ${r.latency.experimentP50Ms?.toFixed(0)} vs ${r.latency.controlP50Ms?.toFixed(0)} ms, U ${r.latency.u}, p ${r.latency.p?.toPrecision(3)}, ${r.clientSuccess.experimentSamples}/${r.clientSuccess.controlSamples} answers`);
  });

  test("429 from alpha: Lasso retries elsewhere, alpha's breaker never opens (as in real Lasso): no_failover passes", async (t) => {
    await e.untilServing("alpha");
    const id = await e.run("ratelimit-alpha");
    await faultHeldFor(id, BREAKER_CHECK_AFTER_MS);
    // Pinned to alpha, Lasso still dispatches to it (its 429 comes back as -32005), never
    // "No channels available", which is what an open breaker answers.
    const late = await e.pinned("alpha");
    assert.equal(late.rpcCode, -32005, `alpha's pinned route gets the rate limit, not an open circuit: ${late.errorDetail}`);
    assert.equal(late.meta?.circuit_breaker_state, "closed", `alpha's breaker is closed late in the window: ${JSON.stringify(late.meta)}`);

    const { row, obs } = await e.finished(id, 40_000);
    const r = row.result;
    assert.ok(r !== null && obs.start !== null && obs.end !== null, "a started window with a result");
    assert.equal(row.verdict, "pass", `verdict ${row.verdict}: ${r.reasons.join(" | ")}`);
    assert.equal(r.breaker.stoppedAt, null, `no stop seen upstream: ${JSON.stringify(r.breaker)}`);
    assert.ok(r.reasons.some((x) => x.startsWith("breaker_kept_sending: ")), r.reasons.join(" | "));
    assert.equal(r.clientSuccess.experiment, 1, `Lasso answered every client from bravo: ${r.clientSuccess.experiment}`);
    assert.ok(obs.traffic.some((b) => b.at >= (obs.start ?? 0) + BREAKER_CHECK_AFTER_MS - 1000 && b.faulted > 0), `alpha's proxy met 429s late in the window: ${JSON.stringify(obs.traffic)}`);
    t.diagnostic(`${r.clientSuccess.experimentSamples} experiment answers, breaker ${JSON.stringify(r.breaker)}`);
  });
});
