// What `npm run demo` starts, as a function the CLI (sim/demo.ts) and the tests share: the test
// bed, traffic to its log emitter, the daemon on the demo plan, and optionally one scenario.
import { mkdirSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { createLogger, type Logger } from "../src/log.js";
import { startDaemon, type Daemon } from "../src/main.js";
import { loadPlan, type Plan } from "../src/plan/index.js";
import type { Report } from "../src/report/index.js";
import { applyScenario, describeRow, type AppliedScenario, type ExpectedFailure, type Scenario } from "./scenarios.js";
import { DEFAULT_TESTBED, startTestBed, type TestBed } from "./testbed.js";
import { startTraffic, type Traffic } from "./traffic.js";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
export const DEMO_CONFIG = path.join(root, "config/demo/canary.yaml");

/** A scenario is judged on what happens after it starts: within this much of it, its row fails. */
export const SCENARIO_FAILS_WITHIN_MS = 60_000;
/** Longest wait for the demo to be warm (the expected row's route probed, its watcher delivering). */
const WARM_UP_TIMEOUT_MS = 90_000;
const WARM_UP_POLL_MS = 1000;
/** Failover scenarios need heads delivered before the failover, or there is nothing to lose. */
const WARM_HEADS = 3;

export interface DemoOptions {
  /** Variables the plan reads (CANARY_LISTEN, CANARY_DB, LOG_LEVEL, PROBE_INTERVAL); LASSO_URL is set here. */
  env: NodeJS.ProcessEnv;
  /** Default: "warn" unless LOG_LEVEL is set, then the plan's level. */
  logger?: Logger;
  scenario?: Scenario;
}

export interface Demo {
  bed: TestBed;
  plan: Plan;
  daemon: Daemon;
  traffic: Traffic[];
  /**
   * The scenario, applied once the demo is warm (null without one). Rejects when the demo does
   * not warm up in time or is stopped first.
   */
  scenario: Promise<AppliedScenario> | null;
  stop(): Promise<void>;
}

/** Starts the demo; on any failure everything started so far is stopped and the error thrown. */
export async function startDemo(opts: DemoOptions): Promise<Demo> {
  const bed = await startTestBed(DEFAULT_TESTBED);
  const traffic: Traffic[] = [];
  try {
    // Transactions to a log-emitting contract on every chain, so the logs watchers have events.
    // Deployed first from account 0, it lands at the address config/demo/checks/*.yaml filter on.
    for (const chain of bed.chains.values()) traffic.push(await startTraffic({ rpcUrl: chain.node.httpUrl, intervalMs: 1000 }));
    const plan = loadPlan(DEMO_CONFIG, { ...opts.env, LASSO_URL: bed.lasso.url });
    mkdirSync(path.dirname(plan.store.path), { recursive: true });
    const logger = opts.logger ?? createLogger(opts.env.LOG_LEVEL === undefined ? "warn" : plan.log.level);
    const daemon = await startDaemon({ plan, logger });
    const halt = new AbortController();
    let applied: AppliedScenario | null = null;
    const scenario = opts.scenario
      ? waitUntilWarm(daemon.url, opts.scenario.expect, halt.signal).then(() => {
          if (!opts.scenario || halt.signal.aborted) throw new Error("the demo stopped before its scenario started");
          applied = applyScenario(bed, opts.scenario);
          return applied;
        })
      : null;
    // The caller may never await it (Ctrl-C during warm-up): do not let that rejection go unhandled.
    scenario?.catch(() => undefined);
    let stopped: Promise<void> | null = null;
    return {
      bed, plan, daemon, traffic, scenario,
      stop() {
        stopped ??= (async () => {
          halt.abort();
          applied?.stop();
          await daemon.stop();
          await Promise.all(traffic.map((t) => t.stop()));
          await bed.stop();
        })();
        return stopped;
      },
    };
  } catch (err) {
    await Promise.all(traffic.map((t) => t.stop().catch(() => undefined)));
    await bed.stop();
    throw err;
  }
}

/** Polls the daemon's own report until the expected row's route is probed (and its watcher delivers). */
async function waitUntilWarm(daemonUrl: string, e: ExpectedFailure, signal: AbortSignal): Promise<void> {
  const since = Date.now() / 1000;
  const deadline = Date.now() + WARM_UP_TIMEOUT_MS;
  while (!signal.aborted) {
    const res = await fetch(`${daemonUrl}/report?since=${since.toFixed(3)}&chain=${e.chain}`, { signal }).catch(() => null);
    if (res?.ok && isWarm((await res.json()) as Report, e)) return;
    if (Date.now() > deadline) throw new Error(`the demo did not warm up within ${WARM_UP_TIMEOUT_MS / 1000} s for ${describeRow(e)}`);
    await new Promise((resolve) => setTimeout(resolve, WARM_UP_POLL_MS));
  }
  throw new Error("the demo stopped before its scenario started");
}

function isWarm(r: Report, e: ExpectedFailure): boolean {
  const chain = r.chains.find((c) => c.chain === e.chain);
  if (!chain) return false;
  if (e.watcher !== null) return (chain.continuity.watchers.find((w) => w.watcher === e.watcher)?.delivered ?? 0) >= WARM_HEADS;
  return chain.series.some((s) => s.route === e.route && s.ok > 0);
}

/** The report URL to watch a scenario in: from its start, its chain only. */
export function scenarioReportUrl(daemonUrl: string, e: ExpectedFailure, appliedAt: number): string {
  return `${daemonUrl}/report?since=${Math.floor(appliedAt / 1000)}&chain=${e.chain}&format=md`;
}
