import { spawn, execFile, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { eventually } from './eventually.ts';

const run = promisify(execFile);

/** Every server still running, killed if the test process exits without its teardown. */
const running = new Set<ChildProcess>();
process.once('exit', () => {
  for (const child of running) child.kill('SIGKILL');
});

/** One redis-server process of a topology. */
export interface RedisProcess {
  readonly port: number;
  /** SIGKILL, no goodbye: what a crashed machine looks like to the others. */
  kill(): Promise<void>;
}

/** A primary, a replica and one sentinel watching them, started for one test. */
export interface SentinelTopology {
  readonly name: string;
  readonly primary: RedisProcess;
  readonly replica: RedisProcess;
  readonly sentinels: readonly string[];
  /** The port of the primary the sentinel currently names. */
  primaryPort(): Promise<number>;
  stop(): Promise<void>;
}

/** A Redis Cluster of three primaries (no replicas), every slot assigned. */
export interface ClusterTopology {
  readonly nodes: readonly string[];
  stop(): Promise<void>;
}

/**
 * Starts `redis-server` primary + replica and `redis-server --sentinel` (quorum 1, a primary is declared down
 * after 1 s) on private loopback ports. Register `stop` as teardown.
 *
 * @example
 * const sentinel = await startSentinelTopology();
 * t.after(() => sentinel.stop());
 */
export async function startSentinelTopology(): Promise<SentinelTopology> {
  const dir = await mkdtemp(join(tmpdir(), 'portico-sentinel-'));
  const children: ChildProcess[] = [];
  const name = 'portico-primary';
  try {
    const primary = await startServer(dir, children, []);
    const replica = await startServer(dir, children, ['--replicaof', '127.0.0.1', String(primary.port)]);
    await eventually(async () => {
      const info = await cli(replica.port, 'INFO', 'replication');
      if (!/master_link_status:up/.test(info)) throw new Error('replica not in sync yet');
    }, 10_000);
    const sentinelPort = await freePort();
    const conf = join(dir, 'sentinel.conf');
    await writeFile(
      conf,
      [
        `port ${sentinelPort}`,
        'bind 127.0.0.1',
        `dir ${dir}`,
        `sentinel monitor ${name} 127.0.0.1 ${primary.port} 1`,
        `sentinel down-after-milliseconds ${name} 1000`,
        `sentinel failover-timeout ${name} 5000`,
        `sentinel parallel-syncs ${name} 1`,
        '',
      ].join('\n'),
    );
    const sentinel = spawn('redis-server', [conf, '--sentinel'], { stdio: 'ignore' });
    children.push(sentinel);
    running.add(sentinel);
    await eventually(async () => {
      const reply = await cli(sentinelPort, 'SENTINEL', 'replicas', name);
      if (!reply.includes(String(replica.port))) throw new Error('sentinel has not found the replica yet');
    }, 10_000);
    return {
      name,
      primary,
      replica,
      sentinels: [`127.0.0.1:${sentinelPort}`],
      async primaryPort() {
        const reply = await cli(sentinelPort, 'SENTINEL', 'get-master-addr-by-name', name);
        return Number(reply.trim().split('\n')[1]);
      },
      stop: () => stopAll(children, dir),
    };
  } catch (err) {
    await stopAll(children, dir);
    throw err;
  }
}

/**
 * Starts three `redis-server --cluster-enabled yes` and joins them with `redis-cli --cluster create`; resolves
 * once every node reports `cluster_state:ok`. Register `stop` as teardown.
 */
export async function startClusterTopology(): Promise<ClusterTopology> {
  const dir = await mkdtemp(join(tmpdir(), 'portico-cluster-'));
  const children: ChildProcess[] = [];
  try {
    const nodes: RedisProcess[] = [];
    for (let i = 0; i < 3; i++) {
      // The cluster bus listens on port + 10000, so the port comes from a range where both fit.
      const port = await freePort(true);
      nodes.push(
        await startServer(
          dir,
          children,
          [
            '--cluster-enabled',
            'yes',
            '--cluster-config-file',
            `nodes-${port}.conf`,
            '--cluster-node-timeout',
            '2000',
          ],
          port,
        ),
      );
    }
    const addresses = nodes.map((node) => `127.0.0.1:${node.port}`);
    await run('redis-cli', ['--cluster', 'create', ...addresses, '--cluster-yes'], { timeout: 20_000 });
    await eventually(async () => {
      for (const node of nodes) {
        if (!/cluster_state:ok/.test(await cli(node.port, 'CLUSTER', 'INFO')))
          throw new Error('cluster not ready');
      }
    }, 20_000);
    return { nodes: addresses, stop: () => stopAll(children, dir) };
  } catch (err) {
    await stopAll(children, dir);
    throw err;
  }
}

async function startServer(
  dir: string,
  children: ChildProcess[],
  extra: string[],
  fixedPort?: number,
): Promise<RedisProcess> {
  const port = fixedPort ?? (await freePort());
  const args = ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'];
  const child = spawn('redis-server', [...args, '--dir', dir, ...extra], { stdio: 'ignore' });
  children.push(child);
  running.add(child);
  child.once('exit', () => running.delete(child));
  await eventually(async () => {
    if ((await cli(port, 'PING')).trim() !== 'PONG') throw new Error('not up');
  }, 5000);
  return {
    port,
    async kill() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const exited = once(child, 'exit');
      child.kill('SIGKILL');
      await exited;
    },
  };
}

async function stopAll(children: ChildProcess[], dir: string): Promise<void> {
  for (const child of children) {
    if (child.exitCode === null && child.signalCode === null) {
      const exited = once(child, 'exit');
      child.kill('SIGKILL');
      await exited;
    }
  }
  await rm(dir, { recursive: true, force: true });
}

/** Runs one redis-cli command against a port and answers its raw output. */
export async function cli(port: number, ...args: string[]): Promise<string> {
  const { stdout } = await run('redis-cli', ['-h', '127.0.0.1', '-p', String(port), ...args], {
    timeout: 5000,
  });
  return stdout;
}

async function freePort(withBus = false): Promise<number> {
  for (;;) {
    const port = withBus ? 20_000 + Math.floor(Math.random() * 20_000) : 0;
    const got = await listenOnce(port);
    if (got === undefined) continue;
    if (!withBus || (await listenOnce(got + 10_000)) !== undefined) return got;
  }
}

function listenOnce(port: number): Promise<number | undefined> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once('error', () => resolve(undefined));
    server.listen(port, '127.0.0.1', () => {
      const address = server.address();
      const got = typeof address === 'object' && address !== null ? address.port : undefined;
      server.close(() => resolve(got));
    });
  });
}
