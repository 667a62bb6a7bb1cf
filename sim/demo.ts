// `npm run demo [-- --scenario NAME]`: the local test bed (2 chains x 3 providers on anvil,
// behind fault proxies, behind the Lasso-compatible target) and the lasso-canary daemon probing
// it; a scenario breaks it on purpose (sim/scenarios.ts). Ctrl-C stops all.
import { formatPlanErrors } from "../src/plan/index.js";
import { SCENARIO_FAILS_WITHIN_MS, scenarioReportUrl, startDemo, type Demo } from "./demoStack.js";
import { describeRow, parseDemoArgs, SCENARIOS, type Scenario } from "./scenarios.js";

let scenario: Scenario | null;
try {
  const args = parseDemoArgs(process.argv.slice(2));
  if (args.help) {
    process.stdout.write(`${usage()}\n`);
    process.exit(0);
  }
  scenario = args.scenario;
} catch (err) {
  process.stderr.write(`${err instanceof Error ? err.message : String(err)}\n\n${usage()}\n`);
  process.exit(2);
}

let demo: Demo;
try {
  demo = await startDemo({ env: process.env, ...(scenario ? { scenario } : {}) });
} catch (err) {
  process.stderr.write(`${formatPlanErrors(err)}\n`);
  process.exit(2);
}
const { bed, daemon, plan, traffic } = demo;
let stopping = false;

const lines = [
  "",
  "lasso-canary demo is running (Ctrl-C to stop)",
  "",
  `  daemon        ${daemon.url}   (status page)`,
  `    report      ${daemon.url}/report?since=5m&format=md   (JSON without &format=md; a page with charts: &format=html)`,
  `    metrics     ${daemon.url}/metrics`,
  `    health      ${daemon.url}/healthz  ${daemon.url}/readyz`,
  `  Lasso target  ${bed.lasso.url}   (ws: ${bed.lasso.wsUrl})`,
  `    routes      ${bed.lasso.url}/rpc/ethereum  /rpc/fastest/base  /rpc/provider/alpha/ethereum ...`,
  `    api         ${bed.lasso.url}/api/health  /api/chains  /api/metrics/ethereum`,
  `    defects     ${bed.lasso.url}/_sim/defects  /_sim/status`,
  `  store         ${plan.store.path}`,
  `  traffic       1 tx/s per chain to the log emitter at ${traffic[0]?.address ?? "?"}`,
  "",
];
for (const [name, chain] of bed.chains) {
  lines.push(`  ${name} (chain id ${chain.spec.chainId}): anvil ${chain.node.httpUrl}`);
  for (const [profile, byId] of chain.providers) {
    for (const [id, proxy] of byId) lines.push(`    ${profile}/${id.padEnd(8)} ${proxy.httpUrl}  ${proxy.wsUrl}`);
  }
}
lines.push("");
if (scenario) {
  lines.push(
    `scenario ${scenario.name}: ${scenario.summary}`,
    `  expect: ${describeRow(scenario.expect)} FAIL within ${SCENARIO_FAILS_WITHIN_MS / 1000} s of the scenario's start`,
    "  starting once the demo is warm (the route probed, its watcher delivering)...",
  );
} else {
  lines.push(`break it on purpose: npm run demo -- --scenario ${SCENARIOS.map((s) => s.name).join(" | ")}`);
}
process.stdout.write(`${lines.join("\n")}\n\n`);

demo.scenario?.then(
  (applied) => {
    const { expect } = applied.scenario;
    process.stdout.write([
      `scenario ${applied.scenario.name} started at ${new Date(applied.appliedAt).toISOString()}`,
      `  expect: ${describeRow(expect)} FAIL by ${new Date(applied.appliedAt + SCENARIO_FAILS_WITHIN_MS).toISOString()}`,
      `  see ${scenarioReportUrl(daemon.url, expect, applied.appliedAt)}`,
      "",
    ].join("\n"));
  },
  (err: unknown) => {
    if (stopping) return;
    process.stderr.write(`scenario not started: ${err instanceof Error ? err.message : String(err)}\n`);
    void shutdown("scenario failure", 1);
  },
);

async function shutdown(why: string, code = 0): Promise<void> {
  if (stopping) return;
  stopping = true;
  process.stdout.write(`\n${why}: stopping the daemon and the test bed...\n`);
  await demo.stop();
  process.stdout.write("stopped cleanly\n");
  process.exit(code);
}
process.on("SIGINT", () => void shutdown("SIGINT"));
process.on("SIGTERM", () => void shutdown("SIGTERM"));

function usage(): string {
  return [
    "usage: npm run demo [-- --scenario NAME | --help]",
    "",
    "scenarios (each makes one SLO row of the demo's report fail):",
    ...SCENARIOS.map((s) => `  ${s.name.padEnd(16)} ${describeRow(s.expect)}\n  ${"".padEnd(16)} ${s.summary}`),
  ].join("\n");
}
