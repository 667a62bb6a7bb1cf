/**
 * Resolves after `ms` (Infinity: never by time) or as soon as any signal aborts, whichever
 * comes first. Never rejects, and removes its listeners so long-lived signals do not pile up.
 */
export function pause(ms: number, signals: readonly AbortSignal[]): Promise<void> {
  return new Promise((resolve) => {
    if (signals.some((s) => s.aborted)) {
      resolve();
      return;
    }
    const done = (): void => {
      if (timer) clearTimeout(timer);
      for (const s of signals) s.removeEventListener("abort", done);
      resolve();
    };
    const timer = Number.isFinite(ms) ? setTimeout(done, Math.max(0, ms)) : undefined;
    for (const s of signals) s.addEventListener("abort", done, { once: true });
  });
}

/** Fixed delay plus uniform jitter in [0, jitterMs). */
export function latencyMs(fixedMs: number, jitterMs: number): number {
  return fixedMs + Math.random() * jitterMs;
}
