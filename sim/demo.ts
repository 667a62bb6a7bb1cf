// `npm run demo`: the local test bed (2 chains x 3 providers on anvil, behind fault proxies,
// behind the Lasso-compatible target) and the lasso-canary daemon probing it. Ctrl-C stops all.
import { mkdirSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { createLogger } from "../src/log.js";
import { startDaemon } from "../src/main.js";
import { formatPlanErrors, loadPlan } from "../src/plan/index.js";
import { DEFAULT_TESTBED, startTestBed } from "./testbed.js";
import { startTraffic, type Traffic } from "./traffic.js";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const configPath = path.join(root, "config/demo/canary.yaml");

const bed = await startTestBed(DEFAULT_TESTBED);
// Transactions to a log-emitting contract on every chain, so the logs watchers have events.
// Deployed first from account 0, it lands at the address config/demo/checks/*.yaml filter on.
const traffic: Traffic[] = [];
for (const chain of bed.chains.values()) traffic.push(await startTraffic({ rpcUrl: chain.node.httpUrl, intervalMs: 1000 }));
let plan;
try {
  plan = loadPlan(configPath, { ...process.env, LASSO_URL: bed.lasso.url });
} catch (err) {
  process.stderr.write(`${formatPlanErrors(err)}\n`);
  await bed.stop();
  process.exit(2);
}
mkdirSync(path.dirname(plan.store.path), { recursive: true });
const logger = createLogger(process.env.LOG_LEVEL === undefined ? "warn" : plan.log.level);
const daemon = await startDaemon({ plan, logger });

const lines = [
  "",
  "lasso-canary demo is running (Ctrl-C to stop)",
  "",
  `  daemon        ${daemon.url}`,
  `    report      ${daemon.url}/report?since=5m&format=md   (JSON without &format=md)`,
  `    metrics     ${daemon.url}/metrics`,
  `    health      ${daemon.url}/healthz  ${daemon.url}/readyz`,
  `  Lasso target  ${bed.lasso.url}   (ws: ${bed.lasso.wsUrl})`,
  `    routes      ${bed.lasso.url}/rpc/ethereum  /rpc/fastest/base  /rpc/provider/alpha/ethereum ...`,
  `    api         ${bed.lasso.url}/api/health  /api/chains  /api/metrics/ethereum`,
  `    defects     curl -X PUT -H 'content-type: application/json' -d '{"staleRouting":true}' ${bed.lasso.url}/_sim/defects`,
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
process.stdout.write(`${lines.join("\n")}\n\n`);

let stopping = false;
async function shutdown(signal: string): Promise<void> {
  if (stopping) return;
  stopping = true;
  process.stdout.write(`\n${signal}: stopping the daemon and the test bed...\n`);
  await daemon.stop();
  await Promise.all(traffic.map((t) => t.stop()));
  await bed.stop();
  process.stdout.write("stopped cleanly\n");
  process.exit(0);
}
process.on("SIGINT", () => void shutdown("SIGINT"));
process.on("SIGTERM", () => void shutdown("SIGTERM"));
