/**
 * Time allowed for the next try: the per-try timeout, cut to what is left of the overall deadline.
 * `deadlineAt` is an absolute time on the same clock as `now` (0 = no overall deadline); `perTryMs` 0 means
 * no per-try limit. Returns 0 for "no limit" and a negative number when the deadline already passed.
 *
 * @example
 * tryTimeoutMs(5_000, start + 8_000, start + 6_000); // 2000: the last try gets what is left
 */
export function tryTimeoutMs(perTryMs: number, deadlineAt: number, now: number): number {
  if (deadlineAt === 0) return perTryMs;
  const left = deadlineAt - now;
  if (left <= 0) return -1;
  return perTryMs === 0 ? left : Math.min(perTryMs, left);
}
