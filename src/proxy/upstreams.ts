/**
 * Which proxies a Lasso profile implies and where each forwards: one per (chain, provider),
 * numbered in chain order then provider order, listening on basePort + that number. The
 * upstream side (URL, WS URL, credentials as headers) is resolved from the environment here
 * because the proxy must reach the providers; none of it is ever put in an error or a log.
 */
import { substitute, type Env } from "../plan/env.js";
import { formatIssue, formatPath, type PathSegment } from "../plan/errors.js";
import type { PlanIssue } from "../plan/types.js";
import { isRecord, profileDocument, type LassoProfile } from "../profile/lassoProfile.js";
import type { ProxyPorts } from "./config.js";

/** One proxy as the canary profile sees it: no upstream detail. */
export interface ProxySlot {
  chain: string;
  provider: string;
  /** Position in (chain order, provider order), from 0. */
  index: number;
  port: number;
  /** The provider has a ws_url: the canary profile gets one too. */
  hasWs: boolean;
}

/** Where a proxy forwards. Secrets: never logged, never in an error. */
export interface Upstream {
  httpUrl: string;
  wsUrl: string | null;
  headers: Record<string, string>;
}

export interface ProxySpec extends ProxySlot {
  upstream: Upstream;
}

/** The profile's proxies cannot be set up; `issues` name file and path, never a URL. */
export class UpstreamError extends Error {
  constructor(readonly issues: PlanIssue[]) {
    super(issues.map(formatIssue).join("\n"));
    this.name = "UpstreamError";
  }
}

/** The slots of every provider, with their ports; throws UpstreamError when the ports run past 65535. */
export function proxySlots(profile: LassoProfile, ports: ProxyPorts): ProxySlot[] {
  const slots: ProxySlot[] = [];
  for (const chain of profile.chains) {
    for (const p of chain.providers) {
      const index = slots.length;
      slots.push({ chain: chain.key, provider: p.id, index, port: ports.basePort + index, hasWs: p.hasWsUrl });
    }
  }
  const last = slots.at(-1);
  if (last !== undefined && last.port > 65535) {
    throw new UpstreamError([
      { file: profile.file, path: "", message: `${slots.length} providers need ports ${ports.basePort}-${last.port} (basePort + index), past 65535: lower proxies.basePort to at most ${65536 - slots.length}` },
    ]);
  }
  return slots;
}

/** The port of another listener that collides with a proxy, said in words; null when none does. */
export function portCollision(slots: readonly ProxySlot[], port: number, what: string): string | null {
  const hit = slots.find((s) => s.port === port);
  return hit === undefined ? null : `${what} port ${port} is also the port of proxy ${hit.chain}/${hit.provider} (proxies.basePort + ${hit.index}): move one of them`;
}

/** Every proxy with its resolved upstream; throws UpstreamError listing every problem. */
export function proxySpecs(profile: LassoProfile, ports: ProxyPorts, env: Env): ProxySpec[] {
  const slots = proxySlots(profile, ports);
  const { body } = profileDocument(profile);
  const issues: PlanIssue[] = [];
  const specs: ProxySpec[] = [];
  for (const slot of slots) {
    const chain = isRecord(body.chains) ? body.chains[slot.chain] : undefined;
    const list = isRecord(chain) && Array.isArray(chain.providers) ? chain.providers : [];
    const i = list.findIndex((p) => isRecord(p) && p.id === slot.provider);
    const raw = list[i];
    if (!isRecord(raw)) continue; // the reader accepted it: cannot happen
    const at = (...p: PathSegment[]): string => formatPath(["chains", slot.chain, "providers", i, ...p]);
    const issue = (p: PathSegment, message: string): void => void issues.push({ file: profile.file, path: at(p), message });
    const httpUrl = resolveUrl(raw.url, ["http:", "https:"], env, (m) => issue("url", m));
    const wsUrl = slot.hasWs ? resolveUrl(raw.ws_url, ["ws:", "wss:"], env, (m) => issue("ws_url", m)) : null;
    const headers = providerHeaders(raw, env, issue);
    if (httpUrl !== null && (wsUrl !== null || !slot.hasWs) && headers !== null) specs.push({ ...slot, upstream: { httpUrl, wsUrl, headers } });
  }
  if (issues.length > 0) throw new UpstreamError(issues);
  return specs;
}

