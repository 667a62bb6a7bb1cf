/** SLO objectives for one chain (DESIGN.md "Default SLOs"). */
export interface SloObjective {
  chain: string;
  /** HTTP success ratio per route, e.g. 0.999. */
  successRatio: number;
  /** p95 latency of successful requests per route, ms, e.g. 300. */
  p95LatencyMs: number;
  /** Served head may trail the providers' consensus by at most this many blocks. */
  maxHeadLagBlocks: number;
  /** Share of head samples that must be within maxHeadLagBlocks. Default 0.99. */
  headFreshRatio?: number;
}

export const DEFAULT_SLO: Omit<Required<SloObjective>, "chain"> = {
  successRatio: 0.999,
  p95LatencyMs: 300,
  maxHeadLagBlocks: 2,
  headFreshRatio: 0.99,
};

export function sloFor(chain: string, slos: readonly SloObjective[]): Required<SloObjective> {
  const s = slos.find((x) => x.chain === chain);
  return { ...DEFAULT_SLO, ...s, chain, headFreshRatio: s?.headFreshRatio ?? DEFAULT_SLO.headFreshRatio };
}

export interface ReportRange {
  since: number;
  until: number;
  chain?: string | undefined;
}

export interface LatencyReport {
  p50: number | null;
  p95: number | null;
  p99: number | null;
}

export interface SeriesReport {
  target: string;
  route: string;
  method: string;
  requests: number;
  ok: number;
  successRatio: number | null;
  /** ms, successful requests, from merged HdrHistograms (within 1%). */
  latencyMs: LatencyReport;
  errors: { errorClass: string; count: number }[];
  providers: { provider: string | null; count: number; share: number }[];
  overheadMs: { samples: number; mean: number | null; max: number | null };
  head: {
    samples: number;
    meanLag: number | null;
    maxLag: number | null;
    threshold: number;
    overThreshold: number;
    overThresholdShare: number | null;
  };
  headRegressions: number;
  retries: { total: number; retriedRequests: number };
}

export type Sli = "success_ratio" | "latency_p95_ms" | "head_freshness";

export interface SloRow {
  target: string;
  route: string;
  sli: Sli;
  /** Ratio for success/freshness, ms for latency. */
  objective: number;
  objectiveText: string;
  actual: number | null;
  /** Events the SLI counted and the bad ones among them. */
  events: number;
  bad: number;
  /** 1 - bad / allowed_bad; negative when overspent; null without data. */
  budgetLeft: number | null;
  pass: boolean | null;
}

export interface ChainReport {
  chain: string;
  requests: number;
  ok: number;
  successRatio: number | null;
  slo: SloRow[];
  series: SeriesReport[];
  consistency: {
    checks: number;
    mismatches: number;
    mismatchRatio: number | null;
    byTarget: { target: string; checks: number; mismatches: number }[];
  };
}

export interface Report {
  generatedAt: number;
  range: { since: number; until: number; chain: string | null };
  /**
   * What the data read actually covers. Whole days, hours and minutes come from rollups;
   * the partial minutes at the edges from the raw samples, filtered by timestamp, so
   * normally from = since and to = until exactly (exactEdges). Where an edge's raw samples
   * are past raw retention (or finer rollups past theirs), that edge is rounded out to the
   * enclosing minute, hour or day bucket: from/to say where to, and exactEdges is false.
   * Samples written but not yet compacted (the last ~2 minutes) are included.
   */
  coverage: {
    from: number | null;
    to: number | null;
    /**
     * Rollup level the whole buckets were read from ("mixed" when several); "raw" when the
     * range holds no whole minute and was read from raw samples only; "none" when empty.
     */
    granularity: "minute" | "hour" | "day" | "mixed" | "raw" | "none";
    /** True when the data covers exactly [since, until) (from = since, to = until, or an empty range). */
    exactEdges: boolean;
  };
  empty: boolean;
  note: string | null;
  latencyPrecision: { significantDigits: number; relativeError: number };
  chains: ChainReport[];
}
