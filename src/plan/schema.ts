/**
 * Structure of the two file kinds (zod, strict objects: unknown keys are errors), and the
 * checks that only need one object at a time (durations, timeout < interval, URL syntax).
 * Rules that need several objects or files at once live in build.ts.
 */
import cron from "node-cron";
import parseDuration from "parse-duration";
import { z } from "zod";
import { faultSchema, type Fault } from "../chaos/faults.js";
import { DEFAULT_COMPARISON, type ChangeThreshold, type ComparedSli } from "../report/types.js";
import { didYouMean, formatPath, type PathSegment } from "./errors.js";
import { redactUrl } from "./redact.js";
import { SOAK_METRICS } from "../soak/metricNames.js";
import type { JsonValue, LogLevel, Shape, Strategy, Transport } from "./types.js";

export const STRATEGIES: readonly Strategy[] = ["default", "fastest", "load-balanced", "latency-weighted", "round-robin"];
export const SHAPES: readonly Shape[] = ["quantity", "block", "hash", "array", "object", "any"];
export const LOG_LEVELS: readonly LogLevel[] = ["fatal", "error", "warn", "info", "debug", "trace", "silent"];
export const ASSERTION_NAMES = ["chainId", "shape", "monotonicHead", "freshness"] as const;

export const DEFAULT_INTERVAL_MS = 10_000;
export const MAX_DEFAULT_TIMEOUT_MS = 5_000;
export const MIN_INTERVAL_MS = 1_000;
export const DEFAULT_CONSISTENCY_INTERVAL_MS = 60_000;
export const DEFAULT_CONSISTENCY_DEPTH = 5;

/** Default timeout: 5 s, or half the interval when that is shorter (always < interval). */
export function defaultTimeoutMs(intervalMs: number): number {
  return Math.min(MAX_DEFAULT_TIMEOUT_MS, Math.floor(intervalMs / 2));
}

/** 10000 -> "10s", 1500 -> "1.5s", 90000 -> "1m30s", 250 -> "250ms". */
export function formatDuration(ms: number): string {
  if (ms < 1000) return `${ms}ms`;
  if (ms < 60_000) return `${ms / 1000}s`;
  const parts: string[] = [];
  let rest = ms;
  for (const [unit, size] of [["d", 86_400_000], ["h", 3_600_000], ["m", 60_000], ["s", 1000]] as const) {
    const n = Math.floor(rest / size);
    if (n > 0) parts.push(`${n}${unit}`);
    rest -= n * size;
  }
  if (rest > 0) parts.push(`${rest}ms`);
  return parts.join("");
}

// ---------------------------------------------------------------- building blocks

/** Identifier that is safe in a URL path segment, a series id and a metric label. */
const ID_RE = /^[A-Za-z0-9][A-Za-z0-9_.-]*$/;

function identifier(what: string) {
  return z
    .string({ error: `must be a string (${what})` })
    .regex(ID_RE, { error: `must be a ${what}: letters, digits, "_", "." or "-", starting with a letter or digit` });
}

function oneOf<T extends string>(values: readonly T[], what: string) {
  return z.string({ error: `must be one of ${values.join(", ")}` }).transform((v, ctx): T => {
    const found = values.find((x) => x === v);
    if (found !== undefined) return found;
    ctx.addIssue({ code: "custom", message: `unknown ${what} "${v}"${didYouMean(v, values)}; expected one of ${values.join(", ")}` });
    return z.NEVER;
  });
}

const DURATION_RE = /^(\d+(\.\d+)?\s*(ms|s|m|h|d)\s*)+$/;

/** A duration: a number of milliseconds or a string like "10s", "1m30s", "500ms". Output: ms. */
function duration(min = 1) {
  return z
    .union([z.number(), z.string()], { error: 'must be a duration: "10s", "1m", "500ms" or a number of milliseconds' })
    .transform((v, ctx): number => {
      let ms: number | null;
      if (typeof v === "number") ms = v;
      else if (/^\s*\d+\s*$/.test(v)) ms = Number(v);
      else if (DURATION_RE.test(v.trim())) ms = parseDuration(v.trim());
      else ms = null;
      if (ms === null || !Number.isFinite(ms)) {
        ctx.addIssue({ code: "custom", message: `"${v}" is not a duration: write e.g. "10s", "1m30s", "500ms" or a number of milliseconds` });
        return z.NEVER;
      }
      ms = Math.round(ms);
      if (ms < min) {
        ctx.addIssue({ code: "custom", message: `must be at least ${formatDuration(min)} (got ${formatDuration(Math.max(ms, 0))})` });
        return z.NEVER;
      }
      return ms;
    });
}

/**
 * Run a check that relates several fields even when OTHER fields of the object failed, so
 * one validate run reports e.g. both a typo'd key and timeout >= interval. The check runs
 * when none of `fields` has an issue of its own.
 */
function whenFieldsOk(...fields: string[]) {
  return {
    when: (payload: { value: unknown; issues: readonly { path?: readonly PropertyKey[] | undefined }[] }): boolean =>
      payload.value !== null &&
      typeof payload.value === "object" &&
      !Array.isArray(payload.value) &&
      payload.issues.every((i) => {
        const head = i.path?.[0];
        return head === undefined || !fields.includes(String(head));
      }),
  };
}

function isJson(v: unknown): v is JsonValue {
  if (v === null || typeof v === "string" || typeof v === "boolean") return true;
  if (typeof v === "number") return Number.isFinite(v);
  if (Array.isArray(v)) return v.every(isJson);
  if (typeof v === "object" && Object.getPrototypeOf(v) === Object.prototype) return Object.values(v).every(isJson);
  return false;
}

// ---------------------------------------------------------------- daemon config

