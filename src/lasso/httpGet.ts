import http from "node:http";
import https from "node:https";

export type GetJsonResult =
  | { ok: true; status: number; body: unknown }
  | { ok: false; status: number | null; error: string };

const MAX_BODY_BYTES = 1024 * 1024;

/**
 * GET a JSON document (Lasso's /api/* endpoints) with node's own http client: these calls
 * are rare (minutes apart), and loading undici's fetch for them would cost ~9 MB of RSS.
 * Never throws; the URL is never part of an error (it may hold a key).
 */
export function getJson(url: string, headers: Record<string, string>, timeoutMs: number): Promise<GetJsonResult> {
  return new Promise((resolve) => {
    let settled = false;
    const done = (r: GetJsonResult): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      resolve(r);
    };
    const u = new URL(url);
    const get = u.protocol === "https:" ? https.get : http.get;
    const req = get(u, { headers: { ...headers, accept: "application/json" } }, (res) => {
      const chunks: Buffer[] = [];
      let size = 0;
      res.on("data", (c: Buffer) => {
        size += c.length;
        if (size > MAX_BODY_BYTES) {
          req.destroy();
          done({ ok: false, status: res.statusCode ?? null, error: `body over ${MAX_BODY_BYTES} bytes` });
        } else chunks.push(c);
      });
      res.on("error", (err) => done({ ok: false, status: res.statusCode ?? null, error: err.message }));
      res.on("end", () => {
        const status = res.statusCode ?? 0;
        const text = Buffer.concat(chunks).toString("utf8");
        if (status < 200 || status >= 300) {
          done({ ok: false, status, error: `HTTP ${status}: ${text.slice(0, 200)}` });
          return;
        }
        try {
          done({ ok: true, status, body: JSON.parse(text) as unknown });
        } catch {
          done({ ok: false, status, error: `body is not JSON: ${text.slice(0, 80)}` });
        }
      });
    });
    req.on("error", (err: NodeJS.ErrnoException) => done({ ok: false, status: null, error: err.code ?? err.message }));
    const timer = setTimeout(() => {
      req.destroy();
      done({ ok: false, status: null, error: `no answer within ${timeoutMs} ms` });
    }, timeoutMs);
  });
}
