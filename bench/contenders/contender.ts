import type { CpuList, ManagedProcess, ProcessGroup } from '../lib/processes.ts';
import type { Upstream } from '../lib/upstream.ts';

/** Everything a contender needs to start. */
export interface ContenderContext {
  group: ProcessGroup;
  tmpDir: string;
  upstream: Upstream;
  cpus: CpuList;
  repoRoot: string;
}

/** A contender that answers on `origin`; `process` is absent for `direct`. */
export interface RunningContender {
  label: string;
  origin: string;
  /** Portico's admin listener (registry API), when the contender has one. */
  adminOrigin?: string;
  process: ManagedProcess | undefined;
  stop(): Promise<void>;
}

/** How to start one contender. `label` names it in tables (e.g. two Portico configs in one scenario). */
export interface ContenderSpec {
  label: string;
  start(ctx: ContenderContext): Promise<RunningContender>;
}

/** Thrown when a contender does not become ready; the message carries the tail of its output. */
export class ContenderStartError extends Error {
  constructor(label: string, detail: string) {
    super(`${label}: failed to start${detail === '' ? '' : ` (${detail})`}`);
    this.name = 'ContenderStartError';
  }
}
