#!/usr/bin/env node
import { runDemo } from './commands/demo.ts';
import { runRoutes, runServices } from './commands/inspect.ts';
import { runStart } from './commands/start.ts';
import { runValidate } from './commands/validate.ts';

const usage = `portico — API gateway, service registry and versioned contracts

Usage: portico <command> [options]

Commands:
  start     [-c portico.yaml]         run the gateway and admin API
  demo                                run the gateway with sample services
  validate  -c FILE                   check a config file (exit 1 with precise errors)
  routes    [--admin URL] [--token T] list routes of a running node
  services  [--admin URL] [--token T] list services of a running node

Run "portico <command> --help" for a command's options.`;

const commands: Record<string, (args: string[]) => Promise<number>> = {
  start: runStart,
  demo: runDemo,
  validate: runValidate,
  routes: runRoutes,
  services: runServices,
};

async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
    console.log(usage);
    return name === undefined ? 1 : 0;
  }
  const command = commands[name];
  if (command === undefined) {
    console.error(`portico: unknown command "${name}"\n\n${usage}`);
    return 1;
  }
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
