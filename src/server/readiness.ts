import type { PlanMismatch } from "../lasso/planCheck.js";
import type { Plan } from "../plan/index.js";
import type { ProbeSample, Sample, SampleSink } from "../samples.js";
import type { StoreStats } from "../store/store.js";

/** A target is silent after this many of its longest probe interval without a well-formed answer. */
export const SILENT_AFTER_INTERVALS = 3;
/** Samples queued this long with no commit mean the store is stuck even without a failed write. */
export const STORE_STUCK_MS = 30_000;
/** More queued samples than this: the store is behind. */
export const STORE_BEHIND_SAMPLES = 10_000;

/**
 * A JSON-RPC answer from Lasso, result or error object: Lasso is there and speaks. Timeouts,
 * connection failures, bare HTTP errors and malformed bodies are not.
 */
function wellFormed(s: ProbeSample): boolean {
  const c = s.errorClass;
  return s.outcome === "ok" || c === "plan_mismatch" || (c !== null && c.startsWith("rpc_"));
}

/** Per target, when its last well-formed answer arrived (any probe or consistency round). */
export class AnswerTracker implements SampleSink {
  private readonly last = new Map<string, number>();

  constructor(private readonly clock: () => number = Date.now) {}

  accept(s: Sample): void {
    const answered = s.kind === "probe" ? wellFormed(s) : s.kind === "consistency" && Object.values(s.hashes).some((h) => h !== null);
    if (answered) this.last.set(s.target, this.clock());
  }

  lastAnswerAt(target: string): number | null {
    return this.last.get(target) ?? null;
  }
}

/** Per target with probes: how long it may go without a well-formed answer (SILENT_AFTER_INTERVALS x its longest interval). */
export function silenceLimits(plan: Plan): Map<string, number> {
  const longest = new Map<string, number>();
  const note = (target: string, ms: number): void => void longest.set(target, Math.max(longest.get(target) ?? 0, ms));
  for (const s of plan.series) note(s.target, s.intervalMs);
  for (const c of plan.chains) {
    const consistency = c.consistency;
    if (consistency) for (const t of c.targets) note(t, consistency.intervalMs);
  }
  return new Map([...longest].map(([t, ms]) => [t, SILENT_AFTER_INTERVALS * ms]));
}

export interface ReadinessInput {
  now: number;
  /** When the probes started (null: not yet): the start-up grace runs from here. */
  startedAt: number | null;
  store: StoreStats;
  answers: AnswerTracker;
  silenceLimits: ReadonlyMap<string, number>;
  planMismatches: readonly PlanMismatch[];
}

const iso = (ms: number): string => new Date(ms).toISOString();
const seconds = (ms: number): string => `${Math.round(ms / 1000)} s`;

function storeReasons(s: StoreStats, now: number, startedAt: number): string[] {
  const reasons: string[] = [];
  if (s.failingSince !== null) {
    reasons.push(`store writes failing since ${iso(s.failingSince)} (${s.writeErrors} failed writes so far, ${s.queued} samples queued): ${s.lastWriteError ?? "unknown error"}`);
  } else if (s.queued > 0 && now - Math.max(s.lastWriteAt, startedAt) > STORE_STUCK_MS) {
    reasons.push(`store has committed nothing for ${seconds(now - Math.max(s.lastWriteAt, startedAt))} with ${s.queued} samples queued`);
  }
  if (s.queued > STORE_BEHIND_SAMPLES) reasons.push(`store is behind: ${s.queued} samples queued`);
  return reasons;
}

function silentTargets(input: ReadinessInput, startedAt: number): string[] {
  const reasons: string[] = [];
  for (const [target, limit] of input.silenceLimits) {
    const last = input.answers.lastAnswerAt(target);
    const quiet = input.now - Math.max(last ?? startedAt, startedAt);
    if (quiet <= limit) continue;
    reasons.push(last === null
      ? `target ${target}: no well-formed answer since start ${seconds(quiet)} ago (limit ${seconds(limit)}: ${SILENT_AFTER_INTERVALS} x its longest probe interval)`
      : `target ${target}: no well-formed answer for ${seconds(quiet)}, last at ${iso(last)} (limit ${seconds(limit)}: ${SILENT_AFTER_INTERVALS} x its longest probe interval)`);
  }
  return reasons;
}

/** Why the daemon is not ready (empty: ready). Liveness is /healthz's business, not this. */
export function readinessReasons(input: ReadinessInput): string[] {
  if (input.startedAt === null) return ["probes not started"];
  const reasons = [...storeReasons(input.store, input.now, input.startedAt), ...silentTargets(input, input.startedAt)];
  for (const m of input.planMismatches)
    reasons.push(`plan mismatch: target ${m.target}, ${m.chain}${m.route === null ? "" : ` route ${m.route}`}: ${m.fix}`);
  return reasons;
}
