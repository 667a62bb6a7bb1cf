import parseDuration from "parse-duration";
import type { Plan } from "../plan/index.js";
import type { BaselineRequest } from "./types.js";

export type TimeParamName = "since" | "until" | "baseline";

/** A report query the caller got wrong; the message says what and how to fix it (HTTP 400, CLI exit 2). */
export class ReportQueryError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "ReportQueryError";
  }
}

/** A bad query parameter value; `message` names it. */
export class TimeParamError extends ReportQueryError {
  constructor(readonly param: string, value: string, reason: string) {
    super(`invalid ${param} ${JSON.stringify(value)}: ${reason}`);
    this.name = "TimeParamError";
  }
}

/** Report formats, shared by `/report?format=` and `lasso-canary report --format` so they cannot diverge. */
export const REPORT_FORMATS = ["json", "md", "html"] as const;
export type ReportFormat = (typeof REPORT_FORMATS)[number];

/** The Content-Type each format is served with. */
export const REPORT_CONTENT_TYPES: Readonly<Record<ReportFormat, string>> = {
  json: "application/json; charset=utf-8",
  md: "text/markdown; charset=utf-8",
  html: "text/html; charset=utf-8",
};

/** Every parameter `/report` takes; each at most once. */
export const REPORT_PARAMS = ["since", "until", "chain", "format", "baseline"] as const;

const DAY_MS = 86_400_000;
const DEFAULT_SPAN = "24h";
const DEFAULT_SPAN_MS = DAY_MS;
const EXPECTED = "expected a duration back from now (24h, 7d, 90m), an ISO-8601 time, or unix seconds";
const UNIX_SECONDS = /^\d{1,12}(\.\d+)?$/;
const ISO_8601 = /^\d{4}-\d{2}-\d{2}([T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})?)?$/;

/**
 * Parses a time query parameter into wall-clock ms:
 * - a duration (`24h`, `7d`, `90m`, `1h30m`; parse-duration) means `now` minus it;
 * - an ISO-8601 date or date-time (`2025-01-31`, `2025-01-31T12:00:00Z`);
 * - unix seconds (`1738324800`, fractions allowed).
 */
export function parseTimeParam(name: TimeParamName, value: string, now: number): number {
  const v = value.trim();
  if (v === "") throw new TimeParamError(name, value, `empty; ${EXPECTED}`);
  if (UNIX_SECONDS.test(v)) return Math.round(Number(v) * 1000);
  if (ISO_8601.test(v)) {
    const ms = Date.parse(v);
    if (Number.isNaN(ms)) throw new TimeParamError(name, value, "not a valid ISO-8601 time");
    return ms;
  }
  const duration = parseDuration(v);
  if (duration === null || !Number.isFinite(duration)) throw new TimeParamError(name, value, EXPECTED);
  if (duration < 0) throw new TimeParamError(name, value, "a duration must not be negative");
  return now - duration;
}

/** `format=` of a query (given at most once): one of REPORT_FORMATS, json when absent. */
export function reportFormatOf(query: Record<string, unknown>): ReportFormat {
  return parseReportFormat(single(query, "format"));
}

/** `--format` / `format=`: one of REPORT_FORMATS, or `fallback` when not given. */
export function parseReportFormat(value: string | undefined, fallback: ReportFormat = "json"): ReportFormat {
  if (value === undefined) return fallback;
  const known: readonly string[] = REPORT_FORMATS;
  if (known.includes(value)) return value as ReportFormat;
  throw new TimeParamError("format", value, `expected ${REPORT_FORMATS.join(", ")}`);
}

export interface ReportQuery {
  since: number;
  until: number;
  chain?: string;
  /** Set when `since` was moved: the requested value, and why (a line for the report). */
  adjusted?: { requestedSince: number | null; note: string };
  /** `baseline=`: the period or saved baseline to compare with (parseBaselineParam). */
  baseline?: BaselineRequest;
}

export interface ReportQueryOptions {
  /** The plan's chains: any other `chain` is refused, naming these. */
  chains?: readonly string[];
  /** The store's longest retention: an earlier `since` is clamped to `now` minus it. */
  retentionDays?: number;
}

/** What the plan says about report queries: its chains, and the store's longest retention. */
export function reportQueryOptions(plan: Plan): ReportQueryOptions {
  const { rawRetentionDays, minuteRollupRetentionDays, rollupRetentionDays } = plan.store;
  return { chains: plan.chains.map((c) => c.chain), retentionDays: Math.max(rawRetentionDays, minuteRollupRetentionDays, rollupRetentionDays) };
}

/** A query value given once, as a string (Express and the CLI both hand over strings; repeats are arrays). */
function single(query: Record<string, unknown>, param: string): string | undefined {
  const v = query[param];
  if (v === undefined) return undefined;
  if (Array.isArray(v)) throw new ReportQueryError(`invalid ${param}: given ${v.length} times; give it once`);
  if (typeof v !== "string") throw new TimeParamError(param, String(v), "must be given once, as a string");
  return v;
}

/**
 * Validates `/report` query parameters (REPORT_PARAMS; `format` is read by the caller with
 * parseReportFormat): until (default now), since (default 24h before until, so a lone
 * `until` means the day before it), chain, baseline (parseBaselineParam). A `since` older than the retention is clamped to
 * it and `adjusted` says so. Throws ReportQueryError (the message names the parameter).
 */
