/**
 * lasso-canary against what an SRE would deploy instead: Prometheus's blackbox_exporter,
 * driven by a Prometheus server, POSTing the same JSON-RPC bodies to the same series at the
 * same rate. One test bed (anvil behind the Lasso-compatible target, sim/testbed.ts) serves
 * both at once; the compiled daemon, /usr/bin/prometheus-blackbox-exporter and
 * /usr/bin/prometheus run as plain processes on loopback with temporary configs. Every
 * process's RSS, private memory and CPU time is sampled from /proc over a fixed window;
 * both systems must have done every probe at ~100% success, or the run fails.
 *
 * Run: `npm run build && npx tsx bench/peers.ts` (about 4 minutes). Knobs:
 *   PEERS_SERIES (20)        probe series, 10 per chain
 *   PEERS_INTERVAL_S (5)     probe interval of every series
 *   PEERS_DURATION_S (180)   measurement window, after PEERS_WARMUP_S (30) of warm-up
 *   PEERS_WATCHERS=1         also the demo's watchers in lasso-canary (newHeads on the default
 *                            route and every pin, logs of a contract the bench sends 1 tx/s to):
 *                            the check is then its RSS < 100 MB; the peers have no equivalent
 *   PEERS_NODE_ARGS          flags for the daemon's node (default: the shipped ones, bench/nodeFlags.ts)
 *   PEERS_FLOOR=0            leave out the floor process (below)
 * A fourth process, the floor (bench/peersFloor.ts), runs the runtime packages lasso-canary
 * must use doing the least a canary can do for the same series (PEERS_FLOOR=0 leaves it out):
 * its row says how much of lasso-canary's cost is the stack itself.
 * Ctrl-C (or any failure) stops every process the bench started.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { mkdirSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { startTestBed, type TestBed } from "../sim/testbed.js";
import { startTraffic, type Traffic } from "../sim/traffic.js";
import { writePlan } from "../test/helpers/canaryBed.js";
import { freePortRange } from "../test/helpers/proxyBed.js";
import { waitFor } from "../test/helpers/waitFor.js";
import { stopChild } from "./chaosBed.js";
import { DAEMON_NODE_FLAGS } from "./nodeFlags.js";
import { blackboxConfig, peersChains, peersChecks, peersSeries, prometheusConfig, PROVIDERS, rpcBody } from "./peersPlan.js";
import ts from "typescript";
import { quantile, until } from "./measure.js";
import { ProcSeries } from "./procSample.js";

const positiveInt = (name: string, fallback: number): number => {
  const raw = process.env[name];
  const v = raw === undefined ? fallback : Number(raw);
  if (!Number.isInteger(v) || v < 1) throw new Error(`${name} must be a positive integer, got ${JSON.stringify(raw)}`);
  return v;
};
const SERIES = positiveInt("PEERS_SERIES", 20);
const INTERVAL_S = positiveInt("PEERS_INTERVAL_S", 5);
const DURATION_S = positiveInt("PEERS_DURATION_S", 180);
const WARMUP_S = positiveInt("PEERS_WARMUP_S", 30);
const WATCHERS = process.env.PEERS_WATCHERS === "1";
const FLOOR = process.env.PEERS_FLOOR !== "0";
const SAMPLE_MS = 5000;
const BLOCK_TIME_S = 2;
const BLACKBOX_BIN = "/usr/bin/prometheus-blackbox-exporter";
const PROMETHEUS_BIN = "/usr/bin/prometheus";
/** Every probe done (within a scrape at either edge of the window), at this success or better. */
const MIN_DONE = 0.95;
const MIN_SUCCESS = 0.99;
const GOALS = { rssRatio: 1, cpuRatio: 0.5, watchersRssMb: 100 };
/** The whole run, start-up and clean-up included, never takes longer than this. */
const DEADLINE_MS = (WARMUP_S + DURATION_S + 180) * 1000;

const mb = (bytes: number): string => (bytes / 1e6).toFixed(1);

interface Started {
  dir: string;
  bed: TestBed | null;
  traffic: Traffic[];
  children: ChildProcess[];
}

const started: Started = { dir: mkdtempSync(path.join(os.tmpdir(), "canary-peers-")), bed: null, traffic: [], children: [] };

