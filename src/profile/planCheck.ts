/**
 * Runs generated checks through the real plan loader (`loadPlan`, what `lasso-canary
 * validate` and the daemon run), in a scratch directory with a config of `targetCount`
 * targets. The planned rate therefore comes from the planner itself, and a file that
 * would not validate is caught before anyone sees it.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { formatPlanErrors, loadPlan, type Plan } from "../plan/index.js";

export interface ChecksText {
  fileName: string;
  text: string;
}

/** A generated checks file the planner refused: a defect of the generator, not of the user's input. */
export class GeneratedPlanError extends Error {
  constructor(message: string) {
    super(`internal error: the generated checks do not validate (please report this):\n${message}`);
    this.name = "GeneratedPlanError";
  }
}

/** Plan `files` as one checks directory with `targetCount` targets and this budget; throws GeneratedPlanError when they do not validate. */
export function planChecks(files: readonly ChecksText[], opts: { targetCount: number; budget: number }): Plan {
  const dir = mkdtempSync(path.join(os.tmpdir(), "lasso-canary-profile-"));
  try {
    const checksDir = path.join(dir, "checks");
    mkdirSync(checksDir);
    for (const f of files) writeFileSync(path.join(checksDir, f.fileName), f.text);
    const targets = Array.from({ length: opts.targetCount }, (_, i) => `  - { name: target${i + 1}, url: "http://127.0.0.1:9/${i + 1}" }`).join("\n");
    const config = path.join(dir, "canary.yaml");
    writeFileSync(config, `targets:\n${targets}\nbudget: { maxRequestsPerSecondPerChain: ${opts.budget} }\nchecks: checks\n`);
    try {
      // No ${ENV} is substituted: generated checks hold none, and the user's environment must not change the result.
      return loadPlan(config, {});
    } catch (err) {
      throw new GeneratedPlanError(formatPlanErrors(err).replaceAll(`${dir}${path.sep}`, ""));
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Requests per second the planner plans for one chain's checks, whatever the budget. */
export function plannedRate(file: ChecksText, targetCount: number): number {
  const plan = planChecks([file], { targetCount, budget: Number.MAX_SAFE_INTEGER });
  const chain = plan.chains[0];
  if (chain === undefined || plan.chains.length !== 1) throw new GeneratedPlanError(`${file.fileName}: expected one chain, planned ${plan.chains.length}`);
  return chain.ratePerSecond;
}
