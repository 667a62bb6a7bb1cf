/**
 * The budget the generated checks must fit: budget.maxRequestsPerSecondPerChain and the
 * number of targets (every probe runs once per target) of a daemon config, or defaults.
 * Only those two are read from the config, so it need not be complete or have its
 * ${ENV} set (a LASSO_URL unset where the checks are generated is fine).
 */
import path from "node:path";
import { displayFile } from "../plan/errors.js";
import { configSchema, schemaProblems } from "../plan/schema.js";
import type { PlanIssue } from "../plan/types.js";
import { readYamlFile } from "../plan/yamlfile.js";
import { ProfileError } from "./lassoProfile.js";

export interface Budget {
  /** Requests per second one chain may plan. */
  perChain: number;
  targetCount: number;
  /** Where it came from, for the generated header. */
  source: string;
}

const budgetSchema = configSchema.shape.budget;

/** The daemon's default budget (config/canary.yaml without a budget section), planned for one target. */
export function defaultBudget(): Budget {
  return { perChain: budgetSchema.parse(undefined).maxRequestsPerSecondPerChain, targetCount: 1, source: "the default budget; pass --config to plan with your config's budget and targets" };
}

/** `--budget` text: a positive number of requests per second. */
export function parseBudgetOption(text: string): number | null {
  const n = /^\s*\d+(\.\d+)?\s*$/.test(text) ? Number(text) : NaN;
  return Number.isFinite(n) && n > 0 ? n : null;
}

/** Budget and target count of a daemon config; throws ProfileError naming the file and path. */
export function budgetFromConfig(configPath: string, env: Record<string, string | undefined> = process.env): Budget {
  const abs = path.resolve(configPath);
  const r = readYamlFile(abs, env, "config file");
  // Only what is read counts: an unset ${LASSO_URL} in targets[0].url does not change how many targets there are.
  const issues = r.issues.filter((i: PlanIssue) => i.path === "" || /^(\(document \d+\) )?budget\b/.test(i.path));
  const src = r.sources[0];
  if (issues.length > 0 || src === undefined) throw new ProfileError(issues.length > 0 ? issues : [{ file: displayFile(abs), path: "", message: "config file is empty" }]);
  if (r.sources.length > 1) throw new ProfileError([{ file: src.file, path: "", message: `must hold one YAML document, found ${r.sources.length}` }]);
  const raw = src.value !== null && typeof src.value === "object" && !Array.isArray(src.value) ? (src.value as Record<string, unknown>) : {};
  const b = budgetSchema.safeParse(raw.budget);
  if (!b.success) throw new ProfileError(schemaProblems(budgetSchema, b.error).map((p) => src.issue(["budget", ...p.path], p.message)));
  if (!Array.isArray(raw.targets) || raw.targets.length === 0)
    throw new ProfileError([src.issue(["targets"], "needs at least one target (a Lasso base URL): the planned rate counts every target")]);
  return { perChain: b.data.maxRequestsPerSecondPerChain, targetCount: raw.targets.length, source: `budget.maxRequestsPerSecondPerChain in ${src.file}` };
}