export const listen = z
  .string({ error: 'must be "host:port", e.g. "127.0.0.1:9464"' })
  .transform((v, ctx) => {
    const m = /^(\[[0-9A-Fa-f:.]+\]|[^:[\]\s]+):(\d+)$/.exec(v.trim());
    const port = m?.[2] === undefined ? NaN : Number(m[2]);
    if (m?.[1] === undefined || !(port >= 0 && port <= 65535)) {
      ctx.addIssue({ code: "custom", message: `"${v}" is not host:port with a port 0-65535 (0: any free port; e.g. "127.0.0.1:9464", "0.0.0.0:9464", "[::]:9464")` });
      return z.NEVER;
    }
    return { host: m[1].replace(/^\[|\]$/g, ""), port };
  });

/** http(s) URL; never echoes the URL unredacted. */
const httpUrl = z.string({ error: "must be a URL string" }).transform((v, ctx) => {
  let u: URL | undefined;
  try {
    u = new URL(v);
  } catch {
    u = undefined;
  }
  if (u === undefined || u.host === "") {
    ctx.addIssue({ code: "custom", message: `"${redactUrl(v)}" is not a valid URL (expected e.g. "http://lasso:4000")` });
    return z.NEVER;
  }
  if (u.protocol !== "http:" && u.protocol !== "https:") {
    ctx.addIssue({ code: "custom", message: `must be an http:// or https:// URL, got ${u.protocol}// ("${redactUrl(v)}")` });
    return z.NEVER;
  }
  if (u.hash !== "") {
    ctx.addIssue({ code: "custom", message: `must not have a #fragment ("${redactUrl(v)}")` });
    return z.NEVER;
  }
  return v;
});

const days = z.number({ error: "must be a whole number of days" }).int({ error: "must be a whole number of days" }).min(1, { error: "must be at least 1 day" });

/** An HTTP header name (RFC 9110 token). */
const HEADER_NAME_RE = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;
/**
 * Headers the daemon sets itself, or that belong to the connection or the WebSocket
 * handshake: a target may not override them.
 */
const RESERVED_HEADERS = new Set([
  "host", "content-length", "content-type", "transfer-encoding", "connection", "upgrade", "keep-alive", "te", "trailer",
  "expect", "accept", "x-lasso-include-meta", "x-lasso-transport",
]);

/**
 * Per-target request headers (an API key or `Authorization` for the reverse proxy in front of
 * Lasso), sent on every HTTP probe, watcher HTTP call and WebSocket upgrade. Values are secrets.
 */
const targetHeaders = z
  .record(z.string(), z.string({ error: "must be a string (quote numbers)" }), { error: "must be a mapping of header name to value" })
  .superRefine((headers, ctx) => {
    for (const [name, value] of Object.entries(headers)) {
      const lower = name.toLowerCase();
      if (!HEADER_NAME_RE.test(name)) ctx.addIssue({ code: "custom", path: [name], message: `"${name}" is not a valid HTTP header name` });
      else if (RESERVED_HEADERS.has(lower) || lower.startsWith("sec-websocket-"))
        ctx.addIssue({ code: "custom", path: [name], message: `"${name}" is set by lasso-canary itself and cannot be configured` });
      if (/[\r\n\0]/.test(value)) ctx.addIssue({ code: "custom", path: [name], message: "value must be a single line (no CR, LF or NUL)" });
    }
  });

/** A target base URL: credentials in userinfo would reach the WebSocket upgrade but not undici's HTTP requests. */
const targetUrl = httpUrl.superRefine((v, ctx) => {
  const u = new URL(v);
  if (u.username !== "" || u.password !== "")
    ctx.addIssue({
      code: "custom",
      message: `must not carry credentials before the host ("${redactUrl(v)}"): they would be sent on WebSocket upgrades but not on HTTP requests; put them in this target's headers: { Authorization: "Basic \${LASSO_BASIC_AUTH}" } instead`,
    });
});

const relativeChange = z.number({ error: "must be a relative change, e.g. 0.1 for 10%" }).min(0, { error: "must be >= 0" });

/** One SLI's change threshold; `absolute` in the SLI's unit (a duration, blocks or a share), each defaulting to DEFAULT_COMPARISON's. */
function changeThreshold(sli: ComparedSli, absolute: z.ZodType<number, unknown>) {
  const d: ChangeThreshold = DEFAULT_COMPARISON.thresholds[sli];
  return z.strictObject({ relative: relativeChange.default(d.relative), absolute: absolute.default(d.absolute) }).prefault({});
}

/** Baseline comparison (`/report?baseline=`, `report --baseline`): thresholds per SLI and the significance test. */
const comparisonSchema = z
  .strictObject({
    alpha: z.number({ error: "must be a probability, e.g. 0.01" }).gt(0, { error: "must be > 0" }).lt(1, { error: "must be < 1" }).default(DEFAULT_COMPARISON.alpha),
    minSamples: z.number({ error: "must be a whole number of samples" }).int({ error: "must be a whole number of samples" }).min(2, { error: "must be at least 2" }).default(DEFAULT_COMPARISON.minSamples),
    thresholds: z
      .strictObject({
        successRatio: changeThreshold("successRatio", z.number({ error: "must be a share of requests, e.g. 0.001" }).min(0, { error: "must be >= 0" }).max(1, { error: "must be <= 1" })),
        latency: changeThreshold("latency", duration(0)),
        headLag: changeThreshold("headLag", z.number({ error: "must be a number of blocks" }).min(0, { error: "must be >= 0" })),
        overhead: changeThreshold("overhead", duration(0)),
        deliveryDelay: changeThreshold("deliveryDelay", duration(0)),
      })
      .prefault({}),
  })
  .prefault({});

// ---------------------------------------------------------------- soak

export const SOAK_DEFAULTS = {
  pollIntervalMs: 60_000,
  maxTimeoutMs: 10_000,
  windowMs: 6 * 3_600_000,
  warmupMs: 30 * 60_000,
  minSpanMs: 2 * 3_600_000,
  confidence: 0.95,
  minPercentPerHour: 0.5,
  minAbsPerHour: 1,
  restartDropRatio: 0.5,
} as const;

