import Database from "better-sqlite3";

export type Db = Database.Database;

/**
 * Schema, version 1 (later versions below).
 *
 * series   (id, kind, target, chain, route, method): kind 0 = probe series, 1 = consistency
 *          scope (route = method = ''). Every other table refers to the small integer id.
 * names    (id, kind, name): providers, error classes, circuit states, assertion names.
 * staging  one row per probe sample not yet compacted (the batched writer appends here).
 * raw      one row per series-minute: packed records (see record.ts).
 * rollup_m / rollup_h / rollup_d: per series-minute / -hour / -day (UTC): n, ok, blob (see
 *          rollup.ts). Day rows exist so long reports read ~30 rows per series, not ~720.
 * consistency raw rows; cons_m / cons_h / cons_d: checks and mismatches per scope and bucket.
 * meta     small key/value facts: how far minute and hour rollups have been pruned.
 *
 * Bucketed tables are keyed by one integer, key = bucket * 2^16 + series id (see keys.ts),
 * as the rowid. Rows arrive in key order, and SQLite appends to a rowid table by starting a
 * fresh right-most page, so pages stay full (a composite WITHOUT ROWID key splits pages
 * and left ~12% of each empty); pruning deletes one contiguous key range.
 */
const V1 = `
CREATE TABLE meta (key TEXT PRIMARY KEY, value INTEGER NOT NULL) WITHOUT ROWID;
CREATE TABLE series (
  id INTEGER PRIMARY KEY, kind INTEGER NOT NULL, target TEXT NOT NULL, chain TEXT NOT NULL,
  route TEXT NOT NULL, method TEXT NOT NULL, UNIQUE (kind, target, chain, route, method));
CREATE TABLE names (id INTEGER PRIMARY KEY, kind INTEGER NOT NULL, name TEXT NOT NULL, UNIQUE (kind, name));
CREATE TABLE staging (id INTEGER PRIMARY KEY, series INTEGER NOT NULL, ts INTEGER NOT NULL, rec BLOB NOT NULL);
CREATE INDEX staging_ts ON staging (ts);
CREATE TABLE raw (key INTEGER PRIMARY KEY, data BLOB NOT NULL);
CREATE TABLE rollup_m (key INTEGER PRIMARY KEY, n INTEGER NOT NULL, ok INTEGER NOT NULL, data BLOB NOT NULL);
CREATE TABLE rollup_h (key INTEGER PRIMARY KEY, n INTEGER NOT NULL, ok INTEGER NOT NULL, data BLOB NOT NULL);
CREATE TABLE rollup_d (key INTEGER PRIMARY KEY, n INTEGER NOT NULL, ok INTEGER NOT NULL, data BLOB NOT NULL);
CREATE TABLE consistency (id INTEGER PRIMARY KEY, ts INTEGER NOT NULL, scope INTEGER NOT NULL,
  block INTEGER NOT NULL, agree INTEGER NOT NULL, hashes TEXT NOT NULL);
CREATE INDEX consistency_ts ON consistency (ts);
CREATE TABLE cons_m (key INTEGER PRIMARY KEY, checks INTEGER NOT NULL, mismatches INTEGER NOT NULL);
CREATE TABLE cons_h (key INTEGER PRIMARY KEY, checks INTEGER NOT NULL, mismatches INTEGER NOT NULL);
CREATE TABLE cons_d (key INTEGER PRIMARY KEY, checks INTEGER NOT NULL, mismatches INTEGER NOT NULL);
`;

/**
 * Version 2: subscription continuity (ContinuitySample), see continuity.ts.
 *
 * cseries  (id, target, chain, watcher, route, subscription): one watcher series; ids of their
 *          own (the continuity tables are keyed by them, never mixed with probe series).
 * cstaging one row per delivered sample not yet compacted (like staging for probes).
 * cevents  one row per anomaly (every event kind but delivered), kept for the raw retention.
 * crollup_m / crollup_h / crollup_d: per watcher series and bucket: n = delivered samples,
 *          ev = anomaly samples, blob = backfilled, delay histograms, per-kind event counts.
 * Delivered samples are not kept raw once compacted (only in rollups).
 */
