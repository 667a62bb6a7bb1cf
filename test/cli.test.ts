import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { performance } from "node:perf_hooks";
import type { Report } from "../src/report/index.js";
import { REPORT_FORMATS } from "../src/report/time.js";
import { SampleStore, StoreReader } from "../src/store/index.js";
import { startTestBed } from "../sim/testbed.js";
import { blockNumberChecks, writePlan } from "./helpers/canaryBed.js";
import { spawnCliDaemon } from "./helpers/cliDaemon.js";
import { probeSample } from "./helpers/storeFixtures.js";
import { waitFor } from "./helpers/waitFor.js";

const CLI = ["--import", "tsx", "src/cli.ts"];

function cli(args: string[], env: Record<string, string> = {}): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [...CLI, ...args], { encoding: "utf8", env: { ...process.env, ...env }, timeout: 60_000 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

test("validate lists every error with file and path, and exits 2", () => {
  const r = cli(["validate", "--config", "test/fixtures/plan/invalid/multi/canary.yaml"], { LASSO_URL: "http://127.0.0.1:1" });
  assert.equal(r.status, 2);
  const lines = r.stderr.trim().split("\n").filter((l) => /\.yaml: /.test(l));
  assert.ok(lines.length >= 2, `several errors listed:\n${r.stderr}`);
  assert.ok(lines.some((l) => l.includes("canary.yaml")) && lines.some((l) => l.includes("checks/")), "errors from the config and a checks file");
});

test("validate prints the plan and its rate for a valid plan", () => {
  const r = cli(["validate", "--config", "config/demo/canary.yaml"], { LASSO_URL: "http://127.0.0.1:1" });
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /ethereum \(chain id 1/);
  assert.match(r.stdout, /req\/s/);
  assert.match(r.stdout, /plan is valid/);
});

test("run: SIGTERM flushes the store and exits within 5 s; report reads the store", { timeout: 120_000 }, async () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), "canary-cli-"));
  const bed = await startTestBed({ chains: [{ name: "ethereum", chainId: 1, blockTimeSec: 1, providers: ["alpha", "bravo"] }] });
  const { child, log: output, listen } = await spawnCliDaemon(writePlan(dir, { ethereum: blockNumberChecks("ethereum", 1, ["alpha", "bravo"]) }, { logLevel: "info" }), { LASSO_URL: bed.lasso.url });
  try {
    const url = `http://${listen}`;
    assert.doesNotMatch(output(), new RegExp(bed.lasso.url.replace(/[.:/]/g, "\\$&")), "the Lasso URL is not logged");

    const recorded = await waitFor(
      async () => {
        const text = await (await fetch(`${url}/metrics`)).text();
        const total = [...text.matchAll(/^lasso_canary_probe_requests_total\{[^}]*\} (\d+)$/gm)].reduce((n, m) => n + Number(m[1]), 0);
        return total >= 10 ? total : 0;
      },
      { timeoutMs: 30_000, message: "10 probes recorded" },
    );
    const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
    const t = performance.now();
    child.kill("SIGTERM");
    const code = await exited;
    const tookMs = performance.now() - t;
    assert.equal(code, 0, output().slice(-2000));
    assert.ok(tookMs < 5000, `exited in ${tookMs.toFixed(0)} ms`);

    const reader = StoreReader.open(path.join(dir, "canary.db"));
    try {
      const stored = reader.probeSamples({ since: 0, until: Date.now() + 1000 }).length;
      assert.ok(stored >= recorded, `every sample counted before SIGTERM is in the store (${stored} >= ${recorded})`);
    } finally {
      reader.close();
    }

    const rep = cli(["report", "--config", path.join(dir, "canary.yaml"), "--since", "1h"], { LASSO_URL: bed.lasso.url });
    assert.equal(rep.status, 0, rep.stderr);
    assert.match(rep.stdout, /## ethereum/);
    assert.match(rep.stdout, /\| lb \| load-balanced \| eth_blockNumber \| \d+/);
    const bad = cli(["report", "--config", path.join(dir, "canary.yaml"), "--since", "last tuesday"], { LASSO_URL: bed.lasso.url });
    assert.equal(bad.status, 2);
    assert.match(bad.stderr, /since/);
  } finally {
    if (child.exitCode === null) child.kill("SIGKILL");
    await bed.stop();
    rmSync(dir, { recursive: true, force: true });
  }
});

