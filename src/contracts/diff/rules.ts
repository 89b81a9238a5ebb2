/** How much a contract change matters to existing clients. */
export type Severity = 'breaking' | 'warning' | 'info';

/** One rule of the check: its default severity, what it means, and a short example for the docs. */
export interface DiffRule {
  readonly severity: Severity;
  /** One line: what changed, from the client's side. */
  readonly description: string;
  /** Old → new, as a reader would write it. */
  readonly example: string;
  /** The family the docs group it under. */
  readonly family: RuleFamily;
}

export type RuleFamily =
  | 'operations'
  | 'parameters'
  | 'request bodies'
  | 'responses'
  | 'values'
  | 'composition'
  | 'JSON Schema 2020-12'
  | 'deprecation'
  | 'webhooks'
  | 'callbacks'
  | 'security';

/**
 * Every rule of the breaking-change check, in the order the docs list them. The principle (PRODUCT.md): in
 * requests, narrowing what the server accepts breaks clients; in responses, widening what it may send breaks them.
 * docs/contracts.md is generated from this table (scripts/generate-config-docs.ts).
 */
export const diffRules = {
  'operation-removed': {
    family: 'operations',
    severity: 'breaking',
    description: 'A path or operation was removed (also a deprecated one before its `x-sunset` date).',
    example: '`DELETE /users/{id}` is gone',
  },
  'operation-removed-after-sunset': {
    family: 'operations',
    severity: 'info',
    description: 'A deprecated operation was removed after its sunset date.',
    example: '`GET /old` had `deprecated: true, x-sunset: 2020-01-01` and is gone',
  },
  'operation-added': {
    family: 'operations',
    severity: 'info',
    description: 'A path or operation was added.',
    example: '`GET /users/{id}/avatar` is new',
  },
  'request-parameter-added-required': {
    family: 'parameters',
    severity: 'breaking',
    description: 'A new required parameter or header.',
    example: 'new `X-Tenant` header with `required: true`',
  },
  'request-parameter-added-optional': {
    family: 'parameters',
    severity: 'info',
    description: 'A new optional parameter.',
    example: 'new `?sort=` query parameter',
  },
  'request-parameter-made-required': {
    family: 'parameters',
    severity: 'breaking',
    description: 'An optional parameter became required.',
    example: '`?limit` gains `required: true`',
  },
  'request-parameter-removed': {
    family: 'parameters',
    severity: 'info',
    description: 'A parameter is no longer read by the server.',
    example: '`?legacy` is gone',
  },
  'request-parameter-style-changed': {
    family: 'parameters',
    severity: 'breaking',
    description: 'The style or explode of a parameter changed, so clients serialise it differently.',
    example: '`?ids` from `form`/explode to `pipeDelimited`',
  },
  'request-parameter-default-changed': {
    family: 'parameters',
    severity: 'breaking',
    description: 'The default of an optional parameter changed, so clients that omit it get other behaviour.',
    example: '`?limit` default `20` → `50`',
  },
  'request-parameter-content-changed': {
    family: 'parameters',
    severity: 'breaking',
    description:
      'A parameter moved between `schema` and `content`, or its `content` media type changed, so clients ' +
      'encode it differently (its schema is compared either way).',
    example: '`?filter` `schema: object` → `content: { application/json: … }`',
  },
  'request-body-added-required': {
    family: 'request bodies',
    severity: 'breaking',
    description: 'A required request body was added.',
    example: '`POST /users` had no body, now needs one',
  },
  'request-body-made-required': {
    family: 'request bodies',
    severity: 'breaking',
    description: 'An optional request body became required.',
    example: '`requestBody.required: false` → `true`',
  },
  'request-body-removed': {
    family: 'request bodies',
    severity: 'breaking',
    description: 'The operation no longer takes the request body clients send.',
    example: '`POST /users/{id}/reset` drops its `requestBody`',
  },
  'request-media-type-removed': {
    family: 'request bodies',
    severity: 'breaking',
    description: 'A request media type is no longer accepted.',
    example: '`application/xml` body no longer accepted',
  },
  'request-media-type-schema-added': {
    family: 'request bodies',
    severity: 'breaking',
    description: 'A request media type that took anything now has a schema.',
    example: '`application/json: {}` → `application/json: { schema: User }`',
  },
  'request-property-added-required': {
    family: 'request bodies',
    severity: 'breaking',
    description: 'A new required field in a request body.',
    example: 'body gains required `email`',
  },
  'request-property-made-required': {
    family: 'request bodies',
    severity: 'breaking',
    description: 'An optional request field became required.',
    example: '`nick` added to `required`',
  },
  'request-property-removed': {
    family: 'request bodies',
    severity: 'info',
    description: 'A request field is no longer described (the server ignores it).',
    example: 'body property `legacyId` is gone',
  },
  'request-property-refused': {
    family: 'request bodies',
    severity: 'breaking',
    description:
      'A request field was removed from an object that refuses unknown fields, so sending it fails.',
    example: '`legacyId` gone from a body with `additionalProperties: false`',
  },
  'request-additional-properties-removed': {
    family: 'request bodies',
    severity: 'breaking',
    description: 'A request object no longer accepts unknown fields.',
    example: '`additionalProperties: false` added to a request object',
  },
  'response-status-removed': {
    family: 'responses',
    severity: 'breaking',
    description: 'A success status is no longer sent.',
    example: '`201` replaced by nothing',
  },
  'response-media-type-removed': {
    family: 'responses',
    severity: 'breaking',
    description: 'A success response media type is no longer sent.',
    example: '`text/csv` answer gone',
  },
  'response-media-type-schema-removed': {
    family: 'responses',
    severity: 'breaking',
    description: 'A success response media type lost its schema, so it may now carry anything.',
    example: '`application/json: { schema: User }` → `application/json: {}`',
  },
  'response-required-property-removed': {
    family: 'responses',
    severity: 'breaking',
    description: 'A required response field was removed.',
    example: 'response `name` (required) is gone',
  },
  'response-property-made-optional': {
    family: 'responses',
    severity: 'breaking',
    description: 'A required response field became optional.',
    example: '`name` removed from the response `required` list',
  },
  'response-optional-property-removed': {
    family: 'responses',
    severity: 'warning',
    description: 'An optional response field was removed.',
    example: 'optional response `nick` is gone',
  },
  'response-header-removed': {
    family: 'responses',
    severity: 'breaking',
    description: 'A required response header is no longer sent.',
    example: '`ETag` (required) gone from the `200` answer',
  },
  'response-optional-header-removed': {
    family: 'responses',
    severity: 'warning',
    description: 'An optional response header is no longer described.',
    example: '`X-Trace` gone from the `200` answer',
  },
  'response-header-made-optional': {
    family: 'responses',
    severity: 'breaking',
    description: 'A required response header became optional.',
    example: '`ETag: { required: true }` → `required: false`',
  },
  'response-link-removed': {
    family: 'responses',
    severity: 'warning',
    description: 'A response link (OpenAPI `links`) clients may follow to the next call is gone.',
    example: '`201` loses `links.GetUser`',
  },
  'response-link-changed': {
    family: 'responses',
    severity: 'warning',
    description:
      'A response link now names another operation or passes other parameters or another request body.',
    example: '`GetUser.parameters.id: $response.body#/id` → `$response.body#/uid`',
  },
  'type-changed': {
    family: 'values',
    severity: 'breaking',
    description: 'The type of a value changed (integer → number in a request is a widening and allowed).',
    example: '`age: string` → `age: integer`',
  },
  'request-enum-value-removed': {
    family: 'values',
    severity: 'breaking',
    description: 'A request enum (or `const`, or `x-extensible-enum`) lost a value.',
    example: '`role: [admin, user]` → `[user]`',
  },
  'request-enum-added': {
    family: 'values',
    severity: 'breaking',
    description: 'A free request value was narrowed to an enum or a `const`.',
    example: '`role: string` → `role: { enum: [user] }`',
  },
  'response-enum-value-added': {
    family: 'values',
    severity: 'warning',
    description: 'A response enum gained a value or was lifted (nothing when marked `x-extensible-enum`).',
    example: '`state: [on]` → `[on, off]`',
  },
  'response-const-changed': {
    family: 'values',
    severity: 'breaking',
    description: 'A response `const` changed or was lifted, so clients get a value they never saw.',
    example: '`kind: { const: card }` → `{ const: wallet }`',
  },
  'request-constraint-tightened': {
    family: 'values',
    severity: 'breaking',
    description:
      'A request bound became tighter: minimum, maximum, min/maxLength, min/maxItems, min/maxProperties, ' +
      'min/maxContains, uniqueItems, multipleOf.',
    example: '`?limit` `maximum: 100` → `50`',
  },
  'response-constraint-loosened': {
    family: 'values',
    severity: 'breaking',
    description: 'A response bound became looser or was removed, so clients may get values they never got.',
    example: 'response `code` `maxLength: 8` → `64`',
  },
  'request-pattern-added': {
    family: 'values',
    severity: 'breaking',
    description:
      'A request value gained or changed its pattern (one matching everything, such as `.*`, is none).',
    example: '`sku: string` → `{ pattern: "^[A-Z]{3}-\\d+$" }`',
  },
  'response-pattern-removed': {
    family: 'values',
    severity: 'breaking',
    description: 'A response value lost its pattern (or it became one matching everything).',
    example: 'response `sku` `pattern: "^[A-Z]+$"` removed',
  },
  'response-pattern-changed': {
    family: 'values',
    severity: 'warning',
    description: 'A response pattern changed; whether it widened cannot be known, so check it.',
    example: '`^[A-Z]+$` → `^[A-Z0-9]+$`',
  },
  'request-nullable-removed': {
    family: 'values',
    severity: 'breaking',
    description:
      'A request value may no longer be null (`nullable`, `type: [.., null]` and null branches alike).',
    example: '`{ type: [string, "null"] }` → `{ type: string }`',
  },
  'response-made-nullable': {
    family: 'values',
    severity: 'breaking',
    description: 'A response value may now be null.',
    example: '`name: string` → `name: { type: string, nullable: true }`',
  },
  'string-content-changed': {
    family: 'values',
    severity: 'breaking',
    description: 'The `contentMediaType` or `contentEncoding` of a string changed.',
    example: '`contentEncoding: base64` → `base64url`',
  },
  'schema-wrapped': {
    family: 'composition',
    severity: 'info',
    description:
      'A schema became a `oneOf`/`anyOf`; old values are compared with each branch, and breaks inside the ' +
      'closest branch are reported by their own rules.',
    example: '`Card` → `oneOf: [Card, Wallet]` in a request',
  },
  'schema-unwrapped': {
    family: 'composition',
    severity: 'info',
    description: 'A `oneOf`/`anyOf` became a plain schema; each old branch is compared with it.',
    example: '`oneOf: [Card]` → `Card`',
  },
  'request-oneof-branch-removed': {
    family: 'composition',
    severity: 'breaking',
    description: 'A request `oneOf`/`anyOf` lost an alternative old clients may send.',
    example: '`oneOf: [Card, Wallet]` → `oneOf: [Card]`',
  },
  'response-oneof-branch-added': {
    family: 'composition',
    severity: 'breaking',
    description: 'A response `oneOf`/`anyOf` gained an alternative clients do not know.',
    example: '`oneOf: [Card]` → `oneOf: [Card, Wallet]`',
  },
  'discriminator-property-changed': {
    family: 'composition',
    severity: 'breaking',
    description: 'The `discriminator.propertyName` changed.',
    example: '`propertyName: kind` → `type`',
  },
  'request-discriminator-mapping-removed': {
    family: 'composition',
    severity: 'breaking',
    description: 'A request discriminator value is no longer mapped.',
    example: '`mapping: { card, wallet }` → `{ card }`',
  },
  'response-discriminator-mapping-added': {
    family: 'composition',
    severity: 'breaking',
    description: 'A response discriminator maps a value clients do not know.',
    example: '`mapping: { card }` → `{ card, wallet }`',
  },
  'discriminator-mapping-changed': {
    family: 'composition',
    severity: 'breaking',
    description: 'A discriminator value now points at another schema.',
    example: '`card: "#/components/schemas/Card"` → `".../CardV2"`',
  },
  'request-discriminator-added': {
    family: 'composition',
    severity: 'breaking',
    description:
      'A request composition gained a `discriminator`: the named property now selects the branch, so values ' +
      'without it, or with a value no branch maps, may be refused.',
    example: '`oneOf: [Card, Wallet]` → the same with `discriminator: { propertyName: kind }`',
  },
  'response-discriminator-removed': {
    family: 'composition',
    severity: 'warning',
    description: 'A response composition lost its `discriminator`, so clients can no longer dispatch on it.',
    example: '`discriminator: { propertyName: kind }` removed from a response `oneOf`',
  },
  'request-composition-made-exclusive': {
    family: 'composition',
    severity: 'breaking',
    description:
      'A request `anyOf` became a `oneOf` whose branches may overlap, so a value matching several is now ' +
      'refused (branches told apart by type, a `const` property or a discriminator are not).',
    example: '`anyOf: [Named, Tagged]` → `oneOf: [Named, Tagged]`',
  },
  'response-composition-made-inclusive': {
    family: 'composition',
    severity: 'info',
    description:
      'A response `oneOf` whose branches may overlap became an `anyOf`: an answer may now match several ' +
      'branches, which clients that take "the one that matches" should know.',
    example: '`oneOf: [Named, Tagged]` → `anyOf: [Named, Tagged]`',
  },
  'request-conditional-added': {
    family: 'JSON Schema 2020-12',
    severity: 'breaking',
    description: 'A request schema gained `if`/`then`/`else`, or its `if` changed.',
    example: '`if: { properties: { kind: { const: b2b } } }, then: { required: [vat] }` added',
  },
  'response-conditional-removed': {
    family: 'JSON Schema 2020-12',
    severity: 'breaking',
    description: 'A response schema lost its `if`/`then`/`else`, or its `if` changed.',
    example: 'the response `if`/`then` that guaranteed `vat` is gone',
  },
  'request-dependent-required-added': {
    family: 'JSON Schema 2020-12',
    severity: 'breaking',
    description: 'A request `dependentRequired` entry was added or grew.',
    example: '`dependentRequired: { card: [cvc] }` added',
  },
  'response-dependent-required-removed': {
    family: 'JSON Schema 2020-12',
    severity: 'breaking',
    description: 'A response `dependentRequired` entry was removed or shrank.',
    example: '`dependentRequired: { card: [cvc] }` → `{}`',
  },
  'request-dependent-schema-added': {
    family: 'JSON Schema 2020-12',
    severity: 'breaking',
    description: 'A request `dependentSchemas` entry was added.',
    example: '`dependentSchemas: { card: { required: [cvc] } }` added',
  },
  'response-dependent-schema-removed': {
    family: 'JSON Schema 2020-12',
    severity: 'breaking',
    description: 'A response `dependentSchemas` entry was removed.',
    example: 'response `dependentSchemas.card` is gone',
  },
  'request-pattern-properties-added': {
    family: 'JSON Schema 2020-12',
    severity: 'breaking',
    description: 'A request object constrains fields by a new `patternProperties` pattern.',
    example: '`patternProperties: { "^x-": { type: string } }` added',
  },
  'response-pattern-properties-removed': {
    family: 'JSON Schema 2020-12',
    severity: 'breaking',
    description:
      'A response object dropped a `patternProperties` pattern, so those fields may hold anything.',
    example: 'response `patternProperties."^x-"` is gone',
  },
  'request-contains-added': {
    family: 'JSON Schema 2020-12',
    severity: 'breaking',
    description: 'A request array must now `contains` some item.',
    example: '`tags: { contains: { const: primary } }` added',
  },
  'response-contains-removed': {
    family: 'JSON Schema 2020-12',
    severity: 'breaking',
    description: 'A response array no longer promises an item matching `contains`.',
    example: 'response `contains: { const: primary }` is gone',
  },
  'request-not-added': {
    family: 'JSON Schema 2020-12',
    severity: 'breaking',
    description: 'A request schema gained a `not`, or its `not` changed.',
    example: '`name: string` → `{ type: string, not: { const: root } }`',
  },
  'response-not-removed': {
    family: 'JSON Schema 2020-12',
    severity: 'breaking',
    description: 'A response schema lost or changed its `not`, so excluded values may now be sent.',
    example: 'response `not: { const: "" }` is gone',
  },
  'request-unevaluated-restricted': {
    family: 'JSON Schema 2020-12',
    severity: 'breaking',
    description: 'A request schema gained `unevaluatedProperties` or `unevaluatedItems` (false or a schema).',
    example: '`unevaluatedProperties: false` added',
  },
  'deprecated-added': {
    family: 'deprecation',
    severity: 'info',
    description: 'An operation, parameter or property was marked deprecated.',
    example: '`?legacy` gains `deprecated: true, x-sunset: 2027-01-01`',
  },
  'request-parameter-removed-before-sunset': {
    family: 'deprecation',
    severity: 'breaking',
    description: 'A deprecated parameter was removed before its `x-sunset` date.',
    example: '`?legacy` had `x-sunset: 2999-01-01` and is gone',
  },
  'request-property-removed-before-sunset': {
    family: 'deprecation',
    severity: 'breaking',
    description: 'A deprecated request field was removed before its `x-sunset` date.',
    example: 'body `fax` had `deprecated: true, x-sunset: 2999-01-01` and is gone',
  },
  'response-property-removed-before-sunset': {
    family: 'deprecation',
    severity: 'breaking',
    description: 'A deprecated response field was removed before its `x-sunset` date.',
    example: 'response `fax` had `deprecated: true, x-sunset: 2999-01-01` and is gone',
  },
  'property-removed-after-sunset': {
    family: 'deprecation',
    severity: 'info',
    description: 'A deprecated field was removed after its `x-sunset` date (no other rule fires for it).',
    example: 'response `fax` had `x-sunset: 2020-01-01` and is gone',
  },
  'webhook-removed': {
    family: 'webhooks',
    severity: 'breaking',
    description:
      'A webhook (OpenAPI 3.1 `webhooks`) is no longer sent. Its payload is compared like a response.',
    example: '`webhooks.userCreated` is gone',
  },
  'webhook-added': {
    family: 'webhooks',
    severity: 'info',
    description: 'A webhook was added.',
    example: '`webhooks.userDeleted` is new',
  },
  'callback-removed': {
    family: 'callbacks',
    severity: 'breaking',
    description:
      'An operation no longer makes a callback (OpenAPI `callbacks`) clients receive. Its payload is compared ' +
      'like a response.',
    example: '`POST /subscriptions` loses `callbacks.onEvent.{$request.body#/url}.post`',
  },
  'callback-added': {
    family: 'callbacks',
    severity: 'info',
    description: 'An operation makes a new callback.',
    example: '`callbacks.onCancel` is new',
  },
  'security-requirement-added': {
    family: 'security',
    severity: 'breaking',
    description:
      'An operation now needs a security scheme it did not need (a new alternative is not a break).',
    example: '`security: []` → `[{ bearer: [] }]`',
  },
  'security-scope-added': {
    family: 'security',
    severity: 'breaking',
    description: 'An operation now needs more scopes.',
    example: '`oauth: [read]` → `oauth: [read, admin]`',
  },
} as const satisfies Record<string, DiffRule>;

export type DiffRuleId = keyof typeof diffRules;

/** Whether `id` names a known rule (ignore files and severity overrides are checked with it). */
export function isDiffRule(id: string): id is DiffRuleId {
  return Object.hasOwn(diffRules, id);
}
