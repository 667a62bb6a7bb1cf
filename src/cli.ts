#!/usr/bin/env node
import { parseArgs } from "node:util";
import { checkHealth, healthzUrl } from "./healthcheck.js";
import { createLogger } from "./log.js";
import { startDaemon, VERSION } from "./main.js";
import { DEFAULT_CONFIG_PATH, formatPlanErrors, loadPlan, PlanError, summarizePlan, type Env, type Plan } from "./plan/index.js";
import { formatIssue } from "./plan/errors.js";
import type { Budget } from "./profile/index.js";
import { DEFAULT_PROXY_CONFIG_PATH, DEFAULT_PROXY_PORTS, loadProxyConfig, loadProxyPorts, ProxyConfigError, type ProxyPorts } from "./proxy/config.js";
import { parseReportFormat, parseReportQuery, REPORT_FORMATS, ReportQueryError, reportQueryOptions } from "./report/time.js";
import { SchemaVersionError, StoreOpenError, StoreReader } from "./store/index.js";

// The daemon (`run`) loads only what it runs: the fault proxies (undici's whole package, the
// WebSocket server), the profile tools, baselines and the report renderers are imported by
// the commands that use them. Loaded eagerly (every command imported them) they cost the
// daemon 3 MB of V8 heap and 2 MB of the node binary's pages for nothing.

const USAGE = `lasso-canary ${VERSION}

usage:
  lasso-canary run      [--config FILE]                 run the daemon (SIGTERM/SIGINT stop it, SIGHUP reloads config and checks)
  lasso-canary validate [--config FILE]                 check config + checks, list every error, print the plan
  lasso-canary report   [--config FILE] [--since 24h] [--until now] [--chain NAME] [--format ${REPORT_FORMATS.join("|")}]
                        [--baseline 7d|FROM..TO|@NAME]  SLIs and SLO verdicts from the store (works while the daemon runs;
                                                        needs no target URL: unset variables in targets are tolerated);
                                                        --baseline compares with the 7d before --since, a range, or a
                                                        saved baseline, and exits 3 when a regression is found
  lasso-canary baseline save NAME [--since 7d] [--until now] [--chain NAME] [--force] [--config FILE]
                                                        save the period's statistics under NAME (kept past retention)
  lasso-canary baseline list [--config FILE]            the saved baselines
  lasso-canary baseline delete NAME [--config FILE]     delete one
  lasso-canary healthcheck [--config FILE]              exit 0 when the daemon at the config's listen address answers /healthz, else 1
  lasso-canary checks-from-profile PROFILE.yml [--out DIR] [--force] [--config FILE] [--budget N]
                                                        checks files (one per chain) from a Lasso profile, within the budget
                                                        (--config: its budget and targets; --budget: req/s per chain);
                                                        without --out, printed to stdout
  lasso-canary proxy [--config FILE]                    run the fault proxies (one per provider of the config's Lasso profile)
                                                        and their loopback control API; --config defaults to ${DEFAULT_PROXY_CONFIG_PATH}
  lasso-canary proxy-healthcheck [--config FILE]        exit 0 when that proxy process's control API answers /healthz, else 1
  lasso-canary lasso-profile PROFILE.yml [--proxy-config FILE]
                                                        print the "canary" Lasso profile: PROFILE's chains and providers with
                                                        each url / ws_url replaced by its fault proxy (ports from FILE's
                                                        proxies section, else basePort ${DEFAULT_PROXY_PORTS.basePort} on ${DEFAULT_PROXY_PORTS.advertiseHost})
  lasso-canary help                                     this text

--config defaults to ${DEFAULT_CONFIG_PATH} (proxy commands: ${DEFAULT_PROXY_CONFIG_PATH}; checks-from-profile: no default; without it, the default budget for one target).
since/until take durations (24h, 7d), ISO-8601 or unix seconds; since defaults to 24h before until.
report --format defaults to md (the same formats as GET /report?format=); html is one self-contained page: --format html > report.html.

exit codes: 0 done (report: no regression); 1 failed (runtime error, unhealthy); 2 bad input (arguments, config,
store file, unknown baseline); 3 report --baseline found a regression.`;

const STOP_DEADLINE_MS = 5000;

function load(configPath: string, env: Env = process.env): Plan {
  try {
    return loadPlan(configPath, env);
  } catch (err) {
    process.stderr.write(`${formatPlanErrors(err)}\n`);
    process.exit(2);
  }
}

/** Stands in for environment variables a command does not use (target URLs and headers for `report`). */
const UNSET_PLACEHOLDER = "http://unset.invalid";

