import { parseCommandArgs } from '../parse-command-args.ts';
import { adminOptions, fetchAdmin } from './inspect.ts';

const USAGE_HELP = `Usage: portico usage --service NAME --version V [--days 30] [--admin URL] [--token TOKEN] [--json]

Who calls a version of a service (a major 1, a minor 1.4 or an exact 1.4.0), how much and when last, summed
over every node sharing the store, over the last --days days.
`;

const PINS_HELP = `Usage: portico pins --service NAME [--move CONSUMER --to MAJOR | --unpin CONSUMER]
                   [--admin URL] [--token TOKEN] [--json]

Lists the consumers pinned to each major version of a service; --move pins a consumer to another major
(an admin token is needed), --unpin removes its pin (its next call pins it again).
`;

interface UsageAnswer {
  versions: string[];
  requests: number;
  pinnedConsumers: number;
  scope: string;
  consumers: { consumer: string; requests: number; lastSeenAt: string }[];
}

/** `portico usage`: who still calls a version, from the admin API of a running node. */
export async function runUsage(args: string[]): Promise<number> {
  const parsed = parseCommandArgs(
    args,
    {
      ...adminOptions,
      service: { type: 'string' },
      version: { type: 'string' },
      days: { type: 'string', default: '30' },
    },
    USAGE_HELP,
    process,
    1,
  );
  if (typeof parsed === 'number') return parsed;
  const { values } = parsed;
  if (values.service === undefined || values.version === undefined) {
    process.stderr.write(`--service and --version are required\n\n${USAGE_HELP}`);
    return 1;
  }
  const path = `/v1/services/${encodeURIComponent(values.service)}/versions/${encodeURIComponent(values.version)}/usage?days=${encodeURIComponent(values.days)}`;
  const usage = (await fetchAdmin(values.admin, values.token, path)) as UsageAnswer;
  if (values.json === true) {
    console.log(JSON.stringify(usage, null, 2));
    return 0;
  }
  console.log(
    `${values.service} ${values.version} (${usage.versions.join(', ') || 'no traffic'}): ${usage.requests} requests in ${values.days} days, ${usage.pinnedConsumers} consumers pinned (${usage.scope === 'cluster' ? 'all nodes' : 'this node'})`,
  );
  for (const line of usage.consumers)
    console.log(
      `  ${line.consumer.padEnd(28)} ${String(line.requests).padStart(10)}  last seen ${line.lastSeenAt}`,
    );
  return 0;
}

/** `portico pins`: list, move or remove the version pins of a service's consumers. */
export async function runPins(args: string[]): Promise<number> {
  const parsed = parseCommandArgs(
    args,
    {
      ...adminOptions,
      service: { type: 'string' },
      move: { type: 'string' },
      to: { type: 'string' },
      unpin: { type: 'string' },
    },
    PINS_HELP,
    process,
    1,
  );
  if (typeof parsed === 'number') return parsed;
  const { values } = parsed;
  if (values.service === undefined || (values.move !== undefined) !== (values.to !== undefined)) {
    process.stderr.write(`--service is required, and --move goes with --to\n\n${PINS_HELP}`);
    return 1;
  }
  const base = `/v1/services/${encodeURIComponent(values.service)}/pins`;
  if (values.move !== undefined) {
    await fetchAdmin(values.admin, values.token, `${base}/${encodeURIComponent(values.move)}`, {
      method: 'PUT',
      body: { version: values.to },
    });
    console.log(`${values.move} is pinned to ${values.service} ${values.to}`);
    return 0;
  }
  if (values.unpin !== undefined) {
    await fetchAdmin(values.admin, values.token, `${base}/${encodeURIComponent(values.unpin)}`, {
      method: 'DELETE',
    });
    console.log(`${values.unpin} is no longer pinned on ${values.service}`);
    return 0;
  }
  const answer = (await fetchAdmin(values.admin, values.token, base)) as {
    byVersion: Record<string, number>;
    pins: { consumer: string; version: string; pinnedAt: string }[];
  };
  if (values.json === true) console.log(JSON.stringify(answer, null, 2));
  else
    for (const pin of answer.pins)
      console.log(`${pin.consumer.padEnd(28)} v${pin.version.padEnd(6)} since ${pin.pinnedAt}`);
  return 0;
}