export function parseReportQuery(query: Record<string, unknown>, now: number, opts: ReportQueryOptions = {}): ReportQuery {
  const unknown = Object.keys(query).filter((k) => !(REPORT_PARAMS as readonly string[]).includes(k));
  if (unknown.length > 0) {
    throw new ReportQueryError(`unknown parameter${unknown.length > 1 ? "s" : ""} ${unknown.map((k) => JSON.stringify(k)).join(", ")}: expected ${REPORT_PARAMS.join(", ")}`);
  }
  const sinceText = single(query, "since");
  const untilText = single(query, "until");
  const chain = single(query, "chain");
  single(query, "format");
  const until = untilText === undefined ? now : parseTimeParam("until", untilText, now);
  let since = sinceText === undefined ? until - DEFAULT_SPAN_MS : parseTimeParam("since", sinceText, now);
  let adjusted: ReportQuery["adjusted"];
  if (sinceText === undefined && untilText !== undefined) {
    adjusted = { requestedSince: null, note: `since not given: ${DEFAULT_SPAN} before until` };
  }
  if (opts.retentionDays !== undefined) {
    const oldest = now - opts.retentionDays * DAY_MS;
    if (since < oldest) {
      if (until <= oldest) {
        throw new TimeParamError("until", untilText ?? "now", `the whole range is older than the store's retention (${opts.retentionDays} days): nothing is kept before ${new Date(oldest).toISOString()}`);
      }
      adjusted = {
        requestedSince: sinceText === undefined ? null : since,
        note: `since ${new Date(since).toISOString()} is beyond the store's retention (${opts.retentionDays} days): clamped to ${new Date(oldest).toISOString()}`,
      };
      since = oldest;
    }
  }
  if (since >= until) throw new TimeParamError("since", sinceText ?? DEFAULT_SPAN, "must be before until");
  if (chain !== undefined) {
    if (!/^[A-Za-z0-9_.:-]{1,64}$/.test(chain)) throw new TimeParamError("chain", chain, "expected a chain name");
    if (opts.chains !== undefined && !opts.chains.includes(chain)) {
      throw new ReportQueryError(`unknown chain ${JSON.stringify(chain)}: the plan's chains are ${opts.chains.join(", ") || "(none)"}`);
    }
  }
  const baselineText = single(query, "baseline");
  const baseline = baselineText === undefined ? undefined : parseBaselineParam(baselineText, { since, until }, now, opts.retentionDays);
  return {
    since, until, ...(chain === undefined ? {} : { chain }), ...(adjusted === undefined ? {} : { adjusted }),
    ...(baseline === undefined ? {} : { baseline }),
  };
}

/** A baseline name: a letter, then up to 63 letters, digits, `_`, `.`, `-` (so it never reads as a duration or a time). */
export const BASELINE_NAME = /^[A-Za-z][A-Za-z0-9_.-]{0,63}$/;

export function checkBaselineName(name: string): string {
  if (!BASELINE_NAME.test(name)) {
    throw new ReportQueryError(`invalid baseline name ${JSON.stringify(name)}: expected a letter, then up to 63 letters, digits, "_", "." or "-"`);
  }
  return name;
}

const BASELINE_EXPECTED = "expected a duration before since (7d), a range FROM..TO, or a saved baseline @NAME";

/**
 * `baseline=` of /report and `--baseline` of the CLI, for the report range [since, until):
 * - a duration D (`7d`, `24h`): the period of that length immediately before the report's
 *   range, [since - D, since);
 * - `FROM..TO`: an absolute range, each side as `since`/`until` take them (ISO-8601, unix
 *   seconds, or a duration back from now); it must end at or before the report's since;
 * - `@NAME` (the `@` may be left out: a name starts with a letter, a duration or time with a
 *   digit): a baseline saved with `lasso-canary baseline save NAME`.
 * A range wholly older than `retentionDays` is refused; one partly older is clamped to it.
 */
export function parseBaselineParam(
  value: string, range: { since: number; until: number }, now: number, retentionDays?: number,
): BaselineRequest {
  const v = value.trim();
  if (v === "") throw new TimeParamError("baseline", value, `empty; ${BASELINE_EXPECTED}`);
  if (v.startsWith("@") || /^[A-Za-z]/.test(v)) return { kind: "named", name: checkBaselineName(v.replace(/^@/, "")) };
  let since: number;
  let until: number;
  const parts = v.split("..");
  if (parts.length === 2) {
    since = parseTimeParam("baseline", parts[0] as string, now);
    until = parseTimeParam("baseline", parts[1] as string, now);
    if (since >= until) throw new TimeParamError("baseline", value, "FROM must be before TO");
    if (until > range.since) {
      throw new TimeParamError("baseline", value, `must end at or before the report's since (${new Date(range.since).toISOString()}): overlapping periods share samples`);
    }
  } else if (parts.length === 1) {
    // A duration reads relative to "now"; an absolute time reads the same whatever "now" is.
    if (parseTimeParam("baseline", v, 0) === parseTimeParam("baseline", v, 1)) {
      throw new TimeParamError("baseline", value, `a single value must be a duration (7d); for an absolute range write FROM..TO`);
    }
    const length = range.since - parseTimeParam("baseline", v, range.since);
    if (!(length > 0)) throw new TimeParamError("baseline", value, `a duration must be > 0; ${BASELINE_EXPECTED}`);
    since = range.since - length;
    until = range.since;
  } else {
    throw new TimeParamError("baseline", value, BASELINE_EXPECTED);
  }
  if (retentionDays !== undefined) {
    const oldest = now - retentionDays * DAY_MS;
    if (until <= oldest) {
      throw new TimeParamError("baseline", value, `the whole baseline is older than the store's retention (${retentionDays} days); save a named baseline to keep one longer`);
    }
    since = Math.max(since, oldest);
  }
  return { kind: "range", since, until };
}

