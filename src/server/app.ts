import express, { type Request, type Response } from "express";
import type { Server } from "node:http";
import type { Registry } from "prom-client";


/** Thrown for a query the caller got wrong: becomes a 400 with this message. */
export class BadRequest extends Error {}

export interface ServerDeps {
  registry: Registry;
  /** Returns the rendered report body; throws BadRequest for a bad parameter. */
  report(query: Record<string, unknown>, format: "json" | "md"): Promise<{ contentType: string; body: string }>;
  /** Ready when the plan loaded, the store is writable and the probes run. */
  readiness(): { ready: boolean; reasons: string[] };
  onError(err: unknown): void;
}

export function createApp(deps: ServerDeps): express.Express {
  const app = express();
  app.disable("x-powered-by");

  app.get("/metrics", async (_req, res) => {
    try {
      res.set("content-type", deps.registry.contentType).send(await deps.registry.metrics());
    } catch (err) {
      deps.onError(err);
      res.status(500).type("text/plain").send("metrics collection failed\n");
    }
  });

  app.get("/healthz", (_req, res) => {
    res.json({ status: "ok" });
  });

  app.get("/readyz", (_req, res) => {
    const r = deps.readiness();
    res.status(r.ready ? 200 : 503).json({ status: r.ready ? "ready" : "not_ready", reasons: r.reasons });
  });

  app.get("/report", async (req: Request, res: Response) => {
    const format = stringParam(req.query.format) ?? "json";
    if (format !== "json" && format !== "md") {
      res.status(400).json({ error: `format: must be json or md, got ${JSON.stringify(format)}` });
      return;
    }
    try {
      const { format: _format, ...query } = req.query;
      const out = await deps.report(query, format);
      res.set("content-type", out.contentType).send(out.body);
    } catch (err) {
      if (err instanceof BadRequest) {
        res.status(400).json({ error: err.message });
        return;
      }
      deps.onError(err);
      res.status(500).json({ error: "report failed; see the daemon log" });
    }
  });

  app.use((_req, res) => {
    res.status(404).json({ error: "not found", endpoints: ["/metrics", "/healthz", "/readyz", "/report"] });
  });
  return app;
}

function stringParam(v: unknown): string | undefined {
  if (typeof v === "string") return v;
  if (Array.isArray(v) && typeof v[0] === "string") return v[0];
  return undefined;
}

export async function listen(app: express.Express, host: string, port: number): Promise<Server> {
  return new Promise((resolve, reject) => {
    const server = app.listen(port, host, (err?: Error) => (err ? reject(err) : resolve(server)));
    server.once("error", reject);
  });
}
