/**
 * Runs the plan's chaos windows: one node-cron task per window, one window at a time, a
 * precondition before, the fault held as a lease, an abort guard, recovery measured after,
 * the verdict from the injected judge, every window persisted.
 *
 * Safety (DESIGN.md "Chaos safety"): the fault is a lease the proxy ends on its own when
 * renewals stop and never past the window's planned end; at start the runner clears every
 * fault of its windows and closes windows a previous process left running as aborted.
 */
import cron, { type ScheduledTask } from "node-cron";
import { setTimeout as sleep } from "node:timers/promises";
import type { Logger } from "../log.js";
import type { RpcHttpClient } from "../lasso/rpcClient.js";
import { routePath } from "../plan/build.js";
import type { Target } from "../plan/types.js";
import { probeUrl } from "../probes/fromPlan.js";
import type { ChaosWindowRecord, ChaosWindowStore, WindowQuery, WindowTrigger } from "../store/chaosWindows.js";
import type { ContinuityCapture } from "./continuityTap.js";
import { DEFAULT_LEASE_MS, type FaultControl, type TrafficBucket } from "./control.js";
import { AbortGuard } from "./guard.js";
import { createSilence, expireSilence, windowSilence, type AlertmanagerOptions } from "./silence.js";
import { FaultLease } from "./lease.js";
import { preconditionFailure } from "./precondition.js";
import type { RecentProbes } from "./recentProbes.js";
import type { ChaosStats } from "./chaosStats.js";
import { FailoverStorm } from "./storm.js";
import { WindowProbes } from "./windowProbes.js";
import type { ProbeObservation, WindowObservations, WindowResult, WindowSpec } from "./windowTypes.js";

/** The verdict: pure statistics over what the window measured (src/chaos/verdict.ts judgeWindow). */
export type Judge = (spec: WindowSpec, obs: WindowObservations) => WindowResult;

export interface ContinuitySource {
  /** A capture of the window's profile's watchers, or null when the plan has none there. */
  capture(chain: string, profile: string): ContinuityCapture | null;
}

export interface ChaosRunnerOptions {
  windows: readonly WindowSpec[];
  targets: readonly Target[];
  control: FaultControl;
  judge: Judge;
  store: ChaosWindowStore;
  /** The plan's probes' recent answers (the precondition). */
  recent: RecentProbes;
  client: RpcHttpClient;
  logger: Logger;
  stats?: ChaosStats;
  continuity?: ContinuitySource | null;
  /** Default DEFAULT_LEASE_MS. */
  leaseMs?: number;
  /** Per probe; default 5 s (longer than Lasso's own deadlines, so Lasso's answer is what is measured). */
  probeTimeoutMs?: number;
  /** Create the cron tasks at start (default true); tests run windows by name. */
  schedule?: boolean;
  /** Traffic is collected from this long before the fault (default 10 s): the baseline of the upstream side. */
  trafficLeadMs?: number;
  /** Where windows with `silence:` silence their alerts; absent: such windows run unsilenced (logged). */
  alertmanager?: AlertmanagerOptions | null;
}

export type RunResult =
  | { started: true; id: number }
  | { started: false; status: 404 | 409 | 503; reason: string; id: number | null };

export interface CurrentWindow {
  id: number;
  name: string;
  chain: string;
  provider: string;
  plannedStart: number;
  plannedEnd: number;
  started: number | null;
  phase: "fault" | "recovery";
}

interface Running {
  id: number;
  spec: WindowSpec;
  trigger: WindowTrigger;
  plannedStart: number;
  plannedEnd: number;
  started: number | null;
  phase: "fault" | "recovery";
  aborted: { at: number; reason: string; byGuard: boolean } | null;
  /** Ends the fault phase early (the guard, an operator, a reload, a stop). */
  endFault: AbortController;
  /** An operator, a reload or a stop (not the guard): recovery is not measured either. */
  halt: AbortController;
  /** Test-only crash: nothing is cleared or recorded. */
  abandoned: boolean;
  done: Promise<void>;
}

