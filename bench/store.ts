/**
 * Store + report benchmark (npx tsx bench/store.ts).
 *
 * Simulates 30 days of the reference plan (5 chains x 10 probe series, one probe per 5 s =
 * 10 samples/s = 864k/day, plus one consistency check per chain per minute, plus 20
 * subscription watchers delivering one event per second = 1.73 M continuity samples/day with
 * rare anomalies; BENCH_WATCHERS=0 leaves them out, for comparing the probe side) in time order
 * with default retention: probe samples go through the same fold-into-raw-and-rollups code
 * compaction uses (SampleStore.importSamples), consistency samples through accept()/flush(),
 * and retention prunes at the end of every simulated day so freed pages are reused as in
 * a real run. Then it measures size on disk, the 30-day report's latency (hour-aligned, and
 * with mid-minute edges as when `until` is now: rows read per table show what the edges
 * cost), and event-loop lag on the main thread while reports run in the worker and the
 * writer keeps writing.
 */
import Database from "better-sqlite3";
import { mkdtempSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { monitorEventLoopDelay, performance } from "node:perf_hooks";
import { buildReport } from "../src/report/build.js";
import { ReportRunner } from "../src/report/runner.js";
import type { Report, SloObjective } from "../src/report/types.js";
import { StoreReader } from "../src/store/reader.js";
import { SampleStore } from "../src/store/store.js";
import {
  CHAINS, consistencySamples, continuitySamples, probeSamples, rng, SERIES_PER_CHAIN, WATCHERS_PER_CHAIN,
} from "./storeGen.js";

const DAY = 86_400_000;
const HOUR = 3_600_000;
const DAYS = Number(process.env["BENCH_DAYS"] ?? 30);
const RUNS = 10;
const MB = 1024 * 1024;

const dir = mkdtempSync(join(tmpdir(), "lasso-canary-bench-"));
const path = join(dir, "canary.db");
const end = Math.floor(Date.now() / HOUR) * HOUR;
const start = end - DAYS * DAY;
let simNow = start;
const rand = rng(42);
/** Own generator, so the probe samples are the same with or without watchers. */
const crand = rng(43);
const WATCHERS = Number(process.env["BENCH_WATCHERS"] ?? 20);
if (!(WATCHERS >= 0 && WATCHERS % WATCHERS_PER_CHAIN === 0 && WATCHERS / WATCHERS_PER_CHAIN <= CHAINS.length)) {
  throw new Error(`BENCH_WATCHERS must be a multiple of ${WATCHERS_PER_CHAIN} up to ${WATCHERS_PER_CHAIN * CHAINS.length}`);
}
const WATCH_CHAINS = WATCHERS / WATCHERS_PER_CHAIN;

function fmt(n: number, digits = 1): string {
  return n.toFixed(digits);
}

function quantile(xs: number[], q: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil(q * s.length) - 1))] ?? NaN;
}

function fileSize(p: string): number {
  try {
    return statSync(p).size;
  } catch {
    return 0;
  }
}

