import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, realpathSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import http from "node:http";
import type { AddressInfo } from "node:net";
import os from "node:os";
import path from "node:path";
import { DAEMON_NODE_FLAGS } from "../bench/nodeFlags.js";
import { healthzUrl } from "../src/healthcheck.js";
import { loadPlan } from "../src/plan/index.js";
import { formatRate } from "../src/plan/build.js";
import { upstreamLoad } from "../src/plan/load.js";
import { waitFor } from "./helpers/waitFor.js";

const UNIT = "systemd/lasso-canary.service";

/** Every shipped unit and the command its ExecStart must run. */
const UNITS: { unit: string; command: RegExp }[] = [
  { unit: UNIT, command: /^ExecStart=.*\/dist\/src\/cli\.js run --config /m },
  { unit: "systemd/lasso-canary-proxy.service", command: /^ExecStart=.*\/dist\/src\/cli\.js proxy --config /m },
];

for (const { unit, command } of UNITS) {
  const name = path.basename(unit);

  test(`${name} passes systemd-analyze verify`, () => {
    const r = spawnSync("systemd-analyze", ["verify", unit], { encoding: "utf8" });
    assert.equal(r.error, undefined, "systemd-analyze is installed (.ci/run installs it)");
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stderr.trim(), "", "no warnings");
    const text = readFileSync(unit, "utf8");
    assert.match(text, command, "starts the compiled CLI's command");
    assert.match(text, /^TimeoutStopSec=\d+/m, "gives SIGTERM time to finish");
  });

  test(`systemd-analyze security rates ${name} 3.0 or better, without MemoryDenyWriteExecute (V8's JIT needs W+X pages)`, () => {
    const r = spawnSync("systemd-analyze", ["security", "--offline=yes", "--no-pager", unit], { encoding: "utf8" });
    assert.equal(r.error, undefined, "systemd-analyze is installed (.ci/run installs it)");
    const m = new RegExp(`Overall exposure level for ${name.replace(/[.-]/g, "\\$&")}: (\\d+(?:\\.\\d+)?)`).exec(r.stdout);
    assert.ok(m?.[1] !== undefined, `an overall exposure level in the output:\n${r.stdout}\n${r.stderr}`);
    const score = Number(m[1]);
    assert.ok(score <= 3.0, `exposure ${score} <= 3.0; the failed checks:\n${r.stdout.split("\n").filter((l) => l.startsWith("✗")).join("\n")}`);
    assert.doesNotMatch(readFileSync(unit, "utf8"), /^MemoryDenyWriteExecute=(yes|true|1)/m);
  });
}

// ---------------------------------------------------------------- the unit, read as systemd does

interface CliResult {
  status: number | null;
  stdout: string;
  stderr: string;
}

interface UnitService {
  env: Record<string, string>;
  environmentFiles: { path: string; optional: boolean }[];
  execStart: string[];
  workingDirectory: string;
  stateDirectory: string;
}

/** `a "b c" d` -> [a, "b c", d]: systemd's quoting, as far as this unit uses it. */
function words(value: string): string[] {
  return [...value.matchAll(/"([^"]*)"|(\S+)/g)].map((m) => m[1] ?? m[2] ?? "");
}

function readService(file: string): UnitService {
  const service: UnitService = { env: {}, environmentFiles: [], execStart: [], workingDirectory: "", stateDirectory: "" };
  let section = "";
  for (const raw of readFileSync(file, "utf8").split("\n")) {
    const line = raw.trim();
    if (line === "" || line.startsWith("#") || line.startsWith(";")) continue;
    const header = /^\[(.+)\]$/.exec(line);
    if (header?.[1] !== undefined) {
      section = header[1];
      continue;
    }
    const eq = line.indexOf("=");
    if (section !== "Service" || eq < 0) continue;
    const key = line.slice(0, eq);
    const value = line.slice(eq + 1);
    if (key === "Environment") for (const w of words(value)) service.env[w.slice(0, w.indexOf("="))] = w.slice(w.indexOf("=") + 1);
    else if (key === "EnvironmentFile") service.environmentFiles.push({ path: value.replace(/^-/, ""), optional: value.startsWith("-") });
    else if (key === "ExecStart") service.execStart = words(value);
    else if (key === "WorkingDirectory") service.workingDirectory = value;
    else if (key === "StateDirectory") service.stateDirectory = value;
  }
  return service;
}

