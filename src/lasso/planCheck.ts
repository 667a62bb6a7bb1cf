/**
 * Checks the plan against what each target actually serves: the chains Lasso lists in
 * `/api/chains`, and one request per route of the plan (probe and watcher routes alike).
 * A chain, provider or profile the target does not know is a plan mismatch: our
 * configuration's fault, reported with the fix, never counted as Lasso's outage.
 */
import { displayFile } from "../plan/errors.js";
import type { Plan, Route } from "../plan/index.js";
import { isPlanMismatch } from "../probes/probe.js";
import { getJson } from "./httpGet.js";
import type { RpcHttpClient } from "./rpcClient.js";
import { routeUrl } from "./urls.js";

export type MismatchKind = "chain" | "provider" | "profile" | "chain_id";

export interface PlanMismatch {
  target: string;
  chain: string;
  /** Route name; null when the mismatch concerns the chain as a whole (chain_id). */
  route: string | null;
  kind: MismatchKind;
  /** What the target said. */
  detail: string;
  /** What to change, and where. */
  fix: string;
  /** When this mismatch was first seen (ms). */
  since: number;
}

/** One `/api/chains` entry (docs/lasso-contract.md): chain_id is a decimal string. */
interface LassoChain {
  chainId: string | null;
  names: string[];
}

export interface PlanCheckOptions {
  plan: Plan;
  client: RpcHttpClient;
  /** Called when a mismatch appears or clears (once each), for the log. */
  onChange?: (appeared: PlanMismatch[], cleared: PlanMismatch[]) => void;
  /** A target could not be checked (down, /api/chains unreadable): not a mismatch. */
  onCheckFailed?: (target: string, reason: string) => void;
  /** Counts to continue (the daemon keeps one across reloads); default: a new one. */
  stats?: PlanCheckStats;
  now?: () => number;
  timeoutMs?: number;
}

export interface PlanCheckStats {
  /** Per target: completed checks by result. */
  runs: Map<string, { ok: number; mismatch: number; failed: number }>;
}

const DEFAULT_TIMEOUT_MS = 5000;

export class PlanChecker {
  private mismatches = new Map<string, PlanMismatch>();
  readonly stats: PlanCheckStats;
  private readonly now: () => number;

  constructor(private readonly opts: PlanCheckOptions) {
    this.now = opts.now ?? Date.now;
    // Shared stats outlive this checker (a reload replaces it): its counts continue them.
    this.stats = opts.stats ?? { runs: new Map() };
    for (const t of opts.plan.targets) if (!this.stats.runs.has(t.name)) this.stats.runs.set(t.name, { ok: 0, mismatch: 0, failed: 0 });
  }

  /** Mismatches found by the last check of each target. */
  current(): PlanMismatch[] {
    return [...this.mismatches.values()];
  }

  /** True when the last check found `route` of `chain` unknown to `target`. */
  isMismatched(target: string, chain: string, route: string): boolean {
    return this.mismatches.has(key(target, chain, route));
  }

  /** Checks every target once (targets in parallel, routes of a target one after another). */
  async checkAll(): Promise<void> {
    await Promise.all(this.opts.plan.targets.map((t) => this.checkTarget(t.name)));
  }

  private async checkTarget(targetName: string): Promise<void> {
    const { plan, client } = this.opts;
    const target = plan.targets.find((t) => t.name === targetName);
    if (!target) return;
    const timeoutMs = this.opts.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    const runs = this.stats.runs.get(targetName);
    if (runs === undefined) return;
    const listed = await getJson(routeUrl(target.url, "/api/chains"), target.headers, timeoutMs);
    const known = listed.ok ? parseChains(listed.body) : null;
    if (known === null) {
      runs.failed += 1;
      this.opts.onCheckFailed?.(targetName, listed.ok ? "/api/chains: not the expected {chains: [...]} document" : `/api/chains: ${listed.error}`);
      return;
    }
    const found: PlanMismatch[] = [];
    for (const chain of plan.chains) {
      if (!chain.targets.includes(targetName)) continue;
      const file = displayFile(chain.file);
      const listedChain = known.find((c) => c.names.includes(chain.chain) || c.chainId === chain.chain);
      if (listedChain?.chainId != null && Number(listedChain.chainId) !== chain.chainId) {
        found.push(this.mismatch(targetName, chain.chain, null, "chain_id",
          `/api/chains lists ${chain.chain} as chain id ${listedChain.chainId}`,
          `${file}: chainId is ${chain.chainId}; set it to ${listedChain.chainId} if Lasso is right, or fix the chain in Lasso's profile`));
      }
      for (const route of chain.routes) {
        const call = await client.call(routeUrl(target.url, route.path, { transport: route.transport }), "eth_chainId", [], timeoutMs, target.headers);
        if (!isPlanMismatch(call)) continue;
        const said = (call.errorDetail ?? "").slice(0, 200);
        found.push(this.routeMismatch(targetName, chain.chain, route, { status: call.httpStatus, said }, listedChain !== undefined, file, known));
      }
    }
    if (found.length > 0) runs.mismatch += 1;
    else runs.ok += 1;
    this.replace(targetName, found);
  }

