/**
 * The cost curve: how the compiled daemon's CPU, RSS, event-loop lag, store write time and
 * /report latency grow with the plan. Steps of 20, 100 and 400 HTTP probe series (10 per
 * chain: 2, 10 and 40 chains, watchers off), then 10, 50 and 200 newHeads watchers on top of
 * the 20-series plan. Each step is a fresh daemon (its own process and database) against one
 * test bed, warmed up, then measured for a fixed period; the marginal cost per series and
 * per watcher is the difference between steps over the difference in size.
 *
 * The test bed (anvil nodes, provider proxies, the Lasso-compatible target) runs in a child
 * process: its CPU is printed apart, it shares the machine. Many chain names share a few anvil
 * nodes (TestBedChainSpec.node), so 40 chains cost SCALE_NODES nodes.
 *
 * Run: `npm run build && npx tsx bench/scale.ts` (about 23 minutes with the defaults).
 * Knobs: SCALE_SERIES (default "20,100,400"; multiples of 10), SCALE_WATCHERS ("10,50,200";
 * multiples of 10; "" for none), SCALE_STEP_MS (60000, the measured period), SCALE_WARMUP_MS
 * (150000: compaction runs in the measured period), SCALE_INTERVAL (probe interval, "10s"),
 * SCALE_NODES (anvil nodes, 4),
 * SCALE_REPORTS (/report?since=24h runs after each step's measurement, 5),
 * SCALE_NODE_ARGS (flags for the daemon's node, e.g. "--cpu-prof --cpu-prof-dir=/tmp/prof"; default the shipped
 * ones, bench/nodeFlags.ts).
 */
import { spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { performance } from "node:perf_hooks";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import { startTestBed } from "../sim/testbed.js";
import { writePlan } from "../test/helpers/canaryBed.js";
import {
  cpuPct, fmt, freePort, histogramBuckets, histogramTotals, procStat, quantile, quantileBetween, TICKS_PER_SEC, treeCpuTicks, until, waitHealthy, type ProcStat,
} from "./measure.js";
import { DAEMON_NODE_FLAGS } from "./nodeFlags.js";

const list = (v: string | undefined, dflt: string): number[] =>
  (v ?? dflt).split(",").map((x) => x.trim()).filter(Boolean).map(Number);
const SERIES_STEPS = list(process.env.SCALE_SERIES, "20,100,400");
const WATCHER_STEPS = list(process.env.SCALE_WATCHERS, "10,50,200");
const STEP_MS = Number(process.env.SCALE_STEP_MS ?? 60_000);
/**
 * Long enough for the store's compaction to run in the measured period: a closed minute is
 * folded into raw rows and rollups 90 s after it ends, so the first fold comes at most 150 s
 * after the start.
 */
const WARMUP_MS = Number(process.env.SCALE_WARMUP_MS ?? 150_000);
const INTERVAL = process.env.SCALE_INTERVAL ?? "10s";
const NODES = Number(process.env.SCALE_NODES ?? 4);
const REPORTS = Number(process.env.SCALE_REPORTS ?? 5);
const NODE_ARGS = process.env.SCALE_NODE_ARGS === undefined ? DAEMON_NODE_FLAGS : process.env.SCALE_NODE_ARGS.split(" ").filter(Boolean);
const SERIES_PER_CHAIN = 10;
/** The watcher steps' probes: the first series step's plan. */
const WATCHER_BASE_SERIES = SERIES_STEPS[0] ?? 20;
const PROVIDERS = ["alpha", "bravo", "charlie"];
const PINS = PROVIDERS.map((p) => `pin:${p}`);
const BLOCK_TIME_SEC = 2;
/** Routes a watcher (one newHeads subscription each) is spread over. */
const WATCH_ROUTES = ["default", "fastest", "round-robin", ...PINS.slice(0, 2)];
const SCRAPE_EVERY_MS = 5000;

const chainName = (i: number): string => `chain${String(i).padStart(2, "0")}`;
const chainId = (i: number): number => 1000 + i;

interface BedInfo {
  lasso: string;
  pid: number;
  anvilPids: number[];
}

/** Child mode: the test bed with `chains` chain names on SCALE_NODES nodes; runs until stdin closes. */
async function runBed(chains: number): Promise<void> {
  const bed = await startTestBed({
    chains: Array.from({ length: chains }, (_, i) => ({
      name: chainName(i), chainId: chainId(i), blockTimeSec: BLOCK_TIME_SEC, providers: PROVIDERS,
      ...(i >= NODES ? { node: chainName(i % NODES) } : {}),
    })),
    // The target's own head polls (one per chain name and provider) stay well under the probes' rate.
    healthPollMs: 5000,
  });
  const anvilPids = [...new Set([...bed.chains.values()].map((c) => c.node.pid))];
  process.stdout.write(`${JSON.stringify({ lasso: bed.lasso.url, pid: process.pid, anvilPids } satisfies BedInfo)}\n`);
  await new Promise<void>((resolve) => {
    process.stdin.on("end", resolve);
    process.stdin.on("close", resolve);
    process.stdin.resume();
  });
  await bed.stop();
}

/** 10 series per chain: eth_blockNumber on 6 routes, a block on 2, eth_chainId (Lasso answers it) on 2. */
function checksFor(i: number, watchersPerChain: number): string {
  const watchNames = Math.ceil(watchersPerChain / WATCH_ROUTES.length);
  const watchers = Array.from({ length: watchersPerChain }, (_, k) => ({ name: `h${Math.floor(k / WATCH_ROUTES.length) + 1}`, route: WATCH_ROUTES[k % WATCH_ROUTES.length] }));
  const lines = [
    `chain: ${chainName(i)}`, `chainId: ${chainId(i)}`, `blockTimeMs: ${BLOCK_TIME_SEC * 1000}`,
    "routes:", "  - { strategy: default }", "  - { strategy: fastest }", "  - { strategy: round-robin }",
    ...PROVIDERS.map((p) => `  - { provider: ${p} }`),
    "probes:",
    `  - { method: eth_blockNumber, interval: ${INTERVAL}, timeout: 2s, routes: [default, fastest, round-robin, ${PINS.join(", ")}], assert: [shape: quantity, monotonicHead, freshness] }`,
    `  - { method: eth_getBlockByNumber, params: ["latest", false], interval: ${INTERVAL}, timeout: 2s, routes: [default, round-robin], assert: [shape: block] }`,
    `  - { method: eth_chainId, interval: ${INTERVAL}, timeout: 2s, routes: [default, fastest], assert: [shape: quantity] }`,
  ];
  if (watchNames > 0) {
    lines.push("watchers:");
    for (let n = 1; n <= watchNames; n++) {
      const routes = watchers.filter((w) => w.name === `h${n}`).map((w) => w.route);
      lines.push(`  - { subscription: newHeads, name: h${n}, routes: [${routes.join(", ")}] }`);
    }
  }
  return lines.join("\n");
}

interface Step {
  label: string;
  series: number;
  watchers: number;
}

interface StepFigures {
  step: Step;
  cpuPct: number;
  rssMedianMb: number;
  rssMaxMb: number;
  lagP99Ms: number;
  lagSamples: number;
  writeMeanMs: number;
  writeP99Ms: number;
  writes: number;
  compactMeanMs: number;
  compactP99Ms: number;
  compactions: number;
  reportP50Ms: number;
  reportMaxMs: number;
  probes: number;
  probeOkPct: number;
  watchEvents: number;
  bedCpuPct: number;
  anvilCpuPct: number;
  scrapeMs: number;
}

const sumOf = (text: string, name: string, filter: RegExp = /.*/): number =>
  [...text.matchAll(new RegExp(`^${name}\\{([^}]*)\\} (\\S+)$`, "gm"))].filter((m) => filter.test(m[1] ?? "")).reduce((n, m) => n + Number(m[2]), 0);

async function scrape(url: string): Promise<{ text: string; ms: number }> {
  const t = performance.now();
  const text = await (await fetch(`${url}/metrics`)).text();
  return { text, ms: performance.now() - t };
}

function bedStat(bed: BedInfo): { bed: ProcStat; anvil: number } {
  return { bed: procStat(bed.pid), anvil: bed.anvilPids.reduce((n, pid) => n + treeCpuTicks(pid), 0) };
}

async function runStep(step: Step, bed: BedInfo, root: string): Promise<StepFigures> {
  const chains = Math.max(1, step.series / SERIES_PER_CHAIN);
  const dir = mkdtempSync(path.join(root, `${step.label}-`));
  const watchersPerChain = step.watchers / chains;
  const checks = Object.fromEntries(Array.from({ length: chains }, (_, i) => [chainName(i), checksFor(i, watchersPerChain)]));
  const port = await freePort();
  const config = writePlan(dir, checks, { logLevel: "warn", budget: 5, listen: `127.0.0.1:${port}` });
  const child = spawn(process.execPath, [...NODE_ARGS, "dist/src/cli.js", "run", "--config", config], {
    env: { ...process.env, LASSO_URL: bed.lasso },
    stdio: ["ignore", "pipe", "inherit"],
  });
  child.stdout?.pipe(process.stderr);
  try {
    const pid = child.pid ?? 0;
    const url = `http://127.0.0.1:${port}`;
    await waitHealthy(url);
    process.stdout.write(`step ${step.label}: ${chains} chains, ${step.series} series at ${INTERVAL}, ${step.watchers} watchers; daemon pid ${pid}; warming up ${WARMUP_MS / 1000} s\n`);
    await until(WARMUP_MS);

    const first = await scrape(url);
    const start = procStat(pid);
    const bedStart = bedStat(bed);
    const t0 = performance.now();
    const rss: number[] = [];
    const scrapeMs: number[] = [];
    let last = first;
    while (performance.now() - t0 < STEP_MS) {
      await until(Math.min(SCRAPE_EVERY_MS, STEP_MS - (performance.now() - t0)));
      rss.push(procStat(pid).rssBytes);
      last = await scrape(url); // a scrape every 5 s, as a busy Prometheus would
      scrapeMs.push(last.ms);
    }
    const end = procStat(pid);
    const bedEnd = bedStat(bed);
    const seconds = (performance.now() - t0) / 1000;

    const reportMs: number[] = [];
    for (let r = 0; r < REPORTS; r++) {
      const t = performance.now();
      const res = await fetch(`${url}/report?since=24h`);
      const body = (await res.json()) as { chains?: unknown[] };
      reportMs.push(performance.now() - t);
      if (res.status !== 200 || (body.chains?.length ?? 0) < chains) throw new Error(`report failed: ${res.status}, ${body.chains?.length} chains`);
    }

    const lag = quantileBetween(histogramBuckets(first.text, "lasso_canary_eventloop_lag_seconds"), histogramBuckets(last.text, "lasso_canary_eventloop_lag_seconds"), 0.99);
    const phase = (p: "write" | "compact"): { mean: number; p99: number; n: number } => {
      const name = "lasso_canary_store_transaction_duration_seconds";
      const labels = `phase="${p}"`;
      const a = histogramTotals(first.text, name, labels);
      const b = histogramTotals(last.text, name, labels);
      const n = b.count - a.count;
      return { mean: ((b.sum - a.sum) / Math.max(1, n)) * 1000, p99: quantileBetween(histogramBuckets(first.text, name, labels), histogramBuckets(last.text, name, labels), 0.99).value * 1000, n };
    };
    const write = phase("write");
    const compact = phase("compact");
    const requests = (text: string, filter?: RegExp): number => sumOf(text, "lasso_canary_probe_requests_total", filter);
    const probes = requests(last.text) - requests(first.text);
    const ok = requests(last.text, /outcome="ok"/) - requests(first.text, /outcome="ok"/);
    const delivered = (text: string): number => sumOf(text, "lasso_canary_watch_events_total", /event="delivered"/);
    return {
      step,
      cpuPct: cpuPct(start, end, seconds),
      rssMedianMb: quantile(rss, 0.5) / 1e6,
      rssMaxMb: Math.max(...rss) / 1e6,
      lagP99Ms: lag.value * 1000,
      lagSamples: lag.samples,
      writeMeanMs: write.mean,
      writeP99Ms: write.p99,
      writes: write.n,
      compactMeanMs: compact.mean,
      compactP99Ms: compact.p99,
      compactions: compact.n,
      reportP50Ms: quantile(reportMs, 0.5),
      reportMaxMs: Math.max(...reportMs),
      probes,
      probeOkPct: (ok / Math.max(1, probes)) * 100,
      watchEvents: delivered(last.text) - delivered(first.text),
      bedCpuPct: cpuPct(bedStart.bed, bedEnd.bed, seconds),
      anvilCpuPct: ((bedEnd.anvil - bedStart.anvil) / TICKS_PER_SEC / seconds) * 100,
      scrapeMs: quantile(scrapeMs, 0.5),
    };
  } finally {
    await stopChild(child);
    rmSync(dir, { recursive: true, force: true });
  }
}

async function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((r) => child.once("exit", r));
  child.kill("SIGTERM");
  await exited;
}

