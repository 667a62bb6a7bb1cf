import { z } from "zod";
import type { Report } from "./types.js";

const Slo = z.object({
  chain: z.string(),
  successRatio: z.number().min(0).max(1),
  p95LatencyMs: z.number().positive(),
  maxHeadLagBlocks: z.number().min(0),
  headFreshRatio: z.number().min(0).max(1).optional(),
  maxDeliveryDelayMs: z.number().positive().optional(),
});

export const RequestMessage = z.object({
  id: z.number().int(),
  range: z.object({ since: z.number(), until: z.number(), chain: z.string().optional() }),
  slos: z.array(Slo),
  now: z.number(),
});
export type RequestMessage = z.infer<typeof RequestMessage>;

export type ResponseMessage = { id: number; ok: true; report: Report } | { id: number; ok: false; error: string };
