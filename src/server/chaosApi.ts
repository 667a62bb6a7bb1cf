/**
 * /api/chaos: windows as persisted (reads need no token), run a named window now, abort the
 * running one (admin: bearer token, constant-time compare, 401 without it).
 */
import express, { type NextFunction, type Request, type Response } from "express";
import type { CurrentWindow, RunResult } from "../chaos/runner.js";
import type { ChaosWindowRecord, WindowQuery } from "../store/chaosWindows.js";
import { checkAdmin } from "./adminAuth.js";

export interface ChaosApiDeps {
  token(): string | null;
  running(): CurrentWindow | null;
  list(q: WindowQuery): ChaosWindowRecord[];
  run(name: string): RunResult;
  abort(id: number): { ok: true } | { ok: false; status: 404 | 409 | 503; reason: string };
}

class QueryError extends Error {}

/** Epoch ms or an ISO 8601 date. */
function timeParam(v: unknown, name: string): number | undefined {
  if (v === undefined) return undefined;
  if (typeof v !== "string") throw new QueryError(`${name} must be given once`);
  const t = /^\d+$/.test(v) ? Number(v) : Date.parse(v);
  if (!Number.isFinite(t)) throw new QueryError(`${name} must be epoch milliseconds or an ISO 8601 date, got "${v.slice(0, 40)}"`);
  return t;
}

function windowQuery(q: Record<string, unknown>): WindowQuery {
  const out: WindowQuery = {};
  const since = timeParam(q.since, "since");
  const until = timeParam(q.until, "until");
  if (since !== undefined) out.since = since;
  if (until !== undefined) out.until = until;
  if (q.chain !== undefined) {
    if (typeof q.chain !== "string" || q.chain === "") throw new QueryError("chain must be given once");
    out.chain = q.chain;
  }
  if (q.limit !== undefined) {
    const n = typeof q.limit === "string" && /^\d{1,4}$/.test(q.limit) ? Number(q.limit) : NaN;
    if (!(n >= 1 && n <= 1000)) throw new QueryError("limit must be a whole number from 1 to 1000");
    out.limit = n;
  }
  return out;
}

export function chaosRouter(deps: ChaosApiDeps, onError: (err: unknown) => void): express.Router {
  const router = express.Router();
  const admin = (req: Request, res: Response, next: NextFunction): void => {
    const auth = checkAdmin(deps.token(), req.get("authorization"));
    if (auth.ok) return next();
    if (auth.status === 401) res.set("www-authenticate", "Bearer");
    res.status(auth.status).json({ error: auth.error });
  };
  const guarded = (handler: (req: Request, res: Response) => void) => (req: Request, res: Response): void => {
    try {
      handler(req, res);
    } catch (err) {
      if (err instanceof QueryError) {
        res.status(400).json({ error: err.message });
        return;
      }
      onError(err);
      res.status(500).json({ error: "chaos API failed; see the daemon log" });
    }
  };

  router.get("/windows", guarded((req, res) => {
    const q = windowQuery(req.query as Record<string, unknown>);
    res.json({ running: deps.running(), windows: deps.list(q) });
  }));

  router.post("/windows/:id/abort", admin, guarded((req, res) => {
    const raw = String(req.params.id ?? "");
    const id = /^\d{1,15}$/.test(raw) ? Number(raw) : NaN;
    if (!Number.isSafeInteger(id)) throw new QueryError(`window id must be a whole number, got "${raw.slice(0, 40)}"`);
    const r = deps.abort(id);
    if (r.ok) res.json({ status: "aborting", id });
    else res.status(r.status).json({ error: r.reason, id });
  }));

  router.post("/run", admin, express.json({ limit: "4kb" }), guarded((req, res) => {
    const body: unknown = req.body;
    const name = body !== null && typeof body === "object" && "name" in body ? (body as { name: unknown }).name : undefined;
    if (typeof name !== "string" || name === "") throw new QueryError('the body must be JSON { "name": "<window name>" }');
    const r = deps.run(name);
    if (r.started) res.status(202).json({ status: "started", id: r.id });
    else res.status(r.status).json({ error: r.reason, id: r.id });
  }));

  // express.json's errors (bad JSON, too large) as JSON answers
  router.use((err: unknown, _req: Request, res: Response, next: NextFunction) => {
    const status = typeof err === "object" && err !== null && "status" in err && typeof err.status === "number" ? err.status : 500;
    if (status >= 400 && status < 500) {
      res.status(status).json({ error: status === 413 ? "body too large" : 'the body must be JSON { "name": "<window name>" }' });
      return;
    }
    next(err);
  });
  return router;
}
