import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { SignJWT } from 'jose';
import { porticoWith } from '../contenders/catalog.ts';
import type { ContenderSpec } from '../contenders/contender.ts';
import { porticoHeadYaml } from '../contenders/portico-config.ts';
import { ORDER_BODY, PATHS } from '../lib/payloads.ts';
import { loadColumns, loadRows, measureRounds } from './rounds.ts';
import type { BenchOptions, Scenario } from './scenario.ts';

const PLAIN = 'portico-plain';
const POLICIES = 'portico-policies';
const CONNECTIONS = 50;
const SECRET = 'portico-bench-hs256-secret-of-at-least-32-bytes';
const ISSUER = 'https://id.bench.test';
const AUDIENCE = 'bench-api';
const durationOf = (o: BenchOptions): number => o.durationS;

/** The contract of the one operation: a small order, strict enough that ajv has real work per field. */
const CONTRACT = {
  openapi: '3.1.0',
  info: { title: 'bench orders', version: '1.0.0' },
  paths: {
    [PATHS.order]: {
      post: {
        operationId: 'createOrder',
        requestBody: {
          required: true,
          content: {
            'application/json': {
              schema: {
                type: 'object',
                required: ['sku', 'qty'],
                additionalProperties: false,
                properties: {
                  sku: { type: 'string', pattern: '^[A-Z]{2}-[0-9]{1,8}$' },
                  qty: { type: 'integer', minimum: 1, maximum: 100 },
                  note: { type: 'string', maxLength: 200 },
                },
              },
            },
          },
        },
        responses: { '200': { description: 'the order' } },
      },
    },
  },
};

function policiesSpec(label: string, withPolicies: boolean): ContenderSpec {
  return porticoWith(label, {
    async config(s) {
      const contract = join(s.dir, 'orders-contract.json');
      await writeFile(contract, JSON.stringify(CONTRACT));
      const policies = withPolicies
        ? [
            '    auth: [jwt]',
            // High enough never to refuse: the cost measured is the bookkeeping, not the 429s.
            '    rateLimit: { limit: 10000000, window: 1s, by: consumer }',
            '    validate: request',
          ]
        : [];
      return [
        porticoHeadYaml(s.port, s.adminPort, { kind: 'embedded', path: s.storeDir }),
        'auth:',
        `  jwt: { issuer: ${ISSUER}, audience: ${AUDIENCE}, secret: ${JSON.stringify(SECRET)}, algorithms: [HS256] }`,
        'services:',
        '  bench:',
        `    instances: [ { url: ${JSON.stringify(s.upstreamOrigin)}, version: 1.0.0 } ]`,
        `    versions: { "1": { contract: ${JSON.stringify(contract)} } }`,
        'routes:',
        `  - name: orders`,
        `    match: { path: ${PATHS.order}, methods: [POST] }`,
        '    service: bench',
        ...policies,
        '',
      ].join('\n');
    },
    probePath: undefined,
  });
}

/** A token valid for the whole run, signed here the way an identity provider would. */
async function benchToken(): Promise<string> {
  return new SignJWT({ scope: 'orders:write' })
    .setProtectedHeader({ alg: 'HS256' })
    .setIssuer(ISSUER)
    .setAudience(AUDIENCE)
    .setSubject('bench-client')
    .setIssuedAt()
    .setExpirationTime('2h')
    .sign(new TextEncoder().encode(SECRET));
}

/**
 * The same POST route on two Portico configs: plain, and with JWT (HS256) + a rate limit that never refuses +
 * request validation against an OpenAPI contract. Both receive the identical request, token included.
 */
export function createPoliciesScenario(): Scenario {
  const contenders = [policiesSpec(PLAIN, false), policiesSpec(POLICIES, true)];
  return {
    name: 'policies',
    title: `Policies: JWT + rate limit + validation vs plain (Portico), POST ${ORDER_BODY.length} B JSON, ${CONNECTIONS} connections`,
    description:
      `POST ${PATHS.order} with a ${ORDER_BODY.length}-byte JSON body and \`Authorization: Bearer <HS256 JWT>\` on both; ` +
      'the policies route adds `auth: [jwt]`, `rateLimit: 10,000,000/s by consumer` (never refuses) and ' +
      '`validate: request` against an OpenAPI 3.1 contract. Target: policies ≥ 0.75× plain on req/s.',
    contenders,
    estimateS: (o) => contenders.length * (Math.min(o.warmupS, 2) + o.rounds * durationOf(o) + 1.5) + 2,
    async run(ctx, started) {
      const { rounds, warmupS } = ctx.options;
      const request = {
        method: 'POST',
        headers: { authorization: `Bearer ${await benchToken()}`, 'content-type': 'application/json' },
        body: ORDER_BODY,
      };
      const preflight: Record<string, string> = {};
      for (const c of started) {
        const res = await fetch(c.origin + PATHS.order, request);
        const text = await res.text();
        if (res.status !== 200) preflight[c.label] = `POST answered ${res.status}: ${text.slice(0, 200)}`;
        ctx.log(`  ${c.label}: POST ${PATHS.order} → ${res.status}`);
      }
      // The policies must be doing their work, or the ratio would flatter them.
      const policies = started.find((c) => c.label === POLICIES);
      if (policies !== undefined) {
        const url = policies.origin + PATHS.order;
        const anonymous = await fetch(url, { ...request, headers: { 'content-type': 'application/json' } });
        const invalid = await fetch(url, { ...request, body: '{"sku":"BK-1","qty":0}' });
        await Promise.all([anonymous.text(), invalid.text()]);
        ctx.log(`  ${POLICIES}: without token → ${anonymous.status}, invalid body → ${invalid.status}`);
        if (anonymous.status !== 401 || invalid.status !== 400) {
          preflight[POLICIES] =
            `policies not enforced: no token → ${anonymous.status} (want 401), invalid body → ${invalid.status} (want 400)`;
        }
      }
      const samples = await measureRounds(ctx, started, {
        path: PATHS.order,
        connections: CONNECTIONS,
        durationS: durationOf(ctx.options),
        rounds,
        warmupS: Math.min(warmupS, 2),
        ...request,
      });
      const rows = loadRows(started, samples, preflight);
      return {
        name: this.name,
        title: this.title,
        description: this.description,
        chart: false,
        rows,
        columns: loadColumns([PLAIN]),
      };
    },
  };
}
