/**
 * Alertmanager silences for chaos windows (Alertmanager API v2): a window may silence the
 * alerts its own fault will raise. The silence is created for the window's duration and
 * expired as soon as the window ends; if the daemon dies in between, Alertmanager ends it at
 * `endsAt` by itself, so a crash never leaves alerts silenced past the window.
 *
 * Nothing here throws: Alertmanager being down, slow or answering nonsense is a SilenceResult
 * with an error for the runner to log and persist, never a reason to stop a window.
 */
import http from "node:http";
import https from "node:https";
import { redactUrl } from "../plan/redact.js";
import type { WindowSpec } from "./windowTypes.js";

export type SilenceMatcher = NonNullable<WindowSpec["silence"]>["matchers"][number];

export interface SilenceRequest {
  matchers: SilenceMatcher[];
  startsAt: Date;
  endsAt: Date;
  createdBy: string;
  comment: string;
}

export type SilenceResult = { ok: true; id: string } | { ok: false; error: string };
export type ExpireResult = { ok: true } | { ok: false; error: string };

export interface AlertmanagerOptions {
  /** Base URL, e.g. http://127.0.0.1:9093 (a path prefix is kept: http://host/alertmanager). */
  url: string;
  /** Per call, connect to last byte; default 5 s. */
  timeoutMs?: number;
}

const DEFAULT_TIMEOUT_MS = 5000;
/** Longest answer read: Alertmanager's are tiny; anything longer is cut (and then not JSON). */
const MAX_ANSWER_BYTES = 64 * 1024;
/** Bytes of an error answer quoted in the result. */
const MAX_QUOTED = 300;
/** Alertmanager silence ids are UUIDs. */
const SILENCE_ID_RE = /^[0-9A-Za-z-]{1,64}$/;

export const SILENCE_CREATED_BY = "lasso-canary";

/** The silence a chaos window asks for, from its start to its planned end. */
export function windowSilence(spec: WindowSpec, startsAt: number, endsAt: number): SilenceRequest | null {
  if (spec.silence === null) return null;
  const comment = `${spec.silence.comment === "" ? "" : `${spec.silence.comment} `}(lasso-canary chaos window ${spec.name}: ${spec.fault.kind} on ${spec.chain}/${spec.provider})`;
  return { matchers: spec.silence.matchers, startsAt: new Date(startsAt), endsAt: new Date(endsAt), createdBy: SILENCE_CREATED_BY, comment };
}

/** POST /api/v2/silences; the id Alertmanager gave the silence. */
export async function createSilence(am: AlertmanagerOptions, silence: SilenceRequest): Promise<SilenceResult> {
  if (silence.matchers.length === 0) return { ok: false, error: "a silence needs at least one matcher" };
  if (!(silence.endsAt.getTime() > silence.startsAt.getTime())) return { ok: false, error: "a silence must end after it starts" };
  const body = JSON.stringify({
    matchers: silence.matchers.map(({ name, value, isRegex, isEqual }) => ({ name, value, isRegex, isEqual })),
    startsAt: silence.startsAt.toISOString(),
    endsAt: silence.endsAt.toISOString(),
    createdBy: silence.createdBy,
    comment: silence.comment,
  });
  const r = await call(am, "POST", "api/v2/silences", body);
  if (!r.ok) return r;
  let id: unknown;
  try {
    id = (JSON.parse(r.text) as { silenceID?: unknown } | null)?.silenceID;
  } catch {
    id = undefined;
  }
  if (typeof id !== "string" || !SILENCE_ID_RE.test(id)) return { ok: false, error: `alertmanager at ${redactUrl(am.url)} answered without a silence id: ${quote(r.text)}` };
  return { ok: true, id };
}

/** DELETE /api/v2/silence/{id}: ends the silence now (Alertmanager keeps it as expired). */
export async function expireSilence(am: AlertmanagerOptions, id: string): Promise<ExpireResult> {
  if (!SILENCE_ID_RE.test(id)) return { ok: false, error: `not a silence id: ${quote(id)}` };
  const r = await call(am, "DELETE", `api/v2/silence/${encodeURIComponent(id)}`, undefined);
  return r.ok ? { ok: true } : r;
}

async function call(am: AlertmanagerOptions, method: "POST" | "DELETE", path: string, body: string | undefined): Promise<{ ok: true; text: string } | { ok: false; error: string }> {
  const where = `alertmanager at ${redactUrl(am.url)}`;
  let url: URL;
  try {
    url = new URL(path, am.url.endsWith("/") ? am.url : `${am.url}/`);
  } catch {
    return { ok: false, error: `${where}: not a valid URL` };
  }
  const headers: Record<string, string> = { accept: "application/json" };
  if (body !== undefined) headers["content-type"] = "application/json";
  if (url.username !== "" || url.password !== "") {
    headers.authorization = `Basic ${Buffer.from(`${decodeURIComponent(url.username)}:${decodeURIComponent(url.password)}`).toString("base64")}`;
    url.username = "";
    url.password = "";
  }
  const timeoutMs = am.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  const r = await send(url, method, headers, body, timeoutMs);
  if (!r.ok) return { ok: false, error: `${where} unreachable (${method} /${path}): ${r.reason}` };
  if (r.status < 200 || r.status > 299) return { ok: false, error: `${where} answered HTTP ${r.status} to ${method} /${path}: ${quote(r.text)}` };
  return { ok: true, text: r.text };
}

/**
 * One request with node's own http client: silences are rare, and undici's package index
 * (fetch, WebSocket, caches) would cost the daemon ~7 MB of RSS for them. Never throws.
 */
function send(url: URL, method: string, headers: Record<string, string>, body: string | undefined, timeoutMs: number):
  Promise<{ ok: true; status: number; text: string } | { ok: false; reason: string }> {
  return new Promise((resolve) => {
    let settled = false;
    const done = (r: { ok: true; status: number; text: string } | { ok: false; reason: string }): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      resolve(r);
    };
    const req = (url.protocol === "https:" ? https : http).request(url, { method, headers }, (res) => {
      const chunks: Buffer[] = [];
      let size = 0;
      res.on("data", (c: Buffer) => {
        if (size < MAX_ANSWER_BYTES) chunks.push(c);
        size += c.length;
      });
      res.on("error", (err: NodeJS.ErrnoException) => done({ ok: false, reason: err.code ?? err.message }));
      res.on("end", () => done({ ok: true, status: res.statusCode ?? 0, text: Buffer.concat(chunks).subarray(0, MAX_ANSWER_BYTES).toString("utf8") }));
    });
    req.on("error", (err: NodeJS.ErrnoException) => done({ ok: false, reason: err.code ?? err.message }));
    const timer = setTimeout(() => {
      req.destroy();
      done({ ok: false, reason: `no answer within ${timeoutMs} ms` });
    }, timeoutMs);
    req.end(body);
  });
}

function quote(text: string): string {
  const t = text.trim();
  return JSON.stringify(t.length > MAX_QUOTED ? `${t.slice(0, MAX_QUOTED)}...` : t);
}
