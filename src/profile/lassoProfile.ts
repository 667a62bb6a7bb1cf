/**
 * Reading a Lasso profile file (`config/profiles/<slug>.yml`) the way Lasso's file backend
 * does (lib/lasso/config/backend/file.ex):
 *
 * - Frontmatter format: the trimmed text starts with `---`; the text is split at the FIRST
 *   "\n---\n" into the frontmatter (`name`, `slug`, ...) and the body (`chains:`).
 * - Legacy format (no leading `---`): one document with `chains:`; `slug` defaults to "public".
 * - `chains` is a mapping keyed by the chain name Lasso routes by (`/rpc/ethereum`).
 *
 * Only what the checks need is read: chain_id, block_time_ms, selection.max_lag_blocks,
 * websocket.subscribe_new_heads, and per provider id, name, priority, whether ws_url is set
 * and subscribe_new_heads. Provider URLs are secrets: they are never resolved (no ${ENV}
 * substitution), copied or echoed, not even in error messages.
 */
import { readFileSync } from "node:fs";
import path from "node:path";
import { LineCounter, parseAllDocuments, type Document } from "yaml";
import { routeSchema } from "../plan/schema.js";
import { displayFile, formatIssue, unreadableReason, type PathSegment } from "../plan/errors.js";
import { redactUrl } from "../plan/redact.js";
import type { PlanIssue } from "../plan/types.js";
import { YamlSource } from "../plan/yamlfile.js";

export interface ProfileProvider {
  /** Lasso provider id: the `{ provider: id }` pin. */
  id: string;
  /** Display name from the profile, for comments. */
  name: string | null;
  priority: number | null;
  /** `ws_url` is set (a non-empty string, resolved or not). */
  hasWsUrl: boolean;
  /** Lasso keeps a newHeads subscription on it: the provider's flag, else the chain's websocket.subscribe_new_heads. */
  subscribeNewHeads: boolean;
}

export interface ProfileChain {
  /** The key under `chains:`, the name Lasso routes by. */
  key: string;
  /** Display name (`name:`), for comments. */
  name: string | null;
  chainId: number;
  /** null when the profile does not say (block_time_ms is optional in Lasso). */
  blockTimeMs: number | null;
  /** selection.max_lag_blocks, when given. */
  maxLagBlocks: number | null;
  providers: ProfileProvider[];
}

export interface LassoProfile {
  /** Absolute path and the name to show in messages. */
  abs: string;
  file: string;
  format: "frontmatter" | "legacy";
  slug: string;
  name: string | null;
  /** In the file's order. */
  chains: ProfileChain[];
  /** Allowed but probably not intended (e.g. a slug that does not match the file name). */
  warnings: PlanIssue[];
}

/**
 * The profile's parsed YAML as written (`${ENV}` unresolved): the frontmatter mapping (null in
 * the legacy format) and the body with `chains`. It holds provider URLs and credentials, so
 * it is kept off the LassoProfile object (nothing can log or serialise it by accident) and
 * only the fault proxy process (which must reach the upstreams) and the canary profile
 * generator (which replaces them) read it.
 */
export interface ProfileDocument {
  meta: Record<string, unknown> | null;
  body: Record<string, unknown>;
}

const documents = new WeakMap<LassoProfile, ProfileDocument>();

export function profileDocument(profile: LassoProfile): ProfileDocument {
  const doc = documents.get(profile);
  if (doc === undefined) throw new Error(`${profile.file} was not read by readLassoProfile/parseLassoProfile`);
  return doc;
}

/** A profile that cannot be turned into checks; `issues` names file, path and problem. */
export class ProfileError extends Error {
  constructor(readonly issues: PlanIssue[]) {
    super(issues.map(formatIssue).join("\n"));
    this.name = "ProfileError";
  }
}

/** A provider that can serve a pinned newHeads subscription through Lasso. */
export function servesNewHeads(p: ProfileProvider): boolean {
  return p.hasWsUrl && p.subscribeNewHeads;
}

type Issue = (at: readonly PathSegment[], message: string) => void;

