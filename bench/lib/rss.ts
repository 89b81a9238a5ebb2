import { readFile, readdir } from 'node:fs/promises';

async function childrenOf(pid: number): Promise<number[]> {
  const found: number[] = [];
  let tasks: string[];
  try {
    tasks = await readdir(`/proc/${pid}/task`);
  } catch {
    return found;
  }
  for (const task of tasks) {
    try {
      const text = await readFile(`/proc/${pid}/task/${task}/children`, 'utf8');
      for (const part of text.split(' ')) if (part.trim() !== '') found.push(Number(part));
    } catch {
      // The task ended while we read.
    }
  }
  return found;
}

async function statusField(pid: number, field: 'VmHWM' | 'VmRSS'): Promise<number> {
  try {
    const text = await readFile(`/proc/${pid}/status`, 'utf8');
    const match = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(text);
    return match ? Number(match[1]) * 1024 : 0;
  } catch {
    return 0;
  }
}

/**
 * Sums a /proc status field over a process and its descendants, so that nginx (master + worker) and
 * multi-process gateways are measured whole. Each process's own peak is summed, which can overstate a tree
 * whose members peaked at different times; for single-process contenders it is exact.
 */
export async function treeMemoryBytes(pid: number, field: 'VmHWM' | 'VmRSS'): Promise<number> {
  let total = 0;
  const queue = [pid];
  const seen = new Set<number>();
  while (queue.length > 0) {
    const next = queue.shift()!;
    if (seen.has(next)) continue;
    seen.add(next);
    total += await statusField(next, field);
    queue.push(...(await childrenOf(next)));
  }
  return total;
}

/** USER_HZ: the unit of utime and stime in /proc/<pid>/stat on Linux. */
const TICK_US = 10_000;

async function cpuTicks(pid: number): Promise<number> {
  try {
    const text = await readFile(`/proc/${pid}/stat`, 'utf8');
    const fields = text.slice(text.lastIndexOf(')') + 2).split(' ');
    return Number(fields[11]) + Number(fields[12]);
  } catch {
    return 0;
  }
}

/**
 * CPU time (user + system) used so far by a process and its descendants, in microseconds. Time spent waiting for
 * a CPU another process holds is not counted, which makes CPU per request far steadier than requests/s on a
 * shared machine. Resolution: one clock tick (10 ms), so measure over thousands of requests.
 */
export async function treeCpuUs(pid: number): Promise<number> {
  let total = 0;
  const queue = [pid];
  const seen = new Set<number>();
  while (queue.length > 0) {
    const next = queue.shift()!;
    if (seen.has(next)) continue;
    seen.add(next);
    total += await cpuTicks(next);
    queue.push(...(await childrenOf(next)));
  }
  return total * TICK_US;
}