/** Polls a window must hold at least, or nothing is ever judged (verdict.ts MIN_POINTS). */
export const SOAK_MIN_POLLS_PER_WINDOW = 10;

const soakTarget = z.union(
  [identifier("target name"), z.strictObject({ name: identifier("target name"), chain: z.union([z.string(), z.number()]).transform((v) => String(v).trim()).optional() })],
  { error: 'must be a target name from targets[] or { name: <target>, chain: <chain> }' },
);

const soakSchema = z
  .strictObject({
    enabled: z.boolean({ error: "must be true or false" }).default(true),
    pollInterval: duration(100).default(SOAK_DEFAULTS.pollIntervalMs),
    timeout: duration(1).optional(),
    window: duration(1000).default(SOAK_DEFAULTS.windowMs),
    warmup: duration(0).default(SOAK_DEFAULTS.warmupMs),
    minSpan: duration(1).default(SOAK_DEFAULTS.minSpanMs),
    confidence: z.number({ error: "must be a confidence level, e.g. 0.95" }).gt(0.5, { error: "must be > 0.5" }).lt(1, { error: "must be < 1" }).default(SOAK_DEFAULTS.confidence),
    minPercentPerHour: z.number({ error: "must be a number of percent per hour" }).min(0, { error: "must be >= 0" }).default(SOAK_DEFAULTS.minPercentPerHour),
    minAbsPerHour: z
      .strictObject(Object.fromEntries(SOAK_METRICS.map((m) => [m, z.number({ error: "must be a number of units per hour" }).min(0, { error: "must be >= 0" }).optional()])) as Record<(typeof SOAK_METRICS)[number], z.ZodOptional<z.ZodNumber>>)
      .prefault({}),
    restartDropRatio: z.number({ error: "must be a ratio, e.g. 0.5" }).gt(0, { error: "must be > 0" }).lt(1, { error: "must be < 1" }).default(SOAK_DEFAULTS.restartDropRatio),
    targets: z.array(soakTarget, { error: "must be a list of target names (single Lasso nodes, never a load balancer)" }).default([]),
  })
  .superRefine((s, ctx) => {
    const timeoutMs = s.timeout ?? Math.min(SOAK_DEFAULTS.maxTimeoutMs, Math.floor(s.pollInterval / 2));
    if (timeoutMs >= s.pollInterval) ctx.addIssue({ code: "custom", path: ["timeout"], message: `must be shorter than pollInterval (${formatDuration(s.pollInterval)})` });
    if (s.minSpan > s.window) ctx.addIssue({ code: "custom", path: ["minSpan"], message: `must not exceed window (${formatDuration(s.window)})` });
    if (s.minSpan < s.pollInterval * (SOAK_MIN_POLLS_PER_WINDOW - 1))
      ctx.addIssue({ code: "custom", path: ["minSpan"], message: `must hold at least ${SOAK_MIN_POLLS_PER_WINDOW} polls (>= ${formatDuration(s.pollInterval * (SOAK_MIN_POLLS_PER_WINDOW - 1))} at pollInterval ${formatDuration(s.pollInterval)})` });
  }, whenFieldsOk("pollInterval", "timeout", "window", "minSpan"));

export type ParsedSoak = z.output<typeof soakSchema>;

export const configSchema = z.strictObject({
  listen: listen.prefault("127.0.0.1:9464"),
  targets: z
    .array(z.strictObject({ name: identifier("target name"), url: targetUrl, headers: targetHeaders.default({}) }), { error: "must be a list of {name, url, headers}" })
    .min(1, { error: "needs at least one target (a Lasso base URL)" })
    .superRefine(
      (targets, ctx) => {
        const first = new Map<string, number>();
        targets.forEach((t: unknown, i) => {
          const name = t !== null && typeof t === "object" && "name" in t && typeof t.name === "string" ? t.name : undefined;
          if (name === undefined) return;
          const prev = first.get(name);
          if (prev !== undefined) ctx.addIssue({ code: "custom", path: [i, "name"], message: `duplicate target name "${name}" (same as targets[${prev}])` });
          else first.set(name, i);
        });
      },
      {
        when: (payload) => payload.issues.every((i) => i.path?.[1] !== "name" && i.code !== "too_small" && i.code !== "invalid_type") && Array.isArray(payload.value),
      },
    ),
  store: z
    .strictObject({
      path: z.string({ error: "must be a file path" }).min(1, { error: "must be a file path" }).default("data/canary.db"),
      rawRetentionDays: days.default(7),
      rollupRetentionDays: days.default(90),
      /** Minute rollups are large (one row per series-minute): kept shorter than hour/day rollups. */
      minuteRollupRetentionDays: days.optional(),
    })
    .superRefine((s, ctx) => {
      if (s.rawRetentionDays > s.rollupRetentionDays)
        ctx.addIssue({ code: "custom", path: ["rawRetentionDays"], message: `must not exceed rollupRetentionDays (${s.rollupRetentionDays})` });
      if (s.minuteRollupRetentionDays !== undefined && s.minuteRollupRetentionDays > s.rollupRetentionDays)
        ctx.addIssue({ code: "custom", path: ["minuteRollupRetentionDays"], message: `must not exceed rollupRetentionDays (${s.rollupRetentionDays})` });
    }, whenFieldsOk("rawRetentionDays", "rollupRetentionDays", "minuteRollupRetentionDays"))
    .prefault({}),
  log: z.strictObject({ level: oneOf(LOG_LEVELS, "log level").prefault("info") }).prefault({}),
  budget: z
    .strictObject({
      maxRequestsPerSecondPerChain: z.number({ error: "must be a number of requests per second" }).positive({ error: "must be > 0" }).default(2),
    })
    .prefault({}),
  checks: z.string({ error: "must be a directory path" }).min(1, { error: "must be a directory path" }).default("checks"),
  /**
   * Bearer token for the admin endpoints (POST /-/reload); usually "${CANARY_ADMIN_TOKEN}". Empty
   * or absent: those endpoints are disabled (403). At least 16 characters: it guards a network port.
   */
  adminToken: z
    .string({ error: "must be a string (a bearer token)" })
    .refine((t) => t === "" || t.length >= 16, { error: "must be at least 16 characters (or empty to disable the admin endpoints)" })
    .optional(),
  comparison: comparisonSchema,
  /** Alertmanager that chaos windows with `silence:` create their silences in (API v2). */
  alertmanager: z.strictObject({ url: httpUrl }).optional(),
  /**
   * Where the fault proxies' control API listens (`lasso-canary proxy`, its own process) and its
   * token; needed to run the chaos windows of the checks. Absent: no window runs.
   */
  /** Soak sampling and leak detection of the Lasso nodes and of the daemon itself (src/soak). Absent: off. */
  soak: soakSchema.optional(),
  chaos: z
    .strictObject({
      proxyControl: httpUrl,
      proxyToken: z.string({ error: "must be a string (the proxy's control token, e.g. \"${CANARY_PROXY_TOKEN}\")" }).min(16, { error: "must be at least 16 characters" }),
    })
    .optional(),
});