export function isRecord(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === "object" && !Array.isArray(v);
}

function describe(v: unknown): string {
  if (v === null || v === undefined) return "nothing";
  if (Array.isArray(v)) return "a list";
  if (typeof v === "object") return "a mapping";
  if (typeof v === "string") return `the string ${JSON.stringify(v.length > 40 ? `${v.slice(0, 40)}...` : v)}`;
  return `${typeof v} ${String(v)}`;
}

function positiveInt(v: unknown): v is number {
  return typeof v === "number" && Number.isSafeInteger(v) && v > 0;
}

/** One YAML document of `text` (the rest of the text blanked out, so lines stay true). */
interface ParsedPart {
  src: YamlSource | null;
  issues: PlanIssue[];
}

function parsePart(text: string, abs: string, file: string, what: string): ParsedPart {
  const lines = new LineCounter();
  const docs = parseAllDocuments(text, { lineCounter: lines, prettyErrors: true, uniqueKeys: true });
  if ("empty" in docs) return { src: null, issues: docs.errors.map((e) => syntaxIssue(file, e.message, e.linePos?.[0])) };
  const nonEmpty = docs.filter((d) => d.contents !== null || d.errors.length > 0);
  const issues: PlanIssue[] = [];
  for (const d of nonEmpty) for (const e of d.errors) issues.push(syntaxIssue(file, e.message, e.linePos?.[0]));
  if (issues.length > 0) return { src: null, issues };
  if (nonEmpty.length > 1) {
    const start = (nonEmpty[1] as Document).range?.[0];
    const line = start === undefined ? undefined : lines.linePos(start).line;
    return {
      src: null,
      issues: [{ file, path: "", message: `the ${what} holds more than one YAML document (another "---" line): Lasso reads one`, ...(line === undefined ? {} : { line }) }],
    };
  }
  const doc = nonEmpty[0];
  if (doc === undefined) return { src: null, issues: [] };
  let value: unknown;
  try {
    value = doc.toJS({ maxAliasCount: 1000 });
  } catch (err) {
    return { src: null, issues: [{ file, path: "", message: `YAML error: ${redactUrl((err as Error).message)}` }] };
  }
  return { src: new YamlSource(abs, file, doc, lines, value, 1, 1), issues: [] };
}

/** First line of a yaml error, without its excerpt (which could show a URL), with the line. */
function syntaxIssue(file: string, message: string, pos: { line: number; col: number } | undefined): PlanIssue {
  const first = (message.split("\n")[0] ?? message).replace(/ at line \d+, column \d+:?$/, "");
  return { file, path: "", message: `YAML syntax error: ${redactUrl(first)}${pos === undefined ? "" : ` (column ${pos.col})`}`, ...(pos === undefined ? {} : { line: pos.line }) };
}

/** Replace text[from, to) by blanks that keep the line structure. */
function blank(text: string, from: number, to: number): string {
  return text.slice(0, from) + text.slice(from, to).replace(/[^\n]/g, " ") + text.slice(to);
}

interface Split {
  format: "frontmatter" | "legacy";
  /** Same length and lines as the file; everything but the part blanked. */
  meta: string | null;
  body: string;
  issues: PlanIssue[];
}

/** Lasso: `String.starts_with?(String.trim(content), "---")`, then `String.split(content, ~r/\n---\n/, parts: 2)`. */
function splitFrontmatter(text: string, file: string): Split {
  const lead = text.length - text.trimStart().length;
  if (!text.trimStart().startsWith("---")) return { format: "legacy", meta: null, body: text, issues: [] };
  const close = /\n---\n/.exec(text);
  const fail = (message: string, line?: number): Split => ({ format: "frontmatter", meta: null, body: "", issues: [{ file, path: "", message, ...(line === undefined ? {} : { line }) }] });
  if (close === null) {
    const crlf = text.includes("\r\n") ? " (this file has CRLF line endings, which Lasso's split does not recognise)" : "";
    return fail(`starts with "---" (frontmatter) but no line "---" closes it: write the profile as "---", name/slug lines, "---", then chains:${crlf}`, 1);
  }
  if (close.index + 1 <= lead) {
    return fail(`the frontmatter's opening "---" must be the file's first line: Lasso splits at the first line "---" that follows a newline, so blank lines before it break the profile`, 1);
  }
  const bodyStart = close.index + close[0].length;
  const meta = blank(blank(text, close.index, text.length), lead, lead + 3);
  const body = blank(text, 0, bodyStart);
  return { format: "frontmatter", meta, body, issues: [] };
}

