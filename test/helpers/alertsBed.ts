/**
 * The daemon (in this process) against the test bed with a plan that makes every family the
 * alert rules and the dashboard read appear in /metrics: probes on strategy routes and pins of
 * both profiles (freshness, chainId, shape, monotonic head), consistency, newHeads watchers on
 * the default route and a pin, and a chaos window on the canary profile (in-process fault
 * control, never scheduled: tests run it by name).
 */
import { mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { judgeWindow } from "../../src/chaos/verdict.js";
import { createLogger } from "../../src/log.js";
import { startDaemon, type Daemon } from "../../src/main.js";
import { loadPlan } from "../../src/plan/index.js";
import { InProcessFaultControl } from "../../sim/inProcessFaultControl.js";
import { startTestBed, type TestBed } from "../../sim/testbed.js";
import { writePlan } from "./canaryBed.js";

export const ALERTS_CHAIN = "ethereum";
export const ALERTS_PROVIDERS = ["alpha", "bravo", "charlie"] as const;
/** The watcher the silent-drop defect stalls (public profile, default strategy). */
export const DEFAULT_WATCHER = "newHeads:default";
export const CHAOS_WINDOW = "alerts-alpha-latency";

const CHECKS = [
  `chain: ${ALERTS_CHAIN}`,
  "chainId: 1",
  "blockTimeMs: 1000",
  "slo: { successRatio: 0.999, p95LatencyMs: 300, maxHeadLagBlocks: 2, maxDeliveryDelay: 3s }",
  "routes:",
  "  - { strategy: default }",
  ...ALERTS_PROVIDERS.map((p) => `  - { provider: ${p} }`),
  "  - { strategy: default, profile: canary }",
  "  - { provider: alpha, profile: canary }",
  "probes:",
  "  - method: eth_blockNumber",
  "    interval: 1s",
  "    timeout: 800ms",
  "    routes: all",
  "    assert: [shape: quantity, monotonicHead, freshness]",
  "  - method: eth_chainId",
  "    interval: 5s",
  "    timeout: 800ms",
  "    routes: pinned",
  "    assert: [chainId]",
  "consistency: { interval: 2s, depth: 2 }",
  "watch: { stallBlockTimes: 3 }",
  "watchers:",
  "  - { subscription: newHeads, routes: [default, pin:alpha] }",
  "chaos:",
  `  - name: ${CHAOS_WINDOW}`,
  '    schedule: "0 0 1 1 *"',
  "    duration: 30s",
  "    provider: alpha",
  "    fault: { kind: latency, fixedMs: 50, jitterMs: 0 }",
  "    expect: no_failover",
  "    probeInterval: 500ms",
  "    precondition: 2s",
].join("\n");

export interface AlertsBed {
  bed: TestBed;
  daemon: Daemon;
  stop(): Promise<void>;
}

export async function startAlertsBed(extraConfig: string[] = []): Promise<AlertsBed> {
  const dir = mkdtempSync(path.join(os.tmpdir(), "alerts-bed-"));
  const bed = await startTestBed({
    chains: [{ name: ALERTS_CHAIN, chainId: 1, blockTimeSec: 1, providers: [...ALERTS_PROVIDERS] }],
    extraProfiles: ["canary"],
    healthPollMs: 250,
  });
  const control = new InProcessFaultControl(bed);
  try {
    const config = writePlan(dir, { [ALERTS_CHAIN]: CHECKS }, { extraConfig });
    const env = { LASSO_URL: bed.lasso.url };
    const daemon = await startDaemon({
      plan: loadPlan(config, env), logger: createLogger("silent"), listen: { host: "127.0.0.1", port: 0 }, loadPlan: () => loadPlan(config, env),
      chaos: { control, judge: (spec, obs) => judgeWindow(spec, obs) },
    });
    return {
      bed,
      daemon,
      async stop() {
        await daemon.stop().catch(() => {});
        control.stop();
        await bed.stop();
        rmSync(dir, { recursive: true, force: true });
      },
    };
  } catch (err) {
    control.stop();
    await bed.stop();
    rmSync(dir, { recursive: true, force: true });
    throw err;
  }
}