export type ParsedConfig = z.output<typeof configSchema>;

// ---------------------------------------------------------------- checks

export const TRANSPORTS: readonly Transport[] = ["http", "ws", "any"];

export const routeSchema = z
  .strictObject({
    strategy: oneOf(STRATEGIES, "strategy").optional(),
    provider: identifier("provider id").optional(),
    profile: identifier("profile slug").optional(),
    /** Upstream channel Lasso must use (`?transport=`); default http on pins, any on strategy routes. */
    transport: oneOf(TRANSPORTS, "transport").optional(),
  })
  .superRefine((r, ctx) => {
    if (r.strategy !== undefined && r.provider !== undefined)
      ctx.addIssue({ code: "custom", message: "a route is either { strategy: ... } or { provider: ... } (a pin never uses a strategy), not both" });
    if (r.strategy === undefined && r.provider === undefined)
      ctx.addIssue({ code: "custom", message: `a route needs "strategy" (${STRATEGIES.join(", ")}) or "provider" (a Lasso provider id)` });
  });

export type ParsedRoute = z.output<typeof routeSchema>;

export type ParsedAssertion =
  | { kind: "chainId" }
  | { kind: "shape"; shape: Shape }
  | { kind: "monotonicHead" }
  | { kind: "freshness" };

const ASSERTION_HELP = `chainId, shape: <${SHAPES.join("|")}>, monotonicHead, freshness`;

const assertion = z.unknown().transform((v, ctx): ParsedAssertion => {
  const fail = (message: string): never => {
    ctx.addIssue({ code: "custom", message });
    return z.NEVER as never;
  };
  const shapeOf = (s: unknown): ParsedAssertion => {
    const found = SHAPES.find((x) => x === s);
    if (found !== undefined) return { kind: "shape", shape: found };
    return fail(`unknown shape "${String(s)}"${didYouMean(String(s), SHAPES)}; expected one of ${SHAPES.join(", ")}`);
  };
  if (typeof v === "string") {
    const m = /^shape\s*:\s*(\S+)$/.exec(v);
    if (m) return shapeOf(m[1]);
    if (v === "chainId" || v === "monotonicHead" || v === "freshness") return { kind: v };
    if (v === "shape") return fail(`"shape" needs a value, e.g. "shape: quantity" (one of ${SHAPES.join(", ")})`);
    return fail(`unknown assertion "${v}"${didYouMean(v, ASSERTION_NAMES)}; expected one of: ${ASSERTION_HELP}`);
  }
  if (v !== null && typeof v === "object" && !Array.isArray(v)) {
    const keys = Object.keys(v);
    const [key] = keys;
    if (keys.length === 1 && key === "shape") return shapeOf((v as { shape: unknown }).shape);
    return fail(`unknown assertion {${keys.join(", ")}}; expected one of: ${ASSERTION_HELP}`);
  }
  return fail(`must be an assertion name; expected one of: ${ASSERTION_HELP}`);
});

export type RouteSelector = "all" | "pinned" | "strategies" | string[];

const routeSelector = z.union([z.enum(["all", "pinned", "strategies"]), z.array(z.string(), { error: "route names must be strings" }).min(1, { error: "must name at least one route" })], {
  error: 'must be "all", "pinned", "strategies" or a list of route names (e.g. [fastest, "pin:alchemy"])',
});

/** Methods Lasso refuses or that cannot work over HTTP (docs/lasso-contract.md). */
const REFUSED_METHODS = /^(eth_sendRawTransaction|eth_sendTransaction|eth_sign.*|personal_.*|eth_subscribe|eth_unsubscribe)$/;

/** timeout (given or default) must be shorter than interval (given or default). */
function checkTimeout(v: { interval?: number | undefined; timeout?: number | undefined }, ctx: z.RefinementCtx, defaultInterval = DEFAULT_INTERVAL_MS): void {
  const intervalMs = v.interval ?? defaultInterval;
  const timeoutMs = v.timeout ?? defaultTimeoutMs(intervalMs);
  if (timeoutMs >= intervalMs) ctx.addIssue({ code: "custom", path: ["timeout"], message: `must be shorter than interval (${formatDuration(intervalMs)})` });
}

