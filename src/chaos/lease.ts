/**
 * A fault held by renewing its lease: set now, renewed every third of the lease, never past
 * `until` (the window's planned end). If this process stalls or dies, renewals stop and the
 * proxy ends the fault within one lease on its own.
 */
import type { FaultControl } from "./control.js";
import type { Fault } from "./faults.js";

export interface LeaseTarget {
  chain: string;
  provider: string;
  fault: Fault;
}

export class FaultLease {
  private timer: NodeJS.Timeout | null = null;
  private renewing: Promise<unknown> = Promise.resolve();
  private ended = false;
  /** Renewals that failed in a row (the fault may lapse; the window goes on and the verdict shows it). */
  failedRenewals = 0;

  constructor(
    private readonly control: FaultControl,
    private readonly target: LeaseTarget,
    private readonly leaseMs: number,
    private readonly until: number,
    private readonly onRenewError: (err: unknown) => void,
  ) {}

  /** Sets the fault; throws when the proxy refuses or cannot be reached (nothing is then active). */
  async start(): Promise<{ expiresAt: number }> {
    const r = await this.set();
    if (this.ended) {
      await this.clear();
      return r;
    }
    this.timer = setInterval(() => this.renew(), Math.max(1, Math.floor(this.leaseMs / 3)));
    return r;
  }

  /** Stops renewing and clears the fault now. Idempotent; never throws (the lease ends it anyway). */
  async end(): Promise<void> {
    if (this.ended) return;
    this.ended = true;
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    await this.renewing;
    await this.clear();
  }

  /** Stops renewing without clearing: the fault ends with its lease (what a killed process leaves behind). */
  abandon(): void {
    this.ended = true;
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }

  private set(): Promise<{ expiresAt: number }> {
    const { chain, provider, fault } = this.target;
    return this.control.setFault(chain, provider, fault, this.leaseMs, this.until);
  }

  private renew(): void {
    if (this.ended || Date.now() >= this.until) return;
    this.renewing = this.set().then(
      () => {
        this.failedRenewals = 0;
      },
      (err: unknown) => {
        this.failedRenewals++;
        this.onRenewError(err);
      },
    );
  }

  private async clear(): Promise<void> {
    try {
      await this.control.clearFault(this.target.chain, this.target.provider);
    } catch (err) {
      this.onRenewError(err);
    }
  }
}
