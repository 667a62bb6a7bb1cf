import { test } from "node:test";
import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { performance } from "node:perf_hooks";
import { StoreReader } from "../src/store/index.js";
import { startTestBed } from "../sim/testbed.js";
import { blockNumberChecks, writePlan } from "./helpers/canaryBed.js";
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
  const child = spawn(process.execPath, [...CLI, "run", "--config", writePlan(dir, { ethereum: blockNumberChecks("ethereum", 1, ["alpha", "bravo"]) }, { logLevel: "info" })], {
    env: { ...process.env, LASSO_URL: bed.lasso.url },
    stdio: ["ignore", "pipe", "pipe"],
  });
  try {
    let log = "";
    child.stdout.on("data", (b: Buffer) => (log += b.toString()));
    child.stderr.on("data", (b: Buffer) => (log += b.toString()));
    const listen = await waitFor(() => /"listen":"([^"]+)"/.exec(log)?.[1], { timeoutMs: 30_000, message: "the daemon to log its listen address" });
    const url = `http://${listen}`;
    assert.doesNotMatch(log, new RegExp(bed.lasso.url.replace(/[.:/]/g, "\\$&")), "the Lasso URL is not logged");

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
    assert.equal(code, 0, log.slice(-2000));
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
