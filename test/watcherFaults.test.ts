/**
 * Watchers against the test bed (anvil at 0.5 s blocks, three fault-proxy providers, the
 * Lasso-compatible target): each of the target's defects and each proxy WS fault is classified
 * as what it is, within 3 block times of the event that proves it. Each scenario runs its own
 * WatchEngine built from a checks file through loadPlan.
 */
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { after, afterEach, before, describe, test, type TestContext } from "node:test";
import { FaultProxy } from "../src/chaos/faultProxy.js";
import type { ContinuitySample } from "../src/samples.js";
import { NO_DEFECTS } from "../sim/lasso/index.js";
import { startTestBed, type TestBed } from "../sim/testbed.js";
import { WatchHarness } from "./helpers/watchHarness.js";
import { waitFor } from "./helpers/waitFor.js";

const CHAIN = "ethereum";
const BT = 500;
const PROVIDERS = ["alpha", "bravo", "charlie"] as const;
/** Detection must come within 3 block times of the proving event. */
const DETECT_WITHIN_MS = 3 * BT;

let bed: TestBed;
let dir: string;
let running: Watch | null = null;
let frontProxy: FaultProxy | null = null;
const latencies: string[] = [];

class Watch extends WatchHarness {
  constructor(targetUrl: string, watchers: string) {
    super({
      dir, targetUrl, chain: CHAIN, blockTimeMs: BT, providers: PROVIDERS,
      watchers: watchers.split("\n").map((l) => l.replace(/^\s*-\s*/, "")).filter(Boolean),
      watch: "headPollInterval: 250ms, confirmationsPerMinute: 120, reconnect: { initial: 200ms, max: 1s }",
    });
  }

  static start(targetUrl: string, watchers: string): Watch {
    const w = new Watch(targetUrl, watchers);
    running = w;
    return w;
  }

  highest(watcher = "newHeads:default"): number {
    return Math.max(-1, ...this.of("delivered", watcher).map((s) => s.blockNumber ?? -1));
  }

  /** Arrival of the first delivery of block n. */
  arrival(n: number, watcher = "newHeads:default"): ContinuitySample {
    const s = this.of("delivered", watcher).find((x) => x.blockNumber === n);
    assert.ok(s, `block ${n} was delivered`);
    return s;
  }

  async delivered(count: number, watcher = "newHeads:default"): Promise<void> {
    await waitFor(() => this.of("delivered", watcher).length >= count, { timeoutMs: 15_000, message: `${count} events on ${watcher}` });
  }

  override async stop(): Promise<void> {
    await super.stop();
    if (running === this) running = null;
  }
}

async function anvil(method: string, params: unknown[] = []): Promise<unknown> {
  const node = bed.chains.get(CHAIN)?.node;
  assert.ok(node, `the test bed runs an anvil node for ${CHAIN}`);
  const res = await fetch(node.httpUrl, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ jsonrpc: "2.0", id: 1, method, params }) });
  const body = (await res.json()) as { result?: unknown };
  return body.result;
}

async function anvilHead(): Promise<number> {
  return Number.parseInt(String(await anvil("eth_blockNumber")), 16);
}

async function streamCount(): Promise<number> {
  const body = (await (await fetch(`${bed.lasso.url}/_sim/status`)).json()) as { streams?: unknown[] };
  return body.streams?.length ?? 0;
}

/** Every provider refuses WS until `resume` is cleared, and at least 3 blocks are mined meanwhile. */
async function outageWithBlocks(w: Watch, resume: (typeof PROVIDERS)[number]): Promise<number> {
  for (const id of PROVIDERS) bed.provider(CHAIN, id).setFault({ kind: "ws_drop" }, 60_000);
  const seen = w.highest();
  const head = await waitFor(async () => {
    const h = await anvilHead();
    return h >= seen + 3 ? h : 0;
  }, { timeoutMs: 10_000, message: "3 blocks mined during the outage" });
  bed.provider(CHAIN, resume).clearFault();
  return head;
}

