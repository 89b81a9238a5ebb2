#!/usr/bin/env node
import { porticoVersion } from '../version.ts';

const usage = `portico — API gateway, service registry and versioned contracts

Usage: portico <command> [options]

Commands:
  start     [-c portico.yaml]         run the gateway and admin API
  demo                                run the gateway with sample services
  validate  -c FILE                   check a config file (exit 1 with precise errors)
  contract  diff OLD NEW [--json]     breaking changes between two OpenAPI documents (exit 1 when breaking)
  routes    [--admin URL] [--token T] list routes of a running node
  services  [--admin URL] [--token T] list services of a running node
  nodes     [--admin URL] [--token T] list the nodes sharing the store (up, gone, stopped)
  config    apply|history|diff|rollback|status
                                      configuration shared by every node through the store
  usage     --service S --version V   who calls a version, how much, last seen (all nodes)
  pins      --service S [--move C --to M | --unpin C]  consumers pinned to each version

Options:
  --version                           print the version and exit
  --help                              print this help

Run "portico <command> --help" for a command's options.`;

type Command = (args: string[]) => Promise<number>;

// Each command loads its own module on demand: `validate` or `--help` should not pay for loading the gateway.
const commands: Record<string, () => Promise<Command>> = {
  start: async () => (await import('./commands/start.ts')).runStart,
  demo: async () => (await import('./commands/demo.ts')).runDemo,
  validate: async () => (await import('./commands/validate.ts')).runValidate,
  contract: async () => (await import('./commands/contract.ts')).runContract,
  routes: async () => (await import('./commands/inspect.ts')).runRoutes,
  services: async () => (await import('./commands/inspect.ts')).runServices,
  nodes: async () => (await import('./commands/nodes.ts')).runNodes,
  config: async () => (await import('./commands/config.ts')).runConfig,
  usage: async () => (await import('./commands/versions.ts')).runUsage,
  pins: async () => (await import('./commands/versions.ts')).runPins,
};

/** Commands where `--version VALUE` names an API version; a bare `--version` still prints Portico's. */
const takesVersionValue = new Set(['usage']);

function asksForVersion(command: string | undefined, rest: string[]): boolean {
  const at = rest.indexOf('--version');
  if (at === -1) return false;
  const value = rest[at + 1];
  return !takesVersionValue.has(command ?? '') || value === undefined || value.startsWith('-');
}

async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  // `--version` works alone and after any command, as PRODUCT.md asks of every command.
  if (name === '--version' || name === '-v' || asksForVersion(name, rest)) {
    console.log(porticoVersion());
    return 0;
  }
  if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
    console.log(usage);
    return name === undefined ? 1 : 0;
  }
  const load = Object.hasOwn(commands, name) ? commands[name] : undefined;
  if (load === undefined) {
    console.error(`portico: unknown command "${name}"\n\n${usage}`);
    return 1;
  }
  const command = await load();
  return command(rest);
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    console.error(`portico: ${err instanceof Error ? err.message : String(err)}`);
    process.exitCode = 1;
  },
);
