import client, { type MetricObject, type Registry, type RegistryContentType } from "prom-client";

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
export async function writeExposition(registry: Registry<RegistryContentType>, write: (chunk: string) => boolean): Promise<void> {
  if (registry.contentType !== client.Registry.PROMETHEUS_CONTENT_TYPE) {
    write(await registry.metrics());
    return;
  }
  // Default labels are merged into every series by prom-client: its own text then, throughout.
  const own = !hasDefaultLabels(registry);
  let first = true;
  for (const metric of registry.getMetricsAsArray()) {
    const text = own ? await metricText(registry, metric) : await registry.getSingleMetricAsString(metric.name);
    if (!write(first ? text : `\n\n${text}`)) return;
    first = false;
    await nextTurn();
  }
  write("\n");
}

/** prom-client 15's own series table behind Counter, Gauge and Histogram (lib/counter.js, gauge.js, histogram.js). */
interface SeriesTable {
  name: string;
  help: string;
  hashMap: Record<string, SeriesEntry>;
  collect?: () => unknown;
  upperBounds?: number[];
}

interface SeriesEntry {
  labels: Record<string, unknown>;
  value: number;
  bucketValues: Record<number, number>;
  sum: number;
  count: number;
}

/**
 * One metric family's text, byte for byte what registry.getSingleMetricAsString() gives
 * (a series keeps the label order it was first written with), without its cost: prom-client
 * rebuilds and escapes every label set on every scrape, and a histogram becomes an object per
 * bucket first, two thirds of all the daemon allocated under a 5 s scrape. Here each series'
 * label text is formatted once, kept under prom-client's own key for the series, and reused
 * while the series exists: 2.4-2.9x less CPU per scrape (bench/scrape.ts). Anything this does
 * not know (a summary) goes through prom-client.
 */
async function metricText(registry: Registry<RegistryContentType>, metric: MetricObject): Promise<string> {
  const type = metric instanceof client.Histogram ? "histogram" : metric instanceof client.Counter ? "counter" : metric instanceof client.Gauge ? "gauge" : null;
  if (type === null) return registry.getSingleMetricAsString(metric.name);
  const table = metric as unknown as SeriesTable;
  if (typeof table.collect === "function") {
    const pending = table.collect();
    if (pending instanceof Promise) await pending;
  }
  const name = escapeString(table.name);
  const lines = [`# HELP ${name} ${escapeString(table.help)}`, `# TYPE ${name} ${type}`];
  const labelTexts = labelTextsOf(metric);
  const entries = Object.entries(table.hashMap);
  for (const [key, entry] of entries) {
    const labels = labelTexts.text(key, entry.labels);
    if (type === "histogram") histogramLines(lines, name, table.upperBounds ?? [], entry, labels);
    else lines.push(`${name}${labels === "" ? "" : `{${labels}}`} ${valueText(entry.value)}`);
  }
  labelTexts.keepOnly(table.hashMap, entries.length);
  return lines.join("\n");
}

/** A histogram series as prom-client writes it: `le` first, then the series' labels. */
function histogramLines(lines: string[], name: string, upperBounds: number[], entry: SeriesEntry, labels: string): void {
  const rest = labels === "" ? "" : `,${labels}`;
  let cumulative = 0;
  for (const bound of upperBounds) {
    cumulative += entry.bucketValues[bound] ?? 0;
    lines.push(`${name}_bucket{le="${bound}"${rest}} ${valueText(cumulative)}`);
  }
  lines.push(`${name}_bucket{le="+Inf"${rest}} ${valueText(entry.count)}`);
  const braced = labels === "" ? "" : `{${labels}}`;
  lines.push(`${name}_sum${braced} ${valueText(entry.sum)}`, `${name}_count${braced} ${valueText(entry.count)}`);
}

/** Formatted label sets of one metric, by prom-client's key for the series. */
class LabelTexts {
  private readonly texts = new Map<string, string>();

  text(key: string, labels: Record<string, unknown>): string {
    let text = this.texts.get(key);
    if (text === undefined) {
      text = formatLabels(labels);
      this.texts.set(key, text);
    }
    return text;
  }

  /** Forgets the series prom-client no longer has (removed, reset); a no-op while none went. */
  keepOnly(series: Record<string, unknown>, count: number): void {
    if (this.texts.size === count) return;
    for (const key of this.texts.keys()) if (!(key in series)) this.texts.delete(key);
  }
}

const labelTextsByMetric = new WeakMap<MetricObject, LabelTexts>();

function labelTextsOf(metric: MetricObject): LabelTexts {
  let texts = labelTextsByMetric.get(metric);
  if (!texts) {
    texts = new LabelTexts();
    labelTextsByMetric.set(metric, texts);
  }
  return texts;
}

function hasDefaultLabels(registry: Registry<RegistryContentType>): boolean {
  return Object.keys((registry as unknown as { _defaultLabels?: object })._defaultLabels ?? {}).length > 0;
}

function formatLabels(labels: Record<string, unknown>): string {
  return Object.entries(labels)
    .map(([name, value]) => `${name}="${typeof value === "string" ? escapeString(value).replace(/"/g, '\\"') : String(value)}"`)
    .join(",");
}

function escapeString(s: string): string {
  return s.replace(/\\/g, "\\\\").replace(/\n/g, "\\n");
}

/** prom-client's spelling of a sample value (NaN is "Nan" there). */
function valueText(v: number): string {
  if (Number.isNaN(v)) return "Nan";
  if (!Number.isFinite(v)) return v < 0 ? "-Inf" : "+Inf";
  return `${v}`;
}
