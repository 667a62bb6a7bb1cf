import type { Transport } from "../plan/types.js";

export interface RouteUrlOptions {
  websocket?: boolean;
  includeMeta?: boolean;
  /** Upstream channel to request; "any" (or absent) sends no parameter and lets Lasso pick. */
  transport?: Transport;
}

/**
 * A route URL: the target's base URL (its own path prefix and query, which may carry an
 * API key, kept) with a Lasso route path appended. Contains secrets: never log it.
 */
export function routeUrl(targetUrl: string, path: string, opts: RouteUrlOptions = {}): string {
  const url = new URL(targetUrl);
  if (opts.websocket) url.protocol = url.protocol === "https:" ? "wss:" : "ws:";
  url.pathname = url.pathname.replace(/\/+$/, "") + path;
  if (opts.includeMeta) url.searchParams.set("include_meta", "headers");
  if (opts.transport !== undefined && opts.transport !== "any") url.searchParams.set("transport", opts.transport);
  return url.toString();
}
