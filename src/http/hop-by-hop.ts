/**
 * Headers that describe one connection, not the message (RFC 9110 §7.6.1), plus the framing headers
 * Portico always writes itself: a client's Content-Length / Transfer-Encoding is never forwarded as
 * received (Node accepts spellings like `Content-Length: 005` that an upstream may read differently).
 * `Expect: 100-continue` is answered by Node on the client connection; relaying it would make undici refuse
 * the request.
 */
const connectionHeaders = new Set([
  'connection',
  'keep-alive',
  'proxy-connection',
  'proxy-authenticate',
  'proxy-authorization',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
  'content-length',
  'expect',
]);

/** Lengths of the names above: most headers are ruled out without lower-casing them. */
const candidateLengths = new Set([...connectionHeaders].map((name) => name.length));

export function isHopByHop(name: string): boolean {
  return candidateLengths.has(name.length) && connectionHeaders.has(name.toLowerCase());
}

/**
 * Removes from a flat [name, value, …] list every header named in a Connection header value, except the
 * keep-alive/close options (the common case costs one split and no second pass).
 */
export function removeConnectionNamed(out: string[], connection: string): void {
  // Almost every upstream sends exactly `keep-alive` or `close`: no split, no Set.
  if (connection.length <= 10 && isConnectionOption(connection)) return;
  let named: Set<string> | undefined;
  for (const token of connection.split(',')) {
    const lower = token.trim().toLowerCase();
    if (lower !== '' && lower !== 'keep-alive' && lower !== 'close') (named ??= new Set()).add(lower);
  }
  if (named === undefined) return;
  let kept = 0;
  for (let i = 0; i < out.length; i += 2) {
    if (named.has((out[i] as string).toLowerCase())) continue;
    out[kept++] = out[i] as string;
    out[kept++] = out[i + 1] as string;
  }
  out.length = kept;
}

function isConnectionOption(value: string): boolean {
  if (value === 'keep-alive' || value === 'close') return true;
  const lower = value.toLowerCase();
  return lower === 'keep-alive' || lower === 'close';
}
