/**
 * What sits in front of Lasso's router: an optional authenticating reverse proxy (the sim's
 * `requireHeaders`) and Lasso's in-flight request byte budget (LassoWeb.Plugs.RequestByteBudget).
 */
import type { IncomingHttpHeaders } from "node:http";

/** True when every required header is present with exactly the required value. */
export function authorized(required: Record<string, string> | undefined, headers: IncomingHttpHeaders): boolean {
  if (!required) return true;
  return Object.entries(required).every(([name, value]) => {
    const got = headers[name.toLowerCase()];
    return (Array.isArray(got) ? got[0] : got) === value;
  });
}

export const UNAUTHORIZED_BODY = JSON.stringify({ error: "unauthorized" });

/** Lasso's limit on a request body, bytes (8,000,000, not 8 MiB). */
export const MAX_BODY_BYTES = 8_000_000;
const READ_LENGTH_BYTES = 1_000_000;
const MINIMUM_CHARGE_BYTES = 4_096;
export const DEFAULT_BYTE_BUDGET = 128 * 1024 * 1024;

export type Admission = { ok: true; release: () => void } | { ok: false; reason: "too_large" | "capacity" };

/**
 * Reserves a request's bytes for as long as it is being answered: max(Content-Length, 4 KiB),
 * or the largest admissible body without a Content-Length. Lasso spreads the budget over
 * buckets; the sim keeps one counter.
 */
export class ByteBudget {
  private inFlight = 0;

  constructor(private readonly limit: number) {}

  admit(contentLength: string | undefined): Admission {
    let charge = MAX_BODY_BYTES + READ_LENGTH_BYTES;
    if (contentLength !== undefined && /^\d+$/.test(contentLength.trim())) {
      const n = Number(contentLength.trim());
      if (n > MAX_BODY_BYTES) return { ok: false, reason: "too_large" };
      charge = Math.max(n, MINIMUM_CHARGE_BYTES);
    }
    if (this.inFlight + charge > this.limit) return { ok: false, reason: "capacity" };
    this.inFlight += charge;
    let released = false;
    return {
      ok: true,
      release: () => {
        if (released) return;
        released = true;
        this.inFlight -= charge;
      },
    };
  }
}
