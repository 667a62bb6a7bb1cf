import { createRequire } from "node:module";
import type { LatencySink } from "./rollup.js";

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
 * The array is a window over the indexes seen so far (a route's latencies span a few hundred
 * of the 3,328 buckets), grown as needed: a report's ~250 histograms live through the whole
 * report, and at 26 KB each they were most of what the report worker's small young generation
 * had to copy and promote. Merging, percentiles and clearing walk the indexes held.
 */
export class LatencyCounts implements LatencySink {
  /** counts[i - base] is index i's count, for base <= i < base + counts.length. */
  private counts: number[] = [];
  private base = 0;
  total = 0;
  /** Lowest and highest index with a count, or LATENCY_INDEXES and -1 when empty. */
  private lo = LATENCY_INDEXES;
  private hi = -1;

  add(index: number, count: number): void {
    if (!(index >= 0 && index < LATENCY_INDEXES)) throw new Error(`latency bucket ${index} out of range`);
    if (index < this.base || index >= this.base + this.counts.length) this.cover(index, index);
    const j = index - this.base;
    this.counts[j] = (this.counts[j] as number) + count;
    this.total += count;
    if (index < this.lo) this.lo = index;
    if (index > this.hi) this.hi = index;
  }

  merge(other: LatencyCounts): void {
    if (other.total === 0) return;
    this.cover(other.lo, other.hi);
    const src = other.counts;
    const shift = other.base - this.base;
    for (let j = other.lo - other.base; j <= other.hi - other.base; j++) {
      const c = src[j] as number;
      if (c !== 0) this.counts[j + shift] = (this.counts[j + shift] as number) + c;
    }
    this.total += other.total;
    if (other.lo < this.lo) this.lo = other.lo;
    if (other.hi > this.hi) this.hi = other.hi;
  }

  /** Back to empty, keeping the window. */
  clear(): void {
    if (this.hi >= this.lo) this.counts.fill(0, this.lo - this.base, this.hi - this.base + 1);
    this.total = 0;
    this.lo = LATENCY_INDEXES;
    this.hi = -1;
  }

  /** Non-empty (index, count) pairs, by index. */
  entries(): [number, number][] {
    const out: [number, number][] = [];
    for (let i = this.lo; i <= this.hi; i++) {
      const c = this.counts[i - this.base] as number;
      if (c !== 0) out.push([i, c]);
    }
    return out;
  }

  /** Percentile (0..100) in ms via HdrHistogram, or null when empty. */
  percentilesMs(ps: readonly number[]): (number | null)[] {
    const walk = new PercentileWalk(ps, this.total);
    for (let i = this.lo; i <= this.hi && !walk.done; i++) walk.step(i, this.counts[i - this.base] as number);
    return walk.out;
  }

  /** Number of recorded values whose bucket lies entirely above `us` (bucket-precise). */
  countAbove(us: number): number {
    let n = 0;
    for (let i = Math.max(latencyIndex(us) + 1, this.lo); i <= this.hi; i++) n += this.counts[i - this.base] as number;
    return n;
  }

  /** Grows the window to hold indexes from..to, with room for as much again on each side. */
  private cover(from: number, to: number): void {
    if (from >= this.base && to < this.base + this.counts.length) return;
    const lo = Math.min(from, this.hi >= this.lo ? this.lo : from);
    const hi = Math.max(to, this.hi >= this.lo ? this.hi : to);
    const slack = Math.max(32, hi - lo + 1);
    const base = Math.max(0, lo - slack);
    const counts = new Array<number>(Math.min(LATENCY_INDEXES, hi + slack + 1) - base).fill(0);
    for (let i = this.lo; i <= this.hi; i++) counts[i - base] = this.counts[i - this.base] as number;
    this.counts = counts;
    this.base = base;
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
  const walk = new PercentileWalk(ps, total);
  for (let k = 0; k < sorted.length && !walk.done; k++) {
    const i = sorted[k] as number;
    walk.step(i, countOf(i));
  }
  return walk.out;
}

/** Counts fed in ascending index order until every wanted rank is reached; `out` then holds the percentiles. */
class PercentileWalk {
  readonly out: (number | null)[];
  private readonly wanted: number[];
  private readonly order: number[];
  private next = 0;
  private seen = 0;

  constructor(private readonly ps: readonly number[], total: number) {
    this.wanted = ps.map((p) => {
      const fp = (Math.min(p, 100) / 100) * total;
      return Math.max(Math.ceil(fp - ulp(fp)), 1);
    });
    this.order = ps.map((_, j) => j).sort((x, y) => (this.wanted[x] as number) - (this.wanted[y] as number));
    this.out = ps.map(() => (total === 0 ? null : 0));
    if (total === 0) this.next = this.order.length;
  }

  get done(): boolean {
    return this.next >= this.order.length;
  }

  step(index: number, count: number): void {
    if (count === 0) return;
    this.seen += count;
    while (this.next < this.order.length && this.seen >= (this.wanted[this.order[this.next] as number] as number)) {
      const j = this.order[this.next++] as number;
      const v = template.valueFromIndex(index);
      this.out[j] = (this.ps[j] === 0 ? template.lowestEquivalentValue(v) : template.highestEquivalentValue(v)) / 1000;
    }
  }
}
