/**
 * The alert pack end to end: the test bed (real anvil, fault proxies, the Lasso-compatible
 * target), the daemon, a real Prometheus scraping it every second and evaluating the rules
 * every second, and a real Alertmanager (the shipped example config, receivers pointed at a
 * webhook server in this test) on loopback ports.
 *
 * Prometheus runs a SHORT-WINDOW COPY of config/prometheus/lasso-canary.rules.yml, generated
 * by shortWindowRules (test/helpers/promStack.ts): every range selector and every `for:`
 * divided by 60 (1 h -> 1 m, 5 m -> 5 s, `for: 1m` -> 1 s), expressions, thresholds and
 * labels unchanged, so a stall alert that waits a minute in production waits a second here.
 *
 * The target's silentDrop defect (subscription sockets stay open, events vanish) must bring
 * LassoCanarySubscriptionStalled to the page receiver, firing; switching it off must bring it
 * there resolved.
 */
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { existsSync, readFileSync } from "node:fs";
import { createServer, type Server } from "node:http";
import { ALERTS_CHAIN, DEFAULT_WATCHER, startAlertsBed, type AlertsBed } from "./helpers/alertsBed.js";
import {
  ALERTMANAGER, exampleAlertmanagerConfig, PROMETHEUS, RULES_FILE, run, shortWindowRules, startAlertmanager, startPrometheus, type LoopbackProcess,
} from "./helpers/promStack.js";
import { scrape, seriesValue } from "./helpers/promText.js";
import { waitFor } from "./helpers/waitFor.js";

const FACTOR = 60;
const STALL_ALERT = "LassoCanarySubscriptionStalled";

interface WebhookAlert {
  status: "firing" | "resolved";
  labels: Record<string, string>;
  annotations: Record<string, string>;
}
interface Notification {
  receiver: string;
  alerts: WebhookAlert[];
}

