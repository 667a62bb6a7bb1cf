/**
 * Reading YAML files for the plan: syntax errors with line numbers, ${ENV} substitution,
 * and mapping a value path (`probes[1].timeout`) back to the line it came from.
 */
import { readFileSync } from "node:fs";
import { isMap, isPair, isScalar, isSeq, LineCounter, parseAllDocuments, type Document } from "yaml";
import { displayFile, formatPath, unreadableReason, type PathSegment } from "./errors.js";
import { substituteDocument, type Env } from "./env.js";
import type { PlanIssue } from "./types.js";

/** One YAML document of a file, parsed and substituted. */
export class YamlSource {
  /** Paths where ${ENV} substitution failed: schema errors there would only repeat it. */
  envPaths: string[] = [];

  constructor(
    readonly abs: string,
    readonly file: string,
    private readonly doc: Document,
    private readonly lines: LineCounter,
    readonly value: unknown,
    /** 1-based position of the document in its file and how many non-empty documents the file has. */
    readonly index: number,
    readonly count: number,
  ) {}

  /** Line of the deepest node on `at` that exists (a missing key points at its parent). */
  lineOf(at: readonly PathSegment[]): number | undefined {
    let node: unknown = this.doc.contents;
    let offset = this.offsetOf(node);
    for (const seg of at) {
      let next: unknown;
      if (isMap(node)) {
        const pair = node.items.find((p) => isPair(p) && isScalar(p.key) && String(p.key.value) === String(seg));
        if (pair !== undefined) {
          next = pair.value ?? pair.key;
          offset = this.offsetOf(pair.key) ?? offset;
        }
      } else if (isSeq(node) && typeof seg === "number") {
        next = node.items[seg];
      }
      if (next === undefined || next === null) break;
      node = next;
      offset = this.offsetOf(node) ?? offset;
    }
    return offset === undefined ? undefined : this.lines.linePos(offset).line;
  }

  lineAt(offset: number | undefined): number | undefined {
    return offset === undefined ? undefined : this.lines.linePos(offset).line;
  }

  issue(at: readonly PathSegment[], message: string): PlanIssue {
    const line = this.lineOf(at);
    const prefix = this.count > 1 ? `(document ${this.index}) ` : "";
    const p = formatPath(at);
    return { file: this.file, path: p === "" && prefix !== "" ? prefix.trim() : `${prefix}${p}`, message, ...(line === undefined ? {} : { line }) };
  }

  private offsetOf(node: unknown): number | undefined {
    if (node !== null && typeof node === "object" && "range" in node) {
      const range = (node as { range?: [number, number, number] | null }).range;
      return range?.[0] ?? undefined;
    }
    return undefined;
  }
}

export interface ReadResult {
  /** The file could be read (it may still have syntax errors). */
  readable: boolean;
  /** Raw text, when readable. */
  text: string;
  sources: YamlSource[];
  issues: PlanIssue[];
  warnings: PlanIssue[];
}

/** Parse every document of a YAML file. Documents with syntax errors are reported, not returned. */
export function readYamlFile(abs: string, env: Env, what: string): ReadResult {
  const file = displayFile(abs);
  const issues: PlanIssue[] = [];
  const warnings: PlanIssue[] = [];
  let text: string;
  try {
    text = readFileSync(abs, "utf8");
  } catch (err) {
    issues.push({ file, path: "", message: `cannot read ${what}: ${unreadableReason(err, "a file")}` });
    return { readable: false, text: "", sources: [], issues, warnings };
  }
  const lines = new LineCounter();
  const docs = parseAllDocuments(text, { lineCounter: lines, prettyErrors: true, uniqueKeys: true });
  if ("empty" in docs) {
    // An empty stream (only comments, or nothing) may still carry stream-level errors.
    for (const e of docs.errors) issues.push(syntaxIssue(file, e.message, e.linePos?.[0], text));
  }
  const nonEmpty = docs.filter((d) => d.contents !== null || d.errors.length > 0);
  if (nonEmpty.length === 0) {
    if (issues.length === 0) issues.push({ file, path: "", message: `${what} is empty` });
    return { readable: true, text, sources: [], issues, warnings };
  }
  const sources: YamlSource[] = [];
  nonEmpty.forEach((doc, i) => {
    if (doc.errors.length > 0) {
      for (const e of doc.errors) issues.push(syntaxIssue(file, e.message, e.linePos?.[0], text));
      return;
    }
    for (const w of doc.warnings) warnings.push(syntaxIssue(file, w.message, w.linePos?.[0]));
    const envProblems = substituteDocument(doc, env);
    let value: unknown;
    try {
      value = doc.toJS({ maxAliasCount: 1000 });
    } catch (err) {
      issues.push({ file, path: "", message: `YAML error: ${(err as Error).message}` });
      return;
    }
    const src = new YamlSource(abs, file, doc, lines, value, i + 1, nonEmpty.length);
    for (const p of envProblems) {
      const base = src.issue(p.path, p.message);
      const line = src.lineAt(p.offset);
      issues.push(line === undefined ? base : { ...base, line });
    }
    src.envPaths = envProblems.map((p) => formatPath(p.path));
    sources.push(src);
  });
  return { readable: true, text, sources, issues, warnings };
}

function syntaxIssue(file: string, message: string, pos: { line: number; col: number } | undefined, text = ""): PlanIssue {
  const first = (message.split("\n")[0] ?? message).replace(/ at line \d+, column \d+:?$/, "");
  const col = pos === undefined ? "" : ` (column ${pos.col})`;
  // `{ x: ${VAR} }`: braces are YAML flow syntax, the commonest way to trip over ${...}
  const lineText = pos === undefined ? "" : (text.split("\n")[pos.line - 1] ?? "");
  const hint = /[{[][^"']*\$\{/.test(lineText) ? `; a \${...} inside { } or [ ] must be quoted ("\${VAR}") or written in block style` : "";
  return { file, path: "", message: `YAML syntax error: ${first}${col}${hint}`, ...(pos === undefined ? {} : { line: pos.line }) };
}
