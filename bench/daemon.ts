/**
 * The daemon under its reference load: 5 chains x 10 probe series at one probe per 5 s
 * (10 req/s in all) against the local test bed, with 30 days of history in its store.
 * Measures, on the compiled daemon in its own process: RSS, CPU, event-loop lag p99
 * (steady state, and while 30-day reports run), /report?since=30d latency, and the
 * database's growth. Run: `npm run build && npx tsx bench/daemon.ts` (about 8 minutes).
 *
 * BENCH_CHAOS=1: the same load with one chaos window running through the whole steady state
 * and the reports. The fault proxies run as their own process (`node dist/src/cli.js proxy`)
 * in front of the first chain's providers, the Lasso target serves a `canary` profile whose
 * providers are that process's proxies (bench/chaosBed.ts), and the first chain gets one
 * window (a 50 ms latency fault on one provider, expect no_failover, experiment + control
 * probes every 2 s) plus the canary-profile probe its precondition reads. The window is
 * started with POST /api/chaos/run when the steady state begins and must still be running
 * (GET /api/chaos/windows) when the measurements end; the proxy process's RSS and CPU are
 * printed apart from the daemon's.
 * BENCH_SOAK=1: soak sampling on (`soak:` at its defaults: the Lasso target polled every 60 s,
 * and the daemon itself); the bench fails unless a soak poll succeeded during the run.
 * Other knobs: BENCH_WARMUP_MS (default 180000, see WARMUP_MS), BENCH_STEADY_MS (default 120000), BENCH_HISTORY_DAYS (30), BENCH_HISTORY_FROM
 * (a database an earlier run generated), BENCH_NODE_ARGS (flags for the daemon's node; default the
 * shipped ones, bench/nodeFlags.ts).
 */