export const probeSchema = z
  .strictObject({
    method: z
      .string({ error: "must be a JSON-RPC method name" })
      .regex(/^[A-Za-z][A-Za-z0-9_]*$/, { error: "must be a JSON-RPC method name like eth_blockNumber" })
      .refine((m) => !REFUSED_METHODS.test(m), {
        error: (iss) =>
          String(iss.input).includes("subscribe")
            ? "subscriptions do not work over HTTP (Lasso answers -32601); probes are HTTP requests"
            : "write and signing methods are refused by Lasso; probes must be read-only",
      }),
    params: z
      .array(z.unknown(), { error: "must be a list of JSON-RPC params, e.g. [\"latest\", false]" })
      .transform((p, ctx): JsonValue[] => {
        if (isJson(p)) return p;
        ctx.addIssue({ code: "custom", message: "must contain only JSON values" });
        return z.NEVER;
      })
      .default([]),
    interval: duration(MIN_INTERVAL_MS).optional(),
    timeout: duration(1).optional(),
    routes: routeSelector.default("all"),
    assert: z.array(assertion, { error: `must be a list of assertions: ${ASSERTION_HELP}` }).default([]),
  })
  .superRefine(checkTimeout, whenFieldsOk("interval", "timeout"))
  .transform((p) => {
    const intervalMs = p.interval ?? DEFAULT_INTERVAL_MS;
    const timeoutMs = p.timeout ?? defaultTimeoutMs(intervalMs);
    return { method: p.method, params: p.params, intervalMs, timeoutMs, routes: p.routes as RouteSelector, assert: p.assert };
  });

export type ParsedProbe = z.output<typeof probeSchema>;
export type ParsedConsistency = z.output<typeof consistencySchema>;

export const consistencySchema = z
  .strictObject({
    interval: duration(MIN_INTERVAL_MS).optional(),
    timeout: duration(1).optional(),
    depth: z.number({ error: "must be a number of blocks" }).int({ error: "must be a whole number of blocks" }).min(1, { error: "must be at least 1 block below head (providers legitimately disagree at the head)" }).default(DEFAULT_CONSISTENCY_DEPTH),
  })
  .superRefine((c, ctx) => checkTimeout(c, ctx, DEFAULT_CONSISTENCY_INTERVAL_MS), whenFieldsOk("interval", "timeout"))
  .transform((c) => {
    const intervalMs = c.interval ?? DEFAULT_CONSISTENCY_INTERVAL_MS;
    return { intervalMs, timeoutMs: c.timeout ?? defaultTimeoutMs(intervalMs), depth: c.depth };
  });

// ---------------------------------------------------------------- watchers

export const SUBSCRIPTIONS = ["newHeads", "logs"] as const;
export type Subscription = (typeof SUBSCRIPTIONS)[number];
export const DEFAULT_STALL_BLOCK_TIMES = 3;
export const DEFAULT_LOGS_CONFIRM_BLOCKS = 3;
export const DEFAULT_CONFIRMATIONS_PER_MINUTE = 6;
export const DEFAULT_RECONNECT_INITIAL_MS = 500;
export const DEFAULT_RECONNECT_MAX_MS = 30_000;
export const MIN_HEAD_POLL_MS = 100;

const ADDRESS_RE = /^0x[0-9a-fA-F]{40}$/;
const TOPIC_RE = /^0x[0-9a-fA-F]{64}$/;

/** One address or a non-empty list of them; lowercased (logs compare case-insensitively). */
const logsAddress = z.unknown().transform((v, ctx): string | string[] => {
  const bad = (s: unknown): boolean => typeof s !== "string" || !ADDRESS_RE.test(s);
  if (typeof v === "string" && !bad(v)) return v.toLowerCase();
  if (Array.isArray(v) && v.length > 0 && !v.some(bad)) return v.map((a) => String(a).toLowerCase());
  ctx.addIssue({ code: "custom", message: `must be a contract address ("0x" + 40 hex digits) or a non-empty list of them, got ${JSON.stringify(v)}` });
  return z.NEVER;
});

/** Up to 4 positions, each null (any), a topic hash, or a list of alternatives; lowercased. */
const logsTopics = z.unknown().transform((v, ctx): (string | string[] | null)[] => {
  const fail = (message: string): never => {
    ctx.addIssue({ code: "custom", message });
    return z.NEVER as never;
  };
  if (!Array.isArray(v)) return fail('must be a list of up to 4 topics, each null (any), a 32-byte hash ("0x" + 64 hex digits) or a list of hashes');
  if (v.length > 4) return fail(`has ${v.length} positions; a log has at most 4 topics`);
  return v.map((t, i): string | string[] | null => {
    if (t === null) return null;
    if (typeof t === "string" && TOPIC_RE.test(t)) return t.toLowerCase();
    if (Array.isArray(t) && t.length > 0 && t.every((x) => typeof x === "string" && TOPIC_RE.test(x))) return t.map((x) => String(x).toLowerCase());
    return fail(`topic ${i} must be null, a 32-byte hash ("0x" + 64 hex digits) or a non-empty list of hashes, got ${JSON.stringify(t)}`);
  });
});

export const logsFilterSchema = z
  .strictObject({ address: logsAddress.optional(), topics: logsTopics.optional() })
  .superRefine((f, ctx) => {
    if (f.address === undefined && (f.topics === undefined || f.topics.every((t) => t === null)))
      ctx.addIssue({ code: "custom", message: "a logs filter needs an address or at least one topic: an unfiltered logs subscription receives every log of the chain" });
  }, { when: (payload) => payload.issues.length === 0 });

const stallBlockTimes = z.number({ error: "must be a number of block times" }).min(1, { error: "must be at least 1 block time" });

export const watcherSchema = z
  .strictObject({
    subscription: oneOf(SUBSCRIPTIONS, "subscription"),
    routes: routeSelector,
    /** Replaces the subscription type in the watcher's name: `<name>:<route>`. */
    name: identifier("watcher name").optional(),
    filter: logsFilterSchema.optional(),
    stallBlockTimes: stallBlockTimes.optional(),
  })
  .superRefine((w, ctx) => {
    if (w.subscription === "newHeads" && w.filter !== undefined) ctx.addIssue({ code: "custom", path: ["filter"], message: "newHeads takes no filter; only logs subscriptions do" });
    if (w.subscription === "logs" && w.filter === undefined) ctx.addIssue({ code: "custom", path: ["filter"], message: "is required for a logs watcher: { address: 0x..., topics: [0x...] }" });
    if (w.subscription === "logs" && w.stallBlockTimes !== undefined)
      ctx.addIssue({ code: "custom", path: ["stallBlockTimes"], message: "only newHeads watchers detect stalls: a logs filter may rightly match nothing for many blocks" });
  }, whenFieldsOk("subscription", "filter", "stallBlockTimes"))
  .transform((w) => ({ ...w, routes: w.routes as RouteSelector }));

