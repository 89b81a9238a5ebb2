import { PorticoError } from '../../errors/portico-error.ts';
import type { ServiceRuntime } from '../runtime/service-runtime.ts';
import type { InstanceSet } from '../upstream/instance-set.ts';

/** circuit_open when breakers refused every instance, else service_not_found or no_healthy_instance. */
export function noInstanceError(
  instances: InstanceSet,
  service: ServiceRuntime,
  breakersOpen: boolean,
): PorticoError {
  if (breakersOpen)
    return new PorticoError('circuit_open', `the circuit breaker of "${service.name}" is open`);
  return new PorticoError(
    instances.all.length === 0 ? 'service_not_found' : 'no_healthy_instance',
    `service "${service.name}" has no available instance`,
  );
}
