import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createEmbeddedStore, type EmbeddedStoreOptions } from './embedded-store.ts';
import { registryStoreContract } from './registry-store.contract.ts';

// Once as the only process on its file, once as one of several (`workers: N`), where delivery polls the log.
for (const multiProcess of [false, true]) {
  registryStoreContract(multiProcess ? 'embedded (multi-process)' : 'embedded', async (options) => {
    const path = await mkdtemp(join(tmpdir(), 'portico-store-'));
    const settings: EmbeddedStoreOptions = {
      path,
      multiProcess,
      ...(options?.changeRetention === undefined ? {} : { changeLogSize: options.changeRetention }),
    };
    const store = await createEmbeddedStore(settings);
    return {
      store,
      async cleanup() {
        await store.close();
        await rm(path, { recursive: true, force: true });
      },
      ...(multiProcess ? { openPeer: () => createEmbeddedStore(settings) } : {}),
    };
  });
}