function counts(w: Watch, watcher = "newHeads:default"): Record<string, number> {
  const out: Record<string, number> = {};
  for (const s of w.samples) if (s.watcher === watcher) out[s.event] = (out[s.event] ?? 0) + s.count;
  return out;
}

function note(t: TestContext, what: string, ms: number): void {
  const line = `${what}: ${Math.round(ms)} ms (${(ms / BT).toFixed(2)} block times)`;
  latencies.push(line);
  t.diagnostic(line);
}

before(async () => {
  dir = mkdtempSync(path.join(os.tmpdir(), "watcher-faults-"));
  bed = await startTestBed({ chains: [{ name: CHAIN, chainId: 1, blockTimeSec: BT / 1000, providers: [...PROVIDERS] }], healthPollMs: 250, breakerOpenMs: 1000 });
});

after(async () => {
  await running?.stop();
  await frontProxy?.stop();
  await bed?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
  if (latencies.length > 0) console.log(`detection latencies (block time ${BT} ms):\n  ${latencies.join("\n  ")}`);
});

describe("watchers classify the target's defects and provider WS faults", () => {
  afterEach(async () => {
    await running?.stop();
    for (const id of PROVIDERS) bed.provider(CHAIN, id).clearFault();
    bed.lasso.setDefects(NO_DEFECTS);
    await waitFor(async () => (await streamCount()) === 0, { timeoutMs: 10_000, message: "no upstream stream left" });
  });

  test("provider WS drop without defect: failover backfills, no gap, no duplicate, no reconnect", async () => {
    const w = Watch.start(bed.lasso.url, "  - { subscription: newHeads, routes: [default] }");
    await w.delivered(3);
    const head = await outageWithBlocks(w, "bravo");
    await waitFor(() => w.highest() >= head + 2, { timeoutMs: 15_000, message: "heads after failover" });
    await w.stop();
    const c = counts(w);
    assert.equal(c.gap, undefined, JSON.stringify(c));
    assert.equal(c.duplicate, undefined, JSON.stringify(c));
    assert.equal(c.reconnect, undefined, "Lasso's failover is not our reconnect");
    assert.equal(c.client_gap, undefined);
    const backfilled = w.of("delivered").filter((s) => s.backfilled === true);
    assert.ok(backfilled.length >= 2, `missed blocks arrived backfilled (${backfilled.length})`);
    const heights = w.of("delivered").map((s) => s.blockNumber ?? -1);
    const first = Math.min(...heights);
    for (let h = first; h <= w.highest(); h++) assert.ok(heights.includes(h), `block ${h} delivered`);
    assert.ok(Math.max(...backfilled.map((s) => s.delayMs ?? 0)) >= 2 * BT, "backfilled blocks carry the outage in their delay");
  });

  test("gapOnFailover: a confirmed gap, within 3 block times of the block that proves it", async (t) => {
    bed.lasso.setDefects({ gapOnFailover: true });
    const w = Watch.start(bed.lasso.url, "  - { subscription: newHeads, routes: [default] }");
    await w.delivered(3);
    await outageWithBlocks(w, "bravo");
    const gap = await waitFor(() => w.of("gap")[0], { timeoutMs: 15_000, message: "a gap" });
    await w.stop();
    assert.ok(gap.count >= 3, `gap of ${gap.count} blocks`);
    assert.match(gap.detail ?? "", /confirmed over HTTP/);
    assert.doesNotMatch(gap.detail ?? "", /NOT confirmed/);
    const c = counts(w);
    assert.equal(c.duplicate, undefined);
    assert.equal(c.reconnect, undefined);
    assert.equal(c.client_gap, undefined);
    const proving = w.arrival((gap.blockNumber ?? 0) + gap.count);
    note(t, "gapOnFailover: gap after the proving block", gap.ts - proving.ts);
    assert.ok(gap.ts - proving.ts <= DETECT_WITHIN_MS, `detected ${gap.ts - proving.ts} ms after the proving block`);
  });

  test("duplicatesOnFailover: repeats reported as duplicates at once, no gap", async (t) => {
    bed.lasso.setDefects({ duplicatesOnFailover: true });
    const w = Watch.start(bed.lasso.url, "  - { subscription: newHeads, routes: [default] }");
    await w.delivered(3);
    const head = await outageWithBlocks(w, "bravo");
    await waitFor(() => w.of("duplicate").length > 0 && w.highest() >= head + 1, { timeoutMs: 15_000, message: "duplicates" });
    await w.stop();
    const dups = w.of("duplicate");
    const c = counts(w);
    assert.equal(c.gap, undefined, JSON.stringify(c));
    assert.equal(c.reconnect, undefined);
    // Every duplicate names a block that had been delivered before it.
    for (const d of dups) {
      const firstDelivery = w.arrival(d.blockNumber ?? -1);
      assert.ok(firstDelivery.ts <= d.ts, `block ${d.blockNumber} first delivered at ${firstDelivery.ts}, after its duplicate sample at ${d.ts}`);
      const redelivery = w.of("delivered").filter((s) => s.blockNumber === d.blockNumber && s.ts <= d.ts).at(-1);
      assert.ok(redelivery, `a repeat delivery of block ${d.blockNumber} before its duplicate sample`);
      note(t, `duplicatesOnFailover: duplicate of block ${d.blockNumber} after its repeat arrived`, d.ts - redelivery.ts);
      assert.ok(d.ts - redelivery.ts <= DETECT_WITHIN_MS, `duplicate reported ${d.ts - redelivery.ts} ms after the repeat arrived`);
    }
  });

  test("silentDrop: a stall with the socket open (Lasso's fault), then a gap when events resume", async (t) => {
    const w = Watch.start(bed.lasso.url, "  - { subscription: newHeads, routes: [default] }");
    await w.delivered(3);
    bed.lasso.setDefects({ silentDrop: true });
    const stall = await waitFor(() => w.of("stall")[0], { timeoutMs: 10_000, message: "a stall" });
    const last = w.of("delivered").filter((s) => s.ts <= stall.ts).at(-1);
    assert.ok(last, "a block was delivered before the stall");
    assert.equal(stall.delayMs, null, "the opening sample of a stall");
    assert.equal(stall.blockNumber, (last.blockNumber ?? 0) + 1, "the stall starts at the block after the last one delivered");
    // The proving event: the next block's expected arrival, one block time after the last one.
    note(t, "silentDrop: stall after the next block's expected arrival", stall.ts - (last.ts + BT));
    assert.ok(stall.ts - (last.ts + BT) <= DETECT_WITHIN_MS, `stall reported ${stall.ts - (last.ts + BT)} ms after the next block was due`);
    bed.lasso.setDefects({ silentDrop: false });
    const gap = await waitFor(() => w.of("gap")[0], { timeoutMs: 10_000, message: "the dropped blocks reported as a gap" });
    await w.stop();
    const closing = w.of("stall").find((s) => s.delayMs !== null);
    assert.ok(closing && (closing.delayMs ?? 0) >= 3 * BT, "the stall closed with its length");
    assert.equal(gap.blockNumber, stall.blockNumber, "the gap starts where the stall did");
    const c = counts(w);
    assert.equal(c.reconnect, undefined, "the socket stayed open");
    assert.equal(c.client_gap, undefined, "never blamed on our connection");
    const proving = w.arrival((gap.blockNumber ?? 0) + gap.count);
    note(t, "silentDrop: gap after the proving block", gap.ts - proving.ts);
    assert.ok(gap.ts - proving.ts <= DETECT_WITHIN_MS, `gap reported ${gap.ts - proving.ts} ms after the proving block`);
  });

  test("provider WS stall: the serving upstream goes quiet, a stall is reported and the blocks come backfilled", async (t) => {
    const w = Watch.start(bed.lasso.url, "  - { subscription: newHeads, routes: [default], stallBlockTimes: 2 }");
    await w.delivered(3);
    bed.provider(CHAIN, "alpha").setFault({ kind: "ws_stall" }, 60_000);
    const stall = await waitFor(() => w.of("stall")[0], { timeoutMs: 10_000, message: "a stall" });
    const last = w.of("delivered").filter((s) => s.ts <= stall.ts).at(-1);
    assert.ok(last, "a block was delivered before the stall");
    const head = await anvilHead();
    await waitFor(() => w.highest() >= head + 1, { timeoutMs: 15_000, message: "heads after Lasso's failover" });
    await w.stop();
    note(t, "provider ws_stall: stall after the next block's expected arrival", stall.ts - (last.ts + BT));
    assert.ok(stall.ts - (last.ts + BT) <= DETECT_WITHIN_MS, `stall reported ${stall.ts - (last.ts + BT)} ms after the next block was due`);
    const c = counts(w);
    assert.equal(c.gap, undefined, JSON.stringify(c));
    assert.equal(c.duplicate, undefined);
    assert.equal(c.reconnect, undefined);
    assert.ok(w.of("delivered").some((s) => s.backfilled === true && (s.blockNumber ?? 0) > (last.blockNumber ?? 0)), "the stalled blocks were backfilled");
  });

  test("our own socket cut (a proxy between the watcher and Lasso): reconnect + client_gap, never a Lasso gap", async (t) => {
    frontProxy = new FaultProxy({ name: "client-side", upstreamHttpUrl: `${bed.lasso.url}/rpc/${CHAIN}`, upstreamWsUrl: `${bed.lasso.wsUrl}/ws/rpc/${CHAIN}` });
    await frontProxy.start();
    const w = Watch.start(frontProxy.httpUrl, "  - { subscription: newHeads, routes: [default] }");
    await w.delivered(3);
    const cutAt = Date.now();
    // A network cut between us and Lasso: the open socket and every new connection are reset.
    // (Not ws_drop: its 503 on the upgrade is an answer from the target, which the watcher
    // rightly counts as upgrade_refused, i.e. Lasso's.)
    frontProxy.setFault({ kind: "reset" }, 4 * BT);
    const gap = await waitFor(() => w.of("client_gap")[0], { timeoutMs: 15_000, message: "a client gap" });
    const reconnect = w.of("reconnect")[0];
    await w.stop();
    assert.ok(reconnect, "a reconnect sample");
    assert.ok(reconnect.count >= 1, `reconnect count ${reconnect.count}`);
    assert.ok((reconnect.delayMs ?? 0) >= 4 * BT - 100, "the outage lasted the fault window");
    assert.match(reconnect.detail ?? "", /connection lost|server closed/);
    assert.ok(gap.count >= 2, `client gap of ${gap.count} blocks`);
    const c = counts(w);
    assert.equal(c.gap, undefined, `our drop is not Lasso's gap: ${JSON.stringify(c)}`);
    assert.equal(c.upgrade_refused, undefined, `a cut is not a refusal: ${JSON.stringify(c)}`);
    assert.equal(c.duplicate, undefined);
    const firstAfter = w.of("delivered").find((s) => s.ts >= reconnect.ts);
    assert.ok(firstAfter, "a block delivered after the reconnect");
    assert.equal(firstAfter.blockNumber, (gap.blockNumber ?? 0) + gap.count, "the client gap ends where delivery resumed");
    note(t, "own socket cut: reconnect after the fault window ended", reconnect.ts - (cutAt + 4 * BT));
    note(t, "own socket cut: client_gap after the first block after reconnect", gap.ts - firstAfter.ts);
    assert.ok(gap.ts - firstAfter.ts <= DETECT_WITHIN_MS, `client gap reported ${gap.ts - firstAfter.ts} ms after delivery resumed`);
    await frontProxy.stop();
    frontProxy = null;
  });
});
