/**
 * The floor of bench/peers.ts: the runtime packages lasso-canary must use (undici's Agent,
 * prom-client, better-sqlite3, express, zod, yaml, pino, node-cron), loaded and doing the
 * least a canary can do for the same series: POST each body on its grid, parse the answer,
 * count it and time it in prom-client, write one row per probe to SQLite in a transaction a
 * second, serve /metrics with express. No attribution, assertions, consensus, rollups,
 * reports or watchers. What it costs is what no canary on this stack can go below.
 *
 * Run by bench/peers.ts as its own node process (bundled to one file with esbuild, the
 * packages left in node_modules), with the daemon's node flags. Argument: a JSON file with
 * { lassoUrl, series: [{ path, body }], intervalMs, listen: { host, port }, db }.
 */
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { performance } from "node:perf_hooks";
import type { Agent as UndiciAgent, Dispatcher } from "undici";
import Database from "better-sqlite3";
import express from "express";
import client from "prom-client";
import cron from "node-cron";
import pino from "pino";
import { parse as parseYaml } from "yaml";
import { z } from "zod";

const Config = z.object({
  lassoUrl: z.string(),
  series: z.array(z.object({ path: z.string(), body: z.string() })),
  intervalMs: z.number().int().positive(),
  listen: z.object({ host: z.string(), port: z.number().int() }),
  db: z.string(),
});
const config = Config.parse(JSON.parse(readFileSync(process.argv[2] ?? "", "utf8")));
const log = pino({ level: "warn" });
// Loaded like the daemon loads them, and used once so nothing is left out as dead code.
parseYaml("loaded: true");
if (!cron.validate("*/5 * * * *")) throw new Error("node-cron did not load");

const Agent = createRequire(import.meta.url)("undici/lib/dispatcher/agent.js") as typeof UndiciAgent;
const agent = new Agent({ keepAliveTimeout: 60_000, connections: 4 });
const origin = new URL(config.lassoUrl).origin;

const registry = new client.Registry();
const probes = new client.Counter({ name: "floor_probe_requests_total", help: "Probes by series and outcome.", labelNames: ["series", "outcome"], registers: [registry] });
const latency = new client.Histogram({
  name: "floor_probe_latency_seconds", help: "Probe latency.", labelNames: ["series"], registers: [registry],
  buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
});

const db = new Database(config.db);
db.pragma("journal_mode = WAL");
db.exec("CREATE TABLE IF NOT EXISTS samples (t INTEGER, series INTEGER, ms REAL, ok INTEGER)");
const insert = db.prepare("INSERT INTO samples VALUES (?, ?, ?, ?)");
const pending: Array<[number, number, number, number]> = [];
const flush = db.transaction((rows: Array<[number, number, number, number]>) => {
  for (const r of rows) insert.run(...r);
});

function probe(index: number, path: string, body: string): void {
  const started = performance.now();
  const chunks: Buffer[] = [];
  const done = (ok: boolean): void => {
    const ms = performance.now() - started;
    probes.inc({ series: String(index), outcome: ok ? "ok" : "error" });
    latency.observe({ series: String(index) }, ms / 1000);
    pending.push([Date.now(), index, ms, ok ? 1 : 0]);
  };
  const handler: Dispatcher.DispatchHandler = {
    onConnect: () => undefined,
    onHeaders: () => true,
    onData: (chunk: Buffer) => {
      chunks.push(chunk);
      return true;
    },
    onComplete: () => {
      try {
        const answer = JSON.parse(Buffer.concat(chunks).toString("utf8")) as { result?: unknown };
        done(answer.result !== undefined && answer.result !== null);
      } catch {
        done(false);
      }
    },
    onError: (err: Error) => {
      log.warn({ err: err.message }, "probe failed");
      done(false);
    },
  };
  agent.dispatch({ origin, path, method: "POST", headers: { "content-type": "application/json" }, body, headersTimeout: 5000, bodyTimeout: 5000 }, handler);
}

config.series.forEach((s, i) => {
  const offset = (i * config.intervalMs) / config.series.length;
  setTimeout(() => {
    probe(i, s.path, s.body);
    setInterval(() => probe(i, s.path, s.body), config.intervalMs);
  }, offset);
});
setInterval(() => flush(pending.splice(0)), 1000);

const app = express();
app.get("/metrics", (_req, res) => {
  void registry.metrics().then((text) => res.type(registry.contentType).send(text));
});
app.get("/healthz", (_req, res) => res.send("ok"));
app.listen(config.listen.port, config.listen.host);