let cleaning: Promise<void> | null = null;
function cleanUp(): Promise<void> {
  cleaning ??= (async () => {
    await Promise.all(started.children.map((c) => stopChild(c, 5000).catch(() => undefined)));
    await Promise.all(started.traffic.map((t) => t.stop().catch(() => undefined)));
    await started.bed?.stop().catch(() => undefined);
    rmSync(started.dir, { recursive: true, force: true });
  })();
  return cleaning;
}

/** A process of the bench, its output in a log file of the temp dir (printed if it fails). */
function launch(name: string, cmd: string, args: string[], env: NodeJS.ProcessEnv = process.env): ChildProcess {
  const log = openSync(path.join(started.dir, `${name}.log`), "w");
  const child = spawn(cmd, args, { env, stdio: ["ignore", log, log] });
  started.children.push(child);
  child.once("exit", (code, signal) => {
    if (cleaning === null) fail(new Error(`${name} exited (${code ?? signal}) during the run:\n${tail(name)}`));
  });
  if (child.pid === undefined) throw new Error(`${name}: could not start ${cmd}`);
  return child;
}

function tail(name: string): string {
  try {
    return readFileSync(path.join(started.dir, `${name}.log`), "utf8").split("\n").slice(-15).join("\n");
  } catch {
    return "(no log)";
  }
}

let fail: (err: Error) => void = () => undefined;
const failed = new Promise<never>((_, reject) => {
  fail = reject;
});

async function answers(url: string, what: string): Promise<void> {
  await waitFor(async () => (await fetch(url).catch(() => null))?.ok, { timeoutMs: 30_000, intervalMs: 250, message: `${what} at ${url}` });
}

/** Probes counted by a /metrics counter with an outcome label (lasso-canary's or the floor's): all of them, and those with outcome ok. */
async function probeCounts(url: string, counter = "lasso_canary_probe_requests_total"): Promise<{ total: number; ok: number }> {
  const text = await (await fetch(`${url}/metrics`)).text();
  let total = 0;
  let ok = 0;
  for (const m of text.matchAll(new RegExp(`^${counter}\\{([^}]*)\\} (\\d+)$`, "gm"))) {
    total += Number(m[2]);
    if (/outcome="ok"/.test(m[1] ?? "")) ok += Number(m[2]);
  }
  return { total, ok };
}

/** Blocks and logs each watcher delivered so far (lasso_canary_watch_delivery_delay_seconds_count), by chain and watcher. */
async function watcherDeliveries(url: string): Promise<Map<string, number>> {
  const text = await (await fetch(`${url}/metrics`)).text();
  const out = new Map<string, number>();
  for (const m of text.matchAll(/^lasso_canary_watch_delivery_delay_seconds_count\{([^}]*)\} (\d+)$/gm)) {
    const labels = m[1] ?? "";
    const key = `${/chain="([^"]*)"/.exec(labels)?.[1]}/${/watcher="([^"]*)"/.exec(labels)?.[1]}`;
    out.set(key, (out.get(key) ?? 0) + Number(m[2]));
  }
  return out;
}

/** One number from a Prometheus instant query (0 for an empty result). */
async function promScalar(promUrl: string, query: string, atSec: number): Promise<number> {
  const res = await fetch(`${promUrl}/api/v1/query?query=${encodeURIComponent(query)}&time=${atSec}`);
  const body = (await res.json()) as { status: string; data?: { result: Array<{ value: [number, string] }> } };
  if (body.status !== "success") throw new Error(`Prometheus query failed: ${query}`);
  return Number(body.data?.result[0]?.value[1] ?? 0);
}

