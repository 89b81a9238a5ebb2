/**
 * Portico's service SDK (`portico/sdk`): register a service with its contract, heartbeat and drain
 * ({@link createService}), and call other services found in the registry ({@link createClient}).
 *
 * @example
 * import { createClient, createService } from 'portico/sdk';
 *
 * const client = createClient({ registry: 'http://127.0.0.1:8081' });
 * const users = client.service('users', '^2');
 * await createService({
 *   name: 'orders',
 *   version: '3.0.0',
 *   registry: 'http://127.0.0.1:8081',
 *   async handler(req, res) {
 *     const user = await users.get<{ name: string }>('/users/42');
 *     res.setHeader('content-type', 'application/json');
 *     res.end(JSON.stringify({ user: user.name, orders: [] }));
 *   },
 * });
 */
export {
  createService,
  type GrpcServerLike,
  type GrpcServiceOptions,
  type PorticoService,
  type ServiceLogger,
  type ServiceOptions,
} from './service.ts';
export {
  createClient,
  type CallOptions,
  type ClientBreakerOptions,
  type ClientOptions,
  type ClientRetryOptions,
  type PorticoClient,
  type ServiceClient,
} from './client.ts';
export { callWithPolicies, type CallPolicies, type TryOutcome } from './call-policies.ts';
export type { FetchApp, RoutingApp, ServiceApp } from './handler-adapter.ts';
export type { RegistryInstance, RegistryOptions } from './registry-connection.ts';
export { currentTraceContext, runWithTraceContext, type TraceContext } from './trace-context.ts';
export { ServiceCallError } from './service-call-error.ts';
export { NoInstanceError } from './no-instance-error.ts';
export { CallTimeoutError } from './call-timeout-error.ts';
export { BrokenCircuitError } from '../resilience/circuit-breaker.ts';
export { BulkheadRejectedError } from '../resilience/bulkhead.ts';