const DEFAULT_PROBE_TIMEOUT_MS = 5_000;

export class ChaosRunner {
  private readonly byName: Map<string, WindowSpec>;
  private readonly tasks: ScheduledTask[] = [];
  private readonly log: Logger;
  private readonly leaseMs: number;
  private current: Running | null = null;
  private state: "new" | "starting" | "ready" | "stopped" = "new";

  constructor(private readonly o: ChaosRunnerOptions) {
    this.byName = new Map(o.windows.map((w) => [w.name, w]));
    this.log = o.logger.child({ component: "chaos" });
    this.leaseMs = o.leaseMs ?? DEFAULT_LEASE_MS;
  }

  get windows(): readonly WindowSpec[] {
    return this.o.windows;
  }

  /**
   * Closes windows a previous process left running (aborted, "daemon restarted"), clears every
   * fault of this plan's windows, then schedules them. Windows missed while down are not run.
   */
  async start(): Promise<void> {
    if (this.state !== "new") return;
    this.state = "starting";
    for (const w of this.o.store.closeInterrupted(Date.now(), "daemon restarted: the window was interrupted and its fault ended with its lease"))
      this.log.warn({ window: w.name, id: w.id }, "chaos window interrupted by a restart: recorded as aborted");
    await this.clearFaults();
    if (this.state !== "starting") return;
    if (this.o.schedule !== false) {
      for (const spec of this.o.windows) {
        const task = cron.createTask(spec.schedule, (ctx) => void this.run(spec.name, "schedule", ctx.date.getTime()), { name: `chaos:${spec.name}` });
        task.on("execution:missed", (ctx) => this.log.warn({ window: spec.name, planned: ctx.date.toISOString() }, "chaos window schedule missed (the process was busy or asleep): not caught up"));
        await task.start();
        this.tasks.push(task);
      }
    }
    this.state = "ready";
  }

  /**
   * Runs a window now (an operator) or on its schedule. One window at a time: a schedule that
   * fires while another runs is skipped and recorded; an operator's request is refused.
   */
  run(name: string, trigger: WindowTrigger = "manual", plannedStart: number = Date.now()): RunResult {
    const spec = this.byName.get(name);
    if (spec === undefined) return { started: false, status: 404, reason: `no chaos window named "${name}"`, id: null };
    if (this.state !== "ready") return { started: false, status: 503, reason: `the chaos runner is ${this.state === "stopped" ? "stopped" : "starting"}`, id: null };
    const plannedEnd = plannedStart + spec.durationMs;
    const busy = this.current;
    if (busy !== null) {
      const reason = `another chaos window is running: ${busy.spec.name} (id ${busy.id}); one window at a time`;
      if (trigger === "manual") return { started: false, status: 409, reason, id: null };
      return { started: false, status: 409, reason, id: this.skip(spec, trigger, plannedStart, plannedEnd, `${reason}; not caught up`) };
    }
    const failed = preconditionFailure(spec, this.o.recent, Date.now());
    if (failed !== null) return { started: false, status: 409, reason: failed, id: this.skip(spec, trigger, plannedStart, plannedEnd, failed) };

    const id = this.o.store.insertRunning(spec, trigger, plannedStart, plannedEnd);
    const running: Running = {
      id, spec, trigger, plannedStart, plannedEnd, started: null, phase: "fault", aborted: null,
      endFault: new AbortController(), halt: new AbortController(), abandoned: false, done: Promise.resolve(),
    };
    this.current = running;
    running.done = this.runWindow(running)
      .catch((err: unknown) => this.log.error({ err, window: spec.name, id }, "chaos window crashed"))
      .finally(() => {
        if (this.current === running) this.current = null;
      });
    this.log.info({ window: spec.name, id, trigger, chain: spec.chain, provider: spec.provider, fault: spec.fault.kind }, "chaos window started");
    return { started: true, id };
  }

