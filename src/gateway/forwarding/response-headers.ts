const responseHopByHop = new Set([
  'connection',
  'keep-alive',
  'proxy-connection',
  'transfer-encoding',
  'te',
  'trailer',
  'upgrade',
]);
const responseCandidateLengths = new Set([...responseHopByHop].map((name) => name.length));

/**
 * Turns undici's raw response headers into the flat list `res.writeHead` accepts, minus hop-by-hop ones
 * (Node writes its own framing and connection headers to the client).
 */
export function toClientHeaders(raw: readonly Buffer[], requestId: string): string[] {
  const out: string[] = [];
  let named: Set<string> | undefined;
  for (let i = 0; i < raw.length; i += 2) {
    const name = (raw[i] as Buffer).toString('latin1');
    if (name.length === 10 && name.toLowerCase() === 'connection') {
      for (const token of (raw[i + 1] as Buffer).toString('latin1').split(',')) {
        (named ??= new Set()).add(token.trim().toLowerCase());
      }
    }
  }
  for (let i = 0; i < raw.length; i += 2) {
    const name = (raw[i] as Buffer).toString('latin1');
    if (responseCandidateLengths.has(name.length) && responseHopByHop.has(name.toLowerCase())) continue;
    if (named !== undefined && named.has(name.toLowerCase())) continue;
    if (name.length === 12 && name.toLowerCase() === 'x-request-id') continue;
    out.push(name, (raw[i + 1] as Buffer).toString('latin1'));
  }
  out.push('x-request-id', requestId);
  return out;
}
