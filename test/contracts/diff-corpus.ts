/**
 * Contract pairs for the breaking-change check. Each case names the rules that must fire (breaking and warning
 * severities; informational changes are not listed); an empty list means "nothing to report". Most rules
 * appear twice: the change, and the same change undone, which must not break.
 */
export interface CorpusCase {
  readonly name: string;
  readonly before: Record<string, unknown>;
  readonly after: Record<string, unknown>;
  readonly expect: readonly string[];
  /** When given, exactly the informational rules that must fire as well. */
  readonly info?: readonly string[];
  /** Rules this case shows do not fire on a look-alike change (the negative half of a rule's pair). */
  readonly negativeFor?: readonly string[];
}

export type Json = Record<string, unknown>;

const info = { title: 'users', version: '1.0.0' };

export function doc(paths: Json, extra: Json = {}): Json {
  return { openapi: '3.0.3', info, paths, ...extra };
}

export function jsonBody(schema: Json, required = true): Json {
  return { required, content: { 'application/json': { schema } } };
}

export function ok(schema: Json, status = '200'): Json {
  return { [status]: { description: 'ok', content: { 'application/json': { schema } } } };
}

export const user: Json = {
  type: 'object',
  required: ['id', 'name'],
  properties: { id: { type: 'string' }, name: { type: 'string' }, nick: { type: 'string' } },
};

export function getUser(response: Json = user, params: Json[] = [], extra: Json = {}): Json {
  return doc({
    '/users/{id}': {
      get: {
        parameters: [{ name: 'id', in: 'path', required: true, schema: { type: 'string' } }, ...params],
        responses: ok(response),
        ...extra,
      },
    },
  });
}

export function createUser(body: Json, extra: Json = {}): Json {
  return doc({ '/users': { post: { requestBody: jsonBody(body), responses: ok(user, '201'), ...extra } } });
}

export function listUsers(param: Json | undefined): Json {
  return doc({
    '/users': {
      get: { parameters: param === undefined ? [] : [param], responses: ok({ type: 'array', items: user }) },
    },
  });
}

export const q = (schema: Json, extra: Json = {}): Json => ({ name: 'limit', in: 'query', schema, ...extra });
export const body = (props: Json, required: string[] = []): Json => ({
  type: 'object',
  required,
  properties: props,
});
export const pair = (
  name: string,
  before: Json,
  after: Json,
  expect: string[],
  extra: Pick<CorpusCase, 'info' | 'negativeFor'> = {},
): CorpusCase => ({ name, before, after, expect, ...extra });
/** The change, and the same change undone, which must not fire the rules. */
export const both = (name: string, a: Json, b: Json, rules: string[]): CorpusCase[] => [
  pair(name, a, b, rules),
  pair(`${name} (reverse)`, b, a, [], { negativeFor: rules }),
];

