import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createEmbeddedStore } from './embedded-store.ts';
import { registryStoreContract } from './registry-store.contract.ts';

registryStoreContract('embedded', async (options) => {
  const path = await mkdtemp(join(tmpdir(), 'portico-store-'));
  const store = await createEmbeddedStore(
    options?.changeRetention === undefined ? { path } : { path, changeLogSize: options.changeRetention },
  );
  return {
    store,
    async cleanup() {
      await store.close();
      await rm(path, { recursive: true, force: true });
    },
  };
});
