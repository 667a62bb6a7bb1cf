import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { classifyFailure, parseHealthUptime, parseLassoMetrics } from "../src/soak/parse.js";

describe("soak answers", () => {
  test("Lasso's system_metrics give the three figures; cpu_percent is ignored", () => {
    const r = parseLassoMetrics({ chain: "ethereum", system_metrics: { memory_mb: 812.4, cpu_percent: 3.2, process_count: 1432, run_queue: 0 } });
    assert.deepEqual(r, { ok: true, value: { memory_mb: 812.4, process_count: 1432, run_queue: 0 } });
    assert.deepEqual(parseHealthUptime({ status: "healthy", uptime_seconds: 3600 }), { ok: true, value: 3600 });
  });

  const malformed: [string, unknown, RegExp][] = [
    ["not an object", [1, 2], /not a JSON object/],
    ["no system_metrics", { chain: "ethereum" }, /no system_metrics object/],
    ["memory_mb a string", { system_metrics: { memory_mb: "812", process_count: 1, run_queue: 0 } }, /system_metrics.memory_mb is "812"/],
    ["process_count missing", { system_metrics: { memory_mb: 812, run_queue: 0 } }, /system_metrics.process_count is missing/],
    ["run_queue negative", { system_metrics: { memory_mb: 812, process_count: 1, run_queue: -1 } }, /system_metrics.run_queue is -1/],
    ["memory_mb null", { system_metrics: { memory_mb: null, process_count: 1, run_queue: 0 } }, /memory_mb is null/],
  ];
  for (const [name, body, detail] of malformed) {
    test(`malformed /api/metrics: ${name}`, () => {
      const r = parseLassoMetrics(body);
      assert.equal(r.ok, false);
      if (r.ok) return;
      assert.equal(r.errorClass, "invalid_response");
      assert.match(r.detail, detail);
    });
  }

  test("malformed /api/health", () => {
    const r = parseHealthUptime({ status: "healthy", uptime_seconds: "1h" });
    assert.equal(r.ok ? "ok" : r.errorClass, "invalid_response");
  });

  const failures: [string, { status: number | null; error: string }, string][] = [
    ["refused", { status: null, error: "ECONNREFUSED" }, "connect"],
    ["timeout", { status: null, error: "no answer within 5000 ms" }, "timeout"],
    ["auth", { status: 401, error: "HTTP 401: unauthorized" }, "http_401"],
    ["forbidden", { status: 403, error: "HTTP 403" }, "http_403"],
    ["unknown chain", { status: 404, error: "HTTP 404: {\"error\":\"Chain not found\"}" }, "unknown_chain"],
    ["rate limited", { status: 429, error: "HTTP 429" }, "http_4xx"],
    ["server error", { status: 502, error: "HTTP 502" }, "http_5xx"],
    ["not JSON", { status: 200, error: "body is not JSON: <html>" }, "invalid_response"],
  ];
  for (const [name, r, cls] of failures) {
    test(`transport failure: ${name}`, () => {
      assert.equal(classifyFailure({ ok: false, ...r }, "/api/metrics/ethereum", "unknown_chain").errorClass, cls);
    });
  }

  test("a 404 from /api/health is not an unknown chain", () => {
    assert.equal(classifyFailure({ ok: false, status: 404, error: "HTTP 404" }, "/api/health").errorClass, "http_4xx");
  });
});
