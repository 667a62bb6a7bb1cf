import { ByteReader, ByteWriter } from "./bytes.js";
import { clampUs } from "./latency.js";

/**
 * A probe sample as stored: strings interned to ids (0 = null), durations in integer
 * microseconds. Series id stands for (target, chain, route, method).
 */
export interface StoredProbe {
  series: number;
  ts: number;
  ok: boolean;
  errorClass: number;
  errorDetail: string | null;
  latencyUs: number;
  provider: number;
  retries: number | null;
  circuit: number;
  upstreamUs: number | null;
  overheadUs: number | null;
  block: number | null;
  lag: number | null;
  regression: boolean;
  assertions: number[];
  /** ProbeSample.correct; always null when not ok. */
  correct: boolean | null;
}

/** Error details are for humans; cap them so one noisy upstream cannot bloat the file. */
export const MAX_DETAIL_CHARS = 300;

/** Raw durations are kept at 10 us resolution (far below network jitter; saves a byte each). */
export const RAW_UNIT_US = 10;

// Flag bits; the seven common ones fit in the first varint byte.
const OK = 1;
const SAME_CONTEXT = 2; // provider and circuit state equal the previous record's
const RETRIES = 4;
const OVERHEAD = 8;
const UPSTREAM = 16;
const BLOCK = 32;
const LAG = 64;
const RETRIES_NONZERO = 128;
const REGRESSION = 256;
const ERROR_CLASS = 512;
const DETAIL = 1024;
const ASSERTIONS = 2048;
// Correctness of an ok answer, encoded so the common case (judged and correct) sets no bit:
// a record of an earlier version (neither bit) reads as judged and correct.
const NOT_JUDGED = 4096;
const INCORRECT = 8192;

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** What the next record is encoded relative to. */
export interface PackState {
  ts: number;
  /** Previous ts delta: probes are periodic, so delta-of-delta is ~0 and takes one byte. */
  delta: number;
  block: number;
  provider: number;
  circuit: number;
}

export function packState(ts: number): PackState {
  return { ts, delta: 0, block: 0, provider: 0, circuit: 0 };
}

const units = (us: number): number => Math.round(us / RAW_UNIT_US);

/**
 * One record: flags, ts as delta-of-delta, latency, then the optional fields. Provider
 * and circuit state are omitted when unchanged; upstream latency is stored as the
 * residual latency - overhead - upstream (the network time, small); block height as a
 * delta from the previous record's.
 */
export function writeRecord(w: ByteWriter, r: StoredProbe, st: PackState): void {
  let flags = 0;
  if (r.ok) flags |= OK;
  if (r.provider === st.provider && r.circuit === st.circuit) flags |= SAME_CONTEXT;
  if (r.retries !== null) flags |= RETRIES;
  if (r.retries !== null && r.retries !== 0) flags |= RETRIES_NONZERO;
  if (r.overheadUs !== null) flags |= OVERHEAD;
  if (r.upstreamUs !== null) flags |= UPSTREAM;
  if (r.block !== null) flags |= BLOCK;
  if (r.lag !== null) flags |= LAG;
  if (r.regression) flags |= REGRESSION;
  if (r.errorClass !== 0) flags |= ERROR_CLASS;
  if (r.errorDetail !== null) flags |= DETAIL;
  if (r.assertions.length > 0) flags |= ASSERTIONS;
  if (r.ok && r.correct === null) flags |= NOT_JUDGED;
  if (r.ok && r.correct === false) flags |= INCORRECT;
  w.uint(flags);
  const delta = r.ts - st.ts;
  w.int(delta - st.delta);
  w.uint(units(r.latencyUs));
  if (!(flags & SAME_CONTEXT)) {
    w.uint(r.provider);
    w.uint(r.circuit);
  }
  if (flags & RETRIES_NONZERO) w.uint(r.retries ?? 0);
  if (flags & OVERHEAD) w.int(units(r.overheadUs ?? 0));
  if (flags & UPSTREAM) w.int(units(r.latencyUs - (r.overheadUs ?? 0) - (r.upstreamUs ?? 0)));
  if (flags & BLOCK) w.int((r.block ?? 0) - st.block);
  if (flags & LAG) w.int(r.lag ?? 0);
  if (flags & ERROR_CLASS) w.uint(r.errorClass);
  if (flags & DETAIL) w.bytes(encoder.encode(r.errorDetail ?? ""));
  if (flags & ASSERTIONS) {
    w.uint(r.assertions.length);
    for (const a of r.assertions) w.uint(a);
  }
  st.ts = r.ts;
  st.delta = delta;
  if (r.block !== null) st.block = r.block;
  st.provider = r.provider;
  st.circuit = r.circuit;
}

