/**
 * The parts of the fault proxy process that need no upstream: who counts as a loopback
 * caller, the proxy config's validation, the profile -> proxies mapping (ports, credentials,
 * ${ENV}), the per-second traffic ring, lease renewal in place, the control client's errors,
 * and the canary profile's shape.
 */
import { after, describe, test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import http from "node:http";
import net, { type AddressInfo } from "node:net";
import os from "node:os";
import path from "node:path";
import { ControlError, ProxyControlClient } from "../src/chaos/controlClient.js";
import { FaultProxy } from "../src/chaos/faultProxy.js";
import { TRAFFIC_HORIZON_SEC, TrafficRing } from "../src/chaos/traffic.js";
import { canaryProfileText } from "../src/profile/canaryProfile.js";
import { parseLassoProfile } from "../src/profile/lassoProfile.js";
import { loadProxyConfig, ProxyConfigError } from "../src/proxy/config.js";
import { createControlServer } from "../src/proxy/controlApi.js";
import { isLoopbackAddress, isLoopbackListenHost } from "../src/proxy/loopback.js";
import { portCollision, proxySlots, proxySpecs, UpstreamError } from "../src/proxy/upstreams.js";
import { spawnSync } from "node:child_process";
import { CLI, httpCall } from "./helpers/proxyBed.js";

const dir = mkdtempSync(path.join(os.tmpdir(), "lasso-canary-proxy-units-"));
after(() => rmSync(dir, { recursive: true, force: true }));

function file(name: string, text: string): string {
  const p = path.join(dir, name);
  writeFileSync(p, text);
  return p;
}

describe("isLoopbackAddress: who may call the control API", () => {
  const cases: [string | undefined, boolean][] = [
    ["127.0.0.1", true],
    ["127.1.2.3", true],
    ["127.255.255.254", true],
    ["::1", true],
    ["0:0:0:0:0:0:0:1", true],
    ["::ffff:127.0.0.1", true],
    ["::FFFF:127.9.9.9", true],
    ["10.0.0.1", false],
    ["192.168.1.10", false],
    ["128.0.0.1", false],
    ["1.127.0.0", false],
    ["0.0.0.0", false],
    ["::", false],
    ["::2", false],
    ["fe80::1", false],
    ["2001:db8::1", false],
    ["::ffff:10.0.0.1", false],
    ["::ffff:7f00:1", false],
    ["localhost", false],
    ["", false],
    [undefined, false],
  ];
  for (const [address, loopback] of cases) test(`${String(address)} -> ${loopback}`, () => assert.equal(isLoopbackAddress(address), loopback));
  test("a listen host may also be localhost", () => {
    assert.equal(isLoopbackListenHost("localhost"), true);
    assert.equal(isLoopbackListenHost("0.0.0.0"), false);
  });
});

/**
 * The control server's answer to one request whose TCP peer is `remote`. A non-loopback peer
 * cannot be produced here without sending traffic to a non-loopback address (tests stay on
 * loopback), so the request is handed to the server with a socket that reports that peer:
 * the server's own routing, auth and refusal code runs unchanged.
 */
async function answerFrom(srv: http.Server, remote: string, urlPath: string, token?: string): Promise<{ status: number; body: string }> {
  const socket = new net.Socket();
  Object.defineProperty(socket, "remoteAddress", { value: remote });
  const req = new http.IncomingMessage(socket);
  req.method = "GET";
  req.url = urlPath;
  req.headers = token === undefined ? {} : { authorization: `Bearer ${token}` };
  req.push(null);
  const res = new http.ServerResponse(req);
  const chunks: Buffer[] = [];
  res.write = ((chunk: string | Buffer) => chunks.push(Buffer.from(chunk)) > 0) as typeof res.write;
  const end = res.end.bind(res);
  const done = new Promise<void>((resolve) => {
    res.end = ((chunk?: string | Buffer) => {
      if (chunk !== undefined && typeof chunk !== "function") chunks.push(Buffer.from(chunk));
      resolve();
      return end();
    }) as typeof res.end;
  });
  srv.emit("request", req, res);
  await done;
  socket.destroy();
  return { status: res.statusCode, body: Buffer.concat(chunks).toString("utf8") };
}

describe("the control server refuses callers that are not on loopback", () => {
  const token = "control-token-0123456789";
  const srv = createControlServer({ token, proxies: [] });
  const cases: Array<{ remote: string; path: string; status: number }> = [
    { remote: "10.1.2.3", path: "/v1/proxies", status: 403 },
    { remote: "192.0.2.7", path: "/healthz", status: 403 },
    { remote: "::ffff:10.0.0.1", path: "/v1/proxies", status: 403 },
    { remote: "127.0.0.1", path: "/v1/proxies", status: 200 },
    { remote: "::1", path: "/healthz", status: 200 },
  ];
  for (const c of cases) {
    test(`${c.remote} ${c.path}: ${c.status}, even with the token`, async () => {
      const r = await answerFrom(srv, c.remote, c.path, token);
      assert.equal(r.status, c.status, r.body);
      if (c.status === 403) assert.match(r.body, /loopback callers only/);
    });
  }
});

const PROFILE = file(
  "public.yml",
  [
    "---",
    "name: Public",
    "slug: public",
    "---",
    "chains:",
    "  ethereum:",
    "    chain_id: 1",
    "    providers:",
    '      - { id: "a", priority: 1, url: "https://a.example.invalid/v2/${A_KEY}", ws_url: "wss://a.example.invalid/v2/${A_KEY}" }',
    '      - { id: "b", priority: 2, url: "https://b.example.invalid", ws_url: "", api_key: "${B_KEY}", headers: { X-Team: canary }, auth_headers: { X-Auth: "s3cr3t-header-value" } }',
    "  base:",
    "    chain_id: 8453",
    "    providers:",
    '      - { id: "c", url: "http://c.example.invalid:8545", credentials: { user: u } }',
    "",
  ].join("\n"),
);
const ENV = { A_KEY: "akey0123456789abcdefXYZ", B_KEY: "bkey0123456789abcdefXYZ", TOKEN: "a-long-enough-control-token" };

function proxyConfig(name: string, lines: string[]): string {
  return file(name, [`profile: ${PROFILE}`, ...lines, ""].join("\n"));
}

function configIssues(configPath: string, env: Record<string, string> = ENV): string[] {
  try {
    loadProxyConfig(configPath, env);
  } catch (err) {
    assert.ok(err instanceof ProxyConfigError, String(err));
    return err.issues.map((i) => `${i.file}: ${i.path}: ${i.message}`);
  }
  return [];
}

describe("proxy config", () => {
  test("a valid config: profile relative to the config file, defaults for proxies and log", () => {
    const c = loadProxyConfig(proxyConfig("ok.yaml", ["control:", "  listen: 127.0.0.1:9470", "  token: ${TOKEN}"]), ENV);
    assert.equal(c.profile, PROFILE);
    assert.deepEqual(c.control, { host: "127.0.0.1", port: 9470, token: ENV.TOKEN });
    assert.deepEqual(c.proxies, { host: "127.0.0.1", advertiseHost: "127.0.0.1", basePort: 9500 });
    assert.equal(c.log.level, "info");
  });

  const refused: [string, string[], RegExp][] = [
    ["a wildcard control address", ["control:", "  listen: 0.0.0.0:9470", "  token: ${TOKEN}"], /control\.listen: must be a loopback address .*got "0\.0\.0\.0"/],
    ["an IPv6 wildcard control address", ["control:", '  listen: "[::]:9470"', "  token: ${TOKEN}"], /control\.listen: must be a loopback address/],
    ["a LAN control address", ["control:", "  listen: 10.1.2.3:9470", "  token: ${TOKEN}"], /control\.listen: must be a loopback address/],
    ["control port 0", ["control:", "  listen: 127.0.0.1:0", "  token: ${TOKEN}"], /control\.listen: needs a fixed port/],
    ["a short token", ["control:", "  listen: 127.0.0.1:9470", "  token: short"], /control\.token: must be at least 16 characters/],
    ["an unset token variable", ["control:", "  listen: 127.0.0.1:9470", "  token: ${NOT_SET_TOKEN}"], /control\.token: environment variable NOT_SET_TOKEN is not set/],
    ["a base port past 65535", ["control:", "  listen: 127.0.0.1:9470", "  token: ${TOKEN}", "proxies:", "  basePort: 70000"], /proxies\.basePort: must be 1-65535/],
    ["a host with a scheme", ["control:", "  listen: 127.0.0.1:9470", "  token: ${TOKEN}", "proxies:", "  advertiseHost: http://lasso-host"], /proxies\.advertiseHost: must be the host Lasso reaches/],
    ["an unknown key", ["control:", "  listen: 127.0.0.1:9470", "  token: ${TOKEN}", "proxy:", "  basePort: 9500"], /proxy: unknown key; allowed here: profile, control, proxies, log/],
    ["no control section", [], /control: is required/],
  ];
  for (const [name, lines, message] of refused) {
    test(`refuses ${name}, naming file and path`, () => {
      const issues = configIssues(proxyConfig(`bad-${name.replace(/\W+/g, "-")}.yaml`, lines));
      assert.ok(issues.some((i) => message.test(i) && i.includes("bad-")), `an issue matching ${message}:\n${issues.join("\n")}`);
    });
  }
});

test("`lasso-canary proxy` with a bad config exits 2 naming file and path, before listening anywhere", () => {
  const bad = proxyConfig("cli-bad.yaml", ["control:", "  listen: 0.0.0.0:9470", "  token: ${TOKEN}"]);
  const r = spawnSync(process.execPath, [...CLI, "proxy", "--config", bad], { env: { PATH: process.env.PATH ?? "", ...ENV }, encoding: "utf8", timeout: 60_000 });
  assert.equal(r.status, 2, r.stdout + r.stderr);
  assert.match(r.stderr, /cli-bad\.yaml: control\.listen: must be a loopback address .* \(line 3\)/);
});

describe("profile -> proxies", () => {
  const profile = parseLassoProfile(readFileSync(PROFILE, "utf8"), PROFILE);
  const ports = { host: "127.0.0.1", advertiseHost: "127.0.0.1", basePort: 9500 };

  test("one slot per provider, basePort + index in chain then provider order", () => {
    assert.deepEqual(
      proxySlots(profile, ports).map((s) => [s.chain, s.provider, s.port, s.hasWs]),
      [
        ["ethereum", "a", 9500, true],
        ["ethereum", "b", 9501, false],
        ["base", "c", 9502, false],
      ],
    );
  });

  test("ports past 65535 are refused with the highest base port that fits", () => {
    assert.throws(() => proxySlots(profile, { ...ports, basePort: 65534 }), (err: unknown) => err instanceof UpstreamError && /ports 65534-65536 .* lower proxies\.basePort to at most 65533/.test(err.message));
  });

  test("a listener on a proxy's port is named", () => {
    assert.equal(portCollision(proxySlots(profile, ports), 9501, "control.listen"), "control.listen port 9501 is also the port of proxy ethereum/b (proxies.basePort + 1): move one of them");
    assert.equal(portCollision(proxySlots(profile, ports), 9470, "control.listen"), null);
  });

  test("upstreams resolve ${ENV}; credentials become headers as Lasso sends them", () => {
    const specs = proxySpecs(profile, ports, ENV);
    assert.deepEqual(specs[0]?.upstream, { httpUrl: `https://a.example.invalid/v2/${ENV.A_KEY}`, wsUrl: `wss://a.example.invalid/v2/${ENV.A_KEY}`, headers: {} });
    assert.deepEqual(specs[1]?.upstream, { httpUrl: "https://b.example.invalid", wsUrl: null, headers: { authorization: `Bearer ${ENV.B_KEY}`, "x-team": "canary", "x-auth": "s3cr3t-header-value" } });
    assert.deepEqual(specs[2]?.upstream.headers, {}, "credentials (a term) are not a header");
  });

  test("an unset variable in a URL is named by path, never with the URL", () => {
    assert.throws(
      () => proxySpecs(profile, ports, { B_KEY: ENV.B_KEY }),
      (err: unknown) => {
        assert.ok(err instanceof UpstreamError, String(err));
        assert.deepEqual(
          err.issues.map((i) => `${i.path}: ${i.message}`),
          [
            "chains.ethereum.providers[0].url: environment variable A_KEY is not set (set it, or give a default: ${A_KEY:-value})",
            "chains.ethereum.providers[0].ws_url: environment variable A_KEY is not set (set it, or give a default: ${A_KEY:-value})",
          ],
        );
        assert.equal(err.message.includes("example.invalid"), false);
        return true;
      },
    );
  });

  test("a URL with the wrong scheme or none at all is refused by path", () => {
    const bad = parseLassoProfile(
      ["chains:", "  x:", "    chain_id: 5", "    providers:", '      - { id: "p", url: "ws://p.example.invalid/k3y0123456789abcdefXYZ", ws_url: "https://p.example.invalid" }', '      - { id: "q" }', ""].join("\n"),
      path.join(dir, "public.yml"),
    );
    assert.throws(
      () => proxySpecs(bad, ports, {}),
      (err: unknown) =>
        err instanceof UpstreamError &&
        assert.deepEqual(
          err.issues.map((i) => `${i.path}: ${i.message}`),
          [
            "chains.x.providers[0].url: must use http or https, got ws",
            "chains.x.providers[0].ws_url: must use ws or wss, got https",
            "chains.x.providers[1].url: is required: the provider's upstream URL the proxy forwards to",
          ],
        ) === undefined &&
        !err.message.includes("k3y0123456789"),
    );
  });
});

describe("TrafficRing", () => {
  test("counts forwarded and faulted items per second, HTTP and WS; notifications apart; not upstream errors", () => {
    let now = 1_000_000_500;
    const ring = new TrafficRing(() => now);
    ring.observe("eth_blockNumber", "forwarded", 1);
    ring.observe("eth_call", "ws:forwarded", 2);
    ring.observe("(ws_connect)", "ws:forwarded", 1);
    ring.observe("eth_blockNumber", "fault:http_5xx", 1);
    ring.observe("(ws_connect)", "ws:fault:ws_drop", 1);
    ring.observe("eth_subscription", "ws:forwarded", 5);
    ring.observe("eth_blockNumber", "upstream_error", 1);
    ring.observe("eth_blockNumber", "client_aborted", 1);
    now += 2000;
    ring.observe("eth_blockNumber", "forwarded", 1);
    assert.deepEqual(ring.since(1_000_000_000), [
      { at: 1_000_000_000, forwarded: 4, faulted: 2, notifications: 5 },
      { at: 1_000_001_000, forwarded: 0, faulted: 0, notifications: 0 },
      { at: 1_000_002_000, forwarded: 1, faulted: 0, notifications: 0 },
    ]);
  });

  test("keeps the last hour in a fixed ring: older seconds are gone, a reused slot starts at zero", () => {
    let now = 5_000_000_000;
    const ring = new TrafficRing(() => now);
    ring.observe("eth_blockNumber", "forwarded", 7);
    now += TRAFFIC_HORIZON_SEC * 1000; // the same slot, one lap later
    ring.observe("eth_blockNumber", "forwarded", 1);
    const all = ring.since(0);
    assert.equal(all.length, TRAFFIC_HORIZON_SEC, "never more than the horizon");
    assert.ok(TRAFFIC_HORIZON_SEC >= 3600, "at least an hour");
    assert.equal(all.reduce((a, b) => a + b.forwarded, 0), 1, "the lap-old count is not added to the new second");
    assert.deepEqual(all.at(-1), { at: now, forwarded: 1, faulted: 0, notifications: 0 });
  });
});

describe("FaultProxy.leaseFault: a renewal does not interrupt the fault", () => {
  let upstream: http.Server;
  let proxy: FaultProxy;

  test("a latency-delayed request is not released early by renewals; another fault replaces", async () => {
    upstream = http.createServer((_req, res) => res.writeHead(200, { "content-type": "application/json" }).end('{"jsonrpc":"2.0","id":1,"result":"0x1"}'));
    await new Promise<void>((resolve) => upstream.listen(0, "127.0.0.1", resolve));
    proxy = new FaultProxy({ name: "lease", upstreamHttpUrl: `http://127.0.0.1:${(upstream.address() as AddressInfo).port}` });
    await proxy.start();
    const cleared: string[] = [];
    proxy.on("fault-cleared", (reason) => cleared.push(reason));
    try {
      const latency = { kind: "latency", fixedMs: 1500, jitterMs: 0 } as const;
      proxy.leaseFault(latency, 1000);
      const started = Date.now();
      const answer = httpCall(proxy.httpUrl, { body: { jsonrpc: "2.0", id: 1, method: "eth_blockNumber", params: [] } });
      const renewals = setInterval(() => proxy.leaseFault(latency, 1000), 200);
      let took: number;
      try {
        assert.equal((await answer).status, 200);
        took = Date.now() - started;
      } finally {
        clearInterval(renewals);
      }
      assert.ok(took >= 1500, `the delay ran its full 1500 ms (${took} ms) although the lease was renewed every 200 ms`);
      assert.deepEqual(cleared, [], "renewals neither cleared nor replaced the window");
      proxy.leaseFault({ kind: "http_5xx", status: 502 }, 1000);
      assert.deepEqual(cleared, ["replaced"]);
      assert.deepEqual(proxy.currentFault()?.fault, { kind: "http_5xx", status: 502 });
    } finally {
      await proxy.stop();
      await new Promise<void>((resolve) => upstream.close(() => resolve()));
    }
  });
});

describe("ProxyControlClient errors", () => {
  test("nothing listening: a ControlError without status, naming the call, not the token", async () => {
    const srv = http.createServer();
    await new Promise<void>((resolve) => srv.listen(0, "127.0.0.1", resolve));
    const port = (srv.address() as AddressInfo).port;
    await new Promise<void>((resolve) => srv.close(() => resolve()));
    const token = "client-secret-token-0123456789";
    const c = new ProxyControlClient({ url: `http://127.0.0.1:${port}`, token });
    await assert.rejects(c.clearFault("ethereum", "a"), (err: unknown) => {
      assert.ok(err instanceof ControlError, String(err));
      assert.equal(err.status, null);
      assert.match(err.message, /^proxy control DELETE \/v1\/proxies\/ethereum\/a\/fault at http:\/\/127\.0\.0\.1:\d+: ECONNREFUSED$/);
      assert.equal(err.message.includes(token), false);
      return true;
    });
  });

  const answers: [string, (res: http.ServerResponse) => void, RegExp][] = [
    ["a body that is not JSON", (res) => res.writeHead(200).end("<html>"), /HTTP 200 with a body that is not JSON/],
    ["JSON of the wrong shape", (res) => res.writeHead(200, { "content-type": "application/json" }).end('[{"chain":1}]'), /unexpected answer/],
    ["an error status with the proxy's reason", (res) => res.writeHead(409, { "content-type": "application/json" }).end('{"error":"busy"}'), /HTTP 409: busy$/],
  ];
  for (const [name, answer, message] of answers) {
    test(`${name} is a ControlError`, async () => {
      const srv = http.createServer((_req, res) => answer(res));
      await new Promise<void>((resolve) => srv.listen(0, "127.0.0.1", resolve));
      try {
        const c = new ProxyControlClient({ url: `http://127.0.0.1:${(srv.address() as AddressInfo).port}`, token: "t0123456789abcdef" });
        await assert.rejects(c.list(), (err: unknown) => err instanceof ControlError && message.test(err.message));
      } finally {
        srv.closeAllConnections();
        await new Promise<void>((resolve) => srv.close(() => resolve()));
      }
    });
  }

  test("no answer within the timeout is a ControlError", async () => {
    const srv = http.createServer(() => {});
    await new Promise<void>((resolve) => srv.listen(0, "127.0.0.1", resolve));
    try {
      const c = new ProxyControlClient({ url: `http://127.0.0.1:${(srv.address() as AddressInfo).port}`, token: "t0123456789abcdef", timeoutMs: 200 });
      await assert.rejects(c.list(), (err: unknown) => err instanceof ControlError && /no answer within 200 ms/.test(err.message));
    } finally {
      srv.closeAllConnections();
      await new Promise<void>((resolve) => srv.close(() => resolve()));
    }
  });
});

describe("canaryProfileText", () => {
  const ports = { host: "0.0.0.0", advertiseHost: "fd00::7", basePort: 9600 };

  test("a provider without url (which Lasso would refuse) still gets its proxy's url", () => {
    const p = file("nourl.yml", ["chains:", "  x:", "    chain_id: 5", "    providers:", '      - { id: "p", priority: 1 }', ""].join("\n"));
    const canary = canaryProfileText(parseLassoProfile(readFileSync(p, "utf8"), p), { ports: { ...ports, advertiseHost: "lasso-proxies" }, portsSource: "test", version: "0.0.0" });
    assert.match(canary, /- url: http:\/\/lasso-proxies:9600\n\s+id: p\n/);
  });

  test("a legacy profile becomes a frontmatter one; credentials and empty ws_url dropped; IPv6 hosts bracketed", () => {
    const legacyPath = file("legacy.yml", ["name: Old", "rps_limit: 10", "chains:", "  x:", "    chain_id: 5", "    providers:", '      - { id: "p", url: "https://p.example.invalid/${K}", ws_url: "", api_key: "${K}", sharing_mode: isolated }', ""].join("\n"));
    const text = canaryProfileText(parseLassoProfile(readFileSync(legacyPath, "utf8"), legacyPath), { ports, portsSource: "test", version: "0.0.0" });
    const canary = parseLassoProfile(text, path.join(dir, "canary.yml"));
    assert.equal(canary.slug, "canary");
    assert.equal(canary.format, "frontmatter");
    assert.match(text, /^rps_limit: 10$/m);
    assert.match(text, /^\s+url: http:\/\/\[fd00::7\]:9600$/m);
    const yamlLines = text.split("\n").filter((l) => !l.startsWith("#")).join("\n");
    assert.doesNotMatch(yamlLines, /ws_url|api_key|example\.invalid|\$\{K\}/);
    assert.match(text, /sharing_mode: isolated/, "other provider fields kept");
  });
});
