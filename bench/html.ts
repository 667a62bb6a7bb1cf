/**
 * HTML report and status page benchmark (npx tsx bench/html.ts).
 *
 * Generates 30 days of the reference plan (bench/storeGen.ts: 5 chains x 10 probe series at one
 * probe per 5 s, one consistency check per chain per minute, BENCH_WATCHERS subscription
 * watchers (default 20) at one event per second), written as the daemon keeps it (raw samples
 * for the last 7 days, minute rollups for 14, hour and day rollups for all). Then measures:
 * - the 30-day HTML report: build (SLIs), timeline (chart buckets), render, in this thread and
 *   through the daemon's report worker (round trip), and its page weight (goal: <= 250 ms,
 *   < 1 MB); 24 h and 7 d for comparison;
 * - the status page: StatusBoard.accept per sample, one snapshot + render, and the CPU that
 *   serving `/` 100 times a second through the 5 s cache costs, against the same timer idle.
 * BENCH_DAYS (30) shortens the history. BENCH_DELIVERED_EVERY (default 10) keeps one delivered
 * continuity sample in N (anomalies all kept): rollup rows per watcher and bucket, and so the
 * read and render work and the page, are the same as at 1 event/s; only the delivered counts
 * are smaller, and generating 30 days takes minutes instead of half an hour. Set it to 1 for
 * the full stream.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { performance } from "node:perf_hooks";
import { gzipSync } from "node:zlib";
import { buildReport } from "../src/report/build.js";
import { renderHtml } from "../src/report/html/page.js";
import { ReportRunner } from "../src/report/runner.js";
import type { SloObjective } from "../src/report/types.js";
import type { Sample } from "../src/samples.js";
import { StatusBoard } from "../src/status/board.js";
import { cachedFor } from "../src/status/cache.js";
import { renderStatusPage } from "../src/status/page.js";
import { StoreReader } from "../src/store/reader.js";
import { SampleStore } from "../src/store/store.js";
import { CHAINS, consistencySamples, continuitySamples, probeSamples, rng, SERIES_PER_CHAIN, WATCHERS_PER_CHAIN } from "./storeGen.js";

const DAY = 86_400_000;
const HOUR = 3_600_000;
const MIN = 60_000;
const DAYS = Number(process.env["BENCH_DAYS"] ?? 30);
const WATCHERS = Number(process.env["BENCH_WATCHERS"] ?? 20);
const WATCH_CHAINS = WATCHERS / WATCHERS_PER_CHAIN;
if (!(Number.isInteger(WATCH_CHAINS) && WATCH_CHAINS >= 0 && WATCH_CHAINS <= CHAINS.length)) {
  throw new Error(`BENCH_WATCHERS must be a multiple of ${WATCHERS_PER_CHAIN} up to ${WATCHERS_PER_CHAIN * CHAINS.length}`);
}
const DELIVERED_EVERY = Number(process.env["BENCH_DELIVERED_EVERY"] ?? 10);
const RUNS = 10;
const STATUS_CACHE_MS = 5000;

const fmt = (n: number, d = 1): string => n.toFixed(d);
function quantile(xs: readonly number[], q: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil(q * s.length) - 1))] ?? NaN;
}
const stats = (xs: readonly number[]): string => `p50 ${fmt(quantile(xs, 0.5))} ms, max ${fmt(Math.max(...xs))} ms`;

function generate(path: string, end: number): void {
  const rand = rng(42);
  const crand = rng(43);
  const store = new SampleStore({ path, now: () => end, flushIntervalMs: 0 });
  for (let t = end - DAYS * DAY; t < end; t += HOUR) {
    const age = end - t;
    const outputs = { raw: age <= 7 * DAY, minute: age <= 14 * DAY, coarse: true };
    store.importSamples(probeSamples(t, t + HOUR, rand), outputs);
    if (WATCH_CHAINS > 0) {
      let n = 0;
      const cs = continuitySamples(t, t + HOUR, crand, WATCH_CHAINS).filter((s) => s.event !== "delivered" || n++ % DELIVERED_EVERY === 0);
      store.importSamples(cs, outputs);
    }
    for (const c of consistencySamples(t, t + HOUR, rand)) store.accept(c);
    store.flush();
  }
  store.pruneAll();
  store.close();
}

/** Serving `/` `perSecond` times a second for `ms`, through the cache; CPU ms used, minus the same timer doing nothing. */
async function servingCpu(page: () => string, perSecond: number, ms: number): Promise<{ busy: number; idle: number }> {
  const run = async (work: () => void): Promise<number> => {
    const before = process.cpuUsage();
    await new Promise<void>((resolve) => {
      const timer = setInterval(work, 1000 / perSecond);
      setTimeout(() => {
        clearInterval(timer);
        resolve();
      }, ms);
    });
    const d = process.cpuUsage(before);
    return (d.user + d.system) / 1000;
  };
  const idle = await run(() => undefined);
  const busy = await run(() => void page().length);
  return { busy, idle };
}

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), "lasso-canary-bench-html-"));
  const path = join(dir, "canary.db");
  const end = Math.floor(Date.now() / MIN) * MIN - 17_500;
  try {
    const t0 = performance.now();
    generate(path, end);
    const genSec = (performance.now() - t0) / 1000;
    const slos: SloObjective[] = CHAINS.map((chain) => ({ chain, successRatio: 0.999, p95LatencyMs: 300, maxHeadLagBlocks: 2 }));
    const reader = StoreReader.open(path);
    const lines: string[] = [];
    let page30 = "";
    for (const [label, span] of [["30d", 30 * DAY], ["7d", 7 * DAY], ["24h", DAY]] as const) {
      if (span > DAYS * DAY) continue;
      const range = { since: end - span, until: end };
      const build: number[] = [];
      const timeline: number[] = [];
      const render: number[] = [];
      const total: number[] = [];
      let html = "";
      let buckets = 0;
      for (let i = 0; i < RUNS; i++) {
        const a = performance.now();
        const report = buildReport(range, slos, reader, end);
        const b = performance.now();
        const tl = reader.timeline(range);
        const c = performance.now();
        html = renderHtml(report, tl);
        const d = performance.now();
        build.push(b - a);
        timeline.push(c - b);
        render.push(d - c);
        total.push(d - a);
        buckets = tl.buckets.length;
      }
      if (label === "30d") page30 = html;
      const svgs = html.match(/<svg /g)?.length ?? 0;
      lines.push(`html report ${label.padEnd(4)}     total ${stats(total)} (build ${fmt(quantile(build, 0.5))}, timeline ${fmt(quantile(timeline, 0.5))}, render ${fmt(quantile(render, 0.5))} ms p50); ` +
        `${fmt(html.length / 1024)} KB (gzip ${fmt(gzipSync(html).length / 1024)} KB), ${svgs} charts, ${buckets} buckets`);
    }
    reader.close();

    // Through the daemon's worker, as GET /report?since=30d&format=html.
    const runner = new ReportRunner({ path });
    const range30 = { since: end - Math.min(30, DAYS) * DAY, until: end };
    await runner.render(range30, slos, "html", end);
    const viaWorker: number[] = [];
    for (let i = 0; i < RUNS; i++) {
      const a = performance.now();
      await runner.render(range30, slos, "html", end);
      viaWorker.push(performance.now() - a);
    }
    await runner.close();

    // Status page: the board fed 10 minutes of the reference load (probes, watchers).
    const board = new StatusBoard(() => slos);
    const feed: Sample[] = [...probeSamples(end - 10 * MIN, end, rng(7))];
    if (WATCH_CHAINS > 0) feed.push(...continuitySamples(end - 10 * MIN, end, rng(8), WATCH_CHAINS));
    feed.sort((a, b) => a.ts - b.ts);
    const a = performance.now();
    for (const s of feed) board.accept(s);
    const acceptUs = ((performance.now() - a) * 1000) / feed.length;
    const renders: number[] = [];
    let statusHtml = "";
    for (let i = 0; i < 200; i++) {
      const b = performance.now();
      statusHtml = renderStatusPage(board.snapshot(end));
      renders.push(performance.now() - b);
    }
    const page = cachedFor(STATUS_CACHE_MS, () => renderStatusPage(board.snapshot(Date.now())));
    const cpu = await servingCpu(page, 100, 10_000);
    const renderMs = quantile(renders, 0.5);

    process.stdout.write([
      "",
      "=== lasso-canary HTML report and status page benchmark ===",
      `history                  ${DAYS} days, ${CHAINS.length} chains x ${SERIES_PER_CHAIN} series (1 probe / 5 s), ${WATCHERS} watchers x 1 event/s ` +
        `(1 delivered sample in ${DELIVERED_EVERY} stored); generated in ${fmt(genSec)} s`,
      ...lines,
      `html report 30d, worker  ${stats(viaWorker)} (round trip through the daemon's report worker, ${RUNS} runs)`,
      `30-day page weight       ${fmt(page30.length / 1024)} KB = ${fmt(page30.length / 1e6, 3)} MB (goal < 1 MB)`,
      `status board accept      ${fmt(acceptUs, 2)} us per sample (${feed.length} samples: 10 min of the reference load)`,
      `status page render       p50 ${fmt(renderMs, 3)} ms, max ${fmt(Math.max(...renders), 3)} ms (snapshot + HTML, ${fmt(statusHtml.length / 1024)} KB)`,
      `status page at cache rate one render per ${STATUS_CACHE_MS / 1000} s = ${fmt((renderMs / STATUS_CACHE_MS) * 100, 4)}% of a core; served 100/s for 10 s: ` +
        `${fmt(cpu.busy)} ms CPU vs ${fmt(cpu.idle)} ms for the same timer idle (+${fmt(((cpu.busy - cpu.idle) / 10_000) * 100, 2)}% of a core)`,
      `bench run time           ${fmt((performance.now() - t0) / 1000)} s`,
      "",
    ].join("\n"));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

await main();
