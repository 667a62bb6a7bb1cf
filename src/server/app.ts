import express, { type Request, type Response } from "express";
import type { Server } from "node:http";
import type { Registry } from "prom-client";
import { writeExposition } from "../metrics/exposition.js";
import { reportFormatOf, ReportQueryError, type ReportFormat } from "../report/time.js";
import { checkAdmin } from "./adminAuth.js";
import { chaosRouter, type ChaosApiDeps } from "./chaosApi.js";


/** Thrown for a query the caller got wrong: becomes a 400 with this message. */
export class BadRequest extends Error {}

export interface ServerDeps {
  registry: Registry;
  /**
   * Returns the rendered report body for the query (`format` included, already read);
   * throws BadRequest or ReportQueryError for a bad parameter.
   */
  report(query: Record<string, unknown>, format: ReportFormat): Promise<{ contentType: string; body: string }>;
  /**
   * Ready when the probes run, the store commits its writes, every target answered recently
   * and the plan matches the targets; otherwise the reasons why not.
   */
  readiness(): { ready: boolean; reasons: string[] };
  /** POST /-/reload: re-read config and checks, guarded by the admin token (absent: 404). */
  reload?: {
    token(): string | null;
    run(): Promise<{ ok: true; warnings: string[] } | { ok: false; error: string }>;
  };
  /** GET /: the status page's HTML (already cached by the caller). Absent: 404. */
  statusPage?(): string;
  /** /api/chaos: windows (reads open), run and abort (admin token). Absent: 404. */
  chaos?: ChaosApiDeps;
  onError(err: unknown): void;
}

export function createApp(deps: ServerDeps): express.Express {
  const app = express();
  app.disable("x-powered-by");

  // No ETag: every response here is fresh, and hashing a scrape or a report is work for nothing.
  app.set("etag", false);

  app.get("/metrics", async (_req, res) => {
    try {
      res.set("content-type", deps.registry.contentType);
      await writeExposition(deps.registry, (chunk) => {
        if (res.destroyed) return false;
        res.write(chunk);
        return true;
      });
      res.end();
    } catch (err) {
      deps.onError(err);
      if (res.headersSent) res.destroy();
      else res.status(500).type("text/plain").send("metrics collection failed\n");
    }
  });

  const statusPage = deps.statusPage;
  if (statusPage !== undefined) {
    app.get("/", (_req, res) => {
      try {
        res.set("cache-control", "no-store").type("html").send(statusPage());
      } catch (err) {
        deps.onError(err);
        res.status(500).type("text/plain").send("status page failed; see the daemon log\n");
      }
    });
  }

  app.get("/healthz", (_req, res) => {
    res.json({ status: "ok" });
  });

  app.get("/readyz", (_req, res) => {
    const r = deps.readiness();
    res.status(r.ready ? 200 : 503).json({ status: r.ready ? "ready" : "not_ready", reasons: r.reasons });
  });

  app.get("/report", async (req: Request, res: Response) => {
    try {
      const query = req.query as Record<string, unknown>;
      const out = await deps.report(query, reportFormatOf(query));
      res.set("content-type", out.contentType).send(out.body);
    } catch (err) {
      if (err instanceof BadRequest || err instanceof ReportQueryError) {
        res.status(400).json({ error: err.message });
        return;
      }
      deps.onError(err);
      res.status(500).json({ error: "report failed; see the daemon log" });
    }
  });

  const reload = deps.reload;
  if (reload !== undefined) {
    app.post("/-/reload", async (req: Request, res: Response) => {
      const auth = checkAdmin(reload.token(), req.get("authorization"));
      if (!auth.ok) {
        if (auth.status === 401) res.set("www-authenticate", "Bearer");
        res.status(auth.status).json({ error: auth.error });
        return;
      }
      try {
        const r = await reload.run();
        if (r.ok) res.json({ status: "reloaded", warnings: r.warnings });
        else res.status(400).json({ status: "refused", error: r.error, note: "the running plan is kept" });
      } catch (err) {
        deps.onError(err);
        res.status(500).json({ error: "reload failed; see the daemon log" });
      }
    });
  }

  if (deps.chaos !== undefined) app.use("/api/chaos", chaosRouter(deps.chaos, (err) => deps.onError(err)));

  app.use((_req, res) => {
    res.status(404).json({
      error: "not found",
      endpoints: ["/", "/metrics", "/healthz", "/readyz", "/report", "POST /-/reload", "/api/chaos/windows", "POST /api/chaos/run", "POST /api/chaos/windows/:id/abort"],
    });
  });
  return app;
}

export async function listen(app: express.Express, host: string, port: number): Promise<Server> {
  return new Promise((resolve, reject) => {
    const server = app.listen(port, host, (err?: Error) => (err ? reject(err) : resolve(server)));
    server.once("error", reject);
  });
}