async function run(): Promise<void> {
  const { dir } = started;
  const series = peersSeries(SERIES);
  const chains = peersChains(SERIES);
  process.stdout.write(`test bed: ${chains.length} chain(s) x ${PROVIDERS.length} providers on anvil; ${SERIES} series at ${INTERVAL_S} s${WATCHERS ? "; lasso-canary with the demo's watchers" : ""}\n`);
  const bed = await startTestBed({ chains: chains.map((c) => ({ ...c, blockTimeSec: BLOCK_TIME_S, providers: PROVIDERS })) });
  started.bed = bed;
  const emitters = new Map<string, string>();
  if (WATCHERS) {
    for (const c of chains) {
      const node = bed.chains.get(c.name)?.node;
      if (node === undefined) throw new Error(`test bed has no chain ${c.name}`);
      const t = await startTraffic({ rpcUrl: node.httpUrl, intervalMs: 1000 });
      started.traffic.push(t);
      emitters.set(c.name, t.address);
    }
  }

  const base = await freePortRange(4);
  const [canaryPort, blackboxPort, promPort, floorPort] = [base, base + 1, base + 2, base + 3];
  const floorUrl = `http://127.0.0.1:${floorPort}`;
  const canaryUrl = `http://127.0.0.1:${canaryPort}`;
  const blackbox = `127.0.0.1:${blackboxPort}`;
  const promUrl = `http://127.0.0.1:${promPort}`;

  const config = writePlan(dir, peersChecks(series, INTERVAL_S, WATCHERS ? { logsAddress: (c) => emitters.get(c) ?? "" } : null), {
    logLevel: "warn",
    budget: 10,
    listen: `127.0.0.1:${canaryPort}`,
  });
  writeFileSync(path.join(dir, "blackbox.yml"), blackboxConfig(series));
  writeFileSync(path.join(dir, "prometheus.yml"), prometheusConfig(series, INTERVAL_S, blackbox, bed.lasso.url));

  const nodeArgs = process.env.PEERS_NODE_ARGS === undefined ? DAEMON_NODE_FLAGS : process.env.PEERS_NODE_ARGS.split(" ").filter(Boolean);
  const canary = launch("lasso-canary", process.execPath, [...nodeArgs, "dist/src/cli.js", "run", "--config", config], { ...process.env, LASSO_URL: bed.lasso.url });
  const bb = launch("blackbox_exporter", BLACKBOX_BIN, [`--config.file=${path.join(dir, "blackbox.yml")}`, `--web.listen-address=${blackbox}`, "--log.level=warn"]);
  const prom = launch("prometheus", PROMETHEUS_BIN, [
    `--config.file=${path.join(dir, "prometheus.yml")}`,
    `--web.listen-address=127.0.0.1:${promPort}`,
    `--storage.tsdb.path=${path.join(dir, "prometheus-data")}`,
    "--log.level=warn",
  ]);
  const floor = FLOOR ? launchFloor(dir, series.map((s) => ({ path: s.path, body: rpcBody(s.call) })), bed.lasso.url, floorPort, nodeArgs) : null;
  await answers(`${canaryUrl}/healthz`, "lasso-canary");
  if (floor) await answers(`${floorUrl}/healthz`, "the floor");
  await answers(`http://${blackbox}/-/healthy`, "blackbox_exporter");
  await answers(`${promUrl}/-/ready`, "Prometheus");
  process.stdout.write(`all up (lasso-canary pid ${canary.pid}, blackbox_exporter ${bb.pid}, Prometheus ${prom.pid}); warming up ${WARMUP_S} s\n`);
  await until(WARMUP_S * 1000);

  const procs = [new ProcSeries("lasso-canary", canary.pid ?? 0), new ProcSeries("blackbox_exporter", bb.pid ?? 0), new ProcSeries("prometheus", prom.pid ?? 0)];
  const floorProc = floor ? new ProcSeries("floor", floor.pid ?? 0) : null;
  if (floorProc) procs.push(floorProc);
  const floorStart = floor ? await probeCounts(floorUrl, "floor_probe_requests_total") : null;
  const t0 = Date.now();
  const canaryStart = await probeCounts(canaryUrl);
  const deliveredStart = await watcherDeliveries(canaryUrl);
  for (const p of procs) p.sample(t0);
  process.stdout.write(`measuring for ${DURATION_S} s\n`);
  while (Date.now() - t0 < DURATION_S * 1000) {
    await until(Math.min(SAMPLE_MS, t0 + DURATION_S * 1000 - Date.now()));
    // lasso-canary's /metrics read at the probe rate, as a Prometheus scraping it would.
    await fetch(`${canaryUrl}/metrics`).then((r) => r.text());
    if (floor) await fetch(`${floorUrl}/metrics`).then((r) => r.text());
    const now = Date.now();
    for (const p of procs) p.sample(now);
  }
  const t1 = Date.now();
  const canaryEnd = await probeCounts(canaryUrl);
  const floorEnd = floor ? await probeCounts(floorUrl, "floor_probe_requests_total") : null;
  const deliveredEnd = await watcherDeliveries(canaryUrl);
  const windowSec = (t1 - t0) / 1000;
  const range = `${Math.round(windowSec)}s`;
  const bbProbes = await promScalar(promUrl, `sum(count_over_time(probe_success[${range}]))`, t1 / 1000);
  const bbOk = await promScalar(promUrl, `sum(sum_over_time(probe_success[${range}]))`, t1 / 1000);
  if (WATCHERS) {
    const idle = [...deliveredEnd].filter(([k, n]) => n - (deliveredStart.get(k) ?? 0) <= 0).map(([k]) => k);
    process.stdout.write(`watchers delivering during the window: ${deliveredEnd.size - idle.length} of ${deliveredEnd.size}\n`);
    if (deliveredEnd.size === 0 || idle.length > 0) throw new Error(`watchers delivered nothing during the window: ${idle.join(", ") || "none planned"}`);
  }
  const floorProbes = floorStart && floorEnd ? { total: floorEnd.total - floorStart.total, ok: floorEnd.ok - floorStart.ok } : null;
  report(procs, windowSec, series.length, { total: canaryEnd.total - canaryStart.total, ok: canaryEnd.ok - canaryStart.ok }, { total: bbProbes, ok: bbOk }, floorProbes);
}

