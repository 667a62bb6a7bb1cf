/**
 * A hostile target: every answer names a provider never seen before and every failed answer a
 * JSON-RPC error code never seen before, with circuit states and transports outside Lasso's
 * sets and metadata that is missing or undecodable on a share of answers. The real probe engine,
 * metrics sink and SQLite store run against it at full speed. What matters for the bounds is
 * the number of distinct values offered, not the wall time: 20,000 answers (what one probe series
 * at one request per second receives in 5.5 hours; here in seconds) offer 12,000 provider ids and
 * 10,000 error codes.
 */
import assert from "node:assert/strict";
import http from "node:http";
import type { AddressInfo } from "node:net";
import { after, before, test } from "node:test";
import { MetricsSink } from "../src/metrics/registry.js";
import { ProbeEngine } from "../src/probes/engine.js";
import type { ProbeSeriesSpec } from "../src/probes/types.js";
import { Recorder } from "../src/recorder.js";
import { buildReport } from "../src/report/build.js";
import type { ProbeSample, Sample } from "../src/samples.js";
import { SampleStore } from "../src/store/store.js";
import { encodeMetaHeader } from "../sim/lasso/meta.js";
import { metricValue, namesByKind, seriesLabels } from "./helpers/boundsProbe.js";
import { tempDbPaths } from "./helpers/storeFixtures.js";
import { waitFor } from "./helpers/waitFor.js";

const ANSWERS = 20_000;
const SERIES = 8;
// The test's own bounds, far below the defaults, so every figure below is exact and small.
const BUDGETS = { providers: 10, errorCodes: 5 };
const CAPS = { provider: 12, errorClass: 6, circuit: 16, assertion: 4 };

/** What the hostile target sent, counted by the target itself as it answers. */
const sent = { answers: 0, ok: 0, errors: 0, metaOk: 0, metaMissing: 0, metaInvalid: 0, otherCircuit: 0, otherTransport: 0 };

/** The i-th answer's X-Lasso-Meta header: six in ten decodable, one missing, three undecodable in three ways. */
function metaHeader(i: number): string | undefined {
  switch (i % 10) {
    case 6:
      sent.metaMissing++;
      return undefined;
    case 7:
      sent.metaInvalid++;
      return `!!${i}!!`; // not base64url
    case 8:
      sent.metaInvalid++;
      return Buffer.from(`{"selected_provider":{"id":"p-${i}"`, "utf8").toString("base64url"); // truncated JSON
    case 9:
      sent.metaInvalid++;
      return encodeMetaHeader({ selected_provider: { id: i, protocol: "http" } }) ?? ""; // id of the wrong type
    default: {
      sent.metaOk++;
      const strangeCircuit = i % 3 === 0;
      const strangeTransport = i % 4 === 0;
      if (strangeCircuit) sent.otherCircuit++;
      if (strangeTransport) sent.otherTransport++;
      const header = encodeMetaHeader({
        version: "1.0",
        selected_provider: { id: `p-${i}`, protocol: strangeTransport ? `proto-${i}` : "http" },
        circuit_breaker_state: strangeCircuit ? `state-${i}` : "closed",
        retries: 0,
      });
      if (header === null) throw new Error("metadata over 4 KB");
      return header;
    }
  }
}

const server = http.createServer((req, res) => {
  let raw = "";
  req.on("data", (c: Buffer) => (raw += c.toString()));
  req.on("end", () => {
    const id = (JSON.parse(raw) as { id: number }).id;
    const i = sent.answers++;
    const meta = metaHeader(i);
    const ok = i % 2 === 0;
    if (ok) sent.ok++;
    else sent.errors++;
    const body = ok ? { jsonrpc: "2.0", id, result: "0x10" } : { jsonrpc: "2.0", id, error: { code: -40_000 - i, message: "new every time" } };
    res.writeHead(200, { "content-type": "application/json", ...(meta === undefined ? {} : { "x-lasso-meta": meta }) });
    res.end(JSON.stringify(body));
  });
});

