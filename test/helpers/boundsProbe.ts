import Database from "better-sqlite3";
import { NAME_ASSERTION, NAME_CIRCUIT, NAME_ERROR_CLASS, NAME_PROVIDER } from "../../src/store/intern.js";

/** One sample line of the Prometheus text format: metric name, labels, value. */
export interface PromSample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

const LINE = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/;
const LABEL = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)",?/gy;

function unescape(v: string): string {
  return v.replace(/\\(.)/g, (_m, c: string) => (c === "n" ? "\n" : c));
}

/** Every sample line of a scrape (comments skipped); throws on a line that is not one. */
export function parsePromText(text: string): PromSample[] {
  const out: PromSample[] = [];
  for (const line of text.split("\n")) {
    if (line === "" || line.startsWith("#")) continue;
    const m = LINE.exec(line);
    if (!m) throw new Error(`not a Prometheus sample line: ${line}`);
    const labels: Record<string, string> = {};
    const body = m[2] ?? "";
    LABEL.lastIndex = 0;
    let read = 0;
    for (let l = LABEL.exec(body); l !== null; l = LABEL.exec(body)) {
      labels[l[1] as string] = unescape(l[2] as string);
      read = LABEL.lastIndex;
    }
    if (read !== body.length) throw new Error(`unreadable labels: ${line}`);
    out.push({ name: m[1] as string, labels, value: Number(m[3]) });
  }
  return out;
}

/** The distinct values one label takes on one metric's series. */
export function seriesLabels(text: string, metric: string, label: string): string[] {
  const values = new Set<string>();
  for (const s of parsePromText(text)) {
    const v = s.labels[label];
    if (s.name === metric && v !== undefined) values.add(v);
  }
  return [...values];
}

/** The sum of a metric's series whose labels include `match`; throws when there is none. */
export function metricValue(text: string, metric: string, match: Record<string, string> = {}): number {
  const hits = parsePromText(text).filter((s) => s.name === metric && Object.entries(match).every(([k, v]) => s.labels[k] === v));
  if (hits.length === 0) throw new Error(`no series ${metric}${JSON.stringify(match)} in the scrape`);
  return hits.reduce((n, s) => n + s.value, 0);
}

/** The `names` table of a store file, sorted per kind, read over a connection of its own. */
export function namesByKind(path: string): Record<"provider" | "errorClass" | "circuit" | "assertion", string[]> {
  const db = new Database(path, { readonly: true });
  try {
    const rows = db.prepare("SELECT kind, name FROM names ORDER BY name").all() as { kind: number; name: string }[];
    const of = (kind: number): string[] => rows.filter((r) => r.kind === kind).map((r) => r.name);
    return { provider: of(NAME_PROVIDER), errorClass: of(NAME_ERROR_CLASS), circuit: of(NAME_CIRCUIT), assertion: of(NAME_ASSERTION) };
  } finally {
    db.close();
  }
}
