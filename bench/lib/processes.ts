import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';

/** Where a process runs: a CPU list for `taskset -c`, or undefined to leave placement to the kernel. */
export type CpuList = string | undefined;

/** Options for one managed child process. */
export interface SpawnOptions {
  cpus: CpuList;
  cwd?: string;
  env?: NodeJS.ProcessEnv;
}

/** A child process started by the bench, with the tail of its output kept for failure reports. */
export interface ManagedProcess {
  readonly name: string;
  readonly pid: number;
  readonly child: ChildProcess;
  /** Last few KiB of stdout and stderr, for "failed to start" messages. */
  output(): string;
  /** Resolves with the exit code (or signal name) once the process has exited. */
  readonly exited: Promise<string>;
  /** True until the process exits. */
  alive(): boolean;
  /** SIGTERM to the process group, SIGKILL after `graceMs`; resolves once it has exited. */
  stop(graceMs?: number): Promise<void>;
}

/** Every child the bench starts, so that all of them die with the run, whatever ends it. */
export interface ProcessGroup {
  spawn(name: string, command: string, args: readonly string[], options: SpawnOptions): ManagedProcess;
  stopAll(): Promise<void>;
  /** Synchronous last resort for `process.on('exit')`. */
  killAllNow(): void;
}

const OUTPUT_LIMIT = 8192;

/**
 * Creates the registry of child processes. Children run in their own process group (`detached`) so that one
 * signal reaches a whole tree (nginx master and worker, taskset and its target), and so that Ctrl-C in the
 * terminal reaches only the bench, which then stops them in order.
 */
export function createProcessGroup(): ProcessGroup {
  const running = new Set<ManagedProcess>();

  function signalGroup(pid: number, signal: NodeJS.Signals): void {
    try {
      process.kill(-pid, signal);
    } catch {
      try {
        process.kill(pid, signal);
      } catch {
        // Already gone.
      }
    }
  }

  function spawnManaged(
    name: string,
    command: string,
    args: readonly string[],
    options: SpawnOptions,
  ): ManagedProcess {
    const [file, argv] =
      options.cpus === undefined ? [command, [...args]] : ['taskset', ['-c', options.cpus, command, ...args]];
    const child = spawn(file, argv, {
      cwd: options.cwd,
      env: options.env ?? process.env,
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: true,
    });
    let tail = '';
    const keep = (chunk: Buffer): void => {
      tail = (tail + chunk.toString('utf8')).slice(-OUTPUT_LIMIT);
    };
    child.stdout?.on('data', keep);
    child.stderr?.on('data', keep);
    let isAlive = true;
    const exited = new Promise<string>((resolve) => {
      child.once('exit', (code, signal) => {
        isAlive = false;
        running.delete(managed);
        resolve(signal ?? String(code));
      });
      child.once('error', (err) => {
        isAlive = false;
        running.delete(managed);
        keep(Buffer.from(`spawn error: ${err.message}\n`));
        resolve('error');
      });
    });
    const managed: ManagedProcess = {
      name,
      pid: child.pid ?? -1,
      child,
      exited,
      output: () => tail,
      alive: () => isAlive,
      async stop(graceMs = 3000) {
        if (!isAlive || managed.pid < 0) return;
        signalGroup(managed.pid, 'SIGTERM');
        const timer = setTimeout(() => signalGroup(managed.pid, 'SIGKILL'), graceMs);
        await exited;
        clearTimeout(timer);
        // A child that exits on SIGTERM may leave grandchildren behind in its group.
        signalGroup(managed.pid, 'SIGKILL');
      },
    };
    running.add(managed);
    return managed;
  }

  return {
    spawn: spawnManaged,
    async stopAll() {
      await Promise.all([...running].map((p) => p.stop()));
    },
    killAllNow() {
      for (const p of running) if (p.pid > 0) signalGroup(p.pid, 'SIGKILL');
      running.clear();
    },
  };
}
