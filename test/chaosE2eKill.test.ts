/**
 * Chaos windows end to end (issue 10 item 7) across real processes: the daemon, run through
 * the CLI, drives the fault proxy PROCESS over its control API and is killed with SIGKILL
 * mid-window. The proxy process keeps serving, ends the fault on its own when the lease runs
 * out (or at the window's planned end, whichever comes first), and the restarted daemon
 * records the window as aborted.
 *
 * Covered elsewhere, not repeated here: admin calls without the token answer 401
 * (test/chaosRunnerDaemon.test.ts); the proxy's control API refuses calls without its token
 * (test/proxyProcess.test.ts) and non-loopback callers (test/proxyUnits.test.ts).
 */
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { chaosChecks, shortWindow } from "./helpers/chaosBed.js";
import { ADMIN_TOKEN, exitOf, startChaosProcessBed, type ChaosProcessBed } from "./helpers/chaosProcessBed.js";
import type { CliDaemon } from "./helpers/cliDaemon.js";
import { obj } from "./helpers/json.js";
import { rpc } from "./helpers/proxyBed.js";
import { waitFor } from "./helpers/waitFor.js";

const PROVIDERS = ["alpha", "bravo"];
/** The lease the daemon asks the proxies for (DEFAULT_LEASE_MS), written out: a change there must show here. */
const LEASE_MS = 5_000;
/** How late after its bound a fault may still be seen on a loaded 2-core machine: the test's own figure. */
const SLACK_MS = 1_500;
/** The bound: never later than this after the window's planned end. */
const AFTER_PLANNED_END_MS = 1_000;
const FAULT = "fault: { kind: http_5xx, status: 503 }";

interface WindowRow {
  id: number;
  status: string;
  verdict: string | null;
  abortReason: string | null;
}

