import { ByteReader, ByteWriter } from "./bytes.js";
import { latencyIndex } from "./latency.js";
import type { StoredProbe } from "./record.js";

/** Anything latency counts can be added to: a sparse map (writer) or dense array (reader). */
export interface LatencySink {
  add(index: number, count: number): void;
}

/**
 * A histogram the reader does not want (a chart has no overhead or delivery-delay histogram):
 * readLatency steps over its bytes instead of adding every count into a sink that drops it.
 */
export const DISCARD_LATENCY: LatencySink = { add: () => undefined };

export class SparseCounts implements LatencySink {
  readonly map = new Map<number, number>();

  add(index: number, count: number): void {
    this.map.set(index, (this.map.get(index) ?? 0) + count);
  }
}

/**
 * What a minute or hour rollup holds for one series. `n`/`ok` are all requests and the
 * well-formed answers (availability); the latency histogram covers those answers only, as
 * the /metrics latency histogram does (errors are the availability SLI's business, and a fast
 * "connection refused" must not improve p95). `judged`/`incorrect` are the answers the
 * correctness SLI judged and those that failed it. Head lag is kept as exact counts per lag
 * value, so mean, max and the share over any threshold are computed at report time.
 */
export interface Agg<L extends LatencySink = LatencySink> {
  n: number;
  ok: number;
  /** error class id (0 = unknown) -> count */
  errors: Map<number, number>;
  /** provider id (0 = unknown) -> count */
  providers: Map<number, number>;
  latency: L;
  overheadCount: number;
  overheadSumUs: number;
  overheadMaxUs: number;
  /**
   * Overhead histogram (same buckets as latency; negatives recorded as 0), for the baseline
   * comparison's rank test. Blobs written before it existed end before it: such rollups add
   * to overheadCount but not here, so its total can be below overheadCount.
   */
  overheadLatency: L;
  /** head lag in blocks -> count */
  lag: Map<number, number>;
  regressions: number;
  retriesTotal: number;
  retriedRequests: number;
  judged: number;
  incorrect: number;
  /** assertion name id -> failed answers (freshness included) */
  failedAssertions: Map<number, number>;
}

/** `latency` and `overheadLatency` are two distinct, empty histograms. */
export function newAgg<L extends LatencySink>(latency: L, overheadLatency: L): Agg<L> {
  return {
    n: 0, ok: 0, errors: new Map(), providers: new Map(), latency,
    overheadCount: 0, overheadSumUs: 0, overheadMaxUs: 0, overheadLatency, lag: new Map(),
    regressions: 0, retriesTotal: 0, retriedRequests: 0, judged: 0, incorrect: 0, failedAssertions: new Map(),
  };
}

function bump(m: Map<number, number>, k: number, by: number): void {
  m.set(k, (m.get(k) ?? 0) + by);
}

export function addSample(a: Agg, r: StoredProbe): void {
  a.n++;
  if (r.ok) {
    a.ok++;
    a.latency.add(latencyIndex(r.latencyUs), 1);
  } else {
    bump(a.errors, r.errorClass, 1);
  }
  bump(a.providers, r.provider, 1);
  if (r.overheadUs !== null) {
    a.overheadMaxUs = a.overheadCount === 0 ? r.overheadUs : Math.max(a.overheadMaxUs, r.overheadUs);
    a.overheadCount++;
    a.overheadSumUs += r.overheadUs;
    a.overheadLatency.add(latencyIndex(r.overheadUs), 1);
  }
  if (r.lag !== null) bump(a.lag, r.lag, 1);
  if (r.regression) a.regressions++;
  if (r.retries !== null && r.retries > 0) {
    a.retriesTotal += r.retries;
    a.retriedRequests++;
  }
  if (r.correct !== null) {
    a.judged++;
    if (!r.correct) a.incorrect++;
  }
  for (const id of r.assertions) bump(a.failedAssertions, id, 1);
}

