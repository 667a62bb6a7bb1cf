/**
 * ${ENV} substitution in YAML string values (never in keys), done on the parsed document so
 * that a substituted value cannot change the YAML structure and every error has a path.
 *
 *   ${NAME}            value of NAME; an error when NAME is unset
 *   ${NAME:-default}   value of NAME, or `default` when NAME is unset or empty
 *   $${NAME}           the literal text ${NAME}
 *
 * A plain (unquoted) scalar that is exactly one reference whose value looks like a number
 * or a boolean becomes that number or boolean (`rawRetentionDays: ${RAW_DAYS:-7}`); quoted
 * scalars stay strings, as in YAML. Inside a flow collection (`{ ... }`, `[ ... ]`) the
 * braces of ${...} are YAML syntax, so a reference there must be quoted (a string) or the
 * value written in block style.
 */
import { isMap, isPair, isScalar, isSeq, type Document, type Node } from "yaml";
import type { PathSegment } from "./errors.js";

export interface EnvProblem {
  path: PathSegment[];
  message: string;
  /** Offset in the source text of the scalar. */
  offset: number | undefined;
}

export type Env = Record<string, string | undefined>;

const REF = /\$\$\{|\$\{([^}]*)\}|\$\{/g;
const NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

interface Substituted {
  value: string;
  problems: string[];
  /** The whole string was a single ${...} reference. */
  whole: boolean;
}

export function substitute(text: string, env: Env): Substituted {
  const problems: string[] = [];
  let refs = 0;
  let whole = false;
  const value = text.replace(REF, (match: string, body: string | undefined, offset: number) => {
    if (match === "$${") return "${";
    if (body === undefined) {
      problems.push(`unterminated \${ in "${text.length > 60 ? `${text.slice(0, 60)}...` : text}": write \${NAME} or \${NAME:-default}`);
      return match;
    }
    refs++;
    if (offset === 0 && match.length === text.length) whole = true;
    const sep = body.indexOf(":-");
    const name = sep < 0 ? body : body.slice(0, sep);
    if (!NAME.test(name)) {
      problems.push(`malformed reference \${${body}}: write \${NAME} or \${NAME:-default}`);
      return match;
    }
    const val = env[name];
    if (sep >= 0) return val === undefined || val === "" ? body.slice(sep + 2) : val;
    if (val === undefined) {
      problems.push(`environment variable ${name} is not set (set it, or give a default: \${${name}:-value})`);
      return "";
    }
    return val;
  });
  return { value, problems, whole: whole && refs === 1 };
}

function coerce(value: string): string | number | boolean {
  if (/^-?\d+(\.\d+)?$/.test(value)) return Number(value);
  if (value === "true") return true;
  if (value === "false") return false;
  return value;
}

/** Substitute in place in every string value of the document; returns what went wrong. */
export function substituteDocument(doc: Document, env: Env): EnvProblem[] {
  const problems: EnvProblem[] = [];
  const seen = new Set<Node>();
  const walk = (node: unknown, at: PathSegment[]): void => {
    if (isScalar(node)) {
      if (seen.has(node) || typeof node.value !== "string" || !node.value.includes("${")) return;
      seen.add(node);
      const r = substitute(node.value, env);
      for (const message of r.problems) problems.push({ path: at, message, offset: node.range?.[0] });
      node.value = r.whole && node.type === "PLAIN" && r.problems.length === 0 ? coerce(r.value) : r.value;
    } else if (isMap(node)) {
      for (const pair of node.items) {
        if (!isPair(pair)) continue;
        const key = isScalar(pair.key) ? String(pair.key.value) : String(pair.key);
        walk(pair.value, [...at, key]);
      }
    } else if (isSeq(node)) {
      node.items.forEach((item, i) => walk(item, [...at, i]));
    }
  };
  walk(doc.contents, []);
  return problems;
}
