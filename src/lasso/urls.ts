/**
 * A route URL: the target's base URL (its own path prefix and query, which may carry an
 * API key, kept) with a Lasso route path appended. Contains secrets: never log it.
 */
export function routeUrl(targetUrl: string, path: string, opts: { websocket?: boolean; includeMeta?: boolean } = {}): string {
  const url = new URL(targetUrl);
  if (opts.websocket) url.protocol = url.protocol === "https:" ? "wss:" : "ws:";
  url.pathname = url.pathname.replace(/\/+$/, "") + path;
  if (opts.includeMeta) url.searchParams.set("include_meta", "headers");
  return url.toString();
}