export type ParsedWatcher = z.output<typeof watcherSchema>;

/** Chain-level watcher settings; defaults that depend on the block time are resolved in build.ts. */
export const watchOptionsSchema = z
  .strictObject({
    /** Route (by name) the watchers' HTTP traffic goes through: head polls, confirmations, eth_getLogs. */
    httpRoute: z.string({ error: "must be a route name" }).optional(),
    headPollInterval: duration(MIN_HEAD_POLL_MS).optional(),
    stallBlockTimes: stallBlockTimes.default(DEFAULT_STALL_BLOCK_TIMES),
    logsCheckInterval: duration(MIN_INTERVAL_MS).optional(),
    logsConfirmBlocks: z.number({ error: "must be a number of blocks" }).int({ error: "must be a whole number of blocks" }).min(1, { error: "must be at least 1 block" }).default(DEFAULT_LOGS_CONFIRM_BLOCKS),
    confirmationsPerMinute: z.number({ error: "must be a number of requests per minute" }).positive({ error: "must be > 0" }).default(DEFAULT_CONFIRMATIONS_PER_MINUTE),
    reconnect: z
      .strictObject({ initial: duration(10).default(DEFAULT_RECONNECT_INITIAL_MS), max: duration(10).default(DEFAULT_RECONNECT_MAX_MS) })
      .superRefine((r, ctx) => {
        if (r.initial > r.max) ctx.addIssue({ code: "custom", path: ["initial"], message: `must not exceed max (${formatDuration(r.max)})` });
      }, whenFieldsOk("initial", "max"))
      .prefault({}),
  })
  .prefault({});

export type ParsedWatchOptions = z.output<typeof watchOptionsSchema>;

/** An SLO objective that is a share of good events: (0, 1]. */
const sloRatio = z.number({ error: "must be a ratio, e.g. 0.999" }).gt(0, { error: "must be > 0" }).lte(1, { error: "must be <= 1 (a ratio, e.g. 0.999)" });

// ---------------------------------------------------------------- chaos windows

export const WINDOW_KINDS = ["fault", "failover_storm"] as const;
export const EXPECTED_OUTCOMES = ["failover", "no_failover"] as const;
const FAULT_KINDS: readonly string[] = faultSchema.options.map((o) => o.shape.kind.value);

/** Defaults of a chaos window (DESIGN.md "Default SLOs": during a single-provider fault). */
export const CHAOS_DEFAULTS = {
  profile: "canary",
  minClientSuccess: 0.99,
  maxFailoverMs: 5_000,
  maxRecoveryMs: 90_000,
  abortFloor: 0.9,
  abortWindowMs: 30_000,
  preconditionMs: 5 * 60_000,
  probeIntervalMs: 2_000,
  stormEveryMs: 15_000,
} as const;
/** A window is an experiment, not an outage. */
export const MAX_WINDOW_MS = 60 * 60_000;
/** The precondition reads the probes' last answers kept in memory (src/chaos/recentProbes.ts). */
export const MAX_PRECONDITION_MS = 30 * 60_000;
export const MIN_WINDOW_PROBE_INTERVAL_MS = 100;

const cronExpression = z.string({ error: 'must be a cron expression in quotes, e.g. "0 3 * * *"' }).transform((v, ctx): string => {
  const expr = v.trim().replace(/\s+/g, " ");
  const detail = cron.validateDetailed(expr);
  if (cron.validate(expr) && detail.valid) return expr;
  const why = detail.errors.map((e) => e.message).join("; ");
  ctx.addIssue({ code: "custom", message: `"${v}" is not a cron expression (${why}); write 5 fields (minute hour day-of-month month day-of-week) or 6 with seconds first, e.g. "0 3 * * *"` });
  return z.NEVER;
});

/** A fault of the proxy: a kind without parameters ("reset") or a mapping ({ kind: http_5xx, status: 503 }). */
const windowFault = z.unknown().transform((v, ctx): Fault => {
  const fail = (message: string, path: PathSegment[] = []): never => {
    ctx.addIssue({ code: "custom", path, message });
    return z.NEVER as never;
  };
  const input: unknown = typeof v === "string" ? { kind: v } : v;
  if (input === null || typeof input !== "object" || Array.isArray(input))
    return fail(`must be a fault: a kind (${FAULT_KINDS.join(", ")}) or a mapping like { kind: http_5xx, status: 503 }`);
  const kind = (input as { kind?: unknown }).kind;
  if (kind === undefined) return fail(`needs a kind: one of ${FAULT_KINDS.join(", ")}`);
  if (typeof kind !== "string" || !FAULT_KINDS.includes(kind))
    return fail(`unknown fault kind "${String(kind)}"${didYouMean(String(kind), FAULT_KINDS)}; expected one of ${FAULT_KINDS.join(", ")}`, typeof v === "string" ? [] : ["kind"]);
  if (kind === "pass") return fail("pass is no fault: a window without a fault measures nothing", typeof v === "string" ? [] : ["kind"]);
  const r = faultSchema.safeParse(input);
  if (r.success) return r.data;
  for (const issue of r.error.issues) {
    const at = issue.path.filter((x): x is string | number => typeof x !== "symbol");
    if (issue.code === "unrecognized_keys") {
      for (const key of issue.keys) fail(`unknown key for a ${kind} fault`, [...at, key]);
    } else if (issue.code === "invalid_type" && issue.input === undefined) {
      fail(`is required for a ${kind} fault`, at);
    } else {
      fail(issue.message, at);
    }
  }
  return z.NEVER;
});

