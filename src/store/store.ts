import { BaselineStore } from "./baselines.js";
import { ChaosWindowStore } from "./chaosWindows.js";
import type Database from "better-sqlite3";
import { performance } from "node:perf_hooks";
import type { ConsistencySample, ContinuitySample, ProbeSample, Sample, SampleSink, SoakSample } from "../samples.js";
import { readSoakSamples, writeSoakSample } from "./soak.js";
import { ALL_OUTPUTS, RollupWriter, type Outputs } from "./compact.js";
import { encodeHashes } from "./consistency.js";
import {
  ContinuityWriter, decodeDelivered, encodeDelivered, EVENT_CODES, isAnomalyEvent, MAX_EVENT_DETAIL_CHARS, wholeMs,
  type StoredAnomaly, type StoredDelivered,
} from "./continuity.js";
import {
  Interner, NAME_ASSERTION, NAME_CIRCUIT, NAME_ERROR_CLASS, NAME_PROVIDER, SERIES_CONSISTENCY, SERIES_PROBE,
  type NameKind,
} from "./intern.js";
import { StoreOpenError } from "./openError.js";
import { resolveOptions, type ResolvedStoreOptions, type StoreOptions } from "./options.js";
import { rowKey, SERIES_SPAN } from "./keys.js";
import { Pruner } from "./prune.js";
import { RingQueue } from "./queue.js";
import { StoreReader } from "./reader.js";
import { decodeStaged, encodeStaged, toStored, type StoredProbe } from "./record.js";
import { servedByName } from "./servedBy.js";
import { migrate, openDatabase, SchemaVersionError, type Db } from "./schema.js";
import { DAY_MS, dayOf, HOUR_MS, hourOf, MINUTE_MS, minuteOf } from "./time.js";

/** Counters for the metrics sink (all monotonic except queued and lastWrite*). */
export interface StoreStats {
  /** Samples waiting in memory. */
  queued: number;
  /** Samples committed to the database. */
  written: number;
  /** Samples evicted from a full queue (or offered after close). */
  dropped: number;
  /** Samples that could not be encoded (e.g. a non-finite timestamp). */
  rejected: number;
  /** Failed write transactions (the batch stays queued and is retried). */
  writeErrors: number;
  /** Duration of the last successful write transaction, ms. */
  lastWriteDurationMs: number;
  /** Wall-clock ms of the last successful write, 0 before the first. */
  lastWriteAt: number;
  /** Wall-clock ms of the first failed write since the last successful one; null while writes succeed. */
  failingSince: number | null;
  /** Why the last write failed (the database's message); null after a successful write. */
  lastWriteError: string | null;
  /** Staged samples folded into raw and rollup rows. */
  compacted: number;
  /** Duration of the last compaction transaction that folded anything, ms. */
  lastCompactDurationMs: number;
  compactErrors: number;
  /** Rows deleted by retention. */
  pruned: number;
  pruneErrors: number;
  /** Names stored as "other" because the `names` table was full for their kind (nameCaps), this process. */
  namesOverflowed: Record<NameKind, number>;
  /** Names held in the interner's memory (at most the rows of `names`). */
  namesCached: number;
}

interface PruneJob {
  pruner: Pruner;
  cutoff: (now: number) => number;
}

const ERROR_LOG_EVERY_MS = 30_000;

/**
 * The SQLite sink. accept() only queues; a timer (or a full batch) writes the queue in
 * one transaction into `staging`; compaction folds closed minutes into packed raw rows
 * and minute/hour/day rollups; pruning deletes expired rows a few thousand at a time.
 * Everything is synchronous better-sqlite3 on the caller's thread, in short slices
 * (see README.md in this folder).
 */