describe("alerts end to end: test bed -> daemon -> Prometheus -> Alertmanager -> webhook", { timeout: 240_000 }, () => {
  let bed: AlertsBed | null = null;
  let am: LoopbackProcess | null = null;
  let prom: LoopbackProcess | null = null;
  const notifications: Notification[] = [];
  const webhook: Server = createServer((req, res) => {
    let body = "";
    req.on("data", (d: Buffer) => (body += d.toString()));
    req.on("end", () => {
      const parsed = JSON.parse(body) as { alerts: WebhookAlert[] };
      notifications.push({ receiver: (req.url ?? "").replace(/^\//, ""), alerts: parsed.alerts });
      res.writeHead(200).end();
    });
  });
  const shortRules = shortWindowRules(readFileSync(RULES_FILE, "utf8"), FACTOR);

  before(async () => {
    assert.ok(existsSync(PROMETHEUS) && existsSync(ALERTMANAGER), "Debian packages prometheus and prometheus-alertmanager (.ci/run installs them)");
    await new Promise<void>((resolve) => webhook.listen(0, "127.0.0.1", resolve));
    const hook = `http://127.0.0.1:${(webhook.address() as { port: number }).port}`;
    am = await startAlertmanager(exampleAlertmanagerConfig(hook, { groupWait: "1s", groupInterval: "1s", repeatInterval: "1h" }));
    bed = await startAlertsBed();
    const config = [
      "global: { scrape_interval: 1s, evaluation_interval: 1s }",
      "rule_files: [lasso-canary.short.rules.yml]",
      "alerting:",
      `  alertmanagers: [{ static_configs: [{ targets: ["${new URL(am.url).host}"] }] }]`,
      "scrape_configs:",
      `  - { job_name: lasso-canary, static_configs: [{ targets: ["${new URL(bed.daemon.url).host}"] }] }`,
      "",
    ].join("\n");
    prom = await startPrometheus(config, { "lasso-canary.short.rules.yml": shortRules });
  });

  after(async () => {
    bed?.bed.lasso.setDefects({ silentDrop: false });
    await prom?.stop();
    await am?.stop();
    await bed?.stop();
    webhook.closeAllConnections();
    await new Promise((resolve) => webhook.close(resolve));
  });

  test("the short-window copy passes promtool check rules and keeps every rule", () => {
    const dir = prom?.dir;
    assert.ok(dir !== undefined, "prometheus started");
    const r = run("promtool", ["check", "rules", `${dir}/lasso-canary.short.rules.yml`]);
    assert.equal(r.status, 0, r.out);
    const full = run("promtool", ["check", "rules", RULES_FILE]);
    assert.equal(/SUCCESS: (\d+) rules/.exec(r.out)?.[1], /SUCCESS: (\d+) rules/.exec(full.out)?.[1], "same rule count");
    assert.match(shortRules, /lasso_canary_probe_requests_total\{outcome="error"\}\[5000ms\]/, "5m -> 5 s");
    assert.match(shortRules, /lasso_canary_chaos_window_active\[360000ms\]/, "6h -> 6 min");
  });

  /** Prometheus's instant query; the result vector. */
  async function query(expr: string): Promise<Array<{ metric: Record<string, string>; value: [number, string] }>> {
    assert.ok(prom !== null, "prometheus started");
    const res = await fetch(`${prom.url}/api/v1/query?query=${encodeURIComponent(expr)}`);
    const body = (await res.json()) as { status: string; data: { result: Array<{ metric: Record<string, string>; value: [number, string] }> } };
    assert.equal(body.status, "success", JSON.stringify(body));
    return body.data.result;
  }

  const stallOf = (watcher: string, status: WebhookAlert["status"]) => (n: Notification) =>
    n.alerts.find((a) => a.labels.alertname === STALL_ALERT && a.labels.watcher === watcher && a.labels.chain === ALERTS_CHAIN && a.status === status);

  test("silentDrop on: LassoCanarySubscriptionStalled reaches the page receiver firing; off: resolved", async () => {
    assert.ok(bed !== null && prom !== null, "stack started");
    const daemonUrl = bed.daemon.url;
    const w = { target: "lb", chain: ALERTS_CHAIN, watcher: DEFAULT_WATCHER };
    // Warm: Prometheus scrapes the daemon, the watcher is live, and the rules have evaluated on it.
    await waitFor(async () => (seriesValue(await scrape(daemonUrl), "lasso_canary_watch_events_total", { ...w, event: "delivered" }) ?? 0) >= 3, {
      timeoutMs: 60_000, intervalMs: 250, message: `3 heads delivered on ${DEFAULT_WATCHER}`,
    });
    await waitFor(async () => (await query(`lasso_canary:watcher_info{watcher="${DEFAULT_WATCHER}"}`)).length === 1, {
      timeoutMs: 30_000, intervalMs: 250, message: "the recording rules evaluated on scraped series",
    });
    assert.deepEqual(await query(`ALERTS{alertname="${STALL_ALERT}"}`), [], "no stall before the defect");
    assert.equal(notifications.find((n) => n.alerts.some((a) => a.labels.alertname === STALL_ALERT)), undefined, "no stall notification before the defect");

    bed.bed.lasso.setDefects({ silentDrop: true });
    const firing = await waitFor(() => notifications.find(stallOf(DEFAULT_WATCHER, "firing")), {
      timeoutMs: 60_000, intervalMs: 100, message: `${STALL_ALERT} firing for ${DEFAULT_WATCHER} at the webhook`,
    });
    assert.equal(firing.receiver, "page", "routed by severity to the page receiver");
    const alert = firing.alerts.find((a) => a.labels.watcher === DEFAULT_WATCHER && a.labels.alertname === STALL_ALERT);
    assert.deepEqual(alert?.labels, { alertname: STALL_ALERT, severity: "page", target: "lb", chain: ALERTS_CHAIN, watcher: DEFAULT_WATCHER, profile: "public" });
    assert.equal(alert?.annotations.runbook_url, "docs/runbook.md#lassocanarysubscriptionstalled");
    assert.match(alert?.annotations.summary ?? "", /newHeads:default on ethereum is silent while the chain moves/);

    bed.bed.lasso.setDefects({ silentDrop: false });
    const resolved = await waitFor(() => notifications.find(stallOf(DEFAULT_WATCHER, "resolved")), {
      timeoutMs: 60_000, intervalMs: 100, message: `${STALL_ALERT} resolved for ${DEFAULT_WATCHER} at the webhook`,
    });
    assert.equal(resolved.receiver, "page");
    assert.ok(notifications.indexOf(resolved) > notifications.indexOf(firing), "resolved after firing");
  });
});
