import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import type { CpuList, ProcessGroup } from './processes.ts';

/** What one measurement produced. Latencies in milliseconds. */
export interface LoadResult {
  requests: number;
  rps: number;
  p50Ms: number;
  p99Ms: number;
  /** Connection errors, timeouts and non-2xx answers together. */
  errors: number;
}

/** One load run: `connections` keep-alive connections hammering `url` for `durationS` seconds. */
export interface LoadRequest {
  url: string;
  connections: number;
  durationS: number;
  /** GET when absent. */
  method?: string;
  /** Extra request headers, e.g. `authorization` and `content-type`. */
  headers?: Record<string, string>;
  /** The same body on every request. */
  body?: string;
}

/** A load generator the bench drives as a child process, pinned like every other support process. */
export interface LoadGenerator {
  readonly name: string;
  readonly version: string;
  run(request: LoadRequest): Promise<LoadResult>;
}

const WRK_SCRIPT = `
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format('WRKJSON {"requests":%.0f,"durationUs":%.0f,"errors":%.0f,"p50Us":%.0f,"p99Us":%.0f}\\n',
    summary.requests, summary.duration, e.connect + e.read + e.write + e.status + e.timeout,
    latency:percentile(50), latency:percentile(99)))
end
`;

function hasCommand(command: string): boolean {
  try {
    execFileSync('sh', ['-c', `command -v ${command}`], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

async function collect(
  group: ProcessGroup,
  name: string,
  file: string,
  args: string[],
  cpus: CpuList,
  timeoutMs: number,
) {
  const proc = group.spawn(name, file, args, { cpus });
  let stdout = '';
  proc.child.stdout?.on('data', (chunk: Buffer) => {
    stdout += chunk.toString('utf8');
  });
  const timer = setTimeout(() => void proc.stop(500), timeoutMs);
  const code = await proc.exited;
  clearTimeout(timer);
  return { code, stdout, output: proc.output() };
}

/** A Lua string literal: wrk's scripts are Lua, and JSON escapes are not all valid there. */
function luaString(text: string): string {
  return `"${[...Buffer.from(text, 'utf8')].map((b) => `\\${b}`).join('')}"`;
}

/** The report script, preceded by the method, headers and body when the request has any. */
function wrkScript(request: LoadRequest): string {
  const lines: string[] = [];
  if (request.method !== undefined) lines.push(`wrk.method = ${luaString(request.method)}`);
  if (request.body !== undefined) lines.push(`wrk.body = ${luaString(request.body)}`);
  for (const [name, value] of Object.entries(request.headers ?? {})) {
    lines.push(`wrk.headers[${luaString(name)}] = ${luaString(value)}`);
  }
  return lines.join('\n') + WRK_SCRIPT;
}

function createWrk(group: ProcessGroup, cpus: CpuList, tmpDir: string): LoadGenerator {
  const scripts = new Map<string, string>();
  // One script file per distinct request shape, written once and reused by every round.
  async function scriptFor(request: LoadRequest): Promise<string> {
    const text = wrkScript(request);
    let path = scripts.get(text);
    if (path === undefined) {
      path = join(tmpDir, `wrk-${createHash('sha256').update(text).digest('hex').slice(0, 16)}.lua`);
      await writeFile(path, text);
      scripts.set(text, path);
    }
    return path;
  }
  let version = 'wrk';
  try {
    execFileSync('wrk', ['-v'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  } catch (err) {
    // wrk -v prints its version and exits non-zero.
    const text = String((err as { stdout?: string }).stdout ?? '');
    version = /wrk [^\s]+/.exec(text)?.[0] ?? 'wrk';
  }
  return {
    name: 'wrk',
    version,
    async run(request) {
      const { url, connections, durationS } = request;
      const scriptPath = await scriptFor(request);
      const args = ['-t1', `-c${connections}`, `-d${durationS}s`, '--timeout', '5s', '-s', scriptPath, url];
      const { stdout, output } = await collect(group, 'wrk', 'wrk', args, cpus, (durationS + 15) * 1000);
      const line = stdout.split('\n').find((l) => l.startsWith('WRKJSON '));
      if (line === undefined) throw new Error(`wrk produced no result: ${output.slice(-500)}`);
      const raw = JSON.parse(line.slice('WRKJSON '.length)) as Record<string, number>;
      const requests = raw.requests ?? 0;
      return {
        requests,
        rps: requests / ((raw.durationUs ?? 1) / 1e6),
        p50Ms: (raw.p50Us ?? Number.NaN) / 1000,
        p99Ms: (raw.p99Us ?? Number.NaN) / 1000,
        errors: raw.errors ?? 0,
      };
    },
  };
}

function createAutocannon(group: ProcessGroup, cpus: CpuList): LoadGenerator {
  const require = createRequire(import.meta.url);
  const cli = require.resolve('autocannon/autocannon.js');
  const version = (require('autocannon/package.json') as { version: string }).version;
  return {
    name: 'autocannon',
    version: `autocannon ${version}`,
    async run({ url, connections, durationS, method, headers, body }) {
      const args = [cli, '-c', String(connections), '-d', String(durationS), '--json'];
      if (method !== undefined) args.push('-m', method);
      for (const [name, value] of Object.entries(headers ?? {})) args.push('-H', `${name}=${value}`);
      if (body !== undefined) args.push('-b', body);
      args.push(url);
      const { stdout, output } = await collect(
        group,
        'autocannon',
        process.execPath,
        args,
        cpus,
        (durationS + 20) * 1000,
      );
      const start = stdout.indexOf('{');
      if (start < 0) throw new Error(`autocannon produced no result: ${output.slice(-500)}`);
      const raw = JSON.parse(stdout.slice(start)) as {
        requests: { total: number };
        latency: { p50: number; p99: number };
        duration: number;
        errors: number;
        timeouts: number;
        non2xx: number;
      };
      return {
        requests: raw.requests.total,
        rps: raw.requests.total / raw.duration,
        p50Ms: raw.latency.p50,
        p99Ms: raw.latency.p99,
        errors: raw.errors + raw.timeouts + raw.non2xx,
      };
    },
  };
}

/**
 * Picks the load generator: wrk when installed (one C thread, far cheaper per request than autocannon, so
 * it holds back fast contenders less), autocannon otherwise, or the one named by `prefer`.
 */
export async function createLoadGenerator(
  group: ProcessGroup,
  cpus: CpuList,
  tmpDir: string,
  prefer?: 'wrk' | 'autocannon',
): Promise<LoadGenerator> {
  if (prefer !== 'autocannon' && hasCommand('wrk')) {
    return createWrk(group, cpus, tmpDir);
  }
  return createAutocannon(group, cpus);
}
