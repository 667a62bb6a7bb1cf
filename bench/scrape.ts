/**
 * The cost of one /metrics scrape: the daemon's own exposition (src/metrics/exposition.ts)
 * against prom-client formatting each metric (what the daemon did before; both write one
 * metric per event-loop turn), on the daemon's real metrics: a MetricsSink with the node
 * metrics, 20, 100 and 400 probe series planned (10 per chain, as bench/scale's steps), and
 * a few answers per series so every histogram has buckets to write. Both sides run in
 * turns on the same registry, so the machine's noise falls on both.
 * Per scrape: CPU ms, bytes, the longest single-metric stretch (what holds the event loop),
 * and young-generation collections (with the daemon's 1 MiB semi-space, about one per MiB
 * allocated). Run: `node --max-semi-space-size=1 --import tsx bench/scrape.ts` (about 30 s).
 */
import { PerformanceObserver, constants, performance, type PerformanceEntry } from "node:perf_hooks";
import { writeExposition } from "../src/metrics/exposition.js";
import { MetricsSink } from "../src/metrics/registry.js";
import type { ProbeSample } from "../src/samples.js";
import { fmt, quantile } from "./measure.js";

const SERIES_STEPS = [20, 100, 400];
const ANSWERS_PER_SERIES = 6;
const ROUNDS = 5;
const SCRAPES_PER_ROUND = 20;

/** Start times of young-generation collections; observers hear of them late, so they are matched to scrapes by time. */
const minorGcAt: number[] = [];
new PerformanceObserver((list) => {
  for (const e of list.getEntries()) if ((e as PerformanceEntry & { detail?: { kind?: number } }).detail?.kind === constants.NODE_PERFORMANCE_GC_MINOR) minorGcAt.push(e.startTime);
}).observe({ entryTypes: ["gc"] });

function sinkWith(series: number): MetricsSink {
  const sink = new MetricsSink({ version: "bench", collectDefaults: true });
  const probes = Array.from({ length: series }, (_, i) => ({
    target: "lb", chain: `chain${Math.floor(i / 10)}`, route: ["default", "fastest", "round-robin", "pin:alpha", "pin:bravo"][i % 5] ?? "default",
    method: i % 10 < 5 ? "eth_blockNumber" : "eth_chainId", assertions: ["shape"], pinned: null,
  }));
  sink.expect({ probes, consistency: [], watchers: [], slos: [], soakTargets: [] });
  let n = 0;
  for (const p of probes) {
    for (let k = 0; k < ANSWERS_PER_SERIES; k++, n++) {
      const answer: ProbeSample = {
        kind: "probe", ts: Date.now(), target: p.target, chain: p.chain, route: p.route, method: p.method,
        outcome: n % 13 === 0 ? "error" : "ok", errorClass: n % 13 === 0 ? "timeout" : null, errorDetail: null,
        latencyMs: 5 + ((n * 37) % 700), provider: n % 13 === 0 ? null : ["alpha", "bravo", "charlie"][n % 3] ?? null, transport: "http",
        retries: n % 11 === 0 ? 1 : 0, circuitState: null, upstreamLatencyMs: 4, lassoOverheadMs: 1 + (n % 5), blockHeight: 100 + k,
        headLagBlocks: n % 3, headRegression: false, failedAssertions: n % 17 === 0 ? ["freshness"] : [], correct: null,
      };
      sink.accept(answer);
    }
  }
  return sink;
}

interface Side {
  cpuMs: number[];
  bytes: number;
  longestMs: number;
  /** performance.now() spans of the measured rounds. */
  spans: Array<[number, number]>;
  scrapes: number;
}

