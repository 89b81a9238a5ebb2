import { readFile } from 'node:fs/promises';
import { availableParallelism } from 'node:os';
import { treeCpuUs } from './rss.ts';

/** USER_HZ: the unit of /proc/stat and /proc/<pid>/stat times on Linux. */
const TICK_US = 10_000;

/** A point in time to measure other processes' CPU from. */
export interface DisturbanceMark {
  atMs: number;
  machineBusyUs: number;
  benchUs: number;
}

/**
 * Busy time of every CPU since boot: user, nice, system, irq, softirq and steal from /proc/stat's `cpu` line.
 * Steal counts because on a VM a neighbour's time is as disturbing as a local process's.
 */
async function machineBusyUs(): Promise<number> {
  try {
    const text = await readFile('/proc/stat', 'utf8');
    const fields = text.slice(0, text.indexOf('\n')).trim().split(/\s+/).slice(1).map(Number);
    const [user = 0, nice = 0, system = 0, , , irq = 0, softirq = 0, steal = 0] = fields;
    return (user + nice + system + irq + softirq + steal) * TICK_US;
  } catch {
    return Number.NaN;
  }
}

/** The bench's own CPU: this process, its reaped children (cutime, cstime) and its live descendants. */
async function benchTreeUs(): Promise<number> {
  let reaped: number;
  try {
    const text = await readFile('/proc/self/stat', 'utf8');
    const fields = text.slice(text.lastIndexOf(')') + 2).split(' ');
    reaped = (Number(fields[13]) + Number(fields[14])) * TICK_US;
  } catch {
    return Number.NaN;
  }
  return reaped + (await treeCpuUs(process.pid));
}

export async function markDisturbance(): Promise<DisturbanceMark> {
  const [machine, bench] = await Promise.all([machineBusyUs(), benchTreeUs()]);
  return { atMs: performance.now(), machineBusyUs: machine, benchUs: bench };
}

/**
 * The share of the machine's CPU capacity that processes outside the bench (other sessions, test suites,
 * cron) used since `from`: 0.1 means a tenth of all cores. Rounds above a threshold are repeated, since a
 * contender that shares its core measures slow through no fault of its own. NaN where /proc is unreadable.
 */
export async function otherCpuShareSince(from: DisturbanceMark): Promise<number> {
  const to = await markDisturbance();
  const capacityUs = (to.atMs - from.atMs) * 1000 * availableParallelism();
  if (capacityUs <= 0) return Number.NaN;
  const otherUs = to.machineBusyUs - from.machineBusyUs - (to.benchUs - from.benchUs);
  // Tick rounding can make a quiet window slightly negative.
  return Math.max(0, otherUs) / capacityUs;
}