function writeCounts(w: ByteWriter, m: Map<number, number>): void {
  w.uint(m.size);
  for (const [k, c] of m) {
    w.uint(k);
    w.uint(c);
  }
}

/** Sorted keys, the first zigzag then deltas; a count of 1 (the common case) costs no byte. */
function writeSortedCounts(w: ByteWriter, keys: readonly number[], m: Map<number, number>, signed: boolean): void {
  let prev = 0;
  for (let i = 0; i < keys.length; i++) {
    const k = keys[i] as number;
    const c = m.get(k) ?? 0;
    const delta = i === 0 && signed ? (k >= 0 ? k * 2 : -k * 2 - 1) : k - prev;
    w.uint(delta * 2 + (c === 1 ? 0 : 1));
    if (c !== 1) w.uint(c);
    prev = k;
  }
}

function readSortedCounts(rd: ByteReader, n: number, signed: boolean, into: (k: number, c: number) => void): void {
  let prev = 0;
  for (let i = 0; i < n; i++) {
    const v = rd.uint();
    const hasCount = v % 2 === 1;
    const delta = (v - (hasCount ? 1 : 0)) / 2;
    const k = i === 0 && signed ? (delta % 2 === 0 ? delta / 2 : -(delta + 1) / 2) : prev + delta;
    into(k, hasCount ? rd.uint() : 1);
    prev = k;
  }
}

const sortedKeys = (m: Map<number, number>): number[] => [...m.keys()].sort((x, y) => x - y);

function writeLag(w: ByteWriter, m: Map<number, number>): void {
  const keys = sortedKeys(m);
  w.uint(keys.length);
  writeSortedCounts(w, keys, m, true);
}

function readLag(rd: ByteReader, into: (k: number, c: number) => void): void {
  readSortedCounts(rd, rd.uint(), true, into);
}

/**
 * Latency counts in whichever of two layouts is shorter, tagged in the header's low bit:
 * sparse (index delta, count) pairs suit a minute's dozen samples; run-length (counts with
 * runs of empty buckets, as in HdrHistogram's own V2 encoding) suits an hour's hundreds.
 */
export function writeLatency(w: ByteWriter, m: Map<number, number>): void {
  const keys = sortedKeys(m);
  const sparse = new ByteWriter(keys.length * 2 + 4);
  writeSortedCounts(sparse, keys, m, false);
  const rle = new ByteWriter(keys.length * 2 + 4);
  let tokens = 0;
  if (keys.length > 0) {
    const first = keys[0] as number;
    rle.uint(first);
    let run = 0;
    for (let i = first; i <= (keys.at(-1) as number); i++) {
      const c = m.get(i) ?? 0;
      if (c === 0) {
        run++;
        continue;
      }
      if (run > 0) {
        rle.uint(run * 2 + 1);
        tokens++;
        run = 0;
      }
      rle.uint(c * 2);
      tokens++;
    }
  }
  if (rle.length < sparse.length) {
    w.uint(tokens * 2 + 1);
    w.raw(rle);
  } else {
    w.uint(keys.length * 2);
    w.raw(sparse);
  }
}

export function readLatency(rd: ByteReader, sink: LatencySink): void {
  const header = rd.uint();
  const n = Math.floor(header / 2);
  if (sink === DISCARD_LATENCY) {
    skipLatency(rd, header % 2 === 0, n);
    return;
  }
  if (header % 2 === 0) {
    readSortedCounts(rd, n, false, (k, c) => sink.add(k, c));
    return;
  }
  let index = rd.uint();
  for (let i = 0; i < n; i++) {
    const t = rd.uint();
    if (t % 2 === 1) index += (t - 1) / 2;
    else sink.add(index++, t / 2);
  }
}

/** Past a histogram readLatency would read: `n` sparse (delta, [count]) entries, or a first index and `n` run-length tokens. */
function skipLatency(rd: ByteReader, sparse: boolean, n: number): void {
  if (sparse) {
    for (let i = 0; i < n; i++) if (rd.uint() % 2 === 1) rd.uint();
    return;
  }
  rd.uint();
  for (let i = 0; i < n; i++) rd.uint();
}

