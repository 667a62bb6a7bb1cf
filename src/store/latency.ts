import { createRequire } from "node:module";

// The class's own module, not the package index: the index also loads the WebAssembly
// build (a large inline base64 blob), ~15 MB of RSS in every thread that imports it.
// require() keeps the CommonJS default export the same under tsx and compiled code.
const Float64Histogram = (
  createRequire(import.meta.url)("hdr-histogram-js/dist/Float64Histogram.js") as typeof import("hdr-histogram-js/dist/Float64Histogram.js")
).default;
type Float64Histogram = InstanceType<typeof Float64Histogram>;

/**
 * Latency histograms: HdrHistogram (hdr-histogram-js) over microseconds, 2 significant
 * digits. Values below 256 us are exact; above, a bucket spans at most 1/128 of its value,
 * so a percentile read back is within 0.8% (stated as 1%) of the true sample value.
 *
 * Rollups store the histogram's non-empty counts as (bucket index, count) pairs. The index
 * is HdrHistogram's own counts-array index for this fixed configuration, so merging is
 * adding counts per index, and percentiles are read by replaying the counts into a real
 * HdrHistogram. Changing LOWEST/HIGHEST/DIGITS changes the index space: that needs a
 * schema migration that rewrites the rollups.
 */
export const LATENCY_DIGITS = 2;
export const LATENCY_RELATIVE_ERROR = 0.01;
const LOWEST_US = 1;
/** One hour; longer latencies are clamped (a probe never waits that long). */
export const HIGHEST_US = 3_600_000_000;

function newHistogram(): Float64Histogram {
  return new Float64Histogram(LOWEST_US, HIGHEST_US, LATENCY_DIGITS);
}

const template = newHistogram();
export const LATENCY_INDEXES = template.countsArrayLength;

export function clampUs(us: number): number {
  if (!Number.isFinite(us) || us < 0) return 0;
  return Math.min(Math.round(us), HIGHEST_US);
}

export function latencyIndex(us: number): number {
  return template.countsArrayIndex(clampUs(us));
}

/**
 * Dense counts per histogram index; the accumulator used for merging many rollups. A plain
 * array, not a Float64Array: a typed array's storage is malloc'd outside V8's heap and freed
 * only when V8 gets round to it, and a report's few hundred of them kept the report worker
 * ~6 MB bigger under load (~18 MB after it exited); a plain array lives and dies in V8's heap.
 */
export class LatencyCounts {
  private readonly counts: number[] = new Array<number>(LATENCY_INDEXES).fill(0);
  total = 0;

  add(index: number, count: number): void {
    if (!(index >= 0 && index < LATENCY_INDEXES)) throw new Error(`latency bucket ${index} out of range`);
    this.counts[index] = (this.counts[index] as number) + count;
    this.total += count;
  }

  merge(other: LatencyCounts): void {
    if (other.total === 0) return;
    const src = other.counts;
    for (let i = 0; i < src.length; i++) {
      const c = src[i] as number;
      if (c !== 0) this.counts[i] = (this.counts[i] as number) + c;
    }
    this.total += other.total;
  }

  /** Non-empty (index, count) pairs, by index. */
  entries(): [number, number][] {
    const out: [number, number][] = [];
    this.counts.forEach((c, i) => {
      if (c !== 0) out.push([i, c]);
    });
    return out;
  }

  /** Percentile (0..100) in ms via HdrHistogram, or null when empty. */
  percentilesMs(ps: readonly number[]): (number | null)[] {
    const touched: number[] = [];
    this.counts.forEach((c, i) => {
      if (c !== 0) touched.push(i);
    });
    return percentilesOfIndexes(touched, (i) => this.counts[i] as number, ps);
  }

  /** Number of recorded values whose bucket lies entirely above `us` (bucket-precise). */
  countAbove(us: number): number {
    const limit = latencyIndex(us);
    let n = 0;
    for (let i = limit + 1; i < this.counts.length; i++) n += this.counts[i] as number;
    return n;
  }
}

const ulp = (createRequire(import.meta.url)("hdr-histogram-js/dist/ulp.js") as { default: (x: number) => number }).default;

/**
 * Percentiles (0..100) in ms of (histogram index, count) pairs, e.g. a sparse rollup's counts.
 * Null for every percentile when there is no count.
 */
export function percentilesOfCounts(entries: Iterable<readonly [number, number]>, ps: readonly number[]): (number | null)[] {
  const counts = new Map<number, number>();
  for (const [i, c] of entries) if (c > 0) counts.set(i, (counts.get(i) ?? 0) + c);
  return percentilesOfIndexes(Int32Array.from(counts.keys()).sort(), (i) => counts.get(i) ?? 0, ps);
}

/**
 * The values HdrHistogram's getValueAtPercentile returns for these counts, without replaying
 * them into a 3328-bucket histogram: one walk over the non-empty indexes (ascending), all
 * percentiles at once. A report's chart buckets read thousands of small histograms.
 */
export function percentilesOfIndexes(sorted: ArrayLike<number>, countOf: (index: number) => number, ps: readonly number[]): (number | null)[] {
  let total = 0;
  for (let k = 0; k < sorted.length; k++) total += countOf(sorted[k] as number);
  if (total === 0) return ps.map(() => null);
  const wanted = ps.map((p) => {
    const fp = (Math.min(p, 100) / 100) * total;
    return Math.max(Math.ceil(fp - ulp(fp)), 1);
  });
  const order = ps.map((_, j) => j).sort((x, y) => (wanted[x] as number) - (wanted[y] as number));
  const out: (number | null)[] = ps.map(() => 0);
  let next = 0;
  let seen = 0;
  for (let k = 0; k < sorted.length && next < order.length; k++) {
    const i = sorted[k] as number;
    seen += countOf(i);
    while (next < order.length && seen >= (wanted[order[next] as number] as number)) {
      const j = order[next++] as number;
      const v = template.valueFromIndex(i);
      out[j] = (ps[j] === 0 ? template.lowestEquivalentValue(v) : template.highestEquivalentValue(v)) / 1000;
    }
  }
  return out;
}
