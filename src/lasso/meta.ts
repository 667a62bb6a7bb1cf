import { z } from "zod";

/** Lasso's routing metadata (LASSO.md "Routing metadata"). Every field is optional: absent when null. */
export const lassoMetaSchema = z
  .object({
    version: z.string(),
    request_id: z.string(),
    strategy: z.string(),
    chain_id: z.number().int(),
    transport: z.string(),
    candidate_providers: z.array(z.string()),
    selected_provider: z.object({ id: z.string(), protocol: z.string().optional() }).loose(),
    selection_latency_ms: z.number(),
    upstream_latency_ms: z.number(),
    end_to_end_latency_ms: z.number(),
    lasso_overhead_ms: z.number(),
    retries: z.number().int(),
    circuit_breaker_state: z.string(),
  })
  .partial()
  .loose();

export type LassoMeta = z.infer<typeof lassoMetaSchema>;

/** Decodes an `X-Lasso-Meta` header (base64url JSON, no padding). Returns null when absent or unreadable. */
export function decodeLassoMetaHeader(value: string | null | undefined): LassoMeta | null {
  if (!value) return null;
  try {
    const parsed = lassoMetaSchema.safeParse(JSON.parse(Buffer.from(value, "base64url").toString("utf8")));
    return parsed.success ? parsed.data : null;
  } catch {
    return null;
  }
}

export function parseLassoMeta(value: unknown): LassoMeta | null {
  const parsed = lassoMetaSchema.safeParse(value);
  return parsed.success ? parsed.data : null;
}
