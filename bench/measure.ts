/**
 * What the benchmarks read from the outside: /proc for a process's CPU and memory, the
 * daemon's /metrics for its histograms, and small helpers to start and wait for it.
 */
import { readdirSync, readFileSync } from "node:fs";
import net from "node:net";

export const fmt = (n: number, d = 1): string => n.toFixed(d);
export const until = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** The q-quantile of xs (nearest rank); NaN when xs is empty. */
export function quantile(xs: number[], q: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil(q * s.length) - 1))] ?? NaN;
}

/** Clock ticks per second of /proc's utime and stime (USER_HZ; 100 on every Linux we run on). */
export const TICKS_PER_SEC = 100;

export interface ProcStat {
  cpuTicks: number;
  userTicks: number;
  rssBytes: number;
  anonBytes: number;
  fileBytes: number;
}

/** CPU ticks of a process and all its descendants (a wrapper shell and what it started). */
export function treeCpuTicks(pid: number): number {
  let ticks = procStat(pid).cpuTicks;
  for (const tid of readdirSync(`/proc/${pid}/task`)) {
    const children = readFileSync(`/proc/${pid}/task/${tid}/children`, "utf8").split(" ").filter(Boolean).map(Number);
    for (const child of children) ticks += treeCpuTicks(child);
  }
  return ticks;
}

export function procStat(pid: number): ProcStat {
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  const userTicks = Number(fields[11]);
  const cpuTicks = userTicks + Number(fields[12]); // utime + stime
  const status = readFileSync(`/proc/${pid}/status`, "utf8");
  const kb = (field: string): number => Number(new RegExp(`${field}:\\s+(\\d+)`).exec(status)?.[1] ?? NaN) * 1024;
  return { cpuTicks, userTicks, rssBytes: kb("VmRSS"), anonBytes: kb("RssAnon"), fileBytes: kb("RssFile") };
}

/** % of one core a process used between two readings `seconds` apart. */
export const cpuPct = (from: ProcStat, to: ProcStat, seconds: number): number => ((to.cpuTicks - from.cpuTicks) / TICKS_PER_SEC / seconds) * 100;

/** The cumulative buckets of a histogram in a /metrics text: [upper bound, count], bounds in the metric's unit. */
export type Buckets = Array<[number, number]>;

/** Buckets of `name` whose labels besides le are exactly `labels` (e.g. `phase="write"`; "" for none). */
export function histogramBuckets(metricsText: string, name: string, labels = ""): Buckets {
  const out: Buckets = [];
  for (const m of metricsText.matchAll(new RegExp(`^${name}_bucket\\{([^}]*)\\} (\\d+)$`, "gm"))) {
    const all = m[1] ?? "";
    const le = /(?:^|,)le="([^"]+)"/.exec(all)?.[1];
    const rest = all.replace(/(?:^|,)le="[^"]+"/, "").replace(/^,/, "");
    if (le === undefined || rest !== labels) continue;
    out.push([le === "+Inf" ? Infinity : Number(le), Number(m[2])]);
  }
  return out;
}

/** Sum and count of a histogram's observations in a /metrics text. */
export function histogramTotals(metricsText: string, name: string, labels = ""): { sum: number; count: number } {
  const sel = labels === "" ? "" : `\\{${labels.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}\\}`;
  const read = (suffix: string): number => Number(new RegExp(`^${name}_${suffix}${sel} (\\S+)$`, "m").exec(metricsText)?.[1] ?? NaN);
  return { sum: read("sum"), count: read("count") };
}

/** The q-quantile of the observations made between two scrapes, interpolated within its bucket as histogram_quantile does. */
export function quantileBetween(from: Buckets, to: Buckets, q: number): { value: number; samples: number } {
  const counts = to.map(([le, n], i) => [le, n - (from[i]?.[1] ?? 0)] as [number, number]);
  const total = counts.at(-1)?.[1] ?? 0;
  const rank = q * total;
  let lower = 0;
  let below = 0;
  for (const [le, n] of counts) {
    if (n >= rank) {
      const upper = Number.isFinite(le) ? le : lower;
      return { value: n === below ? upper : lower + ((upper - lower) * (rank - below)) / (n - below), samples: total };
    }
    lower = le;
    below = n;
  }
  return { value: NaN, samples: total };
}

export async function freePort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const port = (server.address() as net.AddressInfo).port;
  await new Promise((r) => server.close(r));
  return port;
}

export async function waitHealthy(url: string, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if ((await fetch(`${url}/healthz`).catch(() => null))?.ok) return;
    await until(200);
  }
  throw new Error(`daemon at ${url} did not become healthy`);
}
