import type { AdminRoute } from '../../admin/admin-route.ts';
import { sendJson } from '../../admin/json-body.ts';
import type { Logger } from '../../observability/logger.ts';
import type { FleetStore, NodeEntry, NodeRecord } from '../../store/fleet-store.ts';

/** A node as `GET /v1/nodes` lists it. */
export interface NodeView extends NodeEntry {
  /** `up`: heard from within three heartbeats; `gone`: silent longer; `stopped`: said goodbye on shutdown. */
  readonly state: 'up' | 'gone' | 'stopped';
  /** How long ago the node was last heard from (ms, by the store's clock). */
  readonly lastSeenMs: number;
}

/** This node's entry in the store's membership, kept fresh by a heartbeat. */
export interface NodeMembership {
  /** Writes the first entry and starts the heartbeat (once the node listens and knows its addresses). */
  start(): void;
  /** Writes this node's entry now (after a config change, so status readers see it at once); nothing before `start`. */
  beat(): Promise<void>;
  /** Every node sharing the store, sorted by id. */
  list(): Promise<NodeView[]>;
  /** Stops the heartbeat and marks the entry `stopped`. */
  stop(): Promise<void>;
}

/** Nodes silent this many heartbeats are gone; gone this long they are forgotten (their entry removed). */
const GONE_AFTER_BEATS = 3;
const FORGET_AFTER_MS = 24 * 60 * 60 * 1000;

/**
 * Registers this node in the store and renews its entry every `heartbeatMs` (moleculer's node registry, on the
 * store the nodes already share). A heartbeat that fails (store away) is logged at debug level and retried on the
 * next beat; readers judge staleness by the store's clock, so node clocks need not agree.
 *
 * @example
 * const membership = createNodeMembership({ fleet, describe: () => record, heartbeatMs: 2000, logger });
 * membership.start();
 * await membership.list(); // [{ id: 'gw-1:8081', state: 'up', … }]
 */
export function createNodeMembership(deps: {
  readonly fleet: FleetStore;
  readonly describe: () => NodeRecord;
  readonly heartbeatMs: number;
  readonly logger: Logger;
}): NodeMembership {
  const { fleet, logger } = deps;
  let started = false;
  let stopped = false;
  const beat = async (): Promise<void> => {
    if (!started || stopped) return;
    try {
      await fleet.heartbeat(deps.describe());
    } catch (err) {
      logger.debug({ err }, 'node heartbeat could not reach the store');
    }
  };
  let timer: NodeJS.Timeout | undefined;
  return {
    start() {
      started = true;
      void beat();
      timer = setInterval(() => void beat(), deps.heartbeatMs).unref();
    },
    beat,
    list: () => listNodes(fleet),
    async stop() {
      clearInterval(timer);
      if (!started || stopped) return;
      stopped = true;
      try {
        await fleet.heartbeat({ ...deps.describe(), stopped: true });
      } catch (err) {
        logger.debug({ err }, 'could not mark this node stopped in the store');
      }
    },
  };
}

/**
 * Every node recorded in the store, sorted by id, judged by the store's clock; entries gone for a day are removed.
 *
 * @example (await listNodes(fleet)).filter((node) => node.state === 'up').length
 */
export async function listNodes(fleet: FleetStore): Promise<NodeView[]> {
  const { now, nodes } = await fleet.nodes();
  const views: NodeView[] = [];
  for (const node of nodes) {
    const lastSeenMs = Math.max(0, now - node.lastSeen);
    if (lastSeenMs > FORGET_AFTER_MS) {
      await fleet.forgetNode(node.id);
      continue;
    }
    const state =
      node.stopped === true ? 'stopped' : lastSeenMs > GONE_AFTER_BEATS * node.heartbeatMs ? 'gone' : 'up';
    views.push({ ...node, state, lastSeenMs });
  }
  return views.sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
}

/** `GET /v1/nodes`: every node sharing the store. */
export function createNodeRoutes(membership: NodeMembership): AdminRoute[] {
  return [
    {
      method: 'GET',
      path: '/v1/nodes',
      handler: async (_req, res) => sendJson(res, 200, { nodes: await membership.list() }),
    },
  ];
}
