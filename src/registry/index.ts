export {
  createAddressPolicy,
  createGuardedLookup,
  parseIpv4Loose,
  type AddressDecision,
  type AddressPolicy,
  type AddressPolicyOptions,
  type GuardedLookup,
} from './address-policy.ts';
export { createRegistryRoutes, type RegistryRoutesOptions } from './http-api.ts';
export {
  createRegistry,
  type ChangeListener,
  type InstanceFilter,
  type Registry,
  type RegistryOptions,
  type RegistryTimers,
  type ResyncListener,
  type ServiceSummary,
} from './registry.ts';
export {
  INSTANCE_ID_PATTERN,
  SERVICE_NAME_PATTERN,
  registrationLimits,
  validateRegistration,
  type RegistrationInput,
} from './validate-registration.ts';
export { createWatchHandler, type WatchOptions } from './watch.ts';
