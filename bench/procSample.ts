/**
 * Memory and CPU of a process as Linux accounts them, read from /proc: what an operator's
 * `ps`/cAdvisor sees, the same for a Node daemon and a Go binary.
 */
import { readFileSync } from "node:fs";

/** USER_HZ: /proc/PID/stat counts CPU time in these ticks (100 on every Linux the bench runs on). */
export const TICKS_PER_SECOND = 100;

export interface ProcSample {
  /** VmRSS: resident pages, shared file pages (the executable, libraries) included. */
  rssBytes: number;
  /** Private_Clean + Private_Dirty of smaps_rollup: pages no other process shares. */
  privateBytes: number;
  /** utime + stime, in ticks. */
  cpuTicks: number;
}

const kib = (text: string, field: string): number => {
  const m = new RegExp(`^${field}:\\s+(\\d+) kB`, "m").exec(text);
  if (m === null) throw new Error(`no ${field} in /proc`);
  return Number(m[1]) * 1024;
};

export function sampleProc(pid: number): ProcSample {
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  // The command name may hold spaces and parentheses: fields start after the last ")".
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  const cpuTicks = Number(fields[11]) + Number(fields[12]);
  const status = readFileSync(`/proc/${pid}/status`, "utf8");
  const rollup = readFileSync(`/proc/${pid}/smaps_rollup`, "utf8");
  return { rssBytes: kib(status, "VmRSS"), privateBytes: kib(rollup, "Private_Clean") + kib(rollup, "Private_Dirty"), cpuTicks };
}

/** The q-quantile (nearest rank) of xs; NaN for none. */
export function quantile(xs: readonly number[], q: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil(q * s.length) - 1))] ?? NaN;
}

/** A process's samples over a measurement window. */
export class ProcSeries {
  readonly rss: number[] = [];
  readonly priv: number[] = [];
  private first: ProcSample | null = null;
  private last: ProcSample | null = null;
  private firstAt = 0;
  private lastAt = 0;

  constructor(readonly name: string, readonly pid: number) {}

  sample(now: number): void {
    const s = sampleProc(this.pid);
    if (this.first === null) {
      this.first = s;
      this.firstAt = now;
    } else {
      // The first sample only opens the CPU window; memory is judged on the ones after it.
      this.rss.push(s.rssBytes);
      this.priv.push(s.privateBytes);
    }
    this.last = s;
    this.lastAt = now;
  }

  /** Share of one core over the window, in %. */
  cpuPercent(): number {
    if (this.first === null || this.last === null || this.lastAt <= this.firstAt) return NaN;
    return ((this.last.cpuTicks - this.first.cpuTicks) / TICKS_PER_SECOND / ((this.lastAt - this.firstAt) / 1000)) * 100;
  }
}
