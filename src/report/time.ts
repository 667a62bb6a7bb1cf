import parseDuration from "parse-duration";

export type TimeParamName = "since" | "until";

/** A bad query parameter; `message` names it, so the server can answer 400 with it. */
export class TimeParamError extends Error {
  constructor(readonly param: string, value: string, reason: string) {
    super(`invalid ${param} ${JSON.stringify(value)}: ${reason}`);
    this.name = "TimeParamError";
  }
}

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

export interface ReportQuery {
  since: number;
  until: number;
  chain?: string;
}

/**
 * Validates `/report` query parameters: since (default 24h), until (default now), chain.
 * Throws TimeParamError (message names the parameter) on bad input.
 */
export function parseReportQuery(query: Record<string, unknown>, now: number): ReportQuery {
  const text = (param: string): string | undefined => {
    const v = query[param];
    if (v === undefined) return undefined;
    if (typeof v !== "string") throw new TimeParamError(param, String(v), "must be given once, as a string");
    return v;
  };
  const sinceText = text("since");
  const untilText = text("until");
  const chain = text("chain");
  const since = parseTimeParam("since", sinceText ?? "24h", now);
  const until = untilText === undefined ? now : parseTimeParam("until", untilText, now);
  if (since >= until) throw new TimeParamError("since", sinceText ?? "24h", "must be before until");
  if (chain !== undefined && !/^[A-Za-z0-9_.:-]{1,64}$/.test(chain)) {
    throw new TimeParamError("chain", chain, "expected a chain name");
  }
  return chain === undefined ? { since, until } : { since, until, chain };
}