/** `${ENV}` resolved, parsed, scheme checked; null (with the problem told) otherwise. */
function resolveUrl(value: unknown, protocols: string[], env: Env, problem: (message: string) => void): string | null {
  if (value === undefined || value === null || value === "") {
    problem("is required: the provider's upstream URL the proxy forwards to");
    return null;
  }
  if (typeof value !== "string") {
    problem("must be a URL string");
    return null;
  }
  const resolved = resolveEnv(value, env, problem);
  if (resolved === null) return null;
  let url: URL;
  try {
    url = new URL(resolved);
  } catch {
    problem("is not a valid URL once ${ENV} is resolved");
    return null;
  }
  if (!protocols.includes(url.protocol)) {
    problem(`must use ${protocols.map((p) => p.slice(0, -1)).join(" or ")}, got ${url.protocol.slice(0, -1)}`);
    return null;
  }
  return resolved;
}

/** `${ENV}` substitution whose problems never quote the value (it is a URL or a key). */
function resolveEnv(value: string, env: Env, problem: (message: string) => void): string | null {
  const r = substitute(value, env);
  if (r.problems.length === 0) return r.value;
  for (const p of r.problems) problem(p.startsWith("environment variable") ? p : "has a malformed ${...} reference: write ${NAME} or ${NAME:-default}");
  return null;
}

const HEADER_NAME = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;

/**
 * The credentials Lasso would send to this provider (lib/lasso/providers/provider_headers.ex):
 * `api_key` (with ${ENV}, as Lasso resolves it) as `authorization: Bearer <key>`, then the
 * `headers` and `auth_headers` mappings, later ones winning, names lower-cased. The canary
 * profile carries none of them: the proxy adds them upstream.
 */
function providerHeaders(raw: Record<string, unknown>, env: Env, issue: (p: PathSegment, m: string) => void): Record<string, string> | null {
  const out: Record<string, string> = {};
  let ok = true;
  if (typeof raw.api_key === "string" && raw.api_key !== "") {
    const key = resolveEnv(raw.api_key, env, (m) => issue("api_key", m));
    if (key === null) ok = false;
    else out.authorization = `Bearer ${key}`;
  }
  for (const field of ["headers", "auth_headers"] as const) {
    const value = raw[field];
    if (value === undefined || value === null) continue;
    if (!isRecord(value)) {
      issue(field, "must be a mapping of header name -> value (Lasso ignores any other shape)");
      ok = false;
      continue;
    }
    for (const [name, v] of Object.entries(value)) {
      if (v === null || v === undefined) continue;
      const text = typeof v === "string" || typeof v === "number" || typeof v === "boolean" ? String(v) : null;
      if (!HEADER_NAME.test(name) || text === null || /[\r\n\0]/.test(text)) {
        issue(field, `header ${JSON.stringify(name.slice(0, 40))} is not a valid HTTP header name and value`);
        ok = false;
        continue;
      }
      out[name.toLowerCase()] = text;
    }
  }
  return ok ? out : null;
}

/** The URLs Lasso's canary profile uses for a proxy (ws null when the provider has no ws_url). */
export function advertisedUrls(advertiseHost: string, slot: ProxySlot): { httpUrl: string; wsUrl: string | null } {
  const host = advertiseHost.includes(":") ? `[${advertiseHost}]` : advertiseHost;
  return { httpUrl: `http://${host}:${slot.port}`, wsUrl: slot.hasWs ? `ws://${host}:${slot.port}` : null };
}
