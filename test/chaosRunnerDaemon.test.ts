import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { after, before, describe, test } from "node:test";
import { createLogger } from "../src/log.js";
import { startDaemon, type Daemon } from "../src/main.js";
import { loadPlan } from "../src/plan/index.js";
import { InProcessFaultControl } from "../sim/inProcessFaultControl.js";
import { startTestBed, type TestBed } from "../sim/testbed.js";
import { BED, chaosChecks, RecordingJudge, shortWindow } from "./helpers/chaosBed.js";
import { writePlan } from "./helpers/canaryBed.js";
import { metricValue } from "./helpers/boundsProbe.js";
import { waitFor } from "./helpers/waitFor.js";

const TOKEN = "chaos-admin-token-0123456789";

interface Answer {
  status: number;
  body: Record<string, unknown>;
  headers: Headers;
}

describe("chaos windows in the daemon: API, metrics, report, reload", { timeout: 150_000 }, () => {
  let bed: TestBed;
  let daemon: Daemon;
  let control: InProcessFaultControl;
  let dir: string;

  before(async () => {
    dir = mkdtempSync(path.join(os.tmpdir(), "chaos-daemon-"));
    bed = await startTestBed(BED);
    const config = writePlan(dir, {
      ethereum: chaosChecks(shortWindow("api-5xx", ["duration: 30s", "fault: { kind: http_5xx, status: 503 }", "expect: failover", "abortFloor: 0.5", "abortWindow: 2s", "slo: { minClientSuccess: 0.5, maxRecovery: 2s }"])),
    }, { extraConfig: [`adminToken: ${TOKEN}`] });
    const env = { LASSO_URL: bed.lasso.url };
    control = new InProcessFaultControl(bed);
    daemon = await startDaemon({
      plan: loadPlan(config, env), logger: createLogger("silent"), listen: { host: "127.0.0.1", port: 0 }, loadPlan: () => loadPlan(config, env),
      chaos: { control, judge: new RecordingJudge().judge, leaseMs: 1_500 },
    });
  });
  after(async () => {
    await daemon?.stop();
    control?.stop();
    await bed?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  const call = async (method: "GET" | "POST", p: string, opts: { token?: string; body?: string } = {}): Promise<Answer> => {
    const headers: Record<string, string> = {};
    if (opts.token !== undefined) headers.authorization = `Bearer ${opts.token}`;
    if (opts.body !== undefined) headers["content-type"] = "application/json";
    const res = await fetch(`${daemon.url}${p}`, { method, headers, ...(opts.body !== undefined ? { body: opts.body } : {}) });
    return { status: res.status, body: (await res.json()) as Record<string, unknown>, headers: res.headers };
  };
  const scrape = async (): Promise<string> => (await fetch(`${daemon.url}/metrics`)).text();
  const alpha = () => bed.provider("ethereum", "alpha", "canary");
  const windows = async (): Promise<Array<Record<string, unknown>>> => (await call("GET", "/api/chaos/windows")).body.windows as Array<Record<string, unknown>>;
  /** Asks for the window until its precondition (2 s of healthy probes on both profiles) lets it start. */
  const runNow = async (): Promise<number> => {
    const r = await waitFor(async () => {
      const a = await call("POST", "/api/chaos/run", { token: TOKEN, body: JSON.stringify({ name: "api-5xx" }) });
      return a.status === 202 ? a : null;
    }, { timeoutMs: 20_000, intervalMs: 500, message: "the window to start" });
    return r.body.id as number;
  };

  test("reads need no token; the window's series exist at 0 before any window ran", async () => {
    const a = await call("GET", "/api/chaos/windows");
    assert.equal(a.status, 200);
    assert.deepEqual(a.body, { running: null, windows: [] });
    const text = await scrape();
    assert.equal(metricValue(text, "lasso_canary_chaos_window_active", { chain: "ethereum", provider: "alpha", fault: "http_5xx" }), 0);
    for (const verdict of ["pass", "fail", "aborted", "inconclusive", "skipped"])
      assert.equal(metricValue(text, "lasso_canary_chaos_verdicts_total", { window: "api-5xx", verdict }), 0, verdict);
  });

  const adminCases: Array<{ name: string; method: "POST"; path: string; token?: string; body?: string }> = [
    { name: "run without a token", method: "POST", path: "/api/chaos/run", body: '{"name":"api-5xx"}' },
    { name: "run with a wrong token", method: "POST", path: "/api/chaos/run", token: "not-the-token-0123456789", body: '{"name":"api-5xx"}' },
    { name: "abort without a token", method: "POST", path: "/api/chaos/windows/1/abort" },
  ];
  for (const c of adminCases) {
    test(`admin endpoint, ${c.name}: 401 and nothing runs`, async () => {
      const a = await call(c.method, c.path, { ...(c.token !== undefined ? { token: c.token } : {}), ...(c.body !== undefined ? { body: c.body } : {}) });
      assert.equal(a.status, 401);
      assert.equal(a.headers.get("www-authenticate"), "Bearer");
      assert.equal(alpha().currentFault(), null);
      assert.deepEqual(await windows(), []);
    });
  }

  test("bad requests with the token: unknown window 404, bad body 400", async () => {
    const unknown = await call("POST", "/api/chaos/run", { token: TOKEN, body: '{"name":"nope"}' });
    assert.deepEqual([unknown.status, unknown.body.error], [404, 'no chaos window named "nope"']);
    const bad = await call("POST", "/api/chaos/run", { token: TOKEN, body: "{not json" });
    assert.equal(bad.status, 400);
    const badId = await call("POST", "/api/chaos/windows/abc/abort", { token: TOKEN });
    assert.equal(badId.status, 400);
  });

  test("run, watch it in /metrics and the API, abort it: recorded aborted, counted, in the report", async () => {
    const id = await runNow();
    await waitFor(() => alpha().currentFault()?.fault.kind === "http_5xx", { timeoutMs: 3_000, message: "the fault" });
    const listed = await call("GET", "/api/chaos/windows");
    assert.equal((listed.body.running as { id: number } | null)?.id, id);
    assert.equal(metricValue(await scrape(), "lasso_canary_chaos_window_active", { chain: "ethereum", provider: "alpha", fault: "http_5xx" }), 1);
    const again = await call("POST", "/api/chaos/run", { token: TOKEN, body: '{"name":"api-5xx"}' });
    assert.equal(again.status, 409);
    assert.match(String(again.body.error), /another chaos window is running: api-5xx/);

    const aborted = await call("POST", `/api/chaos/windows/${id}/abort`, { token: TOKEN });
    assert.deepEqual([aborted.status, aborted.body], [200, { status: "aborting", id }]);
    const row = await waitFor(async () => (await windows()).find((w) => w.id === id && w.status === "finished"), { timeoutMs: 10_000, message: "the aborted window recorded" });
    assert.equal(row.verdict, "aborted");
    assert.match(String(row.abortReason), /aborted by an operator/);
    assert.equal(alpha().currentFault(), null);
    const text = await scrape();
    assert.equal(metricValue(text, "lasso_canary_chaos_window_active", { chain: "ethereum", provider: "alpha", fault: "http_5xx" }), 0);
    assert.equal(metricValue(text, "lasso_canary_chaos_verdicts_total", { window: "api-5xx", verdict: "aborted" }), 1);
    assert.equal(metricValue(text, "lasso_canary_chaos_failover_seconds", { window: "api-5xx" }), 1.234);

    const report = (await (await fetch(`${daemon.url}/report?since=1h`)).json()) as { chaos: Array<{ id: number; verdict: string; reasons: string[] }> };
    const inReport = report.chaos.find((w) => w.id === id);
    assert.equal(inReport?.verdict, "aborted");
    assert.match(inReport?.reasons[0] ?? "", /^aborted: aborted by an operator/);
    const md = await (await fetch(`${daemon.url}/report?since=1h&format=md`)).text();
    assert.match(md, /## Chaos windows/);
    assert.match(md, new RegExp(`\\| api-5xx \\(#${id}, manual\\) \\| ethereum / alpha \\| http_5xx \\(status=503\\) \\| [^|]+ \\| ABORTED \\|`));
  });

  test("a reload during a window ends it as aborted (reload) and clears the fault", async () => {
    const id = await runNow();
    await waitFor(() => alpha().currentFault()?.fault.kind === "http_5xx", { timeoutMs: 3_000, message: "the fault" });
    const res = await fetch(`${daemon.url}/-/reload`, { method: "POST", headers: { authorization: `Bearer ${TOKEN}` } });
    assert.equal(res.status, 200, await res.text());
    assert.equal(alpha().currentFault(), null, "the reload cleared the fault before it answered");
    const row = (await windows()).find((w) => w.id === id);
    assert.equal(row?.verdict, "aborted");
    assert.equal(row?.abortReason, "reload");
    assert.ok(daemon.chaos !== null, "the reloaded plan has its runner");
  });
});
