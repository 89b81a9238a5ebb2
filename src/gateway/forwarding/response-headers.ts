import { removeConnectionNamed } from '../../http/hop-by-hop.ts';

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

/** Where `toClientHeaders` reports the upstream's declared body length (-1 when none). */
export interface ResponseFraming {
  upstreamContentLength: number;
}

/**
 * Turns undici's raw response headers into the flat list `res.writeHead` accepts, minus hop-by-hop ones
 * (Node writes its own framing and connection headers to the client). One pass; headers named in the
 * upstream's Connection header are filtered afterwards, only when there are any.
 */
export function toClientHeaders(
  raw: readonly Buffer[],
  requestId: string,
  framing: ResponseFraming,
): string[] {
  const out: string[] = [];
  let connection: string | undefined;
  framing.upstreamContentLength = -1;
  for (let i = 0; i < raw.length; i += 2) {
    const name = (raw[i] as Buffer).toString('latin1');
    const length = name.length;
    if (responseCandidateLengths.has(length)) {
      const lower = name.toLowerCase();
      if (responseHopByHop.has(lower)) {
        if (lower === 'connection') connection = (raw[i + 1] as Buffer).toString('latin1');
        continue;
      }
    }
    if (length === 12 && name.toLowerCase() === 'x-request-id') continue;
    const value = (raw[i + 1] as Buffer).toString('latin1');
    if (length === 14 && name.toLowerCase() === 'content-length')
      framing.upstreamContentLength = Number(value);
    out.push(name, value);
  }
  if (connection !== undefined) removeConnectionNamed(out, connection);
  out.push('x-request-id', requestId);
  return out;
}
