/**
 * Chaos window silences against a real Alertmanager (Debian package prometheus-alertmanager,
 * /usr/bin/prometheus-alertmanager; .ci/run installs it), started here on a loopback port with
 * its own config and storage, clustering off.
 */
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createServer, type Server } from "node:http";
import { tmpdir } from "node:os";
import path from "node:path";
import { createSilence, expireSilence, windowSilence, type SilenceRequest } from "../src/chaos/silence.js";
import type { WindowSpec } from "../src/chaos/windowTypes.js";
import { loadPlan } from "../src/plan/index.js";
import { waitFor } from "./helpers/waitFor.js";
import { windowSpec } from "./helpers/windowSpec.js";
import { shortWindow, startChaosBed } from "./helpers/chaosBed.js";
import { preconditionFailure } from "../src/chaos/precondition.js";
import { ALERTMANAGER, freePort, startAlertmanager, type LoopbackProcess } from "./helpers/promStack.js";

const MINUTE = 60_000;

let am: LoopbackProcess | null = null;
const servers: Server[] = [];

before(async () => {
  assert.ok(existsSync(ALERTMANAGER), `${ALERTMANAGER} not found: install Debian package prometheus-alertmanager (.ci/run does when it is missing)`);
  am = await startAlertmanager('route:\n  receiver: "null"\nreceivers:\n  - name: "null"\n');
});

after(async () => {
  for (const s of servers) s.closeAllConnections();
  await Promise.all(servers.map((s) => new Promise((resolve) => s.close(resolve))));
  await am?.stop();
});

function alertmanagerUrl(): string {
  assert.ok(am !== null, "alertmanager started");
  return am.url;
}

interface SilenceView {
  id: string;
  status: { state: string };
  matchers: Array<{ name: string; value: string; isRegex: boolean; isEqual: boolean }>;
  createdBy: string;
  comment: string;
  startsAt: string;
  endsAt: string;
}

async function getSilence(id: string): Promise<SilenceView> {
  const res = await fetch(`${alertmanagerUrl()}/api/v2/silence/${id}`);
  assert.equal(res.status, 200, `GET silence ${id}`);
  return (await res.json()) as SilenceView;
}

const SILENCE: WindowSpec["silence"] = {
  matchers: [
    { name: "alertname", value: "LassoCanary.*", isRegex: true, isEqual: true },
    { name: "chain", value: "ethereum", isRegex: false, isEqual: true },
  ],
  comment: "chaos window",
};

test("a window's silence is active with its matchers during the window and expired after", async () => {
  const url = alertmanagerUrl();
  const spec = windowSpec({ durationMs: 5 * MINUTE, silence: SILENCE });
  const now = Date.now();
  const request = windowSilence(spec, now, now + spec.durationMs);
  assert.ok(request !== null, "the window asks for a silence");
  const created = await createSilence({ url }, request);
  assert.ok(created.ok, `created: ${JSON.stringify(created)}`);

  const active = await getSilence(created.id);
  assert.equal(active.status.state, "active");
  assert.deepEqual(
    active.matchers.map((m) => ({ name: m.name, value: m.value, isRegex: m.isRegex, isEqual: m.isEqual })).sort((a, b) => a.name.localeCompare(b.name)),
    [
      { name: "alertname", value: "LassoCanary.*", isRegex: true, isEqual: true },
      { name: "chain", value: "ethereum", isRegex: false, isEqual: true },
    ],
  );
  assert.equal(active.createdBy, "lasso-canary");
  assert.match(active.comment, /^chaos window \(lasso-canary chaos window p1-blackhole: blackhole on ethereum\/p1\)$/);
  assert.equal(Date.parse(active.endsAt), now + spec.durationMs);

  // An alert the window's fault would raise is muted by it; one for another chain is not.
  const alerts = [
    { labels: { alertname: "LassoCanaryFailover", chain: "ethereum" } },
    { labels: { alertname: "LassoCanaryFailover", chain: "base" } },
  ];
  const posted = await fetch(`${url}/api/v2/alerts`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(alerts) });
  assert.equal(posted.status, 200);
  const states = await waitFor(
    async () => {
      const list = (await (await fetch(`${url}/api/v2/alerts`)).json()) as Array<{ labels: Record<string, string>; status: { state: string; silencedBy: string[] } }>;
      const byChain = Object.fromEntries(list.map((a) => [a.labels.chain, a.status]));
      return byChain.ethereum !== undefined && byChain.base !== undefined ? byChain : null;
    },
    { timeoutMs: 10_000, message: "both alerts listed" },
  );
  assert.deepEqual(states.ethereum, { ...states.ethereum, state: "suppressed", silencedBy: [created.id] });
  assert.equal(states.base?.state, "active");

  const expired = await expireSilence({ url }, created.id);
  assert.deepEqual(expired, { ok: true });
  assert.equal((await getSilence(created.id)).status.state, "expired");
  // Expiring again (an abort, then the window's end) is harmless.
  assert.deepEqual(await expireSilence({ url }, created.id), { ok: true });
});

