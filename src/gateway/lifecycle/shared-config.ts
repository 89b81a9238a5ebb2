import type { IncomingMessage } from 'node:http';
import type { AdminRoute } from '../../admin/admin-route.ts';
import { readJsonBody, sendJson } from '../../admin/json-body.ts';
import { ConfigError, formatConfigIssue, type ReloadResult } from '../../config/config-error.ts';
import { loadConfigText } from '../../config/load.ts';
import type { Config } from '../../config/schema.ts';
import { PorticoError } from '../../errors/portico-error.ts';
import type { Logger } from '../../observability/logger.ts';
import type { ConfigRevision, FleetStore, NodeConfigState } from '../../store/fleet-store.ts';
import type { StoreLocation } from '../../store/open-fleet-store.ts';
import type { NodeMembership, NodeView } from './node-membership.ts';
import type { ReloadController } from './reload-controller.ts';

type Env = Record<string, string | undefined>;

/** Largest configuration document `POST /v1/config` accepts. */
const MAX_DOCUMENT_BYTES = 10 * 1024 * 1024;

/** The label a revision's issues carry, in place of a file name. */
export function revisionLabel(revision: number): string {
  return `store revision ${revision}`;
}

/**
 * Parses a revision with this node's environment (each node interpolates `${VAR}` itself). The registry store is
 * the one the node was started with, whatever the revision's `store` section says: a node cannot move its store
 * on a reload.
 *
 * @example const config = await loadRevision(revision, process.env, { kind: 'redis', url, path, prefix });
 * @throws ConfigError naming `store revision N`.
 */
export async function loadRevision(
  revision: ConfigRevision,
  env: Env,
  store: StoreLocation,
): Promise<Config> {
  const config = await loadConfigText(revision.document, revisionLabel(revision.revision), env);
  // Mutated in place: contracts and secrets loaded with the config are kept per config object.
  Object.assign(config.store, { sentinels: undefined, nodes: undefined, name: undefined, ...store });
  return config;
}

/** What a node in store mode runs, and how it keeps up with the store. */
export interface StoreConfigFollower {
  state(): NodeConfigState;
  /** Applies the store's latest revision again (SIGHUP, `POST /v1/config/reload`). */
  reapply(): Promise<ReloadResult>;
  stop(): void;
}

/**
 * Follows the store's revisions (`--config-from-store`): every announced revision newer than the one running is
 * loaded, compiled and swapped in through the reload controller, so it applies atomically or not at all. A revision
 * this node refuses (a `${VAR}` unset here, a contract file missing here) leaves the running revision in place and
 * is reported in the node's membership entry until a later revision applies.
 *
 * @example
 * const follower = followStoreConfig({ fleet, reloads, running: 3, env, store, logger, onChange: () => membership.beat() });
 */
export function followStoreConfig(deps: {
  readonly fleet: FleetStore;
  readonly reloads: ReloadController;
  /** The revision the node started with. */
  readonly running: Pick<ConfigRevision, 'revision' | 'createdAt'>;
  readonly env: Env;
  readonly store: StoreLocation;
  readonly logger: Logger;
  /** After every apply or refusal. */
  readonly onChange: () => void;
}): StoreConfigFollower {
  const { fleet, reloads, logger } = deps;
  let running = deps.running.revision;
  let failed: NodeConfigState['failed'];
  // A number alone does not name a revision: after a failover lost the latest one (async replication) or a
  // restart emptied Redis, the store hands out that number again for another document. Stored-at tells them apart.
  let runningAt = deps.running.createdAt;
  let failedAt = 0;
  let syncing: Promise<void> | undefined;
  let again = false;

  async function apply(revision: ConfigRevision): Promise<ReloadResult> {
    const result = await reloads.reload(() => loadRevision(revision, deps.env, deps.store));
    if (result.ok) {
      running = revision.revision;
      runningAt = revision.createdAt;
      failed = undefined;
      logger.info({ revision: running }, 'configuration revision applied');
    } else {
      failed = { revision: revision.revision, errors: result.error.issues.map(formatConfigIssue) };
      failedAt = revision.createdAt;
      logger.error(
        { revision: revision.revision, running, issues: result.error.issues },
        'configuration revision refused; this node keeps its revision',
      );
    }
    deps.onChange();
    return result;
  }

  async function syncLatest(): Promise<void> {
    const latest = await fleet.revision();
    if (latest === undefined) return;
    if (latest.revision === running && latest.createdAt === runningAt) return;
    if (latest.revision === failed?.revision && latest.createdAt === failedAt) return;
    await apply(latest);
  }

  function sync(): void {
    if (syncing !== undefined) {
      again = true;
      return;
    }
    syncing = (async () => {
      do {
        again = false;
        try {
          await syncLatest();
        } catch (err) {
          logger.warn(
            { err },
            'could not read the latest configuration revision; retrying on the next notice',
          );
        }
      } while (again);
      syncing = undefined;
    })();
  }

  // Every notice is checked against the latest revision's stored-at, also one naming the running number (above).
  const unsubscribe = fleet.onRevision(() => sync());
  // A revision stored between the start-up read and the subscription is caught here.
  sync();
  return {
    state: () => ({ source: 'store', revision: running, failed }),
    async reapply() {
      const latest = await fleet.revision();
      if (latest === undefined)
        return {
          ok: false,
          error: new ConfigError([{ file: 'store', path: '', message: 'the store has no configuration' }]),
        };
      return apply(latest);
    },
    stop: unsubscribe,
  };
}

