import { z } from "zod";

/**
 * Block hashes per provider, stored as JSON with each distinct hash written once:
 * {"h": ["0xabc..."], "p": {"alchemy": 0, "infura": 0, "drpc": null}}. When providers
 * agree (the usual case) that is one hash instead of one per provider.
 */
const Stored = z.object({
  h: z.array(z.string()),
  p: z.record(z.string(), z.number().int().nonnegative().nullable()),
});

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
  const parsed = Stored.parse(JSON.parse(text));
  const out: Record<string, string | null> = {};
  for (const [provider, i] of Object.entries(parsed.p)) out[provider] = i === null ? null : (parsed.h[i] ?? null);
  return out;
}