/** Names of unset variables when those are the plan's only problems and all sit under `targets`; else null. */
function unsetTargetVariables(err: unknown): string[] | null {
  if (!(err instanceof PlanError)) return null;
  const names = err.issues.map((i) => (i.path.startsWith("targets") ? /^environment variable (\w+) is not set/.exec(i.message)?.[1] : undefined));
  return names.every((n) => n !== undefined) ? [...new Set(names)] : null;
}

/** The plan for commands that only read the store: target URLs (often secrets in env) may be unset. */
function loadForReading(configPath: string): Plan {
  try {
    return loadPlan(configPath);
  } catch (err) {
    const unset = unsetTargetVariables(err);
    if (unset === null) refuse(formatPlanErrors(err));
    return load(configPath, { ...process.env, ...Object.fromEntries(unset.map((n) => [n, UNSET_PLACEHOLDER])) });
  }
}

/** A store that cannot be opened: say which and why, exit 2 (nothing has started yet). */
function refuseStore(err: unknown): void {
  if (err instanceof StoreOpenError || err instanceof SchemaVersionError) refuse(`lasso-canary: ${err.message}`);
}

async function run(configPath: string): Promise<void> {
  const plan = load(configPath);
  const logger = createLogger(plan.log.level);
  for (const w of plan.warnings) logger.warn({ file: w.file, path: w.path }, w.message);
  let daemon;
  try {
    daemon = await startDaemon({ plan, logger, loadPlan: () => loadPlan(configPath, process.env) });
  } catch (err) {
    refuseStore(err);
    throw err;
  }
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
  // As Prometheus tools do: SIGHUP re-reads config and checks; an invalid plan is refused (logged) and the running one kept.
  process.on("SIGHUP", () => {
    logger.info("SIGHUP: reloading config and checks");
    void daemon.reload();
  });
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

async function checksFromProfile(profilePath: string | undefined, opts: { config?: string; budget?: string; out?: string; force?: boolean }): Promise<void> {
  if (profilePath === undefined) refuse(`checks-from-profile needs a Lasso profile file, e.g. config/profiles/public.yml\n\n${USAGE}`);
  const { budgetFromConfig, BudgetError, checksStream, defaultBudget, ExistingFilesError, generateChecks, parseBudgetOption, readLassoProfile, writeChecksFiles } =
    await import("./profile/index.js");
  const { formatRate } = await import("./plan/build.js");
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
    await refuseConfigErrors(err);
    if (err instanceof BudgetError || err instanceof ExistingFilesError) refuse(err.message);
    throw err;
  }
}

/** Exit 2 naming file and path for configuration problems; anything else is rethrown. */
async function refuseConfigErrors(err: unknown): Promise<void> {
  const [{ ProfileError }, { UpstreamError }] = await Promise.all([import("./profile/lassoProfile.js"), import("./proxy/upstreams.js")]);
  if (err instanceof ProfileError || err instanceof ProxyConfigError || err instanceof UpstreamError) refuse(err.issues.map(formatIssue).join("\n"));
}

async function proxy(configPath: string): Promise<void> {
  let config;
  try {
    config = loadProxyConfig(configPath);
  } catch (err) {
    await refuseConfigErrors(err);
    throw err;
  }
  const logger = createLogger(config.log.level);
  const { ListenError, startProxyProcess } = await import("./proxy/process.js");
  let running;
  try {
    running = await startProxyProcess(config, logger);
  } catch (err) {
    await refuseConfigErrors(err);
    if (err instanceof ListenError) {
      logger.fatal(err.message);
      process.exit(1);
    }
    throw err;
  }
  let stopping = false;
  const stop = (signal: string): void => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, "stopping: faults end, proxies close");
    setTimeout(() => process.exit(1), STOP_DEADLINE_MS).unref();
    running.stop().then(
      () => process.exit(0),
      () => process.exit(1),
    );
  };
  process.on("SIGTERM", () => stop("SIGTERM"));
  process.on("SIGINT", () => stop("SIGINT"));
}

async function proxyHealthcheck(configPath: string): Promise<void> {
  let reason: string | null;
  try {
    const { control } = loadProxyConfig(configPath);
    reason = await checkHealth(healthzUrl(control), HEALTHCHECK_TIMEOUT_MS);
  } catch (err) {
    reason = err instanceof ProxyConfigError ? err.issues.map(formatIssue).join("; ") : formatPlanErrors(err);
  }
  if (reason === null) return void process.stdout.write("healthy\n");
  process.stderr.write(`unhealthy: ${reason}\n`);
  process.exit(1);
}

