/**
 * The plan: config/canary.yaml (daemon config) + checks/*.yaml (checks as code) -> one
 * validated, typed Plan. Every problem in every file is collected before anything is
 * refused, so one `lasso-canary validate` run lists them all.
 *
 * Files:
 * - The daemon config is one YAML document. Relative paths in it (`checks`, `store.path`)
 *   are relative to the directory of the config file.
 * - The checks directory holds *.yaml / *.yml files (dotfiles ignored, not recursive),
 *   read in name order. Each YAML document declares one chain; a file may hold several
 *   documents separated by `---` (convention: one chain per file, named <chain>.yaml).
 * - ${ENV} and ${ENV:-default} are substituted in every string value of both file kinds.
 */
import { readdirSync } from "node:fs";
import path from "node:path";
import { budgetIssue, buildChain, chainInput, crossChainIssues, type ChainInput, type ConfigTargets } from "./build.js";
import { chaosNameIssues } from "./chaos.js";
import { buildSoak, withSoakRate, type SoakBuild } from "./soak.js";
import { displayFile, PlanError } from "./errors.js";
import type { Env } from "./env.js";
import { redactUrl } from "./redact.js";
import { chainSchema, configSchema, formatPath, schemaProblems, type ParsedConfig } from "./schema.js";
import type { ChainPlan, Plan, PlanIssue } from "./types.js";
import { readYamlFile, type YamlSource } from "./yamlfile.js";
import type { z } from "zod";

export type * from "./types.js";
export type { Env } from "./env.js";
export { PlanError, formatPlanErrors } from "./errors.js";
export { redactUrl } from "./redact.js";
export { summarizePlan } from "./summary.js";
export { routeName, routePath, wsRoutePath } from "./build.js";
export { formatDuration } from "./schema.js";

export const DEFAULT_CONFIG_PATH = "config/canary.yaml";

/** `src`'s value parsed by `schema`, or null with the problems (file, path, line) pushed onto `issues`. */
export function validate<S extends z.ZodType>(schema: S, src: YamlSource, issues: PlanIssue[]): z.output<S> | null {
  const r = schema.safeParse(src.value, { reportInput: true });
  if (r.success) return r.data;
  for (const p of schemaProblems(schema, r.error)) {
    const at = formatPath(p.path);
    // A failed ${ENV} substitution was already reported at this path.
    if (src.envPaths.some((e) => at === e || at.startsWith(`${e}.`) || at.startsWith(`${e}[`))) continue;
    issues.push(src.issue(p.path, p.message));
  }
  return null;
}

function listChecksFiles(dir: string, configSrc: YamlSource | undefined, configFile: string, issues: PlanIssue[]): string[] {
  const at = (message: string): PlanIssue => configSrc?.issue(["checks"], message) ?? { file: displayFile(configFile), path: "checks", message };
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    issues.push(at(code === "ENOENT" ? `checks directory ${displayFile(dir)} does not exist (relative paths are relative to the config file's directory)` : `cannot read checks directory ${displayFile(dir)}: ${(err as Error).message}`));
    return [];
  }
  const files = names.filter((n) => /\.ya?ml$/.test(n) && !n.startsWith(".")).sort();
  if (files.length === 0) issues.push(at(`no *.yaml files in checks directory ${displayFile(dir)}`));
  return files.map((n) => path.join(dir, n));
}

/**
 * Load and validate the whole plan. Throws PlanError listing every issue found in every file.
 * `env` is used for ${ENV} substitution (default: process.env).
 */
