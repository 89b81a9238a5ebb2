/**
 * Contract pairs for the rule families added for parity with established checkers: composition, response
 * headers, loosened responses, const and null forms, JSON Schema 2020-12 keywords, request bodies, webhooks and
 * sunsets, and look-alike changes that must not raise a false alarm. Same shape as diff-corpus.ts.
 */
import {
  body,
  both,
  createUser,
  doc,
  getUser,
  listUsers,
  ok,
  pair,
  q,
  user,
  type CorpusCase,
  type Json,
} from './diff-corpus.ts';

const v31 = (d: Json): Json => ({ ...d, openapi: '3.1.0' });
/** A document whose POST /users body is `schema`. */
const req = (schema: Json): Json => v31(createUser(schema));
/** A document whose GET /users/{id} answers `schema`. */
const res = (schema: Json): Json => v31(getUser(schema));
/** A request body with one optional field `f`. */
const reqField = (field: Json): Json => req(body({ f: field }));
/** An answer with one required field `f`. */
const resField = (field: Json): Json => res(body({ f: field }, ['f']));
const str = { type: 'string' };
const int = { type: 'integer' };
const card: Json = body({ kind: str, number: str }, ['kind', 'number']);
const wallet: Json = body({ kind: str, wallet: str }, ['kind', 'wallet']);
const bank: Json = body({ kind: str, iban: str }, ['kind', 'iban']);

function withHeaders(headers: Json, status = '200'): Json {
  return v31(
    doc({
      '/a': {
        get: {
          responses: {
            ...ok(user),
            [status]: { description: 'x', headers, content: { 'application/json': { schema: user } } },
          },
        },
      },
    }),
  );
}

/** GET /users/{id} answering JSON with no schema: anything. */
const anyJsonAnswer: Json = v31(
  getUser(user, [], {
    responses: { '200': { description: 'x', content: { 'application/json': {} } } },
  }),
);

const etag = (extra: Json = {}): Json => ({ ETag: { schema: { type: 'string' }, ...extra } });

function hooks(list: Record<string, Json>): Json {
  const webhooks: Json = {};
  for (const [name, schema] of Object.entries(list))
    webhooks[name] = {
      post: {
        requestBody: { content: { 'application/json': { schema } } },
        responses: { '200': { description: 'received' } },
      },
    };
  return { ...v31(doc({})), webhooks };
}

const deprecatedUntil = (date: string): Json => ({ deprecated: true, 'x-sunset': date });
const future = '2999-01-01';
const past = '2020-01-01';

const discriminated = (mapping: Record<string, string>, branches: Json[], propertyName = 'kind'): Json => ({
  oneOf: branches,
  discriminator: { propertyName, mapping },
});
const cardMap = { card: '#/components/schemas/Card' };
const walletMap = { wallet: '#/components/schemas/Wallet' };

const named: Json = body({ name: str }, ['name']);
const tagged: Json = body({ tags: { type: 'array', items: str } }, ['tags']);
const kinded = (kind: string, field: string): Json =>
  body({ kind: { const: kind }, [field]: str }, ['kind', field]);

const event: Json = body({ id: str, type: str }, ['id', 'type']);
function subscribe(callbacks: Json): Json {
  return v31(
    doc({
      '/subscriptions': {
        post: {
          requestBody: {
            required: true,
            content: { 'application/json': { schema: body({ url: str }, ['url']) } },
          },
          responses: ok(body({ id: str }, ['id']), '201'),
          callbacks,
        },
      },
    }),
  );
}
const onEvent = (schema: Json, method = 'post'): Json => ({
  onEvent: {
    '{$request.body#/url}': {
      [method]: {
        requestBody: { content: { 'application/json': { schema } } },
        responses: { '200': { description: 'received' } },
      },
    },
  },
});

function linked(links: Json | undefined): Json {
  const created: Json = { description: 'created', content: { 'application/json': { schema: user } } };
  return v31(
    doc({
      '/users': {
        post: {
          requestBody: { required: true, content: { 'application/json': { schema: named } } },
          responses: { '201': links === undefined ? created : { ...created, links } },
        },
      },
    }),
  );
}
const getUserLink = (from = '$response.body#/id', extra: Json = {}): Json => ({
  GetUser: { operationId: 'getUser', parameters: { id: from }, ...extra },
});

const filterParam = (param: Json): Json => listUsers({ name: 'filter', in: 'query', ...param });
const asJson = (schema: Json, media = 'application/json'): Json => ({ content: { [media]: { schema } } });

