import { hostname } from 'node:os';
import type { AddressInfo } from 'node:net';
import type { AdminRoute } from '../../admin/admin-route.ts';
import type { ReloadResult } from '../../config/config-error.ts';
import type { Config } from '../../config/schema.ts';
import { parseDurationMs } from '../../config/units.ts';
import type { Logger } from '../../observability/logger.ts';
import type { FleetStore, NodeRecord } from '../../store/fleet-store.ts';
import { openFleetStore, type StoreLocation } from '../../store/open-fleet-store.ts';
import { porticoVersion } from '../../version.ts';
import type { CloserStack } from './closers.ts';
import { createNodeMembership, createNodeRoutes } from './node-membership.ts';
import type { ReloadController } from './reload-controller.ts';
import { createSharedConfigRoutes, followStoreConfig, type StoreConfigFollower } from './shared-config.ts';

/** Set with `--config-from-store`: where the node's configuration came from. */
export interface FromStore {
  readonly fleet: FleetStore;
  /** The revision the node starts with. */
  readonly revision: number;
  /** When that revision was stored: with its number, what tells it from a later one that reused the number. */
  readonly createdAt: number;
  /** The store the node was started with (`--store`). */
  readonly store: StoreLocation;
}

/** This node's part in the fleet: its membership entry, the shared-configuration endpoints and, in store mode, the follower. */
export interface NodeFleet {
  /** `/v1/config` (apply, rollback, revisions, status) and `/v1/nodes`. */
  readonly routes: readonly AdminRoute[];
  /** In store mode, applies the store's latest revision again; undefined in file mode (the file is reloaded). */
  readonly reapply: (() => Promise<ReloadResult>) | undefined;
  /** Records this node in the store and starts its heartbeat, once it listens and knows its addresses. */
  join(addresses: { readonly admin: AddressInfo; readonly listen: readonly AddressInfo[] }): void;
}

/**
 * Opens the fleet store beside the registry (or takes the one `--config-from-store` started with), follows the
 * store's revisions in store mode, and prepares this node's membership entry. Each step registers its closer.
 *
 * @example
 * const fleet = await startNodeFleet({ config, baseDir, fromStore, reloads, env, closers, logger });
 * await listeners.listen();
 * fleet.join({ admin: addressOf(listeners.admin), listen: … });
 */
export async function startNodeFleet(deps: {
  readonly config: Config;
  readonly baseDir: string;
  readonly fromStore: FromStore | undefined;
  readonly reloads: ReloadController;
  readonly env: Record<string, string | undefined>;
  /** This node's id (`--node-id`); by default `hostname:adminPort`, with `#worker` appended in a worker. */
  readonly nodeId: string | undefined;
  readonly workerId: number | undefined;
  readonly closers: CloserStack;
  readonly logger: Logger;
}): Promise<NodeFleet> {
  const { config, closers, logger, fromStore } = deps;
  const fleet = fromStore?.fleet ?? (await openFleetStore(config.store, deps.baseDir));
  closers.add('fleet store', () => fleet.close());
  const heartbeatMs = parseDurationMs(config.store.nodeHeartbeat);
  const startedAt = Date.now();
  let identity: Pick<NodeRecord, 'id' | 'admin' | 'listen'> | undefined;
  let follower: StoreConfigFollower | undefined;
  const membership = createNodeMembership({
    fleet,
    describe: () => ({
      ...(identity as Pick<NodeRecord, 'id' | 'admin' | 'listen'>),
      version: porticoVersion(),
      pid: process.pid,
      startedAt,
      heartbeatMs,
      config: follower?.state() ?? { source: 'file', revision: null },
    }),
    heartbeatMs,
    logger,
  });
  if (fromStore !== undefined) {
    const following = followStoreConfig({
      fleet,
      reloads: deps.reloads,
      running: { revision: fromStore.revision, createdAt: fromStore.createdAt },
      env: deps.env,
      store: fromStore.store,
      logger,
      onChange: () => void membership.beat(),
    });
    follower = following;
    closers.add('store config follower', () => following.stop());
  }
  return {
    routes: [
      ...createSharedConfigRoutes({ fleet, membership, env: deps.env }),
      ...createNodeRoutes(membership),
    ],
    reapply: follower === undefined ? undefined : () => (follower as StoreConfigFollower).reapply(),
    join(addresses) {
      const worker = deps.workerId === undefined ? '' : `#${deps.workerId}`;
      identity = {
        id: deps.nodeId ?? `${hostname()}:${addresses.admin.port}${worker}`,
        admin: `http://${hostPortOf(addresses.admin)}`,
        listen: addresses.listen.map(hostPortOf),
      };
      membership.start();
      closers.add('node membership', () => membership.stop());
    },
  };
}

/** How other machines reach a listener: an unspecified bind address (0.0.0.0, ::) stands for this host's name. */
function hostPortOf(address: AddressInfo): string {
  if (address.address === '0.0.0.0' || address.address === '::') return `${hostname()}:${address.port}`;
  return address.family === 'IPv6'
    ? `[${address.address}]:${address.port}`
    : `${address.address}:${address.port}`;
}
