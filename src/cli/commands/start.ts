import { parseArgs } from 'node:util';
import { ConfigError, formatConfigIssues } from '../../config/config-error.ts';
import { startGateway, type Gateway } from '../../gateway/gateway.ts';

const help = `Usage: portico start [-c portico.yaml]

Runs the gateway and the admin API until SIGTERM or SIGINT (graceful drain), reloading the
config on file change, on SIGHUP and on POST /v1/config/reload.

Options:
  -c, --config FILE   config file (YAML or JSON), default portico.yaml
  -h, --help          show this help`;

export async function runStart(args: string[]): Promise<number> {
  const { values } = parseArgs({
    args,
    options: {
      config: { type: 'string', short: 'c', default: 'portico.yaml' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help === true) {
    console.log(help);
    return 0;
  }
  let gateway: Gateway;
  try {
    gateway = await startGateway({ configFile: values.config });
  } catch (err) {
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