export class SampleStore implements SampleSink {
  readonly path: string;
  private readonly o: ResolvedStoreOptions;
  private readonly db: Db;
  private chaos: ChaosWindowStore | null = null;
  private baselineStore: BaselineStore | null = null;
  private readonly queue: RingQueue<Sample>;
  private readonly interner: Interner;
  private readonly rollups: RollupWriter;
  private readonly cont: ContinuityWriter;
  private readonly stmts: {
    stage: Database.Statement<[number, number, Buffer]>;
    staged: Database.Statement<[number, number], { id: number; series: number; ts: number; rec: Buffer }>;
    unstage: Database.Statement<[number]>;
    cstage: Database.Statement<[number, number, Buffer]>;
    cstaged: Database.Statement<[number, number], { id: number; series: number; ts: number; rec: Buffer }>;
    cunstage: Database.Statement<[number]>;
    cons: Database.Statement<[number, number, number, number, string]>;
    /** One upsert per consistency rollup table: minute, hour, day. */
    consRollups: { stmt: Database.Statement<[number, number]>; bucket: (ts: number) => number }[];
    metaMax: Database.Statement<[string, number]>;
  };
  private readonly pruneJobs: PruneJob[];
  private readonly counters: Omit<StoreStats, "namesOverflowed" | "namesCached"> = {
    queued: 0, written: 0, dropped: 0, rejected: 0, writeErrors: 0, lastWriteDurationMs: 0, lastWriteAt: 0,
    failingSince: null, lastWriteError: null,
    compacted: 0, lastCompactDurationMs: 0, compactErrors: 0, pruned: 0, pruneErrors: 0,
  };
  private timer: NodeJS.Timeout | null = null;
  private immediate: NodeJS.Immediate | null = null;
  private nextPruneAt = 0;
  private failing = false;
  private lastErrorLogAt = -Infinity;
  private lastDropLogAt = -Infinity;
  private closed = false;

  constructor(options: StoreOptions) {
    this.o = resolveOptions(options);
    this.path = this.o.path;
    this.queue = new RingQueue(Math.floor(this.o.maxQueue));
    try {
      this.db = openDatabase(this.o.path, { busyTimeoutMs: this.o.busyTimeoutMs });
    } catch (err) {
      throw new StoreOpenError(this.o.path, err);
    }
    try {
      const { from, to } = migrate(this.db);
      if (from !== to) this.o.logger.info({ path: this.path, from, to }, "store schema migrated");
      this.interner = new Interner(this.db, this.o.nameCaps);
      this.rollups = new RollupWriter(this.db);
      this.cont = new ContinuityWriter(this.db);
      const db = this.db;
      this.stmts = {
        stage: db.prepare("INSERT INTO staging (series, ts, rec) VALUES (?, ?, ?)"),
        // Whole series-minutes per chunk, so a chunk boundary rarely splits a packed row.
        staged: db.prepare("SELECT id, series, ts, rec FROM staging WHERE ts < ? ORDER BY series, ts LIMIT ?"),
        unstage: db.prepare("DELETE FROM staging WHERE id = ?"),
        cstage: db.prepare("INSERT INTO cstaging (series, ts, rec) VALUES (?, ?, ?)"),
        cstaged: db.prepare("SELECT id, series, ts, rec FROM cstaging WHERE ts < ? ORDER BY series, ts LIMIT ?"),
        cunstage: db.prepare("DELETE FROM cstaging WHERE id = ?"),
        cons: db.prepare("INSERT INTO consistency (ts, scope, block, agree, hashes) VALUES (?, ?, ?, ?, ?)"),
        consRollups: ([["cons_m", minuteOf], ["cons_h", hourOf], ["cons_d", dayOf]] as const).map(([table, bucket]) => ({
          stmt: db.prepare(
            `INSERT INTO ${table} (key, checks, mismatches) VALUES (?, 1, ?) ` +
              "ON CONFLICT DO UPDATE SET checks = checks + 1, mismatches = mismatches + excluded.mismatches",
          ),
          bucket,
        })),
        metaMax: db.prepare(
          "INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT DO UPDATE SET value = max(value, excluded.value)",
        ),
      };
      this.pruneJobs = this.makePruneJobs();
    } catch (err) {
      this.db.close();
      // A schema from a newer lasso-canary names the path and the fix already.
      throw err instanceof SchemaVersionError ? err : new StoreOpenError(this.o.path, err);
    }
    if (this.o.flushIntervalMs > 0) {
      this.timer = setInterval(() => this.tick(), this.o.flushIntervalMs);
      this.timer.unref();
    }
  }