/** KEY=VALUE lines; # comments and blank lines skipped; surrounding quotes removed. */
function readEnvironmentFile(file: string): Record<string, string> {
  const env: Record<string, string> = {};
  for (const line of readFileSync(file, "utf8").split("\n")) {
    const m = /^\s*([A-Za-z_][A-Za-z0-9_]*)=(.*)$/.exec(line);
    if (m?.[1] !== undefined && m[2] !== undefined) env[m[1]] = m[2].replace(/^"(.*)"$/, "$1");
  }
  return env;
}

// ---------------------------------------------------------------- the documented layout

/**
 * docs/deployment.md's layout under a temporary root: the build (tsconfig.build.json, as
 * `npm run build` makes it) in opt/lasso-canary, config and checks in etc/lasso-canary,
 * LASSO_URL in etc/lasso-canary/env, and the state directory systemd creates.
 */
describe("the documented systemd layout, run with the unit's environment", () => {
  let root = "";
  let lasso: http.Server;
  let service: UnitService;
  let env: Record<string, string>;
  let cwd = "";
  let stateDir = "";

  /** A path of the unit (absolute on the host) under the temporary root. */
  const underRoot = (p: string): string => (/^\/(etc|opt|var)\//.test(p) ? path.join(root, p) : p);

  /** The unit's ExecStart with `run` replaced by `command`, its paths under the root, `/usr/bin/env node` as this node. */
  function argv(command: string, ...extra: string[]): string[] {
    const exec = service.execStart.map(underRoot);
    assert.equal(exec[0], "/usr/bin/env", "ExecStart runs node through env (PATH decides which node)");
    assert.equal(exec[1], "node");
    const args = exec.slice(2);
    const at = args.indexOf("run");
    assert.ok(at > 0, `ExecStart runs the "run" command: ${service.execStart.join(" ")}`);
    return [...args.slice(0, at), command, ...args.slice(at + 1), ...extra];
  }

  /** Asynchronous, so that servers in this process can answer the child. */
  function cli(command: string, extraEnv: Record<string, string> = {}): Promise<CliResult> {
    const child = spawn(process.execPath, argv(command), { cwd, env: { ...env, ...extraEnv }, stdio: ["ignore", "pipe", "pipe"], timeout: 60_000 });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
    child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
    return new Promise((resolve) => child.on("close", (status) => resolve({ status, stdout, stderr })));
  }

  before(async () => {
    root = mkdtempSync(path.join(os.tmpdir(), "lasso-canary-deploy-"));
    // Lasso stand-in: the daemon must start whatever Lasso answers.
    lasso = http.createServer((_req, res) => res.writeHead(503).end());
    await new Promise<void>((resolve) => lasso.listen(0, "127.0.0.1", resolve));

    const opt = path.join(root, "opt/lasso-canary");
    const tsc = spawnSync(process.execPath, ["node_modules/typescript/bin/tsc", "-p", "tsconfig.build.json", "--outDir", path.join(opt, "dist")], { encoding: "utf8", timeout: 150_000 });
    assert.equal(tsc.status, 0, `npm run build's tsc: ${tsc.stdout}${tsc.stderr}`);
    copyFileSync("package.json", path.join(opt, "package.json"));
    symlinkSync(realpathSync("node_modules"), path.join(opt, "node_modules"));

    const etc = path.join(root, "etc/lasso-canary");
    mkdirSync(path.join(etc, "checks"), { recursive: true });
    copyFileSync("config/canary.yaml", path.join(etc, "canary.yaml"));
    for (const f of readdirSync("checks")) copyFileSync(path.join("checks", f), path.join(etc, "checks", f));
    // The port is the operator's choice (0 here: any free port, read back from the log).
    const port = (lasso.address() as AddressInfo).port;
    writeFileSync(path.join(etc, "env"), `# secrets: mode 0600\nLASSO_URL=http://127.0.0.1:${port}\nCANARY_LISTEN=127.0.0.1:0\n`);

    service = readService(UNIT);
    stateDir = path.join(root, "var/lib", service.stateDirectory);
    mkdirSync(stateDir, { recursive: true }); // StateDirectory= creates it before ExecStart
    // systemd starts services with a clean environment: nothing inherited from this test.
    env = { PATH: process.env.PATH ?? "/usr/bin:/bin", STATE_DIRECTORY: stateDir };
    for (const [k, v] of Object.entries(service.env)) env[k] = underRoot(v);
    for (const f of service.environmentFiles) Object.assign(env, readEnvironmentFile(underRoot(f.path)));
    cwd = underRoot(service.workingDirectory);
  });

  after(async () => {
    await new Promise<void>((resolve) => lasso.close(() => resolve()));
    rmSync(root, { recursive: true, force: true });
  });

  test("the build holds the daemon only: dist/src, no test bed or tests", () => {
    assert.deepEqual(readdirSync(path.join(root, "opt/lasso-canary/dist")), ["src"]);
    assert.equal(existsSync(path.join(root, "opt/lasso-canary/dist/src/cli.js")), true, "dist/src/cli.js, the path ExecStart names");
  });

  test("validate passes, with the checks from /etc/lasso-canary/checks and the store in the state directory", async () => {
    const r = await cli("validate");
    assert.equal(r.status, 0, `validate: ${r.stdout}${r.stderr}`);
    assert.match(r.stdout, /plan is valid/);
    assert.equal(/^store (\S+)/m.exec(r.stdout)?.[1], path.join(stateDir, "canary.db"));
    for (const f of readdirSync("checks")) assert.ok(r.stdout.includes(`from ${path.join(root, "etc/lasso-canary/checks", f)}`), `checks ${f} read from /etc/lasso-canary/checks:\n${r.stdout}`);
  });

  test("run starts the daemon: /healthz answers, `healthcheck` at its port says healthy, SIGTERM stops it cleanly with the database in the state directory", async () => {
    const child = spawn(process.execPath, argv("run"), { cwd, env, stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    child.stdout.on("data", (d: Buffer) => (out += d.toString()));
    child.stderr.on("data", (d: Buffer) => (out += d.toString()));
    const exited = new Promise<number | null>((resolve) => child.on("exit", (code) => resolve(code)));
    try {
      const listen = await waitFor(() => /"listen":"127\.0\.0\.1:(\d+)"/.exec(out)?.[1], { timeoutMs: 60_000, message: `the started log line\n${out}` });
      const healthcheck = await cli("healthcheck", { CANARY_LISTEN: `127.0.0.1:${listen}` });
      assert.equal(healthcheck.status, 0, `healthcheck: ${healthcheck.stdout}${healthcheck.stderr}`);
      assert.equal(healthcheck.stdout, "healthy\n");
      assert.equal(existsSync(path.join(stateDir, "canary.db")), true, "the database is created in the state directory");
      // The unit's node flags reach the daemon: --expose-gc lets it keep the heap near its live size.
      const trimmed = await waitFor(async () => {
        const text = await (await fetch(`http://127.0.0.1:${listen}/metrics`)).text();
        const live = Number(/^lasso_canary_heap_live_bytes (\S+)$/m.exec(text)?.[1] ?? 0);
        return Number(/^lasso_canary_heap_trim_collections_total (\d+)$/m.exec(text)?.[1] ?? 0) >= 1 && live > 0 ? live : undefined;
      }, { timeoutMs: 30_000, message: "the daemon's first heap trim collection (lasso_canary_heap_trim_collections_total >= 1)" });
      assert.ok(trimmed > 1e6, `the live heap after the collection is a real size: ${trimmed} bytes`);
    } finally {
      child.kill("SIGTERM");
    }
    assert.equal(await exited, 0, `exit code after SIGTERM\n${out}`);
  });

  test("healthcheck exits 1 naming the URL when nothing answers, or /healthz is not 200", async () => {
    const unhealthy = http.createServer((_req, res) => res.writeHead(500).end());
    await new Promise<void>((resolve) => unhealthy.listen(0, "127.0.0.1", resolve));
    const port = (unhealthy.address() as AddressInfo).port;
    try {
      const r = await cli("healthcheck", { CANARY_LISTEN: `127.0.0.1:${port}` });
      assert.equal(r.status, 1, r.stderr);
      assert.equal(r.stderr, `unhealthy: http://127.0.0.1:${port}/healthz answered HTTP 500\n`);
    } finally {
      await new Promise<void>((resolve) => unhealthy.close(() => resolve()));
    }
    const refused = await cli("healthcheck", { CANARY_LISTEN: `127.0.0.1:${port}` });
    assert.equal(refused.status, 1, refused.stderr);
    assert.equal(refused.stderr, `unhealthy: http://127.0.0.1:${port}/healthz: ECONNREFUSED\n`);
  });

  test("healthcheck exits 1 (not 2, which Docker reserves) when the config does not load", async () => {
    const r = await cli("healthcheck", { CANARY_LISTEN: "not-an-address" });
    assert.equal(r.status, 1, r.stderr);
    assert.match(r.stderr, /^unhealthy: .*canary\.yaml: listen: "not-an-address" is not host:port/);
  });
});

describe("healthzUrl: where a health check finds the daemon", () => {
  const cases: [string, { host: string; port: number }, string][] = [
    ["IPv4 wildcard on loopback", { host: "0.0.0.0", port: 9464 }, "http://127.0.0.1:9464/healthz"],
    ["IPv6 wildcard on loopback", { host: "::", port: 9464 }, "http://[::1]:9464/healthz"],
    ["a specific IPv4 address as is", { host: "10.1.2.3", port: 9000 }, "http://10.1.2.3:9000/healthz"],
    ["a specific IPv6 address in brackets", { host: "fd00::5", port: 9000 }, "http://[fd00::5]:9000/healthz"],
    ["a host name as is", { host: "localhost", port: 8080 }, "http://localhost:8080/healthz"],
  ];
  for (const [name, listen, url] of cases) test(name, () => assert.equal(healthzUrl(listen), url));
  test("port 0 is refused: the port is only known to the running daemon", () => {
    assert.throws(() => healthzUrl({ host: "127.0.0.1", port: 0 }), /picks a free port at start-up/);
  });
});

// ---------------------------------------------------------------- the container image

// No Docker engine runs here, so the image is not built in CI: these checks catch what
// breaks a build or a deployment without one (missing paths, root user, no health check,
// the test bed shipped, a health check on a fixed port).
describe("the Dockerfile", () => {
  const lines = readFileSync("Dockerfile", "utf8").split("\n");
  const froms = lines.filter((l) => /^FROM /.test(l));
  const final = lines.slice(lines.lastIndexOf(froms.at(-1) ?? ""));
  /** Instructions with their backslash continuations joined. */
  const instructions = readFileSync("Dockerfile", "utf8").replace(/\\\n/g, " ").split("\n");

  test("is multi-stage, non-root, with a volume and a health check", () => {
    assert.ok(froms.length >= 2, "multi-stage");
    const user = final.filter((l) => /^USER /.test(l)).at(-1);
    assert.ok(user && !/root|^USER 0/.test(user), `final stage runs as a non-root user (${user})`);
    assert.ok(final.some((l) => /^VOLUME /.test(l)), "database volume");
  });

  test("copies only paths that exist", () => {
    for (const l of lines) {
      const m = /^COPY (?!--from)(.+) \S+$/.exec(l);
      if (!m?.[1]) continue;
      for (const src of m[1].split(/\s+/)) assert.equal(existsSync(src), true, `COPY source ${src} exists`);
    }
  });

  test("ships no test bed, tests or benchmarks: the build compiles src only, the runtime stage takes dist/src only", () => {
    const build = JSON.parse(readFileSync("tsconfig.build.json", "utf8")) as { include?: string[] };
    assert.deepEqual(build.include, ["src"]);
    for (const l of lines.filter((x) => /^COPY /.test(x))) assert.doesNotMatch(l, /\b(sim|test|bench)\b/, `no test bed copied: ${l}`);
    const fromBuild = final.filter((l) => /^COPY --from=/.test(l)).map((l) => l.split(/\s+/)[2]);
    assert.deepEqual(fromBuild.sort(), ["/app/dist/src", "/app/node_modules"]);
  });

  test("the unit and the image run the daemon with the node flags the benches measure (bench/nodeFlags.ts)", () => {
    const entrypoint = /^ENTRYPOINT \[(.*)\]$/m.exec(readFileSync("Dockerfile", "utf8"))?.[1] ?? "";
    assert.deepEqual(JSON.parse(`[${entrypoint}]`), ["node", ...DAEMON_NODE_FLAGS, "dist/src/cli.js"]);
    const execStart = /^ExecStart=(.*)$/m.exec(readFileSync(UNIT, "utf8"))?.[1]?.split(" ") ?? [];
    assert.deepEqual(execStart.slice(0, 2 + DAEMON_NODE_FLAGS.length + 1), ["/usr/bin/env", "node", ...DAEMON_NODE_FLAGS, "/opt/lasso-canary/dist/src/cli.js"]);
  });

  test("the health check asks the CLI for the configured address (liveness), not a fixed port", () => {
    const hc = instructions.find((l) => /^HEALTHCHECK /.test(l)) ?? "";
    assert.match(hc, /CMD \["node", "dist\/src\/cli\.js", "healthcheck", "--config", "([^"]+)"\]/);
    assert.doesNotMatch(hc, /:\d{2,5}\b|\b9464\b/, "no port in the health check");
    const configOfRun = /^CMD \[.*"--config", "([^"]+)"\]/m.exec(readFileSync("Dockerfile", "utf8"))?.[1];
    assert.equal(/"--config", "([^"]+)"/.exec(hc)?.[1], configOfRun, "the health check reads the config the daemon runs with");
  });
});

// ---------------------------------------------------------------- the load docs

test("docs/deployment.md states the load the shipped plan adds, as the planner computes it", () => {
  const docs = readFileSync("docs/deployment.md", "utf8");
  const plan = loadPlan("config/canary.yaml", { LASSO_URL: "http://127.0.0.1:1" });
  const perDay = (r: number): string => Math.round(r * 86_400).toLocaleString("en-US");
  for (const c of plan.chains) {
    const load = upstreamLoad(c);
    const pinRates = [...new Set([...load.pins.values()].map(formatRate))];
    assert.equal(pinRates.length, 1, `${c.chain}: every pin has the same rate, so one column states it (${pinRates.join(", ")})`);
    const pin = [...load.pins.values()][0] ?? 0;
    const row = `| ${c.chain} | ${formatRate(c.ratePerSecond)} (${perDay(c.ratePerSecond)}/day) | ${formatRate(load.strategies)} (${perDay(load.strategies)}/day) | ${formatRate(pin)} (${perDay(pin)}/day) x ${load.pins.size} | ${load.subscriptions} |`;
    assert.ok(docs.includes(row), `docs/deployment.md has the row\n${row}`);
    const sum = load.strategies + load.lassoOnly + [...load.pins.values()].reduce((a, b) => a + b, 0);
    assert.equal(formatRate(sum), formatRate(c.ratePerSecond), `${c.chain}: the upstream split adds up to the budgeted rate`);
  }
});
