// A Portico plugin: signs every request it forwards with HMAC-SHA256, so a service can tell that a request
// came through the gateway and was not changed on the way. In your own project import from 'portico'.
import { createHmac, timingSafeEqual } from 'node:crypto';
import { definePlugin, setUpstreamHeader, Type, upstreamPathOf } from '../../src/index.ts';

const Options = Type.Object(
  {
    secret: Type.String({
      minLength: 32,
      description: 'Shared secret, at least 32 characters: use ${HMAC_SECRET}.',
    }),
    keyId: Type.String({
      default: 'portico',
      pattern: '^[A-Za-z0-9._-]+$',
      description: 'Names the secret, so services can rotate keys.',
    }),
    header: Type.String({
      default: 'x-portico-signature',
      pattern: '^[a-z0-9-]+$',
      description: 'The header carrying the signature.',
    }),
  },
  { additionalProperties: false },
);

/**
 * The signed text: method, the path and query the service receives, the request id and the signing time,
 * one per line. A service recomputes it from the request it got (see verifySignature).
 */
export function signedText(method: string, target: string, requestId: string, signedAt: number): string {
  return `${method}\n${target}\n${requestId}\n${signedAt}`;
}

export default definePlugin({
  name: 'hmac-sign',
  phase: 'transform',
  options: Options,
  create(options) {
    const key = Buffer.from(options.secret);
    const prefix = `keyId=${options.keyId},ts=`;
    return function hmacSign(ctx, next) {
      const signedAt = Math.floor(Date.now() / 1000);
      const target = ctx.query === '' ? upstreamPathOf(ctx) : `${upstreamPathOf(ctx)}?${ctx.query}`;
      const mac = createHmac('sha256', key)
        .update(signedText(ctx.req.method ?? 'GET', target, ctx.requestId, signedAt))
        .digest('base64url');
      setUpstreamHeader(ctx, options.header, `${prefix}${signedAt},sig=${mac}`);
      return next(ctx);
    };
  },
});

/**
 * What a service runs on each request: true when the signature header matches the request and was made
 * within `maxAgeSeconds`.
 *
 * @example verifySignature({ secret, header: req.headers['x-portico-signature'], method: req.method, target: req.url, requestId: req.headers['x-request-id'] })
 */
export function verifySignature(input: {
  secret: string;
  header: string | undefined;
  method: string;
  target: string;
  requestId: string;
  maxAgeSeconds?: number;
  now?: number;
}): boolean {
  const match = /^keyId=[A-Za-z0-9._-]+,ts=(\d+),sig=([A-Za-z0-9_-]+)$/.exec(input.header ?? '');
  if (match === null) return false;
  const signedAt = Number(match[1]);
  const now = input.now ?? Math.floor(Date.now() / 1000);
  if (Math.abs(now - signedAt) > (input.maxAgeSeconds ?? 300)) return false;
  const expected = createHmac('sha256', input.secret)
    .update(signedText(input.method, input.target, input.requestId, signedAt))
    .digest();
  const given = Buffer.from(match[2] as string, 'base64url');
  return given.length === expected.length && timingSafeEqual(given, expected);
}