export function readRecord(rd: ByteReader, series: number, st: PackState): StoredProbe {
  const flags = rd.uint();
  const delta = st.delta + rd.int();
  const ts = st.ts + delta;
  const latencyUs = rd.uint() * RAW_UNIT_US;
  if (!(flags & SAME_CONTEXT)) {
    st.provider = rd.uint();
    st.circuit = rd.uint();
  }
  const retries = flags & RETRIES ? (flags & RETRIES_NONZERO ? rd.uint() : 0) : null;
  const overheadUs = flags & OVERHEAD ? rd.int() * RAW_UNIT_US : null;
  const upstreamUs = flags & UPSTREAM ? latencyUs - (overheadUs ?? 0) - rd.int() * RAW_UNIT_US : null;
  const block = flags & BLOCK ? st.block + rd.int() : null;
  const lag = flags & LAG ? rd.int() : null;
  const errorClass = flags & ERROR_CLASS ? rd.uint() : 0;
  const errorDetail = flags & DETAIL ? decoder.decode(rd.bytes()) : null;
  const assertions: number[] = [];
  if (flags & ASSERTIONS) {
    const n = rd.uint();
    for (let i = 0; i < n; i++) assertions.push(rd.uint());
  }
  st.ts = ts;
  st.delta = delta;
  if (block !== null) st.block = block;
  const ok = (flags & OK) !== 0;
  return {
    series, ts, ok, correct: !ok || (flags & NOT_JUDGED) !== 0 ? null : (flags & INCORRECT) === 0, errorClass, errorDetail, latencyUs, provider: st.provider, retries,
    circuit: st.circuit, upstreamUs, overheadUs, block, lag, regression: (flags & REGRESSION) !== 0, assertions,
  };
}

/** Encodes records (sorted by ts by the caller) into one packed blob for a series-minute. */
export function packRecords(records: readonly StoredProbe[], minuteStartMs: number): Buffer {
  const w = new ByteWriter(records.length * 16 + 16);
  const st = packState(minuteStartMs);
  for (const r of records) writeRecord(w, r, st);
  return w.finish();
}

export function unpackRecords(blob: Uint8Array, series: number, minuteStartMs: number): StoredProbe[] {
  const rd = new ByteReader(blob);
  const st = packState(minuteStartMs);
  const out: StoredProbe[] = [];
  while (!rd.done) out.push(readRecord(rd, series, st));
  return out;
}

/** A staged (not yet compacted) record: the same codec, relative to its own ts column. */
export function encodeStaged(r: StoredProbe): Buffer {
  const w = new ByteWriter(32);
  writeRecord(w, r, packState(r.ts));
  return w.finish();
}

export function decodeStaged(blob: Uint8Array, series: number, ts: number): StoredProbe {
  return readRecord(new ByteReader(blob), series, packState(ts));
}

/** ms -> us, rounded to the raw resolution. */
function toUs(ms: number): number {
  return Math.round((ms * 1000) / RAW_UNIT_US) * RAW_UNIT_US;
}

function optUs(ms: number | null): number | null {
  return ms === null || !Number.isFinite(ms) ? null : toUs(ms);
}

function optInt(v: number | null): number | null {
  return v === null || !Number.isFinite(v) ? null : Math.round(v);
}

export interface ProbeFields {
  ts: number;
  outcome: "ok" | "error";
  errorDetail: string | null;
  latencyMs: number;
  retries: number | null;
  upstreamLatencyMs: number | null;
  lassoOverheadMs: number | null;
  blockHeight: number | null;
  headLagBlocks: number | null;
  headRegression: boolean;
  correct: boolean | null;
}

/** Numeric part of a sample as stored (ids are filled in by the caller). */
export function toStored(
  s: ProbeFields,
  ids: { series: number; errorClass: number; provider: number; circuit: number; assertions: number[] },
): StoredProbe {
  if (!Number.isFinite(s.ts)) throw new Error("sample ts is not a finite number");
  const upstream = optUs(s.upstreamLatencyMs);
  const latencyUs = clampUs(toUs(s.latencyMs));
  const retries = optInt(s.retries);
  const block = optInt(s.blockHeight);
  return {
    series: ids.series,
    ts: Math.round(s.ts),
    ok: s.outcome === "ok",
    errorClass: ids.errorClass,
    errorDetail: s.errorDetail === null ? null : s.errorDetail.slice(0, MAX_DETAIL_CHARS),
    latencyUs,
    provider: ids.provider,
    retries: retries === null ? null : Math.max(0, retries),
    circuit: ids.circuit,
    upstreamUs: upstream === null ? null : Math.max(0, upstream),
    overheadUs: optUs(s.lassoOverheadMs),
    block: block === null ? null : Math.max(0, block),
    lag: optInt(s.headLagBlocks),
    regression: s.headRegression,
    assertions: ids.assertions,
    correct: s.outcome === "ok" ? s.correct : null,
  };
}
