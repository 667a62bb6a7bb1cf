import { routeUrl } from "../lasso/urls.js";
import type { Assertion, Plan, Target, Transport } from "../plan/index.js";
import type { ConsistencySpec, ProbeAssertion, ProbeSeriesSpec } from "./types.js";

/** The URL a probe POSTs to, with routing metadata in headers and the route's transport. */
export function probeUrl(targetUrl: string, path: string, transport: Transport = "any"): string {
  return routeUrl(targetUrl, path, { includeMeta: true, transport });
}

function toProbeAssertion(a: Assertion): ProbeAssertion {
  return a.kind === "shape" ? { kind: "shape", shape: a.shape } : { kind: a.kind };
}

export function seriesSpecs(plan: Plan): ProbeSeriesSpec[] {
  const targets = new Map<string, Target>(plan.targets.map((t) => [t.name, t]));
  return plan.chains.flatMap((chain) =>
    chain.series.map((s): ProbeSeriesSpec => {
      const target = targets.get(s.target);
      if (!target) throw new Error(`series ${s.id} names unknown target ${s.target}`);
      const freshness = s.assertions.find((a) => a.kind === "freshness");
      return {
        id: s.id,
        target: s.target,
        url: probeUrl(target.url, s.path, s.transport),
        headers: target.headers,
        chain: chain.chain,
        chainId: chain.chainId,
        blockTimeMs: chain.blockTimeMs,
        route: s.route,
        pinnedProvider: s.provider,
        feedsConsensus: s.routeKind === "pin" && s.profile === null,
        method: s.method,
        params: s.params,
        intervalMs: s.intervalMs,
        timeoutMs: s.timeoutMs,
        assertions: s.assertions.map(toProbeAssertion),
        maxHeadLagBlocks: freshness?.kind === "freshness" ? freshness.maxHeadLagBlocks : chain.slo.maxHeadLagBlocks,
      };
    }),
  );
}

export function consistencySpecs(plan: Plan): ConsistencySpec[] {
  const targets = new Map<string, Target>(plan.targets.map((t) => [t.name, t]));
  return plan.chains.flatMap((chain) => {
    const c = chain.consistency;
    if (!c) return [];
    return chain.targets.map((targetName): ConsistencySpec => {
      const target = targets.get(targetName);
      if (!target) throw new Error(`chain ${chain.chain} names unknown target ${targetName}`);
      const pinnedUrls: Record<string, string> = {};
      for (const name of c.routes) {
        const route = chain.routes.find((r) => r.name === name);
        if (route?.kind === "pin") pinnedUrls[route.provider] = probeUrl(target.url, route.path, route.transport);
      }
      return { target: targetName, chain: chain.chain, intervalMs: c.intervalMs, timeoutMs: c.timeoutMs, depth: c.depth, pinnedUrls, headers: target.headers };
    });
  });
}
