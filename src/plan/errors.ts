import path from "node:path";
import type { PlanIssue } from "./types.js";

export type PathSegment = string | number;

/** Thrown by loadPlan with every issue found in every file. */
export class PlanError extends Error {
  readonly issues: PlanIssue[];

  constructor(issues: PlanIssue[]) {
    const n = issues.length;
    super(`invalid plan: ${n} error${n === 1 ? "" : "s"}\n${issues.map(formatIssue).join("\n")}`);
    this.name = "PlanError";
    this.issues = issues;
  }
}

/** `probes[1].timeout`, `targets[0].url`, `slo["odd key"]`. */
export function formatPath(segments: readonly PathSegment[]): string {
  let out = "";
  for (const seg of segments) {
    if (typeof seg === "number") out += `[${seg}]`;
    else if (/^[A-Za-z_$][\w$-]*$/.test(seg)) out += out === "" ? seg : `.${seg}`;
    else out += `[${JSON.stringify(seg)}]`;
  }
  return out;
}

/** A file name as an SRE wants to read it: relative to the working directory when below it. */
export function displayFile(abs: string): string {
  const rel = path.relative(process.cwd(), abs);
  return rel === "" || rel.startsWith("..") || path.isAbsolute(rel) ? abs : rel;
}

/** `file: path: message (line N)`. */
export function formatIssue(issue: PlanIssue): string {
  const where = issue.path === "" ? `${issue.file}: ` : `${issue.file}: ${issue.path}: `;
  const line = issue.line === undefined ? "" : ` (line ${issue.line})`;
  return `${where}${issue.message}${line}`;
}

/** One line per issue (`file: path: message (line N)`); any other error as its message. */
export function formatPlanErrors(err: unknown): string {
  if (err instanceof PlanError) return err.issues.map(formatIssue).join("\n");
  if (err instanceof Error) return err.message;
  return String(err);
}

/** Levenshtein distance, for "did you mean" hints on typos. */
function distance(a: string, b: string): number {
  const prev = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    let diag = prev[0] ?? 0;
    prev[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const up = prev[j] ?? 0;
      const cost = a[i - 1]?.toLowerCase() === b[j - 1]?.toLowerCase() ? 0 : 1;
      prev[j] = Math.min(up + 1, (prev[j - 1] ?? 0) + 1, diag + cost);
      diag = up;
    }
  }
  return prev[b.length] ?? 0;
}

/** ` (did you mean "interval"?)` or "" when nothing is close. */
export function didYouMean(word: string, candidates: readonly string[]): string {
  let best: string | undefined;
  let bestD = Infinity;
  for (const c of candidates) {
    const d = distance(word, c);
    if (d < bestD) {
      bestD = d;
      best = c;
    }
  }
  const limit = Math.max(1, Math.floor(word.length / 3));
  return best !== undefined && bestD <= limit ? ` (did you mean "${best}"?)` : "";
}

/** Why a file could not be read, in words: "file not found", "is a directory, expected <what>", or the OS message. */
export function unreadableReason(err: unknown, what: string): string {
  const code = (err as NodeJS.ErrnoException).code;
  return code === "ENOENT" ? "file not found" : code === "EISDIR" ? `is a directory, expected ${what}` : (err as Error).message;
}
