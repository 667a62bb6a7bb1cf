/**
 * Who served a probe: the provider id from routing metadata and the channel it used
 * (`selected_provider.protocol`: http or ws). Stored as one interned name, `alpha` or
 * `alpha|ws`, so raw rows and rollups count per (provider, transport) without a new column.
 */
const SEPARATOR = "|";
const TRANSPORTS = new Set(["http", "ws"]);

export function servedByName(provider: string | null, transport: string | null): string | null {
  const known = transport !== null && TRANSPORTS.has(transport);
  if (provider === null) return known ? `${SEPARATOR}${transport}` : null;
  return known ? `${provider}${SEPARATOR}${transport}` : provider;
}

export function parseServedBy(name: string | null): { provider: string | null; transport: string | null } {
  if (name === null) return { provider: null, transport: null };
  const at = name.lastIndexOf(SEPARATOR);
  const transport = at < 0 ? null : name.slice(at + 1);
  if (transport === null || !TRANSPORTS.has(transport)) return { provider: name, transport: null };
  return { provider: at === 0 ? null : name.slice(0, at), transport };
}
