/**
 * Compares two V8 CPU profiles (`node --cpu-prof`, e.g. from `h2load.ts --cpu-prof DIR`) function by function: the
 * self time of each function per request in each profile and the difference, largest first. Both profiles must
 * cover the same number of requests (`--requests`, warm-up round included). Start-up shows up as module loading.
 *
 *   node bench/h2/profile-diff.ts <reference.cpuprofile> <other.cpuprofile> [--requests 60000] [--top 40]
 */
import { readFileSync } from 'node:fs';

interface ProfileNode {
  readonly id: number;
  readonly callFrame: { readonly functionName: string; readonly url: string; readonly lineNumber: number };
}
interface Profile {
  readonly nodes: readonly ProfileNode[];
  readonly samples: readonly number[];
  readonly timeDeltas: readonly number[];
}

const [referenceFile, otherFile] = process.argv.slice(2);
if (referenceFile === undefined || otherFile === undefined)
  throw new Error(
    'usage: profile-diff.ts <reference.cpuprofile> <other.cpuprofile> [--requests N] [--top N]',
  );
const option = (name: string, dflt: number): number => {
  const i = process.argv.indexOf(`--${name}`);
  return i < 0 ? dflt : Number(process.argv[i + 1]);
};
const requests = option('requests', 60_000);
const top = option('top', 40);

/** Self time (µs) per function, keyed by name, file and line. */
function selfTimes(file: string): Map<string, number> {
  const profile = JSON.parse(readFileSync(file, 'utf8')) as Profile;
  const keyOf = new Map<number, string>();
  for (const node of profile.nodes) {
    const { functionName, url, lineNumber } = node.callFrame;
    keyOf.set(node.id, `${functionName || '(anonymous)'} ${url.replace(/^.*\//, '')}:${lineNumber + 1}`);
  }
  const times = new Map<string, number>();
  for (let i = 0; i < profile.samples.length; i++) {
    const key = keyOf.get(profile.samples[i] as number) ?? '?';
    times.set(key, (times.get(key) ?? 0) + (profile.timeDeltas[i] ?? 0));
  }
  return times;
}

const reference = selfTimes(referenceFile);
const other = selfTimes(otherFile);
const busy = (times: Map<string, number>): number =>
  [...times].reduce((sum, [key, us]) => (key.startsWith('(idle)') ? sum : sum + us), 0);
const perRequest = (us: number): string => (us / requests).toFixed(2).padStart(7);
console.log(`busy µs/request: reference ${perRequest(busy(reference))}, other ${perRequest(busy(other))}`);
const rows = [...new Set([...reference.keys(), ...other.keys()])]
  .filter((key) => !key.startsWith('(idle)'))
  .map((key) => ({ key, before: reference.get(key) ?? 0, after: other.get(key) ?? 0 }))
  .sort((a, b) => Math.abs(b.after - b.before) - Math.abs(a.after - a.before));
console.log('    diff  reference    other  function');
for (const row of rows.slice(0, top))
  console.log(
    `${perRequest(row.after - row.before)}  ${perRequest(row.before)}  ${perRequest(row.after)}  ${row.key}`,
  );
