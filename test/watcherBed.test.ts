/**
 * Watchers against the test bed (anvil at 0.5 s blocks, three providers, the Lasso-compatible
 * target) with the traffic generator running: a clean run of 60+ blocks has every block once
 * on a strategy route and on a pin, every emitted log arrives once; an anvil_reorg is reported
 * with its depth; a restart of the target on the same port is a reconnect + client gap.
 */
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { after, before, describe, test } from "node:test";
import { MetricsSink } from "../src/metrics/registry.js";
import type { ContinuitySample } from "../src/samples.js";
import type { WatchEngine } from "../src/watchers/index.js";
import { startLassoSim, type LassoSim, type SimProfile } from "../sim/lasso/index.js";
import { startTestBed, type TestBed } from "../sim/testbed.js";
import { CANARY_PING_TOPIC, startTraffic, type Traffic } from "../sim/traffic.js";
import { WatchHarness } from "./helpers/watchHarness.js";
import { waitFor } from "./helpers/waitFor.js";

const CHAIN = "ethereum";
const BT = 500;
const PROVIDERS = ["alpha", "bravo", "charlie"] as const;

let bed: TestBed;
let dir: string;
let traffic: Traffic | null = null;
let restarted: LassoSim | null = null;
const engines = new Set<WatchEngine>();

class Watch extends WatchHarness {
  readonly metrics: MetricsSink;

  constructor(watchers: string[], extra = "") {
    const metrics = new MetricsSink({ version: "test", collectDefaults: false });
    super({
      dir, targetUrl: bed.lasso.url, chain: CHAIN, blockTimeMs: BT, providers: PROVIDERS, watchers,
      watch: `headPollInterval: 250ms, logsCheckInterval: 2s, confirmationsPerMinute: 120, reconnect: { initial: 200ms, max: 1s } ${extra}`,
      env: { EMITTER: traffic?.address ?? "0x0000000000000000000000000000000000000000" },
      sinks: [metrics],
    });
    this.metrics = metrics;
    engines.add(this.engine);
  }

  heights(watcher = "newHeads:default"): number[] {
    return this.of("delivered", watcher).map((s) => s.blockNumber ?? -1);
  }

  anomalies(watcher: string): ContinuitySample[] {
    return this.samples.filter((s) => s.watcher === watcher && s.event !== "delivered" && s.event !== "first_event");
  }

  override async stop(): Promise<void> {
    await super.stop();
    engines.delete(this.engine);
  }
}

async function anvil(method: string, params: unknown[] = []): Promise<unknown> {
  const node = bed.chains.get(CHAIN)?.node;
  assert.ok(node, `the test bed runs an anvil node for ${CHAIN}`);
  const res = await fetch(node.httpUrl, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ jsonrpc: "2.0", id: 1, method, params }) });
  const body = (await res.json()) as { result?: unknown; error?: unknown };
  assert.ok(body.error === undefined, JSON.stringify(body.error));
  return body.result;
}

async function anvilHead(): Promise<number> {
  return Number.parseInt(String(await anvil("eth_blockNumber")), 16);
}

function assertConsecutive(heights: number[], what: string): void {
  const sorted = [...heights].sort((a, b) => a - b);
  assert.deepEqual(heights, sorted, `${what}: in order`);
  for (let i = 1; i < sorted.length; i++) assert.equal(sorted[i], (sorted[i - 1] ?? 0) + 1, `${what}: consecutive, once each`);
}

before(async () => {
  dir = mkdtempSync(path.join(os.tmpdir(), "watcher-bed-"));
  bed = await startTestBed({ chains: [{ name: CHAIN, chainId: 1, blockTimeSec: BT / 1000, providers: [...PROVIDERS] }], healthPollMs: 250 });
  const node = bed.chains.get(CHAIN)?.node;
  assert.ok(node, `the test bed runs an anvil node for ${CHAIN}`);
  traffic = await startTraffic({ rpcUrl: node.httpUrl, intervalMs: 150 });
});