/** What the daemon did before: prom-client formats each metric, one metric per event-loop turn. */
async function promClientScrape(sink: MetricsSink, side: Side): Promise<void> {
  const cpu = process.cpuUsage();
  let bytes = 0;
  for (const metric of sink.registry.getMetricsAsArray()) {
    const t = performance.now();
    bytes += Buffer.byteLength(await sink.registry.getSingleMetricAsString(metric.name)) + 2;
    side.longestMs = Math.max(side.longestMs, performance.now() - t);
    await new Promise((r) => setImmediate(r));
  }
  side.cpuMs.push(cpuMsSince(cpu));
  side.bytes = bytes;
}

async function ownScrape(sink: MetricsSink, side: Side): Promise<void> {
  const cpu = process.cpuUsage();
  let bytes = 0;
  let stretchStart = performance.now();
  await writeExposition(sink.registry, (chunk) => {
    bytes += Buffer.byteLength(chunk);
    const now = performance.now();
    side.longestMs = Math.max(side.longestMs, now - stretchStart);
    setImmediate(() => (stretchStart = performance.now()));
    return true;
  });
  side.cpuMs.push(cpuMsSince(cpu));
  side.bytes = bytes;
}

function cpuMsSince(from: NodeJS.CpuUsage): number {
  const d = process.cpuUsage(from);
  return (d.user + d.system) / 1000;
}

async function measure(sink: MetricsSink, scrape: (s: MetricsSink, side: Side) => Promise<void>, side: Side): Promise<void> {
  const from = performance.now();
  for (let i = 0; i < SCRAPES_PER_ROUND; i++) await scrape(sink, side);
  side.spans.push([from, performance.now()]);
  side.scrapes += SCRAPES_PER_ROUND;
}

const gcsPerScrape = (side: Side): number =>
  minorGcAt.filter((t) => side.spans.some(([from, to]) => t >= from && t <= to)).length / side.scrapes;

const newSide = (): Side => ({ cpuMs: [], bytes: 0, longestMs: 0, spans: [], scrapes: 0 });

async function main(): Promise<void> {
  const steps: Array<{ series: number; theirs: Side; ours: Side }> = [];
  for (const series of SERIES_STEPS) {
    const sink = sinkWith(series);
    // Warm both paths (JIT, the exposition's label texts) before anything is counted.
    for (let i = 0; i < 10; i++) {
      await promClientScrape(sink, newSide());
      await ownScrape(sink, newSide());
    }
    const theirs = newSide();
    const ours = newSide();
    for (let round = 0; round < ROUNDS; round++) {
      await measure(sink, promClientScrape, theirs);
      await measure(sink, ownScrape, ours);
    }
    steps.push({ series, theirs, ours });
  }
  await new Promise((r) => setTimeout(r, 100)); // the last collections' observer entries
  const p50 = (s: Side): number => quantile(s.cpuMs, 0.5);
  const rows = steps.map(({ series, theirs, ours }) =>
    `${String(series).padStart(6)}  ${fmt(ours.bytes / 1000).padStart(7)} kB  ` +
      `${fmt(p50(theirs), 2).padStart(7)} ms ${fmt(theirs.longestMs, 1).padStart(6)} ms ${fmt(gcsPerScrape(theirs), 2).padStart(5)}   ` +
      `${fmt(p50(ours), 2).padStart(7)} ms ${fmt(ours.longestMs, 1).padStart(6)} ms ${fmt(gcsPerScrape(ours), 2).padStart(5)}   ` +
      `${fmt(p50(theirs) / p50(ours), 1)}x`);
  process.stdout.write(
    [
      "",
      `/metrics scrape: prom-client formatting each metric vs the daemon's exposition (CPU p50 over ${ROUNDS * SCRAPES_PER_ROUND} scrapes each, in turns)`,
      "series     text     | prom-client: CPU  longest  minor GCs | exposition: CPU  longest  minor GCs | CPU ratio",
      ...rows,
      "(longest: the longest stretch the event loop is held; minor GCs per scrape, about one per MiB allocated at a 1 MiB semi-space)",
      "",
    ].join("\n"),
  );
}

await main();
