import { DEFAULT_NAME_CAPS, type NameCaps } from "./intern.js";

/** The subset of pino the store uses (a pino logger satisfies it). */
export interface StoreLogger {
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
  error(obj: object, msg?: string): void;
}

export interface StoreOptions {
  /** SQLite file; created and migrated if missing. */
  path: string;
  logger?: StoreLogger;
  /** Wall clock in ms; injectable so tests can move time for compaction and retention. */
  now?: () => number;
  /** Raw probe and consistency samples, and continuity anomalies. Default 7 days. */
  rawRetentionDays?: number;
  /** Minute rollups. Default 14 days: at 90 days they alone would exceed the size budget. */
  minuteRetentionDays?: number;
  /**
   * Continuity (subscription watcher) minute rollups. Default 3 days: ~4.7 MB a day for 20
   * watchers at 1 block/s (two delay histograms per watcher-minute); past it, continuity
   * reports read partial hours from hour rollups (delivered counts and delays rounded out to
   * the hour, anomalies still exact from their raw rows).
   */
  continuityMinuteRetentionDays?: number;
  /** Hour and day rollups. Default 90 days. */
  hourRetentionDays?: number;
  /** Write the queue this often; 0 disables the timer (tests call flush()). Default 1000. */
  flushIntervalMs?: number;
  /** A queue this long is written on the next turn without waiting for the timer. Default 500. */
  batchSize?: number;
  /** Most samples per write transaction, to bound one event-loop slice. Default 2000. */
  maxBatchRows?: number;
  /** Queue cap while the database fails; beyond it the oldest samples are dropped. Default 100000. */
  maxQueue?: number;
  /** A minute is compacted into raw/rollup rows once now - grace has passed its end. Default 90 s. */
  compactGraceMs?: number;
  /**
   * Most staged rows per compaction transaction (one per writer tick, and one per event-loop
   * turn while a backlog lasts). Each touches a raw,
   * minute, hour and day row per series, ~35 us a sample here; 200 keeps a slice ~7 ms.
   * Default 200.
   */
  maxCompactRows?: number;
  /** Pause between prune steps when there was nothing to prune. Default 10 s. */
  pruneIntervalMs?: number;
  /** Most rows deleted per prune step. Default 2000. */
  pruneBatchRows?: number;
  /** SQLite busy timeout. It blocks the event loop while waiting, so it stays short. Default 100. */
  busyTimeoutMs?: number;
  /**
   * Most distinct names per kind in the `names` table over the file's life (provider ids, error
   * classes, circuit states, assertions come from Lasso's answers); beyond, a name is stored as
   * "other". Defaults: provider 256, errorClass 64, circuit 16, assertion 64.
   */
  nameCaps?: Partial<NameCaps>;
  /** Told the duration of every write transaction and of every compaction that folded rows (metrics). */
  onTransaction?: (phase: StorePhase, ms: number) => void;
}

export type StorePhase = "write" | "compact";

export type ResolvedStoreOptions = Required<Omit<StoreOptions, "nameCaps">> & { nameCaps: NameCaps };

const silent: StoreLogger = { info: () => {}, warn: () => {}, error: () => {} };

function positive(name: string, v: number): number {
  if (!Number.isFinite(v) || v <= 0) throw new Error(`store option ${name} must be a positive number, got ${v}`);
  return v;
}

function nonNegative(name: string, v: number): number {
  if (!Number.isFinite(v) || v < 0) throw new Error(`store option ${name} must be >= 0, got ${v}`);
  return v;
}

export function resolveOptions(o: StoreOptions): ResolvedStoreOptions {
  return {
    path: o.path,
    logger: o.logger ?? silent,
    now: o.now ?? Date.now,
    rawRetentionDays: positive("rawRetentionDays", o.rawRetentionDays ?? 7),
    minuteRetentionDays: positive("minuteRetentionDays", o.minuteRetentionDays ?? 14),
    continuityMinuteRetentionDays: positive("continuityMinuteRetentionDays", o.continuityMinuteRetentionDays ?? 3),
    hourRetentionDays: positive("hourRetentionDays", o.hourRetentionDays ?? 90),
    flushIntervalMs: nonNegative("flushIntervalMs", o.flushIntervalMs ?? 1000),
    batchSize: positive("batchSize", o.batchSize ?? 500),
    maxBatchRows: positive("maxBatchRows", o.maxBatchRows ?? 2000),
    maxQueue: positive("maxQueue", o.maxQueue ?? 100_000),
    compactGraceMs: nonNegative("compactGraceMs", o.compactGraceMs ?? 90_000),
    maxCompactRows: positive("maxCompactRows", o.maxCompactRows ?? 200),
    pruneIntervalMs: positive("pruneIntervalMs", o.pruneIntervalMs ?? 10_000),
    pruneBatchRows: positive("pruneBatchRows", o.pruneBatchRows ?? 2000),
    busyTimeoutMs: nonNegative("busyTimeoutMs", o.busyTimeoutMs ?? 100),
    nameCaps: resolveNameCaps(o.nameCaps ?? {}),
    onTransaction: o.onTransaction ?? (() => {}),
  };
}

function resolveNameCaps(caps: Partial<NameCaps>): NameCaps {
  const out = { ...DEFAULT_NAME_CAPS };
  for (const [kind, v] of Object.entries(caps) as [keyof NameCaps, number | undefined][]) {
    if (!(kind in DEFAULT_NAME_CAPS)) throw new Error(`store option nameCaps: unknown kind "${kind}" (known: ${Object.keys(DEFAULT_NAME_CAPS).join(", ")})`);
    if (v === undefined) continue;
    if (!Number.isInteger(v) || v < 0) throw new Error(`store option nameCaps.${kind} must be a whole number >= 0, got ${v}`);
    out[kind] = v;
  }
  return out;
}