const V2 = `
CREATE TABLE cseries (
  id INTEGER PRIMARY KEY, target TEXT NOT NULL, chain TEXT NOT NULL, watcher TEXT NOT NULL,
  route TEXT NOT NULL, subscription TEXT NOT NULL, UNIQUE (target, chain, watcher, route, subscription));
CREATE TABLE cstaging (id INTEGER PRIMARY KEY, series INTEGER NOT NULL, ts INTEGER NOT NULL, rec BLOB NOT NULL);
CREATE INDEX cstaging_ts ON cstaging (ts);
CREATE TABLE cevents (id INTEGER PRIMARY KEY, ts INTEGER NOT NULL, series INTEGER NOT NULL, event INTEGER NOT NULL,
  block INTEGER, count INTEGER NOT NULL, delay INTEGER, detail TEXT);
CREATE INDEX cevents_ts ON cevents (ts);
CREATE TABLE crollup_m (key INTEGER PRIMARY KEY, n INTEGER NOT NULL, ev INTEGER NOT NULL, data BLOB NOT NULL);
CREATE TABLE crollup_h (key INTEGER PRIMARY KEY, n INTEGER NOT NULL, ev INTEGER NOT NULL, data BLOB NOT NULL);
CREATE TABLE crollup_d (key INTEGER PRIMARY KEY, n INTEGER NOT NULL, ev INTEGER NOT NULL, data BLOB NOT NULL);
`;

/**
 * Version 3: chaos windows, one row per window run or skipped (see chaosWindows.ts). Few rows
 * (windows run one at a time, minutes each); `observations` (the probes' answers, for audit and
 * re-judging) is dropped after the raw retention, rows after the rollup retention.
 */
const V3 = `
CREATE TABLE chaos_windows (
  id INTEGER PRIMARY KEY, name TEXT NOT NULL, chain TEXT NOT NULL, provider TEXT NOT NULL, kind TEXT NOT NULL,
  fault TEXT NOT NULL, trigger TEXT NOT NULL, status TEXT NOT NULL,
  planned_start INTEGER NOT NULL, planned_end INTEGER NOT NULL, started INTEGER, ended INTEGER,
  skip_reason TEXT, abort_reason TEXT, verdict TEXT, result TEXT, observations TEXT);
CREATE INDEX chaos_windows_planned ON chaos_windows (planned_start);
CREATE INDEX chaos_windows_status ON chaos_windows (status);
`;

/**
 * Version 4: named baselines for the report's comparison (see baselines.ts): one row per name,
 * the aggregated statistics of a period as JSON (src/report/periodStats.ts). Never pruned: a
 * baseline outlives the raw samples and rollups it was computed from. Its histogram buckets are
 * latency.ts indexes, so changing the histogram configuration must rewrite them too.
 */
const V4 = `
CREATE TABLE baselines (
  name TEXT PRIMARY KEY, saved_at INTEGER NOT NULL, since INTEGER NOT NULL, until INTEGER NOT NULL,
  chain TEXT, stats TEXT NOT NULL) WITHOUT ROWID;
`;

/**
 * Version 5: soak samples, one row per poll of a Lasso node or of the daemon (see soak.ts):
 * the figures as JSON (`data`), the uptime, the series the sample belongs to (`series_start`,
 * `restart` on the first sample of a series a restart began) and a poll's error. Kept for the
 * raw retention.
 */
const V5 = `
CREATE TABLE soak_samples (
  id INTEGER PRIMARY KEY, ts INTEGER NOT NULL, subject TEXT NOT NULL, target TEXT NOT NULL,
  series_start INTEGER, restart TEXT, uptime REAL, error TEXT, detail TEXT, data TEXT);
CREATE INDEX soak_samples_ts ON soak_samples (ts);
`;

