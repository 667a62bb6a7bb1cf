#!/usr/bin/env node
import { parseArgs } from "node:util";
import { createLogger } from "./log.js";
import { startDaemon, VERSION } from "./main.js";
import { DEFAULT_CONFIG_PATH, formatPlanErrors, loadPlan, summarizePlan, type Plan } from "./plan/index.js";
import { buildReport, parseReportQuery, renderMarkdown, TimeParamError } from "./report/index.js";
import { StoreReader } from "./store/index.js";

const USAGE = `lasso-canary ${VERSION}

usage:
  lasso-canary run      [--config FILE]                 run the daemon (SIGTERM/SIGINT stop it)
  lasso-canary validate [--config FILE]                 check config + checks, list every error, print the plan
  lasso-canary report   [--config FILE] [--since 24h] [--until now] [--chain NAME] [--format table|json|md]
                                                        SLIs and SLO verdicts from the store (works while the daemon runs)

--config defaults to ${DEFAULT_CONFIG_PATH}. since/until take durations (24h, 7d), ISO-8601 or unix seconds.`;

const STOP_DEADLINE_MS = 5000;

function load(configPath: string): Plan {
  try {
    return loadPlan(configPath);
  } catch (err) {
    process.stderr.write(`${formatPlanErrors(err)}\n`);
    process.exit(2);
  }
}

async function run(configPath: string): Promise<void> {
  const plan = load(configPath);
  const logger = createLogger(plan.log.level);
  for (const w of plan.warnings) logger.warn({ file: w.file, path: w.path }, w.message);
  const daemon = await startDaemon({ plan, logger });
  let stopping = false;
  const stop = (signal: string): void => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, "stopping");
    // The deadline is a backstop: stop() flushes the store well within it.
    setTimeout(() => {
      logger.error({ deadlineMs: STOP_DEADLINE_MS }, "stop took too long; exiting anyway");
      process.exit(1);
    }, STOP_DEADLINE_MS).unref();
    daemon.stop().then(
      () => process.exit(0),
      (err: unknown) => {
        logger.error({ err }, "stop failed");
        process.exit(1);
      },
    );
  };
  process.on("SIGTERM", () => stop("SIGTERM"));
  process.on("SIGINT", () => stop("SIGINT"));
}

function validate(configPath: string): void {
  const plan = load(configPath);
  process.stdout.write(`${summarizePlan(plan)}\n`);
  for (const w of plan.warnings) process.stdout.write(`warning: ${w.file}: ${w.path}: ${w.message}\n`);
  process.stdout.write("plan is valid\n");
}

function report(configPath: string, opts: { since?: string; until?: string; chain?: string; format?: string }): void {
  const plan = load(configPath);
  const now = Date.now();
  let range;
  try {
    range = parseReportQuery({ since: opts.since, until: opts.until, chain: opts.chain }, now);
  } catch (err) {
    if (err instanceof TimeParamError) {
      process.stderr.write(`${err.message}\n`);
      process.exit(2);
    }
    throw err;
  }
  const reader = StoreReader.open(plan.store.path);
  try {
    const slos = plan.chains.map((c) => ({ chain: c.chain, ...c.slo }));
    const r = buildReport(range, slos, reader, now);
    const format = opts.format ?? "table";
    if (format === "json") process.stdout.write(`${JSON.stringify(r, null, 2)}\n`);
    else process.stdout.write(`${renderMarkdown(r)}\n`);
  } finally {
    reader.close();
  }
}

async function main(argv: string[]): Promise<void> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      config: { type: "string", short: "c", default: DEFAULT_CONFIG_PATH },
      since: { type: "string" },
      until: { type: "string" },
      chain: { type: "string" },
      format: { type: "string" },
      help: { type: "boolean", short: "h" },
      version: { type: "boolean" },
    },
  });
  if (values.version) return void process.stdout.write(`${VERSION}\n`);
  const command = positionals[0];
  if (values.help || !command) return void process.stdout.write(`${USAGE}\n`);
  switch (command) {
    case "run":
      return run(values.config);
    case "validate":
      return validate(values.config);
    case "report":
      return report(values.config, values);
    default:
      process.stderr.write(`unknown command ${JSON.stringify(command)}\n\n${USAGE}\n`);
      process.exit(2);
  }
}

main(process.argv.slice(2)).catch((err: unknown) => {
  process.stderr.write(`lasso-canary: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
