import { SERIES_CONSISTENCY, SERIES_PROBE } from "./intern.js";
import { bucketOfKey, rowKey, seriesOfKey } from "./keys.js";
import { unpackRecords } from "./record.js";
import type { Horizons } from "./segments.js";
import { DAY_MS, HOUR_MS, MINUTE_MS } from "./time.js";

/** Which series ids (probe series, consistency scopes) a query wants. */
export type Wanted = (id: number, kind: number) => boolean;

/** Anything that prepares statements on the store's connection (a StoreReader). */
export interface Preparer {
  prepare<P extends unknown[] = unknown[], R = unknown>(sql: string): { iterate(...params: P): IterableIterator<R> };
}

/**
 * The first and last probe or consistency sample in a range. Exact timestamps where the raw
 * samples are kept (raw rows, staging, consistency rows); where only rollups are left, the
 * bound of the finest retained bucket holding one (clamped to the range), and `exact` is false.
 */
export interface SampleSpan {
  first: number | null;
  last: number | null;
  exact: boolean;
}

type Dir = "first" | "last";

const better = (dir: Dir, a: number | null, b: number | null): number | null =>
  a === null ? b : b === null ? a : dir === "first" ? Math.min(a, b) : Math.max(a, b);

/** First (or last) ts in [since, until) of a wanted series in a table with a `ts` index. */
function timestamped(db: Preparer, table: "staging" | "consistency", dir: Dir, since: number, until: number, wanted: Wanted): number | null {
  const [column, kind] = table === "staging" ? ["series", SERIES_PROBE] : ["scope", SERIES_CONSISTENCY];
  const rows = db.prepare<[number, number], { id: number; ts: number }>(
    `SELECT ${column} AS id, ts FROM ${table} WHERE ts >= ? AND ts < ? ORDER BY ts ${dir === "first" ? "ASC" : "DESC"}`,
  );
  for (const r of rows.iterate(since, until)) if (wanted(r.id, kind)) return r.ts;
  return null;
}

/** First (or last) sample ts in [since, until) in the packed raw rows: the edge minute with a wanted row, unpacked. */
function packed(db: Preparer, dir: Dir, since: number, until: number, wanted: Wanted): number | null {
  // Keys only while skipping other chains' rows: their blobs are never read.
  const keys = db.prepare<[number, number], { key: number }>(
    `SELECT key FROM raw WHERE key >= ? AND key < ? ORDER BY key ${dir === "first" ? "ASC" : "DESC"}`,
  );
  const blob = db.prepare<[number], { data: Buffer }>("SELECT data FROM raw WHERE key = ?");
  let found: number | null = null;
  let minute: number | null = null;
  for (const r of keys.iterate(rowKey(Math.floor(since / MINUTE_MS), 0), rowKey(Math.ceil(until / MINUTE_MS), 0))) {
    const bucket = bucketOfKey(r.key);
    if (minute !== null && bucket !== minute) break;
    if (!wanted(seriesOfKey(r.key), SERIES_PROBE)) continue;
    const data = [...blob.iterate(r.key)][0]?.data;
    if (data === undefined) continue;
    for (const rec of unpackRecords(data, seriesOfKey(r.key), bucket * MINUTE_MS)) {
      if (rec.ts >= since && rec.ts < until) found = better(dir, found, rec.ts);
    }
    // Only rows of this minute can hold an earlier (later) sample than one found here.
    if (found !== null) minute = bucket;
  }
  return found;
}

const LEVELS = [
  { size: DAY_MS, tables: ["rollup_d", "cons_d"] },
  { size: HOUR_MS, tables: ["rollup_h", "cons_h"] },
  { size: MINUTE_MS, tables: ["rollup_m", "cons_m"] },
] as const;

/** The first (or last) bucket of one rollup level in [since, until) holding a wanted series, as its clamped bound. */
function rollupBound(db: Preparer, level: (typeof LEVELS)[number], dir: Dir, since: number, until: number, wanted: Wanted): number | null {
  if (!(until > since)) return null;
  let found: number | null = null;
  for (const [i, table] of level.tables.entries()) {
    const kind = i === 0 ? SERIES_PROBE : SERIES_CONSISTENCY;
    const rows = db.prepare<[number, number], { key: number }>(
      `SELECT key FROM ${table} WHERE key >= ? AND key < ? ORDER BY key ${dir === "first" ? "ASC" : "DESC"}`,
    );
    for (const r of rows.iterate(rowKey(Math.floor(since / level.size), 0), rowKey(Math.ceil(until / level.size), 0))) {
      if (!wanted(seriesOfKey(r.key), kind)) continue;
      const start = bucketOfKey(r.key) * level.size;
      found = better(dir, found, dir === "first" ? Math.max(since, start) : Math.min(until, start + level.size));
      break;
    }
  }
  return found;
}

/**
 * Where only rollups are left (before the raw horizon), each level holds the time from its
 * own horizon on: days before the hour horizon, hours up to the minute horizon, minutes up
 * to the raw horizon. Searched in time order from the wanted end.
 */
function rollupOnly(db: Preparer, dir: Dir, since: number, until: number, wanted: Wanted, h: Horizons): number | null {
  const regions = [
    { level: LEVELS[0], from: since, to: Math.min(until, h.hour, h.raw) },
    { level: LEVELS[1], from: Math.max(since, h.hour), to: Math.min(until, h.minute, h.raw) },
    { level: LEVELS[2], from: Math.max(since, h.minute), to: Math.min(until, h.raw) },
  ];
  if (dir === "last") regions.reverse();
  for (const r of regions) {
    const bound = rollupBound(db, r.level, dir, r.from, r.to, wanted);
    if (bound !== null) return bound;
  }
  return null;
}

/**
 * Times from the raw horizon on are read from raw samples (exact), earlier ones from rollups
 * only (raw rows there may linger until pruning catches up, but are not relied on).
 */
function edge(db: Preparer, dir: Dir, since: number, until: number, wanted: Wanted, h: Horizons): { at: number | null; exact: boolean } {
  const exact = (): number | null => {
    const from = Math.max(since, h.raw);
    let at: number | null = null;
    for (const v of [
      timestamped(db, "staging", dir, from, until, wanted),
      timestamped(db, "consistency", dir, from, until, wanted),
      packed(db, dir, from, until, wanted),
    ]) at = better(dir, at, v);
    return at;
  };
  const older = (): number | null => rollupOnly(db, dir, since, until, wanted, h);
  const [nearer, further] = dir === "first" ? [older, exact] : [exact, older];
  const a = nearer();
  if (a !== null) return { at: a, exact: nearer === exact };
  const b = further();
  return { at: b, exact: b === null || further === exact };
}

/** The first and last probe or consistency sample of wanted series in [since, until) (see SampleSpan). */
export function sampleSpan(db: Preparer, since: number, until: number, wanted: Wanted, horizons: Horizons): SampleSpan {
  const first = edge(db, "first", since, until, wanted, horizons);
  if (first.at === null) return { first: null, last: null, exact: true };
  const last = edge(db, "last", since, until, wanted, horizons);
  return { first: first.at, last: last.at, exact: first.exact && last.exact };
}
