import cluster from 'node:cluster';
import { availableParallelism } from 'node:os';
import { joinCluster, type ClusterMember } from '../../cluster/cluster-member.ts';
import { ConfigError, formatConfigIssues } from '../../config/config-error.ts';
import { loadConfig } from '../../config/load.ts';
import { parseDurationMs } from '../../config/units.ts';
import { startGateway, type Gateway } from '../../gateway/gateway.ts';
import { createLogger } from '../../observability/logger.ts';
import { loadRevision, revisionLabel } from '../../gateway/lifecycle/shared-config.ts';
import { openFleetStore, parseStoreLocation, type StoreLocation } from '../../store/open-fleet-store.ts';
import { parseCommandArgs } from '../parse-command-args.ts';

const help = `Usage: portico start [-c portico.yaml]
       portico start --config-from-store --store redis://HOST:PORT

Runs the gateway and the admin API until SIGTERM or SIGINT (graceful drain), reloading the
config on file change, on SIGHUP and on POST /v1/config/reload. With \`workers: N\` in the config,
this process supervises N gateway processes that share the ports.

With --config-from-store the node reads no file: it runs the store's latest configuration
revision and applies every later one (portico config apply). Relative paths in that
configuration resolve against the working directory; \`\${VAR}\` references use this node's
environment.

Options:
  -c, --config FILE     config file (YAML or JSON), default portico.yaml
      --config-from-store
                        run the configuration stored in the store instead of a file
      --store WHERE     the store of --config-from-store: redis://HOST:PORT, rediss://…, or
                        embedded:PATH (default $PORTICO_STORE)
      --store-prefix P  key prefix in Redis (default $PORTICO_STORE_PREFIX or portico:)
      --node-id ID      this node's id in GET /v1/nodes (default $PORTICO_NODE_ID or host:adminPort)
  -h, --help            show this help
`;

export async function runStart(args: string[]): Promise<number> {
  const parsed = parseCommandArgs(
    args,
    {
      config: { type: 'string', short: 'c', default: 'portico.yaml' },
      'config-from-store': { type: 'boolean' },
      store: { type: 'string', default: process.env.PORTICO_STORE },
      'store-prefix': { type: 'string', default: process.env.PORTICO_STORE_PREFIX ?? 'portico:' },
      'node-id': { type: 'string', default: process.env.PORTICO_NODE_ID },
      help: { type: 'boolean', short: 'h' },
    },
    help,
    process,
    1,
  );
  if (typeof parsed === 'number') return parsed;
  const { values } = parsed;
  const nodeId = values['node-id'];
  if (values['config-from-store'] === true) {
    if (values.store === undefined) {
      console.error('portico start: --config-from-store needs --store (or PORTICO_STORE)');
      return 1;
    }
    const store = parseStoreLocation(values.store, values['store-prefix']);
    if (typeof store === 'string') {
      console.error(`portico start: ${store}`);
      return 1;
    }
    return startFromStore(store, nodeId);
  }
  let gateway: Gateway;
  let member: ClusterMember | undefined;
  try {
    if (cluster.isWorker) {
      member = joinCluster();
      gateway = await startGateway({
        configFile: values.config,
        watchConfig: false,
        cluster: member,
        nodeId,
      });
      await member.ready();
    } else {
      const config = await loadConfig(values.config, process.env);
      const workers = config.workers === 'auto' ? availableParallelism() : config.workers;
      if (workers > 1) {
        // Loaded on demand: a single-process node never pays for the supervisor.
        const { runSupervisor } = await import('../../cluster/supervisor.ts');
        return await runSupervisor({
          configFile: values.config,
          workers,
          logger: createLogger(config.logging.level),
          shutdownTimeoutMs: parseDurationMs(config.shutdownTimeout),
        });
      }
      gateway = await startGateway({ configFile: values.config, config, nodeId });
    }
  } catch (err) {
    // A worker that failed to start must let go of the channel, or it would never exit.
    member?.leave();
    if (err instanceof ConfigError) {
      console.error(formatConfigIssues(err.issues));
      return 1;
    }
    throw err;
  }
  return runUntilSignal(gateway, member === undefined ? undefined : async () => member.leave());
}

/** `--config-from-store`: the latest revision from the store, then every later one. */
async function startFromStore(store: StoreLocation, nodeId: string | undefined): Promise<number> {
  const fleet = await openFleetStore(store, process.cwd());
  let gateway: Gateway;
  try {
    const latest = await fleet.revision();
    if (latest === undefined) {
      console.error(
        'portico start: the store holds no configuration yet; store one with `portico config apply -f FILE --store …`',
      );
      await fleet.close();
      return 1;
    }
    const config = await loadRevision(latest, process.env, store);
    const workers = config.workers === 'auto' ? availableParallelism() : config.workers;
    if (workers > 1) {
      console.error('portico start: `workers` above 1 is not supported with --config-from-store yet');
      await fleet.close();
      return 1;
    }
    gateway = await startGateway({
      configFile: revisionLabel(latest.revision),
      config,
      watchConfig: false,
      fromStore: { fleet, revision: latest.revision, createdAt: latest.createdAt, store },
      nodeId,
    });
  } catch (err) {
    await fleet.close();
    if (err instanceof ConfigError) {
      console.error(formatConfigIssues(err.issues));
      return 1;
    }
    throw err;
  }
  return runUntilSignal(gateway);
}

/** Keeps the process alive until SIGTERM/SIGINT, then drains; SIGHUP reloads. */
export function runUntilSignal(gateway: Gateway, onStop?: () => Promise<void>): Promise<number> {
  return new Promise((resolve) => {
    const stop = (signal: string) => {
      gateway.logger.info({ signal }, 'signal received');
      process.off('SIGTERM', stop);
      process.off('SIGINT', stop);
      process.off('SIGHUP', hup);
      void gateway
        .shutdown()
        .then(() => onStop?.())
        .then(() => resolve(0));
    };
    const hup = () => void gateway.reload();
    process.on('SIGTERM', stop);
    process.on('SIGINT', stop);
    process.on('SIGHUP', hup);
  });
}
