/**
 * A process's memory and CPU over a measurement window, read from /proc as an operator's
 * `ps`/cAdvisor sees them: the same for a Node daemon and a Go binary.
 */
import { readFileSync } from "node:fs";
import { cpuPct, procStat, type ProcStat } from "./measure.js";

/** Private_Clean + Private_Dirty of smaps_rollup: pages no other process shares. */
export function privateBytes(pid: number): number {
  const rollup = readFileSync(`/proc/${pid}/smaps_rollup`, "utf8");
  const kib = (field: string): number => {
    const m = new RegExp(`^${field}:\\s+(\\d+) kB`, "m").exec(rollup);
    if (m === null) throw new Error(`no ${field} in /proc/${pid}/smaps_rollup`);
    return Number(m[1]) * 1024;
  };
  return kib("Private_Clean") + kib("Private_Dirty");
}

export class ProcSeries {
  /** VmRSS samples: resident pages, shared file pages (the executable, libraries) included. */
  readonly rss: number[] = [];
  readonly priv: number[] = [];
  private first: { stat: ProcStat; at: number } | null = null;
  private last: { stat: ProcStat; at: number } | null = null;

  constructor(readonly name: string, readonly pid: number) {}

  sample(now: number): void {
    const stat = procStat(this.pid);
    const priv = privateBytes(this.pid);
    if (this.first === null) this.first = { stat, at: now };
    else {
      // The first sample only opens the CPU window; memory is judged on the ones after it.
      this.rss.push(stat.rssBytes);
      this.priv.push(priv);
    }
    this.last = { stat, at: now };
  }

  /** Share of one core over the window, in %. */
  cpuPercent(): number {
    if (this.first === null || this.last === null || this.last.at <= this.first.at) return NaN;
    return cpuPct(this.first.stat, this.last.stat, (this.last.at - this.first.at) / 1000);
  }
}
