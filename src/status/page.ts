/**
 * The status page at `/`: each chain's state now, why, its last incident, and links to the
 * HTML report over the usual ranges. No script: it reloads itself with a meta refresh.
 */
import { duration, esc, pct, utc } from "../report/html/format.js";
import { REPORT_CSP } from "../report/html/page.js";
import type { ChainStatus, StatusSnapshot } from "./board.js";

export const STATUS_REFRESH_S = 15;
export const REPORT_RANGES = ["1h", "24h", "7d", "30d"] as const;

const CSS = `body{margin:0 auto;max-width:900px;padding:12px;font:15px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:#1f2328}
h1{font-size:1.3em}h2{font-size:1.1em;margin:1em 0 .2em}.muted{color:#59636e}
.badge{display:inline-block;padding:0 .5em;border-radius:3px;color:#fff;font-weight:600;font-size:.85em;text-transform:uppercase}
.up{background:#1a7f37}.degraded{background:#9a6700}.down{background:#cf222e}.no_data{background:#6e7781}
.chain{border:1px solid #d0d7de;border-radius:4px;padding:.3em .8em;margin:.6em 0}
ul.links{list-style:none;padding:0;display:flex;flex-wrap:wrap;gap:.4em 1em}
table{border-collapse:collapse;font-size:.9em}th,td{border:1px solid #d0d7de;padding:2px 6px;text-align:left}.scroll{overflow-x:auto}
@media print{.links{display:none}}`;

const reportLink = (range: string, chain?: string): string =>
  `report?since=${range}${chain === undefined ? "" : `&amp;chain=${encodeURIComponent(chain)}`}&amp;format=html`;

function chainHtml(c: ChainStatus, now: number): string {
  const label = c.state === "no_data" ? "no data" : c.state;
  const reasons = c.reasons.length === 0 ? "" : `<ul class="reasons">${c.reasons.map((r) => `<li>${esc(r)}</li>`).join("")}</ul>`;
  const incident = c.lastIncident === null
    ? "no incident since the daemon started"
    : `${esc(utc(c.lastIncident.at))} (${esc(duration(Math.max(0, now - c.lastIncident.at)))} ago): ${esc(c.lastIncident.text)}`;
  const routes = c.routes.map((r) => `<tr><td>${esc(r.route)}<td>${esc(r.requests)}<td>${esc(pct(r.successRatio))}<td>${esc(pct(r.slowShare))}<td>${esc(pct(r.staleShare))}`).join("");
  const watchers = c.watchers.map((w) => `<tr><td>${esc(w.watcher)}<td>${esc(w.state.replace("_", " "))}<td>${esc(utc(w.since))}<td>${esc(w.missing)}<td>${esc(w.duplicates)}`).join("");
  return `<section class="chain" data-chain="${esc(c.chain)}" data-state="${esc(c.state)}"><h2>${esc(c.chain)} <span class="badge ${esc(c.state)}">${esc(label)}</span></h2>${reasons}` +
    `<p>Last incident: ${incident}</p>` +
    (routes ? `<div class="scroll"><table><thead><tr><th>Route<th>Probes<th>Answered<th>Slower than p95 objective<th>Stale</thead><tbody>${routes}</tbody></table></div>` : "") +
    (watchers ? `<div class="scroll"><table><thead><tr><th>Watcher<th>State<th>Since<th>Never delivered<th>Duplicates</thead><tbody>${watchers}</tbody></table></div>` : "") +
    `<ul class="links">${REPORT_RANGES.map((r) => `<li><a href="${reportLink(r, c.chain)}">${esc(c.chain)} ${r}</a></li>`).join("")}</ul></section>`;
}

export function renderStatusPage(s: StatusSnapshot): string {
  const worst = s.chains.some((c) => c.state === "down") ? "down" : s.chains.some((c) => c.state === "degraded") ? "degraded" : "up";
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta http-equiv="refresh" content="${STATUS_REFRESH_S}">
<meta http-equiv="Content-Security-Policy" content="${esc(REPORT_CSP)}">
<title>lasso-canary: ${esc(worst)}</title><style>${CSS}</style></head>
<body><h1>lasso-canary status</h1>
<p class="muted">As of ${esc(utc(s.at))}, over the last ${esc(duration(s.windowMs))} (public profile; plan mismatches excluded). Refreshes every ${STATUS_REFRESH_S} s.</p>
<p>Reports (HTML): <span class="links">${REPORT_RANGES.map((r) => `<a href="${reportLink(r)}">last ${r}</a>`).join(" · ")}</span></p>
<main>
${s.chains.map((c) => chainHtml(c, s.at)).join("\n")}
</main></body></html>
`;
}
