import client, { type Registry } from "prom-client";

const nextTurn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

/**
 * The registry's Prometheus text, as registry.metrics() writes it, but one metric per
 * event-loop turn, each handed to `write` as soon as it is formatted. registry.metrics()
 * formats every metric in one synchronous stretch (its awaits are microtasks), ~175 us per
 * probe series here: 70 ms at 400 series, during which no probe timer fires and every answer
 * that arrives waits, its latency inflated. In turns, the longest stretch is the largest
 * metric's. Written as it goes, no metric's text outlives its turn: a whole scrape kept
 * until the end lived through young-generation collections and was promoted, old-generation
 * garbage at every scrape. Each metric is still formatted whole (a histogram's buckets, sum
 * and count agree); metrics are not one instant, as across any two scrapes.
 * `write` returns false to stop early (the client went away).
 */
export async function writeExposition(registry: Registry, write: (chunk: string) => boolean): Promise<void> {
  if (registry.contentType !== client.Registry.PROMETHEUS_CONTENT_TYPE) {
    write(await registry.metrics());
    return;
  }
  let first = true;
  for (const metric of registry.getMetricsAsArray()) {
    const text = await registry.getSingleMetricAsString(metric.name);
    if (!write(first ? text : `\n\n${text}`)) return;
    first = false;
    await nextTurn();
  }
  write("\n");
}
