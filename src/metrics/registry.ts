import client from "prom-client";
import type { Sample, SampleSink } from "../samples.js";

const LATENCY_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.2, 0.3, 0.5, 1, 2, 5, 10];
const OVERHEAD_BUCKETS = [0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 1];

/**
 * Provider ids arrive in Lasso's metadata, so their number is not ours to bound. The
 * first `max` distinct values keep their name; later ones are reported as "other".
 */
export class BoundedLabel {
  private readonly seen = new Set<string>();
  constructor(private readonly max: number) {}
  value(v: string | null): string {
    if (v === null) return "unknown";
    if (this.seen.has(v)) return v;
    if (this.seen.size >= this.max) return "other";
    this.seen.add(v);
    return v;
  }
}

/** The prom-client sink: every sample becomes counter/histogram updates, nothing else. */
export class MetricsSink implements SampleSink {
  readonly registry = new client.Registry();
  private readonly providers = new BoundedLabel(64);
  private readonly requests;
  private readonly latency;
  private readonly served;
  private readonly headLag;
  private readonly regressions;
  private readonly assertionFailures;
  private readonly overhead;
  private readonly retries;
  private readonly consistency;

  constructor(opts: { version: string; collectDefaults?: boolean }) {
    const r = this.registry;
    if (opts.collectDefaults !== false) client.collectDefaultMetrics({ register: r, prefix: "lasso_canary_" });
    new client.Gauge({
      name: "lasso_canary_build_info",
      help: "Build information; always 1.",
      labelNames: ["version", "node_version"],
      registers: [r],
    }).set({ version: opts.version, node_version: process.version }, 1);
    const series = ["target", "chain", "route", "method"] as const;
    this.requests = new client.Counter({
      name: "lasso_canary_probe_requests_total",
      help: "Probe requests by outcome (ok|error) and error class (none when ok).",
      labelNames: [...series, "outcome", "error_class"],
      registers: [r],
    });
    this.latency = new client.Histogram({
      name: "lasso_canary_probe_latency_seconds",
      help: "Client-observed probe latency, all outcomes.",
      labelNames: series,
      buckets: LATENCY_BUCKETS,
      registers: [r],
    });
    this.served = new client.Counter({
      name: "lasso_canary_probe_served_total",
      help: "Successful probe answers by the provider Lasso's metadata says served them.",
      labelNames: ["target", "chain", "route", "provider"],
      registers: [r],
    });
    this.headLag = new client.Gauge({
      name: "lasso_canary_head_lag_blocks",
      help: "Served head behind the pinned providers' consensus head, last probe.",
      labelNames: ["target", "chain", "route"],
      registers: [r],
    });
    this.regressions = new client.Counter({
      name: "lasso_canary_head_regressions_total",
      help: "Answers whose head was lower than the previous answer on the same series.",
      labelNames: ["target", "chain", "route"],
      registers: [r],
    });
    this.assertionFailures = new client.Counter({
      name: "lasso_canary_assertion_failures_total",
      help: "Failed probe assertions by name.",
      labelNames: ["target", "chain", "route", "assertion"],
      registers: [r],
    });
    this.overhead = new client.Histogram({
      name: "lasso_canary_lasso_overhead_seconds",
      help: "Lasso's own overhead per request, from routing metadata.",
      labelNames: ["target", "chain", "route"],
      buckets: OVERHEAD_BUCKETS,
      registers: [r],
    });
    this.retries = new client.Counter({
      name: "lasso_canary_probe_retries_total",
      help: "Upstream retries Lasso reported in routing metadata.",
      labelNames: ["target", "chain", "route"],
      registers: [r],
    });
    this.consistency = new client.Counter({
      name: "lasso_canary_consistency_checks_total",
      help: "Cross-provider block hash comparisons at a safe depth, by result (agree|mismatch).",
      labelNames: ["target", "chain", "result"],
      registers: [r],
    });
  }

  accept(sample: Sample): void {
    if (sample.kind === "consistency") {
      this.consistency.inc({ target: sample.target, chain: sample.chain, result: sample.agree ? "agree" : "mismatch" });
      return;
    }
    if (sample.kind === "continuity") return;
    const s = sample;
    const series = { target: s.target, chain: s.chain, route: s.route, method: s.method };
    const perRoute = { target: s.target, chain: s.chain, route: s.route };
    this.requests.inc({ ...series, outcome: s.outcome, error_class: s.errorClass ?? "none" });
    this.latency.observe(series, s.latencyMs / 1000);
    if (s.outcome === "ok") this.served.inc({ ...perRoute, provider: this.providers.value(s.provider) });
    if (s.headLagBlocks !== null) this.headLag.set(perRoute, s.headLagBlocks);
    if (s.headRegression) this.regressions.inc(perRoute);
    for (const a of s.failedAssertions) this.assertionFailures.inc({ ...perRoute, assertion: a.split(":")[0] ?? a });
    if (s.lassoOverheadMs !== null) this.overhead.observe(perRoute, s.lassoOverheadMs / 1000);
    if (s.retries) this.retries.inc(perRoute, s.retries);
  }

  /** Registers gauges whose value is read at scrape time (store counters, event-loop lag, ...). */
  gauge(name: string, help: string, read: () => number): void {
    new client.Gauge({
      name,
      help,
      registers: [this.registry],
      collect() {
        this.set(read());
      },
    });
  }

  /** A counter mirroring another component's running total (store writes, drops, ...). */
  counter(name: string, help: string, read: () => number): void {
    let last = 0;
    new client.Counter({
      name,
      help,
      registers: [this.registry],
      collect() {
        const total = read();
        if (total > last) this.inc(total - last);
        last = total;
      },
    });
  }
}
