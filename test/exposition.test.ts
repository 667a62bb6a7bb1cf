import assert from "node:assert/strict";
import { test } from "node:test";
import client, { type Registry, type RegistryContentType } from "prom-client";
import { writeExposition } from "../src/metrics/exposition.js";
import { MetricsSink } from "../src/metrics/registry.js";
import type { ProbeSample } from "../src/samples.js";

/** writeExposition's chunks as one string, as the /metrics response carries them. */
async function exposition(registry: Registry<RegistryContentType>): Promise<string> {
  const parts: string[] = [];
  await writeExposition(registry, (chunk) => parts.push(chunk) > 0);
  return parts.join("");
}

function sinkWithSeries(series: number): MetricsSink {
  const sink = new MetricsSink({ version: "test", collectDefaults: false });
  const probes = Array.from({ length: series }, (_, i) => ({
    target: "lb", chain: `chain${i % 4}`, route: `route${i % 5}`, method: `m${i}`, assertions: ["shape"], pinned: null,
  }));
  sink.expect({ probes, consistency: [], watchers: [{ target: "lb", chain: "chain0", watcher: "heads", subscription: "newHeads" }], slos: [], soakTargets: [] });
  sink.observeLoopLag(3);
  return sink;
}

const answer: ProbeSample = {
  kind: "probe", ts: 1_700_000_000_000, target: "lb", chain: "chain0", route: "route0", method: "m0",
  outcome: "ok", errorClass: null, errorDetail: null, latencyMs: 12, provider: "alpha", transport: "http", retries: 0,
  circuitState: null, upstreamLatencyMs: 7, lassoOverheadMs: 3, blockHeight: 10, headLagBlocks: 0, headRegression: false, failedAssertions: [], correct: null,
};