export function readLassoProfile(profilePath: string): LassoProfile {
  const abs = path.resolve(profilePath);
  const file = displayFile(abs);
  let text: string;
  try {
    text = readFileSync(abs, "utf8");
  } catch (err) {
    throw new ProfileError([{ file, path: "", message: `cannot read Lasso profile: ${unreadableReason(err, "a Lasso profile file")}` }]);
  }
  return parseLassoProfile(text, abs);
}

/** Parse profile text; throws ProfileError listing every problem found. */
export function parseLassoProfile(text: string, abs: string): LassoProfile {
  const file = displayFile(abs);
  const issues: PlanIssue[] = [];
  const warnings: PlanIssue[] = [];
  const split = splitFrontmatter(text, file);
  issues.push(...split.issues);

  let slug: string | null = null;
  let name: string | null = null;
  let body: YamlSource | null = null;
  let meta: YamlSource | null = null;
  if (split.issues.length === 0) {
    const metaPart = split.meta === null ? null : parsePart(split.meta, abs, file, "frontmatter");
    const bodyPart = parsePart(split.body, abs, file, split.format === "frontmatter" ? "part after the frontmatter" : "profile");
    issues.push(...(metaPart?.issues ?? []), ...bodyPart.issues);
    body = bodyPart.src;
    // Lasso takes the metadata from the frontmatter, or (legacy) from the top of the one document.
    const metaSrc = metaPart === null ? body : metaPart.src;
    meta = metaPart?.src ?? null;
    if (metaSrc !== null || (metaPart !== null && metaPart.issues.length === 0)) {
      const r = readMeta(metaSrc, split.format, file, issues);
      slug = r.slug;
      name = r.name;
    }
  }

  const chains = body === null ? [] : readChains(body, issues, warnings);
  if (issues.length > 0 || slug === null) throw new ProfileError(issues.length > 0 ? issues : [{ file, path: "slug", message: "is required" }]);

  const base = path.basename(abs);
  if (!base.endsWith(".yml")) warnings.push({ file, path: "", message: `Lasso loads only *.yml files from its profiles directory; deploy this profile as ${slug}.yml` });
  else if (base !== `${slug}.yml`) warnings.push({ file, path: "slug", message: `is "${slug}" but the file is ${base}: Lasso refuses a profile whose slug does not match its file name (expected ${slug}.yml)` });

  const profile: LassoProfile = { abs, file, format: split.format, slug, name, chains, warnings };
  documents.set(profile, { meta: split.format === "frontmatter" && isRecord(meta?.value) ? meta.value : null, body: isRecord(body?.value) ? body.value : {} });
  return profile;
}

function readMeta(src: YamlSource | null, format: Split["format"], file: string, issues: PlanIssue[]): { slug: string | null; name: string | null } {
  const value = src?.value ?? null;
  const at: Issue = (p, message) => void issues.push(src?.issue(p, message) ?? { file, path: p.join("."), message });
  if (!isRecord(value)) {
    at([], format === "frontmatter" ? `the frontmatter must be a mapping with at least "slug" (and "name"), got ${describe(value)}` : `the profile must be a mapping with "chains", got ${describe(value)}`);
    return { slug: null, name: null };
  }
  const name = typeof value.name === "string" ? value.name : null;
  let slug: string | null = null;
  if (value.slug === undefined || value.slug === null) {
    if (format === "legacy") slug = "public";
    else at(["slug"], `is required in the frontmatter: the profile's slug, as in /rpc/profile/<slug>/... (and the file name <slug>.yml)`);
  } else if (typeof value.slug !== "string" || value.slug.trim() === "") {
    at(["slug"], `must be a non-empty string, got ${describe(value.slug)}`);
  } else if (!routeSchema.safeParse({ strategy: "default", profile: value.slug }).success) {
    at(["slug"], `"${value.slug}" cannot be used in a route: letters, digits, "_", "." or "-", starting with a letter or digit`);
  } else {
    slug = value.slug;
  }
  return { slug, name };
}

