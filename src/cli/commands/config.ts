import { readFile } from 'node:fs/promises';
import { createTwoFilesPatch } from 'diff';
import { ConfigError, formatConfigIssues, type ConfigIssue } from '../../config/config-error.ts';
import { loadConfig } from '../../config/load.ts';
import { listNodes } from '../../gateway/lifecycle/node-membership.ts';
import { configStatusOf, type ConfigStatus } from '../../gateway/lifecycle/shared-config.ts';
import type { ConfigRevision, ConfigRevisionSummary, FleetStore } from '../../store/fleet-store.ts';
import { openFleetStore, parseStoreLocation } from '../../store/open-fleet-store.ts';
import { callAdmin, describeProblem } from '../admin-client.ts';
import { parseCommandArgs } from '../parse-command-args.ts';

const HELP = `Usage: portico config <command> [options]

Configuration shared by every node through the store (nodes started with --config-from-store
apply each new revision within a second; see docs/distributed.md).

Commands:
  apply -f FILE [--wait]   validate FILE and store it as a new revision
  history                  stored revisions, newest first
  diff REV REV             what changed between two revisions (unified diff)
  rollback REV [--wait]    store revision REV's document again, as a new revision
  status                   the revision each node runs, and the revisions nodes refused

Options:
  -f, --file FILE          the configuration to apply (YAML or JSON)
      --wait               wait until every node following the store ran or refused the revision
                           (exit 1 when a node refused it)
      --admin URL          a node's admin API (default $PORTICO_ADMIN_URL or http://127.0.0.1:8081)
      --token TOKEN        admin token (default $PORTICO_ADMIN_TOKEN)
      --store WHERE        talk to the store directly instead (redis://HOST:PORT or embedded:PATH):
                           how the first revision is stored before any node runs
      --store-prefix P     key prefix in Redis (default portico:)
      --json               machine-readable output
  -h, --help               show this help
`;

const OPTIONS = {
  file: { type: 'string', short: 'f' },
  wait: { type: 'boolean' },
  admin: { type: 'string', default: process.env.PORTICO_ADMIN_URL ?? 'http://127.0.0.1:8081' },
  token: { type: 'string', default: process.env.PORTICO_ADMIN_TOKEN },
  store: { type: 'string' },
  'store-prefix': { type: 'string', default: process.env.PORTICO_STORE_PREFIX ?? 'portico:' },
  json: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
} as const;

/** A revision as stored or found, without its document. */
type StoredSummary = ConfigRevisionSummary & { readonly created?: boolean };

/** The operations of `portico config`, through a node's admin API or straight on the store. */
interface ConfigBackend {
  apply(file: string, text: string): Promise<StoredSummary>;
  rollback(revision: number): Promise<StoredSummary>;
  history(): Promise<ConfigRevisionSummary[]>;
  revision(revision: number): Promise<ConfigRevision>;
  status(): Promise<ConfigStatus>;
  close(): Promise<void>;
}

/** A refusal the command explains and exits 1 on, without a stack. */
class CommandError extends Error {}

/** `portico config apply|history|diff|rollback|status`. */
export async function runConfig(args: string[]): Promise<number> {
  const parsed = parseCommandArgs(args, OPTIONS, HELP, process, 1, true);
  if (typeof parsed === 'number') return parsed;
  const { values, positionals } = parsed;
  const [command, ...rest] = positionals;
  if (command === undefined) {
    process.stderr.write(HELP);
    return 1;
  }
  let backend: ConfigBackend;
  if (values.store !== undefined) {
    const store = parseStoreLocation(values.store, values['store-prefix']);
    if (typeof store === 'string') return fail(store);
    backend = storeBackend(await openFleetStore(store, process.cwd()));
  } else backend = adminBackend(values.admin, values.token);
  try {
    return await run(backend, command, rest, values);
  } catch (err) {
    if (err instanceof CommandError) return fail(err.message);
    if (err instanceof ConfigError) {
      console.error(formatConfigIssues(err.issues));
      return 1;
    }
    throw err;
  } finally {
    await backend.close();
  }
}

async function run(
  backend: ConfigBackend,
  command: string,
  rest: string[],
  values: { file?: string | undefined; wait?: boolean | undefined; json?: boolean | undefined },
): Promise<number> {
  switch (command) {
    case 'apply': {
      if (values.file === undefined) return fail('config apply needs -f FILE');
      const text = await readFile(values.file, 'utf8').catch((err: NodeJS.ErrnoException) => {
        throw new CommandError(
          `cannot read ${values.file}: ${err.code === 'ENOENT' ? 'file not found' : err.message}`,
        );
      });
      const stored = await backend.apply(values.file, text);
      return report(backend, stored, values);
    }
    case 'rollback': {
      const revision = revisionArg(rest[0]);
      return report(backend, await backend.rollback(revision), values);
    }
    case 'history': {
      const revisions = await backend.history();
      if (values.json === true) console.log(JSON.stringify(revisions, null, 2));
      else if (revisions.length === 0) console.log('no configuration stored yet');
      else
        for (const r of revisions)
          console.log(
            `${String(r.revision).padStart(5)}  ${new Date(r.createdAt).toISOString()}  ${r.author.padEnd(16)} ${r.note.padEnd(16)} ${r.sha256.slice(0, 12)}`,
          );
      return 0;
    }
    case 'diff': {
      const [a, b] = [revisionArg(rest[0]), revisionArg(rest[1])];
      const [old, next] = await Promise.all([backend.revision(a), backend.revision(b)]);
      const patch = createTwoFilesPatch(`revision ${a}`, `revision ${b}`, old.document, next.document);
      process.stdout.write(patch);
      return 0;
    }
    case 'status': {
      const status = await backend.status();
      if (values.json === true) console.log(JSON.stringify(status, null, 2));
      else printStatus(status);
      return 0;
    }
    default:
      return fail(`unknown config command "${command}" (apply, history, diff, rollback, status)`);
  }
}

