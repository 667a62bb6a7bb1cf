export interface WaitOptions {
  timeoutMs: number;
  intervalMs?: number;
  message?: string;
}

/**
 * Polls `fn` until it returns a truthy value, and returns it. Throws after `timeoutMs`
 * with the message and the last error or value seen, so a failing test says what it waited for.
 */
export async function waitFor<T>(fn: () => T | Promise<T>, opts: WaitOptions): Promise<NonNullable<T>> {
  const deadline = Date.now() + opts.timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const value = await fn();
      if (value) return value as NonNullable<T>;
      last = value;
    } catch (err) {
      last = err;
    }
    if (Date.now() >= deadline) {
      const detail = last instanceof Error ? last.message : JSON.stringify(last);
      throw new Error(`timed out after ${opts.timeoutMs} ms waiting for ${opts.message ?? "condition"} (last: ${detail})`);
    }
    await new Promise((resolve) => setTimeout(resolve, opts.intervalMs ?? 25));
  }
}
