/**
 * Every error the gateway itself answers with. Upstream answers pass through untouched, so
 * "the service said 503" stays distinguishable from "the gateway said 503" (the `code`).
 */
export const errorCatalog = {
  route_not_found: { status: 404, title: 'No route matches the request', retryable: false },
  method_not_allowed: { status: 405, title: 'The route does not accept this method', retryable: false },
  bad_request: { status: 400, title: 'The request is malformed', retryable: false },
  payload_too_large: { status: 413, title: 'The request body is larger than allowed', retryable: false },
  headers_too_large: {
    status: 431,
    title: 'The request headers are too large or too many',
    retryable: false,
  },
  upstream_unavailable: { status: 502, title: 'The upstream instance could not be reached', retryable: true },
  upstream_tls_error: {
    status: 502,
    title: 'The TLS handshake with the upstream instance failed',
    retryable: true,
  },
  upstream_bad_response: {
    status: 502,
    title: 'The upstream instance sent an invalid response',
    retryable: true,
  },
  upstream_timeout: { status: 504, title: 'The upstream instance did not answer in time', retryable: true },
  upstream_connect_timeout: {
    status: 504,
    title: 'No connection to the upstream instance could be opened in time',
    retryable: true,
  },
  upstream_idle_timeout: {
    status: 504,
    title: 'The upstream instance paused too long between two body chunks',
    retryable: true,
  },
  deadline_exceeded: { status: 504, title: "The route's overall deadline passed", retryable: true },
  circuit_open: { status: 503, title: "The service's circuit breaker is open", retryable: true },
  aggregate_failed: { status: 502, title: 'A required call of the aggregate failed', retryable: true },
  upstream_status: {
    status: 502,
    title: 'A call of the aggregate got an error status from its service',
    retryable: true,
  },
  dependency_failed: {
    status: 502,
    title: 'A call of the aggregate did not run: the call it needs failed',
    retryable: true,
  },
  missing_field: {
    status: 502,
    title: 'A call of the aggregate did not run: the answer it needs lacks a field',
    retryable: false,
  },
  call_failed: { status: 502, title: 'A call of the aggregate failed unexpectedly', retryable: false },
  aborted: {
    status: 499,
    title: 'The client closed the connection before the answer was ready',
    retryable: false,
  },
  no_healthy_instance: { status: 503, title: 'The service has no healthy instance', retryable: true },
  service_not_found: { status: 503, title: 'The route names a service with no instances', retryable: true },
  overloaded: { status: 503, title: 'The service is at its concurrency limit', retryable: true },
  shutting_down: { status: 503, title: 'The gateway is shutting down', retryable: true },
  unauthorized: { status: 401, title: 'Authentication is missing or invalid', retryable: false },
  forbidden: { status: 403, title: 'The caller lacks a required scope', retryable: false },
  forbidden_address: {
    status: 403,
    title: "The client address is not allowed by the route's IP rules",
    retryable: false,
  },
  rate_limited: { status: 429, title: 'Too many requests', retryable: true },
  validation_failed: { status: 400, title: 'The request does not match the contract', retryable: false },
  version_not_found: { status: 404, title: 'No instance serves the requested version', retryable: false },
  version_sunset: { status: 410, title: 'The requested version is retired', retryable: false },
  breaking_change: {
    status: 409,
    title: 'The contract breaks the previous version of the same major',
    retryable: false,
  },
  invalid_config: { status: 422, title: 'The configuration is invalid', retryable: false },
  invalid_registration: { status: 400, title: 'The registration is invalid', retryable: false },
  instance_not_found: { status: 404, title: 'No such instance', retryable: false },
  not_found: { status: 404, title: 'No such resource', retryable: false },
  config_revision_not_found: {
    status: 404,
    title: 'No such configuration revision in the store',
    retryable: false,
  },
  store_unavailable: { status: 503, title: 'The store is unreachable', retryable: true },
  plugin_failed: { status: 500, title: 'A plugin of the route failed', retryable: false },
  internal_error: { status: 500, title: 'The gateway failed to handle the request', retryable: false },
} as const satisfies Record<string, { status: number; title: string; retryable: boolean }>;

export type ErrorCode = keyof typeof errorCatalog;
