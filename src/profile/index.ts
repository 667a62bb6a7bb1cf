/**
 * `lasso-canary checks-from-profile`: a Lasso profile file -> starting-point checks files,
 * one per chain, that fit the budget and pass `lasso-canary validate`.
 */
import { existsSync, mkdirSync, writeFileSync } from "node:fs";
import path from "node:path";
import { displayFile } from "../plan/errors.js";
import type { GeneratedChecks } from "./generate.js";

export {
  readLassoProfile,
  parseLassoProfile,
  profileDocument,
  servesNewHeads,
  ProfileError,
  type LassoProfile,
  type ProfileChain,
  type ProfileDocument,
  type ProfileProvider,
} from "./lassoProfile.js";
export { generateChecks, BudgetError, INTERVAL_SCALES, PUBLIC_PROFILE, type GenerateOptions, type GeneratedChecks } from "./generate.js";
export { budgetFromConfig, defaultBudget, parseBudgetOption, type Budget } from "./budget.js";
export { GeneratedPlanError } from "./planCheck.js";

/** Files that are already there and would be overwritten. */
export class ExistingFilesError extends Error {
  constructor(readonly files: string[]) {
    super(`refusing to overwrite existing file${files.length === 1 ? "" : "s"}: ${files.join(", ")} (pass --force to overwrite)`);
    this.name = "ExistingFilesError";
  }
}

/** Every chain's checks as one multi-document YAML stream (itself a valid checks file). */
export function checksStream(files: readonly GeneratedChecks[]): string {
  return files.map((f) => f.text).join("---\n");
}

/**
 * Write each file into `outDir` (created when missing). Without `force`, nothing is written
 * when any of them exists (ExistingFilesError names them all). Returns the paths written.
 */
export function writeChecksFiles(files: readonly GeneratedChecks[], outDir: string, opts: { force: boolean }): string[] {
  const targets = files.map((f) => path.resolve(outDir, f.fileName));
  const existing = targets.filter((t) => existsSync(t));
  if (existing.length > 0 && !opts.force) throw new ExistingFilesError(existing.map(displayFile));
  mkdirSync(outDir, { recursive: true });
  files.forEach((f, i) => writeFileSync(targets[i] as string, f.text));
  return targets.map(displayFile);
}