after(async () => {
  for (const e of engines) await e.stop();
  await traffic?.stop();
  await restarted?.stop();
  await bed?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe("watchers on the test bed", () => {
  test("clean run of 60+ blocks: every head once and in order (strategy route and pin), every log once", async (t) => {
    assert.ok(traffic, "the traffic generator started in before()");
    const w = new Watch([
      "{ subscription: newHeads, routes: [default, pin:alpha] }",
      `{ subscription: logs, routes: [default], filter: { address: "\${EMITTER}", topics: ["${CANARY_PING_TOPIC}"] } }`,
    ]);
    await waitFor(() => w.heights().length >= 61 && w.heights("newHeads:pin:alpha").length >= 61, { timeoutMs: 60_000, intervalMs: 200, message: "61 heads on both routes" });
    await traffic.stop();
    const lastTxBlock = await anvilHead();
    await waitFor(() => (w.engine.watcherStats().find((s) => s.watcher === "logs:default")?.logsCheckedTo ?? 0) >= lastTxBlock, {
      timeoutMs: 15_000,
      message: `logs compared with eth_getLogs up to block ${lastTxBlock}`,
    });
    await w.stop();

    for (const name of ["newHeads:default", "newHeads:pin:alpha"]) await t.test(name, () => {
      assert.deepEqual(w.anomalies(name).map((s) => `${s.event} ${s.blockNumber} ${s.detail}`), [], `${name}: no anomaly`);
      assertConsecutive(w.heights(name), name);
      assert.equal(w.of("first_event", name).length, 1);
      assert.ok(w.of("delivered", name).every((s) => s.backfilled === false), "live headers, nothing backfilled");
      const delays = w.of("delivered", name).map((s) => s.delayMs ?? Infinity).sort((a, b) => a - b);
      // Block timestamps have 1 s resolution: a live head arrives within about a second of its timestamp.
      assert.ok((delays[Math.floor(delays.length / 2)] ?? Infinity) < 1500, `median delay from block time ${delays[Math.floor(delays.length / 2)]} ms`);
    });

    assert.deepEqual(w.anomalies("logs:default").map((s) => `${s.event} ${s.blockNumber} ${s.detail}`), [], "logs: no missing, no duplicate");
    const checkedTo = w.engine.watcherStats().find((s) => s.watcher === "logs:default")?.logsCheckedTo ?? 0;
    const delivered = w.of("delivered", "logs:default");
    assert.ok(delivered.length >= 100, `${delivered.length} logs delivered`);
    // Independently of the watcher's own check: anvil's logs of the covered blocks all arrived once.
    const from = Math.min(...delivered.map((s) => s.blockNumber ?? Infinity)) + 1;
    const expected = await anvil("eth_getLogs", [{ address: traffic.address, fromBlock: `0x${from.toString(16)}`, toBlock: `0x${checkedTo.toString(16)}` }]);
    assert.ok(Array.isArray(expected), `eth_getLogs answered a list, got ${JSON.stringify(expected)}`);
    const got = delivered.filter((s) => (s.blockNumber ?? 0) >= from && (s.blockNumber ?? 0) <= checkedTo).length;
    assert.equal(got, expected.length, `logs of blocks ${from}-${checkedTo}: delivered ${got}, chain has ${expected.length}`);

    const text = await w.metrics.registry.metrics();
    const line = (event: string): number => Number(new RegExp(`^lasso_canary_watch_events_total\\{target="lb",chain="${CHAIN}",watcher="newHeads:default",event="${event}"\\} (\\S+)$`, "m").exec(text)?.[1] ?? NaN);
    assert.equal(line("delivered"), w.heights().length);
    assert.match(text, /lasso_canary_watch_delivery_delay_seconds_count\{target="lb",chain="ethereum",watcher="logs:default",source="block_time"\} \d+/);
    assert.match(text, /lasso_canary_watch_last_event_timestamp_seconds\{target="lb",chain="ethereum",watcher="newHeads:pin:alpha"\} \d+/);
  });

  test("anvil_reorg of depth 3 is reported as one reorg of depth 3 at the first replaced height", async () => {
    const w = new Watch(["{ subscription: newHeads, routes: [default] }"]);
    await waitFor(() => w.heights().length >= 4, { timeoutMs: 15_000, message: "4 heads" });
    const before = Math.max(...w.heights());
    await waitFor(async () => (await anvilHead()) === before, { timeoutMs: 5_000, message: "anvil at the watcher's head" });
    await anvil("anvil_reorg", [3, []]);
    const reorg = await waitFor(() => w.of("reorg")[0], { timeoutMs: 10_000, message: "a reorg" });
    await waitFor(() => Math.max(...w.heights()) >= before + 2, { timeoutMs: 10_000, message: "heads after the reorg" });
    await w.stop();
    const replacing = w.of("delivered").filter((s) => s.blockNumber === reorg.blockNumber && s.ts <= reorg.ts).at(-1);
    assert.ok(replacing, `a delivery of block ${reorg.blockNumber} at or before the reorg sample`);
    // The head when anvil reorged (a block may have been mined between our look and the call).
    const oldHead = Math.max(...w.of("delivered").filter((s) => s.ts < replacing.ts).map((s) => s.blockNumber ?? -1));
    assert.ok(oldHead === before || oldHead === before + 1, `head before the reorg ${oldHead}, looked at ${before}`);
    assert.equal(reorg.count, 3, reorg.detail ?? "");
    assert.equal(reorg.blockNumber, oldHead - 2, reorg.detail ?? "");
    assert.equal(w.of("reorg").length, 1, "one reorg, not one per replaced block");
    assert.ok(reorg.ts - replacing.ts <= 3 * BT, `reorg reported ${reorg.ts - replacing.ts} ms after the replacing block`);
    for (const e of ["gap", "duplicate", "out_of_order", "client_gap"] as const) assert.equal(w.of(e).length, 0, e);
  });

  test("the target restarts on the same port: reconnect with backoff, client_gap, the accounting resumes, no Lasso gap", async () => {
    const w = new Watch(["{ subscription: newHeads, routes: [default] }"]);
    await waitFor(() => w.heights().length >= 3, { timeoutMs: 15_000, message: "3 heads" });
    const port = bed.lasso.port;
    await bed.lasso.stop();
    const downAt = await anvilHead();
    await waitFor(async () => (await anvilHead()) >= downAt + 3, { timeoutMs: 10_000, message: "3 blocks while the target is down" });
    const profiles: SimProfile[] = [
      {
        slug: "public",
        chains: [
          {
            name: CHAIN,
            chainId: 1,
            blockTimeMs: BT,
            providers: PROVIDERS.map((id, i) => ({ id, priority: i + 1, url: bed.provider(CHAIN, id).httpUrl, wsUrl: bed.provider(CHAIN, id).wsUrl })),
          },
        ],
      },
    ];
    restarted = await startLassoSim({ profiles, port, healthPollMs: 250 });
    const gap = await waitFor(() => w.of("client_gap")[0], { timeoutMs: 15_000, message: "a client gap" });
    const resumedAt = Math.max(...w.heights());
    await waitFor(() => Math.max(...w.heights()) >= resumedAt + 4, { timeoutMs: 10_000, message: "heads after the restart" });
    await w.stop();
    const reconnect = w.of("reconnect")[0];
    assert.ok(reconnect, "a reconnect");
    assert.ok(reconnect.count >= 2, `reconnected after ${reconnect.count} attempts (the first ones were refused)`);
    assert.ok(gap.count >= 3, `client gap of ${gap.count} blocks`);
    assert.match(gap.detail ?? "", /fetched over HTTP: confirmed/);
    assert.equal(w.of("gap").length, 0, "a restart is not a Lasso gap");
    assert.equal(w.of("duplicate").length, 0);
    const after = w.of("delivered").filter((s) => s.ts >= reconnect.ts).map((s) => s.blockNumber ?? -1);
    assertConsecutive(after, "after the restart");
    assert.equal(after[0], (gap.blockNumber ?? 0) + gap.count, "the client gap ends where delivery resumed");
  });
});
