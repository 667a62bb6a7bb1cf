import assert from "node:assert/strict";
import { mkdirSync, mkdtempSync, writeFileSync } from "node:fs";
import path from "node:path";
import { loadPlan } from "../../src/plan/index.js";
import { Recorder } from "../../src/recorder.js";
import type { ContinuityEvent, ContinuitySample, SampleSink } from "../../src/samples.js";
import { WatchEngine, watchGroupSpecs } from "../../src/watchers/index.js";

export interface WatchHarnessOptions {
  /** Directory to write the generated plan into (a fresh subdirectory per harness). */
  dir: string;
  targetUrl: string;
  chain: string;
  blockTimeMs: number;
  providers: readonly string[];
  /** Watcher entries, one YAML flow mapping each: `{ subscription: newHeads, routes: [default] }`. */
  watchers: string[];
  /** The `watch:` settings mapping's body. */
  watch: string;
  env?: Record<string, string>;
  sinks?: SampleSink[];
}

/** A WatchEngine built from a real plan for one chain, recording every continuity sample. */
export class WatchHarness {
  readonly samples: ContinuitySample[] = [];
  readonly engine: WatchEngine;

  constructor(o: WatchHarnessOptions) {
    const checks = [
      `chain: ${o.chain}`,
      "chainId: 1",
      `blockTimeMs: ${o.blockTimeMs}`,
      "routes:",
      "  - { strategy: default }",
      ...o.providers.map((p) => `  - { provider: ${p} }`),
      "probes:",
      "  - { method: eth_blockNumber, interval: 10s }",
      `watch: { ${o.watch} }`,
      "watchers:",
      ...o.watchers.map((w) => `  - ${w}`),
    ].join("\n");
    const sub = mkdtempSync(path.join(o.dir, "plan-"));
    mkdirSync(path.join(sub, "checks"));
    writeFileSync(path.join(sub, "canary.yaml"), 'targets: [{ name: lb, url: "${LASSO_URL}" }]\nbudget: { maxRequestsPerSecondPerChain: 50 }\n');
    writeFileSync(path.join(sub, "checks", `${o.chain}.yaml`), checks);
    const plan = loadPlan(path.join(sub, "canary.yaml"), { ...o.env, LASSO_URL: o.targetUrl });
    const recorder = new Recorder();
    recorder.addSink({ accept: (s) => void (s.kind === "continuity" && this.samples.push(s)) });
    for (const sink of o.sinks ?? []) recorder.addSink(sink);
    this.engine = new WatchEngine({ groups: watchGroupSpecs(plan), recorder, onError: (err) => assert.fail(`watcher bug: ${String(err)}`) });
    this.engine.start();
  }

  of(event: ContinuityEvent, watcher = "newHeads:default"): ContinuitySample[] {
    return this.samples.filter((s) => s.event === event && s.watcher === watcher);
  }

  async stop(): Promise<void> {
    await this.engine.stop();
  }
}