function table(rows: StepFigures[]): string {
  const head = ["step", "series", "watchers", "CPU %", "RSS MB med/max", "lag p99 ms", "write ms mean/p99 (n)", "compact ms mean/p99 (n)", "report 24h ms p50/max", "probes ok", "blocks seen", "scrape ms", "bed CPU % (anvil)"];
  const body = rows.map((r) => [
    r.step.label, String(r.step.series), String(r.step.watchers), fmt(r.cpuPct, 2), `${fmt(r.rssMedianMb)}/${fmt(r.rssMaxMb)}`, fmt(r.lagP99Ms),
    `${fmt(r.writeMeanMs, 2)}/${fmt(r.writeP99Ms, 1)} (${r.writes})`, r.compactions === 0 ? "none" : `${fmt(r.compactMeanMs, 1)}/${fmt(r.compactP99Ms, 1)} (${r.compactions})`,
    `${fmt(r.reportP50Ms, 0)}/${fmt(r.reportMaxMs, 0)}`, `${r.probes} (${fmt(r.probeOkPct, 1)}%)`, String(r.watchEvents), fmt(r.scrapeMs, 1),
    `${fmt(r.bedCpuPct, 1)} (${fmt(r.anvilCpuPct, 1)})`,
  ]);
  const widths = head.map((h, i) => Math.max(h.length, ...body.map((b) => (b[i] ?? "").length)));
  const line = (cells: string[]): string => `| ${cells.map((c, i) => c.padEnd(widths[i] ?? 0)).join(" | ")} |`;
  return [line(head), `|${widths.map((w) => "-".repeat(w + 2)).join("|")}|`, ...body.map(line)].join("\n");
}

