#!/usr/bin/env node
import { parseArgs } from "node:util";
import { checkHealth, healthzUrl } from "./healthcheck.js";
import { createLogger } from "./log.js";
import { startDaemon, VERSION } from "./main.js";
import { DEFAULT_CONFIG_PATH, formatPlanErrors, loadPlan, summarizePlan, type Plan } from "./plan/index.js";
import { formatRate } from "./plan/build.js";
import { formatIssue } from "./plan/errors.js";
import {
  budgetFromConfig,
  BudgetError,
  checksStream,
  defaultBudget,
  ExistingFilesError,
  generateChecks,
  parseBudgetOption,
  ProfileError,
  readLassoProfile,
  writeChecksFiles,
  type Budget,
} from "./profile/index.js";
import { buildReport, parseReportQuery, renderMarkdown, TimeParamError } from "./report/index.js";
import { StoreReader } from "./store/index.js";

const USAGE = `lasso-canary ${VERSION}

usage:
  lasso-canary run      [--config FILE]                 run the daemon (SIGTERM/SIGINT stop it)
  lasso-canary validate [--config FILE]                 check config + checks, list every error, print the plan
  lasso-canary report   [--config FILE] [--since 24h] [--until now] [--chain NAME] [--format table|json|md]
                                                        SLIs and SLO verdicts from the store (works while the daemon runs)
  lasso-canary healthcheck [--config FILE]              exit 0 when the daemon at the config's listen address answers /healthz, else 1
  lasso-canary checks-from-profile PROFILE.yml [--out DIR] [--force] [--config FILE] [--budget N]
                                                        checks files (one per chain) from a Lasso profile, within the budget
                                                        (--config: its budget and targets; --budget: req/s per chain);
                                                        without --out, printed to stdout

--config defaults to ${DEFAULT_CONFIG_PATH} (checks-from-profile: no default; without it, the default budget for one target).
since/until take durations (24h, 7d), ISO-8601 or unix seconds.`;

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

const HEALTHCHECK_TIMEOUT_MS = 3000;

/** Container HEALTHCHECK semantics: 0 healthy, 1 unhealthy (never 2, which Docker reserves). */
async function healthcheck(configPath: string): Promise<void> {
  let reason: string | null;
  try {
    reason = await checkHealth(healthzUrl(loadPlan(configPath).listen), HEALTHCHECK_TIMEOUT_MS);
  } catch (err) {
    reason = formatPlanErrors(err);
  }
  if (reason === null) return void process.stdout.write("healthy\n");
  process.stderr.write(`unhealthy: ${reason}\n`);
  process.exit(1);
}

/** Exit 2 with one line per problem: bad input, never a stack trace. */
function refuse(lines: string): never {
  process.stderr.write(`${lines}\n`);
  process.exit(2);
}

function checksFromProfile(profilePath: string | undefined, opts: { config?: string; budget?: string; out?: string; force?: boolean }): void {
  if (profilePath === undefined) refuse(`checks-from-profile needs a Lasso profile file, e.g. config/profiles/public.yml\n\n${USAGE}`);
  try {
    let budget: Budget = opts.config !== undefined ? budgetFromConfig(opts.config) : defaultBudget();
    if (opts.budget !== undefined) {
      const perChain = parseBudgetOption(opts.budget);
      if (perChain === null) refuse(`--budget must be a positive number of requests per second per chain, got ${JSON.stringify(opts.budget)}`);
      budget = { ...budget, perChain, source: "--budget" };
    }
    const profile = readLassoProfile(profilePath);
    for (const w of profile.warnings) process.stderr.write(`warning: ${formatIssue(w)}\n`);
    const files = generateChecks(profile, { budget: budget.perChain, budgetSource: budget.source, targetCount: budget.targetCount, version: VERSION, date: new Date() });
    if (opts.out === undefined) return void process.stdout.write(checksStream(files));
    const written = writeChecksFiles(files, opts.out, { force: opts.force === true });
    files.forEach((f, i) => process.stdout.write(`wrote ${written[i]}: chain ${f.chain}, ${formatRate(f.ratePerSecond)} req/s planned for ${budget.targetCount} target(s) (budget ${formatRate(budget.perChain)})\n`));
    process.stdout.write("check them with: lasso-canary validate --config <your canary.yaml>\n");
  } catch (err) {
    if (err instanceof ProfileError) refuse(err.issues.map(formatIssue).join("\n"));
    if (err instanceof BudgetError || err instanceof ExistingFilesError) refuse(err.message);
    throw err;
  }
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
      config: { type: "string", short: "c" },
      since: { type: "string" },
      until: { type: "string" },
      chain: { type: "string" },
      format: { type: "string" },
      out: { type: "string", short: "o" },
      force: { type: "boolean" },
      budget: { type: "string" },
      help: { type: "boolean", short: "h" },
      version: { type: "boolean" },
    },
  });
  if (values.version) return void process.stdout.write(`${VERSION}\n`);
  const command = positionals[0];
  if (values.help || !command) return void process.stdout.write(`${USAGE}\n`);
  const configPath = values.config ?? DEFAULT_CONFIG_PATH;
  switch (command) {
    case "run":
      return run(configPath);
    case "validate":
      return validate(configPath);
    case "report":
      return report(configPath, values);
    case "healthcheck":
      return healthcheck(configPath);
    case "checks-from-profile":
      if (positionals.length > 2) refuse(`checks-from-profile takes one profile file, got ${positionals.length - 1}: ${positionals.slice(1).join(" ")}`);
      return checksFromProfile(positionals[1], values);
    default:
      process.stderr.write(`unknown command ${JSON.stringify(command)}\n\n${USAGE}\n`);
      process.exit(2);
  }
}

main(process.argv.slice(2)).catch((err: unknown) => {
  process.stderr.write(`lasso-canary: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
