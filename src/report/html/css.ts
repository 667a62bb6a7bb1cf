/** The page's only stylesheet, inlined: readable on a phone, printable, no web fonts. */
export const REPORT_CSS = `
:root{--ok:#1a7f37;--bad:#cf222e;--warn:#9a6700;--muted:#59636e;--line:#d0d7de;--bg:#fff;--fg:#1f2328}
*{box-sizing:border-box}
body{margin:0 auto;max-width:1100px;padding:12px;font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:var(--fg);background:var(--bg)}
h1{font-size:1.4em;margin:.2em 0}h2{font-size:1.2em;margin:1.4em 0 .4em;border-bottom:1px solid var(--line)}h3{font-size:1.05em;margin:1em 0 .3em}
h3 small{font-weight:normal;color:var(--muted)}
nav ul,.legend{list-style:none;padding:0;margin:.3em 0;display:flex;flex-wrap:wrap;gap:.3em 1em}
.facts{padding-left:1.2em}.note{color:var(--warn)}
.scroll{overflow-x:auto}
table{border-collapse:collapse;font-size:.9em;margin:.3em 0}
th,td{border:1px solid var(--line);padding:2px 6px;text-align:left;vertical-align:top}
thead th{background:#f6f8fa}td.n{text-align:right;white-space:nowrap}
tr.pass .verdict{color:var(--ok);font-weight:600}tr.fail .verdict{color:var(--bad);font-weight:700}tr.nodata .verdict{color:var(--muted)}
tr.fail{background:#ffebe9}
.v-pass .verdict{color:var(--ok)}.v-fail .verdict,.v-aborted .verdict{color:var(--bad);font-weight:700}.v-inconclusive .verdict{color:var(--warn)}
p.good strong{color:var(--ok)}p.bad strong{color:var(--bad)}.v-regression .verdict,.s-leak_suspected .verdict{color:var(--bad);font-weight:700}.v-improved .verdict{color:var(--ok)}
figure{margin:.8em 0;padding:.4em;border:1px solid var(--line);border-radius:4px;break-inside:avoid}
figcaption{font-weight:600;margin-bottom:.2em}
svg.chart{display:block;width:100%;height:auto;max-height:260px}
svg .tick{font-size:10px;fill:var(--muted)}svg .axis{stroke:#8c959f}svg .grid{stroke:#eaeef2}
svg .guide{stroke:var(--bad);stroke-dasharray:5 3;stroke-width:1}
svg .band{fill:#fff8c5;stroke:#d4a72c;stroke-width:.5}
svg g path{fill:none;stroke-width:1.6}
.s0{--c:#0969da}.s1{--c:#bf3989}.s2{--c:#1a7f37}.s3{--c:#9a6700}.s4{--c:#8250df}.s5{--c:#57606a}
.a0{--c:#54aeff}.a1{--c:#ff8182}.a2{--c:#4ac26b}.a3{--c:#d4a72c}.a4{--c:#c297ff}.a5{--c:#8c959f}
svg g[class^=s] path{stroke:var(--c)}svg g[class^=s] circle{fill:var(--c)}
svg g.s1 path{stroke-dasharray:6 2}svg g.s2 path{stroke-dasharray:2 2}svg g.s4 path{stroke-dasharray:8 2 2 2}
svg g[class^=a] path{fill:var(--c);stroke:none}
.legend li::before{content:"";display:inline-block;width:14px;height:4px;margin-right:4px;vertical-align:middle;background:var(--c)}
.lane-ok rect,.m-ok{fill:#8fd19e;--c:#8fd19e}
svg path.t-reorg{stroke:#0969da;stroke-width:1.5;fill:none}
.m-gap{fill:var(--bad);--c:#cf222e}.m-refused{fill:#82071e;--c:#82071e}.m-stall{fill:#8250df;--c:#8250df}.m-dup{fill:#fb8f44;--c:#fb8f44}.m-reorg{fill:#0969da;--c:#0969da;opacity:.6}
details{margin:.3em 0}summary{cursor:pointer;color:var(--muted)}
table.data{font-size:.85em}table.data th[scope=row]{font-weight:normal;white-space:nowrap}
footer{margin-top:2em;color:var(--muted);font-size:.85em}
@media (min-width:800px){.pair{display:grid;grid-template-columns:1fr 1fr;gap:8px}}
@media (max-width:600px){body{padding:6px;font-size:13px}th,td{padding:2px 3px}}
@media print{nav,details{display:none}body{max-width:none;font-size:11px}figure{border:none}a{color:inherit;text-decoration:none}tr.fail{background:none}}
`;
