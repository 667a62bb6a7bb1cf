/**
 * Block hashes per provider, stored as JSON with each distinct hash written once:
 * {"h": ["0xabc..."], "p": {"alchemy": 0, "infura": 0, "drpc": null}}. When providers
 * agree (the usual case) that is one hash instead of one per provider.
 */
interface Stored {
  h: string[];
  p: Record<string, number | null>;
}

/** The store wrote this JSON itself; the check guards against a damaged row, not hostile input. */
function isStored(v: unknown): v is Stored {
  if (typeof v !== "object" || v === null) return false;
  const { h, p } = v as Partial<Stored>;
  return (
    Array.isArray(h) && h.every((x) => typeof x === "string") &&
    typeof p === "object" && p !== null &&
    Object.values(p).every((i) => i === null || (Number.isInteger(i) && i >= 0 && i < h.length))
  );
}

export function encodeHashes(hashes: Record<string, string | null>): string {
  const unique: string[] = [];
  const index = new Map<string, number>();
  const p: Record<string, number | null> = {};
  for (const [provider, hash] of Object.entries(hashes)) {
    if (hash === null) {
      p[provider] = null;
      continue;
    }
    let i = index.get(hash);
    if (i === undefined) {
      i = unique.length;
      unique.push(hash);
      index.set(hash, i);
    }
    p[provider] = i;
  }
  return JSON.stringify({ h: unique, p });
}

export function decodeHashes(text: string): Record<string, string | null> {
  const parsed: unknown = JSON.parse(text);
  if (!isStored(parsed)) throw new Error(`damaged consistency row: ${text.slice(0, 80)}`);
  const out: Record<string, string | null> = {};
  for (const [provider, i] of Object.entries(parsed.p)) out[provider] = i === null ? null : (parsed.h[i] ?? null);
  return out;
}