  accept(sample: Sample): void {
    if (this.closed) {
      this.counters.dropped++;
      return;
    }
    if (this.queue.push(sample)) {
      this.counters.dropped++;
      const t = performance.now();
      if (t - this.lastDropLogAt >= ERROR_LOG_EVERY_MS) {
        this.lastDropLogAt = t;
        this.o.logger.warn(
          { dropped: this.counters.dropped, maxQueue: this.queue.capacity },
          "store queue full; dropping the oldest samples",
        );
      }
    }
    if (this.queue.size >= this.o.batchSize && this.immediate === null && !this.failing) {
      this.immediate = setImmediate(() => this.tick());
    }
  }

  stats(): StoreStats {
    return {
      ...this.counters, queued: this.queue.size,
      namesOverflowed: this.interner.overflowCounts(), namesCached: this.interner.cachedNames,
    };
  }

  /** Writes everything queued now. Returns false (and keeps the samples) if the database failed. */
  flush(): boolean {
    while (this.queue.size > 0) {
      if (!this.writeSome(this.o.maxBatchRows)) return false;
    }
    return true;
  }

  /** Folds every staged sample of a closed minute into raw and rollup rows. Returns how many. */
  compact(): number {
    let total = 0;
    for (;;) {
      const n = this.compactSome();
      total += n;
      if (n < this.o.maxCompactRows) return total;
    }
  }

  /** One bounded retention step over the first table with expired rows. Returns rows deleted. */
  pruneStep(): number {
    const now = this.o.now();
    try {
      // Report planning must know that raw samples and finer rollups below these points may
      // be partly gone. Written before the deletes, so a reader never trusts a pruned row.
      this.stmts.metaMax.run("raw_horizon", minuteOf(now - this.o.rawRetentionDays * DAY_MS) * MINUTE_MS);
      this.stmts.metaMax.run("minute_horizon", minuteOf(now - this.o.minuteRetentionDays * DAY_MS) * MINUTE_MS);
      this.stmts.metaMax.run(
        "cminute_horizon", minuteOf(now - this.o.continuityMinuteRetentionDays * DAY_MS) * MINUTE_MS,
      );
      this.stmts.metaMax.run("hour_horizon", hourOf(now - this.o.hourRetentionDays * DAY_MS) * HOUR_MS);
      for (const job of this.pruneJobs) {
        const n = job.pruner.step(job.cutoff(now), this.o.pruneBatchRows);
        if (n > 0) {
          this.counters.pruned += n;
          return n;
        }
      }
      return 0;
    } catch (err) {
      this.counters.pruneErrors++;
      this.logError(err, "store prune step failed");
      return 0;
    }
  }

  /** Prunes until nothing is expired (tests, CLI maintenance); the daemon steps on its timer. */
  pruneAll(): number {
    let total = 0;
    for (let n = this.pruneStep(); n > 0; n = this.pruneStep()) total += n;
    return total;
  }

  /**
   * Bulk path for benchmarks and backfills: folds samples straight into raw and/or rollup
   * rows through the same code compaction uses, skipping the queue and staging. Continuity
   * anomalies go through the same path as in the writer (raw row + rollups); consistency
   * samples are written as by the writer whatever `outputs` says. Malformed samples throw.
   */
  importSamples(samples: readonly Sample[], outputs: Outputs = ALL_OUTPUTS): void {
    try {
      const n = this.db.transaction(() => {
        const records: StoredProbe[] = [];
        const delivered: StoredDelivered[] = [];
        for (const s of samples) {
          if (s.kind === "probe") {
            records.push(this.toRecord(s));
            continue;
          }
          const ok = s.kind === "consistency"
            ? this.writeConsistency(s)
            : s.kind === "soak"
              ? writeSoakSample(this.prepare, s)
              : this.writeContinuity(s, (d) => delivered.push(d), outputs);
          if (!ok) throw new Error(`importSamples: malformed ${s.kind} sample at ts ${s.ts}`);
        }
        this.rollups.apply(records, outputs);
        this.cont.applyDelivered(delivered, outputs);
        return samples.length;
      })();
      this.interner.committed();
      this.counters.written += n;
    } catch (err) {
      this.interner.reset();
      throw err;
    }
  }

