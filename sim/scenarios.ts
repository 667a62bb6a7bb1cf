// Demo scenarios: each breaks the test bed in one way Lasso could regress (a target defect and,
// where the defect only shows under it, the provider fault that exposes it) and names the SLO row
// of the demo plan (config/demo/checks) that must fail because of it.
import { parseArgs } from "node:util";
import type { Fault } from "../src/chaos/faults.js";
import type { Report, Sli, SloRow } from "../src/report/index.js";
import { NO_DEFECTS, type Defects } from "./lasso/index.js";
import type { TestBed } from "./testbed.js";

export const SCENARIO_NAMES = ["stale-provider", "dead-provider", "gap-on-failover", "silent-drop", "duplicates"] as const;
export type ScenarioName = (typeof SCENARIO_NAMES)[number];

/** The SLO row a scenario must fail: chain, route and SLI (and the watcher for subscription SLIs). */
export interface ExpectedFailure {
  chain: string;
  route: string;
  /** Subscription SLIs: the watcher (a route can carry several). Null for probe SLIs. */
  watcher: string | null;
  sli: Sli;
  /**
   * Why it must fail, when the SLI can also fail for a reason the scenario is not about (a
   * delivery row fails on a stall too, which the provider fault alone causes for a moment).
   */
  reason?: RegExp;
}

export interface ProviderFault {
  chain: string;
  provider: string;
  fault: Fault;
}

export interface Scenario {
  name: ScenarioName;
  /** One line: what breaks and why that row fails. */
  summary: string;
  defects: Partial<Defects>;
  fault: ProviderFault | null;
  expect: ExpectedFailure;
}

/** The provider with priority 1 on the demo bed: it serves every shared (strategy-route) subscription. */
const SUBSCRIPTION_PROVIDER = "alpha";
/** A subscription failover needs the serving provider to go quiet: Lasso's staleness check moves the stream. */
const STALL_SERVING_PROVIDER: ProviderFault = { chain: "ethereum", provider: SUBSCRIPTION_PROVIDER, fault: { kind: "ws_stall" } };

export const SCENARIOS: readonly Scenario[] = [
  {
    name: "stale-provider",
    summary: "ethereum/charlie answers 6 blocks behind and the staleRouting defect prefers the laggard instead of excluding it: the default route serves stale heads",
    defects: { staleRouting: true },
    fault: { chain: "ethereum", provider: "charlie", fault: { kind: "stale_head", blocks: 6 } },
    expect: { chain: "ethereum", route: "default", watcher: null, sli: "head_freshness" },
  },
  {
    name: "dead-provider",
    summary: "ethereum/bravo resets every connection; Lasso's failover keeps the strategy routes healthy, so only bravo's own pin fails",
    defects: {},
    fault: { chain: "ethereum", provider: "bravo", fault: { kind: "reset" } },
    expect: { chain: "ethereum", route: "pin:bravo", watcher: null, sli: "success_ratio" },
  },
  {
    name: "gap-on-failover",
    summary: `ethereum/${SUBSCRIPTION_PROVIDER} stops sending newHeads; Lasso fails the shared subscription over and the gapOnFailover defect skips the backfill: blocks are lost`,
    defects: { gapOnFailover: true },
    fault: STALL_SERVING_PROVIDER,
    expect: { chain: "ethereum", route: "default", watcher: "newHeads:default", sli: "delivery", reason: /block\(s\) never delivered/ },
  },
  {
    name: "silent-drop",
    summary: "the silentDrop defect keeps every subscription socket open and drops its events: the watchers stall",
    defects: { silentDrop: true },
    fault: null,
    expect: { chain: "ethereum", route: "default", watcher: "newHeads:default", sli: "delivery", reason: /^stalled since/ },
  },
  {
    name: "duplicates",
    summary: `ethereum/${SUBSCRIPTION_PROVIDER} stops sending newHeads; on failover the duplicatesOnFailover defect replays delivered heads without dedup`,
    defects: { duplicatesOnFailover: true },
    fault: STALL_SERVING_PROVIDER,
    expect: { chain: "ethereum", route: "default", watcher: "newHeads:default", sli: "duplicates" },
  },
];

/** The scenario called `name`; an unknown name is an error that lists the known ones. */
export function findScenario(name: string): Scenario {
  const s = SCENARIOS.find((x) => x.name === name);
  if (!s) throw new Error(`unknown scenario ${JSON.stringify(name)}; one of: ${SCENARIO_NAMES.join(", ")}`);
  return s;
}

export interface DemoArgs {
  scenario: Scenario | null;
  help: boolean;
}

/** The demo's command line: `--scenario NAME` (or `--scenario=NAME`), `--help`; anything else is an error. */
export function parseDemoArgs(argv: readonly string[]): DemoArgs {
  const { values } = parseArgs({
    args: [...argv],
    options: { scenario: { type: "string" }, help: { type: "boolean", short: "h" } },
    strict: true,
    allowPositionals: false,
  });
  return { scenario: values.scenario === undefined ? null : findScenario(values.scenario), help: values.help === true };
}

/** "ethereum default newHeads:default delivery" */
export function describeRow(e: ExpectedFailure): string {
  return [e.chain, e.route, e.watcher, e.sli].filter((x) => x !== null).join(" ");
}

/** The expected row in `report` when it fails for the scenario's reason; undefined otherwise. */
export function failingRow(report: Report, e: ExpectedFailure): SloRow | undefined {
  const row = report.chains
    .find((c) => c.chain === e.chain)
    ?.slo.find((r) => r.route === e.route && r.sli === e.sli && r.watcher === e.watcher);
  if (row?.pass !== false) return undefined;
  if (e.reason && !e.reason.test(row.reason ?? "")) return undefined;
  return row;
}

/** Faults are windows the proxy ends by itself (at most its 10 min cap): renew them while the scenario lasts. */
export const FAULT_WINDOW_MS = 600_000;

export interface AppliedScenario {
  scenario: Scenario;
  /** Wall-clock ms at which the defect and the fault were set. */
  appliedAt: number;
  /** Clears the fault and the scenario's defects. */
  stop(): void;
}

/** Sets the scenario's defects and holds its provider fault (renewed every half window) until stop(). */
export function applyScenario(bed: Pick<TestBed, "lasso" | "provider">, scenario: Scenario, windowMs = FAULT_WINDOW_MS): AppliedScenario {
  const proxy = scenario.fault ? bed.provider(scenario.fault.chain, scenario.fault.provider) : null;
  const hold = (): void => {
    if (proxy && scenario.fault) proxy.setFault(scenario.fault.fault, windowMs);
  };
  bed.lasso.setDefects(scenario.defects);
  hold();
  const renew = proxy ? setInterval(hold, windowMs / 2) : null;
  renew?.unref();
  const appliedAt = Date.now();
  return {
    scenario,
    appliedAt,
    stop() {
      if (renew) clearInterval(renew);
      proxy?.clearFault();
      const keys = Object.keys(scenario.defects) as (keyof Defects)[];
      bed.lasso.setDefects(Object.fromEntries(keys.map((k) => [k, NO_DEFECTS[k]])));
    },
  };
}