export function loadPlan(configPath: string = DEFAULT_CONFIG_PATH, env: Env = process.env): Plan {
  const configFile = path.resolve(configPath);
  const configDir = path.dirname(configFile);
  const issues: PlanIssue[] = [];
  const warnings: PlanIssue[] = [];

  // daemon config
  const cfgRead = readYamlFile(configFile, env, "config file");
  issues.push(...cfgRead.issues);
  warnings.push(...cfgRead.warnings);
  const [configSrc, ...extra] = cfgRead.sources;
  if (extra.length > 0 && configSrc !== undefined) issues.push({ file: configSrc.file, path: "", message: `must hold one YAML document, found ${extra.length + 1}` });
  let config: ParsedConfig | null = null;
  if (configSrc !== undefined) config = validate(configSchema, configSrc, issues);

  // checks directory: from the config, or as far as it could be read
  // (when the config has syntax errors, its `checks:` line is looked up in the raw text and
  // the checks are still validated if that directory exists, so one run shows everything)
  let checksRel = config?.checks;
  if (checksRel === undefined) {
    const raw = configSrc?.value;
    const v = raw !== null && typeof raw === "object" && "checks" in raw ? (raw as { checks: unknown }).checks : undefined;
    const fromText = /^checks:[ \t]*["']?([^\s"'#]+)/m.exec(cfgRead.text)?.[1];
    checksRel = typeof v === "string" && v !== "" ? v : (fromText ?? "checks");
  }
  const checksDir = path.resolve(configDir, checksRel);
  let checksFiles: string[] = [];
  if (configSrc !== undefined) checksFiles = listChecksFiles(checksDir, configSrc, configFile, issues);
  else if (cfgRead.readable) checksFiles = listChecksFiles(checksDir, undefined, configFile, []);

  if (config !== null && configSrc !== undefined) {
    const urls = new Map<string, number>();
    config.targets.forEach((t, i) => {
      const prev = urls.get(t.url);
      if (prev !== undefined) warnings.push(configSrc.issue(["targets", i, "url"], `same URL as targets[${prev}] (${redactUrl(t.url)}): every probe will run twice against it`));
      else urls.set(t.url, i);
    });
  }
  // With an invalid config, the checks still get their target names checked when the
  // targets list itself could be read.
  const rawNames = rawTargetNames(configSrc?.value);
  const targets: ConfigTargets | null =
    config !== null
      ? { names: config.targets.map((t) => t.name), file: displayFile(configFile), complete: true }
      : rawNames !== null
        ? { names: [...new Set(rawNames)], file: displayFile(configFile), complete: false }
        : null;

  // checks
  const inputs: ChainInput[] = [];
  for (const file of checksFiles) {
    const r = readYamlFile(file, env, "checks file");
    issues.push(...r.issues);
    warnings.push(...r.warnings);
    for (const src of r.sources) {
      inputs.push(chainInput(src, validate(chainSchema, src, issues)));
    }
  }
  issues.push(...crossChainIssues(inputs));
  issues.push(...chaosNameIssues(inputs));

  const built: { input: ChainInput; plan: ChainPlan; breakdown: string[] }[] = [];
  for (const input of inputs) {
    const r = buildChain(input, targets);
    issues.push(...r.issues);
    warnings.push(...r.warnings);
    if (r.plan !== null && config !== null) built.push({ input, plan: r.plan, breakdown: r.breakdown });
  }
  // Soak polls are budgeted on the chain each node is polled for, so they are known before the budget check.
  let soak: SoakBuild = { plan: null, rates: new Map() };
  if (config !== null && configSrc !== undefined) {
    const r = buildSoak(config.soak, config.targets.map((t) => t.name), built.map((b) => b.plan), (at, message) => configSrc.issue(at, message));
    issues.push(...r.issues);
    soak = r.build;
  }
  const chains: ChainPlan[] = [];
  for (const b of built) {
    const plan = withSoakRate(b.plan, soak);
    const soakLine = soak.rates.get(plan.chain)?.breakdown;
    const over = budgetIssue(plan, b.input.src, config?.budget.maxRequestsPerSecondPerChain ?? Infinity, configFile, soakLine === undefined ? b.breakdown : [...b.breakdown, soakLine]);
    if (over !== null) issues.push(over);
    chains.push(plan);
  }

  if (issues.length > 0 || config === null) throw new PlanError(sortIssues(issues, [configFile, ...checksFiles]));

  return {
    configFile,
    checksDir,
    checksFiles,
    listen: config.listen,
    targets: config.targets.map((t) => ({ name: t.name, url: t.url, redactedUrl: redactUrl(t.url), headers: t.headers })),
    store: {
      path: path.resolve(configDir, config.store.path),
      rawRetentionDays: config.store.rawRetentionDays,
      rollupRetentionDays: config.store.rollupRetentionDays,
      minuteRollupRetentionDays: config.store.minuteRollupRetentionDays ?? Math.min(14, config.store.rollupRetentionDays),
    },
    log: config.log,
    budget: config.budget,
    adminToken: config.adminToken === undefined || config.adminToken === "" ? null : config.adminToken,
    comparison: config.comparison,
    alertmanager: config.alertmanager ?? null,
    chaosControl: config.chaos === undefined ? null : { proxyControl: config.chaos.proxyControl, proxyToken: config.chaos.proxyToken },
    soak: soak.plan,
    chains,
    chaos: chains.flatMap((c) => c.chaos),
    series: chains.flatMap((c) => c.series),
    ratePerChain: Object.fromEntries(chains.map((c) => [c.chain, c.ratePerSecond])),
    warnings,
  };
}

function rawTargetNames(value: unknown): string[] | null {
  if (value === null || typeof value !== "object" || !("targets" in value) || !Array.isArray(value.targets)) return null;
  const names: string[] = [];
  for (const t of value.targets as unknown[]) {
    if (t === null || typeof t !== "object" || !("name" in t) || typeof t.name !== "string") return null;
    names.push(t.name);
  }
  return names.length > 0 ? names : null;
}

/** Config first, then checks files in name order; by line within a file. Stable otherwise. */
function sortIssues(issues: PlanIssue[], files: string[]): PlanIssue[] {
  const order = new Map(files.map((f, i) => [displayFile(f), i]));
  return issues
    .map((issue, i) => ({ issue, i }))
    .sort((a, b) => {
      const fa = order.get(a.issue.file) ?? files.length;
      const fb = order.get(b.issue.file) ?? files.length;
      if (fa !== fb) return fa - fb;
      const la = a.issue.line ?? 0;
      const lb = b.issue.line ?? 0;
      return la !== lb ? la - lb : a.i - b.i;
    })
    .map((x) => x.issue);
}
