import type { TLSSocket } from 'node:tls';
import { PorticoError } from '../../errors/portico-error.ts';
import type { Consumer, ConsumerTable } from '../../security/consumers.ts';
import type { Identity } from '../../security/identity.ts';
import { JwtRejection, type JwtVerifier } from '../../security/jwt-verifier.ts';
import type { RequestContext } from '../pipeline/request-context.ts';
import type { StageFactory } from '../pipeline/stage.ts';
import { securityRuntime, type SecurityRuntime } from './security-runtime.ts';

const bearer = /^bearer[ \t]+([A-Za-z0-9._~+/-]+=*)[ \t]*$/i;

/**
 * Authentication (authenticate phase) on routes with `auth`: each listed method is tried in order and the
 * first that proves an identity wins. No credential at all → 401 with a challenge per method; a credential
 * that fails (and no other that succeeds) → 401 saying why. A route with `apiKey` and `auth.apiKeys.query`
 * loses the query parameter before proxying, whoever authenticated.
 */
export const authStage: StageFactory = {
  name: 'auth',
  phase: 'authenticate',
  create(route, context) {
    const methods = route.auth;
    if (methods === undefined) return undefined;
    const security = securityRuntime(context);
    const jwt = methods.includes('jwt') ? security.jwt : undefined;
    const useApiKey = methods.includes('apiKey');
    const useMtls = methods.includes('mtls');
    const jwtFirst = !useApiKey || methods.indexOf('jwt') < methods.indexOf('apiKey');
    const challenges: string[] = [];
    for (const method of methods) {
      if (method === 'jwt') challenges.push('Bearer realm="portico"');
      else if (method === 'apiKey')
        challenges.push(`ApiKey realm="portico", header="${security.apiKeyHeader}"`);
      // A client certificate is asked for during the TLS handshake: HTTP has no challenge for it.
    }
    const missing = new PorticoError(
      'unauthorized',
      'credentials are missing',
      undefined,
      challenges.length === 0 ? undefined : { headers: { 'www-authenticate': challenges.join(', ') } },
    );
    const invalidHeaders: Record<string, string> =
      challenges.length === 0
        ? {}
        : {
            'www-authenticate': challenges
              .map((c) => (c.startsWith('Bearer') ? `${c}, error="invalid_token"` : c))
              .join(', '),
          };

    return async function authenticate(ctx, next) {
      let failure: string | undefined;
      let identity: Identity | undefined;
      if (useMtls) {
        const proof = certificateProof(ctx, security.consumers);
        if (typeof proof === 'string') failure = proof;
        else identity = proof?.identity;
      }
      // Always read, so the query parameter is stripped even when the token wins.
      const key = useApiKey ? apiKeyOf(ctx, security) : undefined;
      if (identity === undefined && jwt !== undefined && jwtFirst) {
        const proof = await bearerProof(ctx, jwt);
        if (typeof proof === 'string') failure ??= proof;
        else identity = proof;
      }
      if (identity === undefined && key !== undefined) {
        identity = security.consumers.byApiKey(key)?.identity;
        if (identity === undefined) failure ??= 'the API key is not valid';
      }
      if (identity === undefined && jwt !== undefined && !jwtFirst) {
        const proof = await bearerProof(ctx, jwt);
        if (typeof proof === 'string') failure ??= proof;
        else identity = proof;
      }
      if (identity === undefined) {
        if (failure === undefined) throw missing;
        throw new PorticoError('unauthorized', failure, undefined, { headers: invalidHeaders });
      }
      ctx.consumer = identity.consumer;
      ctx.scopes = identity.scopes;
      ctx.upstreamHeaders = identity.upstreamHeaders;
      return next(ctx);
    };
  },
};

/**
 * What the bearer token proves: an identity, why it fails, or undefined when there is no bearer token.
 * One union instead of a result object, so a request allocates nothing here beyond the verification itself.
 */
async function bearerProof(ctx: RequestContext, jwt: JwtVerifier): Promise<Identity | string | undefined> {
  const header = ctx.req.headers.authorization;
  if (header === undefined) return undefined;
  const m = bearer.exec(header);
  if (m === null) {
    const scheme = header.trimStart().slice(0, 7).toLowerCase();
    return scheme === 'bearer ' ? 'the token is malformed' : undefined;
  }
  try {
    return await jwt.verify(m[1] as string);
  } catch (err) {
    if (!(err instanceof JwtRejection)) throw err;
    return err.message;
  }
}

/** The API key from the header, else from the query parameter; the parameter is removed from the query. */
function apiKeyOf(ctx: RequestContext, security: SecurityRuntime): string | undefined {
  const header = ctx.req.headers[security.apiKeyHeader];
  let key = typeof header === 'string' && header !== '' ? header : undefined;
  const param = security.apiKeyQuery;
  if (param !== undefined && ctx.query !== '' && ctx.query.includes(param)) {
    const kept: string[] = [];
    for (const pair of ctx.query.split('&')) {
      const eq = pair.indexOf('=');
      const name = eq < 0 ? pair : pair.slice(0, eq);
      if (safeDecode(name) !== param) kept.push(pair);
      else if (key === undefined && eq >= 0) key = safeDecode(pair.slice(eq + 1));
    }
    ctx.query = kept.join('&');
  }
  return key;
}

function safeDecode(text: string): string {
  try {
    return decodeURIComponent(text.replaceAll('+', ' '));
  } catch {
    return text;
  }
}

const kCertificateConsumer = Symbol('portico.certificateConsumer');
type CertifiedSocket = TLSSocket & {
  /** The consumer table the connection's certificate was looked up in, and what it found (one per connection). */
  [kCertificateConsumer]?: { table: ConsumerTable; proof: Consumer | string | undefined };
};

/**
 * What the connection's client certificate proves: a consumer, why it does not, or undefined when the
 * connection carries no certificate (plain HTTP, or none sent). Computed once per connection and table: the
 * certificate cannot change on a connection (renegotiation is off in Node).
 */
function certificateProof(ctx: RequestContext, consumers: ConsumerTable): Consumer | string | undefined {
  const socket = ctx.req.socket as CertifiedSocket;
  if ((socket as { encrypted?: boolean }).encrypted !== true) return undefined;
  const cached = socket[kCertificateConsumer];
  if (cached?.table === consumers) return cached.proof;
  let proof: Consumer | string | undefined;
  const cert = socket.getPeerX509Certificate();
  if (cert === undefined) proof = undefined;
  else if (!socket.authorized)
    proof = `the client certificate is not trusted (${String(socket.authorizationError)})`;
  else proof = consumers.byCertificate(cert) ?? 'the client certificate belongs to no consumer';
  socket[kCertificateConsumer] = { table: consumers, proof };
  return proof;
}