test("a silence ends at endsAt on its own (a daemon that died mid-window leaves nothing silenced)", async () => {
  const url = alertmanagerUrl();
  const now = Date.now();
  const request = windowSilence(windowSpec({ silence: SILENCE }), now, now + 1500);
  assert.ok(request !== null, "the window asks for a silence");
  const created = await createSilence({ url }, request);
  assert.ok(created.ok, `created: ${JSON.stringify(created)}`);
  await waitFor(async () => (await getSilence(created.id)).status.state === "expired", { timeoutMs: 15_000, message: "silence expired by Alertmanager" });
});

test("a window without silence: asks for none", () => {
  assert.equal(windowSilence(windowSpec({ silence: null }), 0, 1), null);
});

test("errors are results, never exceptions", async (t) => {
  const request: SilenceRequest = {
    matchers: [{ name: "alertname", value: "X", isRegex: false, isEqual: true }],
    startsAt: new Date(),
    endsAt: new Date(Date.now() + MINUTE),
    createdBy: "lasso-canary",
    comment: "test",
  };

  await t.test("alertmanager down", async () => {
    const port = await freePort();
    const r = await createSilence({ url: `http://127.0.0.1:${port}` }, request);
    assert.deepEqual(r, { ok: false, error: `alertmanager at http://127.0.0.1:${port} unreachable (POST /api/v2/silences): ECONNREFUSED` });
    const e = await expireSilence({ url: `http://127.0.0.1:${port}` }, "0b3f6c3e-0000-4000-8000-000000000000");
    assert.equal(e.ok, false);
    assert.match(e.ok ? "" : e.error, /unreachable \(DELETE \/api\/v2\/silence\/0b3f6c3e-0000-4000-8000-000000000000\): ECONNREFUSED$/);
  });

  await t.test("alertmanager that never answers", async () => {
    const silent = createServer(() => undefined);
    servers.push(silent);
    await new Promise<void>((resolve) => silent.listen(0, "127.0.0.1", resolve));
    const url = `http://127.0.0.1:${(silent.address() as { port: number }).port}`;
    const r = await createSilence({ url, timeoutMs: 300 }, request);
    assert.deepEqual(r, { ok: false, error: `alertmanager at ${url} unreachable (POST /api/v2/silences): no answer within 300 ms` });
  });

  await t.test("alertmanager refuses the silence (empty matcher name)", async () => {
    const r = await createSilence({ url: alertmanagerUrl() }, { ...request, matchers: [{ name: "", value: "x", isRegex: false, isEqual: true }] });
    assert.equal(r.ok, false);
    assert.match(r.ok ? "" : r.error, /^alertmanager at http:\/\/127\.0\.0\.1:\d+ answered HTTP 400 to POST \/api\/v2\/silences: ".+"$/);
  });

  await t.test("an answer without a silence id", async () => {
    const odd = createServer((_req, res) => res.writeHead(200, { "content-type": "application/json" }).end('{"hello":"world"}'));
    servers.push(odd);
    await new Promise<void>((resolve) => odd.listen(0, "127.0.0.1", resolve));
    const url = `http://127.0.0.1:${(odd.address() as { port: number }).port}`;
    assert.deepEqual(await createSilence({ url }, request), { ok: false, error: `alertmanager at ${url} answered without a silence id: "{\\"hello\\":\\"world\\"}"` });
  });

  await t.test("expiring an unknown silence", async () => {
    const r = await expireSilence({ url: alertmanagerUrl() }, "0b3f6c3e-0000-4000-8000-000000000000");
    assert.equal(r.ok, false);
    // Alertmanager 0.25 answers 500 "silence not found" here.
    assert.match(r.ok ? "" : r.error, /answered HTTP 500 to DELETE \/api\/v2\/silence\/0b3f6c3e-0000-4000-8000-000000000000: ".*silence not found.*"$/);
  });

  await t.test("bad input refused before any call", async () => {
    assert.deepEqual(await createSilence({ url: "http://127.0.0.1:1" }, { ...request, matchers: [] }), { ok: false, error: "a silence needs at least one matcher" });
    assert.deepEqual(await createSilence({ url: "http://127.0.0.1:1" }, { ...request, endsAt: request.startsAt }), { ok: false, error: "a silence must end after it starts" });
    assert.deepEqual(await expireSilence({ url: "http://127.0.0.1:1" }, "../silences"), { ok: false, error: 'not a silence id: "../silences"' });
  });

  await t.test("credentials in the URL are sent as Basic auth and never echoed", async () => {
    let authorization: string | undefined;
    const guarded = createServer((req, res) => {
      authorization = req.headers.authorization;
      res.writeHead(503).end("down for maintenance");
    });
    servers.push(guarded);
    await new Promise<void>((resolve) => guarded.listen(0, "127.0.0.1", resolve));
    const port = (guarded.address() as { port: number }).port;
    const r = await createSilence({ url: `http://canary:s3cret-pass@127.0.0.1:${port}` }, request);
    assert.equal(authorization, `Basic ${Buffer.from("canary:s3cret-pass").toString("base64")}`);
    assert.equal(r.ok, false);
    const error = r.ok ? "" : r.error;
    assert.match(error, /answered HTTP 503 to POST \/api\/v2\/silences: "down for maintenance"$/);
    assert.doesNotMatch(error, /s3cret/);
  });
});