import { spawn } from "node:child_process";
import { copyFileSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { performance } from "node:perf_hooks";
import type { ProxyInfo, TrafficBucket } from "../src/chaos/control.js";
import { SampleStore } from "../src/store/index.js";
import { startTestBed } from "../sim/testbed.js";
import { writePlan } from "../test/helpers/canaryBed.js";
import { cpuPct, fmt, freePort, histogramBuckets, procStat, quantile, quantileBetween, until, waitHealthy, type Buckets } from "./measure.js";
import { faultSeen, runWindow, startChaosBenchBed, windowNotRunning, type ChaosBenchBed } from "./chaosBed.js";
import { DAEMON_NODE_FLAGS } from "./nodeFlags.js";
import { CHAINS, consistencySamples, probeSamples, rng } from "./storeGen.js";

const DAY = 86_400_000;
const HOUR = 3_600_000;
const HISTORY_DAYS = Number(process.env.BENCH_HISTORY_DAYS ?? 30);
/**
 * Before the steady state: V8 keeps compiling for minutes after a start (the hot paths reach
 * its optimizing compiler one by one, at 10 probes/s, in 2-4 minutes), which costs CPU and
 * compiler memory that a long-running daemon pays once per restart. Measured and printed
 * apart ("start-up"), not judged against the steady-state targets.
 */
const WARMUP_MS = Number(process.env.BENCH_WARMUP_MS ?? 180_000);
const STEADY_MS = Number(process.env.BENCH_STEADY_MS ?? 120_000);
/** Reports back to back for this long (and at least MIN_REPORT_RUNS of them), while probes run. */
const REPORT_PHASE_MS = 20_000;
const MIN_REPORT_RUNS = 20;
const PROVIDERS = ["alchemy", "infura", "drpc"];
const TARGETS = { rssMb: 100, cpuPct: 3, lagP99Ms: 20, reportMs: 250, db30dMb: 200 };
const CHAOS = process.env.BENCH_CHAOS === "1";
const SOAK = process.env.BENCH_SOAK === "1";
const CHAOS_CHAIN = CHAINS[0] ?? "ethereum";
const CHAOS_PROVIDER = PROVIDERS[0] ?? "alchemy";
const CHAOS_WINDOW = "bench-latency";
// Test values, not secrets: everything listens on loopback for the bench's lifetime.
const ADMIN_TOKEN = "bench-admin-token-0123456789";
const PROXY_TOKEN = "bench-proxy-token-0123456789";

const met = (value: number, target: number): string => (value <= target ? "met" : "MISSED");
const sum = (buckets: TrafficBucket[] | null, key: "faulted" | "forwarded"): number => (buckets ?? []).reduce((n, b) => n + b[key], 0);

/** What the chaos mode adds to one chain's checks: its canary routes, the probe on them, the window. */
interface ChaosChecks {
  routes: string[];
  blockNumberRoutes: string[];
  windows: string[];
}

/** 10 series per chain at 5 s: eth_blockNumber on 6 routes, a block on default, chain id on each pin. */
function checksFor(chain: string, chainId: number, chaos: ChaosChecks | null = null): string {
  const pins = PROVIDERS.map((p) => `pin:${p}`);
  // Listed by name rather than `all` / `pinned`, which would also select the canary routes.
  const blockNumberRoutes = ["default", "fastest", "round-robin", ...pins, ...(chaos?.blockNumberRoutes ?? [])];
  return [
    `chain: ${chain}`, `chainId: ${chainId}`, "blockTimeMs: 2000",
    "routes:", "  - { strategy: default }", "  - { strategy: fastest }", "  - { strategy: round-robin }",
    ...PROVIDERS.map((p) => `  - { provider: ${p} }`),
    ...(chaos?.routes ?? []),
    "probes:",
    `  - { method: eth_blockNumber, interval: 5s, timeout: 2s, routes: [${blockNumberRoutes.join(", ")}], assert: [shape: quantity, monotonicHead, freshness] }`,
    '  - { method: eth_getBlockByNumber, params: ["latest", false], interval: 5s, timeout: 2s, routes: [default], assert: [shape: block] }',
    `  - { method: eth_chainId, interval: 5s, timeout: 2s, routes: [${pins.join(", ")}], assert: [chainId] }`,
    ...(chaos === null ? [] : ["chaos:", ...chaos.windows]),
  ].join("\n");
}

/**
 * The chaos mode's window on the first chain: 50 ms of latency on its first provider in the
 * canary profile (Lasso must not fail over for it), run by name (the schedule never fires
 * during a bench), long enough to cover the steady state and the reports. The precondition
 * reads the canary default route's eth_blockNumber probe.
 */
function chaosChecks(): ChaosChecks {
  const minutes = Math.ceil((STEADY_MS + 3 * REPORT_PHASE_MS + 120_000) / 60_000);
  if (minutes > 60) throw new Error("BENCH_CHAOS: a window lasts at most 1 h; shorten BENCH_STEADY_MS to 55 minutes or less");
  return {
    routes: ["  - { strategy: default, profile: canary }", `  - { provider: ${CHAOS_PROVIDER}, profile: canary }`],
    blockNumberRoutes: ["canary/default"],
    windows: [
      `  - name: ${CHAOS_WINDOW}`,
      '    schedule: "0 0 1 1 *"',
      `    duration: ${minutes}m`,
      `    provider: ${CHAOS_PROVIDER}`,
      "    fault: { kind: latency, fixedMs: 50, jitterMs: 0 }",
      "    expect: no_failover",
      "    probeInterval: 2s",
      "    precondition: 10s",
    ],
  };
}

/** CPU ticks per thread name (main thread, V8 GC/compiler helpers, libuv pool, workers). */
function threadTicks(pid: number): Map<string, number> {
  const out = new Map<string, number>();
  for (const tid of readdirSync(`/proc/${pid}/task`)) {
    try {
      const name = readFileSync(`/proc/${pid}/task/${tid}/comm`, "utf8").trim();
      const stat = readFileSync(`/proc/${pid}/task/${tid}/stat`, "utf8");
      const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      const key = tid === String(pid) ? "main thread" : name;
      out.set(key, (out.get(key) ?? 0) + Number(f[11]) + Number(f[12]));
    } catch {
      // the thread ended between listing and reading
    }
  }
  return out;
}

/** The buckets of lasso_canary_eventloop_lag_seconds, bounds in ms. */
async function scrapeLag(url: string): Promise<Buckets> {
  const text = await (await fetch(`${url}/metrics`)).text();
  return histogramBuckets(text, "lasso_canary_eventloop_lag_seconds").map(([le, n]) => [le * 1000, n] as [number, number]);
}

/** p99 of the lag samples taken between two scrapes, ms. */
function lagP99Ms(from: Buckets, to: Buckets): { p99: number; samples: number } {
  const { value, samples } = quantileBetween(from, to, 0.99);
  return { p99: value, samples };
}

function generateHistory(dbPath: string, now: number): void {
  process.stdout.write(`generating ${HISTORY_DAYS} days of history for ${CHAINS.length} chains x 10 series...\n`);
  const tGen = performance.now();
  const rand = rng(42);
  const history = new SampleStore({ path: dbPath, now: () => now, flushIntervalMs: 0 });
  for (let t = now - HISTORY_DAYS * DAY; t < now - 5 * 60_000; t += HOUR) {
    const age = now - t;
    history.importSamples(probeSamples(t, Math.min(t + HOUR, now - 5 * 60_000), rand), {
      raw: age <= 7 * DAY, minute: age <= 14 * DAY, coarse: true,
    });
    for (const c of consistencySamples(t, t + HOUR, rand)) history.accept(c);
    history.flush();
  }
  history.close();
  process.stdout.write(`  done in ${fmt((performance.now() - tGen) / 1000)} s\n`);
}

async function main(): Promise<void> {
  const dir = mkdtempSync(path.join(os.tmpdir(), "canary-bench-"));
  const dbPath = path.join(dir, "canary.db");
  const now = Date.now();

  // --- 30 days of history, in the daemon's own schema ------------------------------------
  // BENCH_HISTORY_FROM=file reuses a database an earlier run generated (iterating on the daemon).
  const reuse = process.env.BENCH_HISTORY_FROM;
  if (reuse) {
    copyFileSync(reuse, dbPath);
    process.stdout.write(`history copied from ${reuse}\n`);
  } else {
    generateHistory(dbPath, now);
  }
  const dbStartBytes = statSync(dbPath).size;
  process.stdout.write(`  history is ${fmt(dbStartBytes / 1e6)} MB\n`);

  // --- test bed and the compiled daemon in its own process -------------------------------
  const chains = CHAINS.map((name, i) => ({ name, chainId: 1000 + i }));
  const chaosBed = CHAOS
    ? await startChaosBenchBed({ dir, chains, blockTimeSec: 2, providers: PROVIDERS, canaryChain: CHAOS_CHAIN, proxyToken: PROXY_TOKEN })
    : null;
  const bed = chaosBed ?? (await startTestBed({ chains: chains.map((c) => ({ ...c, blockTimeSec: 2, providers: PROVIDERS })) }));
  const checks = Object.fromEntries(chains.map((c) => [c.name, checksFor(c.name, c.chainId, CHAOS && c.name === CHAOS_CHAIN ? chaosChecks() : null)]));
  const port = await freePort();
  const config = writePlan(dir, checks, {
    logLevel: "warn",
    // The window's experiment + control probes (1 req/s) and the canary probe come on top of the chain's 2 req/s.
    budget: CHAOS ? 4 : 3,
    listen: `127.0.0.1:${port}`,
    extraConfig: [
      ...(chaosBed === null ? [] : [
        "adminToken: ${CANARY_ADMIN_TOKEN}",
        `chaos: { proxyControl: "${chaosBed.proxyControl}", proxyToken: "\${CANARY_PROXY_TOKEN}" }`,
      ]),
      ...(SOAK ? ["soak: { targets: [lb] }"] : []),
    ],
  });
  const nodeArgs = process.env.BENCH_NODE_ARGS === undefined ? DAEMON_NODE_FLAGS : process.env.BENCH_NODE_ARGS.split(" ").filter(Boolean);
  const child = spawn(process.execPath, [...nodeArgs, "dist/src/cli.js", "run", "--config", config], {
    env: { ...process.env, LASSO_URL: bed.lasso.url, CANARY_ADMIN_TOKEN: ADMIN_TOKEN, CANARY_PROXY_TOKEN: PROXY_TOKEN },
    stdio: ["ignore", "pipe", "inherit"],
  });
  try {
    child.stdout.pipe(process.stderr);
    const pid = child.pid ?? 0;
    const url = `http://127.0.0.1:${port}`;
    await waitHealthy(url);
    process.stdout.write(`daemon pid ${pid} on ${url}; warming up ${WARMUP_MS / 1000} s\n`);
    const startup = await measureStartup(pid);

    // --- the chaos window, running before the steady state begins (BENCH_CHAOS=1) ---------------
    const chaos = chaosBed === null ? null : await startChaosWindow(url, chaosBed);

    // --- steady state ----------------------------------------------------------------------
    const ticksPerSec = 100;
    const proxyPid = chaosBed?.proxyProcess.pid ?? null;
    const proxyStart = proxyPid === null ? null : procStat(proxyPid);
    const proxyRss: number[] = [];
    const start = procStat(pid);
    const threadsStart = threadTicks(pid);
    const t0 = performance.now();
    const steadyStartedAt = Date.now();
    const rss: number[] = [];
    const lagStart = await scrapeLag(url);
    while (performance.now() - t0 < STEADY_MS) {
      await until(5000);
      rss.push(procStat(pid).rssBytes);
      if (proxyPid !== null) proxyRss.push(procStat(proxyPid).rssBytes);
      await fetch(`${url}/metrics`).then((r) => r.text()); // a scrape every 5 s, as a busy Prometheus would
    }
    const end = procStat(pid);
    const threadsEnd = threadTicks(pid);
    const steadySec = (performance.now() - t0) / 1000;
    const proxyEnd = proxyPid === null ? null : procStat(proxyPid);
    const windowAfterSteady = chaos === null ? null : await windowNotRunning(url, chaos.id);
    const userPct = ((end.userTicks - start.userTicks) / ticksPerSec / steadySec) * 100;
    const byThread = [...threadsEnd]
      .map(([name, ticks]) => [name, ((ticks - (threadsStart.get(name) ?? 0)) / ticksPerSec / steadySec) * 100] as const)
      .filter(([, pct]) => pct > 0)
      .sort((a, b) => b[1] - a[1])
      .map(([name, pct]) => `${name} ${fmt(pct, 2)}%`)
      .join(", ");
    const metrics = await (await fetch(`${url}/metrics`)).text();
    const memory = ["process_resident_memory_bytes", "nodejs_heap_size_total_bytes", "nodejs_heap_size_used_bytes", "nodejs_external_memory_bytes"]
      .map((m) => `${m.replace(/_bytes$/, "")}=${fmt(Number(new RegExp(`^${m} (\\S+)$`, "m").exec(metrics)?.[1] ?? NaN) / 1e6)}MB`)
      .join(" ");
    const requests = [...metrics.matchAll(/^lasso_canary_probe_requests_total\{[^}]*\} (\d+)$/gm)].reduce((n, m) => n + Number(m[1]), 0);
    const soakPolls = Number(/^lasso_canary_soak_polls_total\{[^}]*result="ok"[^}]*\} (\d+)$/m.exec(metrics)?.[1] ?? 0);
    if (SOAK && soakPolls === 0) throw new Error("BENCH_SOAK: no successful soak poll of the target during the run");

    // --- 30-day reports while probing --------------------------------------------------------
    const reportMs: number[] = [];
    const lagSteady = lagP99Ms(lagStart, await scrapeLag(url));
    const lagBeforeReports = await scrapeLag(url);
    const reportsStarted = performance.now();
    let rssDuringReports = 0;
    // An outside view of the same thing: /healthz round trips while the reports run. They
    // include the bench's own (busy) loop, so they bound the daemon's lag from above.
    const healthzMs: number[] = [];
    let reporting = true;
    const pinger = (async () => {
      while (reporting) {
        const t = performance.now();
        await fetch(`${url}/healthz`).then((r) => r.text());
        healthzMs.push(performance.now() - t);
        await until(50);
      }
    })();
    while (reportMs.length < MIN_REPORT_RUNS || performance.now() - reportsStarted < REPORT_PHASE_MS) {
      const t = performance.now();
      const res = await fetch(`${url}/report?since=30d`);
      const body = (await res.json()) as { chains: unknown[] };
      reportMs.push(performance.now() - t);
      if (res.status !== 200 || body.chains.length < CHAINS.length) throw new Error(`report failed: ${res.status}`);
      rssDuringReports = Math.max(rssDuringReports, procStat(pid).rssBytes);
    }
    reporting = false;
    await pinger;
    const lagReports = lagP99Ms(lagBeforeReports, await scrapeLag(url));
    const windowAfterReports = chaos === null ? null : await windowNotRunning(url, chaos.id);
    const faultedTraffic = chaosBed === null ? null : await chaosBed.control.traffic(CHAOS_CHAIN, CHAOS_PROVIDER, steadyStartedAt);

    const fig = {
      rssMb: Math.max(...rss) / 1e6,
      cpuPct: cpuPct(start, end, steadySec),
      lagP99Ms: lagSteady.p99,
      lagP99DuringReportsMs: lagReports.p99,
      reportP50Ms: quantile(reportMs, 0.5),
      reportMaxMs: Math.max(...reportMs),
    };
    const lines = [
      "",
      "lasso-canary daemon benchmark",
      `  load              ${CHAINS.length} chains x 10 series, 1 probe / 5 s each (${requests} probes so far), test bed on loopback`,
      ...(SOAK ? [`  soak              on (target polled every 60 s, and the daemon itself): ${soakPolls} successful polls of the target`] : []),
      `  history           ${reuse ? `copied from ${reuse}` : `${HISTORY_DAYS} days generated`} (${fmt(dbStartBytes / 1e6)} MB at start)`,
      `  RSS (max)         ${fmt(fig.rssMb)} MB (median ${fmt(quantile(rss, 0.5) / 1e6)} MB, first ${fmt((rss[0] ?? NaN) / 1e6)} -> last ${fmt((rss.at(-1) ?? NaN) / 1e6)} MB over ${rss.length} samples)   target <= ${TARGETS.rssMb} MB   ${met(fig.rssMb, TARGETS.rssMb)}`,
      `    at the end of the steady state: ${memory}`,
      `    of the RSS: ${fmt(end.anonBytes / 1e6)} MB anonymous (heaps, malloc), ${fmt(end.fileBytes / 1e6)} MB file-backed (node binary, native addons)`,
      `    while 30-day reports run back to back (report worker alive): ${fmt(rssDuringReports / 1e6)} MB max`,
      `  start-up          the first ${fmt(WARMUP_MS / 1000, 0)} s after /healthz answered (V8 still compiling; not judged): ` +
        `CPU ${fmt(startup.cpuPct, 2)} % of a core, RSS max ${fmt(startup.rssMaxMb)} MB`,
      `  CPU               ${fmt(fig.cpuPct, 2)} % of a core     target <= ${TARGETS.cpuPct} %   ${met(fig.cpuPct, TARGETS.cpuPct)}   (${fmt(steadySec, 0)} s steady state)`,
      `    of which user   ${fmt(userPct, 2)} % (the rest is kernel time)`,
      `    by thread       ${byThread}`,
      `  event-loop p99    ${fmt(fig.lagP99Ms)} ms (steady state, ${lagSteady.samples} timer samples)   target <= ${TARGETS.lagP99Ms} ms   ${met(fig.lagP99Ms, TARGETS.lagP99Ms)}`,
      `  event-loop p99    ${fmt(fig.lagP99DuringReportsMs)} ms (while 30-day reports run, ${lagReports.samples} samples)`,
      `    /healthz round trip meanwhile: p99 ${fmt(quantile(healthzMs, 0.99))} ms over ${healthzMs.length} (bench's own loop included)`,
      `  /report?since=30d p50 ${fmt(fig.reportP50Ms)} ms, max ${fmt(fig.reportMaxMs)} ms over ${reportMs.length} runs   target <= ${TARGETS.reportMs} ms   ${met(fig.reportMaxMs, TARGETS.reportMs)}`,
      reuse
        ? "  DB size           (history reused: see a run that generates it)"
        : `  DB size           ${fmt(dbStartBytes / 1e6)} MB for ${HISTORY_DAYS} days of this load as retention keeps it (raw 7 d, minute rollups 14 d), ` +
          `${fmt(dbStartBytes / 1e6 / HISTORY_DAYS, 2)} MB/day   target <= ${TARGETS.db30dMb} MB for 30 days ` +
          `${HISTORY_DAYS === 30 ? met(dbStartBytes / 1e6, TARGETS.db30dMb) : "(not judged: not 30 days)"} (bench/store.ts also runs the pruning)`,
      ...(chaos === null || proxyStart === null || proxyEnd === null
        ? []
        : [
            `  chaos window      ${CHAOS_WINDOW} #${chaos.id} on ${CHAOS_CHAIN}/${CHAOS_PROVIDER} of the canary profile: latency 50 ms, expect no_failover, ` +
              `experiment + control probes every 2 s (started by POST /api/chaos/run${chaos.refusals.length > 0 ? ` after ${chaos.refusals.length} precondition refusals` : ""})`,
            `    proxy process confirmed the fault: ${JSON.stringify(chaos.proxyView.fault)}`,
            `    running at the end of the steady state: ${windowAfterSteady ?? "yes"}; after the reports: ${windowAfterReports ?? "yes"}   ` +
              `${windowAfterSteady === null && windowAfterReports === null ? "ok" : "NOT RUNNING: the figures above are not with a window"}`,
            `    through the faulted proxy during the run: ${sum(faultedTraffic, "faulted")} request items delayed by the fault, ${sum(faultedTraffic, "forwarded")} forwarded`,
            `  proxy process     RSS max ${fmt(Math.max(...proxyRss) / 1e6)} MB (${fmt(proxyEnd.anonBytes / 1e6)} MB anonymous), ` +
              `CPU ${fmt(cpuPct(proxyStart, proxyEnd, steadySec), 2)} % of a core over the steady state ` +
              `(${PROVIDERS.length} proxies, its own process; not in the daemon's figures)`,
          ]),
      "",
    ];
    process.stdout.write(lines.join("\n"));
  } finally {
    if (child.exitCode === null) {
      child.kill("SIGTERM");
      await new Promise((r) => child.once("exit", r));
    }
    await bed.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

/** The warm-up period: CPU over it and RSS every 5 s. */
async function measureStartup(pid: number): Promise<{ cpuPct: number; rssMaxMb: number }> {
  const from = procStat(pid);
  const t0 = performance.now();
  let rssMax = from.rssBytes;
  while (performance.now() - t0 < WARMUP_MS) {
    await until(Math.min(5000, Math.max(0, WARMUP_MS - (performance.now() - t0))));
    rssMax = Math.max(rssMax, procStat(pid).rssBytes);
  }
  return { cpuPct: cpuPct(from, procStat(pid), (performance.now() - t0) / 1000), rssMaxMb: rssMax / 1e6 };
}

/** Runs the chaos mode's window and sees it from both sides: the daemon's API and the proxy process. */
async function startChaosWindow(url: string, bed: ChaosBenchBed): Promise<{ id: number; refusals: string[]; proxyView: ProxyInfo }> {
  const { id, refusals } = await runWindow(url, CHAOS_WINDOW, ADMIN_TOKEN);
  const notRunning = await windowNotRunning(url, id);
  if (notRunning !== null) throw new Error(`GET /api/chaos/windows right after the start: ${notRunning}`);
  const proxyView = await faultSeen(bed.control, CHAOS_CHAIN, CHAOS_PROVIDER, "latency");
  process.stdout.write(`chaos window ${CHAOS_WINDOW} #${id} running (${refusals.length} precondition refusals before it started)\n`);
  return { id, refusals, proxyView };
}

await main();
