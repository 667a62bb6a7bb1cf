/**
 * A Lasso profile -> one checks file per chain: strategy routes and one pin per provider,
 * modest probes, consistency, newHeads watchers where a provider can serve them, a logs
 * watcher left as a commented example. Intervals start from the block time and are
 * lengthened step by step (INTERVAL_SCALES) until the planner's own rate for the chain
 * fits the budget; the rate is stated in the file's header.
 */
import { parse as parseYaml } from "yaml";
import { formatRate } from "../plan/build.js";
import { formatDuration, routeName, routePath } from "../plan/index.js";
import { chainFields, DEFAULT_CONSISTENCY_DEPTH } from "../plan/schema.js";
import { servesNewHeads, type LassoProfile, type ProfileChain, type ProfileProvider } from "./lassoProfile.js";
import { planChecks, plannedRate, type ChecksText } from "./planCheck.js";

/** Lasso's default profile: its routes carry no /profile/ segment. */
export const PUBLIC_PROFILE = "public";

/** Used when the profile has no block_time_ms (it is optional in Lasso): an L1-like 12 s. */
export const ASSUMED_BLOCK_TIME_MS = 12_000;

/** Steps by which every interval is lengthened, in order, until the chain fits the budget. */
export const INTERVAL_SCALES = [1, 1.5, 2, 3, 4, 5, 6, 8, 10, 12, 15, 20, 30, 45, 60] as const;

/** Intervals at scale 1. The head is probed about once a block, but not more often than this. */
const HEAD_INTERVAL_FLOOR_MS = 5_000;
const CHAIN_ID_INTERVAL_MS = 60_000;
const LATEST_BLOCK_INTERVAL_MS = 30_000;
const CONSISTENCY_INTERVAL_MS = 60_000;
const CONFIRMATIONS_PER_MINUTE = 3;
/** DESIGN.md's default head-lag objective (2 blocks); a profile that tolerates more lag raises it. */
const DEFAULT_HEAD_LAG_BLOCKS = 2;

export interface GenerateOptions {
  /** Requests per second one chain may plan (budget.maxRequestsPerSecondPerChain). */
  budget: number;
  /** Where the budget comes from, for the header, e.g. "config/canary.yaml" or "--budget". */
  budgetSource: string;
  /** Targets in the daemon config: every probe runs once per target. */
  targetCount: number;
  /** lasso-canary version and the date, for the header. */
  version: string;
  date: Date;
}

export interface GeneratedChecks extends ChecksText {
  /** Chain as written in the checks (the profile's chain key, or its numeric id). */
  chain: string;
  ratePerSecond: number;
  /** The INTERVAL_SCALES step that fit the budget. */
  scale: number;
}

/** The chain cannot fit the budget even at the longest intervals. */
export class BudgetError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "BudgetError";
  }
}

interface Intervals {
  headMs: number;
  chainIdMs: number;
  latestBlockMs: number;
  consistencyMs: number;
  headPollMs: number;
}

function intervalsAt(blockTimeMs: number, scale: number): Intervals {
  const at = (ms: number): number => Math.ceil((ms * scale) / 1000) * 1000;
  const head = Math.max(blockTimeMs, HEAD_INTERVAL_FLOOR_MS);
  return { headMs: at(head), chainIdMs: at(CHAIN_ID_INTERVAL_MS), latestBlockMs: at(LATEST_BLOCK_INTERVAL_MS), consistencyMs: at(CONSISTENCY_INTERVAL_MS), headPollMs: at(head) };
}

/** Generate, fit and validate the checks of every chain of the profile. Throws BudgetError. */
export function generateChecks(profile: LassoProfile, opts: GenerateOptions): GeneratedChecks[] {
  const files = profile.chains.map((c) => fitChain(profile, c, opts));
  // The set as a whole, under the real budget: what `lasso-canary validate` will say.
  planChecks(files, { targetCount: opts.targetCount, budget: opts.budget });
  return files;
}

/** The chain as checks name it: the profile's key when it is a usable name, else the numeric id (Lasso routes by both). */
function checksChain(c: ProfileChain): string {
  const r = chainFields.chain.safeParse(c.key);
  return r.success && r.data === c.key && !/^\d+$/.test(c.key) ? c.key : String(c.chainId);
}