/**
 * Starts bench/peersFloor.ts as plain node with the daemon's flags: type-stripped by
 * TypeScript into dist/bench (so its package imports resolve from the repository's
 * node_modules, as the daemon's do), its config in the bench's temp dir.
 */
function launchFloor(dir: string, series: Array<{ path: string; body: string }>, lassoUrl: string, port: number, nodeArgs: string[]): ChildProcess {
  const out = path.resolve("dist/bench");
  mkdirSync(out, { recursive: true });
  const js = ts.transpileModule(readFileSync("bench/peersFloor.ts", "utf8"), { compilerOptions: { module: ts.ModuleKind.ESNext, target: ts.ScriptTarget.ES2022 } }).outputText;
  const entry = path.join(out, "peersFloor.mjs");
  writeFileSync(entry, js);
  const config = path.join(dir, "floor.json");
  writeFileSync(config, JSON.stringify({ lassoUrl, series, intervalMs: INTERVAL_S * 1000, listen: { host: "127.0.0.1", port }, db: path.join(dir, "floor.db") }));
  return launch("floor", process.execPath, [...nodeArgs, entry, config]);
}

function report(procs: ProcSeries[], windowSec: number, n: number, canary: { total: number; ok: number }, bb: { total: number; ok: number }, floorProbes: { total: number; ok: number } | null): void {
  const expected = (n * windowSec) / INTERVAL_S;
  const [lc, bbx, pr, fl] = procs as [ProcSeries, ProcSeries, ProcSeries, ProcSeries | undefined];
  const row = (name: string, rss: number[], priv: number[], cpu: number, probes: { total: number; ok: number } | null): string =>
    [
      name.padEnd(30),
      `${mb(quantile(rss, 0.5))} / ${mb(Math.max(...rss))}`.padStart(15),
      `${mb(quantile(priv, 0.5))}`.padStart(10),
      `${cpu.toFixed(2)}`.padStart(8),
      probes === null ? "" : `${probes.total} of ~${Math.round(expected)}, ${((probes.ok / Math.max(1, probes.total)) * 100).toFixed(2)}% ok`.padStart(30),
    ].join("  ");
  const sumOf = (a: number[], b: number[]): number[] => a.map((x, i) => x + (b[i] ?? NaN));
  const pairRss = sumOf(bbx.rss, pr.rss);
  const pairPriv = sumOf(bbx.priv, pr.priv);
  const pairCpu = bbx.cpuPercent() + pr.cpuPercent();
  const rssRatio = quantile(lc.rss, 0.5) / quantile(pairRss, 0.5);
  const privRatio = quantile(lc.priv, 0.5) / quantile(pairPriv, 0.5);
  const cpuRatio = lc.cpuPercent() / pairCpu;
  const probesOk = (p: { total: number; ok: number }): boolean => p.total >= MIN_DONE * expected && p.ok / p.total >= MIN_SUCCESS;
  const lines = [
    "",
    `lasso-canary vs blackbox_exporter + Prometheus: ${n} series, 1 probe / ${INTERVAL_S} s each, ${windowSec.toFixed(0)} s window${WATCHERS ? ", lasso-canary with the demo's watchers" : ", watchers off"}`,
    `  (${os.cpus().length} cores, ${(os.totalmem() / 2 ** 30).toFixed(0)} GiB; RSS median / max over ${lc.rss.length} samples, every ${SAMPLE_MS / 1000} s)`,
    "",
    `  ${"process".padEnd(30)}  ${"RSS MB med/max".padStart(15)}  ${"private MB".padStart(10)}  ${"CPU %".padStart(8)}  ${"probes in the window".padStart(30)}`,
    `  ${row("lasso-canary", lc.rss, lc.priv, lc.cpuPercent(), canary)}`,
    `  ${row("blackbox_exporter", bbx.rss, bbx.priv, bbx.cpuPercent(), bb)}`,
    `  ${row("prometheus", pr.rss, pr.priv, pr.cpuPercent(), null)}`,
    `  ${row("blackbox_exporter + prometheus", pairRss, pairPriv, pairCpu, null)}`,
    `  ${"lasso-canary / the pair".padEnd(30)}  ${rssRatio.toFixed(2).padStart(15)}  ${privRatio.toFixed(2).padStart(10)}  ${cpuRatio.toFixed(2).padStart(8)}`,
    ...(fl && floorProbes
      ? [
          `  ${row("floor: the stack, least work", fl.rss, fl.priv, fl.cpuPercent(), floorProbes)}`,
          `  ${"floor / the pair".padEnd(30)}  ${(quantile(fl.rss, 0.5) / quantile(pairRss, 0.5)).toFixed(2).padStart(15)}  ${(quantile(fl.priv, 0.5) / quantile(pairPriv, 0.5)).toFixed(2).padStart(10)}  ${(fl.cpuPercent() / pairCpu).toFixed(2).padStart(8)}`,
          `  ${"lasso-canary - floor".padEnd(30)}  ${mb(quantile(lc.rss, 0.5) - quantile(fl.rss, 0.5)).padStart(15)}  ${mb(quantile(lc.priv, 0.5) - quantile(fl.priv, 0.5)).padStart(10)}  ${(lc.cpuPercent() - fl.cpuPercent()).toFixed(2).padStart(8)}`,
        ]
      : []),
    "",
    `  probes: lasso-canary ${probesOk(canary) ? "ok" : "FAILED"}, blackbox_exporter ${probesOk(bb) ? "ok" : "FAILED"} (each must do >= ${MIN_DONE * 100}% of them at >= ${MIN_SUCCESS * 100}% success)`,
    WATCHERS
      ? `  goal: lasso-canary RSS < ${GOALS.watchersRssMb} MB with watchers: max ${mb(Math.max(...lc.rss))} MB ${Math.max(...lc.rss) / 1e6 < GOALS.watchersRssMb ? "met" : "MISSED"}`
      : `  goals: RSS <= the pair's (${rssRatio.toFixed(2)}x) ${rssRatio <= GOALS.rssRatio ? "met" : "MISSED"}; CPU <= ${GOALS.cpuRatio}x theirs (${cpuRatio.toFixed(2)}x) ${cpuRatio <= GOALS.cpuRatio ? "met" : "MISSED"}`,
    "",
  ];
  process.stdout.write(lines.join("\n"));
  if (!probesOk(canary) || !probesOk(bb) || (floorProbes !== null && !probesOk(floorProbes))) throw new Error("a system missed probes or failed them: the comparison does not hold");
}

for (const signal of ["SIGINT", "SIGTERM"] as const) {
  process.once(signal, () => {
    process.stderr.write(`${signal}: stopping everything the bench started\n`);
    void cleanUp().then(() => process.exit(130));
  });
}

const deadline = setTimeout(() => fail(new Error(`the bench took longer than ${DEADLINE_MS / 1000} s`)), DEADLINE_MS);
try {
  await Promise.race([run(), failed]);
} catch (err) {
  process.stderr.write(`bench/peers: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exitCode = 1;
} finally {
  clearTimeout(deadline);
  await cleanUp();
  // A run abandoned by the deadline may still hold timers: nothing it does matters now.
  process.exit();
}
