import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import WebSocket from "ws";
import type { FaultControl } from "../src/chaos/control.js";
import { preconditionFailure } from "../src/chaos/precondition.js";
import { ContinuityTap } from "../src/chaos/continuityTap.js";
import type { Fault } from "../src/chaos/faults.js";
import { startChaosBed, shortWindow, type ChaosBed } from "./helpers/chaosBed.js";
import { waitFor } from "./helpers/waitFor.js";

/** Records every fault the runner sets. */
function recording(inner: FaultControl, calls: Array<{ provider: string; fault: Fault; leaseMs: number; until: number }>): FaultControl {
  return {
    list: () => inner.list(),
    setFault: (chain, provider, fault, leaseMs, until) => {
      calls.push({ provider, fault, leaseMs, until });
      return inner.setFault(chain, provider, fault, leaseMs, until);
    },
    clearFault: (chain, provider) => inner.clearFault(chain, provider),
    traffic: (chain, provider, since) => inner.traffic(chain, provider, since),
  };
}

describe("failover storm", () => {
  let cb: ChaosBed;
  let client: WebSocket;

  before(async () => {
    cb = await startChaosBed([...shortWindow("storm", ["kind: failover_storm", "duration: 6s", "stormEvery: 2s", "abortFloor: 0.5", "abortWindow: 2s", "slo: { minClientSuccess: 0.5, maxRecovery: 1s }"])]);
    // A subscriber on the canary profile: Lasso then keeps one shared upstream subscription there.
    client = new WebSocket(`${cb.bed.lasso.url.replace(/^http/, "ws")}/ws/rpc/profile/canary/ethereum`);
    await new Promise<void>((resolve, reject) => {
      client.once("open", () => resolve());
      client.once("error", reject);
    });
    client.send(JSON.stringify({ jsonrpc: "2.0", id: 1, method: "eth_subscribe", params: ["newHeads"] }));
  });
  after(async () => {
    client?.close();
    await cb?.stop();
  });

  test("each drop goes to the provider serving the subscription, with a short lease never past the window's end", async () => {
    const serving = (p: string) => (cb.bed.provider("ethereum", p, "canary").counts().eth_subscription?.["ws:forwarded"] ?? 0) > 0;
    await waitFor(() => serving("alpha"), { timeoutMs: 10_000, message: "alpha (priority 1) serving the shared subscription" });
    await waitFor(() => preconditionFailure(cb.spec("storm"), cb.recent, Date.now()) === null, { timeoutMs: 20_000, message: "the precondition" });
    const calls: Array<{ provider: string; fault: Fault; leaseMs: number; until: number }> = [];
    const tap = new ContinuityTap();
    const runner = cb.runner({ control: recording(cb.control, calls), continuity: { capture: (chain, profile) => tap.capture(chain, profile) } });
    await runner.start();
    const r = runner.run("storm");
    assert.ok(r.started, JSON.stringify(r));
    await runner.idle();

    // 6 s, a drop every 2 s from the start: 3 drops (a loaded machine may lose the last one)
    assert.ok(calls.length >= 2 && calls.length <= 3, `drops: ${JSON.stringify(calls)}`);
    assert.ok(calls.every((c) => c.fault.kind === "ws_drop"), "a storm only drops WebSockets");
    assert.ok(calls.every((c) => c.leaseMs <= 1_000), `each drop is short: ${calls.map((c) => c.leaseMs).join(", ")}`);
    const row = cb.store.chaosWindows().get(r.id);
    assert.ok(row !== null && calls.every((c) => c.until === row.plannedEnd), "no drop can outlast the window");
    assert.equal(calls[0]?.provider, "alpha", "the first drop hits the provider serving the subscription");
    assert.notEqual(calls[1]?.provider, "alpha", `after the failover the next drop follows the subscription: ${calls.map((c) => c.provider).join(", ")}`);
    assert.equal(row.status, "finished");
    assert.equal(cb.judge.calls.at(-1)?.obs.continuity?.failovers, calls.length);
    for (const p of ["alpha", "bravo", "charlie"]) assert.equal(cb.bed.provider("ethereum", p, "canary").currentFault(), null, `${p} is back to pass-through`);
    await runner.stop();
  });
});