/**
 * The admin endpoints of the configuration shared through the store: apply, rollback, history, one revision, and
 * the revision each node runs. Any node answers them, whether it runs a file or the store's revisions; a document is
 * validated with the receiving node's environment before it is stored.
 */
export function createSharedConfigRoutes(deps: {
  readonly fleet: FleetStore;
  readonly membership: NodeMembership;
  readonly env: Env;
}): AdminRoute[] {
  const { fleet } = deps;
  const validate = async (document: string, label: string): Promise<void> => {
    try {
      await loadConfigText(document, label, deps.env);
    } catch (err) {
      if (!(err instanceof ConfigError)) throw err;
      throw new PorticoError('invalid_config', 'the configuration was not stored', { errors: err.issues });
    }
  };
  const revisionOf = async (text: string | undefined): Promise<ConfigRevision> => {
    const number = Number(text);
    const revision = Number.isSafeInteger(number) && number > 0 ? await fleet.revision(number) : undefined;
    if (revision === undefined)
      throw new PorticoError(
        'config_revision_not_found',
        `no configuration revision "${text ?? ''}" in the store`,
      );
    return revision;
  };
  return [
    {
      method: 'POST',
      path: '/v1/config',
      handler: async (req, res, { principal }) => {
        const document = await readText(req);
        if (document.trim() === '')
          throw new PorticoError('bad_request', 'the body must be a configuration document');
        await validate(document, 'POST /v1/config');
        const added = await fleet.addRevision(document, principal?.name ?? 'anonymous', 'apply');
        sendJson(res, added.created ? 201 : 200, summaryOf(added.revision, added.created));
      },
    },
    {
      method: 'POST',
      path: '/v1/config/rollback',
      handler: async (req, res, { principal }) => {
        const body = (await readJsonBody(req, 4096)) as { revision?: unknown } | undefined;
        const target = await revisionOf(String(body?.revision ?? ''));
        await validate(target.document, revisionLabel(target.revision));
        const added = await fleet.addRevision(
          target.document,
          principal?.name ?? 'anonymous',
          `rollback to ${target.revision}`,
        );
        sendJson(res, added.created ? 201 : 200, summaryOf(added.revision, added.created));
      },
    },
    {
      method: 'GET',
      path: '/v1/config/revisions',
      handler: async (_req, res, { url }) => {
        const limit = Math.min(1000, Math.max(1, Number(url.searchParams.get('limit') ?? 50) || 50));
        sendJson(res, 200, { revisions: await fleet.history(limit) });
      },
    },
    {
      method: 'GET',
      path: '/v1/config/revisions/{revision}',
      handler: async (_req, res, { params, principal }) => {
        // A document may hold literal secrets (only `${VAR}` references are kept out): admin tokens only.
        if (principal !== undefined && principal.role !== 'admin')
          throw new PorticoError('forbidden', 'reading a configuration document needs an admin token');
        sendJson(res, 200, await revisionOf(params.revision));
      },
    },
    {
      method: 'GET',
      path: '/v1/config/status',
      handler: async (_req, res) => {
        const [latest, nodes] = await Promise.all([fleet.history(1), deps.membership.list()]);
        sendJson(res, 200, configStatusOf(latest[0]?.revision ?? null, nodes));
      },
    },
  ];
}

/** What `GET /v1/config/status` answers: the latest revision and the one each node runs. */
export interface ConfigStatus {
  readonly latest: number | null;
  readonly nodes: readonly {
    readonly id: string;
    readonly state: NodeView['state'];
    readonly source: NodeConfigState['source'];
    readonly revision: number | null;
    readonly failed?: NodeConfigState['failed'];
  }[];
}

/** The configuration status of the nodes sharing a store. */
export function configStatusOf(latest: number | null, nodes: readonly NodeView[]): ConfigStatus {
  return {
    latest,
    nodes: nodes.map((node) => ({
      id: node.id,
      state: node.state,
      source: node.config.source,
      revision: node.config.revision,
      failed: node.config.failed,
    })),
  };
}

function summaryOf(revision: ConfigRevision, created: boolean) {
  const { document: _document, ...summary } = revision;
  return { ...summary, created };
}

async function readText(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > MAX_DOCUMENT_BYTES)
      throw new PorticoError(
        'payload_too_large',
        `a configuration document is at most ${MAX_DOCUMENT_BYTES} bytes`,
      );
    chunks.push(chunk);
  }
  return Buffer.concat(chunks).toString('utf8');
}