/** Prints what was stored; with --wait, follows the nodes until each ran or refused it. */
async function report(
  backend: ConfigBackend,
  stored: StoredSummary,
  values: { wait?: boolean | undefined; json?: boolean | undefined },
): Promise<number> {
  if (values.json !== true)
    console.log(
      stored.created === false
        ? `unchanged: revision ${stored.revision} holds this document already`
        : `stored revision ${stored.revision} (${stored.sha256.slice(0, 12)})`,
    );
  if (values.wait !== true) {
    if (values.json === true) console.log(JSON.stringify(stored, null, 2));
    return 0;
  }
  const started = Date.now();
  let status: ConfigStatus;
  for (;;) {
    status = await backend.status();
    const followers = status.nodes.filter((n) => n.state === 'up' && n.source === 'store');
    const settled = followers.every(
      (n) => n.revision === stored.revision || n.failed?.revision === stored.revision,
    );
    if (settled || Date.now() - started > 10_000) break;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  const refused = status.nodes.filter((n) => n.failed?.revision === stored.revision);
  if (values.json === true)
    console.log(JSON.stringify({ ...stored, waitedMs: Date.now() - started, status }, null, 2));
  else printStatus(status);
  const behind = status.nodes.filter(
    (n) =>
      n.state === 'up' &&
      n.source === 'store' &&
      n.revision !== stored.revision &&
      n.failed?.revision !== stored.revision,
  );
  if (behind.length > 0)
    console.error(`still not applied after 10 s on: ${behind.map((n) => n.id).join(', ')}`);
  return refused.length > 0 || behind.length > 0 ? 1 : 0;
}

function printStatus(status: ConfigStatus): void {
  console.log(`latest revision: ${status.latest ?? 'none'}`);
  for (const node of status.nodes) {
    const runs = node.source === 'file' ? 'own file' : `revision ${node.revision ?? '-'}`;
    console.log(`${node.id.padEnd(28)} ${node.state.padEnd(8)} ${runs}`);
    if (node.failed !== undefined) {
      console.log(`${''.padEnd(28)} refused revision ${node.failed.revision}:`);
      for (const error of node.failed.errors) console.log(`${''.padEnd(30)}${error}`);
    }
  }
}

function revisionArg(text: string | undefined): number {
  const n = Number(text);
  if (!Number.isSafeInteger(n) || n < 1)
    throw new CommandError(`expected a revision number, got "${text ?? ''}"`);
  return n;
}

function fail(message: string): number {
  console.error(`portico config: ${message}`);
  return 1;
}

function adminBackend(admin: string, token: string | undefined): ConfigBackend {
  const call = async (method: string, path: string, body?: { text: string; contentType: string }) => {
    const answer = await callAdmin(admin, token, method, path, body);
    if (answer.status >= 400) {
      const errors = (answer.body as { errors?: ConfigIssue[] }).errors;
      if (Array.isArray(errors)) throw new ConfigError(errors);
      throw new CommandError(`${method} ${path}: ${describeProblem(answer)}`);
    }
    return answer.body;
  };
  return {
    async apply(file, text) {
      try {
        const contentType = file.toLowerCase().endsWith('.json') ? 'application/json' : 'application/yaml';
        return (await call('POST', '/v1/config', { text, contentType })) as StoredSummary;
      } catch (err) {
        // The node names the document after its endpoint; the operator knows it by its file.
        if (err instanceof ConfigError)
          throw new ConfigError(
            err.issues.map((issue) => (issue.file === 'POST /v1/config' ? { ...issue, file } : issue)),
          );
        throw err;
      }
    },
    rollback: async (revision) =>
      (await call('POST', '/v1/config/rollback', {
        text: JSON.stringify({ revision }),
        contentType: 'application/json',
      })) as StoredSummary,
    history: async () =>
      ((await call('GET', '/v1/config/revisions')) as { revisions: ConfigRevisionSummary[] }).revisions,
    revision: async (revision) => (await call('GET', `/v1/config/revisions/${revision}`)) as ConfigRevision,
    status: async () => (await call('GET', '/v1/config/status')) as ConfigStatus,
    close: async () => {},
  };
}

function storeBackend(fleet: FleetStore): ConfigBackend {
  const found = async (revision: number): Promise<ConfigRevision> => {
    const stored = await fleet.revision(revision);
    if (stored === undefined) throw new CommandError(`no configuration revision ${revision} in the store`);
    return stored;
  };
  const summary = ({ document: _document, ...rest }: ConfigRevision, created: boolean): StoredSummary => ({
    ...rest,
    created,
  });
  return {
    async apply(file, text) {
      // Validated here, with this shell's environment: the nodes interpolate with their own.
      await loadConfig(file, process.env);
      const added = await fleet.addRevision(text, 'cli', 'apply');
      return summary(added.revision, added.created);
    },
    async rollback(revision) {
      const target = await found(revision);
      const added = await fleet.addRevision(target.document, 'cli', `rollback to ${revision}`);
      return summary(added.revision, added.created);
    },
    history: () => fleet.history(),
    revision: found,
    status: async () => configStatusOf((await fleet.history(1))[0]?.revision ?? null, await listNodes(fleet)),
    close: () => fleet.close(),
  };
}
