/** URL parsing for Lasso's HTTP (`/rpc/...`) and WebSocket (`/ws/rpc/...`) routes. */

export type Strategy = "load_balanced" | "fastest" | "latency_weighted";

export const DEFAULT_PROFILE = "public";
/** Lasso's default strategy in code (`Helpers.default_provider_strategy/0`). */
export const DEFAULT_STRATEGY: Strategy = "load_balanced";

const STRATEGY_TOKENS: Record<string, Strategy> = {
  fastest: "fastest",
  "load-balanced": "load_balanced",
  "round-robin": "load_balanced", // alias of load-balanced in Lasso's router
  "latency-weighted": "latency_weighted",
};

export interface RouteSpec {
  profile: string;
  chain: string;
  /** null: the route names no strategy (default route or pinned route). */
  strategy: Strategy | null;
  /** Set for provider-pinned routes. */
  providerId: string | null;
}

/**
 * Parses the path segments after `/rpc` (or `/ws/rpc`). Mirrors the order of Lasso's
 * Phoenix router: strategy routes, `/provider/:id/:chain`, `/:chain/:id`, `/:chain`,
 * each optionally under `/profile/:profile`.
 */
export function parseRouteSegments(segments: string[]): RouteSpec | null {
  let profile = DEFAULT_PROFILE;
  let s = segments;
  if (s[0] === "profile") {
    if (s.length < 3 || !s[1]) return null;
    profile = s[1];
    s = s.slice(2);
  }
  if (s.some((x) => x.length === 0)) return null;
  if (s.length === 1 && s[0]) return { profile, chain: s[0], strategy: null, providerId: null };
  if (s.length === 2 && s[0] && s[1]) {
    const strategy = STRATEGY_TOKENS[s[0]];
    if (strategy) return { profile, chain: s[1], strategy, providerId: null };
    return { profile, chain: s[0], strategy: null, providerId: s[1] };
  }
  if (s.length === 3 && s[0] === "provider" && s[1] && s[2]) {
    return { profile, chain: s[2], strategy: null, providerId: s[1] };
  }
  return null;
}

/** Splits a URL path into decoded segments, ignoring a trailing slash. Null on bad escapes. */
export function pathSegments(pathname: string): string[] | null {
  const trimmed = pathname.replace(/\/+$/, "");
  const raw = trimmed.split("/").slice(1);
  try {
    return raw.map((x) => decodeURIComponent(x));
  } catch {
    return null;
  }
}

/** `/rpc/...` -> RouteSpec; anything else -> null. */
export function parseHttpRpcPath(pathname: string): RouteSpec | null {
  const seg = pathSegments(pathname);
  if (!seg || seg[0] !== "rpc") return null;
  return parseRouteSegments(seg.slice(1));
}

/** `/ws/rpc/...` -> RouteSpec; anything else -> null. */
export function parseWsRpcPath(pathname: string): RouteSpec | null {
  const seg = pathSegments(pathname);
  if (!seg || seg[0] !== "ws" || seg[1] !== "rpc") return null;
  return parseRouteSegments(seg.slice(2));
}