  /** Chaos windows on the writer's connection (the runner persists, the API reads). */
  chaosWindows(): ChaosWindowStore {
    this.chaos ??= new ChaosWindowStore(this.db);
    return this.chaos;
  }

  /** Named baselines on the writer's connection (tests; the CLI opens its own: BaselineStore.openFile). */
  baselines(): BaselineStore {
    this.baselineStore ??= new BaselineStore(this.db);
    return this.baselineStore;
  }

  /** Soak samples with ts >= since, oldest first, after writing what is queued (the soak engine's window at start). */
  soakSamples(since: number): SoakSample[] {
    this.flush();
    return readSoakSamples(this.prepare, since);
  }

  /** Statements prepared once on the writer's connection. */
  private readonly prepare = (sql: string): Database.Statement => {
    let s = this.prepared.get(sql);
    if (s === undefined) {
      s = this.db.prepare(sql);
      this.prepared.set(sql, s);
    }
    return s;
  };

  private readonly prepared = new Map<string, Database.Statement>();

  /** A reader on the writer's own connection (tests, CLI). The daemon's reports use a worker. */
  reader(): StoreReader {
    return new StoreReader(this.db);
  }

  /** Flushes the queue, compacts closed minutes and closes the file. Open minutes stay staged. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    if (this.timer) clearInterval(this.timer);
    if (this.immediate) clearImmediate(this.immediate);
    this.timer = null;
    this.immediate = null;
    if (!this.flush()) {
      this.o.logger.error({ lost: this.queue.size }, "store closed with unwritten samples");
      this.counters.dropped += this.queue.size;
      this.queue.drop(this.queue.size);
    }
    this.compact();
    this.db.close();
  }

  private tick(): void {
    this.immediate = null;
    if (this.closed) return;
    const ok = this.writeSome(this.o.maxBatchRows);
    const compacted = this.compactSome();
    // A backlog (after an outage, or more closed-minute rows than one slice a tick: a large
    // plan) drains one bounded transaction per event-loop turn instead of one per tick.
    if (ok && (this.queue.size >= this.o.batchSize || compacted >= this.o.maxCompactRows)) this.immediate = setImmediate(() => this.tick());
    const t = performance.now();
    if (t >= this.nextPruneAt) {
      const n = this.pruneStep();
      this.nextPruneAt = n > 0 ? t : t + this.o.pruneIntervalMs;
    }
  }

  private writeSome(max: number): boolean {
    const batch = this.queue.peek(max);
    if (batch.length === 0) return true;
    const started = performance.now();
    try {
      const { written, rejected } = this.db.transaction(() => this.writeBatch(batch))();
      this.interner.committed();
      this.queue.drop(batch.length);
      this.counters.written += written;
      this.counters.rejected += rejected;
      this.counters.lastWriteDurationMs = performance.now() - started;
      this.o.onTransaction("write", this.counters.lastWriteDurationMs);
      this.counters.lastWriteAt = this.o.now();
      this.counters.failingSince = null;
      this.counters.lastWriteError = null;
      if (this.failing) {
        this.failing = false;
        this.o.logger.info({ writeErrors: this.counters.writeErrors, queued: this.queue.size }, "store writes recovered");
      }
      return true;
    } catch (err) {
      this.interner.reset();
      this.counters.writeErrors++;
      this.counters.failingSince ??= this.o.now();
      this.counters.lastWriteError = err instanceof Error ? err.message : String(err);
      this.failing = true;
      this.logError(err, "store write failed; samples stay queued and are retried");
      return false;
    }
  }

  /**
   * Runs inside the write transaction. Database errors propagate (the whole batch stays
   * queued); a malformed sample (non-finite numbers, unknown kind) is rejected alone.
   */
  private writeBatch(batch: readonly Sample[]): { written: number; rejected: number } {
    let written = 0;
    let rejected = 0;
    for (const s of batch) {
      const ok =
        s.kind === "probe"
          ? this.writeProbe(s)
          : s.kind === "consistency"
            ? this.writeConsistency(s)
            : s.kind === "continuity"
              ? this.writeContinuity(s, (d) => this.stmts.cstage.run(d.series, d.ts, encodeDelivered(d)), ALL_OUTPUTS)
              : s.kind === "soak"
                ? writeSoakSample(this.prepare, s)
                : false;
      if (ok) written++;
      else rejected++;
    }
    return { written, rejected };
  }

