import cluster from 'node:cluster';
import { availableParallelism } from 'node:os';
import { joinCluster, type ClusterMember } from '../../cluster/cluster-member.ts';
import { ConfigError, formatConfigIssues } from '../../config/config-error.ts';
import { loadConfig } from '../../config/load.ts';
import { parseDurationMs } from '../../config/units.ts';
import { startGateway, type Gateway } from '../../gateway/gateway.ts';
import { createLogger } from '../../observability/logger.ts';
import { parseCommandArgs } from '../parse-command-args.ts';

const help = `Usage: portico start [-c portico.yaml]

Runs the gateway and the admin API until SIGTERM or SIGINT (graceful drain), reloading the
config on file change, on SIGHUP and on POST /v1/config/reload. With \`workers: N\` in the config,
this process supervises N gateway processes that share the ports.

Options:
  -c, --config FILE   config file (YAML or JSON), default portico.yaml
  -h, --help          show this help
`;

export async function runStart(args: string[]): Promise<number> {
  const parsed = parseCommandArgs(
    args,
    {
      config: { type: 'string', short: 'c', default: 'portico.yaml' },
      help: { type: 'boolean', short: 'h' },
    },
    help,
    process,
    1,
  );
  if (typeof parsed === 'number') return parsed;
  const { values } = parsed;
  let gateway: Gateway;
  let member: ClusterMember | undefined;
  try {
    if (cluster.isWorker) {
      member = joinCluster();
      gateway = await startGateway({ configFile: values.config, watchConfig: false, cluster: member });
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
      gateway = await startGateway({ configFile: values.config, config });
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