/** The text with every sample's value cut off: node's own figures move between two scrapes. */
const withoutValues = (text: string): string => text.replace(/^([^#].*) \S+$/gm, "$1");

test("the exposition is the registry's own text: a fresh sink, the node metrics, and after answers of every kind", async () => {
  const withNode = new MetricsSink({ version: "test", collectDefaults: true });
  const nodeText = await exposition(withNode.registry);
  assert.match(nodeText, /^nodejs_heap_space_size_total_bytes\{space="old"\} \d+$/m);
  assert.equal(withoutValues(nodeText), withoutValues(await withNode.registry.metrics()));
  const sink = new MetricsSink({ version: "test", collectDefaults: false });
  const fresh = sinkWithSeries(40);
  assert.equal(await exposition(fresh.registry), await fresh.registry.metrics());
  const probes = Array.from({ length: 12 }, (_, i) => ({ target: "lb", chain: `chain${i % 2}`, route: `route${i % 3}`, method: `m${i}`, assertions: ["shape"], pinned: null }));
  sink.expect({ probes, consistency: [], watchers: [], slos: [], soakTargets: [] });
  for (let i = 0; i < 60; i++) {
    const p = probes[i % probes.length];
    assert.ok(p, "a planned probe");
    sink.accept({
      ...answer, chain: p.chain, route: p.route, method: p.method, latencyMs: 1 + ((i * 37) % 900), provider: ["alpha", "bravo"][i % 2] ?? null,
      headLagBlocks: i % 4, retries: i % 5 === 0 ? 1 : 0, failedAssertions: i % 7 === 0 ? ["freshness"] : [],
      ...(i % 9 === 0 ? { outcome: "error" as const, errorClass: "timeout" as const, provider: null } : {}),
    });
  }
  // After a scrape too: the second scrape reuses label texts the first one formatted.
  for (let scrape = 0; scrape < 2; scrape++) assert.equal(await exposition(sink.registry), await sink.registry.metrics(), `scrape ${scrape + 1}`);
});

test("every value and label prom-client can hold is written as prom-client writes it", async () => {
  const registry = new client.Registry();
  const hostile = 'a"b\\c\nd';
  const counter = new client.Counter({ name: "t_counter_total", help: `help with \\ and\nnewline`, labelNames: ["a", "b"], registers: [registry] });
  counter.inc({ a: hostile, b: "plain" }, 2.5);
  counter.inc({ a: "x", b: "" });
  const gauge = new client.Gauge({ name: "t_gauge", help: "g", labelNames: ["v"], registers: [registry] });
  gauge.set({ v: "nan" }, NaN);
  gauge.set({ v: "inf" }, Infinity);
  gauge.set({ v: "-inf" }, -Infinity);
  gauge.set({ v: "small" }, 1e-9);
  gauge.set({ v: "big" }, 2 ** 70);
  new client.Gauge({ name: "t_unlabelled", help: "u", registers: [registry] }).set(7);
  let collected = 0;
  new client.Gauge({ name: "t_collected", help: "c", labelNames: ["k"], registers: [registry], collect() { this.set({ k: "n" }, ++collected); } });
  const histogram = new client.Histogram({ name: "t_seconds", help: "h", labelNames: ["route"], buckets: [0.001, 0.5, 2], registers: [registry] });
  for (const v of [0.0005, 0.2, 0.7, 3, 3]) histogram.observe({ route: hostile }, v);
  histogram.zero({ route: "never" });
  const bare = new client.Histogram({ name: "t_bare_seconds", help: "b", buckets: [1], registers: [registry] });
  bare.observe(0.3);
  const summary = new client.Summary({ name: "t_summary", help: "s", percentiles: [0.5], registers: [registry] });
  summary.observe(4);
  // The collect callback runs once per scrape; so each side gets its own value in turn.
  const ours = await exposition(registry);
  collected -= 1;
  assert.equal(ours, await registry.metrics());
  assert.match(ours, /^t_gauge\{v="nan"\} Nan$/m);
  assert.match(ours, /^t_seconds_bucket\{le="0.5",route="a\\"b\\\\c\\nd"\} 2$/m);
});

test("a series that is removed or reset leaves the exposition at once, and comes back when set again", async () => {
  const registry = new client.Registry();
  const gauge = new client.Gauge({ name: "t_stalled", help: "s", labelNames: ["watcher"], registers: [registry] });
  const histogram = new client.Histogram({ name: "t_delay_seconds", help: "d", labelNames: ["watcher"], buckets: [1], registers: [registry] });
  gauge.set({ watcher: "a" }, 1);
  gauge.set({ watcher: "b" }, 1);
  histogram.observe({ watcher: "a" }, 0.5);
  await exposition(registry);
  gauge.remove({ watcher: "a" });
  histogram.reset();
  const after = await exposition(registry);
  assert.equal(after, await registry.metrics());
  assert.doesNotMatch(after, /watcher="a"/);
  gauge.set({ watcher: "a" }, 0);
  assert.match(await exposition(registry), /^t_stalled\{watcher="a"\} 0$/m);
});

test("a series' label text is formatted once: it keeps its first label order until the series is removed", async () => {
  const registry = new client.Registry();
  const gauge = new client.Gauge({ name: "t_order", help: "o", labelNames: ["a", "b"], registers: [registry] });
  gauge.set({ a: "1", b: "2" }, 1);
  assert.match(await exposition(registry), /^t_order\{a="1",b="2"\} 1$/m);
  // prom-client writes a gauge with its latest caller's key order; the formatted text is reused.
  gauge.set({ b: "2", a: "1" }, 2);
  assert.match(await registry.metrics(), /^t_order\{b="2",a="1"\} 2$/m);
  assert.match(await exposition(registry), /^t_order\{a="1",b="2"\} 2$/m);
  // Removed, the series' text is forgotten: set again, it is formatted afresh.
  gauge.remove({ a: "1", b: "2" });
  assert.doesNotMatch(await exposition(registry), /^t_order/m);
  gauge.set({ b: "2", a: "1" }, 3);
  assert.match(await exposition(registry), /^t_order\{b="2",a="1"\} 3$/m);
});

test("a registry with default labels, or in OpenMetrics, is left to prom-client", async () => {
  const registry = new client.Registry();
  registry.setDefaultLabels({ instance: "canary-1" });
  new client.Counter({ name: "t_total", help: "t", labelNames: ["a"], registers: [registry] }).inc({ a: "x" });
  assert.equal(await exposition(registry), await registry.metrics());
  assert.match(await exposition(registry), /t_total\{a="x",instance="canary-1"\} 1/);
  const open = new client.Registry<typeof client.openMetricsContentType>();
  open.setContentType(client.openMetricsContentType);
  new client.Counter({ name: "t_open_total", help: "t", registers: [open] }).inc();
  assert.equal(await exposition(open), await open.metrics());
});

test("the exposition lets other work run between metrics: a scrape is not one long stretch of the event loop", async () => {
  const sink = sinkWithSeries(40);
  const order: string[] = [];
  setImmediate(() => order.push("other work"));
  const text = exposition(sink.registry).then(() => order.push("scrape done"));
  await text;
  assert.deepEqual(order, ["other work", "scrape done"]);
});

test("written as it goes: the chunks are the registry's text, and a false from write stops the scrape", async () => {
  const sink = sinkWithSeries(40);
  const chunks: string[] = [];
  await writeExposition(sink.registry, (c) => chunks.push(c) > 0);
  assert.equal(chunks.join(""), await sink.registry.metrics());
  assert.ok(chunks.length > 10, `one chunk per metric, not one string (${chunks.length} chunks)`);
  let calls = 0;
  await writeExposition(sink.registry, () => ++calls < 3);
  assert.equal(calls, 3, "nothing is written after the client went away");
});
