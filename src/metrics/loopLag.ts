import { performance } from "node:perf_hooks";

/**
 * Event-loop lag measured as how late callbacks with a known due time ran: the probe grid
 * and the watchers' grids report each of their timers, and a heartbeat covers small plans.
 *
 * Why not perf_hooks.monitorEventLoopDelay (what prom-client's default metrics use): it
 * wakes the loop every 10 ms, and on a small VM each wakeup costs 150-300 us of CPU, so
 * the monitor alone took ~1% of a core, a third of the daemon's budget. These samples
 * ride on wakeups the daemon has anyway, and measure the lag the probe clock suffers.
 */
export class LoopLag {
  private timer: NodeJS.Timeout | null = null;

  constructor(
    private readonly observeMs: (lateMs: number) => void,
    private readonly heartbeatMs = 1000,
  ) {}

  /** Records a callback that was due at `dueAt` (performance.now() time) and runs now. */
  ranLate(dueAt: number): void {
    this.observeMs(Math.max(0, performance.now() - dueAt));
  }

  start(): void {
    if (this.timer) return;
    const arm = (): void => {
      const due = performance.now() + this.heartbeatMs;
      this.timer = setTimeout(() => {
        this.ranLate(due);
        arm();
      }, this.heartbeatMs);
      this.timer.unref();
    };
    arm();
  }

  stop(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
  }
}
