import { randomUUID } from 'node:crypto';
import { deleteRedisKeys, sharedRedisUrl } from '../../test/helpers/redis-server.ts';
import { fleetStoreContract } from './fleet-store.contract.ts';
import { createRedisFleetStore } from './redis-fleet-store.ts';

fleetStoreContract('redis', async () => {
  const prefix = `portico-test:${randomUUID()}:`;
  const a = await createRedisFleetStore({ url: sharedRedisUrl, prefix });
  const b = await createRedisFleetStore({ url: sharedRedisUrl, prefix });
  return {
    a,
    b,
    async cleanup() {
      await a.close();
      await b.close();
      await deleteRedisKeys(sharedRedisUrl, prefix);
    },
  };
});