describe("chaos e2e: the daemon SIGKILLed mid-window, the proxy process ends the fault on its own", { timeout: 150_000 }, () => {
  let pb: ChaosProcessBed;
  let daemon: CliDaemon;

  before(async () => {
    const windows = [
      ...shortWindow("kill-lease", ["duration: 30s", FAULT, "expect: failover", "abortFloor: 0.5", "abortWindow: 2s", "slo: { minClientSuccess: 0.5, maxRecovery: 2s }"]),
      ...shortWindow("kill-end", ["duration: 3s", FAULT, "expect: failover", "abortFloor: 0.5", "abortWindow: 2s", "slo: { minClientSuccess: 0.5, maxRecovery: 2s }"]),
    ];
    pb = await startChaosProcessBed(PROVIDERS, chaosChecks(windows, { providers: PROVIDERS }));
    daemon = await pb.startDaemon();
  });
  after(async () => {
    await pb?.stop();
  });

  const api = (d: CliDaemon, p: string, init: RequestInit = {}): Promise<Response> => fetch(`http://${d.listen}${p}`, init);

  /** POST /api/chaos/run until the precondition lets the window start; its id and planned end. */
  async function runWindow(name: string): Promise<{ id: number; plannedEnd: number }> {
    const id = await waitFor(async () => {
      const res = await api(daemon, "/api/chaos/run", { method: "POST", headers: { authorization: `Bearer ${ADMIN_TOKEN}`, "content-type": "application/json" }, body: JSON.stringify({ name }) });
      const body = (await res.json()) as { id?: number };
      if (res.status !== 202 && res.status !== 409) throw new Error(`POST /api/chaos/run: HTTP ${res.status} ${JSON.stringify(body)}`);
      return res.status === 202 ? body.id : null;
    }, { timeoutMs: 30_000, intervalMs: 250, message: `window ${name} to start` });
    const running = obj((await (await api(daemon, "/api/chaos/windows")).json() as { running: unknown }).running, "the running window");
    assert.equal(running.id, id, "the window just started is the running one");
    return { id, plannedEnd: Number(running.plannedEnd) };
  }

  const alphaProxy = async () => (await pb.control.list()).find((p) => p.provider === "alpha");
  const alphaFault = async (): Promise<string | null> => (await alphaProxy())?.fault?.kind ?? null;
  const alphaStatus = async (): Promise<number> => (await rpc(pb.proxyUrl("alpha"), "eth_blockNumber")).status;

  /**
   * Kills the daemon with SIGKILL once the window's fault is on in the proxy process and, with
   * `renewed`, the daemon has renewed its lease once (the fault's end moved); when it died and
   * the end the first lease had.
   */
  async function killMidWindow(renewed: boolean): Promise<{ killedAt: number; firstExpiresAt: number }> {
    const first = await waitFor(async () => {
      const p = await alphaProxy();
      return p?.fault?.kind === "http_5xx" ? p.expiresAt : null;
    }, { timeoutMs: 5_000, intervalMs: 50, message: "the fault on alpha in the proxy process" });
    if (renewed) await waitFor(async () => ((await alphaProxy())?.expiresAt ?? 0) > first, { timeoutMs: LEASE_MS, intervalMs: 50, message: "the daemon to renew the lease" });
    daemon.child.kill("SIGKILL");
    await exitOf(daemon);
    return { killedAt: Date.now(), firstExpiresAt: first };
  }

  /** Polls alpha's proxy until it answers 200 within `timeoutMs`; when it did. */
  async function passThroughAt(timeoutMs: number, message: string): Promise<number> {
    await waitFor(async () => (await alphaStatus()) === 200, { timeoutMs, intervalMs: 25, message });
    return Date.now();
  }

  /** Restarts the daemon on the same store; the window as it then lists it. */
  async function restartAndRead(id: number): Promise<WindowRow> {
    daemon = await pb.startDaemon();
    return waitFor(async () => {
      const { windows } = (await (await api(daemon, "/api/chaos/windows")).json()) as { windows: WindowRow[] };
      const row = windows.find((w) => w.id === id);
      return row?.status === "finished" ? row : null;
    }, { timeoutMs: 15_000, intervalMs: 200, message: `window ${id} closed by the restarted daemon` });
  }

  test("a 30 s window, daemon killed: the proxy keeps serving and is back to pass-through within the lease; the restart records the window aborted", async (t) => {
    const { id, plannedEnd } = await runWindow("kill-lease");
    const { killedAt, firstExpiresAt } = await killMidWindow(true);
    assert.equal(pb.proxy.child.exitCode, null, "the proxy process lives on");
    assert.equal(await alphaStatus(), 503, "right after the kill the fault is still on: the lease, not the dead daemon, ends it");
    const bravo = await rpc(pb.proxyUrl("bravo"), "eth_blockNumber");
    assert.equal(bravo.status, 200, "the proxy process keeps forwarding");

    const revertAt = await passThroughAt(LEASE_MS + SLACK_MS, "alpha back to pass-through within the lease");
    const revertMs = revertAt - killedAt;
    assert.ok(revertMs <= LEASE_MS + SLACK_MS, `pass-through ${revertMs} ms after the kill (lease ${LEASE_MS} ms + slack ${SLACK_MS} ms)`);
    assert.ok(revertAt > firstExpiresAt, "the renewal had carried the fault past its first lease");
    assert.ok(revertAt < plannedEnd, "long before the window's planned end: the lease ended it");
    assert.equal(await alphaFault(), null, "the proxy process lists no fault");
    const answer = await rpc(pb.proxyUrl("alpha"), "eth_blockNumber");
    assert.match(String(obj(answer.json, "eth_blockNumber answer").result), /^0x[0-9a-f]+$/, "alpha's proxy forwards to anvil again");

    const row = await restartAndRead(id);
    assert.equal(row.verdict, "aborted");
    assert.match(row.abortReason ?? "", /^daemon restarted/);
    t.diagnostic(`pass-through ${revertMs} ms after SIGKILL (lease ${LEASE_MS} ms)`);
  });

  test("a 3 s window, daemon killed: the fault ends at the window's planned end (before the lease would), never later than 1 s after it", async (t) => {
    const { id, plannedEnd } = await runWindow("kill-end");
    // The first lease already reaches the window's end (capped there): nothing to renew.
    const { killedAt, firstExpiresAt } = await killMidWindow(false);
    assert.equal(firstExpiresAt, plannedEnd, "the lease is capped at the window's planned end");
    assert.ok(plannedEnd < killedAt + LEASE_MS, `a lease from the kill would outlast the window (planned end ${plannedEnd - killedAt} ms after the kill)`);
    const revertAt = await passThroughAt(Math.max(0, plannedEnd + AFTER_PLANNED_END_MS - Date.now()), "alpha back to pass-through by the window's planned end + 1 s");
    const lateMs = revertAt - plannedEnd;
    assert.ok(lateMs <= AFTER_PLANNED_END_MS, `pass-through ${lateMs} ms after the planned end`);
    assert.equal(await alphaFault(), null, "the proxy process lists no fault");
    assert.equal((await rpc(pb.proxyUrl("bravo"), "eth_blockNumber")).status, 200, "the proxy process still serves");

    const row = await restartAndRead(id);
    assert.equal(row.verdict, "aborted");
    assert.match(row.abortReason ?? "", /^daemon restarted/);
    t.diagnostic(`pass-through ${lateMs} ms after the planned end (${revertAt - killedAt} ms after SIGKILL)`);
  });
});
