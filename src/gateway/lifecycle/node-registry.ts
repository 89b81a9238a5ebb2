import { dirname, resolve } from 'node:path';
import type { Config } from '../../config/schema.ts';
import { parseDurationMs } from '../../config/units.ts';
import { createRegistrationGate } from '../../contracts/registration-gate.ts';
import type { Logger } from '../../observability/logger.ts';
import type { AddressPolicy, GuardedLookup } from '../../registry/address-policy.ts';
import { createRegistry, type Registry } from '../../registry/registry.ts';
import { createEmbeddedStore } from '../../store/embedded-store.ts';
import { redisTargetOf } from '../../store/redis-connection.ts';
import { createRedisStore } from '../../store/redis-store.ts';
import type { RegistryStore } from '../../store/registry-store.ts';
import { ContractBook } from '../../versions/contract-book.ts';
import type { RegisteredInstances } from '../upstream/registered-instances.ts';
import { createRegisteredHealthChecks } from '../upstream/registered-health.ts';
import type { CloserStack } from './closers.ts';

/** The node's registry side once started: the store, the registry over it and the published contracts. */
export interface NodeRegistry {
  readonly store: RegistryStore;
  readonly registry: Registry;
  readonly contracts: ContractBook;
}

/**
 * Opens the store, starts the registry, feeds registered instances to the gateway's instance sets and starts the
 * active health checks of registered instances; each step registers its closer as it succeeds.
 *
 * @example
 * const { registry, contracts } = await startNodeRegistry({ config, configFile, closers, registered, … });
 */
export async function startNodeRegistry(deps: {
  readonly config: Config;
  readonly configFile: string;
  /** Several processes of one node (`workers: N`) share the embedded store's file. */
  readonly multiProcess: boolean;
  readonly addressPolicy: AddressPolicy;
  readonly lookup: GuardedLookup;
  readonly registered: RegisteredInstances;
  readonly closers: CloserStack;
  readonly logger: Logger;
}): Promise<NodeRegistry> {
  const { config, closers, logger, registered } = deps;
  const store = await openStore(config, deps.configFile, deps.multiProcess);
  closers.add('store', () => store.close());
  const registry = createRegistry({
    store,
    addressPolicy: deps.addressPolicy,
    leaseGraceMs: parseDurationMs(config.registry.leaseGrace),
    onError: (err) => logger.warn({ err }, 'registry background work failed'),
    contractGate: createRegistrationGate({ logger }),
  });
  await registry.start();
  closers.add('registry', () => registry.close());
  // Snapshot and subscription in one tick: the registry calls listeners synchronously after its own copy
  // changes, so no change can fall between the two.
  registered.load(registry.snapshot().instances);
  const unsubscribe = registry.subscribe((change) => registered.apply(change));
  const unsubscribeResync = registry.onResync((snapshot) => registered.load(snapshot.instances));
  closers.add('registry subscriptions', () => {
    unsubscribe();
    unsubscribeResync();
  });
  const registeredHealth = createRegisteredHealthChecks({
    registry,
    lease: store.checkLease,
    lookup: deps.lookup,
    onTransition(instance, status) {
      logger.warn(
        { service: instance.service, instance: instance.id, url: instance.url, status },
        'registered instance health changed',
      );
    },
    onError: (err) => logger.debug({ err }, 'registered health check could not reach the store'),
  });
  registeredHealth.start();
  closers.add('registered health checks', () => registeredHealth.stop());
  // Published contracts, compiled for request validation and the catalogue; the caller closes them with the
  // node state that holds them.
  const contracts = new ContractBook(registry, logger);
  contracts.start();
  return { store, registry, contracts };
}

/** The embedded store's folder is relative to the config file's folder, so a node finds its data wherever it starts. */
async function openStore(config: Config, configFile: string, multiProcess: boolean): Promise<RegistryStore> {
  if (config.store.kind === 'redis') {
    return createRedisStore({ url: redisTargetOf(config.store), prefix: config.store.prefix });
  }
  return createEmbeddedStore({ path: resolve(dirname(configFile), config.store.path), multiProcess });
}
