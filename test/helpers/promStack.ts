/**
 * Real Prometheus and Alertmanager (Debian packages `prometheus` and `prometheus-alertmanager`;
 * .ci/run installs them) on loopback ports with their own config and storage in a temp dir,
 * and the test-side transformations of the shipped files they run with.
 */
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { once } from "node:events";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createServer as createTcpServer } from "node:net";
import { tmpdir } from "node:os";
import path from "node:path";
import { parse, stringify } from "yaml";
import { waitFor } from "./waitFor.js";

export const PROMETHEUS = "/usr/bin/prometheus";
export const ALERTMANAGER = "/usr/bin/prometheus-alertmanager";
export const RULES_FILE = "config/prometheus/lasso-canary.rules.yml";
export const ALERTMANAGER_EXAMPLE = "config/prometheus/alertmanager.example.yml";

export async function freePort(): Promise<number> {
  const srv = createTcpServer();
  await new Promise<void>((resolve) => srv.listen(0, "127.0.0.1", resolve));
  const port = (srv.address() as { port: number }).port;
  await new Promise((resolve) => srv.close(resolve));
  return port;
}

/** A server process on a loopback port; stop() ends it (SIGTERM, SIGKILL after 10 s) and removes its dir. */
export interface LoopbackProcess {
  url: string;
  dir: string;
  child: ChildProcess;
  /** The last 8 KB of its stderr (both tools log there). */
  log(): string;
  stop(): Promise<void>;
}

/**
 * Starts `binary` with `args(port)` on a free loopback port and waits for its /-/ready; retried
 * on a new port if another process took it meanwhile. `dir` is removed by stop() (or on failure).
 */
async function startOnLoopback(what: string, binary: string, dir: string, args: (port: number) => string[]): Promise<LoopbackProcess> {
  let lastError = "";
  for (let attempt = 0; attempt < 3; attempt++) {
    const port = await freePort();
    const child = spawn(binary, args(port), { stdio: ["ignore", "ignore", "pipe"] });
    let stderr = "";
    child.stderr?.on("data", (d: Buffer) => (stderr = (stderr + d.toString()).slice(-8000)));
    const url = `http://127.0.0.1:${port}`;
    const stop = async (): Promise<void> => {
      if (child.exitCode === null && child.signalCode === null) {
        const exited = once(child, "exit");
        child.kill("SIGTERM");
        const timer = setTimeout(() => child.kill("SIGKILL"), 10_000);
        await exited;
        clearTimeout(timer);
      }
      rmSync(dir, { recursive: true, force: true });
    };
    try {
      await waitFor(
        async () => {
          if (child.exitCode !== null) throw new Error(`${what} exited ${child.exitCode}: ${stderr}`);
          return (await fetch(`${url}/-/ready`)).ok;
        },
        { timeoutMs: 30_000, intervalMs: 100, message: `${what} /-/ready` },
      );
      return { url, dir, child, log: () => stderr, stop };
    } catch (err) {
      lastError = (err as Error).message;
      child.kill("SIGKILL");
      if (child.exitCode === null && child.signalCode === null) await once(child, "exit");
      if (!/address already in use/.test(stderr)) break;
    }
  }
  rmSync(dir, { recursive: true, force: true });
  throw new Error(`${what} did not start: ${lastError}`);
}

/** Alertmanager with `configYaml`, clustering off. */
export async function startAlertmanager(configYaml: string): Promise<LoopbackProcess> {
  const dir = mkdtempSync(path.join(tmpdir(), "alertmanager-test-"));
  const config = path.join(dir, "alertmanager.yml");
  writeFileSync(config, configYaml);
  return startOnLoopback("alertmanager", ALERTMANAGER, dir, (port) => [
    `--config.file=${config}`, `--storage.path=${path.join(dir, "data")}`, `--web.listen-address=127.0.0.1:${port}`, "--cluster.listen-address=", "--log.level=warn",
  ]);
}

/** Prometheus with `configYaml` and `files` (rule files, named relative to the config) in its own dir. */
export async function startPrometheus(configYaml: string, files: Record<string, string> = {}): Promise<LoopbackProcess> {
  const dir = mkdtempSync(path.join(tmpdir(), "prometheus-test-"));
  for (const [name, text] of Object.entries(files)) writeFileSync(path.join(dir, name), text);
  const config = path.join(dir, "prometheus.yml");
  writeFileSync(config, configYaml);
  return startOnLoopback("prometheus", PROMETHEUS, dir, (port) => [
    `--config.file=${config}`, `--storage.tsdb.path=${path.join(dir, "tsdb")}`, `--web.listen-address=127.0.0.1:${port}`, "--log.level=warn",
  ]);
}

