/**
 * The fault run of issue 12, item 5, as a standalone script (not a ratio benchmark, not in `npm run bench`):
 * three instances behind one Portico with default settings — one resets every connection, one accepts and never
 * answers, one is good — and an open-loop client at a fixed rate. Prints when the bad instances were found and the
 * success rate before and after.
 *
 *   node bench/faults/bad-instances.ts [--rate 100] [--seconds 60]
 */
import { parseArgs } from 'node:util';
import { startPacedLoad } from '../../test/helpers/paced-load.ts';
import { startPortico } from '../../test/helpers/portico-process.ts';
import { startUpstream, type TestUpstream } from '../../test/helpers/upstream.ts';

const { values } = parseArgs({
  options: { rate: { type: 'string', default: '100' }, seconds: { type: 'string', default: '60' } },
});
const rate = Number(values.rate);
const seconds = Number(values.seconds);

const resetting = await startUpstream('resetting');
const hanging = await startUpstream('hanging');
const good = await startUpstream('good');
resetting.fault = { kind: 'reset' };
hanging.fault = { kind: 'hang' };
const portico = await startPortico(
  ({ port, adminPort }) => `listen: 127.0.0.1:${port}
admin: { listen: 127.0.0.1:${adminPort} }
logging: { level: info, accessLog: false }
services:
  app:
    instances: [{ url: "${resetting.url}" }, { url: "${hanging.url}" }, { url: "${good.url}" }]
routes:
  - { name: app, match: { path: /app/** }, service: app }
`,
);

const idOf = (upstream: TestUpstream): string => `127.0.0.1:${upstream.port}`;
async function health(): Promise<Map<string, number>> {
  const text = await (await fetch(`${portico.adminUrl}/metrics`)).text();
  const out = new Map<string, number>();
  for (const match of text.matchAll(
    /^portico_upstream_instance_healthy\{[^}]*instance="([^"]+)"[^}]*\} (\d)/gm,
  ))
    out.set(match[1] as string, Number(match[2]));
  return out;
}

try {
  console.log(
    `${rate} req/s for ${seconds} s; resetting ${idOf(resetting)}, hanging ${idOf(hanging)}, good ${idOf(good)}`,
  );
  const startedWall = Date.now();
  const load = startPacedLoad(`${portico.url}/app/items`, rate, 60_000);
  const found = { resetting: -1, hanging: -1 };
  const timeline: string[] = [];
  let last = '';
  while (load.elapsedMs() < seconds * 1000) {
    const now = load.elapsedMs();
    const h = await health();
    const state = `resetting=${h.get(idOf(resetting))} hanging=${h.get(idOf(hanging))} good=${h.get(idOf(good))}`;
    if (state !== last) timeline.push(`${(now / 1000).toFixed(1).padStart(5)} s  ${state}`);
    last = state;
    if (found.resetting < 0 && h.get(idOf(resetting)) === 0) found.resetting = now;
    if (found.hanging < 0 && h.get(idOf(hanging)) === 0) found.hanging = now;
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
  // Answers still owed: up to the 30 s request timeout of a try to the hanging instance.
  const outcomes = await load.stop(35_000);
  const detectedAt = Math.max(found.resetting, found.hanging);
  const summarise = (label: string, list: typeof outcomes): void => {
    const ok = list.filter((o) => o.status === 200).length;
    const byStatus = new Map<string, number>();
    for (const o of list) {
      if (o.status === 200) continue;
      const key = o.status === 0 ? `error ${o.error ?? ''}` : String(o.status);
      byStatus.set(key, (byStatus.get(key) ?? 0) + 1);
    }
    const slow = list.filter((o) => o.status !== 200 && o.durationMs >= 25_000).length;
    const rateText = list.length === 0 ? '-' : `${((ok / list.length) * 100).toFixed(2)}%`;
    console.log(
      `${label.padEnd(24)} ${String(list.length).padStart(6)} requests, ${String(ok).padStart(6)} ok (${rateText}); failures ${JSON.stringify(Object.fromEntries(byStatus))}, ${slow} of them after waiting >= 25 s`,
    );
  };
  console.log('instance health (portico_upstream_instance_healthy):');
  for (const line of timeline) console.log(`  ${line}`);
  console.log(
    `resetting found after ${(found.resetting / 1000).toFixed(1)} s, hanging after ${(found.hanging / 1000).toFixed(1)} s`,
  );
  summarise('all', outcomes);
  summarise('before both found', detectedAt < 0 ? outcomes : outcomes.filter((o) => o.sentAtMs < detectedAt));
  summarise('after both found', detectedAt < 0 ? [] : outcomes.filter((o) => o.sentAtMs >= detectedAt));
  for (let from = 0; from < seconds; from += 10) {
    const slice = outcomes.filter((o) => o.sentAtMs >= from * 1000 && o.sentAtMs < (from + 10) * 1000);
    summarise(`  sent ${from}-${from + 10} s`, slice);
  }
  console.log('ejections and restores (portico log):');
  for (const line of portico.output().split('\n')) {
    if (!/ejected|back in rotation|panic/.test(line)) continue;
    let entry: { time?: string; msg?: string; instance?: string; durationMs?: number };
    try {
      entry = JSON.parse(line) as typeof entry;
    } catch {
      continue;
    }
    const at = ((Date.parse(entry.time ?? '') - startedWall) / 1000).toFixed(1).padStart(5);
    console.log(`  ${at} s  ${entry.msg ?? ''} ${entry.instance ?? ''} ${entry.durationMs ?? ''}`);
  }
} finally {
  await portico.stop('SIGKILL');
  await Promise.all([resetting.close(), hanging.close(), good.close()]);
}
