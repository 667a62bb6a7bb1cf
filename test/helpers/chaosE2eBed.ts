/**
 * Chaos windows end to end in one process: the test bed (anvil, fault proxies, the Lasso sim
 * with a `canary` profile), the daemon with the plan's probes, watchers and chaos runner, the
 * REAL verdict (judgeWindow, as productionChaos wires it), and the bed's canary proxies driven
 * through InProcessFaultControl. Windows are started through POST /api/chaos/run.
 */
import { mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { judgeWindow } from "../../src/chaos/verdict.js";
import type { WindowObservations } from "../../src/chaos/windowTypes.js";
import { RpcHttpClient, type RpcCallResult } from "../../src/lasso/rpcClient.js";
import { createLogger } from "../../src/log.js";
import { startDaemon, type Daemon } from "../../src/main.js";
import { routePath } from "../../src/plan/build.js";
import { loadPlan } from "../../src/plan/index.js";
import { probeUrl } from "../../src/probes/fromPlan.js";
import type { ChaosWindowRecord } from "../../src/store/chaosWindows.js";
import { InProcessFaultControl } from "../../sim/inProcessFaultControl.js";
import { startTestBed, type TestBed, type TestBedOptions } from "../../sim/testbed.js";
import { BED, chaosChecks, type ChaosChecksOptions } from "./chaosBed.js";
import { writePlan } from "./canaryBed.js";
import { waitFor } from "./waitFor.js";

export const ADMIN_TOKEN = "chaos-e2e-admin-token-0123456789";
/** The runner reads traffic from this long before a window (its default trafficLeadMs). */
const TRAFFIC_BASELINE_MS = 10_000;

export interface E2eBedOptions {
  bed?: Partial<TestBedOptions>;
  checks?: ChaosChecksOptions;
  /** The runner's lease (default DEFAULT_LEASE_MS). */
  leaseMs?: number;
}

export interface FinishedWindow {
  row: ChaosWindowRecord;
  obs: WindowObservations;
}

export interface E2eBed {
  bed: TestBed;
  daemon: Daemon;
  /**
   * Asks POST /api/chaos/run (admin token) until the window's precondition lets it start; its id.
   * First waits for TRAFFIC_BASELINE_MS of upstream traffic history: the breaker view judges
   * "Lasso stopped sending" against the rate before the fault (the proxy process keeps an
   * hour of it; a freshly started bed has none).
   */
  run(name: string): Promise<number>;
  /** The window once it is recorded finished, with what it observed. */
  finished(id: number, timeoutMs: number): Promise<FinishedWindow>;
  /** eth_blockNumber over HTTP on the canary profile's route pinned to `provider`, with routing metadata. */
  pinned(provider: string): Promise<RpcCallResult>;
  /**
   * Waits until `provider` serves canary clients with its HTTP breaker closed (a window left
   * before may have opened it): the next window starts from a provider Lasso routes to.
   */
  untilServing(provider: string): Promise<void>;
  stop(): Promise<void>;
}

export async function startE2eBed(windows: string[], opts: E2eBedOptions = {}): Promise<E2eBed> {
  const dir = mkdtempSync(path.join(os.tmpdir(), "chaos-e2e-"));
  const bed = await startTestBed({ ...BED, ...opts.bed });
  const control = new InProcessFaultControl(bed);
  let daemon: Daemon;
  try {
    const config = writePlan(dir, { ethereum: chaosChecks(windows, opts.checks) }, { extraConfig: [`adminToken: ${ADMIN_TOKEN}`] });
    const env = { LASSO_URL: bed.lasso.url };
    daemon = await startDaemon({
      plan: loadPlan(config, env),
      logger: createLogger("silent"),
      listen: { host: "127.0.0.1", port: 0 },
      chaos: { control, judge: (spec, obs) => judgeWindow(spec, obs), ...(opts.leaseMs !== undefined ? { leaseMs: opts.leaseMs } : {}) },
    });
  } catch (err) {
    control.stop();
    await bed.stop();
    rmSync(dir, { recursive: true, force: true });
    throw err;
  }
  const windowsStore = daemon.store.chaosWindows();
  const client = new RpcHttpClient({ connectionsPerOrigin: 2 });
  const pinned = (provider: string): Promise<RpcCallResult> =>
    client.call(probeUrl(bed.lasso.url, routePath({ profile: "canary", provider }, "ethereum"), "http"), "eth_blockNumber", [], 5_000, {});
  return {
    bed,
    daemon,
    async run(name) {
      await waitFor(async () => (await control.traffic("ethereum", "alpha", Date.now() - TRAFFIC_BASELINE_MS)).length > TRAFFIC_BASELINE_MS / 1000, {
        timeoutMs: 2 * TRAFFIC_BASELINE_MS, intervalMs: 250, message: "10 s of upstream traffic history",
      });
      const started = await waitFor(
        async () => {
          const res = await fetch(`${daemon.url}/api/chaos/run`, {
            method: "POST",
            headers: { authorization: `Bearer ${ADMIN_TOKEN}`, "content-type": "application/json" },
            body: JSON.stringify({ name }),
          });
          const body = (await res.json()) as { id?: number; error?: string };
          if (res.status === 202 && typeof body.id === "number") return body.id;
          if (res.status !== 409) throw new Error(`POST /api/chaos/run ${name}: HTTP ${res.status} ${JSON.stringify(body)}`);
          return null;
        },
        { timeoutMs: 30_000, intervalMs: 250, message: `window ${name} to pass its precondition and start` },
      );
      return started;
    },
    async finished(id, timeoutMs) {
      const row = await waitFor(() => {
        const r = windowsStore.get(id);
        return r?.status === "finished" ? r : null;
      }, { timeoutMs, intervalMs: 100, message: `window ${id} to be recorded finished` });
      const obs = windowsStore.observations(id);
      if (obs === null) throw new Error(`window ${id} has no observations recorded`);
      return { row, obs };
    },
    pinned,
    async untilServing(provider) {
      await waitFor(async () => {
        const r = await pinned(provider);
        return r.outcome === "ok" && r.meta?.circuit_breaker_state === "closed";
      }, { timeoutMs: 30_000, intervalMs: 200, message: `canary ${provider} serving clients with its breaker closed` });
    },
    async stop() {
      await daemon.stop().catch(() => {});
      await client.close();
      control.stop();
      await bed.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
