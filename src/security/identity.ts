/**
 * A verified caller, built once per API-key consumer or once per verified token. Its headers (X-Consumer-Id,
 * X-Consumer-Scopes, X-Consumer-Subject) reach the upstream only from here: the gateway always removes a
 * client's copies (forwarding/upstream-headers.ts), so an upstream can trust them.
 */
export interface Identity {
  /** Consumer id (X-Consumer-Id). */
  readonly consumer: string;
  /** The verified subject (`sub` of a JWT), or undefined for API keys. */
  readonly subject: string | undefined;
  readonly scopes: ReadonlySet<string>;
  /** Flat [name, value, …] list appended to the upstream request headers. */
  readonly upstreamHeaders: readonly string[];
}

/** Visible ASCII only: a value that reaches an upstream header can never carry CR, LF or NUL. */
const headerSafe = /^[\x21-\x7e]{1,256}$/;

/** Whether `value` may be used as a consumer id, subject or scope. */
export function isHeaderSafe(value: string): boolean {
  return headerSafe.test(value);
}

/**
 * Builds an identity; the caller has checked `consumer` and `subject` with {@link isHeaderSafe}. Scopes that
 * are not header-safe are dropped rather than trusted.
 *
 * @example
 * createIdentity('mobile-app', undefined, ['users:read']).upstreamHeaders;
 * // ['x-consumer-id', 'mobile-app', 'x-consumer-scopes', 'users:read']
 */
export function createIdentity(
  consumer: string,
  subject: string | undefined,
  scopes: Iterable<string>,
): Identity {
  const kept = new Set<string>();
  for (const scope of scopes) if (headerSafe.test(scope)) kept.add(scope);
  const upstreamHeaders = ['x-consumer-id', consumer, 'x-consumer-scopes', [...kept].join(' ')];
  if (subject !== undefined) upstreamHeaders.push('x-consumer-subject', subject);
  return { consumer, subject, scopes: kept, upstreamHeaders };
}
