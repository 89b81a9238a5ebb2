/** How much a contract change matters to existing clients. */
export type Severity = 'breaking' | 'warning' | 'info';

/**
 * Every rule of the breaking-change check, with its default severity. The principle (PRODUCT.md): in requests,
 * narrowing what the server accepts breaks clients; in responses, widening what it may send breaks them.
 */
export const diffRules = {
  'operation-removed': { severity: 'breaking', description: 'A path or operation was removed.' },
  'operation-removed-after-sunset': {
    severity: 'info',
    description: 'A deprecated operation was removed after its sunset date.',
  },
  'operation-added': { severity: 'info', description: 'A path or operation was added.' },
  'request-parameter-added-required': {
    severity: 'breaking',
    description: 'A new required parameter or header.',
  },
  'request-parameter-added-optional': { severity: 'info', description: 'A new optional parameter.' },
  'request-parameter-made-required': {
    severity: 'breaking',
    description: 'An optional parameter became required.',
  },
  'request-parameter-removed': {
    severity: 'info',
    description: 'A parameter is no longer read by the server.',
  },
  'request-parameter-style-changed': {
    severity: 'breaking',
    description: 'The style or explode of a parameter changed, so clients serialise it differently.',
  },
  'request-parameter-default-changed': {
    severity: 'breaking',
    description: 'The default of an optional parameter changed, so clients that omit it get other behaviour.',
  },
  'request-body-added-required': { severity: 'breaking', description: 'A required request body was added.' },
  'request-body-made-required': {
    severity: 'breaking',
    description: 'An optional request body became required.',
  },
  'request-media-type-removed': {
    severity: 'breaking',
    description: 'A request media type is no longer accepted.',
  },
  'request-property-added-required': {
    severity: 'breaking',
    description: 'A new required field in a request body.',
  },
  'request-property-made-required': {
    severity: 'breaking',
    description: 'An optional request field became required.',
  },
  'request-enum-value-removed': { severity: 'breaking', description: 'A request enum lost a value.' },
  'request-enum-added': {
    severity: 'breaking',
    description: 'A free request value was narrowed to an enum.',
  },
  'request-constraint-tightened': {
    severity: 'breaking',
    description: 'A request min/max, length or item count bound became tighter.',
  },
  'request-pattern-added': {
    severity: 'breaking',
    description: 'A request value gained or changed its pattern.',
  },
  'request-nullable-removed': { severity: 'breaking', description: 'A request value may no longer be null.' },
  'request-additional-properties-removed': {
    severity: 'breaking',
    description: 'A request object no longer accepts unknown fields.',
  },
  'request-oneof-branch-removed': {
    severity: 'breaking',
    description: 'A request oneOf/anyOf lost an alternative.',
  },
  'type-changed': { severity: 'breaking', description: 'The type of a value changed.' },
  'response-status-removed': { severity: 'breaking', description: 'A success status is no longer sent.' },
  'response-media-type-removed': {
    severity: 'breaking',
    description: 'A success response media type is no longer sent.',
  },
  'response-required-property-removed': {
    severity: 'breaking',
    description: 'A required response field was removed.',
  },
  'response-property-made-optional': {
    severity: 'breaking',
    description: 'A required response field became optional.',
  },
  'response-optional-property-removed': {
    severity: 'warning',
    description: 'An optional response field was removed.',
  },
  'response-made-nullable': { severity: 'breaking', description: 'A response value may now be null.' },
  'response-oneof-branch-added': {
    severity: 'breaking',
    description: 'A response oneOf/anyOf gained an alternative clients do not know.',
  },
  'response-enum-value-added': {
    severity: 'warning',
    description: 'A response enum gained a value (nothing when marked x-extensible-enum).',
  },
  'security-requirement-added': {
    severity: 'breaking',
    description: 'An operation now needs a security scheme it did not need.',
  },
  'security-scope-added': { severity: 'breaking', description: 'An operation now needs more scopes.' },
} as const satisfies Record<string, { severity: Severity; description: string }>;

export type DiffRuleId = keyof typeof diffRules;

/** Whether `id` names a known rule (ignore files and severity overrides are checked with it). */
export function isDiffRule(id: string): id is DiffRuleId {
  return Object.hasOwn(diffRules, id);
}
