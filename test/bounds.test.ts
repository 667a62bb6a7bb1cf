import Database from "better-sqlite3";
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { circuitStateOf, transportOf } from "../src/lasso/answerValues.js";
import { readLassoMetaHeader } from "../src/lasso/meta.js";
import { interpretBody } from "../src/lasso/rpcClient.js";
import { MetricsSink } from "../src/metrics/registry.js";
import type { ProbeSample } from "../src/samples.js";
import { SampleStore } from "../src/store/store.js";
import { encodeMetaHeader } from "../sim/lasso/meta.js";
import { metricValue, namesByKind, seriesLabels } from "./helpers/boundsProbe.js";
import { probeSample, T0, tempDbPaths } from "./helpers/storeFixtures.js";

const newPath = tempDbPaths("lasso-canary-bounds-");
const b64 = (text: string): string => Buffer.from(text, "utf8").toString("base64url");

describe("X-Lasso-Meta: missing apart from present-but-undecodable", () => {
  const cases: { name: string; header: string | undefined; status: "ok" | "missing" | "invalid" }[] = [
    { name: "no header", header: undefined, status: "missing" },
    { name: "empty header", header: "", status: "invalid" },
    { name: "characters outside base64url", header: "%%%not*base64", status: "invalid" },
    { name: "base64url of text that is not JSON", header: b64("{oops"), status: "invalid" },
    { name: "JSON that is not an object", header: b64("[1,2]"), status: "invalid" },
    { name: "a known field of the wrong type", header: encodeMetaHeader({ selected_provider: { id: 7 } }) ?? "", status: "invalid" },
    { name: "an empty provider id", header: encodeMetaHeader({ selected_provider: { id: "" } }) ?? "", status: "invalid" },
    { name: "a provider id of 129 characters", header: encodeMetaHeader({ selected_provider: { id: "p".repeat(129) } }) ?? "", status: "invalid" },
    { name: "a provider id of 128 characters", header: encodeMetaHeader({ selected_provider: { id: "p".repeat(128) } }) ?? "", status: "ok" },
    { name: "well-formed metadata", header: encodeMetaHeader({ selected_provider: { id: "alpha", protocol: "http" }, retries: 0 }) ?? "", status: "ok" },
  ];
  for (const c of cases) {
    test(c.name, () => {
      const r = readLassoMetaHeader(c.header);
      assert.equal(r.status, c.status);
      assert.equal(r.meta === null, c.status !== "ok", "metadata is returned exactly when it decoded");
    });
  }
});

describe("closed sets from Lasso's answers", () => {
  const cases: { name: string; of: (v: string | null) => string | null; value: string | null; want: string | null }[] = [
    ...["closed", "open", "half_open", "unknown"].map((v) => ({ name: `circuit ${v}`, of: circuitStateOf, value: v, want: v })),
    { name: "circuit HALF_OPEN (not Lasso's spelling)", of: circuitStateOf, value: "HALF_OPEN", want: "other" },
    { name: "circuit absent", of: circuitStateOf, value: null, want: null },
    { name: "transport http", of: transportOf, value: "http", want: "http" },
    { name: "transport ws", of: transportOf, value: "ws", want: "ws" },
    { name: "transport grpc", of: transportOf, value: "grpc", want: "other" },
    { name: "transport absent", of: transportOf, value: null, want: null },
  ];
  for (const c of cases) test(c.name, () => assert.equal(c.of(c.value), c.want));
});

describe("JSON-RPC error codes must be 32-bit integers", () => {
  const cases: { name: string; code: unknown; want: string }[] = [
    { name: "Lasso's -32005", code: -32005, want: "rpc_-32005" },
    { name: "the smallest 32-bit code", code: -2147483648, want: "rpc_-2147483648" },
    { name: "one below 32 bits", code: -2147483649, want: "invalid_response" },
    { name: "1e300 (an integer to JavaScript)", code: 1e300, want: "invalid_response" },
    { name: "a fraction", code: -32000.5, want: "invalid_response" },
  ];
  for (const c of cases) {
    test(c.name, () => {
      const body = `{"jsonrpc":"2.0","id":1,"error":{"code":${String(c.code)},"message":"x"}}`;
      assert.equal(interpretBody(body, 1, 200, null).errorClass, c.want);
    });
  }
});

function sink(budgets: { providers: number; errorCodes: number }): MetricsSink {
  return new MetricsSink({ version: "t", collectDefaults: false, labelBudgets: budgets });
}

