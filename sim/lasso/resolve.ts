/** Resolves a parsed route against the configured profiles, with Lasso's error answers. */
import { rpcError, type RpcFailure } from "./jsonrpc.js";
import type { ChainRuntime, ProviderPool, ProviderRuntime } from "./providerPool.js";
import type { RouteSpec, Strategy } from "./routes.js";

export interface ResolvedRoute {
  chain: ChainRuntime;
  strategy: Strategy | null;
  pinned: ProviderRuntime | null;
}

export type Resolution = { ok: true; route: ResolvedRoute } | { ok: false; status: number; body: RpcFailure };

/**
 * Error answers as in Lasso's code:
 * - unknown profile: HTTP 404, -32000 "Profile '<slug>' not found", data.error_type
 *   "profile_not_found" (ProfileResolverPlug + ProfileValidator);
 * - unknown chain: HTTP 400, -32602 "Unsupported chain: Unknown chain '<c>' in profile '<p>'";
 * - unknown pinned provider: HTTP 400, -32602 "Unsupported chain: Provider '<id>' is not
 *   configured for this chain" (RPCController.validate_provider_override/3).
 */
export function resolveRoute(pool: ProviderPool, spec: RouteSpec): Resolution {
  if (!pool.profile(spec.profile)) {
    return { ok: false, status: 404, body: rpcError(null, -32000, `Profile '${spec.profile}' not found`, { error_type: "profile_not_found" }) };
  }
  const chain = pool.chain(spec.profile, spec.chain);
  if (!chain) {
    return { ok: false, status: 400, body: rpcError(null, -32602, `Unsupported chain: Unknown chain '${spec.chain}' in profile '${spec.profile}'`) };
  }
  let pinned: ProviderRuntime | null = null;
  if (spec.providerId !== null) {
    pinned = chain.provider(spec.providerId) ?? null;
    if (!pinned) {
      return { ok: false, status: 400, body: rpcError(null, -32602, `Unsupported chain: Provider '${spec.providerId}' is not configured for this chain`) };
    }
  }
  return { ok: true, route: { chain, strategy: spec.strategy, pinned } };
}