export interface Migration {
  version: number;
  description: string;
  up(db: Db): void;
}

/** Ordered; each runs once, in its own transaction, and sets PRAGMA user_version. */
export const MIGRATIONS: readonly Migration[] = [
  { version: 1, description: "series, names, staging, raw, rollups, consistency", up: (db) => db.exec(V1) },
  { version: 2, description: "subscription continuity: cseries, cstaging, cevents, crollups", up: (db) => db.exec(V2) },
  { version: 3, description: "chaos windows", up: (db) => db.exec(V3) },
  { version: 4, description: "named baselines", up: (db) => db.exec(V4) },
  { version: 5, description: "soak samples", up: (db) => db.exec(V5) },
];

export const SCHEMA_VERSION = MIGRATIONS.at(-1)?.version ?? 0;

export class SchemaVersionError extends Error {
  constructor(readonly found: number, readonly supported: number, path: string) {
    super(
      found > supported
        ? `database ${path} has schema version ${found}, newer than this lasso-canary supports (${supported}); ` +
            "upgrade lasso-canary or point it at another file"
        : `database ${path} has schema version ${found}, expected ${supported}; open it with the writer first to migrate`,
    );
    this.name = "SchemaVersionError";
  }
}

export function schemaVersion(db: Db): number {
  return db.pragma("user_version", { simple: true }) as number;
}

/** Applies pending migrations; returns the versions before and after. */
export function migrate(db: Db, migrations: readonly Migration[] = MIGRATIONS): { from: number; to: number } {
  migrations.forEach((m, i) => {
    if (m.version !== i + 1) throw new Error(`migration list out of order at ${m.version}`);
  });
  const latest = migrations.at(-1)?.version ?? 0;
  const from = schemaVersion(db);
  if (from > latest) throw new SchemaVersionError(from, latest, db.name);
  for (const m of migrations) {
    if (m.version <= from) continue;
    db.transaction(() => {
      m.up(db);
      db.pragma(`user_version = ${m.version}`);
    })();
  }
  return { from, to: schemaVersion(db) };
}

export interface OpenOptions {
  readonly?: boolean;
  /** How long a statement waits for a lock. It blocks the thread, so keep it short for the writer. */
  busyTimeoutMs?: number;
}

/**
 * SQLite's page cache per connection, KiB. better-sqlite3 builds SQLite with a 16 MiB
 * default, which a long-running daemon fills and keeps; the writer touches the right edge
 * of each table, reports read ~2 MB, and the file sits in the OS page cache anyway.
 */
const CACHE_KIB = 2048;

/** Page size for new files: 8 KiB pages fit ~40 packed series-minute rows each. */
const PAGE_SIZE = 8192;

export function openDatabase(path: string, opts: OpenOptions = {}): Db {
  const readonly = opts.readonly ?? false;
  const db = new Database(path, { readonly, fileMustExist: readonly });
  try {
    db.pragma(`busy_timeout = ${Math.max(0, Math.round(opts.busyTimeoutMs ?? 100))}`);
    db.pragma(`cache_size = -${CACHE_KIB}`);
    if (readonly) {
      const v = schemaVersion(db);
      if (v !== SCHEMA_VERSION) throw new SchemaVersionError(v, SCHEMA_VERSION, path);
      return db;
    }
    if ((db.pragma("page_count", { simple: true }) as number) === 0) db.pragma(`page_size = ${PAGE_SIZE}`);
    db.pragma("journal_mode = WAL");
    db.pragma("synchronous = NORMAL");
    // After a checkpoint, truncate a WAL that grew during a burst back to 64 MiB.
    db.pragma("journal_size_limit = 67108864");
    return db;
  } catch (err) {
    db.close();
    throw err;
  }
}
