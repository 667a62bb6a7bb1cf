/** Per-provider circuit breaker: closed -> open (after N consecutive failures) -> half_open -> closed. */

export type BreakerState = "closed" | "open" | "half_open";

export interface BreakerConfig {
  failureThreshold: number;
  openMs: number;
  halfOpenSuccesses: number;
  maxOpenMs: number;
  timeoutsTrip: boolean;
}

export class CircuitBreaker {
  private stateValue: BreakerState = "closed";
  private consecutiveFailures = 0;
  private halfOpenOk = 0;
  private openedAt = 0;
  private currentOpenMs: number;
  /** Consecutive reopen count (reset when the circuit closes); doubles the open time. */
  private reopens = 0;

  constructor(
    private readonly cfg: BreakerConfig,
    private readonly now: () => number = () => performance.now(),
  ) {
    this.currentOpenMs = cfg.openMs;
  }

  /** Current state, moving open -> half_open when the open period has elapsed. */
  state(): BreakerState {
    if (this.stateValue === "open" && this.now() - this.openedAt >= this.currentOpenMs) {
      this.stateValue = "half_open";
      this.halfOpenOk = 0;
    }
    return this.stateValue;
  }

  /** True when a request may be sent (closed or half-open). */
  allows(): boolean {
    return this.state() !== "open";
  }

  /** Milliseconds until an open circuit becomes half-open (0 when not open). */
  msUntilHalfOpen(): number {
    if (this.state() !== "open") return 0;
    return Math.max(0, Math.ceil(this.currentOpenMs - (this.now() - this.openedAt)));
  }

  recordSuccess(): void {
    const s = this.state();
    this.consecutiveFailures = 0;
    if (s === "half_open") {
      this.halfOpenOk += 1;
      if (this.halfOpenOk >= this.cfg.halfOpenSuccesses) {
        this.stateValue = "closed";
        this.reopens = 0;
        this.currentOpenMs = this.cfg.openMs;
      }
    }
  }

  /** kind "timeout" only counts when the config says timeouts trip the breaker. */
  recordFailure(kind: "error" | "timeout"): void {
    if (kind === "timeout" && !this.cfg.timeoutsTrip) return;
    const s = this.state();
    if (s === "half_open") {
      this.reopens += 1;
      this.currentOpenMs = Math.min(this.cfg.maxOpenMs, this.cfg.openMs * 2 ** this.reopens);
      this.open();
      return;
    }
    if (s === "open") return;
    this.consecutiveFailures += 1;
    if (this.consecutiveFailures >= this.cfg.failureThreshold) this.open();
  }

  private open(): void {
    this.stateValue = "open";
    this.openedAt = this.now();
    this.consecutiveFailures = 0;
    this.halfOpenOk = 0;
  }
}