async function main(): Promise<void> {
  const t0 = performance.now();
  // --- load -------------------------------------------------------------------------
  let store = new SampleStore({ path, now: () => simNow, flushIntervalMs: 0 });
  let samples = 0;
  let contSamples = 0;
  let contLoadMs = 0;
  for (let day = 0; day < DAYS; day++) {
    for (let h = 0; h < 24; h++) {
      const from = start + day * DAY + h * HOUR;
      const batch = probeSamples(from, from + HOUR, rand);
      store.importSamples(batch);
      samples += batch.length;
      for (const c of consistencySamples(from, from + HOUR, rand)) store.accept(c);
      if (WATCH_CHAINS > 0) {
        const cs = continuitySamples(from, from + HOUR, crand, WATCH_CHAINS);
        const t = performance.now();
        store.importSamples(cs);
        contLoadMs += performance.now() - t;
        contSamples += cs.length;
      }
      simNow = from + HOUR;
      store.flush();
      // The daemon prunes continuously; hourly here keeps the freelist as small as it would be.
      store.pruneAll();
    }
    if ((day + 1) % 5 === 0) {
      process.stdout.write(`  simulated day ${day + 1}/${DAYS} (${fmt((performance.now() - t0) / 1000)} s)\n`);
    }
  }
  simNow = end;
  store.pruneAll();
  const loadSec = (performance.now() - t0) / 1000;
  const counts = store.reader().rowCounts();
  store.close(); // checkpoints and removes the WAL

  // --- size ---------------------------------------------------------------------------
  const dbBytes = fileSize(path);
  const stat = new Database(path, { readonly: true });
  const perTable = new Map<string, number>();
  for (const r of stat.prepare("SELECT name, sum(pgsize) AS bytes FROM dbstat GROUP BY name").all() as {
    name: string;
    bytes: number;
  }[]) {
    const table = r.name.startsWith("sqlite_autoindex_") ? r.name.replace(/^sqlite_autoindex_(\w+?)_\d+$/, "$1") : r.name;
    const key = ["staging_ts", "consistency_ts", "cstaging_ts", "cevents_ts"].includes(table) ? table.slice(0, -3) : table;
    perTable.set(key, (perTable.get(key) ?? 0) + r.bytes);
  }
  const freePages = stat.pragma("freelist_count", { simple: true }) as number;
  const pageSize = stat.pragma("page_size", { simple: true }) as number;
  stat.close();
  const b = (t: string): number => perTable.get(t) ?? 0;
  // Per-day figures divide by the days each table currently holds.
  const rawDays = Math.min(DAYS, 7);
  const minuteDays = Math.min(DAYS, 14);
  const rawPerDay = b("raw") / rawDays;
  const minutePerDay = b("rollup_m") / minuteDays;
  const hourPerDay = (b("rollup_h") + b("rollup_d")) / DAYS;
  const consRawPerDay = b("consistency") / rawDays;
  const consRollPerDay = b("cons_m") / minuteDays + (b("cons_h") + b("cons_d")) / DAYS;
  const contRawPerDay = b("cevents") / rawDays;
  const contMinutePerDay = b("crollup_m") / minuteDays;
  const contHourPerDay = (b("crollup_h") + b("crollup_d")) / DAYS;
  const contBytes = b("cevents") + b("crollup_m") + b("crollup_h") + b("crollup_d") + b("cseries") + b("cstaging");
  const fixed = b("series") + b("names") + b("meta") + b("staging") + b("sqlite_schema") + b("cseries") + b("cstaging");
  const projectCont = (days: number): number =>
    Math.min(days, 7) * contRawPerDay + Math.min(days, 14) * contMinutePerDay + Math.min(days, 90) * contHourPerDay;
  const project = (days: number): number =>
    Math.min(days, 7) * (rawPerDay + consRawPerDay) + Math.min(days, 14) * (minutePerDay + b("cons_m") / minuteDays) +
    Math.min(days, 90) * (hourPerDay + (b("cons_h") + b("cons_d")) / DAYS) + projectCont(days) + fixed;

  // --- report latency, direct (same thread) --------------------------------------------
  const slos: SloObjective[] = CHAINS.map((chain) => ({ chain, successRatio: 0.999, p95LatencyMs: 300, maxHeadLagBlocks: 2 }));
  const range = { since: end - 30 * DAY, until: end };
  const reader = StoreReader.open(path);
  const direct: number[] = [];
  let report: Report | null = null;
  for (let i = 0; i < RUNS; i++) {
    const t = performance.now();
    report = buildReport(range, slos, reader, end);
    direct.push(performance.now() - t);
  }
  // The same with mid-minute edges, as when `until` is now: the partial minutes come from
  // raw samples. A 30-day start is past raw and minute retention, so it is rounded out to its
  // hour (and the coverage says so); a 24-hour range is exact at both ends.
  const rowsText = (r: { since: number; until: number }): string => {
    const a = reader.aggregate(r);
    const n = a.rowsRead;
    const edges = a.plan.exactEdges ? "exact edges" : `start rounded out by ${fmt((r.since - (a.plan.from ?? r.since)) / 1000, 1)} s`;
    return `${edges}; rows read: day ${n.rollup_d}, hour ${n.rollup_h}, minute ${n.rollup_m}, raw ${n.raw}, staged ${n.staging}; ` +
      `continuity day ${n.crollup_d}, hour ${n.crollup_h}, minute ${n.crollup_m}, events ${n.cevents}, staged ${n.cstaging}`;
  };
  const midUntil = end - 17_500;
  const edgeLines: string[] = [`${"  rows read".padEnd(25)}${rowsText(range)}`];
  for (const [label, r] of [
    ["report 30d, mid-minute", { since: midUntil - 30 * DAY, until: midUntil }],
    ["report 24h, mid-minute", { since: midUntil - DAY + 4_321, until: midUntil }],
  ] as const) {
    const times: number[] = [];
    for (let i = 0; i < RUNS; i++) {
      const t = performance.now();
      buildReport(r, slos, reader, end);
      times.push(performance.now() - t);
    }
    edgeLines.push(`${label.padEnd(25)}p50 ${fmt(quantile(times, 0.5))} ms, max ${fmt(Math.max(...times))} ms; ${rowsText(r)}`);
  }
  reader.close();

  // --- report in the worker while the daemon writes ---------------------------------------
  // The writer runs on its 1 s timer with a producer at 10 samples/s. One full minute is
  // staged first and the clock set so that minute's compaction falls inside the window.
  store = new SampleStore({ path, now: () => simNow });
  for (const s of probeSamples(end, end + 60_000, rand)) store.accept(s);
  if (WATCH_CHAINS > 0) for (const s of continuitySamples(end, end + 60_000, crand, WATCH_CHAINS)) store.accept(s);
  store.flush();
  const liveStart = performance.now();
  const liveBase = end + 60_000 + 90_000 - 1000;
  simNow = liveBase;
  let liveT = end + 60_000;
  const producer = setInterval(() => {
    simNow = liveBase + (performance.now() - liveStart);
    for (const s of probeSamples(liveT, simNow - 89_500, rand)) store.accept(s);
    if (WATCH_CHAINS > 0) for (const s of continuitySamples(liveT, simNow - 89_500, crand, WATCH_CHAINS)) store.accept(s);
    liveT = Math.max(liveT, simNow - 89_500);
  }, 50);
  const runner = new ReportRunner({ path });
  await runner.render(range, slos, "json", end); // start the worker outside the measurement
  const lag = monitorEventLoopDelay({ resolution: 1 });
  lag.enable();
  // Back-to-back reports for at least 3 s, so the window spans several writer ticks.
  const viaWorker: number[] = [];
  const windowStart = performance.now();
  while (viaWorker.length < RUNS || performance.now() - windowStart < 3000) {
    const t = performance.now();
    report = JSON.parse(await runner.render(range, slos, "json", end)) as Report;
    viaWorker.push(performance.now() - t);
  }
  lag.disable();
  const workerLagP99 = lag.percentile(99) / 1e6;
  const workerLagMax = lag.max / 1e6;

  // For contrast: the same report on the main thread.
  const lag2 = monitorEventLoopDelay({ resolution: 1 });
  const reader2 = StoreReader.open(path);
  lag2.enable();
  for (let i = 0; i < 3; i++) {
    buildReport(range, slos, reader2, end);
    await new Promise((r) => setTimeout(r, 20));
  }
  lag2.disable();
  reader2.close();
  clearInterval(producer);
  await runner.close();
  const stats = store.stats();
  store.close();
  rmSync(dir, { recursive: true, force: true });

  const perRow = (t: string): string => ((counts[t] ?? 0) > 0 ? fmt(b(t) / (counts[t] ?? 1), 1) : "-");
  const series = report?.chains.reduce((n, c) => n + c.series.length, 0) ?? 0;
  const watchers = report?.chains.reduce((n, c) => n + c.continuity.watchers.length, 0) ?? 0;
  const delivered = report?.chains.reduce((n, c) => n + c.continuity.watchers.reduce((m, w) => m + w.delivered, 0), 0) ?? 0;
  const requests = report?.chains.reduce((n, c) => n + c.requests, 0) ?? 0;
  const lines = [
    "",
    "=== lasso-canary store benchmark ===",
    `plan                     ${CHAINS.length} chains x ${SERIES_PER_CHAIN} series, 1 probe / 5 s = 10 samples/s; 1 consistency check / chain / min; ` +
      `${WATCHERS} watchers x 1 event/s`,
    `simulated                ${DAYS} days, ${(samples / 1e6).toFixed(2)} M probe samples + ${(contSamples / 1e6).toFixed(2)} M continuity samples, ` +
      `loaded in ${fmt(loadSec)} s (continuity import ${fmt(contLoadMs / 1000)} s)`,
    `retention                raw 7 d, minute rollups 14 d, hour rollups 90 d`,
    `rows                     raw ${counts["raw"]} (series-minutes), rollup_m ${counts["rollup_m"]}, rollup_h ${counts["rollup_h"]}, rollup_d ${counts["rollup_d"]}, consistency ${counts["consistency"]}`,
    `DB size on disk          ${fmt(dbBytes / MB)} MB after ${DAYS} days (budget 200 MB); page ${pageSize} B, ${freePages} free pages`,
    `  raw probe samples      ${fmt(b("raw") / MB)} MB = ${fmt(b("raw") / (rawDays * 864_000), 1)} B/sample`,
    `  minute rollups         ${fmt(b("rollup_m") / MB)} MB = ${fmt(b("rollup_m") / Math.max(1, counts["rollup_m"] ?? 1), 1)} B/row`,
    `  hour rollups           ${fmt(b("rollup_h") / MB)} MB = ${fmt(b("rollup_h") / Math.max(1, counts["rollup_h"] ?? 1), 1)} B/row`,
    `  day rollups            ${fmt(b("rollup_d") / MB)} MB = ${fmt(b("rollup_d") / Math.max(1, counts["rollup_d"] ?? 1), 1)} B/row`,
    `  consistency raw+rollup ${fmt((b("consistency") + b("cons_m") + b("cons_h") + b("cons_d")) / MB)} MB`,
    `  continuity             ${fmt(contBytes / MB)} MB: anomalies raw ${fmt(b("cevents") / MB, 2)} MB (${counts["cevents"]} rows), ` +
      `minute ${fmt(b("crollup_m") / MB)} MB = ${perRow("crollup_m")} B/row, ` +
      `hour ${fmt(b("crollup_h") / MB, 2)} MB = ${perRow("crollup_h")} B/row, ` +
      `day ${fmt(b("crollup_d") / MB, 2)} MB; delivered samples are not kept raw`,
    `  continuity per day     ${fmt((contRawPerDay + contMinutePerDay + contHourPerDay) / MB, 2)} MB/day while all levels are kept ` +
      `(anomalies ${fmt(contRawPerDay / 1024, 1)} KB, minute ${fmt(contMinutePerDay / MB, 2)} MB, hour+day ${fmt(contHourPerDay / 1024, 1)} KB); ` +
      `${fmt(projectCont(30) / MB)} MB at 30 d, ${fmt(projectCont(90) / MB)} MB at 90 d`,
    `projected per day        raw ${fmt(rawPerDay / MB, 2)} MB, minute ${fmt(minutePerDay / MB, 2)} MB, hour+day ${fmt(hourPerDay / MB, 3)} MB, consistency ${fmt((consRawPerDay + consRollPerDay) / MB, 2)} MB`,
    `projected                ${fmt(project(30) / MB)} MB at 30 days, ${fmt(project(90) / MB)} MB at 90 days (steady state)`,
    `  with minute rollups 90 d instead: ${fmt((project(90) + 76 * minutePerDay) / MB)} MB at 90 days`,
    `report since=30d direct  p50 ${fmt(quantile(direct, 0.5))} ms, max ${fmt(Math.max(...direct))} ms (${RUNS} runs, ${series} series, ${requests} requests, ` +
      `${watchers} watchers, ${delivered} delivered)`,
    ...edgeLines,
    `report via worker        p50 ${fmt(quantile(viaWorker, 0.5))} ms, max ${fmt(Math.max(...viaWorker))} ms (round trip, ${viaWorker.length} runs back to back over 3 s)`,
    `event-loop lag, worker   p99 ${fmt(workerLagP99, 2)} ms, max ${fmt(workerLagMax, 2)} ms (meanwhile: writer live at ${10 + WATCHERS} samples/s + one minute compacted)`,
    `event-loop lag, inline   p99 ${fmt(lag2.percentile(99) / 1e6, 2)} ms, max ${fmt(lag2.max / 1e6, 2)} ms (for contrast: report on the main thread)`,
    `live writer              written ${stats.written}, write errors ${stats.writeErrors}, last write ${fmt(stats.lastWriteDurationMs, 2)} ms, ` +
      `compacted ${stats.compacted}, last compaction slice ${fmt(stats.lastCompactDurationMs, 1)} ms (<= 200 samples); ` +
      `rejected ${stats.rejected}`,
    `bench run time           ${fmt((performance.now() - t0) / 1000)} s`,
  ];
  process.stdout.write(`${lines.join("\n")}\n`);
}

await main();