function readChains(src: YamlSource, issues: PlanIssue[], warnings: PlanIssue[]): ProfileChain[] {
  const err: Issue = (p, message) => void issues.push(src.issue(p, message));
  const warn: Issue = (p, message) => void warnings.push(src.issue(p, message));
  const doc = src.value;
  if (!isRecord(doc) || !("chains" in doc)) {
    err(isRecord(doc) ? ["chains"] : [], isRecord(doc) ? 'is required: a mapping of chain name -> { chain_id, providers, ... }' : `the profile body must be a mapping with "chains", got ${describe(doc)}`);
    return [];
  }
  if (!isRecord(doc.chains)) {
    err(["chains"], `must be a mapping of chain name -> { chain_id, providers, ... }, got ${describe(doc.chains)}`);
    return [];
  }
  const entries = Object.entries(doc.chains);
  if (entries.length === 0) err(["chains"], "has no chains: nothing to generate checks for");
  const chains: ProfileChain[] = [];
  const byId = new Map<number, string>();
  for (const [key, data] of entries) {
    const chain = readChain(key, data, err, warn);
    if (chain === null) continue;
    const prev = byId.get(chain.chainId);
    if (prev !== undefined) {
      err(["chains", key, "chain_id"], `chain id ${chain.chainId} is also chains.${prev}'s: lasso-canary checks declare each chain once`);
      continue;
    }
    byId.set(chain.chainId, key);
    chains.push(chain);
  }
  return chains;
}

function readChain(key: string, data: unknown, err: Issue, warn: Issue): ProfileChain | null {
  const at = (...p: PathSegment[]): PathSegment[] => ["chains", key, ...p];
  if (!isRecord(data)) {
    err(at(), `must be a mapping { chain_id, providers, ... }, got ${describe(data)}`);
    return null;
  }
  let ok = true;
  const chainId = data.chain_id;
  if (chainId === undefined || chainId === null) {
    err(at("chain_id"), "is required: the chain's EIP-155 id (the providers' eth_chainId), e.g. 1 for Ethereum");
    ok = false;
  } else if (!positiveInt(chainId)) {
    err(at("chain_id"), `must be a positive whole number (the EIP-155 chain id), got ${describe(chainId)}`);
    ok = false;
  }
  let blockTimeMs: number | null = null;
  if (data.block_time_ms !== undefined && data.block_time_ms !== null) {
    if (positiveInt(data.block_time_ms)) blockTimeMs = data.block_time_ms;
    else {
      err(at("block_time_ms"), `must be a positive whole number of milliseconds, got ${describe(data.block_time_ms)}`);
      ok = false;
    }
  }
  let maxLagBlocks: number | null = null;
  const selection = data.selection;
  if (isRecord(selection) && selection.max_lag_blocks !== undefined && selection.max_lag_blocks !== null) {
    const v = selection.max_lag_blocks;
    if (typeof v === "number" && Number.isSafeInteger(v) && v >= 0) maxLagBlocks = v;
    else warn(at("selection", "max_lag_blocks"), `is ${describe(v)}, not a whole number of blocks: ignored`);
  }
  const chainNewHeads = chainSubscribesNewHeads(data, at, err);
  const providers = readProviders(data.providers, at, chainNewHeads, err, warn);
  if (!ok || providers === null) return null;
  if (providers.length === 0) {
    err(at("providers"), "has no providers: there is nothing to pin or compare (Lasso cannot serve this chain either)");
    return null;
  }
  return { key, name: typeof data.name === "string" ? data.name : null, chainId: chainId as number, blockTimeMs, maxLagBlocks, providers };
}

