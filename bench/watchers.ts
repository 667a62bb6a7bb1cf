/**
 * Watcher cost per subscription: 20 concurrent subscriptions (16 newHeads, 4 logs, each on its
 * own socket) against the local test bed at 1 s blocks with transaction traffic, for a steady
 * window after a warm-up. The test bed (anvil, proxies, the Lasso-compatible target, traffic)
 * runs in a child process so this process's CPU and memory are the watchers' alone.
 * Run: `npx tsx bench/watchers.ts` (about 90 s; BENCH_STEADY_MS to change the window).
 */
import { spawn } from "node:child_process";
import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { monitorEventLoopDelay, performance } from "node:perf_hooks";
import { createInterface } from "node:readline";
import v8 from "node:v8";
import vm from "node:vm";
import { fileURLToPath } from "node:url";
import { loadPlan } from "../src/plan/index.js";
import { Recorder } from "../src/recorder.js";
import { WatchEngine, watchGroupSpecs } from "../src/watchers/index.js";
import { startTestBed } from "../sim/testbed.js";
import { CANARY_PING_TOPIC, startTraffic } from "../sim/traffic.js";

const WARMUP_MS = Number(process.env.BENCH_WARMUP_MS ?? 15_000);
const STEADY_MS = Number(process.env.BENCH_STEADY_MS ?? 60_000);
const ROUTES = ["default", "pin:alpha", "pin:bravo", "pin:charlie"];
const HEAD_NAMES = ["h1", "h2", "h3", "h4"];

/** Child mode: the test bed and traffic; prints {lasso, emitter} and runs until stdin closes. */
async function runBed(): Promise<void> {
  const bed = await startTestBed({ chains: [{ name: "ethereum", chainId: 1, blockTimeSec: 1, providers: ["alpha", "bravo", "charlie"] }] });
  const node = bed.chains.get("ethereum")?.node;
  if (!node) throw new Error("no node");
  const traffic = await startTraffic({ rpcUrl: node.httpUrl, intervalMs: 250 });
  process.stdout.write(`${JSON.stringify({ lasso: bed.lasso.url, emitter: traffic.address })}\n`);
  await new Promise<void>((resolve) => {
    process.stdin.on("end", resolve);
    process.stdin.on("close", resolve);
    process.stdin.resume();
  });
  await traffic.stop();
  await bed.stop();
}

function gc(): void {
  v8.setFlagsFromString("--expose-gc");
  (vm.runInNewContext("gc") as () => void)();
}

function checks(emitter: string): string {
  return [
    "chain: ethereum",
    "chainId: 1",
    "blockTimeMs: 1s",
    "routes:",
    "  - { strategy: default }",
    "  - { provider: alpha }",
    "  - { provider: bravo }",
    "  - { provider: charlie }",
    "probes:",
    "  - { method: eth_blockNumber, interval: 10s }",
    "watch: { logsCheckInterval: 5s, confirmationsPerMinute: 12 }",
    "watchers:",
    ...HEAD_NAMES.map((n) => `  - { subscription: newHeads, name: ${n}, routes: [${ROUTES.join(", ")}] }`),
    `  - { subscription: logs, routes: [${ROUTES.join(", ")}], filter: { address: "${emitter}", topics: ["${CANARY_PING_TOPIC}"] } }`,
  ].join("\n");
}

async function main(): Promise<void> {
  const self = fileURLToPath(import.meta.url);
  const child = spawn(process.execPath, ["--import", "tsx", self, "--bed"], { stdio: ["pipe", "pipe", "inherit"] });
  const first = await new Promise<string>((resolve, reject) => {
    const rl = createInterface({ input: child.stdout });
    rl.once("line", resolve);
    child.once("exit", (code) => reject(new Error(`test bed exited with ${code}`)));
  });
  const { lasso, emitter } = JSON.parse(first) as { lasso: string; emitter: string };
  const dir = mkdtempSync(path.join(os.tmpdir(), "bench-watchers-"));
  try {
    mkdirSync(path.join(dir, "checks"));
    writeFileSync(path.join(dir, "canary.yaml"), `targets: [{ name: lb, url: "${lasso}" }]\nbudget: { maxRequestsPerSecondPerChain: 50 }\n`);
    writeFileSync(path.join(dir, "checks", "ethereum.yaml"), checks(emitter));
    const plan = loadPlan(path.join(dir, "canary.yaml"), {});
    const groups = watchGroupSpecs(plan);
    const subscriptions = groups.reduce((n, g) => n + g.watchers.length, 0);

    let samples = 0;
    let anomalies = 0;
    const recorder = new Recorder();
    recorder.addSink({
      accept: (s) => {
        samples += 1;
        if (s.kind === "continuity" && s.event !== "delivered" && s.event !== "first_event") anomalies += 1;
      },
    });
    gc();
    const heap0 = process.memoryUsage();
    const engine = new WatchEngine({ groups, recorder, onError: (err, what) => console.error(what, err) });
    engine.start();
    await new Promise((r) => setTimeout(r, WARMUP_MS));

    const lag = monitorEventLoopDelay({ resolution: 10 });
    lag.enable();
    const events0 = engine.stats().events;
    const samples0 = samples;
    const cpu0 = process.cpuUsage();
    const t0 = performance.now();
    await new Promise((r) => setTimeout(r, STEADY_MS));
    const cpu = process.cpuUsage(cpu0);
    const wall = performance.now() - t0;
    lag.disable();
    const stats = engine.stats();
    gc();
    const heap1 = process.memoryUsage();
    await engine.stop();

    const cpuMs = (cpu.user + cpu.system) / 1000;
    const mb = (b: number): string => `${b >= 0 ? "+" : ""}${(b / 1024 / 1024).toFixed(1)}`;
    const perSubKb = (b: number): string => (b / 1024 / subscriptions).toFixed(0);
    console.log(
      [
        `figures (watchers: ${subscriptions} subscriptions = 16 newHeads + 4 logs on ${ROUTES.length} routes, 1 s blocks, ~4 tx/s, ${Math.round(wall / 1000)} s steady after ${WARMUP_MS / 1000} s warm-up, node ${process.version}):`,
        `  cpu            ${((cpuMs / wall) * 100).toFixed(2)}% of one core in total; ${((cpuMs / wall / subscriptions) * 100).toFixed(3)}% per subscription (${((cpuMs / subscriptions / wall) * 60_000).toFixed(0)} ms CPU per subscription-minute)`,
        `  heap (post-GC) ${mb(heap1.heapUsed - heap0.heapUsed)} MB in total; ${perSubKb(heap1.heapUsed - heap0.heapUsed)} KB per subscription`,
        `  rss            ${(heap1.rss / 1024 / 1024).toFixed(1)} MB for the whole process (node + tsx + the watchers)`,
        `  events         ${stats.events - events0} in the window (${(((stats.events - events0) / wall) * 1000).toFixed(1)}/s), ${samples - samples0} samples; anomalies since start: ${anomalies}; reconnects ${stats.reconnects}; malformed ${stats.malformedFrames}`,
        `  event loop     lag p99 ${(lag.percentile(99) / 1e6).toFixed(1)} ms, max ${(lag.max / 1e6).toFixed(1)} ms`,
        `  http           head polls ${stats.http.headPolls}, lookups ${stats.http.lookups}, eth_getLogs ${stats.http.getLogs} (since start)`,
      ].join("\n"),
    );
  } finally {
    child.stdin.end();
    await new Promise((r) => child.once("exit", r));
    rmSync(dir, { recursive: true, force: true });
  }
}

if (process.argv.includes("--bed")) await runBed();
else await main();