export const corpus: readonly CorpusCase[] = [
  pair('identical documents', getUser(), getUser(), [], { info: [], negativeFor: ['operation-added'] }),
  pair(
    'description and example changes only',
    getUser(),
    getUser({ ...user, description: 'A person', example: { id: '1' } }),
    [],
  ),
  pair(
    'removed operation',
    doc({ '/a': { get: { responses: ok(user) } }, '/b': { get: { responses: ok(user) } } }),
    doc({ '/a': { get: { responses: ok(user) } } }),
    ['operation-removed'],
  ),
  pair(
    'added operation',
    doc({ '/a': { get: { responses: ok(user) } } }),
    doc({ '/a': { get: { responses: ok(user) } }, '/b': { get: { responses: ok(user) } } }),
    [],
    { info: ['operation-added'], negativeFor: ['operation-removed'] },
  ),
  pair(
    'removed deprecated operation past its sunset',
    doc({
      '/a': { get: { responses: ok(user) } },
      '/old': { get: { deprecated: true, 'x-sunset': '2020-01-01', responses: ok(user) } },
    }),
    doc({ '/a': { get: { responses: ok(user) } } }),
    [],
    { info: ['operation-removed-after-sunset'], negativeFor: ['operation-removed'] },
  ),
  pair(
    'removed deprecated operation before its sunset',
    doc({
      '/a': { get: { responses: ok(user) } },
      '/old': { get: { deprecated: true, 'x-sunset': '2999-01-01', responses: ok(user) } },
    }),
    doc({ '/a': { get: { responses: ok(user) } } }),
    ['operation-removed'],
    { info: [], negativeFor: ['operation-removed-after-sunset'] },
  ),
  pair(
    'renamed path parameter',
    getUser(),
    doc({
      '/users/{userId}': {
        get: {
          parameters: [{ name: 'userId', in: 'path', required: true, schema: { type: 'string' } }],
          responses: ok(user),
        },
      },
    }),
    [],
  ),
  ...both(
    'new required query parameter',
    listUsers(undefined),
    listUsers(q({ type: 'integer' }, { required: true })),
    ['request-parameter-added-required'],
  ),
  pair('new optional query parameter', listUsers(undefined), listUsers(q({ type: 'integer' })), [], {
    info: ['request-parameter-added-optional'],
  }),
  pair('query parameter removed', listUsers(q({ type: 'integer' })), listUsers(undefined), [], {
    info: ['request-parameter-removed'],
    negativeFor: ['request-parameter-added-optional', 'request-parameter-removed-before-sunset'],
  }),
  ...both(
    'new required header',
    listUsers(undefined),
    listUsers({ name: 'X-Tenant', in: 'header', required: true, schema: { type: 'string' } }),
    ['request-parameter-added-required'],
  ),
  ...both(
    'optional parameter made required',
    listUsers(q({ type: 'integer' })),
    listUsers(q({ type: 'integer' }, { required: true })),
    ['request-parameter-made-required'],
  ),
  ...both(
    'parameter enum value removed',
    listUsers(q({ type: 'string', enum: ['a', 'b'] })),
    listUsers(q({ type: 'string', enum: ['a'] })),
    ['request-enum-value-removed'],
  ),
  ...both(
    'free parameter narrowed to an enum',
    listUsers(q({ type: 'string' })),
    listUsers(q({ type: 'string', enum: ['a'] })),
    ['request-enum-added'],
  ),
  ...both(
    'parameter maximum lowered',
    listUsers(q({ type: 'integer', maximum: 100 })),
    listUsers(q({ type: 'integer', maximum: 50 })),
    ['request-constraint-tightened'],
  ),
  ...both(
    'parameter minimum added',
    listUsers(q({ type: 'integer' })),
    listUsers(q({ type: 'integer', minimum: 1 })),
    ['request-constraint-tightened'],
  ),
  ...both(
    'parameter maxLength lowered',
    listUsers(q({ type: 'string', maxLength: 20 })),
    listUsers(q({ type: 'string', maxLength: 10 })),
    ['request-constraint-tightened'],
  ),
  ...both(
    'parameter pattern added',
    listUsers(q({ type: 'string' })),
    listUsers(q({ type: 'string', pattern: '^[a-z]+$' })),
    ['request-pattern-added'],
  ),
  pair(
    'parameter style changed',
    listUsers(q({ type: 'array', items: { type: 'string' } })),
    listUsers(q({ type: 'array', items: { type: 'string' } }, { style: 'pipeDelimited', explode: false })),
    ['request-parameter-style-changed'],
  ),
  pair(
    'parameter style spelled out as its default',
    listUsers(q({ type: 'string' })),
    listUsers(q({ type: 'string' }, { style: 'form', explode: true })),
    [],
    { negativeFor: ['request-parameter-style-changed'] },
  ),
  pair(
    'optional parameter default changed',
    listUsers(q({ type: 'integer', default: 20 })),
    listUsers(q({ type: 'integer', default: 50 })),
    ['request-parameter-default-changed'],
  ),
  pair(
    'default of a required parameter changed',
    listUsers(q({ type: 'integer', default: 20 }, { required: true })),
    listUsers(q({ type: 'integer', default: 50 }, { required: true })),
    [],
    { negativeFor: ['request-parameter-default-changed'] },
  ),
  pair('parameter type changed', listUsers(q({ type: 'string' })), listUsers(q({ type: 'integer' })), [
    'type-changed',
  ]),
  pair(
    'parameter integer widened to number',
    listUsers(q({ type: 'integer' })),
    listUsers(q({ type: 'number' })),
    [],
    { negativeFor: ['type-changed'] },
  ),
  ...both(
    'new required body field',
    createUser(body({ name: { type: 'string' } }, ['name'])),
    createUser(body({ name: { type: 'string' }, email: { type: 'string' } }, ['name', 'email'])),
    ['request-property-added-required'],
  ),
  pair(
    'new optional body field',
    createUser(body({ name: { type: 'string' } })),
    createUser(body({ name: { type: 'string' }, email: { type: 'string' } })),
    [],
  ),
  ...both(
    'optional body field made required',
    createUser(body({ name: { type: 'string' } })),
    createUser(body({ name: { type: 'string' } }, ['name'])),
    ['request-property-made-required'],
  ),
  ...both(
    'body field nullable removed',
    createUser(body({ nick: { type: 'string', nullable: true } })),
    createUser(body({ nick: { type: 'string' } })),
    ['request-nullable-removed'],
  ),
  ...both(
    'body enum value removed',
    createUser(body({ role: { type: 'string', enum: ['admin', 'user'] } })),
    createUser(body({ role: { type: 'string', enum: ['user'] } })),
    ['request-enum-value-removed'],
  ),
  ...both(
    'body no longer accepts unknown fields',
    createUser(body({ name: { type: 'string' } })),
    createUser({ ...body({ name: { type: 'string' } }), additionalProperties: false }),
    ['request-additional-properties-removed'],
  ),
  ...both(
    'request oneOf alternative removed',
    createUser({ oneOf: [body({ a: { type: 'string' } }), body({ b: { type: 'string' } })] }),
    createUser({ oneOf: [body({ a: { type: 'string' } })] }),
    ['request-oneof-branch-removed'],
  ),
  pair(
    'body field type changed',
    createUser(body({ age: { type: 'string' } })),
    createUser(body({ age: { type: 'integer' } })),
    ['type-changed'],
  ),
  pair(
    'request body added as required',
    doc({ '/users': { post: { responses: ok(user, '201') } } }),
    createUser(body({})),
    ['request-body-added-required'],
  ),
  pair(
    'optional request body added',
    doc({ '/users': { post: { responses: ok(user, '201') } } }),
    doc({ '/users': { post: { requestBody: jsonBody(body({}), false), responses: ok(user, '201') } } }),
    [],
    { negativeFor: ['request-body-added-required', 'request-body-removed'] },
  ),
  pair(
    'request body made required',
    doc({ '/users': { post: { requestBody: jsonBody(body({}), false), responses: ok(user, '201') } } }),
    createUser(body({})),
    ['request-body-made-required'],
  ),
  pair(
    'request body made optional',
    createUser(body({})),
    doc({ '/users': { post: { requestBody: jsonBody(body({}), false), responses: ok(user, '201') } } }),
    [],
    { negativeFor: ['request-body-made-required'] },
  ),
  pair(
    'request media type removed',
    doc({
      '/users': {
        post: {
          requestBody: {
            content: { 'application/json': { schema: body({}) }, 'application/xml': { schema: body({}) } },
          },
          responses: ok(user, '201'),
        },
      },
    }),
    doc({
      '/users': {
        post: {
          requestBody: { content: { 'application/json': { schema: body({}) } } },
          responses: ok(user, '201'),
        },
      },
    }),
    ['request-media-type-removed'],
  ),
  pair(
    'request media type added',
    createUser(body({})),
    doc({
      '/users': {
        post: {
          requestBody: {
            required: true,
            content: { 'application/json': { schema: body({}) }, 'application/xml': { schema: body({}) } },
          },
          responses: ok(user, '201'),
        },
      },
    }),
    [],
    { negativeFor: ['request-media-type-removed'] },
  ),
  pair(
    'required response field removed',
    getUser(),
    getUser({ ...user, required: ['id'], properties: { id: { type: 'string' }, nick: { type: 'string' } } }),
    ['response-required-property-removed'],
  ),
  pair(
    'required response field added',
    getUser(),
    getUser({
      ...user,
      required: ['id', 'name', 'email'],
      properties: { ...(user.properties as Json), email: { type: 'string' } },
    }),
    [],
    { negativeFor: ['response-required-property-removed', 'response-optional-property-removed'] },
  ),
  ...both('response field made optional', getUser(), getUser({ ...user, required: ['id'] }), [
    'response-property-made-optional',
  ]),
  pair(
    'optional response field removed is a warning',
    getUser(),
    getUser({ ...user, properties: { id: { type: 'string' }, name: { type: 'string' } } }),
    ['response-optional-property-removed'],
  ),
  ...both(
    'response field made nullable',
    getUser(),
    getUser({
      ...user,
      properties: { ...(user.properties as Json), name: { type: 'string', nullable: true } },
    }),
    ['response-made-nullable'],
  ),
  ...both(
    'response oneOf alternative added',
    getUser({ oneOf: [user] }),
    getUser({ oneOf: [user, body({ error: { type: 'string' } })] }),
    ['response-oneof-branch-added'],
  ),
  ...both(
    'response enum grows (warning)',
    getUser(body({ state: { type: 'string', enum: ['on'] } })),
    getUser(body({ state: { type: 'string', enum: ['on', 'off'] } })),
    ['response-enum-value-added'],
  ),
  pair(
    'response enum grows with x-extensible-enum',
    getUser(body({ state: { type: 'string', enum: ['on'], 'x-extensible-enum': true } })),
    getUser(body({ state: { type: 'string', enum: ['on', 'off'], 'x-extensible-enum': true } })),
    [],
    { negativeFor: ['response-enum-value-added'] },
  ),
  pair(
    'response field type changed',
    getUser(),
    getUser({ ...user, properties: { ...(user.properties as Json), id: { type: 'integer' } } }),
    ['type-changed'],
  ),
  pair(
    'success status removed',
    doc({ '/a': { get: { responses: { ...ok(user), '404': { description: 'no' } } } } }),
    doc({ '/a': { get: { responses: { '404': { description: 'no' } } } } }),
    ['response-status-removed'],
  ),
  pair(
    'new error status',
    doc({ '/a': { get: { responses: ok(user) } } }),
    doc({ '/a': { get: { responses: { ...ok(user), '429': { description: 'slow down' } } } } }),
    [],
  ),
  pair(
    'error status removed',
    doc({ '/a': { get: { responses: { ...ok(user), '429': { description: 'slow down' } } } } }),
    doc({ '/a': { get: { responses: ok(user) } } }),
    [],
    { negativeFor: ['response-status-removed'] },
  ),
  pair(
    'success response media type removed',
    doc({
      '/a': {
        get: {
          responses: {
            '200': {
              description: 'ok',
              content: { 'application/json': { schema: user }, 'text/csv': { schema: { type: 'string' } } },
            },
          },
        },
      },
    }),
    doc({ '/a': { get: { responses: ok(user) } } }),
    ['response-media-type-removed'],
  ),
  pair(
    'error response media type removed',
    doc({
      '/a': {
        get: {
          responses: {
            ...ok(user),
            '404': { description: 'no', content: { 'text/plain': { schema: { type: 'string' } } } },
          },
        },
      },
    }),
    doc({ '/a': { get: { responses: { ...ok(user), '404': { description: 'no' } } } } }),
    [],
    { negativeFor: ['response-media-type-removed'] },
  ),
  ...both('security requirement added', getUser(), getUser(user, [], { security: [{ bearer: [] }] }), [
    'security-requirement-added',
  ]),
  ...both(
    'scope added',
    getUser(user, [], { security: [{ oauth: ['read'] }] }),
    getUser(user, [], { security: [{ oauth: ['read', 'admin'] }] }),
    ['security-scope-added'],
  ),
  pair(
    'alternative authentication added',
    getUser(user, [], { security: [{ bearer: [] }] }),
    getUser(user, [], { security: [{ bearer: [] }, { apiKey: [] }] }),
    [],
  ),
  pair(
    'refactor through $ref is not a change',
    getUser(),
    {
      ...doc({
        '/users/{id}': {
          get: {
            parameters: [{ $ref: '#/components/parameters/Id' }],
            responses: ok({ $ref: '#/components/schemas/User' }),
          },
        },
      }),
      components: {
        schemas: { User: user },
        parameters: { Id: { name: 'id', in: 'path', required: true, schema: { type: 'string' } } },
      },
    },
    [],
  ),
  pair(
    'fields moved into allOf are not a change',
    getUser(),
    getUser({
      allOf: [
        { type: 'object', required: ['id'], properties: { id: { type: 'string' } } },
        {
          type: 'object',
          required: ['name'],
          properties: { name: { type: 'string' }, nick: { type: 'string' } },
        },
      ],
    }),
    [],
  ),
  pair(
    'recursive schemas compare without looping',
    {
      ...doc({ '/t': { get: { responses: ok({ $ref: '#/components/schemas/Node' }) } } }),
      components: {
        schemas: {
          Node: {
            type: 'object',
            required: ['kids'],
            properties: { kids: { type: 'array', items: { $ref: '#/components/schemas/Node' } } },
          },
        },
      },
    },
    {
      ...doc({ '/t': { get: { responses: ok({ $ref: '#/components/schemas/Node' }) } } }),
      components: {
        schemas: {
          Node: {
            type: 'object',
            properties: { kids: { type: 'array', items: { $ref: '#/components/schemas/Node' } } },
          },
        },
      },
    },
    ['response-property-made-optional'],
  ),
  pair(
    'OpenAPI 3.1 type list gains null in a response',
    { ...getUser(body({ n: { type: 'string' } })), openapi: '3.1.0' },
    { ...getUser(body({ n: { type: ['string', 'null'] } })), openapi: '3.1.0' },
    ['response-made-nullable'],
  ),
];
