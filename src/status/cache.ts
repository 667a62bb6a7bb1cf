/**
 * `render` at most once per `ttlMs`: the status page costs the same whether it is loaded once
 * a minute or by a hundred browsers at once.
 */
export function cachedFor(ttlMs: number, render: () => string, clock: () => number = Date.now): () => string {
  let at = -Infinity;
  let value = "";
  return () => {
    const now = clock();
    if (now - at >= ttlMs) {
      value = render();
      at = now;
    }
    return value;
  };
}