/** CPU and RSS added per unit between consecutive rows (and from `base` to the first). */
function marginal(rows: StepFigures[], unit: "series" | "watchers", base: StepFigures | null): string[] {
  const out: string[] = [];
  const chain = base === null ? rows : [base, ...rows];
  for (let i = 1; i < chain.length; i++) {
    const a = chain[i - 1] as StepFigures;
    const b = chain[i] as StepFigures;
    const d = b.step[unit] - a.step[unit];
    if (d <= 0) continue;
    out.push(
      `  ${a.step[unit]} -> ${b.step[unit]} ${unit}: +${fmt(((b.cpuPct - a.cpuPct) / d) * 1000, 1)} m% of a core and ` +
        `${fmt(((b.rssMedianMb - a.rssMedianMb) / d) * 1000, 0)} kB RSS (median) per added ${unit === "series" ? "series" : "watcher"}`,
    );
  }
  for (const r of rows) {
    const n = r.step[unit];
    if (n > 0) out.push(`  at ${n} ${unit}: ${fmt((r.cpuPct / n) * 1000, 1)} m% of a core per ${unit === "series" ? "series" : "watcher"} (whole daemon / ${n})`);
  }
  return out;
}

async function main(): Promise<void> {
  const steps: Step[] = [
    ...SERIES_STEPS.map((series) => ({ label: `s${series}`, series, watchers: 0 })),
    ...WATCHER_STEPS.map((watchers) => ({ label: `w${watchers}`, series: WATCHER_BASE_SERIES, watchers })),
  ];
  for (const s of steps) {
    if (s.series % SERIES_PER_CHAIN !== 0 || s.series <= 0) throw new Error(`SCALE_SERIES: ${s.series} is not a positive multiple of ${SERIES_PER_CHAIN}`);
    if (s.watchers % (s.series / SERIES_PER_CHAIN) !== 0) throw new Error(`SCALE_WATCHERS: ${s.watchers} does not split evenly over ${s.series / SERIES_PER_CHAIN} chains`);
  }
  const chains = Math.max(...steps.map((s) => s.series / SERIES_PER_CHAIN));
  const self = fileURLToPath(import.meta.url);
  const bedChild = spawn(process.execPath, ["--import", "tsx", self, "--bed", String(chains)], { stdio: ["pipe", "pipe", "inherit"] });
  const root = mkdtempSync(path.join(os.tmpdir(), "canary-scale-"));
  try {
    const firstLine = await new Promise<string>((resolve, reject) => {
      createInterface({ input: bedChild.stdout }).once("line", resolve);
      bedChild.once("exit", (code) => reject(new Error(`test bed exited with ${code}`)));
    });
    const bed = JSON.parse(firstLine) as BedInfo;
    process.stdout.write(`test bed pid ${bed.pid}: ${chains} chain names on ${bed.anvilPids.length} anvil nodes at ${bed.lasso}\n`);
    const rows: StepFigures[] = [];
    for (const step of steps) {
      const r = await runStep(step, bed, root);
      rows.push(r);
      process.stdout.write(`  ${step.label}: CPU ${fmt(r.cpuPct, 2)}%, RSS ${fmt(r.rssMedianMb)} MB, lag p99 ${fmt(r.lagP99Ms)} ms, ` +
        `${r.probes} probes (${fmt(r.probeOkPct, 1)}% ok), bed ${fmt(r.bedCpuPct, 1)}% + anvil ${fmt(r.anvilCpuPct, 1)}%\n`);
    }
    const seriesRows = rows.filter((r) => r.step.watchers === 0);
    const watcherRows = rows.filter((r) => r.step.watchers > 0);
    const base = seriesRows.find((r) => r.step.series === WATCHER_BASE_SERIES) ?? null;
    const cpuModel = /model name\s*:\s*(.*)/.exec(readFileSync("/proc/cpuinfo", "utf8"))?.[1] ?? "?";
    process.stdout.write([
      "",
      `lasso-canary cost curve: ${os.cpus().length} cores (${cpuModel}), ${fmt(os.totalmem() / 2 ** 30, 0)} GiB, node ${process.version}; ` +
        `probes every ${INTERVAL}, blocks every ${BLOCK_TIME_SEC} s, ${fmt(STEP_MS / 1000, 0)} s measured per step after ${fmt(WARMUP_MS / 1000, 0)} s of warm-up, a /metrics scrape every ${SCRAPE_EVERY_MS / 1000} s`,
      `(CPU % of one core; RSS sampled every ${SCRAPE_EVERY_MS / 1000} s; write/compact = store transactions on the event loop; report = ${REPORTS} runs of /report?since=24h after the step; ` +
        "bed = the test bed's node process, anvil = its nodes: both share the machine)",
      table(rows),
      "",
      "cost per series (watchers off):",
      ...marginal(seriesRows, "series", null),
      ...(watcherRows.length > 0 ? ["", `cost per watcher (newHeads, one subscription each, on the ${WATCHER_BASE_SERIES}-series plan):`, ...marginal(watcherRows, "watchers", base)] : []),
      "",
    ].join("\n"));
  } finally {
    bedChild.stdin?.end();
    await new Promise((r) => (bedChild.exitCode === null ? bedChild.once("exit", r) : r(null)));
    rmSync(root, { recursive: true, force: true });
  }
}

if (process.argv[2] === "--bed") await runBed(Number(process.argv[3]));
else await main();