  /** Ends the running window `id` now (its fault cleared, recovery not measured). */
  abort(id: number, reason: string): { ok: true } | { ok: false; status: 404 | 409; reason: string } {
    const c = this.current;
    if (c === null || c.id !== id) {
      const known = this.o.store.get(id);
      return known === null ? { ok: false, status: 404, reason: `no chaos window with id ${id}` } : { ok: false, status: 409, reason: `chaos window ${id} is not running (${known.status})` };
    }
    this.abortRunning(c, reason, true);
    return { ok: true };
  }

  running(): CurrentWindow | null {
    const c = this.current;
    return c === null
      ? null
      : { id: c.id, name: c.spec.name, chain: c.spec.chain, provider: c.spec.provider, plannedStart: c.plannedStart, plannedEnd: c.plannedEnd, started: c.started, phase: c.phase };
  }

  list(q: WindowQuery = {}): ChaosWindowRecord[] {
    return this.o.store.list(q);
  }

  /** Resolves when no window runs (tests; stop). */
  async idle(): Promise<void> {
    while (this.current !== null) await this.current.done;
  }

  /** Unschedules, ends a running window as aborted with `reason` and waits for it to be recorded. */
  async stop(reason = "daemon stopping"): Promise<void> {
    if (this.state === "stopped") return;
    this.state = "stopped";
    for (const t of this.tasks) await t.destroy();
    this.tasks.length = 0;
    const c = this.current;
    if (c !== null) this.abortRunning(c, reason, true);
    await this.idle();
  }

  /**
   * For tests of a crash: stops scheduling and probing without ending the window, clearing the
   * fault or recording anything, as a killed process would (the lease still ends the fault).
   */
  async abandon(): Promise<void> {
    this.state = "stopped";
    for (const t of this.tasks) await t.destroy();
    const c = this.current;
    if (c !== null) {
      c.abandoned = true;
      c.endFault.abort();
      c.halt.abort();
      await c.done;
    }
  }

  private skip(spec: WindowSpec, trigger: WindowTrigger, plannedStart: number, plannedEnd: number, reason: string): number {
    this.log.warn({ window: spec.name, trigger, reason }, "chaos window skipped");
    this.o.stats?.counted(spec.name, "skipped");
    return this.o.store.insertSkipped(spec, trigger, plannedStart, plannedEnd, reason);
  }

  private abortRunning(c: Running, reason: string, halt: boolean, byGuard = false): void {
    if (c.aborted === null && c.phase === "fault") {
      c.aborted = { at: Date.now(), reason, byGuard };
      this.log.warn({ window: c.spec.name, id: c.id, reason }, "chaos window aborted");
    }
    c.endFault.abort();
    if (halt) c.halt.abort();
  }

