import { getHeapSpaceStatistics, setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';

/** What {@link startHeapTrim} watches, and how often. */
export interface HeapTrimOptions {
  /** How often the event loop's use and the young generation are looked at. */
  checkEveryMs: number;
  /** Below this event-loop utilisation over one check period the process counts as idle. */
  idleUtilization: number;
  /** A young generation (both semi-spaces) above this size is worth giving back while idle. */
  minNewSpaceBytes: number;
  /** How many idle check periods in a row make the process idle enough to trim. */
  idleChecks: number;
}

export const DEFAULT_HEAP_TRIM: HeapTrimOptions = {
  checkEveryMs: 2000,
  idleUtilization: 0.05,
  minNewSpaceBytes: 8 * 2 ** 20,
  // 30 s: the trim costs the next burst one to two seconds of CPU (below), which traffic with pauses of a few
  // seconds would otherwise pay at every pause.
  idleChecks: 15,
};

type GcFunction = (options: { type: 'major'; execution: 'sync'; flavor: 'last-resort' }) => void;

let gcFunction: GcFunction | undefined;

/**
 * V8's `gc`, made reachable at run time: `--expose-gc` applies to contexts created after the flag is set, so a
 * fresh context hands it over (the pattern Node's `v8.setFlagsFromString` docs describe for run-time flags).
 */
function exposedGc(): GcFunction {
  if (gcFunction === undefined) {
    setFlagsFromString('--expose-gc');
    gcFunction = runInNewContext('gc') as GcFunction;
  }
  return gcFunction;
}

/** The young generation's current size (both semi-spaces), for the trim's decision, tests and the bench. */
export function youngGenerationBytes(): number {
  for (const space of getHeapSpaceStatistics()) if (space.space_name === 'new_space') return space.space_size;
  return 0;
}

/**
 * Gives back the young generation an idle node no longer needs. Start-up (config validation and compile) and
 * bursts (10,000 registrations) grow V8's young generation to its 64 MB maximum, and V8's memory reducer, which
 * would shrink it, does not run under Node: an idle gateway kept about 40 MB it did not use (134 MB idle RSS
 * with the demo's config, against 92 MB after one memory-reducing GC). When `idleChecks` check periods in a row
 * were idle and the young generation is large, one last-resort GC (about 50 ms, on an idle loop) shrinks it.
 * That GC is not free for what follows: it also drops compiled code, and the young generation grows back over
 * dozens of extra scavenges, so the first 20,000 requests after it cost about 1.5 s more CPU (h2load bench,
 * docs/http2.md); hence the long idle stretch asked before it. Returns the stop function.
 */
export function startHeapTrim(options: HeapTrimOptions = DEFAULT_HEAP_TRIM): () => void {
  let last = performance.eventLoopUtilization();
  // One trim per idle stretch: a young generation that stays large after a trim is not tried again until the
  // node has been busy.
  let trimmedWhileIdle = false;
  let idlePeriods = 0;
  const timer = setInterval(() => {
    const now = performance.eventLoopUtilization();
    const idle = performance.eventLoopUtilization(now, last).utilization < options.idleUtilization;
    last = now;
    if (!idle) {
      trimmedWhileIdle = false;
      idlePeriods = 0;
    } else if (
      ++idlePeriods >= options.idleChecks &&
      !trimmedWhileIdle &&
      youngGenerationBytes() > options.minNewSpaceBytes
    ) {
      trimmedWhileIdle = true;
      exposedGc()({ type: 'major', execution: 'sync', flavor: 'last-resort' });
    }
  }, options.checkEveryMs);
  timer.unref();
  return () => clearInterval(timer);
}
