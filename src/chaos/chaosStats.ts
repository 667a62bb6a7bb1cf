/**
 * What /metrics says about chaos windows. Owned by the daemon (it outlives reloads, which
 * rebuild the runner); the runner reports into it, prom-client reads it at scrape time.
 */
import type { MetricsSink } from "../metrics/registry.js";
import type { ChaosVerdict, WindowResult, WindowSpec } from "./windowTypes.js";

/** Verdict label values: the judge's four and "skipped" (precondition, another window running). */
export const VERDICT_LABELS = ["pass", "fail", "aborted", "inconclusive", "skipped"] as const;
export type VerdictLabel = ChaosVerdict | "skipped";

export class ChaosStats {
  private readonly active = new Set<string>();
  private readonly verdicts = new Map<string, number>();
  private readonly failover = new Map<string, number>();
  private readonly recovery = new Map<string, number>();

  windowActive(name: string, on: boolean): void {
    if (on) this.active.add(name);
    else this.active.delete(name);
  }

  isActive(name: string): boolean {
    return this.active.has(name);
  }

  counted(name: string, verdict: VerdictLabel): void {
    const k = `${name}\u0000${verdict}`;
    this.verdicts.set(k, (this.verdicts.get(k) ?? 0) + 1);
  }

  verdictCount(name: string, verdict: VerdictLabel): number {
    return this.verdicts.get(`${name}\u0000${verdict}`) ?? 0;
  }

  /** The last window's figures (a figure not measured removes the old one: it would mislead). */
  figures(name: string, result: Pick<WindowResult, "failoverMs" | "recoveryMs">): void {
    setOrDelete(this.failover, name, result.failoverMs);
    setOrDelete(this.recovery, name, result.recoveryMs);
  }

  failoverMs(name: string): number | undefined {
    return this.failover.get(name);
  }

  recoveryMs(name: string): number | undefined {
    return this.recovery.get(name);
  }
}

function setOrDelete(m: Map<string, number>, k: string, v: number | null): void {
  if (v === null) m.delete(k);
  else m.set(k, v);
}

/** Registers the chaos metrics; `windows` reads the running plan's windows (a reload replaces them). */
export function exportChaosMetrics(metrics: MetricsSink, stats: ChaosStats, windows: () => readonly WindowSpec[]): void {
  metrics.labelledGauge(
    "lasso_canary_chaos_window_active",
    "1 while a chaos window's fault is on (chain, provider, fault kind of the canary profile), else 0. Alert rules and silences can account for it.",
    ["chain", "provider", "fault"],
    () => {
      const out = new Map<string, [Record<"chain" | "provider" | "fault", string>, number]>();
      for (const w of windows()) {
        const labels = { chain: w.chain, provider: w.provider, fault: w.fault.kind };
        const k = JSON.stringify(labels);
        const on = stats.isActive(w.name) ? 1 : 0;
        out.set(k, [labels, Math.max(on, out.get(k)?.[1] ?? 0)]);
      }
      return out.values();
    },
  );
  metrics.labelledCounter(
    "lasso_canary_chaos_verdicts_total",
    "Chaos windows by verdict: pass, fail, aborted, inconclusive, or skipped (precondition not met, another window running).",
    ["window", "verdict"],
    () => windows().flatMap((w) => VERDICT_LABELS.map((verdict) => [{ window: w.name, verdict }, stats.verdictCount(w.name, verdict)] as [Record<"window" | "verdict", string>, number])),
  );
  const figure = (read: (name: string) => number | undefined) => () =>
    windows().flatMap((w) => {
      const ms = read(w.name);
      return ms === undefined ? [] : [[{ window: w.name }, ms / 1000] as [Record<"window", string>, number]];
    });
  metrics.labelledGauge(
    "lasso_canary_chaos_failover_seconds",
    "The window's last measured failover time: fault start until the faulted provider stopped serving client requests. Absent until measured.",
    ["window"],
    figure((n) => stats.failoverMs(n)),
  );
  metrics.labelledGauge(
    "lasso_canary_chaos_recovery_seconds",
    "The window's last measured recovery time: window end until the provider served client requests again. Absent until measured.",
    ["window"],
    figure((n) => stats.recoveryMs(n)),
  );
}
