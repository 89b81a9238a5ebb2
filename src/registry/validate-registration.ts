import semver from 'semver';
import { parseDurationMs } from '../config/units.ts';
import { PorticoError } from '../errors/portico-error.ts';
import { GRPC_HEALTH_PATH } from '../http/grpc-health.ts';
import type { InstanceHealthCheck, InstanceProtocol } from '../store/registry-store.ts';

/** Service names: lower-case DNS-label-like, 1–63 characters. */
export const SERVICE_NAME_PATTERN = /^[a-z0-9][a-z0-9-]{0,62}$/;
/** Instance ids: 1–128 characters, room for host names, pod names and `host:port`. */
export const INSTANCE_ID_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$/;

/** Limits of a registration body, also listed in docs/registry.md. */
export const registrationLimits = {
  minTtlMs: 1_000,
  maxTtlMs: 3_600_000,
  defaultTtlMs: 30_000,
  maxMetadataEntries: 32,
  maxMetadataLength: 256,
  maxContractBytes: 1_048_576,
  minHealthIntervalMs: 1_000,
  maxHealthIntervalMs: 3_600_000,
  minHealthTimeoutMs: 10,
  maxThreshold: 100,
} as const;

/** A registration body after checks: durations in milliseconds, version normalised, contract as JSON text. */
export interface RegistrationInput {
  readonly service: string;
  readonly id: string;
  readonly url: URL;
  /** Undefined when the body did not say. */
  readonly protocol?: InstanceProtocol | undefined;
  readonly version: string;
  readonly ttlMs: number;
  readonly metadata: Readonly<Record<string, string>>;
  readonly healthCheck?: InstanceHealthCheck | undefined;
  readonly contract?: string | undefined;
  /** Register even when the contract breaks the previous version of the same major (logged). */
  readonly force: boolean;
}

const BODY_FIELDS = new Set([
  'url',
  'protocol',
  'version',
  'ttl',
  'metadata',
  'healthCheck',
  'contract',
  'force',
]);
const HEALTH_FIELDS = new Set([
  'path',
  'grpcService',
  'interval',
  'timeout',
  'unhealthyThreshold',
  'healthyThreshold',
]);
const PROTOCOLS: ReadonlySet<unknown> = new Set<InstanceProtocol>(['http1', 'h2', 'h2c', 'grpc']);
/** gRPC service names: `package.Service` (grpc/doc/PROTOCOL-HTTP2.md path segment), bounded. */
const GRPC_SERVICE_PATTERN = /^[A-Za-z_][A-Za-z0-9_.]{0,199}$/;

/** Throws `invalid_registration` naming `field` unless the service name matches {@link SERVICE_NAME_PATTERN}. */
export function assertServiceName(service: string): void {
  if (!SERVICE_NAME_PATTERN.test(service)) {
    fail('service', `service name must match ${SERVICE_NAME_PATTERN.source}`);
  }
}

/** Throws `invalid_registration` unless the id matches {@link INSTANCE_ID_PATTERN}. */
export function assertInstanceId(id: string): void {
  if (!INSTANCE_ID_PATTERN.test(id)) fail('id', `instance id must match ${INSTANCE_ID_PATTERN.source}`);
}

/**
 * Checks the body of `PUT /v1/services/{service}/instances/{id}`. Every failure is a
 * `PorticoError('invalid_registration')` whose `field` names the offending field. The address allow-list is
 * checked separately (it may need DNS), see `address-policy.ts`.
 *
 * @example
 * const input = validateRegistration('orders', 'orders-1', { url: 'http://10.0.0.5:3000', version: '1.4.0', ttl: '15s' });
 */
export function validateRegistration(service: string, id: string, body: unknown): RegistrationInput {
  assertServiceName(service);
  assertInstanceId(id);
  if (typeof body !== 'object' || body === null || Array.isArray(body))
    fail('body', 'body must be a JSON object');
  const record = body as Record<string, unknown>;
  for (const key of Object.keys(record)) {
    if (!BODY_FIELDS.has(key)) fail(key, `unknown field "${key}"`);
  }
  const url = checkUrl(record.url);
  const protocol = checkProtocol(record.protocol, url);
  return {
    service,
    id,
    url,
    protocol,
    version: checkVersion(record.version),
    ttlMs:
      record.ttl === undefined
        ? registrationLimits.defaultTtlMs
        : checkDuration('ttl', record.ttl, registrationLimits.minTtlMs, registrationLimits.maxTtlMs),
    metadata: checkMetadata(record.metadata),
    healthCheck:
      record.healthCheck === undefined ? undefined : checkHealthCheck(record.healthCheck, protocol),
    contract: record.contract === undefined ? undefined : checkContract(record.contract),
    force: checkForce(record.force),
  };
}

function checkForce(value: unknown): boolean {
  if (value === undefined) return false;
  if (typeof value !== 'boolean') fail('force', 'force must be true or false');
  return value;
}

function checkUrl(value: unknown): URL {
  if (typeof value !== 'string') fail('url', 'url is required and must be a string');
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    fail('url', 'url is not a valid absolute URL');
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') fail('url', 'url must use http or https');
  if (url.hostname === '') fail('url', 'url must have a host');
  if (url.port === '0') fail('url', 'url port must be between 1 and 65535');
  if (url.username !== '' || url.password !== '') fail('url', 'url must not carry credentials');
  if (url.search !== '' || url.hash !== '') fail('url', 'url must not carry a query or fragment');
  return url;
}

