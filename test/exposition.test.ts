import assert from "node:assert/strict";
import { test } from "node:test";
import type { Registry } from "prom-client";
import { writeExposition } from "../src/metrics/exposition.js";
import { MetricsSink } from "../src/metrics/registry.js";

/** writeExposition's chunks as one string, as the /metrics response carries them. */
async function exposition(registry: Registry): Promise<string> {
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

test("the exposition is the registry's own text", async () => {
  const sink = sinkWithSeries(40);
  assert.equal(await exposition(sink.registry), await sink.registry.metrics());
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