  /** Lasso refuses an unknown profile with HTTP 404, an unknown chain or provider with 400 (docs/lasso-contract.md). */
  private routeMismatch(
    target: string, chain: string, route: Route, answer: { status: number | null; said: string }, chainListed: boolean, file: string, known: LassoChain[],
  ): PlanMismatch {
    const said = answer.said;
    const inProfile = route.profile !== undefined ? ` in profile "${route.profile}"` : "";
    if (answer.status === 404)
      return this.mismatch(target, chain, route.name, "profile", said,
        `Lasso has no profile "${route.profile}": deploy it in Lasso (config/profiles/${route.profile}.yml) or remove the routes with profile: ${route.profile} from ${file}`);
    if (route.kind === "pin" && (chainListed || route.profile !== undefined) && !/unknown chain/i.test(said))
      return this.mismatch(target, chain, route.name, "provider", said,
        `Lasso has no provider "${route.provider}" on ${chain}${inProfile}: fix the provider id or remove { provider: ${route.provider} } from ${file} (lasso-canary checks-from-profile writes pins from Lasso's profile file)`);
    const names = known.flatMap((c) => c.names.slice(0, 1)).join(", ");
    return this.mismatch(target, chain, route.name, "chain", said,
      `Lasso does not serve chain "${chain}"${inProfile} (it lists: ${names || "none"}): fix "chain:" in ${file} or add the chain to Lasso's profile`);
  }

  private mismatch(target: string, chain: string, route: string | null, kind: MismatchKind, detail: string, fix: string): PlanMismatch {
    const prev = this.mismatches.get(key(target, chain, route));
    return { target, chain, route, kind, detail, fix, since: prev?.since ?? this.now() };
  }

  /** The target's mismatches become `found`; what appeared or cleared is reported once. */
  private replace(target: string, found: PlanMismatch[]): void {
    const appeared: PlanMismatch[] = [];
    const cleared: PlanMismatch[] = [];
    const next = new Map<string, PlanMismatch>();
    for (const [k, m] of this.mismatches) if (m.target !== target) next.set(k, m);
    for (const m of found) {
      const k = key(m.target, m.chain, m.route);
      if (!this.mismatches.has(k)) appeared.push(m);
      next.set(k, m);
    }
    for (const [k, m] of this.mismatches) if (m.target === target && !next.has(k)) cleared.push(m);
    this.mismatches = next;
    if (appeared.length > 0 || cleared.length > 0) this.opts.onChange?.(appeared, cleared);
  }
}

function key(target: string, chain: string, route: string | null): string {
  return `${target}\u0000${chain}\u0000${route ?? ""}`;
}

/** `{chains: [{chain_id, name, chain_name, ...}]}`; null when the document has another shape. */
export function parseChains(body: unknown): LassoChain[] | null {
  if (typeof body !== "object" || body === null || !("chains" in body) || !Array.isArray(body.chains)) return null;
  const out: LassoChain[] = [];
  for (const c of body.chains as unknown[]) {
    if (typeof c !== "object" || c === null) return null;
    const rec = c as Record<string, unknown>;
    const names = [rec.chain_name, rec.name].filter((n): n is string => typeof n === "string" && n !== "");
    const id = rec.chain_id;
    out.push({ chainId: typeof id === "string" || typeof id === "number" ? String(id) : null, names });
  }
  return out;
}
