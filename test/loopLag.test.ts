import assert from "node:assert/strict";
import { performance } from "node:perf_hooks";
import { test } from "node:test";
import { LoopLag } from "../src/metrics/loopLag.js";
import { startGridTimer } from "../src/probes/grid.js";
import { waitFor } from "./helpers/waitFor.js";

/** Keeps the event loop busy: the stimulus whose lag the monitor must see. */
function blockLoop(ms: number): void {
  const until = performance.now() + ms;
  while (performance.now() < until) {
    // spin
  }
}

test("loop lag: the heartbeat reports how late it ran when the loop was blocked", async () => {
  const seen: number[] = [];
  const lag = new LoopLag((ms) => seen.push(ms), 20);
  lag.start();
  try {
    await waitFor(() => seen.length >= 2, { timeoutMs: 10_000, message: "heartbeat samples" });
    assert.deepEqual(seen.filter((ms) => ms < 0), [], "lag is never negative");
    const before = seen.length;
    blockLoop(150);
    await waitFor(() => seen.slice(before).some((ms) => ms >= 100), { timeoutMs: 10_000, message: "a late heartbeat" });
  } finally {
    lag.stop();
  }
});

test("loop lag: grid timers report their own lateness, so probes are lag samples too", async () => {
  const seen: number[] = [];
  const lag = new LoopLag((ms) => seen.push(ms));
  let fires = 0;
  const timer = startGridTimer("series-a", 40, async () => {
    fires++;
  }, { lag });
  try {
    await waitFor(() => fires >= 1, { timeoutMs: 10_000, message: "a first fire" });
    const before = seen.length;
    assert.ok(before >= 1, "every fire is a sample");
    blockLoop(150);
    await waitFor(() => seen.slice(before).some((ms) => ms >= 100), { timeoutMs: 10_000, message: "a late grid fire" });
  } finally {
    timer.stop();
  }
});
