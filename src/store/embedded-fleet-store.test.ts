import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createEmbeddedFleetStore } from './embedded-fleet-store.ts';
import { fleetStoreContract } from './fleet-store.contract.ts';

// Two processes on one file (a node's workers, or `portico config apply --store embedded:PATH` beside a node).
fleetStoreContract('embedded', async () => {
  const path = await mkdtemp(join(tmpdir(), 'portico-fleet-'));
  const a = await createEmbeddedFleetStore({ path, pollMs: 10 });
  const b = await createEmbeddedFleetStore({ path, pollMs: 10 });
  return {
    a,
    b,
    async cleanup() {
      await a.close();
      await b.close();
      await rm(path, { recursive: true, force: true });
    },
  };
});