/** `h2` is negotiated over TLS and `h2c` is plain, so each needs its scheme; `grpc` takes either. */
function checkProtocol(value: unknown, url: URL): InstanceProtocol | undefined {
  if (value === undefined) return undefined;
  if (!PROTOCOLS.has(value)) fail('protocol', 'protocol must be http1, h2, h2c or grpc');
  const protocol = value as InstanceProtocol;
  if (protocol === 'h2' && url.protocol !== 'https:') fail('protocol', 'protocol h2 needs an https url');
  if (protocol === 'h2c' && url.protocol !== 'http:') fail('protocol', 'protocol h2c needs an http url');
  return protocol;
}

function checkVersion(value: unknown): string {
  if (typeof value !== 'string') fail('version', 'version is required and must be a string');
  const version = semver.valid(value);
  if (version === null) fail('version', `version "${value}" is not a valid semantic version`);
  return version;
}

function checkDuration(field: string, value: unknown, minMs: number, maxMs: number): number {
  const malformed = `${field} must be a duration such as "15s" or "500ms"`;
  if (typeof value !== 'string') fail(field, malformed);
  let ms: number;
  try {
    ms = parseDurationMs(value);
  } catch {
    fail(field, malformed);
  }
  if (ms < minMs || ms > maxMs) fail(field, `${field} must be between ${minMs}ms and ${maxMs}ms`);
  return ms;
}

function checkMetadata(value: unknown): Record<string, string> {
  if (value === undefined) return {};
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    fail('metadata', 'metadata must be an object of strings');
  }
  const entries = Object.entries(value);
  const { maxMetadataEntries: maxEntries, maxMetadataLength: maxLength } = registrationLimits;
  if (entries.length > maxEntries) fail('metadata', `metadata has more than ${maxEntries} entries`);
  const metadata: Record<string, string> = {};
  for (const [key, item] of entries) {
    if (key.length === 0 || key.length > maxLength)
      fail('metadata', `metadata keys must be 1–${maxLength} characters`);
    if (typeof item !== 'string') fail('metadata', `metadata.${key} must be a string`);
    if (item.length > maxLength) fail('metadata', `metadata.${key} is longer than ${maxLength} characters`);
    metadata[key] = item;
  }
  return metadata;
}

function checkHealthCheck(value: unknown, protocol: InstanceProtocol | undefined): InstanceHealthCheck {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    fail('healthCheck', 'healthCheck must be an object');
  }
  const record = value as Record<string, unknown>;
  for (const key of Object.keys(record)) {
    if (!HEALTH_FIELDS.has(key)) fail(`healthCheck.${key}`, `unknown field "healthCheck.${key}"`);
  }
  // A gRPC server is checked with the standard health service unless it names another path.
  const path = record.path ?? (protocol === 'grpc' ? GRPC_HEALTH_PATH : undefined);
  if (typeof path !== 'string' || !path.startsWith('/') || path.length > 1024 || /[\s#]/.test(path)) {
    fail('healthCheck.path', 'healthCheck.path must be a path starting with "/"');
  }
  const { grpcService } = record;
  if (grpcService !== undefined) {
    if (typeof grpcService !== 'string' || !GRPC_SERVICE_PATTERN.test(grpcService))
      fail(
        'healthCheck.grpcService',
        'healthCheck.grpcService must be a gRPC service name (package.Service)',
      );
    if (path !== GRPC_HEALTH_PATH)
      fail('healthCheck.grpcService', `healthCheck.grpcService needs path ${GRPC_HEALTH_PATH}`);
  }
  const limits = registrationLimits;
  const intervalMs =
    record.interval === undefined
      ? 5_000
      : checkDuration(
          'healthCheck.interval',
          record.interval,
          limits.minHealthIntervalMs,
          limits.maxHealthIntervalMs,
        );
  const timeoutMs =
    record.timeout === undefined
      ? Math.min(1_000, intervalMs)
      : checkDuration('healthCheck.timeout', record.timeout, limits.minHealthTimeoutMs, intervalMs);
  return {
    path,
    ...(grpcService === undefined ? {} : { grpcService: grpcService as string }),
    intervalMs,
    timeoutMs,
    unhealthyThreshold: checkThreshold('healthCheck.unhealthyThreshold', record.unhealthyThreshold, 2),
    healthyThreshold: checkThreshold('healthCheck.healthyThreshold', record.healthyThreshold, 1),
  };
}

function checkThreshold(field: string, value: unknown, fallback: number): number {
  if (value === undefined) return fallback;
  if (
    typeof value !== 'number' ||
    !Number.isInteger(value) ||
    value < 1 ||
    value > registrationLimits.maxThreshold
  ) {
    fail(field, `${field} must be an integer from 1 to ${registrationLimits.maxThreshold}`);
  }
  return value;
}

function checkContract(value: unknown): string {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    fail('contract', 'contract must be a JSON object (an OpenAPI document)');
  }
  const text = JSON.stringify(value);
  if (Buffer.byteLength(text) > registrationLimits.maxContractBytes) {
    fail('contract', `contract is larger than ${registrationLimits.maxContractBytes} bytes`);
  }
  return text;
}

function fail(field: string, message: string): never {
  throw new PorticoError('invalid_registration', message, { field });
}