/**
 * The blob next to the (n, ok) columns of a rollup row. Later fields come last: a blob written
 * before the correctness counts existed ends before them and reads as none judged; one written
 * before the overhead histogram ends before it and adds nothing to it; so does a minute row
 * (withOverheadHistogram false): a sample per probe a minute makes the histogram nearly one
 * entry per sample, 15% of a 30-day database, for a rank test that hour and day rows and raw
 * samples serve (a range's edge minutes count in the overhead mean, not in its test).
 */
export function encodeAgg(a: Agg<SparseCounts>, withOverheadHistogram = true): Buffer {
  const w = new ByteWriter(64);
  writeCounts(w, a.errors);
  writeCounts(w, a.providers);
  writeLatency(w, a.latency.map);
  w.uint(a.overheadCount);
  if (a.overheadCount > 0) {
    w.int(a.overheadSumUs);
    w.int(a.overheadMaxUs);
  }
  writeLag(w, a.lag);
  w.uint(a.regressions);
  w.uint(a.retriesTotal);
  w.uint(a.retriedRequests);
  w.uint(a.judged);
  w.uint(a.incorrect);
  writeCounts(w, a.failedAssertions);
  if (withOverheadHistogram) writeLatency(w, a.overheadLatency.map);
  return w.finish();
}

/** Adds a stored rollup (n, ok, blob) into `a`: decoding and merging are one step. */
export function mergeEncoded(a: Agg, n: number, ok: number, blob: Uint8Array): void {
  const rd = new ByteReader(blob);
  a.n += n;
  a.ok += ok;
  for (let i = rd.uint(); i > 0; i--) bump(a.errors, rd.uint(), rd.uint());
  for (let i = rd.uint(); i > 0; i--) bump(a.providers, rd.uint(), rd.uint());
  readLatency(rd, a.latency);
  const ovCount = rd.uint();
  if (ovCount > 0) {
    const sum = rd.int();
    const max = rd.int();
    a.overheadMaxUs = a.overheadCount === 0 ? max : Math.max(a.overheadMaxUs, max);
    a.overheadCount += ovCount;
    a.overheadSumUs += sum;
  }
  readLag(rd, (k, c) => bump(a.lag, k, c));
  a.regressions += rd.uint();
  a.retriesTotal += rd.uint();
  a.retriedRequests += rd.uint();
  if (rd.done) return;
  a.judged += rd.uint();
  a.incorrect += rd.uint();
  for (let i = rd.uint(); i > 0; i--) bump(a.failedAssertions, rd.uint(), rd.uint());
  if (rd.done) return;
  readLatency(rd, a.overheadLatency);
}

/** Merges one in-memory aggregate into another (same latency container type). */
export function mergeAgg(into: Agg<SparseCounts>, from: Agg<SparseCounts>): void {
  into.n += from.n;
  into.ok += from.ok;
  for (const [k, c] of from.errors) bump(into.errors, k, c);
  for (const [k, c] of from.providers) bump(into.providers, k, c);
  for (const [k, c] of from.latency.map) into.latency.add(k, c);
  if (from.overheadCount > 0) {
    into.overheadMaxUs = into.overheadCount === 0 ? from.overheadMaxUs : Math.max(into.overheadMaxUs, from.overheadMaxUs);
    into.overheadCount += from.overheadCount;
    into.overheadSumUs += from.overheadSumUs;
  }
  for (const [k, c] of from.overheadLatency.map) into.overheadLatency.add(k, c);
  for (const [k, c] of from.lag) bump(into.lag, k, c);
  into.regressions += from.regressions;
  into.retriesTotal += from.retriesTotal;
  into.retriedRequests += from.retriedRequests;
  into.judged += from.judged;
  into.incorrect += from.incorrect;
  for (const [k, c] of from.failedAssertions) bump(into.failedAssertions, k, c);
}
