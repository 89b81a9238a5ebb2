import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { eventually } from './eventually.ts';

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

/** A free TCP port on 127.0.0.1 (bound and released; good enough for tests on one machine). */
export async function freePort(): Promise<number> {
  return new Promise((resolvePort, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address !== null ? address.port : 0;
      server.close(() => resolvePort(port));
    });
  });
}

/**
 * Starts `portico start -c <file>` as a child process (Node 24 from node_modules) with a config built by
 * `makeConfig(ports)`, waits until /readyz answers 200, and registers nothing global: call `stop()` in
 * the test's teardown.
 */
export async function startPortico(
  makeConfig: (ports: { port: number; adminPort: number }) => string,
  options: { env?: Record<string, string>; waitReady?: boolean } = {},
): Promise<PorticoProcess> {
  const port = await freePort();
  const adminPort = await freePort();
  const dir = await mkdtemp(join(tmpdir(), 'portico-test-'));
  const configFile = join(dir, 'portico.yaml');
  await writeFile(configFile, makeConfig({ port, adminPort }));
  const child = spawn(process.execPath, [join(repoRoot, 'src/cli/main.ts'), 'start', '-c', configFile], {
    cwd: dir,
    env: { ...process.env, ...options.env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const exited = new Promise<number | null>((resolveExit) => child.once('exit', (code) => resolveExit(code)));
  const adminUrl = `http://127.0.0.1:${adminPort}`;
  const proc: PorticoProcess = {
    url: `http://127.0.0.1:${port}`,
    adminUrl,
    port,
    adminPort,
    configFile,
    child,
    output: () => output,
    writeConfig: (yaml) => writeFile(configFile, yaml),
    async stop(signal = 'SIGTERM') {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      const code = await exited;
      await rm(dir, { recursive: true, force: true });
      return code;
    },
  };
  if (options.waitReady ?? true) {
    try {
      await eventually(async () => {
        if (child.exitCode !== null) throw new Error(`portico exited with ${child.exitCode}:\n${output}`);
        const res = await fetch(`${adminUrl}/readyz`);
        if (res.status !== 200) throw new Error(`readyz ${res.status}`);
      }, 15_000);
    } catch (err) {
      await proc.stop('SIGKILL');
      throw err;
    }
  }
  return proc;
}
