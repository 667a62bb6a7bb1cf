/**
 * The fault proxy process as the tests run it: a child `node --import tsx src/cli.ts proxy`
 * on a free port range, plain node:http JSON calls (fetch refuses some ports), and a check
 * that a range of ports is free.
 */
import { spawn, type ChildProcess } from "node:child_process";
import http from "node:http";
import { createServer, type Server } from "node:net";
import { waitFor } from "./waitFor.js";

export const CLI = ["--import", "tsx", "src/cli.ts"];

function listenOn(port: number): Promise<Server | null> {
  return new Promise((resolve) => {
    const s = createServer();
    s.once("error", () => resolve(null));
    s.listen(port, "127.0.0.1", () => resolve(s));
  });
}

/**
 * `n` consecutive ports free on 127.0.0.1 (bound and released): a random start in a range
 * far from ephemeral ports, so parallel test files rarely pick the same one.
 */
export async function freePortRange(n: number): Promise<number> {
  for (let attempt = 0; attempt < 50; attempt++) {
    const base = 20_000 + Math.floor(Math.random() * 10_000);
    const held: Server[] = [];
    let ok = true;
    for (let p = base; p < base + n; p++) {
      const s = await listenOn(p);
      if (s === null) {
        ok = false;
        break;
      }
      held.push(s);
    }
    await Promise.all(held.map((s) => new Promise<void>((resolve) => s.close(() => resolve()))));
    if (ok) return base;
  }
  throw new Error(`no ${n} consecutive free ports found`);
}

export interface HttpAnswer {
  status: number;
  text: string;
  json: unknown;
}

export function httpCall(url: string, opts: { method?: string; body?: unknown; token?: string; timeoutMs?: number } = {}): Promise<HttpAnswer> {
  const payload = opts.body === undefined ? undefined : typeof opts.body === "string" ? opts.body : JSON.stringify(opts.body);
  return new Promise((resolve, reject) => {
    const req = http.request(
      url,
      {
        method: opts.method ?? (payload === undefined ? "GET" : "POST"),
        timeout: opts.timeoutMs ?? 5000,
        headers: {
          ...(payload === undefined ? {} : { "content-type": "application/json" }),
          ...(opts.token === undefined ? {} : { authorization: `Bearer ${opts.token}` }),
        },
      },
      (res) => {
        let text = "";
        res.setEncoding("utf8");
        res.on("data", (d: string) => (text += d));
        res.on("end", () => {
          let json: unknown = undefined;
          try {
            json = JSON.parse(text) as unknown;
          } catch {
            json = undefined;
          }
          resolve({ status: res.statusCode ?? 0, text, json });
        });
      },
    );
    req.on("timeout", () => req.destroy(new Error(`no answer from ${url} within ${opts.timeoutMs ?? 5000} ms`)));
    req.on("error", reject);
    req.end(payload);
  });
}

/** POSTs one JSON-RPC call; status and the parsed answer. */
export function rpc(url: string, method: string, params: unknown[] = []): Promise<HttpAnswer> {
  return httpCall(url, { body: { jsonrpc: "2.0", id: 1, method, params } });
}

export interface ProxyChild {
  child: ChildProcess;
  /** stdout + stderr so far. */
  output(): string;
  exited: Promise<number | null>;
}

/** Spawns `lasso-canary proxy --config <config>` and waits for its "started" log line. */
export async function startProxyChild(config: string, env: Record<string, string>): Promise<ProxyChild> {
  const child = spawn(process.execPath, [...CLI, "proxy", "--config", config], { env: { PATH: process.env.PATH ?? "/usr/bin:/bin", ...env }, stdio: ["ignore", "pipe", "pipe"] });
  let out = "";
  child.stdout.on("data", (d: Buffer) => (out += d.toString()));
  child.stderr.on("data", (d: Buffer) => (out += d.toString()));
  const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
  let gone = false;
  void exited.then(() => (gone = true));
  await waitFor(
    () => {
      if (gone) throw new Error(`the proxy process exited:\n${out}`);
      return out.includes("fault proxies started");
    },
    { timeoutMs: 60_000, message: "the proxy process's started line" },
  );
  return { child, output: () => out, exited };
}

/** SIGKILLs a child (when still running) and waits for its exit. */
export async function killChild(c: { child: ChildProcess; exited: Promise<number | null> }): Promise<void> {
  if (c.child.exitCode === null && c.child.signalCode === null) c.child.kill("SIGKILL");
  await c.exited;
}
