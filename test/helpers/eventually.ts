/**
 * Polls `check` until it holds or `timeoutMs` passes. A check holds when it neither throws nor returns
 * `false`, so both `() => assert.equal(a, b)` and `() => a === b` work; after the time is up the last
 * failure is thrown (an assertion's own message, or one saying the condition stayed false).
 *
 * The one polling helper of the test suites: wait with it, never with a fixed sleep.
 *
 * @example
 * await eventually(() => assert.equal(upstream.requests.length, 2));
 * await eventually(() => watcher.events.length === 3, 2_000);
 */
export async function eventually<T>(
  check: () => T | Promise<T>,
  timeoutMs = 5000,
  intervalMs = 20,
): Promise<Exclude<T, false>> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  for (;;) {
    try {
      const result = await check();
      if (result !== false) return result as Exclude<T, false>;
      lastError = new Error(`condition still false after ${timeoutMs} ms`);
    } catch (err) {
      lastError = err;
    }
    if (Date.now() > deadline) throw lastError;
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
}