function fitChain(profile: LassoProfile, c: ProfileChain, opts: GenerateOptions): GeneratedChecks {
  const chain = checksChain(c);
  const fileName = `${chain}.yaml`;
  const blockTimeMs = c.blockTimeMs ?? ASSUMED_BLOCK_TIME_MS;
  let last = { rate: 0, iv: intervalsAt(blockTimeMs, 1) };
  for (const scale of INTERVAL_SCALES) {
    const iv = intervalsAt(blockTimeMs, scale);
    const body = renderBody(profile, c, chain, iv);
    const rate = plannedRate({ fileName, text: body }, opts.targetCount);
    if (rate <= opts.budget) return { fileName, chain, text: renderHeader(profile, c, chain, opts, rate, scale) + body, ratePerSecond: rate, scale };
    last = { rate, iv };
  }
  throw new BudgetError(
    `${profile.file}: chains.${c.key}: even with every interval lengthened x${INTERVAL_SCALES[INTERVAL_SCALES.length - 1]} (eth_blockNumber every ${formatDuration(last.iv.headMs)}) ` +
      `the checks plan ${formatRate(last.rate)} req/s for ${targets(opts.targetCount)}, over the budget of ${formatRate(opts.budget)} req/s per chain (${opts.budgetSource}); ` +
      `raise budget.maxRequestsPerSecondPerChain, probe through fewer targets, or write this chain's checks by hand`,
  );
}

function targets(n: number): string {
  return `${n} target${n === 1 ? "" : "s"}`;
}

/** A YAML scalar that reads back as this exact string (ids such as "true" or "1e3" are quoted). */
function scalar(s: string): string {
  let back: unknown;
  try {
    back = parseYaml(s);
  } catch {
    back = undefined;
  }
  return back === s ? s : JSON.stringify(s);
}

/** Profile text (names) made safe for a one-line comment. */
function commentText(s: string): string {
  const flat = [...s].map((ch) => (ch.charCodeAt(0) < 0x20 || ch === "\u007f" ? " " : ch)).join("").replace(/ +/g, " ").trim();
  return flat.length > 60 ? `${flat.slice(0, 57)}...` : flat;
}

/** `lines` with their `# comments` aligned one column past the longest. */
function aligned(rows: readonly (readonly [string, string | null])[]): string[] {
  const width = Math.max(...rows.map(([code, note]) => (note === null ? 0 : code.length))) + 2;
  return rows.map(([code, note]) => (note === null ? code : `${code.padEnd(width)}# ${note}`));
}

/** Words joined into comment lines of at most ~100 characters. */
function wrapComment(words: readonly string[], indent = "# "): string[] {
  const lines: string[] = [];
  let cur = "";
  for (const w of words) {
    if (cur !== "" && indent.length + cur.length + 1 + w.length > 100) {
      lines.push(indent + cur);
      cur = w;
    } else cur = cur === "" ? w : `${cur} ${w}`;
  }
  if (cur !== "") lines.push(indent + cur);
  return lines;
}

function providerNote(p: ProfileProvider): string {
  const parts = [p.name === null ? null : commentText(p.name), p.priority === null ? null : `priority ${p.priority}`, servesNewHeads(p) ? "newHeads over WebSocket" : null];
  return parts.filter((x) => x !== null).join(", ");
}

function whyNoNewHeads(p: ProfileProvider): string {
  return p.hasWsUrl ? "subscribe_new_heads off" : "no ws_url";
}

function renderHeader(profile: LassoProfile, c: ProfileChain, chain: string, opts: GenerateOptions, rate: number, scale: number): string {
  const base = profile.abs.split(/[\\/]/).pop() ?? profile.file;
  const profileDesc = `slug "${profile.slug}"${profile.name === null ? "" : `, ${commentText(profile.name)}`}`;
  const chainDesc = `chain "${c.key}"${c.name === null ? "" : ` (${commentText(c.name)})`}`;
  const lines = [
    `# ${chain}.yaml: lasso-canary checks for ${chainDesc},`,
    `# generated by lasso-canary ${opts.version} checks-from-profile on ${opts.date.toISOString().slice(0, 10)} from the Lasso profile`,
    `# ${base} (${profileDesc}).`,
    "# A starting point to edit, not a finished plan: review intervals, SLOs and routes, fill in",
    "# the logs watcher example, then run `lasso-canary validate`. Provider URLs are not copied:",
    "# routes name providers by id.",
  ];
  if (profile.slug !== PUBLIC_PROFILE)
    lines.push(
      `# Every route goes through profile "${profile.slug}" (/rpc/profile/${profile.slug}/...). A checks directory`,
      "# declares each chain once: to probe this profile next to the public one, merge these routes",
      "# into that chain's checks file.",
    );
  lines.push(
    "#",
    `# Planned rate: ${formatRate(rate)} req/s for ${targets(opts.targetCount)}, within the budget of ${formatRate(opts.budget)} req/s per chain`,
    `# (${opts.budgetSource}).`,
  );
  if (scale !== 1) lines.push(`# Intervals were lengthened x${scale} from the block-time defaults to fit it.`);
  if (chain !== c.key) lines.push(`# Chain named by its id: the profile's key "${commentText(c.key)}" is not usable as a checks chain name.`);
  return `${lines.join("\n")}\n`;
}

