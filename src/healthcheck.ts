/**
 * `lasso-canary healthcheck`: liveness of a running daemon, for a container HEALTHCHECK.
 * The address comes from the same config (and ${ENV}) the daemon was started with, so the
 * check follows CANARY_LISTEN or an edited `listen:` instead of a port baked into the image.
 * It asks /healthz (liveness), never /readyz: a canary that cannot reach Lasso is doing its
 * job, and restarting it would not make Lasso answer.
 */
import http from "node:http";

export interface ListenAddress {
  host: string;
  port: number;
}

/** The daemon's /healthz URL; a wildcard bind (0.0.0.0, ::) is reached on loopback. */
export function healthzUrl(listen: ListenAddress): string {
  if (listen.port === 0) throw new Error(`listen ${listen.host}:0 picks a free port at start-up: give the daemon a fixed port to health-check it`);
  const host = listen.host === "0.0.0.0" ? "127.0.0.1" : listen.host === "::" ? "::1" : listen.host;
  return `http://${host.includes(":") ? `[${host}]` : host}:${listen.port}/healthz`;
}

/**
 * null when /healthz answered 200 within `timeoutMs`; otherwise why not, in one line.
 * node:http, not fetch: fetch refuses the "bad ports" of the Fetch standard (e.g. 6000),
 * which are fine for a daemon to listen on.
 */
export function checkHealth(url: string, timeoutMs: number): Promise<string | null> {
  return new Promise((resolve) => {
    const req = http.get(url, { timeout: timeoutMs }, (res) => {
      res.resume();
      resolve(res.statusCode === 200 ? null : `${url} answered HTTP ${res.statusCode}`);
    });
    req.on("timeout", () => req.destroy(new Error(`no answer within ${timeoutMs} ms`)));
    req.on("error", (err: NodeJS.ErrnoException) => resolve(`${url}: ${err.code ?? err.message}`));
  });
}