  private async runWindow(c: Running): Promise<void> {
    const { spec } = c;
    const target = this.o.targets.find((t) => t.name === spec.target);
    if (target === undefined) throw new Error(`chaos window ${spec.name} names unknown target ${spec.target}`);
    let start: number | null = null;
    let end: number | null = null;
    const guard = new AbortGuard(spec.abortFloor, spec.abortWindowMs, spec.probeIntervalMs);
    let recovered: (() => void) | null = null;
    const onExperiment = (o: ProbeObservation): void => {
      if (c.phase === "fault") {
        guard.record(o);
        const why = guard.check(Date.now());
        if (why !== null) this.abortRunning(c, why, false, true);
      } else if (o.ok && o.provider === spec.provider && end !== null && o.ts >= end) {
        recovered?.();
      }
    };
    const probes = new WindowProbes({
      client: this.o.client,
      experimentUrl: probeUrl(target.url, routePath({ profile: spec.profile }, spec.chain), "http"),
      controlUrl: probeUrl(target.url, routePath({}, spec.chain), "http"),
      headers: target.headers,
      intervalMs: spec.probeIntervalMs,
      timeoutMs: this.o.probeTimeoutMs ?? DEFAULT_PROBE_TIMEOUT_MS,
      onExperiment,
    });
    const capture = this.o.continuity?.capture(spec.chain, spec.profile) ?? null;
    const onFaultError = (err: unknown): void => this.log.warn({ err, window: spec.name }, "chaos fault control call failed (the lease ends the fault)");
    const lease = spec.kind === "fault" ? new FaultLease(this.o.control, { chain: spec.chain, provider: spec.provider, fault: spec.fault }, this.leaseMs, c.plannedEnd, onFaultError) : null;
    const storm = spec.kind === "failover_storm" ? new FailoverStorm(this.o.control, spec.chain, spec.provider, spec.stormEveryMs ?? spec.durationMs, c.plannedEnd, onFaultError) : null;

    const silence = await this.silence(spec, c.plannedStart, c.plannedEnd);
    try {
      if (lease !== null) await lease.start();
      else storm?.start();
      start = Date.now();
      c.started = start;
      this.o.store.markStarted(c.id, start);
      this.o.stats?.windowActive(spec.name, true);
      probes.start();
      await sleepUntil(c.plannedEnd, c.endFault.signal);
    } catch (err) {
      if (c.aborted === null) c.aborted = { at: Date.now(), byGuard: false, reason: `the fault could not be set: ${err instanceof Error ? err.message : String(err)}` };
    } finally {
      if (c.abandoned) {
        lease?.abandon();
        await storm?.stop();
        await probes.stop();
        capture?.close();
      } else {
        await lease?.end();
        await storm?.stop();
        for (const p of storm?.providers() ?? []) await this.o.control.clearFault(spec.chain, p).catch(onFaultError);
        if (start !== null) end = Date.now();
        this.o.stats?.windowActive(spec.name, false);
      }
      // Expired with the window; if the daemon dies first, Alertmanager ends it at the planned end.
      if (silence !== null && !c.abandoned) await this.unsilence(spec, silence);
    }
    if (c.abandoned) return;

    // Recovery: the experiment alone until the faulted provider serves again, at most maxRecovery.
    c.phase = "recovery";
    if (start !== null && !c.halt.signal.aborted) {
      probes.enterRecovery();
      const back = new Promise<void>((resolve) => (recovered = resolve));
      await Promise.race([back, sleepUntil(Date.now() + spec.slo.maxRecoveryMs, c.halt.signal)]);
    }
    await probes.stop();

    const traffic = c.halt.signal.aborted || start === null ? [] : await this.traffic(spec, c.plannedStart - (this.o.trafficLeadMs ?? 10_000));
    const continuity = capture?.read() ?? null;
    capture?.close();
    if (continuity !== null && storm !== null) continuity.failovers = storm.drops.length;
    const obs: WindowObservations = {
      plannedStart: c.plannedStart, start, end, plannedEnd: c.plannedEnd,
      experiment: probes.experiment, control: probes.control, after: probes.after, traffic, continuity, aborted: c.aborted,
    };
    const result = this.judge(spec, obs);
    this.o.store.finish(c.id, { ended: end, abortReason: c.aborted?.reason ?? null, verdict: result.verdict, result, observations: obs });
    this.o.stats?.counted(spec.name, result.verdict);
    this.o.stats?.figures(spec.name, result);
    this.log.info({ window: spec.name, id: c.id, verdict: result.verdict, reasons: result.reasons }, "chaos window finished");
  }

