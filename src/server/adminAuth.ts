import { createHash, timingSafeEqual } from "node:crypto";

export type AdminAuth = { ok: true } | { ok: false; status: 401 | 403; error: string };

/**
 * Bearer-token check for the admin endpoints. No token configured: the endpoints are off (403).
 * Tokens are compared as SHA-256 digests with timingSafeEqual: equal length, constant time.
 */
export function checkAdmin(configured: string | null, authorization: string | undefined): AdminAuth {
  if (configured === null) return { ok: false, status: 403, error: "admin endpoints are disabled: set adminToken in the daemon config" };
  const m = /^Bearer\s+(\S+)\s*$/i.exec(authorization ?? "");
  const given = m?.[1];
  if (given === undefined) return { ok: false, status: 401, error: "missing bearer token (Authorization: Bearer <adminToken>)" };
  const digest = (t: string): Buffer => createHash("sha256").update(t, "utf8").digest();
  if (!timingSafeEqual(digest(given), digest(configured))) return { ok: false, status: 401, error: "wrong bearer token" };
  return { ok: true };
}
