import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { rmSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { freePort } from './free-port.ts';

/** The shared Redis the test suite may use, with a unique prefix per test. */
export const sharedRedisUrl = process.env.PORTICO_TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';

/** A private `redis-server` process for outage tests. */
export interface RedisServerHandle {
  readonly url: string;
  readonly port: number;
  /**
   * Stops the server. With `keepData` it saves a snapshot first, so the next `start()` comes back with the same
   * data (a restart with persistence); without it the next start is empty (a restart that lost everything).
   */
  stop(options?: { keepData?: boolean }): Promise<void>;
  /** Starts the server again on the same port; resolves once it answers PING. */
  start(): Promise<void>;
  /**
   * Freezes the server (SIGSTOP): connections stay open but nothing is answered, as with a hung Redis. Commands
   * sent meanwhile wait in the socket and run after `resume()`.
   */
  pause(): void;
  /** Lets a paused server run again (SIGCONT). */
  resume(): void;
}

/**
 * Starts `redis-server` on a free loopback port, without persistence unless asked for by `stop({ keepData })`.
 * Register `stop` as teardown.
 *
 * @example
 * const redis = await startRedisServer();
 * t.after(() => redis.stop());
 */
export async function startRedisServer(): Promise<RedisServerHandle> {
  const port = await freePort();
  const dir = await mkdtemp(join(tmpdir(), 'portico-redis-'));
  let child: ChildProcess | undefined;

  async function start(): Promise<void> {
    if (child) return;
    const args = [
      '--port',
      String(port),
      '--bind',
      '127.0.0.1',
      '--save',
      '',
      '--appendonly',
      'no',
      '--dir',
      dir,
    ];
    child = spawn('redis-server', args, { stdio: 'ignore' });
    child.once('exit', () => {
      child = undefined;
    });
    await waitForPing(port, 5000);
  }

  async function stop(options: { keepData?: boolean } = {}): Promise<void> {
    const running = child;
    if (!running) return;
    const exited = once(running, 'exit');
    // A frozen server must run again to save or to be waited for.
    running.kill('SIGCONT');
    if (options.keepData === true) {
      await sendRaw(port, 'SHUTDOWN SAVE\r\n');
    } else {
      await rm(join(dir, 'dump.rdb'), { force: true });
      running.kill('SIGKILL');
    }
    await exited;
    child = undefined;
  }

  await start();
  process.once('exit', () => {
    child?.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  });
  function signal(name: NodeJS.Signals): void {
    if (!child) throw new Error('redis-server is not running');
    child.kill(name);
  }

  return {
    url: `redis://127.0.0.1:${port}`,
    port,
    start,
    stop,
    pause: () => signal('SIGSTOP'),
    resume: () => signal('SIGCONT'),
  };
}

/** Deletes every key under `prefix` (SCAN + DEL), the teardown of a test that used the shared Redis. */
export async function deleteRedisKeys(url: string, prefix: string): Promise<void> {
  const redis = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 1 });
  await redis.connect();
  try {
    let cursor = '0';
    do {
      const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 500);
      cursor = next;
      if (keys.length > 0) await redis.del(...keys);
    } while (cursor !== '0');
  } finally {
    redis.disconnect();
  }
}

async function waitForPing(port: number, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      if ((await sendRaw(port, 'PING\r\n')).startsWith('+PONG')) return;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline)
      throw new Error(`redis-server on port ${port} did not start within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/** Sends one inline command and answers the first reply chunk ('' when the server closed without one). */
function sendRaw(port: number, command: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = new Socket();
    let reply = '';
    socket.setTimeout(2000, () => socket.destroy(new Error('redis-server did not answer')));
    socket.once('error', reject);
    socket.on('data', (chunk: Buffer) => {
      reply += chunk.toString();
      socket.end();
    });
    socket.once('close', () => resolve(reply));
    socket.connect(port, '127.0.0.1', () => socket.write(command));
  });
}