  private writeProbe(s: ProbeSample): boolean {
    if (!Number.isFinite(s.ts) || !Number.isFinite(s.latencyMs)) return false;
    const r = this.toRecord(s);
    if (r.series >= SERIES_SPAN) return false;
    this.stmts.stage.run(r.series, r.ts, encodeStaged(r));
    return true;
  }

  private toRecord(s: ProbeSample): StoredProbe {
    const i = this.interner;
    return toStored(s, {
      series: i.seriesId(SERIES_PROBE, s),
      errorClass: i.nameId(NAME_ERROR_CLASS, s.errorClass),
      provider: i.nameId(NAME_PROVIDER, servedByName(s.provider, s.transport)),
      circuit: i.nameId(NAME_CIRCUIT, s.circuitState),
      assertions: s.failedAssertions.map((a) => i.nameId(NAME_ASSERTION, a)),
    });
  }

  private writeConsistency(s: ConsistencySample): boolean {
    if (!Number.isFinite(s.ts) || !Number.isFinite(s.blockNumber)) return false;
    const ts = Math.round(s.ts);
    const scope = this.interner.seriesId(SERIES_CONSISTENCY, { target: s.target, chain: s.chain, route: "", method: "" });
    if (scope >= SERIES_SPAN) return false;
    const mismatch = s.agree ? 0 : 1;
    this.stmts.cons.run(ts, scope, Math.round(s.blockNumber), s.agree ? 1 : 0, encodeHashes(s.hashes));
    for (const r of this.stmts.consRollups) r.stmt.run(rowKey(r.bucket(ts), scope), mismatch);
    return true;
  }

  /**
   * A continuity sample: a delivered one is handed to `stageDelivered` (staged by the writer,
   * folded straight into rollups by importSamples); an anomaly is written raw and counted into
   * its rollups right here, in the caller's transaction. False when malformed.
   */
  private writeContinuity(s: ContinuitySample, stageDelivered: (d: StoredDelivered) => void, out: Outputs): boolean {
    if (!Number.isFinite(s.ts)) return false;
    const delivered = s.event === "delivered";
    if (!delivered && (!isAnomalyEvent(s.event) || !Number.isFinite(s.count))) return false;
    const series = this.interner.continuitySeriesId(s);
    if (series >= SERIES_SPAN) return false;
    const ts = Math.round(s.ts);
    const block = wholeMs(s.blockNumber);
    if (delivered) {
      stageDelivered({
        series, ts, block, delayMs: wholeMs(s.delayMs), sightingMs: wholeMs(s.sightingDelayMs), backfilled: s.backfilled,
      });
      return true;
    }
    const delay = wholeMs(s.delayMs);
    const anomaly: StoredAnomaly = {
      series, ts, event: EVENT_CODES[s.event as keyof typeof EVENT_CODES], block,
      count: Math.max(0, Math.round(s.count)),
      delayMs: delay === null ? null : Math.max(0, delay),
      detail: s.detail === null ? null : s.detail.slice(0, MAX_EVENT_DETAIL_CHARS),
    };
    this.cont.applyAnomaly(anomaly, out);
    return true;
  }

