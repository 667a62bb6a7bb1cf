import { Worker } from "node:worker_threads";
import type { ReportFormat, RequestMessage, ResponseMessage } from "./protocol.js";
import { ReportQueryError } from "./time.js";
import type { ReportContext, ReportRange, SloObjective } from "./types.js";

export interface ReportRunnerOptions {
  /** The store's SQLite file (the writer must have created and migrated it). */
  path: string;
  /** A report still running after this is abandoned and its worker restarted. Default 30 s. */
  timeoutMs?: number;
  /** An idle worker exits after this, giving its memory (~40 MB) back. Default 60 s. */
  idleMs?: number;
}

interface Pending {
  resolve(body: string): void;
  reject(e: Error): void;
  timer: NodeJS.Timeout;
}

/**
 * A report allocates many short-lived objects; with V8's default young generation (up to
 * 48 MiB) the worker's RSS grew by ~50 MB more than with 4 MiB, for a few ms per report.
 */
const WORKER_LIMITS = { maxYoungGenerationSizeMb: 4 };

/** Compiled (.js) runs the worker file directly; under tsx the worker must load tsx first. */
function startWorker(path: string): Worker {
  const options = { workerData: { path }, resourceLimits: WORKER_LIMITS };
  const self = import.meta.url;
  if (!self.endsWith(".ts")) return new Worker(new URL("./worker.js", self), options);
  const entry = new URL("./worker.ts", self).href;
  const tsx = import.meta.resolve("tsx/esm/api");
  const boot = `import(${JSON.stringify(tsx)}).then((m) => { m.register(); return import(${JSON.stringify(entry)}); });`;
  return new Worker(boot, { ...options, eval: true });
}

/**
 * Builds and renders reports in a worker thread with its own read-only connection, so a
 * long report costs the daemon's event loop nothing but receiving one string.
 * One worker, kept between reports; requests queue inside it.
 */
export class ReportRunner {
  private worker: Worker | null = null;
  private readonly pending = new Map<number, Pending>();
  private nextId = 1;
  private readonly timeoutMs: number;
  private idleTimer: NodeJS.Timeout | null = null;

  constructor(private readonly opts: ReportRunnerOptions) {
    this.timeoutMs = opts.timeoutMs ?? 30_000;
  }

  /** The report rendered as JSON (a serialised Report), markdown or HTML. */
  render(range: ReportRange, slos: readonly SloObjective[], format: ReportFormat, now: number = Date.now(), context: ReportContext = {}): Promise<string> {
    this.cancelIdle();
    const worker = this.ensureWorker();
    const id = this.nextId++;
    const msg: RequestMessage = { id, now, slos: [...slos], range: { ...range }, format, context };
    return new Promise<string>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.failAll(new Error(`report timed out after ${this.timeoutMs} ms`));
        void this.stopWorker();
      }, this.timeoutMs);
      this.pending.set(id, { resolve, reject, timer });
      worker.ref();
      worker.postMessage(msg);
    });
  }

  get workerRunning(): boolean {
    return this.worker !== null;
  }

  async close(): Promise<void> {
    this.cancelIdle();
    this.failAll(new Error("report runner closed"));
    await this.stopWorker();
  }

  private ensureWorker(): Worker {
    if (this.worker) return this.worker;
    const w = startWorker(this.opts.path);
    w.on("message", (m: ResponseMessage) => this.settle(m));
    // Only the current worker's death fails pending reports: one stopped on purpose
    // (idle, timeout, close) has already been replaced or had its requests settled.
    w.on("error", (err) => {
      if (this.worker !== w) return;
      this.worker = null;
      this.failAll(err);
    });
    w.on("exit", () => {
      if (this.worker !== w) return;
      this.worker = null;
      this.failAll(new Error("report worker exited"));
    });
    w.unref();
    this.worker = w;
    return w;
  }

  private settle(m: ResponseMessage): void {
    const p = this.pending.get(m.id);
    if (!p) return;
    this.pending.delete(m.id);
    clearTimeout(p.timer);
    if (this.pending.size === 0) {
      this.worker?.unref();
      this.armIdle();
    }
    if (m.ok) p.resolve(m.body);
    else p.reject(m.badQuery === true ? new ReportQueryError(m.error) : new Error(m.error));
  }

  private armIdle(): void {
    this.cancelIdle();
    this.idleTimer = setTimeout(() => {
      this.idleTimer = null;
      if (this.pending.size === 0) void this.stopWorker();
    }, this.opts.idleMs ?? 60_000);
    this.idleTimer.unref();
  }

  private cancelIdle(): void {
    if (this.idleTimer) clearTimeout(this.idleTimer);
    this.idleTimer = null;
  }

  private failAll(err: Error): void {
    for (const p of this.pending.values()) {
      clearTimeout(p.timer);
      p.reject(err);
    }
    this.pending.clear();
  }

  private async stopWorker(): Promise<void> {
    const w = this.worker;
    this.worker = null;
    if (w) await w.terminate();
  }
}