/**
 * The chain's default for providers without their own subscribe_new_heads. Lasso:
 * websocket.subscribe_new_heads (default true), or without a websocket section the legacy
 * monitoring.subscribe_new_heads (default true); only a literal `true` enables it.
 */
function chainSubscribesNewHeads(data: Record<string, unknown>, at: (...p: PathSegment[]) => PathSegment[], err: Issue): boolean {
  const ws = data.websocket;
  if (ws !== undefined && ws !== null) {
    if (!isRecord(ws)) {
      err(at("websocket"), `must be a mapping { subscribe_new_heads, new_heads_timeout_ms, failover }, got ${describe(ws)}`);
      return false;
    }
    return !("subscribe_new_heads" in ws) || ws.subscribe_new_heads === true;
  }
  const mon = data.monitoring;
  return !isRecord(mon) || !("subscribe_new_heads" in mon) || mon.subscribe_new_heads === true;
}

function readProviders(list: unknown, at: (...p: PathSegment[]) => PathSegment[], chainNewHeads: boolean, err: Issue, warn: Issue): ProfileProvider[] | null {
  if (list === undefined || list === null) return [];
  if (!Array.isArray(list)) {
    err(at("providers"), `must be a list of providers ({ id, url, ... }), got ${describe(list)}`);
    return null;
  }
  const out: ProfileProvider[] = [];
  const seen = new Map<string, number>();
  let ok = true;
  list.forEach((p: unknown, i) => {
    if (!isRecord(p)) {
      err(at("providers", i), `must be a mapping { id, url, ... }, got ${describe(p)}`);
      ok = false;
      return;
    }
    const id = p.id;
    if (id === undefined || id === null) {
      err(at("providers", i, "id"), "is required: the provider id that pins it (/rpc/provider/<id>/<chain>)");
      ok = false;
      return;
    }
    if (typeof id !== "string") {
      err(at("providers", i, "id"), `must be a string (quote it), got ${describe(id)}: a pinned URL names the provider by a string id`);
      ok = false;
      return;
    }
    if (!routeSchema.safeParse({ provider: id }).success) {
      err(at("providers", i, "id"), `"${id}" cannot be used in a pinned route: letters, digits, "_", "." or "-", starting with a letter or digit`);
      ok = false;
      return;
    }
    const prev = seen.get(id);
    if (prev !== undefined) {
      err(at("providers", i, "id"), `duplicate provider id "${id}" (same as providers[${prev}]): a pin names one provider`);
      ok = false;
      return;
    }
    seen.set(id, i);
    out.push({
      id,
      name: typeof p.name === "string" ? p.name : null,
      priority: typeof p.priority === "number" ? p.priority : null,
      hasWsUrl: readWsUrl(p.ws_url, at("providers", i, "ws_url"), err, warn),
      subscribeNewHeads: readSubscribeNewHeads(p.subscribe_new_heads, at("providers", i, "subscribe_new_heads"), warn) ?? chainNewHeads,
    });
  });
  return ok ? out : null;
}

/** Set or not; the value (a secret) is never looked at beyond its type. */
function readWsUrl(v: unknown, at: PathSegment[], err: Issue, warn: Issue): boolean {
  if (v === undefined || v === null) return false;
  if (typeof v !== "string") {
    err(at, `must be a URL string, got ${Array.isArray(v) ? "a list" : typeof v === "object" ? "a mapping" : `a ${typeof v}`}`);
    return false;
  }
  if (v.trim() === "") {
    warn(at, "is empty: treated as no WebSocket endpoint (no pinned newHeads watcher)");
    return false;
  }
  return true;
}

/** Lasso: booleans and the strings "true"/"false"; anything else counts as unset (the chain's default). */
function readSubscribeNewHeads(v: unknown, at: PathSegment[], warn: Issue): boolean | null {
  if (v === undefined || v === null) return null;
  if (typeof v === "boolean") return v;
  if (v === "true" || v === "false") return v === "true";
  warn(at, `is ${describe(v)}, not true or false: Lasso ignores it and uses the chain's websocket.subscribe_new_heads`);
  return null;
}

