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