  /**
   * The judge's verdict. An operator, reload or restart abort makes it "aborted" (the judge's
   * findings stay in the reasons); a guard abort is judged: clients failed, so it fails.
   */
  private judge(spec: WindowSpec, obs: WindowObservations): WindowResult {
    let result: WindowResult;
    try {
      result = this.o.judge(spec, obs);
    } catch (err) {
      this.log.error({ err, window: spec.name }, "chaos verdict failed");
      result = emptyResult("inconclusive", [`the verdict could not be computed: ${err instanceof Error ? err.message : String(err)}`], obs);
    }
    if (obs.aborted === null || obs.aborted.byGuard === true) return result;
    const reasons = result.reasons.includes(obs.aborted.reason) ? result.reasons : [`aborted: ${obs.aborted.reason}`, ...result.reasons];
    return { ...result, verdict: "aborted", reasons };
  }

  /** The window's Alertmanager silence (its id), or null: none asked for, none configured, or refused (logged). */
  private async silence(spec: WindowSpec, startsAt: number, endsAt: number): Promise<{ am: AlertmanagerOptions; id: string } | null> {
    const request = windowSilence(spec, startsAt, endsAt);
    if (request === null) return null;
    const am = this.o.alertmanager;
    if (am === undefined || am === null) {
      this.log.warn({ window: spec.name }, "chaos window asks for a silence but the daemon config has no alertmanager: runs unsilenced");
      return null;
    }
    const r = await createSilence(am, request);
    if (!r.ok) {
      this.log.warn({ window: spec.name, error: r.error }, "chaos window silence could not be created: runs unsilenced");
      return null;
    }
    this.log.info({ window: spec.name, silence: r.id }, "chaos window silenced its alerts");
    return { am, id: r.id };
  }

  private async unsilence(spec: WindowSpec, s: { am: AlertmanagerOptions; id: string }): Promise<void> {
    const r = await expireSilence(s.am, s.id);
    if (!r.ok) this.log.warn({ window: spec.name, silence: s.id, error: r.error }, "chaos window silence could not be expired: it ends at the planned end");
  }

  private async traffic(spec: WindowSpec, since: number): Promise<TrafficBucket[]> {
    try {
      return await this.o.control.traffic(spec.chain, spec.provider, since);
    } catch (err) {
      this.log.warn({ err, window: spec.name }, "chaos window: upstream traffic could not be read");
      return [];
    }
  }

  /** Every fault of this plan's windows' chains (and each window's provider, if listing fails). */
  private async clearFaults(): Promise<void> {
    const chains = new Set(this.o.windows.map((w) => w.chain));
    const pairs = new Map(this.o.windows.map((w) => [`${w.chain}\u0000${w.provider}`, { chain: w.chain, provider: w.provider }]));
    try {
      for (const p of await this.o.control.list()) if (chains.has(p.chain) && p.fault !== null) pairs.set(`${p.chain}\u0000${p.provider}`, p);
    } catch (err) {
      this.log.warn({ err }, "chaos: the fault proxies could not be listed at start; clearing the windows' own providers");
    }
    for (const { chain, provider } of pairs.values()) {
      await this.o.control.clearFault(chain, provider).catch((err: unknown) => this.log.warn({ err, chain, provider }, "chaos: a fault could not be cleared at start (its lease ends it)"));
    }
  }
}

/** Resolves at `at` or when `signal` aborts, whichever is first. */
async function sleepUntil(at: number, signal: AbortSignal): Promise<void> {
  const ms = at - Date.now();
  if (ms <= 0 || signal.aborted) return;
  await sleep(ms, undefined, { signal }).catch(() => {});
}

function emptyResult(verdict: WindowResult["verdict"], reasons: string[], obs: WindowObservations): WindowResult {
  return {
    verdict,
    reasons,
    clientSuccess: { experiment: null, control: null, experimentSamples: obs.experiment.length, controlSamples: obs.control.length },
    latency: { experimentP50Ms: null, controlP50Ms: null, u: null, p: null, shift: "inconclusive" },
    failoverMs: null,
    breaker: { stoppedAt: null, halfOpenProbes: 0, resumedAt: null },
    recoveryMs: null,
    continuity: obs.continuity,
  };
}
