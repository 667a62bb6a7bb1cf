import { Worker } from "node:worker_threads";
import type { RequestMessage, ResponseMessage } from "./protocol.js";
import type { Report, ReportRange, SloObjective } from "./types.js";

export interface ReportRunnerOptions {
  /** The store's SQLite file (the writer must have created and migrated it). */
  path: string;
  /** A report still running after this is abandoned and its worker restarted. Default 30 s. */
  timeoutMs?: number;
  /** An idle worker exits after this, giving its memory (~40 MB) back. Default 60 s. */
  idleMs?: number;
}

interface Pending {
  resolve(r: Report): void;
  reject(e: Error): void;
  timer: NodeJS.Timeout;
}

/** Compiled (.js) runs the worker file directly; under tsx the worker must load tsx first. */
function startWorker(path: string): Worker {
  const self = import.meta.url;
  if (!self.endsWith(".ts")) return new Worker(new URL("./worker.js", self), { workerData: { path } });
  const entry = new URL("./worker.ts", self).href;
  const tsx = import.meta.resolve("tsx/esm/api");
  const boot = `import(${JSON.stringify(tsx)}).then((m) => { m.register(); return import(${JSON.stringify(entry)}); });`;
  return new Worker(boot, { eval: true, workerData: { path } });
}

/**
 * Runs buildReport in a worker thread with its own read-only connection, so a long
 * report costs the daemon's event loop nothing but a structured-clone of the result.
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

  build(range: ReportRange, slos: readonly SloObjective[], now: number = Date.now()): Promise<Report> {
    this.cancelIdle();
    const worker = this.ensureWorker();
    const id = this.nextId++;
    const msg: RequestMessage = { id, now, slos: [...slos], range: { ...range } };
    return new Promise<Report>((resolve, reject) => {
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
    if (m.ok) p.resolve(m.report);
    else p.reject(new Error(m.error));
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
