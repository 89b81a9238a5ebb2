/** Milliseconds per unit of a `grpc-timeout` value (Hours, Minutes, Seconds, milli, micro, nano). */
const unitMs: Record<string, number> = { H: 3_600_000, M: 60_000, S: 1_000, m: 1, u: 0.001, n: 0.000001 };

/**
 * The caller's deadline from `grpc-timeout` (grpc/doc/PROTOCOL-HTTP2.md: 1 to 8 digits and a unit), in whole
 * milliseconds (at least 1); 0 when the header is absent or not valid, so the route's own deadline applies.
 *
 * @example grpcTimeoutMs('250m') // 250
 */
export function grpcTimeoutMs(value: string | string[] | undefined): number {
  if (typeof value !== 'string' || value.length < 2 || value.length > 9) return 0;
  const unit = unitMs[value.charAt(value.length - 1)];
  const amount = value.slice(0, -1);
  if (unit === undefined || !/^[0-9]+$/.test(amount)) return 0;
  return Math.max(1, Math.ceil(Number(amount) * unit));
}