function renderBody(profile: LassoProfile, c: ProfileChain, chain: string, iv: Intervals): string {
  const profileSlug = profile.slug === PUBLIC_PROFILE ? undefined : profile.slug;
  const inProfile = profileSlug === undefined ? "" : `, profile: ${scalar(profileSlug)}`;
  const strategies = ["default", "fastest"] as const;
  const out: string[] = [];

  out.push(`chain: ${scalar(chain)}`, `chainId: ${c.chainId}`);
  out.push(c.blockTimeMs === null ? `blockTimeMs: ${formatDuration(ASSUMED_BLOCK_TIME_MS)}   # not in the profile: assumed; set the chain's block time` : `blockTimeMs: ${formatDuration(c.blockTimeMs)}`);
  if (c.maxLagBlocks !== null && c.maxLagBlocks > DEFAULT_HEAD_LAG_BLOCKS)
    out.push("", `slo: { maxHeadLagBlocks: ${c.maxLagBlocks} }   # the profile's selection.max_lag_blocks: Lasso may serve a head this far behind`);

  out.push("", "routes:");
  out.push(
    ...aligned([
      ...strategies.map((s) => [`  - { strategy: ${s}${inProfile} }`, routePath({ strategy: s, profile: profileSlug }, chain)] as const),
      ["  # One pin per provider: a pinned request never fails over, so each measures one upstream.", null] as const,
      ...c.providers.map((p) => [`  - { provider: ${scalar(p.id)}${inProfile} }`, providerNote(p) || null] as const),
    ]),
  );

  out.push(
    "",
    "probes:",
    "  - method: eth_blockNumber",
    `    interval: ${formatDuration(iv.headMs)}`,
    "    routes: all",
    "    assert: [shape: quantity, monotonicHead, freshness]",
    "  - method: eth_chainId",
    `    interval: ${formatDuration(iv.chainIdMs)}`,
    "    routes: pinned                 # unpinned, Lasso answers eth_chainId itself",
    "    assert: [chainId]",
    "  - method: eth_getBlockByNumber",
    '    params: ["latest", false]',
    `    interval: ${formatDuration(iv.latestBlockMs)}`,
    "    routes: strategies",
    "    assert: [shape: block]",
  );

  out.push("");
  const depth = Math.max(DEFAULT_CONSISTENCY_DEPTH, 2 * (c.maxLagBlocks ?? 0));
  if (profileSlug !== undefined) out.push(`# No consistency: it compares the public profile's pins only (profile "${profileSlug}" may be fault-injected).`);
  else if (c.providers.length < 2) out.push("# No consistency: it needs two providers to compare block hashes.");
  else out.push(`# The pinned providers must agree on the hash of block (head - ${depth}).`, `consistency: { interval: ${formatDuration(iv.consistencyMs)}, depth: ${depth} }`);

  out.push("", ...renderWatchers(c, chain, profileSlug, iv));
  return `${out.join("\n")}\n`;
}

function renderWatchers(c: ProfileChain, chain: string, profileSlug: string | undefined, iv: Intervals): string[] {
  const capable = c.providers.filter(servesNewHeads);
  const others = c.providers.filter((p) => !servesNewHeads(p));
  const defaultRoute = routeName({ strategy: "default", profile: profileSlug });
  const out: string[] = [];
  const logsExample = [
    "- subscription: logs",
    "  name: transfers",
    `  routes: [${defaultRoute}]`,
    "  filter:",
    '    address: "0x<contract address>"',
    '    topics: ["0x<event signature hash>"]',
  ];
  const logsIntro = "A logs watcher needs a contract that emits events every few blocks; fill in and uncomment:";
  if (capable.length === 0) {
    out.push(
      `# No newHeads watcher: no provider of ${chain} can serve subscriptions (ws_url and subscribe_new_heads);`,
      "# Lasso would accept a subscribe on the default route and never send an event. Once one can:",
      "# watchers:",
      `#   - { subscription: newHeads, routes: [${defaultRoute}] }`,
      `#   # ${logsIntro}`,
      ...logsExample.map((l) => `#   ${l}`),
    );
    return out;
  }
  out.push(
    "# newHeads through the default strategy (Lasso's shared upstream, with failover and backfill)",
    "# and pinned to each provider that can serve subscriptions (ws_url and subscribe_new_heads).",
  );
  if (others.length > 0) out.push(...wrapComment(["Not pinned (Lasso refuses a pinned subscribe to them):", ...others.map((p, i) => `${p.id} (${whyNoNewHeads(p)})${i < others.length - 1 ? "," : "."}`)]));
  const routes = [defaultRoute, ...capable.map((p) => routeName({ provider: p.id, profile: profileSlug }))];
  out.push(
    `watch: { headPollInterval: ${formatDuration(iv.headPollMs)}, confirmationsPerMinute: ${CONFIRMATIONS_PER_MINUTE} }`,
    "watchers:",
    `  - { subscription: newHeads, routes: [${routes.map(scalar).join(", ")}] }`,
    `  # ${logsIntro}`,
    ...logsExample.map((l) => `  # ${l}`),
  );
  return out;
}
