/**
 * The fault proxy process's config (`lasso-canary proxy --config proxy.yaml`): which Lasso
 * profile's providers to stand in front of, where the loopback control API listens and its
 * token, and where the proxies listen (each on basePort + its index, so the canary
 * profile's URLs stay the same across restarts). YAML + zod, ${ENV} substituted, every
 * problem named by file, path and line.
 */
import path from "node:path";
import { isIP } from "node:net";
import { z } from "zod";
import { displayFile, formatIssue } from "../plan/errors.js";
import type { Env } from "../plan/env.js";
import { validate } from "../plan/index.js";
import { configSchema, listen } from "../plan/schema.js";
import type { LogLevel, PlanIssue } from "../plan/types.js";
import { readYamlFile, type YamlSource } from "../plan/yamlfile.js";
import { isLoopbackListenHost } from "./loopback.js";

export const DEFAULT_PROXY_CONFIG_PATH = "config/proxy.yaml";
export const MIN_TOKEN_LENGTH = 16;

/** Where the proxies listen and how Lasso reaches them. */
export interface ProxyPorts {
  /** Bind address of every proxy. */
  host: string;
  /** Host name or address written into the canary profile (what Lasso connects to). */
  advertiseHost: string;
  /** The first proxy's port; the n-th (chain order, then provider order) listens on basePort + n. */
  basePort: number;
}

export interface ProxyConfig {
  /** Absolute path and display name of the config file. */
  abs: string;
  file: string;
  /** Absolute path of the Lasso profile (relative paths are relative to the config file). */
  profile: string;
  control: { host: string; port: number; token: string };
  proxies: ProxyPorts;
  log: { level: LogLevel };
}

/** The proxy config cannot be used; `issues` say where and why. */
export class ProxyConfigError extends Error {
  constructor(readonly issues: PlanIssue[]) {
    super(issues.map(formatIssue).join("\n"));
    this.name = "ProxyConfigError";
  }
}

const HOST_NAME = /^[A-Za-z0-9]([A-Za-z0-9-]{0,62}[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]{0,62}[A-Za-z0-9])?)*$/;

const host = (what: string): z.ZodType<string> =>
  z
    .string({ error: `must be ${what}: an IP address or a host name` })
    .refine((h) => isIP(h.replace(/^\[|\]$/g, "")) !== 0 || HOST_NAME.test(h), { error: `must be ${what}: an IP address or a host name, without scheme or port` })
    .transform((h) => h.replace(/^\[|\]$/g, ""));

const port = z.number({ error: "must be a port number" }).int({ error: "must be a whole port number" }).min(1, { error: "must be 1-65535" }).max(65535, { error: "must be 1-65535" });

export const proxiesSchema = z.strictObject({
  host: host("the proxies' bind address").default("127.0.0.1"),
  advertiseHost: host("the host Lasso reaches the proxies at").default("127.0.0.1"),
  basePort: port.default(9500),
});

export const DEFAULT_PROXY_PORTS: ProxyPorts = proxiesSchema.parse({});

const controlSchema = z.strictObject({
  listen: listen.superRefine((l, ctx) => {
    if (!isLoopbackListenHost(l.host))
      ctx.addIssue({ code: "custom", message: `must be a loopback address (127.0.0.1, [::1] or localhost), got "${l.host}": the control API switches faults on and must not be reachable from the network` });
    if (l.port === 0) ctx.addIssue({ code: "custom", message: "needs a fixed port: the daemon must know where to reach the control API" });
  }),
  token: z
    .string({ error: "must be a string (a bearer token), usually \"${CANARY_PROXY_TOKEN}\"" })
    .min(MIN_TOKEN_LENGTH, { error: `must be at least ${MIN_TOKEN_LENGTH} characters: it switches faults on` }),
});

const proxyConfigSchema = z.strictObject({
  profile: z.string({ error: "must be the path of a Lasso profile file (.yml)" }).min(1, { error: "must be the path of a Lasso profile file (.yml)" }),
  control: controlSchema,
  proxies: proxiesSchema.prefault({}),
  log: configSchema.shape.log,
});

/** The config's single YAML document, or the issues that stop it from being read. */
function readSource(configPath: string, env: Env, keep: (issue: PlanIssue) => boolean): YamlSource {
  const abs = path.resolve(configPath);
  const r = readYamlFile(abs, env, "proxy config");
  const issues = r.issues.filter(keep);
  const src = r.sources[0];
  if (issues.length > 0) throw new ProxyConfigError(issues);
  if (src === undefined) throw new ProxyConfigError([{ file: displayFile(abs), path: "", message: "proxy config is empty" }]);
  if (r.sources.length > 1) throw new ProxyConfigError([{ file: src.file, path: "", message: `must hold one YAML document, found ${r.sources.length}` }]);
  return src;
}

export function loadProxyConfig(configPath: string, env: Env = process.env): ProxyConfig {
  const src = readSource(configPath, env, () => true);
  const issues: PlanIssue[] = [];
  const parsed = validate(proxyConfigSchema, src, issues);
  if (parsed === null) throw new ProxyConfigError(issues);
  const { proxies } = parsed;
  const { host: controlHost, port: controlPort } = parsed.control.listen;
  return {
    abs: src.abs,
    file: src.file,
    profile: path.resolve(path.dirname(src.abs), parsed.profile),
    control: { host: controlHost, port: controlPort, token: parsed.control.token },
    proxies,
    log: parsed.log,
  };
}

/**
 * Only `profile` and `proxies`, for `lasso-profile --proxy-config`: printing the canary
 * profile needs neither the control token (a secret, often unset where this runs) nor the
 * control address.
 */
export function loadProxyPorts(configPath: string, env: Env = process.env): { profile: string; proxies: ProxyPorts; file: string } {
  const src = readSource(configPath, env, (i) => !/^control\b/.test(i.path));
  const issues: PlanIssue[] = [];
  // Not strict at the top: control and log are left unread.
  const partial = z.object({ profile: proxyConfigSchema.shape.profile, proxies: proxyConfigSchema.shape.proxies });
  const parsed = validate(partial, src, issues);
  if (parsed === null) throw new ProxyConfigError(issues);
  return { profile: path.resolve(path.dirname(src.abs), parsed.profile), proxies: parsed.proxies, file: src.file };
}
