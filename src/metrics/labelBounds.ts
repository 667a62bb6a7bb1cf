import {
  circuitStateOf, errorFamilyOf, isKnownErrorClass, OTHER, overflowErrorClass, transportOf, type ErrorFamily,
} from "../lasso/answerValues.js";
import type { ProbeSample } from "../samples.js";

/**
 * A budget of distinct label values: the first `max` distinct values keep their name, later
 * ones are refused (the caller names them "other"). Holds at most `max` values.
 */
export class BoundedLabel {
  private readonly seen = new Set<string>();
  constructor(private readonly max: number) {
    if (!Number.isInteger(max) || max < 0) throw new Error(`a label budget must be a whole number >= 0, got ${max}`);
  }

  admits(v: string): boolean {
    if (this.seen.has(v)) return true;
    if (this.seen.size >= this.max) return false;
    this.seen.add(v);
    return true;
  }

  get size(): number {
    return this.seen.size;
  }
}

/** How many distinct values of Lasso-given label values one registry keeps by name. */
export interface LabelBudgets {
  /** Provider ids from routing metadata (and pinned routes). Default 64. */
  providers: number;
  /** rpc_<code> classes beyond the known codes, and separately http_<status> classes beyond the known statuses. Default 16 each. */
  errorCodes: number;
}

export const DEFAULT_LABEL_BUDGETS: LabelBudgets = { providers: 64, errorCodes: 16 };

/** The labels a value from Lasso's answers can be replaced in by "other". */
export type OverflowLabel = "provider" | "error_class" | "transport" | "circuit_state";
export const OVERFLOW_LABELS: readonly OverflowLabel[] = ["provider", "error_class", "transport", "circuit_state"];

export interface AnswerLabelValues {
  provider: string;
  errorClass: string;
  transport: string;
}

/**
 * Label values for one probe answer, bounded: provider ids and error codes within their
 * budgets, transport and circuit state within Lasso's sets (the probe names anything else
 * "other" already). Each value replaced by "other" is counted once per answer.
 */
export class AnswerLabels {
  private readonly providers: BoundedLabel;
  private readonly codes: Record<ErrorFamily, BoundedLabel>;

  constructor(budgets: LabelBudgets, private readonly overflow: (label: OverflowLabel) => void) {
    this.providers = new BoundedLabel(budgets.providers);
    this.codes = { rpc: new BoundedLabel(budgets.errorCodes), http: new BoundedLabel(budgets.errorCodes) };
  }

  of(s: ProbeSample): AnswerLabelValues {
    if (circuitStateOf(s.circuitState) === OTHER) this.overflow("circuit_state");
    return { provider: this.provider(s.provider), errorClass: this.errorClass(s.errorClass), transport: this.transport(s.transport) };
  }

  /** A provider the plan pins: takes its slot at start-up, before any answer can spend the budget. */
  plannedProvider(id: string): string {
    return this.providers.admits(id) ? id : OTHER;
  }

  /** Distinct values held in memory, for tests and diagnostics. */
  sizes(): { providers: number; rpcCodes: number; httpStatuses: number } {
    return { providers: this.providers.size, rpcCodes: this.codes.rpc.size, httpStatuses: this.codes.http.size };
  }

  private provider(v: string | null): string {
    if (v === null) return "unknown";
    if (this.providers.admits(v)) return v;
    this.overflow("provider");
    return OTHER;
  }

  private errorClass(v: string | null): string {
    if (v === null) return "none";
    const family = errorFamilyOf(v);
    if (family === null || isKnownErrorClass(v) || this.codes[family].admits(v)) return v;
    this.overflow("error_class");
    return overflowErrorClass(family);
  }

  private transport(v: string | null): string {
    const t = transportOf(v);
    if (t === OTHER) this.overflow("transport");
    return t ?? "unknown";
  }
}