export const parityCorpus: readonly CorpusCase[] = [
  // Request bodies.
  ...both(
    'request body removed',
    createUser(body({ name: str })),
    doc({ '/users': { post: { responses: ok(user, '201') } } }),
    ['request-body-removed'],
  ).map((c) => (c.expect.length === 0 ? { ...c, expect: ['request-body-added-required'] } : c)),
  ...both(
    'request media type gains a schema',
    v31(
      doc({ '/u': { post: { requestBody: { content: { 'application/json': {} } }, responses: ok(user) } } }),
    ),
    v31(
      doc({
        '/u': {
          post: { requestBody: { content: { 'application/json': { schema: card } } }, responses: ok(user) },
        },
      }),
    ),
    ['request-media-type-schema-added'],
  ),
  pair(
    'request media type keeps an empty schema',
    v31(doc({ '/u': { post: { requestBody: { content: { 'text/plain': {} } }, responses: ok(user) } } })),
    v31(
      doc({
        '/u': { post: { requestBody: { content: { 'text/plain': { schema: {} } } }, responses: ok(user) } },
      }),
    ),
    [],
    { negativeFor: ['request-media-type-schema-added'] },
  ),
  pair('request field removed', req(body({ a: str, b: str })), req(body({ a: str })), [], {
    info: ['request-property-removed'],
    negativeFor: ['request-property-refused', 'request-property-removed-before-sunset'],
  }),
  pair('request field added', req(body({ a: str })), req(body({ a: str, b: str })), [], {
    info: [],
    negativeFor: ['request-property-removed'],
  }),
  pair(
    'request field removed from an object that refuses unknown fields',
    req({ ...body({ a: str, b: str }), additionalProperties: false }),
    req({ ...body({ a: str }), additionalProperties: false }),
    ['request-property-refused'],
  ),
  pair(
    'request field removed from an object that refuses unevaluated fields',
    req({ ...body({ a: str, b: str }), unevaluatedProperties: false }),
    req({ ...body({ a: str }), unevaluatedProperties: false }),
    ['request-property-refused'],
  ),

  // Response content and headers.
  pair('response media type loses its schema', res(user), anyJsonAnswer, [
    'response-media-type-schema-removed',
  ]),
  pair('response media type gains a schema', anyJsonAnswer, res(user), [], {
    negativeFor: ['response-media-type-schema-removed'],
  }),
  ...both('required response header removed', withHeaders(etag({ required: true })), withHeaders({}), [
    'response-header-removed',
  ]),
  ...both('optional response header removed', withHeaders(etag()), withHeaders({}), [
    'response-optional-header-removed',
  ]),
  pair(
    'response header removed from an error answer',
    withHeaders(etag({ required: true }), '404'),
    withHeaders({}, '404'),
    [],
    {
      negativeFor: ['response-header-removed', 'response-optional-header-removed'],
    },
  ),
  ...both(
    'response header made optional',
    withHeaders(etag({ required: true })),
    withHeaders(etag({ required: false })),
    ['response-header-made-optional'],
  ),
  pair(
    'response header renamed only in case',
    withHeaders(etag({ required: true })),
    withHeaders({ etag: { schema: str, required: true } }),
    [],
    {
      negativeFor: ['response-header-removed', 'response-header-made-optional'],
    },
  ),
  ...both(
    'response header schema loosened',
    withHeaders({ 'X-Count': { schema: { type: 'integer', maximum: 100 } } }),
    withHeaders({ 'X-Count': { schema: { type: 'integer' } } }),
    ['response-constraint-loosened'],
  ),
  pair(
    'response header type changed',
    withHeaders({ 'X-Count': { schema: int } }),
    withHeaders({ 'X-Count': { schema: str } }),
    ['type-changed'],
  ),

  // Loosened responses, tightened requests.
  ...both(
    'response maxLength raised',
    resField({ type: 'string', maxLength: 8 }),
    resField({ type: 'string', maxLength: 64 }),
    ['response-constraint-loosened'],
  ),
  ...both('response maximum removed', resField({ type: 'integer', maximum: 10 }), resField(int), [
    'response-constraint-loosened',
  ]),
  ...both(
    'response minimum lowered',
    resField({ type: 'integer', minimum: 1 }),
    resField({ type: 'integer', minimum: 0 }),
    ['response-constraint-loosened'],
  ),
  ...both(
    'response exclusive minimum made inclusive',
    resField({ type: 'integer', exclusiveMinimum: 0 }),
    resField({ type: 'integer', minimum: 0 }),
    ['response-constraint-loosened'],
  ),
  ...both(
    'response minItems lowered',
    resField({ type: 'array', items: str, minItems: 1 }),
    resField({ type: 'array', items: str }),
    ['response-constraint-loosened'],
  ),
  ...both(
    'response uniqueItems removed',
    resField({ type: 'array', items: str, uniqueItems: true }),
    resField({ type: 'array', items: str }),
    ['response-constraint-loosened'],
  ),
  ...both(
    'response maxProperties raised',
    resField({ type: 'object', maxProperties: 3 }),
    resField({ type: 'object', maxProperties: 5 }),
    ['response-constraint-loosened'],
  ),
  ...both('response multipleOf removed', resField({ type: 'integer', multipleOf: 5 }), resField(int), [
    'response-constraint-loosened',
  ]),
  ...both('request multipleOf added', reqField(int), reqField({ type: 'integer', multipleOf: 5 }), [
    'request-constraint-tightened',
  ]),
  pair(
    'request multipleOf relaxed to a divisor',
    reqField({ type: 'integer', multipleOf: 4 }),
    reqField({ type: 'integer', multipleOf: 2 }),
    [],
    { negativeFor: ['request-constraint-tightened'] },
  ),
  pair(
    'request multipleOf changed to a non-divisor',
    reqField({ type: 'integer', multipleOf: 2 }),
    reqField({ type: 'integer', multipleOf: 3 }),
    ['request-constraint-tightened'],
  ),
  ...both(
    'request minItems raised',
    reqField({ type: 'array', items: str }),
    reqField({ type: 'array', items: str, minItems: 2 }),
    ['request-constraint-tightened'],
  ),
  ...both(
    'request uniqueItems added',
    reqField({ type: 'array', items: str }),
    reqField({ type: 'array', items: str, uniqueItems: true }),
    ['request-constraint-tightened'],
  ),
  ...both(
    'request maxProperties lowered',
    reqField({ type: 'object', maxProperties: 5 }),
    reqField({ type: 'object', maxProperties: 3 }),
    ['request-constraint-tightened'],
  ),
  ...both(
    'request exclusive maximum (3.1 number form) tightened',
    reqField({ type: 'number', maximum: 10 }),
    reqField({ type: 'number', exclusiveMaximum: 10 }),
    ['request-constraint-tightened'],
  ),
  pair(
    'request bound respelled from the 3.0 flag to the 3.1 number',
    reqField({ type: 'number', minimum: 0, exclusiveMinimum: true }),
    reqField({ type: 'number', exclusiveMinimum: 0 }),
    [],
    { negativeFor: ['request-constraint-tightened'] },
  ),

  // Patterns.
  pair(
    'request pattern changed',
    reqField({ type: 'string', pattern: '^[a-z]+$' }),
    reqField({ type: 'string', pattern: '^[a-z]{2}$' }),
    ['request-pattern-added'],
  ),
  pair(
    'request pattern that matches everything added',
    reqField(str),
    reqField({ type: 'string', pattern: '.*' }),
    [],
    {
      negativeFor: ['request-pattern-added'],
    },
  ),
  pair(
    'request anchored match-all pattern added',
    reqField(str),
    reqField({ type: 'string', pattern: '^.*$' }),
    [],
    {
      negativeFor: ['request-pattern-added'],
    },
  ),
  pair('request empty pattern added', reqField(str), reqField({ type: 'string', pattern: '' }), [], {
    negativeFor: ['request-pattern-added'],
  }),
  pair('request pattern removed', reqField({ type: 'string', pattern: '^[a-z]+$' }), reqField(str), [], {
    negativeFor: ['request-pattern-added'],
  }),
  ...both('response pattern removed', resField({ type: 'string', pattern: '^[A-Z]+$' }), resField(str), [
    'response-pattern-removed',
  ]),
  pair(
    'response pattern became one matching everything',
    resField({ type: 'string', pattern: '^[A-Z]+$' }),
    resField({ type: 'string', pattern: '[\\s\\S]*' }),
    ['response-pattern-removed'],
  ),
  pair(
    'response pattern changed',
    resField({ type: 'string', pattern: '^[A-Z]+$' }),
    resField({ type: 'string', pattern: '^[A-Z0-9]+$' }),
    ['response-pattern-changed'],
  ),
  pair(
    'response pattern kept, description changed',
    resField({ type: 'string', pattern: '^[A-Z]+$' }),
    resField({ type: 'string', pattern: '^[A-Z]+$', description: 'upper case' }),
    [],
    { negativeFor: ['response-pattern-changed', 'response-pattern-removed'] },
  ),

  // const, enums and their forms.
  ...both('request narrowed to a const', reqField(str), reqField({ type: 'string', const: 'a' }), [
    'request-enum-added',
  ]),
  pair('request const changed', reqField({ const: 'a' }), reqField({ const: 'b' }), [
    'request-enum-value-removed',
  ]),
  pair('request const widened to an enum', reqField({ const: 'a' }), reqField({ enum: ['a', 'b'] }), [], {
    negativeFor: ['request-enum-value-removed'],
  }),
  pair(
    'request x-extensible-enum list loses a value',
    reqField({ type: 'string', 'x-extensible-enum': ['a', 'b'] }),
    reqField({ type: 'string', 'x-extensible-enum': ['a'] }),
    ['request-enum-value-removed'],
  ),
  pair(
    'request enum respelled as x-extensible-enum',
    reqField({ type: 'string', enum: ['a', 'b'] }),
    reqField({ type: 'string', 'x-extensible-enum': ['a', 'b'] }),
    [],
    { negativeFor: ['request-enum-value-removed', 'request-enum-added'] },
  ),
  pair('response const changed', resField({ const: 'card' }), resField({ const: 'wallet' }), [
    'response-const-changed',
  ]),
  pair('response const lifted', resField({ type: 'string', const: 'card' }), resField(str), [
    'response-const-changed',
  ]),
  pair('response narrowed to a const', resField(str), resField({ type: 'string', const: 'card' }), [], {
    negativeFor: ['response-const-changed'],
  }),
  pair(
    'response const respelled as a one-value enum',
    resField({ const: 'card' }),
    resField({ enum: ['card'] }),
    [],
    {
      negativeFor: ['response-const-changed', 'response-enum-value-added'],
    },
  ),
  pair('response enum lifted', resField({ type: 'string', enum: ['on', 'off'] }), resField(str), [
    'response-enum-value-added',
  ]),
  pair(
    'response x-extensible-enum list grows',
    resField({ type: 'string', 'x-extensible-enum': ['on'] }),
    resField({ type: 'string', 'x-extensible-enum': ['on', 'off'] }),
    [],
    { negativeFor: ['response-enum-value-added'] },
  ),

  // null in all its spellings.
  pair(
    'request nullable respelled as a 3.1 type list',
    { ...createUser(body({ n: { type: 'string', nullable: true } })) },
    req(body({ n: { type: ['string', 'null'] } })),
    [],
    { negativeFor: ['request-nullable-removed', 'type-changed'] },
  ),
  pair(
    'request null branch removed',
    req(body({ n: { anyOf: [str, { type: 'null' }] } })),
    req(body({ n: str })),
    ['request-nullable-removed'],
    { info: [] },
  ),
  pair(
    'request type list loses null',
    req(body({ n: { type: ['integer', 'null'] } })),
    req(body({ n: int })),
    ['request-nullable-removed'],
  ),
  pair(
    'response gains a null branch',
    res(body({ n: str }, ['n'])),
    res(body({ n: { oneOf: [str, { type: 'null' }] } }, ['n'])),
    ['response-made-nullable'],
  ),
  pair(
    'response null respelled from a branch to a type list',
    res(body({ n: { oneOf: [str, { type: 'null' }] } }, ['n'])),
    res(body({ n: { type: ['string', 'null'] } }, ['n'])),
    [],
    { negativeFor: ['response-made-nullable', 'response-oneof-branch-added'] },
  ),

  // String content.
  pair(
    'string content encoding changed',
    resField({ type: 'string', contentEncoding: 'base64' }),
    resField({ type: 'string', contentEncoding: 'base64url' }),
    ['string-content-changed'],
  ),
  pair(
    'string content media type added to a request',
    reqField(str),
    reqField({ type: 'string', contentMediaType: 'image/png', contentEncoding: 'base64' }),
    ['string-content-changed'],
  ),
  pair(
    'string content media type kept',
    resField({ type: 'string', contentMediaType: 'application/json' }),
    resField({ type: 'string', contentMediaType: 'application/json', description: 'a JSON text' }),
    [],
    { negativeFor: ['string-content-changed'] },
  ),
  pair(
    'request contentSchema gains a required field',
    reqField({ type: 'string', contentMediaType: 'application/json', contentSchema: body({ a: str }) }),
    reqField({
      type: 'string',
      contentMediaType: 'application/json',
      contentSchema: body({ a: str }, ['a']),
    }),
    ['request-property-made-required'],
  ),

  // Composition: wrapping and unwrapping.
  pair('request wrapped in a oneOf that keeps it', req(card), req({ oneOf: [card, wallet] }), [], {
    info: ['schema-wrapped'],
  }),
  pair(
    'request wrapped in a oneOf without type whose branches all need more',
    req(body({ kind: str, number: str }, ['kind'])),
    req({ oneOf: [card, wallet] }),
    ['request-property-made-required'],
    { info: ['schema-wrapped'] },
  ),
  pair(
    'request wrapped in an anyOf of other types',
    req(body({ n: str })),
    req(body({ n: { anyOf: [int, { type: 'boolean' }] } })),
    ['type-changed'],
  ),
  pair(
    'request wrapped in an anyOf with a wider branch',
    req(body({ n: int })),
    req(body({ n: { anyOf: [{ type: 'number' }, str] } })),
    [],
    {
      negativeFor: ['type-changed'],
    },
  ),
  pair(
    'response wrapped with a new alternative',
    res(card),
    res({ oneOf: [card, wallet] }),
    ['response-oneof-branch-added'],
    {
      info: ['schema-wrapped'],
    },
  ),
  pair('response wrapped alone', res(card), res({ anyOf: [card] }), [], {
    info: ['schema-wrapped'],
    negativeFor: ['response-oneof-branch-added', 'schema-unwrapped'],
  }),
  pair(
    'response wrapped alone with a field made optional',
    res(card),
    res({ oneOf: [body({ kind: str, number: str }, ['kind'])] }),
    ['response-property-made-optional'],
  ),
  pair(
    'request unwrapped to one of its branches',
    req({ oneOf: [card, wallet] }),
    req(card),
    ['request-oneof-branch-removed'],
    {
      info: ['schema-unwrapped'],
    },
  ),
  pair(
    'request unwrapped to a schema that takes every branch',
    req({ oneOf: [card, wallet] }),
    req(body({ kind: str, number: str, wallet: str }, ['kind'])),
    [],
    { info: ['schema-unwrapped'], negativeFor: ['request-oneof-branch-removed', 'schema-wrapped'] },
  ),
  pair('response unwrapped to one of its branches', res({ oneOf: [card, wallet] }), res(card), [], {
    info: ['schema-unwrapped'],
  }),
  pair(
    'response unwrapped to a wider schema',
    res({ oneOf: [card] }),
    res(body({ kind: str, number: str }, ['kind'])),
    ['response-property-made-optional'],
  ),
  pair('allOf wrapping of one schema', req(card), req({ allOf: [card] }), [], { info: [] }),
  pair(
    'request allOf gains a member with a required field',
    req({ allOf: [card] }),
    req({ allOf: [card, body({ cvc: str }, ['cvc'])] }),
    ['request-property-added-required'],
  ),
  pair(
    'response allOf loses a member',
    res({ allOf: [card, body({ cvc: str }, ['cvc'])] }),
    res({ allOf: [card] }),
    ['response-required-property-removed'],
  ),

  // Composition: both sides.
  ...both(
    'request oneOf branch changed',
    req({ oneOf: [card, wallet] }),
    req({ oneOf: [card, body({ kind: str, wallet: str, pin: str }, ['kind', 'wallet', 'pin'])] }),
    ['request-property-added-required'],
  ),
  ...both(
    'response anyOf branch made nullable',
    res({ anyOf: [card, wallet] }),
    res({ anyOf: [card, { ...wallet, nullable: true }] }),
    ['response-made-nullable'],
  ),
  pair(
    'oneOf branches reordered in a request',
    req({ oneOf: [card, wallet] }),
    req({ oneOf: [wallet, card] }),
    [],
    {
      negativeFor: ['request-oneof-branch-removed'],
    },
  ),
  pair(
    'oneOf branches reordered in a response',
    res({ oneOf: [card, wallet] }),
    res({ oneOf: [wallet, card] }),
    [],
    {
      negativeFor: ['response-oneof-branch-added'],
    },
  ),
  pair('request oneOf gains a branch', req({ oneOf: [card] }), req({ oneOf: [card, wallet] }), [], {
    negativeFor: ['request-oneof-branch-removed'],
  }),
  pair('response oneOf loses a branch', res({ oneOf: [card, wallet] }), res({ oneOf: [card] }), [], {
    negativeFor: ['response-oneof-branch-added'],
  }),
  pair(
    'oneOf respelled as anyOf with the same branches',
    res({ oneOf: [card, wallet] }),
    res({ anyOf: [card, wallet] }),
    [],
  ),

  // Discriminators.
  pair(
    'discriminator property changed',
    res(discriminated({ ...cardMap, ...walletMap }, [card, wallet])),
    res(discriminated({ ...cardMap, ...walletMap }, [card, wallet], 'type')),
    ['discriminator-property-changed'],
  ),
  pair(
    'discriminator kept',
    res(discriminated({ ...cardMap, ...walletMap }, [card, wallet])),
    res(discriminated({ ...walletMap, ...cardMap }, [card, wallet])),
    [],
    {
      negativeFor: [
        'discriminator-property-changed',
        'discriminator-mapping-changed',
        'response-discriminator-mapping-added',
      ],
    },
  ),
  pair(
    'request discriminator value removed',
    req(discriminated({ ...cardMap, ...walletMap }, [card, wallet])),
    req(discriminated(cardMap, [card, wallet])),
    ['request-discriminator-mapping-removed'],
  ),
  pair(
    'response discriminator value removed',
    res(discriminated({ ...cardMap, ...walletMap }, [card, wallet])),
    res(discriminated(cardMap, [card, wallet])),
    [],
    { negativeFor: ['request-discriminator-mapping-removed'] },
  ),
  pair(
    'response discriminator value and branch added',
    res(discriminated(cardMap, [card])),
    res(discriminated({ ...cardMap, bank: '#/components/schemas/Bank' }, [card, bank])),
    ['response-discriminator-mapping-added', 'response-oneof-branch-added'],
  ),
  pair(
    'request discriminator value and branch added',
    req(discriminated(cardMap, [card])),
    req(discriminated({ ...cardMap, bank: '#/components/schemas/Bank' }, [card, bank])),
    [],
    { negativeFor: ['request-discriminator-mapping-removed'] },
  ),
  pair(
    'discriminator value points elsewhere',
    req(discriminated(cardMap, [card])),
    req(discriminated({ card: '#/components/schemas/CardV2' }, [card])),
    ['discriminator-mapping-changed'],
  ),

  // JSON Schema 2020-12 keywords (OpenAPI 3.1).
  pair(
    'request prefixItems position changes type',
    reqField({ type: 'array', prefixItems: [str, int] }),
    reqField({ type: 'array', prefixItems: [str, str] }),
    ['type-changed'],
  ),
  pair(
    'request prefixItems position widened',
    reqField({ type: 'array', prefixItems: [int] }),
    reqField({ type: 'array', prefixItems: [{ type: 'number' }] }),
    [],
  ),
  pair(
    'request prefixItems gains a typed position',
    reqField({ type: 'array', prefixItems: [str] }),
    reqField({ type: 'array', prefixItems: [str, int] }),
    ['type-changed'],
  ),
  pair(
    'response prefixItems position made nullable',
    resField({ type: 'array', prefixItems: [str] }),
    resField({ type: 'array', prefixItems: [{ type: ['string', 'null'] }] }),
    ['response-made-nullable'],
  ),
  ...both(
    'request contains added',
    reqField({ type: 'array' }),
    reqField({ type: 'array', contains: { const: 'primary' } }),
    ['request-contains-added'],
  ),
  ...both(
    'response contains removed',
    resField({ type: 'array', contains: { const: 'primary' } }),
    resField({ type: 'array' }),
    ['response-contains-removed'],
  ),
  ...both(
    'request minContains raised',
    reqField({ type: 'array', contains: int }),
    reqField({ type: 'array', contains: int, minContains: 2 }),
    ['request-constraint-tightened'],
  ),
  ...both(
    'request if/then added',
    req(body({ kind: str, vat: str })),
    req({
      ...body({ kind: str, vat: str }),
      if: body({ kind: { const: 'b2b' } }, ['kind']),
      then: { required: ['vat'] },
    }),
    ['request-conditional-added'],
  ),
  ...both(
    'response if/then removed',
    res({
      ...body({ kind: str, vat: str }),
      if: body({ kind: { const: 'b2b' } }, ['kind']),
      then: { required: ['vat'] },
    }),
    res(body({ kind: str, vat: str })),
    ['response-conditional-removed'],
  ),
  pair(
    'request if condition changed',
    req({ ...body({ kind: str }), if: body({ kind: { const: 'b2b' } }), then: { required: ['vat'] } }),
    req({ ...body({ kind: str }), if: body({ kind: { const: 'b2c' } }), then: { required: ['vat'] } }),
    ['request-conditional-added'],
  ),
  pair(
    'request then gains a required field',
    req({ ...body({ kind: str }), if: body({ kind: { const: 'b2b' } }), then: { required: ['vat'] } }),
    req({
      ...body({ kind: str }),
      if: body({ kind: { const: 'b2b' } }),
      then: { required: ['vat', 'duns'] },
    }),
    ['request-property-added-required'],
  ),
  ...both(
    'request dependentRequired added',
    req(body({ card: str, cvc: str })),
    req({ ...body({ card: str, cvc: str }), dependentRequired: { card: ['cvc'] } }),
    ['request-dependent-required-added'],
  ),
  ...both(
    'response dependentRequired shrank',
    res({ ...body({ card: str, cvc: str, exp: str }), dependentRequired: { card: ['cvc', 'exp'] } }),
    res({ ...body({ card: str, cvc: str, exp: str }), dependentRequired: { card: ['cvc'] } }),
    ['response-dependent-required-removed'],
  ),
  ...both(
    'request dependentSchemas added',
    req(body({ card: str, cvc: str })),
    req({ ...body({ card: str, cvc: str }), dependentSchemas: { card: { required: ['cvc'] } } }),
    ['request-dependent-schema-added'],
  ),
  ...both(
    'response dependentSchemas removed',
    res({ ...body({ card: str, cvc: str }), dependentSchemas: { card: { required: ['cvc'] } } }),
    res(body({ card: str, cvc: str })),
    ['response-dependent-schema-removed'],
  ),
  pair(
    'request dependent schema gains a required field',
    req({ ...body({ card: str }), dependentSchemas: { card: { required: ['cvc'] } } }),
    req({ ...body({ card: str }), dependentSchemas: { card: { required: ['cvc', 'exp'] } } }),
    ['request-property-added-required'],
  ),
  ...both(
    'request patternProperties added',
    req({ type: 'object' }),
    req({ type: 'object', patternProperties: { '^x-': str } }),
    ['request-pattern-properties-added'],
  ),
  ...both(
    'response patternProperties removed',
    res({ type: 'object', patternProperties: { '^x-': str } }),
    res({ type: 'object' }),
    ['response-pattern-properties-removed'],
  ),
  pair(
    'request patternProperties schema changes type',
    req({ type: 'object', patternProperties: { '^x-': str } }),
    req({ type: 'object', patternProperties: { '^x-': int } }),
    ['type-changed'],
  ),
  pair(
    'request propertyNames gains a pattern',
    req({ type: 'object' }),
    req({ type: 'object', propertyNames: { pattern: '^[a-z]+$' } }),
    ['request-pattern-added'],
  ),
  pair(
    'request propertyNames maxLength lowered',
    req({ type: 'object', propertyNames: { maxLength: 20 } }),
    req({ type: 'object', propertyNames: { maxLength: 10 } }),
    ['request-constraint-tightened'],
  ),
  pair(
    'response propertyNames dropped',
    res({ type: 'object', propertyNames: { pattern: '^[a-z]+$' } }),
    res({ type: 'object' }),
    ['response-pattern-removed'],
  ),
  pair(
    'request propertyNames dropped',
    req({ type: 'object', propertyNames: { pattern: '^[a-z]+$' } }),
    req({ type: 'object' }),
    [],
  ),
  ...both(
    'request unevaluatedProperties false added',
    req(body({ a: str })),
    req({ ...body({ a: str }), unevaluatedProperties: false }),
    ['request-unevaluated-restricted'],
  ),
  ...both(
    'request unevaluatedItems restricted',
    reqField({ type: 'array', prefixItems: [str] }),
    reqField({ type: 'array', prefixItems: [str], unevaluatedItems: false }),
    ['request-unevaluated-restricted'],
  ),
  pair(
    'response unevaluatedProperties false added',
    res(body({ a: str })),
    res({ ...body({ a: str }), unevaluatedProperties: false }),
    [],
    { negativeFor: ['request-unevaluated-restricted'] },
  ),
  ...both('request not added', reqField(str), reqField({ type: 'string', not: { const: 'root' } }), [
    'request-not-added',
  ]),
  ...both('response not removed', resField({ type: 'string', not: { const: '' } }), resField(str), [
    'response-not-removed',
  ]),
  pair(
    'request not changed',
    reqField({ type: 'string', not: { const: 'root' } }),
    reqField({ type: 'string', not: { enum: ['root', 'admin'] } }),
    ['request-not-added'],
  ),

  // Deprecation and sunset.
  pair(
    'deprecated parameter removed before its sunset',
    listUsers(q(int, deprecatedUntil(future))),
    listUsers(undefined),
    ['request-parameter-removed-before-sunset'],
    { info: [], negativeFor: ['request-parameter-removed'] },
  ),
  pair(
    'deprecated parameter removed after its sunset',
    listUsers(q(int, deprecatedUntil(past))),
    listUsers(undefined),
    [],
    {
      info: ['request-parameter-removed'],
      negativeFor: ['request-parameter-removed-before-sunset'],
    },
  ),
  pair(
    'deprecated request field removed before its sunset',
    req(body({ a: str, fax: { type: 'string', ...deprecatedUntil(future) } })),
    req(body({ a: str })),
    ['request-property-removed-before-sunset'],
  ),
  pair(
    'deprecated request field removed after its sunset',
    req(body({ a: str, fax: { type: 'string', ...deprecatedUntil(past) } })),
    req(body({ a: str })),
    [],
    { info: ['property-removed-after-sunset'], negativeFor: ['request-property-removed-before-sunset'] },
  ),
  pair(
    'deprecated optional response field removed before its sunset',
    res(body({ a: str, fax: { type: 'string', ...deprecatedUntil(future) } })),
    res(body({ a: str })),
    ['response-property-removed-before-sunset'],
  ),
  pair(
    'deprecated required response field removed after its sunset',
    res(body({ a: str, fax: { type: 'string', ...deprecatedUntil(past) } }, ['a', 'fax'])),
    res(body({ a: str }, ['a'])),
    [],
    {
      info: ['property-removed-after-sunset'],
      negativeFor: ['response-property-removed-before-sunset', 'response-required-property-removed'],
    },
  ),
  pair(
    'deprecated response field without a sunset removed',
    res(body({ a: str, fax: { type: 'string', deprecated: true } })),
    res(body({ a: str })),
    ['response-optional-property-removed'],
    { info: [], negativeFor: ['property-removed-after-sunset'] },
  ),
  pair('parameter marked deprecated', listUsers(q(int)), listUsers(q(int, deprecatedUntil(future))), [], {
    info: ['deprecated-added'],
  }),
  pair(
    'field marked deprecated',
    req(body({ fax: str })),
    req(body({ fax: { type: 'string', deprecated: true } })),
    [],
    {
      info: ['deprecated-added'],
    },
  ),
  pair('operation marked deprecated', getUser(), getUser(user, [], { deprecated: true }), [], {
    info: ['deprecated-added'],
  }),
  pair('deprecation lifted', getUser(user, [], { deprecated: true }), getUser(), [], {
    info: [],
    negativeFor: ['deprecated-added'],
  }),

  // Webhooks.
  pair('webhook removed', hooks({ userCreated: user, userDeleted: user }), hooks({ userCreated: user }), [
    'webhook-removed',
  ]),
  pair('webhook added', hooks({ userCreated: user }), hooks({ userCreated: user, userDeleted: user }), [], {
    info: ['webhook-added'],
    negativeFor: ['webhook-removed'],
  }),
  pair('webhooks unchanged', hooks({ userCreated: user }), hooks({ userCreated: user }), [], {
    info: [],
    negativeFor: ['webhook-added'],
  }),
  ...both(
    'webhook payload field made optional',
    hooks({ userCreated: user }),
    hooks({ userCreated: { ...user, required: ['id'] } }),
    ['response-property-made-optional'],
  ),
  pair(
    'webhook payload gains an optional field',
    hooks({ userCreated: user }),
    hooks({ userCreated: body({ ...(user.properties as Json), email: str }, ['id', 'name']) }),
    [],
  ),
  pair(
    'webhook payload required field removed',
    hooks({ userCreated: user }),
    hooks({ userCreated: body({ id: str, nick: str }, ['id']) }),
    ['response-required-property-removed'],
  ),

  // No false alarms.
  pair(
    'response required entry without a schema dropped',
    res({ ...body({ id: str }), required: ['id', 'legacy'] }),
    res(body({ id: str }, ['id'])),
    [],
    { negativeFor: ['response-required-property-removed', 'response-property-made-optional'] },
  ),
  pair(
    'header parameter renamed only in case',
    listUsers({ name: 'X-Tenant', in: 'header', required: true, schema: str }),
    listUsers({ name: 'x-tenant', in: 'header', required: true, schema: str }),
    [],
    {
      info: [],
      negativeFor: ['request-parameter-added-required'],
    },
  ),
  pair('response integer narrowed from number', resField({ type: 'number' }), resField(int), [], {
    negativeFor: ['type-changed'],
  }),
  pair(
    'enum values reordered',
    reqField({ enum: ['a', 'b', 'c'] }),
    reqField({ enum: ['c', 'a', 'b'] }),
    [],
    {
      negativeFor: ['request-enum-value-removed'],
    },
  ),
  // Exclusivity of compositions: anyOf accepts a value matching several branches, oneOf refuses it.
  pair('request anyOf made exclusive', req({ anyOf: [named, tagged] }), req({ oneOf: [named, tagged] }), [
    'request-composition-made-exclusive',
  ]),
  pair(
    'request anyOf made exclusive over branches of distinct types',
    reqField({ anyOf: [str, int] }),
    reqField({ oneOf: [str, int] }),
    [],
    { negativeFor: ['request-composition-made-exclusive'] },
  ),
  pair(
    'request anyOf made exclusive over branches told apart by a const kind',
    req({ anyOf: [kinded('card', 'number'), kinded('wallet', 'wallet')] }),
    req({ oneOf: [kinded('card', 'number'), kinded('wallet', 'wallet')] }),
    [],
    { negativeFor: ['request-composition-made-exclusive'] },
  ),
  pair(
    'request oneOf loosened to anyOf',
    req({ oneOf: [named, tagged] }),
    req({ anyOf: [named, tagged] }),
    [],
    {
      negativeFor: ['request-composition-made-exclusive'],
    },
  ),
  pair(
    'response oneOf loosened to anyOf',
    res({ oneOf: [named, tagged] }),
    res({ anyOf: [named, tagged] }),
    [],
    {
      info: ['response-composition-made-inclusive'],
    },
  ),
  pair(
    'response anyOf made exclusive',
    res({ anyOf: [named, tagged] }),
    res({ oneOf: [named, tagged] }),
    [],
    {
      info: [],
      negativeFor: ['response-composition-made-inclusive', 'request-composition-made-exclusive'],
    },
  ),

  // A discriminator added or removed whole.
  pair(
    'request discriminator added',
    req({ oneOf: [card, wallet] }),
    req(discriminated({ ...cardMap, ...walletMap }, [card, wallet])),
    ['request-discriminator-added'],
  ),
  pair(
    'response discriminator added',
    res({ oneOf: [card, wallet] }),
    res(discriminated({ ...cardMap, ...walletMap }, [card, wallet])),
    [],
    { negativeFor: ['request-discriminator-added'] },
  ),
  pair(
    'response discriminator removed',
    res(discriminated({ ...cardMap, ...walletMap }, [card, wallet])),
    res({ oneOf: [card, wallet] }),
    ['response-discriminator-removed'],
  ),
  pair(
    'request discriminator removed',
    req(discriminated({ ...cardMap, ...walletMap }, [card, wallet])),
    req({ oneOf: [card, wallet] }),
    [],
    { negativeFor: ['response-discriminator-removed'] },
  ),

  // Callbacks: requests the server makes, compared like webhooks.
  pair('callback removed', subscribe(onEvent(event)), subscribe({}), ['callback-removed']),
  pair('callback added', subscribe({}), subscribe(onEvent(event)), [], {
    info: ['callback-added'],
    negativeFor: ['callback-removed'],
  }),
  pair(
    'callback made with another method',
    subscribe(onEvent(event)),
    subscribe(onEvent(event, 'put')),
    ['callback-removed'],
    {
      info: ['callback-added'],
    },
  ),
  pair(
    'callback payload field made optional',
    subscribe(onEvent(event)),
    subscribe(onEvent(body({ id: str, type: str }, ['id']))),
    ['response-property-made-optional'],
  ),
  pair(
    'callback payload gains an optional field',
    subscribe(onEvent(event)),
    subscribe(onEvent(body({ id: str, type: str, at: str }, ['id', 'type']))),
    [],
    { negativeFor: ['callback-removed', 'callback-added', 'response-property-made-optional'] },
  ),

  // Links.
  pair('response link removed', linked(getUserLink()), linked(undefined), ['response-link-removed']),
  pair('response link added', linked(undefined), linked(getUserLink()), [], {
    negativeFor: ['response-link-removed', 'response-link-changed'],
  }),
  pair('response link fed another value', linked(getUserLink()), linked(getUserLink('$response.body#/uid')), [
    'response-link-changed',
  ]),
  pair(
    'response link described otherwise',
    linked(getUserLink('$response.body#/id', { description: 'the user' })),
    linked(getUserLink('$response.body#/id', { description: 'the new user' })),
    [],
    { negativeFor: ['response-link-changed', 'response-link-removed'] },
  ),

  // Parameters given by content instead of schema.
  pair(
    'query parameter moved from schema to content',
    filterParam({ schema: body({ role: str }), style: 'deepObject' }),
    filterParam(asJson(body({ role: str }))),
    ['request-parameter-content-changed'],
  ),
  pair(
    'query parameter content media type changed',
    filterParam(asJson(body({ role: str }))),
    filterParam(asJson(body({ role: str }), 'application/x-www-form-urlencoded')),
    ['request-parameter-content-changed'],
  ),
  pair(
    'query parameter content schema widened',
    filterParam(asJson(body({ role: { type: 'string', enum: ['admin'] } }))),
    filterParam(asJson(body({ role: str }))),
    [],
    { negativeFor: ['request-parameter-content-changed', 'request-parameter-style-changed'] },
  ),
  pair(
    'query parameter content schema tightened',
    filterParam(asJson(body({ role: str }))),
    filterParam(asJson(body({ role: { type: 'string', maxLength: 8 } }))),
    ['request-constraint-tightened'],
    { negativeFor: ['request-parameter-content-changed'] },
  ),
];