/** Like cli() but with LASSO_URL unset, as on a host that only reads reports. */
function cliWithoutLassoUrl(args: string[]): { status: number | null; stdout: string; stderr: string } {
  const env = { ...process.env };
  delete env["LASSO_URL"];
  const r = spawnSync(process.execPath, [...CLI, ...args], { encoding: "utf8", env, timeout: 60_000 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

describe("usage", () => {
  for (const [args, status] of [[["help"], 0], [["--help"], 0], [[], 2]] as const) {
    test(`lasso-canary ${args.join(" ") || "(no command)"} prints the usage and exits ${status}`, () => {
      const r = cli([...args]);
      assert.equal(r.status, status, r.stderr);
      assert.match(status === 0 ? r.stdout : r.stderr, /^usage:\n {2}lasso-canary run /m);
    });
  }
});

describe("report reads the store only", () => {
  let dir: string;
  let config: string;
  const sampleAt = Date.now() - 10 * 60_000;
  before(() => {
    dir = mkdtempSync(path.join(os.tmpdir(), "canary-cli-report-"));
    config = writePlan(dir, { ethereum: blockNumberChecks("ethereum", 1, ["alpha", "bravo"]) });
    const store = new SampleStore({ path: path.join(dir, "canary.db"), flushIntervalMs: 0 });
    store.importSamples([probeSample(sampleAt, { chain: "ethereum", route: "load-balanced" })]);
    store.close();
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  test("without LASSO_URL (the plan's target URL is ${LASSO_URL})", () => {
    const r = cliWithoutLassoUrl(["report", "--config", config, "--since", "1h", "--format", "json"]);
    assert.equal(r.status, 0, r.stderr);
    const report = JSON.parse(r.stdout) as Report;
    assert.deepEqual(report.chains.map((c) => [c.chain, c.requests]), [["ethereum", 1]]);
    assert.deepEqual([report.coverage.from, report.coverage.to], [sampleAt, sampleAt]);
  });

  test("validate still needs LASSO_URL: only report tolerates it unset", () => {
    const r = cliWithoutLassoUrl(["validate", "--config", config]);
    assert.equal(r.status, 2);
    assert.match(r.stderr, /targets\[0\]\.url: environment variable LASSO_URL is not set/);
  });

  for (const format of REPORT_FORMATS) {
    test(`--format ${format} (every format GET /report takes)`, () => {
      const r = cliWithoutLassoUrl(["report", "--config", config, "--since", "1h", "--format", format]);
      assert.equal(r.status, 0, r.stderr);
      if (format === "json") assert.equal((JSON.parse(r.stdout) as Report).chains.length, 1);
      else if (format === "html") assert.match(r.stdout, /^<!doctype html>\n[\s\S]*<section class="chain" data-chain="ethereum">[\s\S]*<\/html>\n\n$/);
      else assert.match(r.stdout, /^# lasso-canary report\n/);
    });
  }

  const refused: { name: string; args: string[]; stderr: RegExp }[] = [
    { name: "--format table (not a format /report takes)", args: ["--format", "table"], stderr: /^invalid format "table": expected json, md, html\n$/ },
    { name: "a chain the plan lacks", args: ["--chain", "polygon"], stderr: /^unknown chain "polygon": the plan's chains are ethereum\n$/ },
  ];
  for (const r of refused) {
    test(`refuses ${r.name} with exit 2`, () => {
      const out = cliWithoutLassoUrl(["report", "--config", config, ...r.args]);
      assert.equal(out.status, 2, out.stdout);
      assert.match(out.stderr, r.stderr);
    });
  }

  test("a store file that does not exist is named, with the reason", () => {
    const other = path.join(dir, "other");
    mkdirSync(other, { recursive: true });
    const text = readFileSync(config, "utf8").replace("path: canary.db", "path: none.db");
    writeFileSync(path.join(other, "canary.yaml"), text.replace("checks: checks", `checks: ${path.join(dir, "checks")}`));
    const r = cliWithoutLassoUrl(["report", "--config", path.join(other, "canary.yaml")]);
    assert.equal(r.status, 2);
    assert.equal(r.stderr, `lasso-canary: cannot open store ${path.join(other, "none.db")}: no such file (the daemon creates it when it first runs)\n`);
  });
});

describe("run: a store that cannot be opened stops everything before it starts", () => {
  let dir: string;
  before(() => {
    dir = mkdtempSync(path.join(os.tmpdir(), "canary-cli-store-"));
    mkdirSync(path.join(dir, "a-directory.db"));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  const cases = [
    { name: "its directory is missing", store: "missing/canary.db", reason: (d: string) => `directory ${path.join(d, "missing")} does not exist` },
    { name: "the path is a directory", store: "a-directory.db", reason: (d: string) => `${path.join(d, "a-directory.db")} is a directory, not a database file` },
  ];
  for (const c of cases) {
    test(`${c.name}: exit 2 naming the path and the reason, nothing started`, () => {
      const config = writePlan(dir, { ethereum: blockNumberChecks("ethereum", 1, ["alpha", "bravo"]) }, { logLevel: "info" });
      writeFileSync(config, readFileSync(config, "utf8").replace("path: canary.db", `path: ${c.store}`));
      const r = cli(["run", "--config", config], { LASSO_URL: "http://127.0.0.1:1" });
      assert.equal(r.status, 2, r.stdout + r.stderr);
      assert.equal(r.stderr, `lasso-canary: cannot open store ${path.join(dir, c.store)}: ${c.reason(dir)}\n`);
      assert.doesNotMatch(r.stdout, /lasso-canary started|"listen"/, "nothing listened");
    });
  }
});