const newPath = tempDbPaths("lasso-canary-hostile-");
let url = "";
before(async () => {
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/rpc/ethereum`;
});
after(async () => {
  server.closeAllConnections();
  await new Promise<void>((r) => server.close(() => r()));
});

function spec(k: number): ProbeSeriesSpec {
  return {
    id: `hostile|r${k}`, target: "hostile", url, headers: {}, chain: "ethereum", chainId: 1, blockTimeMs: 12_000,
    route: `r${k}`, pinnedProvider: null, feedsConsensus: false, method: "eth_blockNumber", params: [],
    intervalMs: 1, timeoutMs: 60_000, assertions: [], maxHeadLagBlocks: 2,
  };
}

test(`${ANSWERS} answers, each with a new provider id and (when failed) a new error code, stay within the bounds`, async () => {
  const path = newPath();
  const started = Date.now();
  const metrics = new MetricsSink({ version: "t", collectDefaults: false, labelBudgets: BUDGETS });
  const store = new SampleStore({ path, nameCaps: CAPS });
  const seen: ProbeSample[] = [];
  const recorder = new Recorder((err) => {
    throw err;
  });
  recorder.addSink(metrics);
  recorder.addSink(store);
  recorder.addSink({ accept: (s: Sample) => void (s.kind === "probe" && seen.push(s)) });
  const engine = new ProbeEngine({ series: Array.from({ length: SERIES }, (_, k) => spec(k)), consistency: [], recorder });
  engine.start();
  try {
    await waitFor(() => sent.answers >= ANSWERS, { timeoutMs: 150_000, intervalMs: 100, message: `${ANSWERS} answers` });
  } finally {
    await engine.stop(); // waits for the probes in flight: every answer sent is a sample now
  }
  assert.equal(store.flush(), true, "store written");

  assert.equal(seen.length, sent.answers, "every answer became one sample");
  assert.deepEqual(seen.filter((s) => s.errorClass === "timeout" || s.errorClass === "connect").length, 0, "no answer was lost on the way");

  // /metrics: at most the budget of provider ids and of codes, plus other; the overflow counted exactly.
  const text = await metrics.registry.metrics();
  const overflow = (label: string): number => metricValue(text, "lasso_canary_label_overflow_total", { label });
  const providers = seriesLabels(text, "lasso_canary_probe_served_total", "provider");
  const namedProviders = providers.filter((p) => p !== "other" && p !== "unknown");
  assert.ok(namedProviders.length <= BUDGETS.providers, `${namedProviders.length} provider ids on /metrics, budget ${BUDGETS.providers}`);
  assert.ok(namedProviders.every((p) => /^p-\d+$/.test(p)), `provider labels are ids the target sent: ${providers.join(",")}`);
  assert.ok(providers.includes("other"), "providers beyond the budget are other");
  assert.equal(overflow("provider"), sent.metaOk - BUDGETS.providers, "each decodable answer's new provider beyond the budget");
  const errorClasses = seriesLabels(text, "lasso_canary_probe_requests_total", "error_class").sort();
  assert.equal(errorClasses.length, BUDGETS.errorCodes + 2, `error classes: ${errorClasses.join(",")}`);
  assert.deepEqual(errorClasses.filter((c) => !/^rpc_-4\d{4}$/.test(c)), ["none", "rpc_other"]);
  assert.equal(overflow("error_class"), sent.errors - BUDGETS.errorCodes, "each failed answer's new code beyond the budget");
  assert.equal(overflow("circuit_state"), sent.otherCircuit);
  assert.equal(overflow("transport"), sent.otherTransport);
  assert.deepEqual(seriesLabels(text, "lasso_canary_probe_served_total", "transport").sort(), ["http", "other", "unknown"]);
  assert.deepEqual(metrics.answerLabelSizes(), { providers: BUDGETS.providers, rpcCodes: BUDGETS.errorCodes, httpStatuses: 0 }, "values held in memory");

  // Metadata: missing apart from undecodable.
  const meta = (status: string): number => metricValue(text, "lasso_canary_probe_meta_total", { status });
  assert.deepEqual([meta("ok"), meta("missing"), meta("invalid")], [sent.metaOk, sent.metaMissing, sent.metaInvalid]);

  // The store: the names table capped per kind, the overflow counted exactly.
  const names = namesByKind(path);
  assert.equal(names.provider.length, CAPS.provider + 1, `provider names: ${names.provider.length}`);
  assert.ok(names.provider.includes("other"), "provider names beyond the cap are other");
  assert.equal(names.errorClass.length, CAPS.errorClass + 1, `error class names: ${names.errorClass.join(",")}`);
  assert.ok(names.errorClass.includes("rpc_other"), "codes beyond the cap are rpc_other");
  assert.deepEqual(names.circuit, ["closed", "other"], "circuit states outside Lasso's set are stored as other");
  const stats = store.stats();
  assert.deepEqual(stats.namesOverflowed, { provider: sent.metaOk - CAPS.provider, errorClass: sent.errors - CAPS.errorClass, circuit: 0, assertion: 0 });
  assert.ok(stats.namesCached <= CAPS.provider + 1 + CAPS.errorClass + 1 + 2, `${stats.namesCached} names held in memory`);

  // The report path: its per-provider and per-class lists come from those names, so they are as bounded.
  const report = buildReport({ since: started - 60_000, until: Date.now() + 60_000 }, [], store.reader());
  const rows = report.chains.flatMap((c) => c.series);
  assert.equal(rows.length, SERIES, "one row per route");
  assert.equal(rows.reduce((n, r) => n + r.requests, 0), sent.answers, "the report counts every answer");
  for (const r of rows) {
    assert.ok(r.providers.length <= CAPS.provider + 2, `${r.route}: ${r.providers.length} providers listed`);
    assert.ok(r.errors.length <= CAPS.errorClass + 1, `${r.route}: ${r.errors.length} error classes listed`);
  }
  store.close();
});
