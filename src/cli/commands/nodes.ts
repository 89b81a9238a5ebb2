import type { NodeView } from '../../gateway/lifecycle/node-membership.ts';
import { callAdmin, describeProblem } from '../admin-client.ts';
import { parseCommandArgs } from '../parse-command-args.ts';

const HELP = `Usage: portico nodes [--admin URL] [--token TOKEN] [--json]

Lists the Portico nodes sharing this node's store: id, state (up, gone after three missed
heartbeats, stopped after a clean shutdown), admin address, version, the configuration
revision each runs and when it was last heard from.
`;

/** `portico nodes`: the nodes sharing the store, read from a node's admin API. */
export async function runNodes(args: string[]): Promise<number> {
  const parsed = parseCommandArgs(
    args,
    {
      admin: { type: 'string', default: process.env.PORTICO_ADMIN_URL ?? 'http://127.0.0.1:8081' },
      token: { type: 'string', default: process.env.PORTICO_ADMIN_TOKEN },
      json: { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
    },
    HELP,
    process,
    1,
  );
  if (typeof parsed === 'number') return parsed;
  const { values } = parsed;
  const answer = await callAdmin(values.admin, values.token, 'GET', '/v1/nodes');
  if (answer.status !== 200) {
    console.error(`portico nodes: ${describeProblem(answer)}`);
    return 1;
  }
  const { nodes } = answer.body as { nodes: NodeView[] };
  if (values.json === true) {
    console.log(JSON.stringify(nodes, null, 2));
    return 0;
  }
  for (const node of nodes) {
    const config = node.config.source === 'file' ? 'own file' : `revision ${node.config.revision ?? '-'}`;
    const refused = node.config.failed === undefined ? '' : ` (refused ${node.config.failed.revision})`;
    console.log(
      `${node.id.padEnd(28)} ${node.state.padEnd(8)} ${node.admin.padEnd(26)} ${node.version.padEnd(8)} ${`${config}${refused}`.padEnd(24)} seen ${formatAgo(node.lastSeenMs)} ago`,
    );
  }
  return 0;
}

function formatAgo(ms: number): string {
  if (ms < 1000) return `${ms}ms`;
  if (ms < 120_000) return `${Math.round(ms / 1000)}s`;
  return `${Math.round(ms / 60_000)}m`;
}
