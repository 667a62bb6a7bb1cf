import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { createLogger } from "../../src/log.js";
import { startDaemon, type Daemon } from "../../src/main.js";
import { loadPlan, type Plan } from "../../src/plan/index.js";
import { startTestBed, type TestBed, type TestBedOptions } from "../../sim/testbed.js";

export interface CanaryBed {
  bed: TestBed;
  dir: string;
  plan: Plan;
  daemon: Daemon;
  /** Stops the daemon only (the store file stays), for restart tests. */
  restartDaemon(): Promise<void>;
  stop(): Promise<void>;
}

/** Writes a config + checks into a temp dir, pointing at the test bed's Lasso target. */
export interface PlanOptions {
  budget?: number;
  logLevel?: string;
  listen?: string;
  /** Replaces the one target `lb` at ${LASSO_URL}: YAML list items under `targets:`. */
  targets?: string[];
  /** More top-level lines for the daemon config, e.g. `adminToken: ...`. */
  extraConfig?: string[];
}

export function writePlan(dir: string, checks: Record<string, string>, opts: PlanOptions = {}): string {
  mkdirSync(path.join(dir, "checks"), { recursive: true });
  const config = [
    `listen: ${opts.listen ?? "127.0.0.1:0"}`,
    "targets:",
    ...(opts.targets ?? ["  - name: lb", "    url: ${LASSO_URL}"]),
    "store: { path: canary.db, rawRetentionDays: 7, rollupRetentionDays: 90 }",
    `log: { level: ${opts.logLevel ?? "silent"} }`,
    `budget: { maxRequestsPerSecondPerChain: ${opts.budget ?? 20} }`,
    "checks: checks",
    ...(opts.extraConfig ?? []),
  ].join("\n");
  writeFileSync(path.join(dir, "canary.yaml"), config);
  for (const [name, text] of Object.entries(checks)) writeFileSync(path.join(dir, "checks", `${name}.yaml`), text);
  return path.join(dir, "canary.yaml");
}

export async function startCanaryBed(
  bedOpts: TestBedOptions, checks: Record<string, string>, planOpts: PlanOptions & { env?: Record<string, string> } = {},
): Promise<CanaryBed> {
  const dir = mkdtempSync(path.join(os.tmpdir(), "canary-test-"));
  const bed = await startTestBed(bedOpts);
  try {
    const env = { LASSO_URL: bed.lasso.url, ...planOpts.env };
    const configPath = writePlan(dir, checks, planOpts);
    const plan = loadPlan(configPath, env);
    const start = (): Promise<Daemon> =>
      startDaemon({ plan, logger: createLogger("silent"), listen: { host: "127.0.0.1", port: 0 }, loadPlan: () => loadPlan(configPath, env) });
    const handle: CanaryBed = {
      bed,
      dir,
      plan,
      daemon: await start(),
      async restartDaemon() {
        await handle.daemon.stop();
        handle.daemon = await start();
      },
      async stop() {
        await handle.daemon.stop().catch(() => {});
        await bed.stop();
        rmSync(dir, { recursive: true, force: true });
      },
    };
    return handle;
  } catch (err) {
    await bed.stop();
    rmSync(dir, { recursive: true, force: true });
    throw err;
  }
}

/** A checks file for one test-bed chain: strategy routes + every provider pin, eth_blockNumber every second. */
export function blockNumberChecks(chain: string, chainId: number, providers: string[], extra = ""): string {
  return [
    `chain: ${chain}`,
    `chainId: ${chainId}`,
    "blockTimeMs: 1000",
    "slo: { successRatio: 0.999, p95LatencyMs: 300, maxHeadLagBlocks: 2 }",
    "routes:",
    "  - { strategy: load-balanced }",
    ...providers.map((p) => `  - { provider: ${p} }`),
    "probes:",
    "  - method: eth_blockNumber",
    "    interval: 1s",
    "    timeout: 800ms",
    "    routes: all",
    "    assert: [shape: quantity, monotonicHead, freshness]",
    extra,
  ].join("\n");
}
