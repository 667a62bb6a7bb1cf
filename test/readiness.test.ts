import { describe, test, before, after } from "node:test";
import assert from "node:assert/strict";
import Database from "better-sqlite3";
import { createServer } from "node:net";
import { AnswerTracker, readinessReasons, type ReadinessInput } from "../src/server/readiness.js";
import type { StoreStats } from "../src/store/index.js";
import { blockNumberChecks, startCanaryBed, type CanaryBed } from "./helpers/canaryBed.js";
import { probeSample } from "./helpers/storeFixtures.js";
import { waitFor } from "./helpers/waitFor.js";

/** A loopback port nothing listens on: bound once, then closed. */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const address = server.address();
  if (address === null || typeof address === "string") throw new Error("no port");
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return address.port;
}

async function readyz(c: CanaryBed): Promise<{ status: number; reasons: string[] }> {
  const res = await fetch(`${c.daemon.url}/readyz`);
  const body = (await res.json()) as { status: string; reasons: string[] };
  assert.equal(body.status, res.status === 200 ? "ready" : "not_ready", "status field agrees with the HTTP status");
  return { status: res.status, reasons: body.reasons };
}

/** Waits until /readyz gives a reason starting with `prefix`; returns the answer and that reason. */
async function reasonFor(c: CanaryBed, prefix: string): Promise<{ status: number; reason: string }> {
  return waitFor(async () => {
    const x = await readyz(c);
    const reason = x.reasons.find((m) => m.startsWith(prefix));
    return reason === undefined ? null : { status: x.status, reason };
  }, { timeoutMs: 30_000, message: `a /readyz reason starting with ${JSON.stringify(prefix)}` });
}

async function healthz(c: CanaryBed): Promise<number> {
  return (await fetch(`${c.daemon.url}/healthz`)).status;
}

// Two targets: `lb` is the test bed's Lasso, `gone` a closed loopback port. Every probe runs
// each second, so a target is silent after 3 s without a well-formed answer.
describe("/readyz tells why the canary cannot be trusted; /healthz stays liveness only", { timeout: 150_000 }, () => {
  let c: CanaryBed;
  before(async () => {
    const port = await closedPort();
    c = await startCanaryBed(
      { chains: [{ name: "ethereum", chainId: 1, blockTimeSec: 1, providers: ["alpha", "bravo"] }] },
      { ethereum: blockNumberChecks("ethereum", 1, ["alpha", "bravo"]) },
      { targets: ["  - name: lb", "    url: ${LASSO_URL}", "  - name: gone", `    url: http://127.0.0.1:${port}`] },
    );
  });
  after(async () => {
    await c?.stop();
  });

  test("a target nobody answers on fails readiness by name once the start-up grace is over; the answering one is not named", async () => {
    const r = await reasonFor(c, "target gone:");
    assert.equal(r.status, 503);
    assert.match(r.reason, /^target gone: no well-formed answer since start \d+ s ago \(limit 3 s: 3 x its longest probe interval\)$/);
    assert.deepEqual((await readyz(c)).reasons.filter((m) => m.startsWith("target lb")), [], "lb answers");
    assert.equal(await healthz(c), 200, "liveness is not readiness");
  });

  test("store writes that fail (another connection holds the write lock) fail readiness with the database's reason, and clear once writes commit", async () => {
    const lock = new Database(c.plan.store.path);
    try {
      lock.pragma("busy_timeout = 5000");
      lock.exec("BEGIN IMMEDIATE");
      const r = await reasonFor(c, "store writes failing");
      assert.equal(r.status, 503);
      assert.match(r.reason,
        /^store writes failing since \d{4}-\d\d-\d\dT[\d:.]+Z \(\d+ failed writes so far, \d+ samples queued\): database is locked$/);
      assert.ok(c.daemon.store.stats().writeErrors > 0, "the store counted the failed writes");
      assert.equal(await healthz(c), 200, "liveness is not readiness");
    } finally {
      lock.exec("ROLLBACK");
      lock.close();
    }
    await waitFor(async () => !(await readyz(c)).reasons.some((m) => m.startsWith("store")), {
      timeoutMs: 30_000, message: "the store reason to clear once the lock is gone",
    });
  });

  test("a target that answered and then stops fails readiness with the time of its last answer", async () => {
    await waitFor(async () => !(await readyz(c)).reasons.some((m) => m.startsWith("target lb")), { timeoutMs: 10_000, message: "lb answering" });
    await c.bed.lasso.stop();
    const r = await reasonFor(c, "target lb:");
    assert.equal(r.status, 503);
    assert.match(r.reason,
      /^target lb: no well-formed answer for \d+ s, last at \d{4}-\d\d-\d\dT[\d:.]+Z \(limit 3 s: 3 x its longest probe interval\)$/);
    assert.equal(await healthz(c), 200, "liveness is not readiness");
  });
});

describe("readinessReasons (clock given)", () => {
  const stats = (over: Partial<StoreStats> = {}): StoreStats => ({
    queued: 0, written: 0, dropped: 0, rejected: 0, writeErrors: 0, lastWriteDurationMs: 0, lastWriteAt: 0,
    failingSince: null, lastWriteError: null, compacted: 0, lastCompactDurationMs: 0, compactErrors: 0, pruned: 0, pruneErrors: 0,
    namesOverflowed: { provider: 0, errorClass: 0, circuit: 0, assertion: 0 }, namesCached: 0,
    ...over,
  });
  const START = 1_000_000;
  const input = (over: Partial<ReadinessInput>): ReadinessInput => ({
    now: START, startedAt: START, store: stats(), answers: new AnswerTracker(() => START),
    silenceLimits: new Map([["lb", 3000]]), planMismatches: [], ...over,
  });

  const cases: { name: string; over: () => Partial<ReadinessInput>; want: string[] }[] = [
    { name: "before start", over: () => ({ startedAt: null }), want: ["probes not started"] },
    { name: "within the start-up grace, nothing heard yet", over: () => ({ now: START + 3000 }), want: [] },
    {
      name: "past the grace, nothing heard",
      over: () => ({ now: START + 3001 }),
      want: ["target lb: no well-formed answer since start 3 s ago (limit 3 s: 3 x its longest probe interval)"],
    },
    {
      name: "a JSON-RPC error answer counts as an answer",
      over: () => {
        const answers = new AnswerTracker(() => START + 2000);
        answers.accept(probeSample(START, { target: "lb", outcome: "error", errorClass: "rpc_-32000" }));
        return { now: START + 5000, answers };
      },
      want: [],
    },
    {
      name: "a timeout does not",
      over: () => {
        const answers = new AnswerTracker(() => START + 2000);
        answers.accept(probeSample(START, { target: "lb", outcome: "error", errorClass: "timeout" }));
        return { now: START + 5000, answers };
      },
      want: ["target lb: no well-formed answer since start 5 s ago (limit 3 s: 3 x its longest probe interval)"],
    },
    {
      name: "samples queued, nothing committed for over 30 s, no failed write",
      over: () => ({ now: START + 31_000, silenceLimits: new Map(), store: stats({ queued: 7, lastWriteAt: START }) }),
      want: ["store has committed nothing for 31 s with 7 samples queued"],
    },
    {
      name: "queued but committed 30 s ago: not stuck yet",
      over: () => ({ now: START + 30_000, silenceLimits: new Map(), store: stats({ queued: 7, lastWriteAt: START }) }),
      want: [],
    },
  ];
  for (const c of cases) {
    test(c.name, () => {
      assert.deepEqual(readinessReasons(input(c.over())), c.want);
    });
  }
});