async function lassoProfile(profilePath: string | undefined, proxyConfig: string | undefined): Promise<void> {
  if (profilePath === undefined) refuse(`lasso-profile needs the Lasso profile to mirror, e.g. config/profiles/public.yml\n\n${USAGE}`);
  const [{ readLassoProfile }, { canaryProfileText }] = await Promise.all([import("./profile/lassoProfile.js"), import("./profile/canaryProfile.js")]);
  try {
    let ports: ProxyPorts = DEFAULT_PROXY_PORTS;
    let portsSource = "the defaults (no --proxy-config)";
    const profile = readLassoProfile(profilePath);
    if (proxyConfig !== undefined) {
      const loaded = loadProxyPorts(proxyConfig);
      ports = loaded.proxies;
      portsSource = loaded.file;
      if (loaded.profile !== profile.abs)
        process.stderr.write(`warning: ${loaded.file}: profile: the proxy process reads ${loaded.profile}, not ${profile.abs}: ports follow the order of the profile it reads, so generate from that one\n`);
    }
    for (const w of profile.warnings) process.stderr.write(`warning: ${formatIssue(w)}\n`);
    process.stdout.write(canaryProfileText(profile, { ports, portsSource, version: VERSION, date: new Date() }));
  } catch (err) {
    await refuseConfigErrors(err);
    throw err;
  }
}

/** `report --baseline` found a regression: distinct from failures (1) and bad input (2), so CI can gate a deploy on it. */
const EXIT_REGRESSION = 3;

async function report(configPath: string, opts: { since?: string; until?: string; chain?: string; format?: string; baseline?: string }): Promise<void> {
  const plan = loadForReading(configPath);
  const now = Date.now();
  let range;
  let format;
  try {
    format = parseReportFormat(opts.format, "md");
    range = parseReportQuery({ since: opts.since, until: opts.until, chain: opts.chain, baseline: opts.baseline }, now, reportQueryOptions(plan));
  } catch (err) {
    if (err instanceof ReportQueryError) refuse(err.message);
    throw err;
  }
  const [{ buildReport }, { renderReport }] = await Promise.all([import("./report/build.js"), import("./report/render.js")]);
  let reader;
  try {
    reader = StoreReader.open(plan.store.path);
  } catch (err) {
    refuseStore(err);
    throw err;
  }
  let regression = false;
  let out: string;
  try {
    const slos = plan.chains.map((c) => ({ chain: c.chain, ...c.slo }));
    const r = buildReport(range, slos, reader, now, { comparison: plan.comparison, soak: plan.soak });
    regression = r.comparison?.regression === true;
    const source = reader;
    out = renderReport(format, r, () => source.timeline(range), 2);
  } catch (err) {
    if (err instanceof ReportQueryError) refuse(err.message);
    throw err;
  } finally {
    reader.close();
  }
  process.stdout.write(`${out}\n`);
  // exitCode, not exit(): the report may be piped, and exit() can cut stdout short.
  if (regression) process.exitCode = EXIT_REGRESSION;
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
      baseline: { type: "string" },
      out: { type: "string", short: "o" },
      force: { type: "boolean" },
      budget: { type: "string" },
      "proxy-config": { type: "string" },
      help: { type: "boolean", short: "h" },
      version: { type: "boolean" },
    },
  });
  if (values.version) return void process.stdout.write(`${VERSION}\n`);
  const command = positionals[0];
  if (values.help || command === "help") return void process.stdout.write(`${USAGE}\n`);
  if (command === undefined) refuse(`lasso-canary needs a command\n\n${USAGE}`);
  const configPath = values.config ?? DEFAULT_CONFIG_PATH;
  switch (command) {
    case "proxy":
      return proxy(values.config ?? DEFAULT_PROXY_CONFIG_PATH);
    case "proxy-healthcheck":
      return proxyHealthcheck(values.config ?? DEFAULT_PROXY_CONFIG_PATH);
    case "lasso-profile":
      if (positionals.length > 2) refuse(`lasso-profile takes one profile file, got ${positionals.length - 1}: ${positionals.slice(1).join(" ")}`);
      return lassoProfile(positionals[1], values["proxy-config"]);
    case "run":
      return run(configPath);
    case "validate":
      return validate(configPath);
    case "report":
      return report(configPath, values);
    case "healthcheck":
      return healthcheck(configPath);
    case "baseline":
      return (await import("./baselineCli.js")).baselineCommand(positionals.slice(1), { ...values, plan: () => loadForReading(configPath) }, { refuse, refuseStore });
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