test("daemon config: alertmanager.url", async (t) => {
  const dir = mkdtempSync(path.join(tmpdir(), "silence-plan-"));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const checks = path.join(dir, "checks");
  mkdirSync(checks);
  writeFileSync(path.join(checks, "ethereum.yaml"), "chain: ethereum\nchainId: 1\nblockTimeMs: 12000\nroutes:\n  - { strategy: fastest }\nprobes:\n  - { method: eth_blockNumber, interval: 10s }\n");
  const load = (extra: string) => {
    writeFileSync(path.join(dir, "canary.yaml"), `targets:\n  - { name: lb, url: "http://127.0.0.1:4000" }\n${extra}`);
    return loadPlan(path.join(dir, "canary.yaml"), {});
  };
  await t.test("absent: null", () => assert.equal(load("").alertmanager, null));
  await t.test("set", () => assert.deepEqual(load('alertmanager: { url: "http://127.0.0.1:9093" }\n').alertmanager, { url: "http://127.0.0.1:9093" }));
  await t.test("not a URL: refused", () => assert.throws(() => load("alertmanager: { url: nope }\n"), /alertmanager\.url.*not a valid URL/s));
  await t.test("unknown key: refused", () => assert.throws(() => load('alertmanager: { url: "http://127.0.0.1:9093", token: x }\n'), /alertmanager/));
});

test("the runner silences a window with `silence:` while it runs and expires the silence when the window ends early", { timeout: 90_000 }, async () => {
  const cb = await startChaosBed([
    ...shortWindow("silenced-5xx", ["duration: 30s", "fault: { kind: http_5xx, status: 503 }", "expect: failover",
      "silence: { matchers: [{ name: alertname, value: 'LassoCanary.*', isRegex: true }] }"]),
  ]);
  try {
    const runner = cb.runner({ alertmanager: { url: alertmanagerUrl() } });
    await runner.start();
    await waitFor(() => preconditionFailure(cb.spec("silenced-5xx"), cb.recent, Date.now()) === null, { timeoutMs: 20_000, message: "the precondition" });
    const r = runner.run("silenced-5xx");
    assert.equal(r.started, true, JSON.stringify(r));
    const ours = async (): Promise<SilenceView[]> => {
      const res = await fetch(`${alertmanagerUrl()}/api/v2/silences`);
      const all = (await res.json()) as SilenceView[];
      return all.filter((s) => s.comment.includes("lasso-canary chaos window silenced-5xx:"));
    };
    const during = await waitFor(async () => (await ours()).find((s) => s.status.state === "active"), { timeoutMs: 5_000, message: "an active silence during the window" });
    assert.deepEqual(during.matchers.map((m) => [m.name, m.value, m.isRegex]), [["alertname", "LassoCanary.*", true]]);
    // Ended by an operator long before its planned end: only the runner's expiry can end the silence now.
    const plannedEnd = Date.now() + 20_000;
    assert.ok(r.started, "narrows the result type");
    assert.deepEqual(runner.abort(r.id, "operator"), { ok: true }, "the running window is aborted");
    await runner.idle();
    const afterWindow = await ours();
    assert.deepEqual(afterWindow.map((s) => s.status.state), ["expired"], "expired when the window ended");
    assert.ok(Date.now() < plannedEnd, "well before the silence's own end");
  } finally {
    await cb.stop();
  }
});
