import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rename, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { eventually } from './eventually.ts';
import { freePorts } from './free-port.ts';

const repoRoot = resolve(import.meta.dirname, '..', '..');

export interface PorticoProcess {
  readonly url: string;
  readonly adminUrl: string;
  readonly port: number;
  readonly adminPort: number;
  readonly configFile: string;
  readonly child: ChildProcess;
  /** Everything the process wrote to stdout and stderr so far. */
  output(): string;
  /** Replaces the config file (the running process reloads it on change). */
  writeConfig(yaml: string): Promise<void>;
  /** Sends a signal and waits for the exit; resolves with the exit code. */
  stop(signal?: NodeJS.Signals): Promise<number | null>;
}

export { freePort } from './free-port.ts';

/** How long start-up may take: a busy 2-core machine has taken more than 15 s to start a `workers: 2` node. */
const startBoundMs = 30_000;

/** How many times start-up is tried again when another process took a port between the draw and the bind. */
const addressInUseRetries = 4;

/**
 * Starts `portico start -c <file>` as a child process (Node 24 from node_modules) with a config built by
 * `makeConfig(ports)`, waits until /readyz answers 200, and registers nothing global: call `stop()` in
 * the test's teardown. When a port turns out to be taken (EADDRINUSE: another test file bound it between
 * the draw and the bind), it starts again on new ports, up to four times.
 */
export async function startPortico(
  makeConfig: (ports: { port: number; adminPort: number }) => string,
  options: {
    env?: Record<string, string>;
    waitReady?: boolean;
    /** Draws the two ports (tests of this helper); two free ones by default. */
    ports?: () => Promise<{ port: number; adminPort: number }>;
  } = {},
): Promise<PorticoProcess> {
  const drawPorts = options.ports ?? freePorts;
  for (let attempt = 0; ; attempt++) {
    const { proc, exited } = await spawnPortico(makeConfig, await drawPorts(), options.env);
    if (!(options.waitReady ?? true)) return proc;
    try {
      // A process that exited (a taken port, a bad config) ends the wait at once instead of at its bound.
      const gone = (): boolean => proc.child.exitCode !== null || proc.child.signalCode !== null;
      await eventually(async () => {
        if (gone()) return;
        const res = await fetch(`${proc.adminUrl}/readyz`);
        if (res.status !== 200) throw new Error(`readyz ${res.status}`);
      }, startBoundMs);
      if (gone()) throw new Error(`portico exited with ${await exited}:\n${proc.output()}`);
      return proc;
    } catch (err) {
      await proc.stop('SIGKILL');
      if (attempt >= addressInUseRetries || !proc.output().includes('EADDRINUSE')) throw err;
    }
  }
}

async function spawnPortico(
  makeConfig: (ports: { port: number; adminPort: number }) => string,
  { port, adminPort }: { port: number; adminPort: number },
  env: Record<string, string> | undefined,
): Promise<{ proc: PorticoProcess; exited: Promise<number | null> }> {
  const dir = await mkdtemp(join(tmpdir(), 'portico-test-'));
  const configFile = join(dir, 'portico.yaml');
  await writeFile(configFile, makeConfig({ port, adminPort }));
  const child = spawn(process.execPath, [join(repoRoot, 'src/cli/main.ts'), 'start', '-c', configFile], {
    cwd: dir,
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const exited = new Promise<number | null>((resolveExit) => child.once('exit', (code) => resolveExit(code)));
  const proc: PorticoProcess = {
    url: `http://127.0.0.1:${port}`,
    adminUrl: `http://127.0.0.1:${adminPort}`,
    port,
    adminPort,
    configFile,
    child,
    output: () => output,
    // Written beside it and renamed over it, as deploy tools do: a file written in place can be read while it
    // is still empty by the node's watcher, and an empty file is a valid config with no routes.
    writeConfig: async (yaml) => {
      await writeFile(`${configFile}.next`, yaml);
      await rename(`${configFile}.next`, configFile);
    },
    async stop(signal = 'SIGTERM') {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      const code = await exited;
      await rm(dir, { recursive: true, force: true });
      return code;
    },
  };
  return { proc, exited };
}

/**
 * Starts `portico start --config-from-store --store <store>` in an empty folder (no config file), with the two
 * ports in `GW_PORT` and `ADMIN_PORT` for the stored configuration to use (`listen: 127.0.0.1:${GW_PORT}`), and
 * waits until /readyz answers 200. Call `stop()` in the test's teardown.
 */
export async function startPorticoFromStore(options: {
  store: string;
  prefix: string;
  nodeId?: string;
  env?: Record<string, string>;
}): Promise<PorticoProcess> {
  for (let attempt = 0; ; attempt++) {
    const { port, adminPort } = await freePorts();
    const dir = await mkdtemp(join(tmpdir(), 'portico-node-'));
    const args = [join(repoRoot, 'src/cli/main.ts'), 'start', '--config-from-store'];
    args.push('--store', options.store, '--store-prefix', options.prefix);
    if (options.nodeId !== undefined) args.push('--node-id', options.nodeId);
    const child = spawn(process.execPath, args, {
      cwd: dir,
      env: { ...process.env, ...options.env, GW_PORT: String(port), ADMIN_PORT: String(adminPort) },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout?.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.stderr?.on('data', (chunk: Buffer) => (output += chunk.toString()));
    const exited = new Promise<number | null>((resolveExit) =>
      child.once('exit', (code) => resolveExit(code)),
    );
    const proc: PorticoProcess = {
      url: `http://127.0.0.1:${port}`,
      adminUrl: `http://127.0.0.1:${adminPort}`,
      port,
      adminPort,
      configFile: '',
      child,
      output: () => output,
      writeConfig: () => Promise.reject(new Error('a node running the store configuration has no file')),
      async stop(signal = 'SIGTERM') {
        if (child.exitCode === null && child.signalCode === null) child.kill(signal);
        const code = await exited;
        await rm(dir, { recursive: true, force: true });
        return code;
      },
    };
    const gone = (): boolean => child.exitCode !== null || child.signalCode !== null;
    try {
      await eventually(async () => {
        if (gone()) return;
        const res = await fetch(`${proc.adminUrl}/readyz`);
        if (res.status !== 200) throw new Error(`readyz ${res.status}`);
      }, startBoundMs);
      if (gone()) throw new Error(`portico exited with ${await exited}:\n${output}`);
      return proc;
    } catch (err) {
      await proc.stop('SIGKILL');
      if (attempt >= addressInUseRetries || !output.includes('EADDRINUSE')) throw err;
    }
  }
}
