import type { TestContext } from 'node:test';
import { createAddressPolicy, type AddressPolicyOptions } from '../../src/registry/address-policy.ts';
import { createRegistryRoutes, type RegistryRoutesOptions } from '../../src/registry/http-api.ts';
import { createRegistry, type Registry } from '../../src/registry/registry.ts';
import { createEmbeddedStore } from '../../src/store/embedded-store.ts';
import type { RegistryStore } from '../../src/store/registry-store.ts';
import { startAdmin } from './admin-harness.ts';

export interface RegistryFixture {
  base: string;
  registry: Registry;
  store: RegistryStore;
  clock: { now: number };
}

/** An in-memory embedded store, a registry on a hand-driven clock (no sweep timer) and the API on a real server. */
export async function startRegistryApi(
  t: TestContext,
  options: {
    routes?: RegistryRoutesOptions;
    policy?: AddressPolicyOptions;
    changeLogSize?: number;
    realClock?: boolean;
    expirySweepMs?: number;
  } = {},
): Promise<RegistryFixture> {
  const clock = { now: 1_700_000_000_000 };
  const store = await createEmbeddedStore({ path: ':memory:', changeLogSize: options.changeLogSize });
  const registry = createRegistry({
    store,
    addressPolicy: createAddressPolicy(options.policy),
    clock: options.realClock === true ? Date.now : () => clock.now,
    expirySweepMs: options.expirySweepMs,
    timers:
      options.realClock === true
        ? undefined
        : { setInterval: () => undefined, clearInterval: () => undefined },
  });
  await registry.start();
  t.after(async () => {
    await registry.close();
    await store.close();
  });
  const base = await startAdmin(t, createRegistryRoutes(registry, options.routes));
  return { base, registry, store, clock };
}