const silenceSchema = z.strictObject({
  matchers: z
    .array(
      z.strictObject({
        name: z.string({ error: "must be a label name" }).regex(/^[A-Za-z_][A-Za-z0-9_]*$/, { error: "must be a label name (letters, digits, _)" }),
        value: z.string({ error: "must be a string" }),
        isRegex: z.boolean({ error: "must be true or false" }).default(false),
        isEqual: z.boolean({ error: "must be true or false" }).default(true),
      }),
      { error: "must be a list of { name, value, isRegex, isEqual }" },
    )
    .min(1, { error: "needs at least one matcher: a silence without matchers would silence every alert" }),
  comment: z.string({ error: "must be a string" }).min(1).optional(),
});

/** One `chaos:` entry of a checks file; cross-object rules (provider, target, names, budget) are in chaos.ts. */
export const chaosWindowSchema = z
  .strictObject({
    name: identifier("window name"),
    schedule: cronExpression,
    duration: duration(1000),
    provider: identifier("provider id"),
    profile: identifier("profile slug").default(CHAOS_DEFAULTS.profile),
    target: identifier("target name").optional(),
    kind: oneOf(WINDOW_KINDS, "window kind").default("fault"),
    fault: windowFault.optional(),
    expect: oneOf(EXPECTED_OUTCOMES, "expected outcome").optional(),
    slo: z
      .strictObject({
        minClientSuccess: sloRatio.default(CHAOS_DEFAULTS.minClientSuccess),
        maxFailover: duration(1).default(CHAOS_DEFAULTS.maxFailoverMs),
        maxRecovery: duration(1).default(CHAOS_DEFAULTS.maxRecoveryMs),
      })
      .prefault({}),
    abortFloor: z.number({ error: "must be a ratio, e.g. 0.9" }).min(0, { error: "must be >= 0" }).max(1, { error: "must be <= 1 (a ratio)" }).default(CHAOS_DEFAULTS.abortFloor),
    abortWindow: duration(MIN_WINDOW_PROBE_INTERVAL_MS).default(CHAOS_DEFAULTS.abortWindowMs),
    precondition: duration(1000).default(CHAOS_DEFAULTS.preconditionMs),
    probeInterval: duration(MIN_WINDOW_PROBE_INTERVAL_MS).default(CHAOS_DEFAULTS.probeIntervalMs),
    stormEvery: duration(1000).optional(),
    silence: silenceSchema.optional(),
  })
  .superRefine((w, ctx) => {
    const issue = (path: PathSegment[], message: string): void => ctx.addIssue({ code: "custom", path, message });
    if (w.profile === "public") issue(["profile"], "must not be the public profile: chaos only ever targets a dedicated profile (e.g. canary) whose providers are the fault proxies");
    if (w.duration > MAX_WINDOW_MS) issue(["duration"], `must be at most ${formatDuration(MAX_WINDOW_MS)}: a window is an experiment, not an outage`);
    if (w.precondition > MAX_PRECONDITION_MS) issue(["precondition"], `must be at most ${formatDuration(MAX_PRECONDITION_MS)} (the probes' recent answers kept in memory)`);
    if (w.probeInterval >= w.duration) issue(["probeInterval"], `must be shorter than duration (${formatDuration(w.duration)})`);
    if (w.abortWindow < 2 * w.probeInterval) issue(["abortWindow"], `must cover at least 2 probe intervals (${formatDuration(2 * w.probeInterval)})`);
    if (w.abortFloor > w.slo.minClientSuccess)
      issue(["abortFloor"], `must not exceed slo.minClientSuccess (${w.slo.minClientSuccess}): the guard would abort windows that meet their objective`);
    if (w.kind === "fault") {
      if (w.fault === undefined) issue(["fault"], "is required for a fault window, e.g. reset or { kind: http_5xx, status: 503 }");
      if (w.expect === undefined)
        issue(["expect"], "is required for a fault window: failover (the faulted provider must stop serving) or no_failover (the fault must not open Lasso's breaker: 429s, pure latency)");
      if (w.stormEvery !== undefined) issue(["stormEvery"], "only failover_storm windows take stormEvery");
    } else {
      if (w.fault !== undefined && w.fault.kind !== "ws_drop") issue(["fault"], `a failover storm drops the serving provider's WebSocket (ws_drop); leave fault out or write ws_drop, not ${w.fault.kind}`);
      if (w.expect === "no_failover") issue(["expect"], "a failover storm makes Lasso fail over on every drop: expect failover (or leave it out)");
      const every = w.stormEvery ?? CHAOS_DEFAULTS.stormEveryMs;
      if (every >= w.duration) issue(["stormEvery"], `must be shorter than duration (${formatDuration(w.duration)}) so the storm drops more than once (default ${formatDuration(CHAOS_DEFAULTS.stormEveryMs)})`);
    }
  }, whenFieldsOk("profile", "duration", "precondition", "probeInterval", "abortWindow", "abortFloor", "slo", "kind", "fault", "expect", "stormEvery"))
  .transform((w) => ({
    name: w.name,
    schedule: w.schedule,
    durationMs: w.duration,
    provider: w.provider,
    profile: w.profile,
    target: w.target,
    kind: w.kind,
    fault: w.fault ?? ({ kind: "ws_drop" } as Fault),
    expect: w.expect ?? ("failover" as const),
    probeIntervalMs: w.probeInterval,
    stormEveryMs: w.kind === "failover_storm" ? (w.stormEvery ?? CHAOS_DEFAULTS.stormEveryMs) : null,
    slo: { minClientSuccess: w.slo.minClientSuccess, maxFailoverMs: w.slo.maxFailover, maxRecoveryMs: w.slo.maxRecovery },
    abortFloor: w.abortFloor,
    abortWindowMs: w.abortWindow,
    preconditionMs: w.precondition,
    silence: w.silence === undefined ? null : { matchers: w.silence.matchers, comment: w.silence.comment ?? `lasso-canary chaos window ${w.name}` },
  }));

export type ParsedWindow = z.output<typeof chaosWindowSchema>;

