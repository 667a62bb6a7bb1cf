/**
 * A window's client-side view: eth_blockNumber on the experiment profile's default route and,
 * at the same instants, on the public profile's (the control), with routing metadata, so the
 * verdict sees who served each answer. After the window only the experiment is probed (recovery).
 */
import type { RpcHttpClient } from "../lasso/rpcClient.js";
import type { ProbeObservation } from "./windowTypes.js";

export interface WindowProbeOptions {
  client: RpcHttpClient;
  /** Full route URLs with routing metadata requested. Secrets: never logged. */
  experimentUrl: string;
  controlUrl: string;
  /** The target's configured headers. Secrets. */
  headers: Record<string, string>;
  intervalMs: number;
  timeoutMs: number;
  onExperiment(o: ProbeObservation): void;
}

/** A probe still waiting after this many intervals is not joined by more: a hung Lasso gets no pile-up. */
const MAX_IN_FLIGHT_PER_SIDE = 16;

export type ProbePhase = "window" | "recovery" | "stopped";

export class WindowProbes {
  readonly experiment: ProbeObservation[] = [];
  readonly control: ProbeObservation[] = [];
  readonly after: ProbeObservation[] = [];
  private phase: ProbePhase = "stopped";
  private timer: NodeJS.Timeout | null = null;
  private readonly inFlight = { experiment: new Set<Promise<void>>(), control: new Set<Promise<void>>() };

  constructor(private readonly o: WindowProbeOptions) {}

  /** Probes both profiles now and every interval. */
  start(): void {
    this.phase = "window";
    this.tick();
    this.timer = setInterval(() => this.tick(), this.o.intervalMs);
  }

  /** The window ended: from now on only the experiment is probed, into `after`. */
  enterRecovery(): void {
    if (this.phase === "window") this.phase = "recovery";
  }

  /** Stops probing and waits for the answers in flight (each bounded by the timeout). */
  async stop(): Promise<void> {
    this.phase = "stopped";
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    await Promise.all([...this.inFlight.experiment, ...this.inFlight.control]);
  }

  private tick(): void {
    const phase = this.phase;
    if (phase === "stopped") return;
    this.send("experiment", phase === "window" ? this.experiment : this.after, true);
    if (phase === "window") this.send("control", this.control, false);
  }

  private send(side: "experiment" | "control", into: ProbeObservation[], isExperiment: boolean): void {
    const pending = this.inFlight[side];
    if (pending.size >= MAX_IN_FLIGHT_PER_SIDE) return;
    const ts = Date.now();
    const url = side === "experiment" ? this.o.experimentUrl : this.o.controlUrl;
    const p = this.o.client.call(url, "eth_blockNumber", [], this.o.timeoutMs, this.o.headers).then((r) => {
      const o: ProbeObservation = { ts, ok: r.outcome === "ok", latencyMs: r.latencyMs, provider: r.meta?.selected_provider?.id ?? null };
      into.push(o);
      if (isExperiment) this.o.onExperiment(o);
    });
    // The call itself never rejects (every failure is a classified result); the callback's errors are the runner's to log.
    const tracked = p.catch(() => {}).finally(() => pending.delete(tracked));
    pending.add(tracked);
  }
}
