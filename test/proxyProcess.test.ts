/**
 * `lasso-canary proxy` as its own process: real anvil upstreams, a profile pointing at them,
 * the process spawned through the CLI, driven through its control API with
 * ProxyControlClient. Faults are leases the process itself ends; a client that dies mid-lease
 * (SIGKILL) leaves the proxy serving and back to pass-through within the lease; a restart
 * starts in pass-through; the canary profile printed by `lasso-profile` points at exactly
 * the ports the process listens on.
 */
import { after, afterEach, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import http from "node:http";
import type { AddressInfo } from "node:net";
import os from "node:os";
import path from "node:path";
import { WebSocket } from "ws";
import { startAnvil, type AnvilNode } from "../sim/anvil.js";
import { MAX_LEASE_MS } from "../src/chaos/control.js";
import { ControlError, ProxyControlClient } from "../src/chaos/controlClient.js";
import { parseLassoProfile } from "../src/profile/lassoProfile.js";
import { CLI, freePortRange, httpCall, killChild, rpc, startProxyChild, type ProxyChild } from "./helpers/proxyBed.js";
import { obj } from "./helpers/json.js";
import { waitFor } from "./helpers/waitFor.js";

const TOKEN = "proxy-test-token-0123456789";
const SECRET_KEY = "sk0123456789abcdefSECRET";
/** How late after a lease's end the fault may still be seen, on a loaded 2-core machine (the test's own bound). */
const SLACK_MS = 2500;
const FAULT_503 = { kind: "http_5xx", status: 503 } as const;

let one: AnvilNode;
let two: AnvilNode;
let recorder: http.Server;
const seenAuth: string[] = [];
const seenPaths: string[] = [];
let dir = "";
let config = "";
let env: Record<string, string> = {};
let basePort = 0;
let proc: ProxyChild;
let client: ProxyControlClient;

const proxyUrl = (index: number): string => `http://127.0.0.1:${basePort + index}`;

before(async () => {
  [one, two] = await Promise.all([startAnvil({ chainId: 74_101, blockTimeSec: 1 }), startAnvil({ chainId: 74_102, blockTimeSec: 0 })]);
  // A provider that needs its key: records what the proxy sends and answers from anvil.
  recorder = http.createServer((req, res) => {
    seenAuth.push(req.headers.authorization ?? "");
    seenPaths.push(req.url ?? "");
    let body = "";
    req.on("data", (d: Buffer) => (body += d.toString()));
    req.on("end", () => {
      const up = http.request(one.httpUrl, { method: "POST", headers: { "content-type": "application/json" } }, (r) => {
        res.writeHead(r.statusCode ?? 502, { "content-type": "application/json" });
        r.pipe(res);
      });
      up.on("error", () => res.writeHead(502).end());
      up.end(body);
    });
  });
  await new Promise<void>((resolve) => recorder.listen(0, "127.0.0.1", resolve));
  const recorderPort = (recorder.address() as AddressInfo).port;

  dir = mkdtempSync(path.join(os.tmpdir(), "lasso-canary-proxy-"));
  basePort = await freePortRange(4);
  writeFileSync(
    path.join(dir, "public.yml"),
    [
      "---",
      "name: Public",
      "slug: public",
      "rps_limit: 50",
      "---",
      "chains:",
      "  one:",
      "    chain_id: 74101",
      "    block_time_ms: 1000",
      "    providers:",
      '      - id: "one_ws"',
      "        priority: 1",
      '        url: "${ONE_HTTP}"',
      '        ws_url: "${ONE_WS}"',
      '      - id: "one_keyed"',
      "        priority: 2",
      `        url: "http://127.0.0.1:${recorderPort}/v2/\${SECRET_KEY}"`,
      '        api_key: "${SECRET_KEY}"',
      "        headers:",
      "          X-Team: canary",
      "  two:",
      "    chain_id: 74102",
      "    providers:",
      '      - id: "two_http"',
      "        priority: 1",
      `        url: "${two.httpUrl}"`,
      "",
    ].join("\n"),
  );
  config = path.join(dir, "proxy.yaml");
  writeFileSync(
    config,
    [
      "profile: public.yml",
      "control:",
      `  listen: 127.0.0.1:${basePort + 3}`,
      "  token: ${CANARY_PROXY_TOKEN}",
      "proxies:",
      "  host: 127.0.0.1",
      "  advertiseHost: 127.0.0.1",
      `  basePort: ${basePort}`,
      "",
    ].join("\n"),
  );
  env = { CANARY_PROXY_TOKEN: TOKEN, SECRET_KEY, ONE_HTTP: one.httpUrl, ONE_WS: one.wsUrl };
  proc = await startProxyChild(config, env);
  client = new ProxyControlClient({ url: `http://127.0.0.1:${basePort + 3}`, token: TOKEN, timeoutMs: 5000 });
});

afterEach(async () => {
  if (proc.child.exitCode !== null || proc.child.signalCode !== null) return;
  for (const p of await client.list()) await client.clearFault(p.chain, p.provider);
});

after(async () => {
  if (proc !== undefined) await killChild(proc);
  await new Promise<void>((resolve) => recorder?.close(() => resolve()));
  await Promise.all([one?.stop(), two?.stop()]);
  if (dir !== "") rmSync(dir, { recursive: true, force: true });
});

async function chainIdVia(index: number): Promise<number> {
  const r = await rpc(proxyUrl(index), "eth_chainId");
  assert.equal(r.status, 200, `eth_chainId through proxy ${index}: ${r.text}`);
  return Number(obj(r.json, "answer").result);
}

/** The status a plain eth_blockNumber gets through proxy `index`. */
async function statusVia(index: number): Promise<number> {
  return (await rpc(proxyUrl(index), "eth_blockNumber")).status;
}

describe("serving", () => {
  test("GET /healthz answers without a token", async () => {
    const r = await httpCall(`http://127.0.0.1:${basePort + 3}/healthz`);
    assert.equal(r.status, 200);
    assert.deepEqual(r.json, { status: "ok", proxies: 3 });
  });

  test("lists one proxy per (chain, provider) on basePort + index, ws only where the provider has a ws_url, all in pass-through", async () => {
    assert.deepEqual(await client.list(), [
      { chain: "one", provider: "one_ws", httpUrl: proxyUrl(0), wsUrl: `ws://127.0.0.1:${basePort}`, fault: null, expiresAt: null },
      { chain: "one", provider: "one_keyed", httpUrl: proxyUrl(1), wsUrl: null, fault: null, expiresAt: null },
      { chain: "two", provider: "two_http", httpUrl: proxyUrl(2), wsUrl: null, fault: null, expiresAt: null },
    ]);
  });

  test("forwards HTTP to each provider's real upstream", async () => {
    assert.equal(await chainIdVia(0), 74_101);
    assert.equal(await chainIdVia(2), 74_102);
  });

  test("forwards to a keyed provider with its credentials (api_key as bearer, ${ENV} resolved), and logs neither key nor URL", async () => {
    seenAuth.length = 0;
    seenPaths.length = 0;
    assert.equal(await chainIdVia(1), 74_101);
    assert.deepEqual(seenAuth, [`Bearer ${SECRET_KEY}`]);
    assert.deepEqual(seenPaths, [`/v2/${SECRET_KEY}`]);
    assert.equal(proc.output().includes(SECRET_KEY), false, `the key is not in the log:\n${proc.output()}`);
    assert.equal(proc.output().includes(one.httpUrl), false, "no upstream URL in the log");
  });

  test("forwards WebSocket requests and newHeads subscriptions", async () => {
    const ws = new WebSocket(`ws://127.0.0.1:${basePort}`);
    try {
      const frames: unknown[] = [];
      ws.on("message", (d: Buffer) => frames.push(JSON.parse(d.toString())));
      await new Promise<void>((resolve, reject) => {
        ws.once("open", resolve);
        ws.once("error", reject);
      });
      ws.send(JSON.stringify({ jsonrpc: "2.0", id: 7, method: "eth_chainId", params: [] }));
      ws.send(JSON.stringify({ jsonrpc: "2.0", id: 8, method: "eth_subscribe", params: ["newHeads"] }));
      const chainId = await waitFor(() => frames.map((f) => obj(f, "frame")).find((f) => f.id === 7), { timeoutMs: 10_000, message: "the eth_chainId answer" });
      assert.equal(Number(chainId.result), 74_101);
      const head = await waitFor(() => frames.map((f) => obj(f, "frame")).find((f) => f.method === "eth_subscription"), { timeoutMs: 15_000, message: "a newHeads notification" });
      assert.match(String(obj(obj(head.params, "params").result, "head").number), /^0x[0-9a-f]+$/);
    } finally {
      ws.terminate();
    }
  });
});

describe("control API", () => {
  const base = (): string => `http://127.0.0.1:${basePort + 3}`;

  test("refuses calls without the token or with a wrong one (401), naming no token", async () => {
    const none = await httpCall(`${base()}/v1/proxies`);
    assert.equal(none.status, 401);
    const wrong = await httpCall(`${base()}/v1/proxies/one/one_ws/fault`, { method: "PUT", token: "not-the-token-at-all", body: { fault: FAULT_503, leaseMs: 1000, until: Date.now() + 5000 } });
    assert.equal(wrong.status, 401);
    assert.equal(wrong.text.includes(TOKEN), false);
    assert.equal(await statusVia(0), 200, "the refused PUT set no fault");
    await assert.rejects(new ProxyControlClient({ url: base(), token: "wrong-token-0123456789" }).list(), (err: unknown) => err instanceof ControlError && err.status === 401);
  });

  test("an unknown proxy is 404", async () => {
    await assert.rejects(client.setFault("one", "nope", FAULT_503, 1000, Date.now() + 5000), (err: unknown) => err instanceof ControlError && err.status === 404 && /no proxy for chain "one" provider "nope"/.test(err.message));
    await assert.rejects(client.traffic("three", "one_ws", 0), (err: unknown) => err instanceof ControlError && err.status === 404);
  });

  const badPuts: [string, unknown, RegExp][] = [
    ["an unknown fault kind", { fault: { kind: "meltdown" }, leaseMs: 1000, until: Date.now() + 60_000 }, /fault/],
    ["a fault with a bad field", { fault: { kind: "http_5xx", status: 200 }, leaseMs: 1000, until: Date.now() + 60_000 }, /fault\.status/],
    ["a lease of 0", { fault: FAULT_503, leaseMs: 0, until: Date.now() + 60_000 }, /leaseMs must be > 0/],
    ["a lease over MAX_LEASE_MS", { fault: FAULT_503, leaseMs: 30_001, until: Date.now() + 60_000 }, /leaseMs must be at most 30000/],
    ["until in the past", { fault: FAULT_503, leaseMs: 1000, until: Date.now() - 1 }, /has passed/],
    ["until more than 10 minutes ahead", { fault: FAULT_503, leaseMs: 1000, until: Date.now() + 11 * 60_000 }, /more than 600000 ms ahead/],
    ["no until", { fault: FAULT_503, leaseMs: 1000 }, /until/],
    ["an unknown field", { fault: FAULT_503, leaseMs: 1000, until: Date.now() + 60_000, forever: true }, /forever/],
    ["a body that is not JSON", "{fault:", /must be JSON/],
  ];
  for (const [name, body, message] of badPuts) {
    test(`PUT .../fault with ${name} is 400 and sets nothing`, async () => {
      const r = await httpCall(`${base()}/v1/proxies/one/one_ws/fault`, { method: "PUT", token: TOKEN, body });
      assert.equal(r.status, 400, r.text);
      assert.match(String(obj(r.json, "error body").error), message);
      assert.equal((await client.list())[0]?.fault, null);
    });
  }
  test("MAX_LEASE_MS itself is accepted", async () => {
    const before = Date.now();
    const { expiresAt } = await client.setFault("one", "one_ws", FAULT_503, MAX_LEASE_MS, before + 60_000);
    assert.ok(expiresAt >= before + MAX_LEASE_MS && expiresAt <= Date.now() + MAX_LEASE_MS, `expiresAt ${expiresAt} is now + the lease`);
  });

  test("a fault that is not renewed ends within its lease, by the proxy process itself", async () => {
    const leaseMs = 1500;
    const before = Date.now();
    const { expiresAt } = await client.setFault("one", "one_ws", FAULT_503, leaseMs, before + 60_000);
    assert.ok(expiresAt >= before + leaseMs && expiresAt <= Date.now() + leaseMs, `expiresAt ${expiresAt} = now + lease`);
    assert.equal(await statusVia(0), 503, "the fault acts at once");
    assert.equal(await statusVia(1), 200, "on that proxy only");
    assert.deepEqual((await client.list())[0]?.fault, FAULT_503);
    await waitFor(async () => (await statusVia(0)) === 200, { timeoutMs: expiresAt + SLACK_MS - Date.now(), message: "pass-through after the lease" });
    assert.equal((await client.list())[0]?.fault, null);
  });

  test("renewing (the same PUT again) keeps the fault on past several leases; it ends one lease after the last renewal", async () => {
    const leaseMs = 1500;
    const until = Date.now() + 60_000;
    let last = (await client.setFault("one", "one_ws", FAULT_503, leaseMs, until)).expiresAt;
    const first = last;
    const keepUntil = Date.now() + 3 * leaseMs;
    while (Date.now() < keepUntil) {
      assert.equal(await statusVia(0), 503, "still faulted while renewed");
      await new Promise((resolve) => setTimeout(resolve, 300));
      const { expiresAt } = await client.setFault("one", "one_ws", FAULT_503, leaseMs, until);
      assert.ok(expiresAt >= last, `each renewal moves the end forward (${expiresAt} >= ${last})`);
      last = expiresAt;
    }
    assert.ok(last - first >= 2 * leaseMs, `renewals carried the end ${last - first} ms past the first lease`);
    assert.equal(await statusVia(0), 503);
    await waitFor(async () => (await statusVia(0)) === 200, { timeoutMs: last + SLACK_MS - Date.now(), message: "pass-through once renewals stop" });
  });

  test("`until` caps renewals: the fault ends at the window's end however often it is renewed, and later renewals are refused", async () => {
    const leaseMs = 2000;
    const until = Date.now() + 2500;
    let refused: ControlError | null = null;
    for (;;) {
      try {
        const { expiresAt } = await client.setFault("one", "one_ws", FAULT_503, leaseMs, until);
        assert.ok(expiresAt <= until, `expiresAt ${expiresAt} never past until ${until}`);
      } catch (err) {
        assert.ok(err instanceof ControlError, String(err));
        refused = err;
        break;
      }
      await new Promise((resolve) => setTimeout(resolve, 200));
      assert.ok(Date.now() < until + SLACK_MS, "renewals are refused once until has passed");
    }
    assert.equal(refused.status, 400);
    assert.match(refused.message, /has passed/);
    assert.ok(Date.now() >= until, "refused only after until");
    await waitFor(async () => (await statusVia(0)) === 200, { timeoutMs: until + SLACK_MS - Date.now(), message: "pass-through at the window's end" });
  });

  test("DELETE ends the fault at once", async () => {
    await client.setFault("two", "two_http", FAULT_503, 10_000, Date.now() + 60_000);
    assert.equal(await statusVia(2), 503);
    await client.clearFault("two", "two_http");
    assert.equal(await statusVia(2), 200);
    assert.equal((await client.list())[2]?.fault, null);
  });

  /** The start of the next second: buckets are whole seconds, so earlier tests' requests stay out of it. */
  async function nextSecond(): Promise<number> {
    const at = Math.ceil((Date.now() + 1) / 1000) * 1000;
    await waitFor(() => Date.now() >= at, { timeoutMs: 2000, message: "the next second" });
    return at;
  }

  test("traffic: per-second buckets of what was sent through one proxy, forwarded vs faulted, HTTP and WS", async () => {
    const since = await nextSecond();
    for (let i = 0; i < 3; i++) assert.equal(await statusVia(2), 200);
    await client.setFault("two", "two_http", { kind: "http_429", retryAfterSec: 1 }, 10_000, Date.now() + 60_000);
    for (let i = 0; i < 2; i++) assert.equal(await statusVia(2), 429);
    await client.clearFault("two", "two_http");
    // A batch of two counts as two items.
    const batch = await httpCall(proxyUrl(2), { body: [1, 2].map((id) => ({ jsonrpc: "2.0", id, method: "eth_chainId", params: [] })) });
    assert.equal(batch.status, 200);
    const buckets = await client.traffic("two", "two_http", since);
    const sum = (k: "forwarded" | "faulted"): number => buckets.reduce((a, b) => a + b[k], 0);
    assert.equal(sum("forwarded"), 5);
    assert.equal(sum("faulted"), 2);
    assert.deepEqual([...new Set(buckets.map((b) => b.notifications))], [0], "notifications come through the client (none here: no subscription)");
    assert.equal(buckets[0]?.at, since, "starts at since's second");
    buckets.forEach((b, i) => i > 0 && assert.equal(b.at - (buckets[i - 1]?.at ?? 0), 1000, "dense one-second buckets"));
    const other = await client.traffic("one", "one_keyed", since);
    assert.equal(other.reduce((a, b) => a + b.forwarded + b.faulted, 0), 0, "another proxy's traffic is its own");

    const wsSince = await nextSecond();
    const ws = new WebSocket(`ws://127.0.0.1:${basePort}`);
    try {
      await new Promise<void>((resolve, reject) => {
        ws.once("open", resolve);
        ws.once("error", reject);
      });
      const answered = new Promise((resolve) => ws.once("message", resolve));
      ws.send(JSON.stringify({ jsonrpc: "2.0", id: 1, method: "eth_chainId", params: [] }));
      await answered;
    } finally {
      ws.terminate();
    }
    const wsBuckets = await client.traffic("one", "one_ws", wsSince);
    assert.equal(wsBuckets.reduce((a, b) => a + b.forwarded, 0), 2, "the WS handshake and the WS request");
  });

  test("traffic refuses a since that is not a time", async () => {
    const r = await httpCall(`${base()}/v1/proxies/two/two_http/traffic?since=yesterday`, { token: TOKEN });
    assert.equal(r.status, 400);
  });
});

describe("lifetime", () => {
  /** A child process that sets a fault through ProxyControlClient and renews it every 300 ms until killed. */
  function renewer(leaseMs: number): { child: ReturnType<typeof spawn>; exited: Promise<number | null>; set: Promise<void> } {
    const script = [
      `import { ProxyControlClient } from ${JSON.stringify(path.resolve("src/chaos/controlClient.ts"))};`,
      `const c = new ProxyControlClient({ url: "http://127.0.0.1:${basePort + 3}", token: process.env.CANARY_PROXY_TOKEN });`,
      `const until = Date.now() + 60000;`,
      `const renew = () => c.setFault("two", "two_http", ${JSON.stringify(FAULT_503)}, ${leaseMs}, until);`,
      `await renew(); console.log("set");`,
      `setInterval(() => void renew().catch(() => {}), 300);`,
    ].join("\n");
    const child = spawn(process.execPath, ["--import", "tsx", "--input-type=module", "-e", script], { env: { ...process.env, CANARY_PROXY_TOKEN: TOKEN }, stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    child.stdout?.on("data", (d: Buffer) => (out += d.toString()));
    child.stderr?.on("data", (d: Buffer) => (out += d.toString()));
    const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
    const set = waitFor(() => out.includes("set"), { timeoutMs: 30_000, message: `the renewer's first lease (${out})` }).then(() => undefined);
    return { child, exited, set };
  }

  test("the proxy keeps serving when the client that set the fault is SIGKILLed, and is back to pass-through within the lease", async () => {
    const leaseMs = 2000;
    const r = renewer(leaseMs);
    try {
      await r.set;
      assert.equal(await statusVia(2), 503, "faulted while the client renews");
      await new Promise((resolve) => setTimeout(resolve, 1.5 * leaseMs)); // past one lease: only renewals keep it on
      assert.equal(await statusVia(2), 503, "still faulted: the renewals arrive");
    } finally {
      await killChild(r);
    }
    const killedAt = Date.now();
    assert.equal(proc.child.exitCode, null, "the proxy process lives on");
    await waitFor(async () => (await statusVia(2)) === 200, { timeoutMs: leaseMs + SLACK_MS, message: "pass-through within the lease after the client died" });
    assert.ok(Date.now() - killedAt <= leaseMs + SLACK_MS, "within the lease (and the slack)");
    assert.equal(await chainIdVia(2), 74_102, "and still forwarding");
  });

  test("a restarted proxy process starts in pass-through on the same ports: no fault survives it", async () => {
    await client.setFault("one", "one_keyed", FAULT_503, MAX_LEASE_MS, Date.now() + 120_000);
    assert.equal(await statusVia(1), 503);
    await killChild(proc);
    proc = await startProxyChild(config, env);
    assert.equal(await statusVia(1), 200, "pass-through after the restart");
    const listed = await client.list();
    assert.deepEqual(
      listed.map((p) => [p.httpUrl, p.fault]),
      [
        [proxyUrl(0), null],
        [proxyUrl(1), null],
        [proxyUrl(2), null],
      ],
    );
  });

  test("a second process on the same ports refuses to start, naming the port", () => {
    const r = spawnSync(process.execPath, [...CLI, "proxy", "--config", config], { env: { PATH: process.env.PATH ?? "", ...env }, encoding: "utf8", timeout: 60_000 });
    assert.equal(r.status, 1, r.stdout + r.stderr);
    assert.match(r.stdout + r.stderr, /proxy one\/one_ws cannot listen on 127\.0\.0\.1:\d+: the port is in use|cannot listen on 127\.0\.0\.1:\d+: the port is in use/);
    assert.equal(r.stdout.includes(SECRET_KEY), false);
  });
});

describe("lasso-profile", () => {
  test("prints a canary profile Lasso's loader reads: same chains and providers, URLs at this process's proxies, no upstream URL or key", async () => {
    const r = spawnSync(process.execPath, [...CLI, "lasso-profile", path.join(dir, "public.yml"), "--proxy-config", config], { env: { PATH: process.env.PATH ?? "" }, encoding: "utf8", timeout: 60_000 });
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stderr, "", "no warnings: the proxy config names this profile");
    const text = r.stdout;
    const canary = parseLassoProfile(text, path.join(dir, "canary.yml"));
    assert.equal(canary.slug, "canary");
    assert.equal(canary.format, "frontmatter");
    assert.deepEqual(canary.warnings, []);
    const original = parseLassoProfile(readFileSync(path.join(dir, "public.yml"), "utf8"), path.join(dir, "public.yml"));
    assert.deepEqual(canary.chains, original.chains, "same chains, providers, ids, priorities, ws capability");
    const urls = [...text.matchAll(/^\s+(url|ws_url): (\S+)$/gm)].map((m) => m[2]);
    const listed = await client.list();
    assert.deepEqual(urls, [listed[0]?.httpUrl, listed[0]?.wsUrl, listed[1]?.httpUrl, listed[2]?.httpUrl], "the URLs the proxy process serves");
    for (const secret of [SECRET_KEY, "${SECRET_KEY}", "${ONE_HTTP}", two.httpUrl, "api_key", "X-Team", "headers"]) assert.equal(text.includes(secret), false, `no ${secret} in the canary profile`);
    assert.match(text, /^---\n# Lasso profile "canary", generated by lasso-canary/, "starts with the frontmatter marker, then the header comment");
    assert.match(text, /^rps_limit: 50$/m, "other frontmatter fields kept");
  });
});

describe("stopping", () => {
  test("SIGTERM ends faults, closes the proxies and exits 0", async () => {
    await client.setFault("two", "two_http", FAULT_503, MAX_LEASE_MS, Date.now() + 60_000);
    proc.child.kill("SIGTERM");
    assert.equal(await proc.exited, 0, proc.output());
    assert.match(proc.output(), /"provider":"two_http".*"reason":"cleared","msg":"fault ended"/);
    await assert.rejects(rpc(proxyUrl(2), "eth_blockNumber"), /ECONNREFUSED/, "the proxies are closed");
  });
});