  /**
   * One bounded compaction slice: staged probe samples first, then staged delivered
   * continuity samples with what is left of the `maxCompactRows` budget.
   */
  private compactSome(): number {
    const boundary = minuteOf(this.o.now() - this.o.compactGraceMs) * MINUTE_MS;
    const started = performance.now();
    try {
      const n = this.db.transaction(() => {
        const max = this.o.maxCompactRows;
        const rows = this.stmts.staged.all(boundary, max);
        if (rows.length > 0) {
          this.rollups.apply(rows.map((r) => decodeStaged(r.rec, r.series, r.ts)));
          for (const r of rows) this.stmts.unstage.run(r.id);
        }
        if (rows.length >= max) return rows.length;
        const crows = this.stmts.cstaged.all(boundary, max - rows.length);
        if (crows.length > 0) {
          this.cont.applyDelivered(crows.map((r) => decodeDelivered(r.rec, r.series, r.ts)), ALL_OUTPUTS);
          for (const r of crows) this.stmts.cunstage.run(r.id);
        }
        return rows.length + crows.length;
      })();
      if (n > 0) {
        this.counters.compacted += n;
        this.counters.lastCompactDurationMs = performance.now() - started;
        this.o.onTransaction("compact", this.counters.lastCompactDurationMs);
      }
      return n;
    } catch (err) {
      this.counters.compactErrors++;
      this.logError(err, "store compaction failed; staged samples are kept and retried");
      return 0;
    }
  }

  private makePruneJobs(): PruneJob[] {
    const o = this.o;
    // Raw samples go by whole minutes (the raw_horizon meta), consistency rows and continuity
    // anomalies included, so a report edge minute has either all of its raw samples or none.
    const raw = (now: number): number => minuteOf(now - o.rawRetentionDays * DAY_MS) * MINUTE_MS;
    const minute = (now: number): number => minuteOf(now - o.minuteRetentionDays * DAY_MS);
    const cminute = (now: number): number => minuteOf(now - o.continuityMinuteRetentionDays * DAY_MS);
    const hour = (now: number): number => hourOf(now - o.hourRetentionDays * DAY_MS);
    // Day rows cover whole UTC days; one is dropped once all of it is past hour retention.
    const day = (now: number): number => dayOf(now - o.hourRetentionDays * DAY_MS);
    const job = (table: string, column: string, cutoff: (now: number) => number): PruneJob => ({
      pruner: new Pruner(this.db, { table, column }),
      cutoff,
    });
    // Bucketed tables: key < rowKey(cutoffBucket, 0) is everything before that bucket.
    return [
      job("raw", "key", (now) => rowKey(minuteOf(raw(now)), 0)),
      job("consistency", "ts", raw),
      job("cevents", "ts", raw),
      job("soak_samples", "ts", raw),
      job("rollup_m", "key", (now) => rowKey(minute(now), 0)),
      job("cons_m", "key", (now) => rowKey(minute(now), 0)),
      job("crollup_m", "key", (now) => rowKey(cminute(now), 0)),
      job("rollup_h", "key", (now) => rowKey(hour(now), 0)),
      job("cons_h", "key", (now) => rowKey(hour(now), 0)),
      job("crollup_h", "key", (now) => rowKey(hour(now), 0)),
      job("rollup_d", "key", (now) => rowKey(day(now), 0)),
      job("cons_d", "key", (now) => rowKey(day(now), 0)),
      job("crollup_d", "key", (now) => rowKey(day(now), 0)),
    ];
  }

  private logError(err: unknown, msg: string): void {
    const t = performance.now();
    if (t - this.lastErrorLogAt < ERROR_LOG_EVERY_MS) return;
    this.lastErrorLogAt = t;
    this.o.logger.error(
      { err: err instanceof Error ? { message: err.message, code: (err as { code?: unknown }).code } : String(err),
        ...this.stats() },
      msg,
    );
  }
}