describe("metrics: label values from answers are bounded, the overflow counted", () => {
  test("error codes: a budget per family (rpc_, http_); known codes and fixed classes always keep their name", async () => {
    const m = sink({ providers: 4, errorCodes: 2 });
    const classes = [
      "rpc_-41001", "rpc_-41002", "rpc_-41003", "rpc_-41004", // two kept, two overflow
      "http_418", "http_419", "http_420", // two kept, one overflow
      "rpc_-32005", "rpc_3", "http_503", "timeout", "plan_mismatch", // known: kept though the budgets are spent
      "rpc_-41001", // already kept
    ] as const;
    for (const [i, errorClass] of classes.entries()) {
      m.accept(probeSample(T0 + i, { outcome: "error", errorClass, provider: null }));
    }
    const text = await m.registry.metrics();
    const got = new Set(seriesLabels(text, "lasso_canary_probe_requests_total", "error_class"));
    assert.deepEqual([...got].sort(), [
      "http_418", "http_419", "http_503", "http_other", "plan_mismatch", "rpc_-32005", "rpc_-41001", "rpc_-41002", "rpc_3", "rpc_other", "timeout",
    ]);
    assert.equal(metricValue(text, "lasso_canary_label_overflow_total", { label: "error_class" }), 3);
    assert.deepEqual(m.answerLabelSizes(), { providers: 0, rpcCodes: 2, httpStatuses: 2 });
  });

  test("providers: the first ones keep their name, later ones are other; unknown is not a provider", async () => {
    const m = sink({ providers: 2, errorCodes: 2 });
    for (const [i, provider] of ["a", "b", "c", "a", "d", null].entries()) m.accept(probeSample(T0 + i, { provider }));
    const text = await m.registry.metrics();
    assert.deepEqual(seriesLabels(text, "lasso_canary_probe_served_total", "provider").sort(), ["a", "b", "other", "unknown"]);
    assert.equal(metricValue(text, "lasso_canary_label_overflow_total", { label: "provider" }), 2);
  });

  test("transport and circuit state outside Lasso's sets count as overflow, per answer", async () => {
    const m = sink({ providers: 2, errorCodes: 2 });
    const answers: Partial<ProbeSample>[] = [
      { transport: "http", circuitState: "closed" },
      { transport: "other", circuitState: "other" },
      { transport: "carrier-pigeon", circuitState: "melted" }, // a sample no probe normalised
      { transport: null, circuitState: null },
    ];
    for (const [i, a] of answers.entries()) m.accept(probeSample(T0 + i, a));
    const text = await m.registry.metrics();
    assert.deepEqual(seriesLabels(text, "lasso_canary_probe_served_total", "transport").sort(), ["http", "other", "unknown"]);
    assert.equal(metricValue(text, "lasso_canary_label_overflow_total", { label: "transport" }), 2);
    assert.equal(metricValue(text, "lasso_canary_label_overflow_total", { label: "circuit_state" }), 2);
  });

  test("every overflow series and a route's every metadata status exist at 0 before the first incident", async () => {
    const m = sink({ providers: 2, errorCodes: 2 });
    m.accept(probeSample(T0, { metaStatus: "ok" }));
    const text = await m.registry.metrics();
    for (const label of ["provider", "error_class", "transport", "circuit_state"]) {
      assert.equal(metricValue(text, "lasso_canary_label_overflow_total", { label }), 0, label);
    }
    const route = { target: "lb", chain: "ethereum", route: "default" };
    assert.equal(metricValue(text, "lasso_canary_probe_meta_total", { ...route, status: "ok" }), 1);
    assert.equal(metricValue(text, "lasso_canary_probe_meta_total", { ...route, status: "missing" }), 0);
    assert.equal(metricValue(text, "lasso_canary_probe_meta_total", { ...route, status: "invalid" }), 0);
  });
});

describe("store: the names table is capped per kind", () => {
  const caps = { provider: 3, errorClass: 2, circuit: 5, assertion: 2 };

  test("a full kind stores new names as other (rpc_other for codes); known classes still get rows; the cap holds across reopen", () => {
    const path = newPath();
    const open = (): SampleStore => new SampleStore({ path, flushIntervalMs: 0, nameCaps: caps });
    let store = open();
    for (let i = 0; i < 10; i++) {
      store.accept(probeSample(T0 + i, { provider: `p${i}`, outcome: "error", errorClass: `rpc_${-41000 - i}` }));
    }
    assert.equal(store.flush(), true, "written");
    assert.deepEqual(store.stats().namesOverflowed, { provider: 7, errorClass: 8, circuit: 0, assertion: 0 });
    store.close();

    store = open();
    store.accept(probeSample(T0 + 100, { provider: "newcomer", outcome: "error", errorClass: "rpc_-32005" }));
    store.accept(probeSample(T0 + 101, { provider: "p0", outcome: "error", errorClass: "rpc_-41000" }));
    assert.equal(store.flush(), true, "written after reopen");
    assert.deepEqual(store.stats().namesOverflowed, { provider: 1, errorClass: 0, circuit: 0, assertion: 0 }, "a name already stored is not overflow");
    store.close();

    const names = namesByKind(path);
    assert.deepEqual(names.provider, ["other", "p0", "p1", "p2"]);
    assert.deepEqual(names.errorClass, ["rpc_-32005", "rpc_-41000", "rpc_-41001", "rpc_other"]);
  });

  test("a write that rolls back and is retried counts its overflow once", () => {
    const path = newPath();
    const store = new SampleStore({ path, flushIntervalMs: 0, busyTimeoutMs: 0, nameCaps: caps });
    for (let i = 0; i < 3; i++) store.accept(probeSample(T0 + i, { provider: `p${i}` }));
    store.accept(probeSample(T0 + 3, { provider: "p3" })); // the first overflow writes the "other" row
    assert.equal(store.flush(), true, "filled the provider kind");
    const other = new Database(path);
    other.exec("BEGIN IMMEDIATE");
    store.accept(probeSample(T0 + 10, { provider: "p4" }));
    assert.equal(store.flush(), false, "locked: the batch rolls back and stays queued");
    assert.equal(store.flush(), false, "still locked");
    other.exec("COMMIT");
    other.close();
    assert.equal(store.flush(), true, "retried");
    assert.equal(store.stats().namesOverflowed.provider, 2, "p3 and p4, each once");
    store.close();
  });

  test("unknown kinds and bad caps are refused by name", () => {
    assert.throws(() => new SampleStore({ path: newPath(), nameCaps: { providers: 3 } as never }), /nameCaps: unknown kind "providers"/);
    assert.throws(() => new SampleStore({ path: newPath(), nameCaps: { provider: -1 } }), /nameCaps\.provider must be a whole number >= 0, got -1/);
  });
});
