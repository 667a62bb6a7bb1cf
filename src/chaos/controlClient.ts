/**
 * FaultControl over the fault proxy process's loopback control API (src/proxy/controlApi.ts).
 * Every call has a deadline; every failure is a ControlError saying which call, and why,
 * with the address redacted.
 */
import http from "node:http";
import { z } from "zod";
import { redactUrl } from "../plan/redact.js";
import type { FaultControl, ProxyInfo, TrafficBucket } from "./control.js";
import { faultSchema, type Fault } from "./faults.js";

export const DEFAULT_CONTROL_TIMEOUT_MS = 2_000;
/** Answers are small (a list of proxies, at most an hour of one-second buckets). */
const MAX_ANSWER_BYTES = 8 * 1024 * 1024;

export class ControlError extends Error {
  constructor(
    message: string,
    /** HTTP status of the answer; null when there was none (refused, timeout). */
    readonly status: number | null,
  ) {
    super(message);
    this.name = "ControlError";
  }
}

const proxyInfoSchema = z.object({
  chain: z.string(),
  provider: z.string(),
  httpUrl: z.string(),
  wsUrl: z.string().nullable(),
  fault: faultSchema.nullable(),
  expiresAt: z.number().nullable(),
});
const trafficSchema = z.array(z.object({ at: z.number(), forwarded: z.number(), faulted: z.number(), notifications: z.number().optional() }));
const leaseSchema = z.object({ expiresAt: z.number() });

export interface ProxyControlOptions {
  /** Base URL of the control API, e.g. http://127.0.0.1:9470. */
  url: string;
  token: string;
  timeoutMs?: number;
}

export class ProxyControlClient implements FaultControl {
  readonly #base: URL;
  readonly #token: string;
  readonly #timeoutMs: number;

  constructor(opts: ProxyControlOptions) {
    let base: URL;
    try {
      base = new URL(opts.url);
    } catch {
      throw new ControlError(`proxy control URL ${redactUrl(opts.url)} is not a URL`, null);
    }
    if (base.protocol !== "http:") throw new ControlError(`proxy control URL ${redactUrl(opts.url)} must be http:// (the control API listens on loopback)`, null);
    this.#base = base;
    this.#token = opts.token;
    this.#timeoutMs = opts.timeoutMs ?? DEFAULT_CONTROL_TIMEOUT_MS;
  }

  async list(): Promise<ProxyInfo[]> {
    return parse(z.array(proxyInfoSchema), await this.#call("GET", "/v1/proxies"), "GET /v1/proxies");
  }

  async setFault(chain: string, provider: string, fault: Fault, leaseMs: number, until: number): Promise<{ expiresAt: number }> {
    const path = `${proxyPath(chain, provider)}/fault`;
    return parse(leaseSchema, await this.#call("PUT", path, { fault, leaseMs, until }), `PUT ${path}`);
  }

  async clearFault(chain: string, provider: string): Promise<void> {
    await this.#call("DELETE", `${proxyPath(chain, provider)}/fault`);
  }

  async traffic(chain: string, provider: string, since: number): Promise<TrafficBucket[]> {
    const path = `${proxyPath(chain, provider)}/traffic?since=${Math.floor(since)}`;
    return parse(trafficSchema, await this.#call("GET", path), `GET ${path}`);
  }

  #call(method: string, path: string, body?: unknown): Promise<unknown> {
    const what = `proxy control ${method} ${path.replace(/\?.*$/, "")} at ${redactUrl(this.#base.origin)}`;
    const payload = body === undefined ? undefined : JSON.stringify(body);
    return new Promise((resolve, reject) => {
      const req = http.request(
        new URL(path, this.#base),
        {
          method,
          timeout: this.#timeoutMs,
          headers: { authorization: `Bearer ${this.#token}`, accept: "application/json", ...(payload === undefined ? {} : { "content-type": "application/json", "content-length": Buffer.byteLength(payload) }) },
        },
        (res) => {
          const chunks: Buffer[] = [];
          let size = 0;
          res.on("data", (chunk: Buffer) => {
            size += chunk.length;
            if (size > MAX_ANSWER_BYTES) req.destroy(new Error(`answer over ${MAX_ANSWER_BYTES} bytes`));
            else chunks.push(chunk);
          });
          res.on("error", (err) => reject(new ControlError(`${what}: ${err.message}`, res.statusCode ?? null)));
          res.on("end", () => {
            const text = Buffer.concat(chunks).toString("utf8");
            const status = res.statusCode ?? 0;
            let value: unknown = undefined;
            try {
              value = text === "" ? undefined : (JSON.parse(text) as unknown);
            } catch {
              if (status >= 200 && status < 300) return reject(new ControlError(`${what}: HTTP ${status} with a body that is not JSON`, status));
            }
            if (status >= 200 && status < 300) return resolve(value);
            const error = value !== null && typeof value === "object" && "error" in value && typeof value.error === "string" ? value.error : `HTTP ${status}`;
            reject(new ControlError(`${what}: HTTP ${status}: ${redactUrl(error)}`, status));
          });
        },
      );
      req.on("timeout", () => req.destroy(new Error(`no answer within ${this.#timeoutMs} ms`)));
      req.on("error", (err: NodeJS.ErrnoException) => reject(new ControlError(`${what}: ${err.code ?? err.message}`, null)));
      req.end(payload);
    });
  }
}

function proxyPath(chain: string, provider: string): string {
  return `/v1/proxies/${encodeURIComponent(chain)}/${encodeURIComponent(provider)}`;
}

function parse<T>(schema: z.ZodType<T>, value: unknown, what: string): T {
  const r = schema.safeParse(value);
  if (!r.success) throw new ControlError(`proxy control ${what}: unexpected answer (${r.error.issues[0]?.message ?? "invalid"})`, 200);
  return r.data;
}
