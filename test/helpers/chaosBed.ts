import { mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { RecentProbes } from "../../src/chaos/recentProbes.js";
import { ChaosRunner, type ChaosRunnerOptions, type Judge } from "../../src/chaos/runner.js";
import type { WindowObservations, WindowResult, WindowSpec } from "../../src/chaos/windowTypes.js";
import { RpcHttpClient } from "../../src/lasso/rpcClient.js";
import { createLogger } from "../../src/log.js";
import { loadPlan, type Plan } from "../../src/plan/index.js";
import { seriesSpecs } from "../../src/probes/fromPlan.js";
import { ProbeEngine } from "../../src/probes/engine.js";
import { Recorder } from "../../src/recorder.js";
import { SampleStore } from "../../src/store/index.js";
import { InProcessFaultControl } from "../../sim/inProcessFaultControl.js";
import { startTestBed, type TestBed, type TestBedOptions } from "../../sim/testbed.js";
import { writePlan } from "./canaryBed.js";

export interface ChaosChecksOptions {
  /** The canary providers pinned by routes (default the bed's alpha, bravo, charlie). */
  providers?: string[];
  /** More top-level lines before `chaos:`, e.g. watchers. */
  extra?: string[];
}

/** The test bed's one chain, probed on its public and canary default routes every second. */
export function chaosChecks(windows: string[], opts: ChaosChecksOptions = {}): string {
  return [
    "chain: ethereum",
    "chainId: 1",
    "blockTimeMs: 1000",
    "routes:",
    "  - { strategy: default }",
    "  - { strategy: default, profile: canary }",
    ...(opts.providers ?? ["alpha", "bravo", "charlie"]).map((p) => `  - { provider: ${p}, profile: canary }`),
    "probes:",
    "  - method: eth_blockNumber",
    "    interval: 1s",
    "    timeout: 800ms",
    "    routes: [default, canary/default]",
    ...(opts.extra ?? []),
    "chaos:",
    ...windows,
  ].join("\n");
}

/** A short window on a never-firing schedule (tests run windows by name). */
export function shortWindow(name: string, lines: string[]): string[] {
  return [
    `  - name: ${name}`,
    '    schedule: "0 0 1 1 *"',
    "    provider: alpha",
    "    probeInterval: 250ms",
    "    precondition: 2s",
    ...lines.map((l) => `    ${l}`),
  ];
}

export const BED: TestBedOptions = {
  chains: [{ name: "ethereum", chainId: 1, blockTimeSec: 1, providers: ["alpha", "bravo", "charlie"] }],
  extraProfiles: ["canary"],
};

/** Records every judgement; its verdict: the experiment met minClientSuccess or not. */
export class RecordingJudge {
  readonly calls: Array<{ spec: WindowSpec; obs: WindowObservations }> = [];
  readonly judge: Judge = (spec, obs) => {
    this.calls.push({ spec, obs });
    const ok = obs.experiment.filter((o) => o.ok).length;
    const ratio = obs.experiment.length > 0 ? ok / obs.experiment.length : null;
    const verdict: WindowResult["verdict"] = ratio === null ? "inconclusive" : ratio >= spec.slo.minClientSuccess ? "pass" : "fail";
    return {
      verdict,
      reasons: [`experiment success ${ok}/${obs.experiment.length}`],
      clientSuccess: { experiment: ratio, control: null, experimentSamples: obs.experiment.length, controlSamples: obs.control.length },
      latency: { experimentP50Ms: null, controlP50Ms: null, u: null, p: null, shift: "inconclusive" },
      failoverMs: 1234,
      breaker: { stoppedAt: null, halfOpenProbes: 0, resumedAt: null },
      recoveryMs: null,
      continuity: obs.continuity,
    };
  };
}

export interface ChaosBed {
  bed: TestBed;
  plan: Plan;
  store: SampleStore;
  control: InProcessFaultControl;
  recent: RecentProbes;
  judge: RecordingJudge;
  client: RpcHttpClient;
  spec(name: string): WindowSpec;
  /** A runner over this bed (not started). */
  runner(opts?: Partial<ChaosRunnerOptions>): ChaosRunner;
  stop(): Promise<void>;
}

export async function startChaosBed(windows: string[], bedOpts: Partial<TestBedOptions> = {}): Promise<ChaosBed> {
  const dir = mkdtempSync(path.join(os.tmpdir(), "chaos-runner-"));
  const bed = await startTestBed({ ...BED, ...bedOpts });
  const config = writePlan(dir, { ethereum: chaosChecks(windows) });
  const plan = loadPlan(config, { LASSO_URL: bed.lasso.url });
  const store = new SampleStore({ path: plan.store.path, logger: { info() {}, warn() {}, error() {} } });
  const recent = new RecentProbes(60_000);
  const recorder = new Recorder();
  recorder.addSink(recent);
  const engine = new ProbeEngine({ series: seriesSpecs(plan), consistency: [], recorder });
  engine.start();
  const control = new InProcessFaultControl(bed);
  const judge = new RecordingJudge();
  const client = new RpcHttpClient();
  const runners: ChaosRunner[] = [];
  return {
    bed, plan, store, control, recent, judge, client,
    spec(name) {
      const s = plan.chaos.find((w) => w.name === name);
      if (!s) throw new Error(`no window ${name}`);
      return s;
    },
    runner(opts = {}) {
      const r = new ChaosRunner({
        windows: plan.chaos, targets: plan.targets, control, judge: judge.judge, store: store.chaosWindows(), recent, client,
        logger: createLogger("silent"), schedule: false, ...opts,
      });
      runners.push(r);
      return r;
    },
    async stop() {
      for (const r of runners) await r.stop().catch(() => {});
      await engine.stop();
      control.stop();
      await client.close();
      store.close();
      await bed.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
