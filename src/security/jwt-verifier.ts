import { createHash } from 'node:crypto';
import {
  createLocalJWKSet,
  errors,
  jwtVerify,
  type CryptoKey,
  type JWTVerifyGetKey,
  type JWTPayload,
  type JWTVerifyOptions,
} from 'jose';
import type { JwtConfig } from '../config/schema.ts';
import { parseDurationMs } from '../config/units.ts';
import { createIdentity, isHeaderSafe, type Identity } from './identity.ts';
import type { JwksCache } from './jwks-cache.ts';
import { createTokenCache } from './token-cache.ts';

/** Why a token was refused; becomes the `detail` of the 401. */
export class JwtRejection extends Error {
  constructor(reason: string) {
    super(reason);
    this.name = 'JwtRejection';
  }
}

/** Verifies bearer tokens against one `auth.jwt` config. */
export interface JwtVerifier {
  /** The identity the token proves; rejects with a {@link JwtRejection}. */
  verify(token: string): Promise<Identity>;
}

/** Options of {@link createJwtVerifier}. */
export interface JwtVerifierOptions {
  readonly config: JwtConfig;
  /** The cache of `config.jwks`, kept across reloads by the caller. */
  readonly jwks?: JwksCache | undefined;
  readonly now: () => number;
}

const hmacHash: Record<string, string> = { HS256: 'SHA-256', HS384: 'SHA-384', HS512: 'SHA-512' };

/**
 * Verifies JWTs with jose: only the configured algorithms, HS* only with the configured secret and every
 * other algorithm only with the inline keys or the JWKS (so a public key can never serve as an HMAC secret),
 * `exp` required, `iss`/`aud`/`nbf` checked with the configured clock skew. A verified token is remembered
 * by its SHA-256 until it expires, so a repeated token costs one hash.
 *
 * @example
 * const verifier = createJwtVerifier({ config: { secret, algorithms: ['HS256'], ... }, now: Date.now });
 * const identity = await verifier.verify(token); // identity.consumer === payload.sub
 */
export function createJwtVerifier(options: JwtVerifierOptions): JwtVerifier {
  const { config, jwks, now } = options;
  const skewMs = parseDurationMs(config.clockSkew);
  const secret = config.secret === undefined ? undefined : new TextEncoder().encode(config.secret);
  const hmacKeys = new Map<string, Promise<CryptoKey>>();
  const inline = config.keys === undefined ? undefined : createLocalJWKSet({ keys: config.keys as never });
  const cache = createTokenCache<Identity>(config.cacheSize);
  const claim = config.consumerClaim;

  function hmacKey(alg: string): Promise<CryptoKey> {
    let key = hmacKeys.get(alg);
    if (key === undefined) {
      key = crypto.subtle.importKey(
        'raw',
        secret as Uint8Array<ArrayBuffer>,
        { name: 'HMAC', hash: hmacHash[alg] as string },
        false,
        ['verify'],
      );
      hmacKeys.set(alg, key);
    }
    return key;
  }

  const getKey: JWTVerifyGetKey = async function getKey(header, token) {
    const alg = header.alg ?? '';
    if (Object.hasOwn(hmacHash, alg)) {
      if (secret === undefined) throw new JwtRejection('the token algorithm is not accepted');
      return await hmacKey(alg);
    }
    if (inline !== undefined) {
      try {
        return await inline(header, token);
      } catch (err) {
        if (jwks === undefined || !(err instanceof errors.JWKSNoMatchingKey)) throw err;
      }
    }
    if (jwks === undefined) throw new JwtRejection('no key matches the token');
    return await jwks.getKey(header, token);
  };

  const verifyOptions: JWTVerifyOptions = {
    algorithms: [...config.algorithms],
    clockTolerance: Math.floor(skewMs / 1000),
    requiredClaims: ['exp'],
    ...(config.issuer === undefined ? {} : { issuer: config.issuer }),
    ...(config.audience === undefined ? {} : { audience: config.audience }),
  };

  return {
    async verify(token) {
      const digest = createHash('sha256').update(token).digest('base64url');
      const at = now();
      const cached = cache.get(digest, at);
      if (cached !== undefined) return cached;
      let payload: JWTPayload;
      try {
        ({ payload } = await jwtVerify(token, getKey, { ...verifyOptions, currentDate: new Date(at) }));
      } catch (err) {
        throw new JwtRejection(describe(err));
      }
      const consumer = payload[claim];
      if (typeof consumer !== 'string' || !isHeaderSafe(consumer))
        throw new JwtRejection(`the token has no valid "${claim}" claim`);
      const subject = typeof payload.sub === 'string' && isHeaderSafe(payload.sub) ? payload.sub : undefined;
      const identity = createIdentity(consumer, subject, scopesOf(payload));
      cache.set(digest, identity, (payload.exp as number) * 1000 + skewMs);
      return identity;
    },
  };
}

/** Scopes from `scope` (space-separated, RFC 8693) or `scp` (a list or a string). */
function scopesOf(payload: JWTPayload): string[] {
  const scope = payload.scope ?? payload.scp;
  if (typeof scope === 'string') return scope.split(' ').filter((s) => s !== '');
  if (Array.isArray(scope)) return scope.filter((s): s is string => typeof s === 'string');
  return [];
}

function describe(err: unknown): string {
  if (err instanceof JwtRejection) return err.message;
  if (err instanceof errors.JWTExpired) return 'the token has expired';
  if (err instanceof errors.JWTClaimValidationFailed) {
    if (err.claim === 'nbf') return 'the token is not valid yet';
    return `the token's "${err.claim}" claim is missing or not accepted`;
  }
  if (err instanceof errors.JOSEAlgNotAllowed) return 'the token algorithm is not accepted';
  if (err instanceof errors.JWSSignatureVerificationFailed) return 'the token signature is invalid';
  if (err instanceof errors.JWKSNoMatchingKey || err instanceof errors.JWKSMultipleMatchingKeys)
    return 'no key matches the token';
  return 'the token is malformed';
}