/** Runs a command (promtool, amtool) to completion: exit status and both outputs. */
export function run(cmd: string, args: string[]): { status: number | null; out: string } {
  const r = spawnSync(cmd, args, { encoding: "utf8", timeout: 170_000 });
  if (r.error) throw r.error;
  return { status: r.status, out: `${r.stdout}${r.stderr}` };
}

const UNIT_SECONDS: Record<string, number> = { s: 1, m: 60, h: 3600, d: 86_400, w: 604_800 };

/** "5m" -> 300; the rules file uses single-unit durations only, anything else is refused. */
export function durationSeconds(d: string): number {
  const m = /^(\d+)([smhdw])$/.exec(d);
  if (!m?.[1] || !m[2]) throw new Error(`not a single-unit Prometheus duration: "${d}"`);
  return Number(m[1]) * (UNIT_SECONDS[m[2]] ?? Number.NaN);
}

function scaled(d: string, factor: number): string {
  const ms = Math.round((durationSeconds(d) * 1000) / factor);
  if (ms < 1000) throw new Error(`${d} / ${factor} is under a second`);
  return `${ms}ms`;
}

interface RuleYaml {
  alert?: string;
  record?: string;
  expr: string;
  for?: string;
}

/**
 * The short-window copy of the rules the end-to-end test runs: every range selector `[d]` and
 * every `for:` divided by `factor` (60: 1 h -> 1 m, 5 m -> 5 s, 3 d -> 72 m, `for: 1m` -> 1 s);
 * expressions, thresholds, minimum counts, labels and annotations unchanged, recording rule
 * names keep their production window (lasso_canary:probe_errors:increase5m covers 5 s there).
 */
export function shortWindowRules(rulesYaml: string, factor: number): string {
  const doc = parse(rulesYaml) as { groups: Array<{ name: string; rules: RuleYaml[] }> };
  for (const g of doc.groups) {
    for (const r of g.rules) {
      // Ranges only ([5m]); character classes of label_replace regexes ([^/]) are not durations.
      r.expr = r.expr.replace(/\[(\d+[smhdw])\]/g, (_all, d: string) => `[${scaled(d, factor)}]`);
      const unscaled = /\[\d+[smhdwy][^\]]*\]/.exec(r.expr.replace(/\[\d+ms\]/g, ""));
      if (unscaled) throw new Error(`${r.alert ?? r.record}: range ${unscaled[0]} is not a single-unit duration the copy can scale`);
      if (r.for !== undefined) r.for = scaled(r.for, factor);
    }
  }
  return stringify(doc, { lineWidth: 0 });
}

export interface AlertmanagerTiming {
  groupWait: string;
  groupInterval: string;
  repeatInterval: string;
}

/**
 * The shipped example Alertmanager config with every receiver's webhook pointed at
 * `${webhookBase}/<receiver name>` (so the test knows which receiver a notification went to)
 * and, when given, shorter grouping times; routes and inhibit rules unchanged.
 */
export function exampleAlertmanagerConfig(webhookBase: string, timing?: AlertmanagerTiming): string {
  const doc = parse(readFileSync(ALERTMANAGER_EXAMPLE, "utf8")) as {
    route: Record<string, unknown> & { routes?: Array<Record<string, unknown>> };
    receivers: Array<{ name: string; webhook_configs?: Array<{ url: string }> }>;
  };
  for (const r of doc.receivers) for (const w of r.webhook_configs ?? []) w.url = `${webhookBase}/${r.name}`;
  if (timing) {
    Object.assign(doc.route, { group_wait: timing.groupWait, group_interval: timing.groupInterval, repeat_interval: timing.repeatInterval });
    for (const child of doc.route.routes ?? []) if ("repeat_interval" in child) child.repeat_interval = timing.repeatInterval;
  }
  return stringify(doc);
}

/** The alert names of a rules file, in file order. */
export function alertNames(rulesYaml: string): string[] {
  const doc = parse(rulesYaml) as { groups: Array<{ rules: RuleYaml[] }> };
  return doc.groups.flatMap((g) => g.rules.flatMap((r) => (r.alert === undefined ? [] : [r.alert])));
}