/** The fields of a checks document, also parsed one by one so cross-object rules can run on the valid parts of an invalid document. */
export const chainFields = {
  chain: z.union([z.string(), z.number()], { error: 'must be a chain name as Lasso knows it ("ethereum") or a numeric chain id' }).transform((v, ctx): string => {
    const s = String(v).trim();
    if (/^\d+$/.test(s) && Number(s) > 0 && Number.isSafeInteger(Number(s))) return String(Number(s));
    if (typeof v === "string" && ID_RE.test(s) && !/^\d/.test(s)) return s;
    ctx.addIssue({ code: "custom", message: `"${String(v)}" is not a chain name (letters, digits, "_", ".", "-") or a positive numeric chain id` });
    return z.NEVER;
  }),
  chainId: z.number({ error: "must be a number (the expected eth_chainId, e.g. 1 for Ethereum mainnet)" }).int({ error: "must be a whole number" }).positive({ error: "must be > 0" }).optional(),
  blockTimeMs: duration(1),
  targets: z.array(identifier("target name"), { error: "must be a list of target names from the daemon config" }).min(1, { error: "must name at least one target (or be left out to use all)" }).optional(),
  slo: z
    .strictObject({
      successRatio: sloRatio.optional(),
      p95LatencyMs: z.number({ error: "must be a number of milliseconds" }).positive({ error: "must be > 0" }).optional(),
      maxHeadLagBlocks: z.number({ error: "must be a number of blocks" }).int({ error: "must be a whole number of blocks" }).min(0, { error: "must be >= 0" }).optional(),
      headFreshRatio: sloRatio.optional(),
      correctnessRatio: sloRatio.optional(),
      consistencyRatio: sloRatio.optional(),
      maxDeliveryDelay: duration(1).optional(),
    })
    .prefault({}),
  routes: z.array(routeSchema, { error: "must be a list of routes" }).min(1, { error: "needs at least one route" }),
  probes: z.array(probeSchema, { error: "must be a list of probes" }).min(1, { error: "needs at least one probe" }),
  consistency: consistencySchema.optional(),
  watchers: z.array(watcherSchema, { error: "must be a list of watchers" }).optional(),
  watch: watchOptionsSchema,
  /** Chaos windows against this chain's canary profile (windows as code). */
  chaos: z.array(chaosWindowSchema, { error: "must be a list of chaos windows" }).optional(),
};

export const chainSchema = z.strictObject(chainFields).superRefine((c, ctx) => {
  if (/^\d+$/.test(c.chain)) {
    if (c.chainId !== undefined && c.chainId !== Number(c.chain))
      ctx.addIssue({ code: "custom", path: ["chainId"], message: `is ${c.chainId} but chain is the numeric id ${c.chain}; they must match (or leave chainId out)` });
  } else if (c.chainId === undefined) {
    ctx.addIssue({ code: "custom", path: ["chainId"], message: `is required when chain is a name ("${c.chain}"): the id the providers must answer to eth_chainId, e.g. 1 for Ethereum` });
  }
}, whenFieldsOk("chain", "chainId"));

export type ParsedChain = z.output<typeof chainSchema>;

// ---------------------------------------------------------------- zod issues -> SRE messages

/** Keys an object schema allows at `at` (for "did you mean" on unknown keys). */
export function keysAt(schema: z.ZodType, at: readonly PathSegment[]): string[] {
  let cur: z.ZodType = schema;
  let i = 0;
  for (;;) {
    if (cur instanceof z.ZodOptional || cur instanceof z.ZodDefault || cur instanceof z.ZodPrefault || cur instanceof z.ZodNullable) {
      cur = cur.unwrap() as z.ZodType;
    } else if (cur instanceof z.ZodPipe) {
      cur = cur.in as z.ZodType;
    } else if (i >= at.length) {
      return cur instanceof z.ZodObject ? Object.keys(cur.shape) : [];
    } else if (cur instanceof z.ZodObject) {
      const next: unknown = cur.shape[String(at[i])];
      if (!(next instanceof z.ZodType)) return [];
      cur = next;
      i++;
    } else if (cur instanceof z.ZodArray) {
      cur = cur.element as z.ZodType;
      i++;
    } else {
      return [];
    }
  }
}

export interface SchemaProblem {
  path: PathSegment[];
  message: string;
}

function describe(v: unknown): string {
  if (v === null) return "null";
  if (Array.isArray(v)) return "a list";
  if (typeof v === "object") return "a mapping";
  return `a ${typeof v}`;
}

const EXPECTED: Record<string, string> = { object: "a mapping", array: "a list", string: "a string", number: "a number", boolean: "true or false" };

export function schemaProblems(schema: z.ZodType, error: z.ZodError): SchemaProblem[] {
  const out: SchemaProblem[] = [];
  for (const issue of error.issues) {
    const at = issue.path.filter((s): s is string | number => typeof s !== "symbol");
    if (issue.code === "unrecognized_keys") {
      const allowed = keysAt(schema, at);
      for (const key of issue.keys) {
        const hint = didYouMean(key, allowed);
        out.push({ path: [...at, key], message: `unknown key${hint}${allowed.length > 0 ? `; allowed here: ${allowed.join(", ")}` : ""}` });
      }
      continue;
    }
    if ((issue.code === "invalid_type" || issue.code === "invalid_union") && issue.input === undefined) {
      out.push({ path: at, message: "is required" });
      continue;
    }
    if (issue.code === "invalid_type" && at.length === 0) {
      out.push({ path: at, message: `the document must be a mapping (keys: ${keysAt(schema, []).join(", ")}), got ${describe(issue.input)}` });
      continue;
    }
    if (issue.code === "invalid_type") {
      if (issue.message.startsWith("Invalid input")) out.push({ path: at, message: `must be ${EXPECTED[issue.expected] ?? issue.expected}, got ${describe(issue.input)}` });
      else out.push({ path: at, message: issue.message });
      continue;
    }
    out.push({ path: at, message: issue.message });
  }
  return out;
}

export { formatPath };
