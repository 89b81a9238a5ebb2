import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, realpathSync } from 'node:fs';
import { mkdir, mkdtemp, rename, rm, writeFile } from 'node:fs/promises';
import { arch, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { test, type TestContext } from 'node:test';
import { request } from 'undici';
import { eventually } from '../helpers/eventually.ts';
import { freePort } from '../helpers/portico-process.ts';
import { startUpstream } from '../helpers/upstream.ts';

const root = resolve(import.meta.dirname, '..', '..');
const nodeBinary = join(root, 'node_modules', 'node', 'bin', 'node');
const suite = 'bookworm';
// debootstrap takes about three minutes from the mirror; the finished root file system is kept in the
// temporary directory (never in the repository), so later runs on the same machine start from it.
const rootfsCache = join(tmpdir(), 'portico-container-test', `${suite}-minbase-${arch()}`);

interface Outcome {
  code: number | null;
  stdout: string;
  stderr: string;
  missing: boolean;
}

/** Runs a command to its end (bounded by `timeoutMs`); never throws, a missing binary is `missing`. */
function run(
  command: string,
  args: readonly string[],
  options: { timeoutMs?: number; env?: NodeJS.ProcessEnv } = {},
): Promise<Outcome> {
  return new Promise((resolveRun) => {
    const child = spawn(command, args, {
      env: options.env ?? process.env,
      stdio: ['ignore', 'pipe', 'pipe'],
      timeout: options.timeoutMs ?? 120_000,
      killSignal: 'SIGKILL',
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.once('error', (err: NodeJS.ErrnoException) =>
      resolveRun({ code: null, stdout, stderr: err.message, missing: err.code === 'ENOENT' }),
    );
    child.once('close', (code) => resolveRun({ code, stdout, stderr, missing: false }));
  });
}

function lastLines(text: string, count = 15): string {
  return text.trim().split('\n').slice(-count).join('\n');
}

/** The Debian mirror apt uses here (one-line or deb822 sources), so debootstrap needs no other network. */
function debianMirror(): string {
  const files = ['/etc/apt/sources.list'];
  if (existsSync('/etc/apt/sources.list.d'))
    for (const file of readdirSync('/etc/apt/sources.list.d').sort())
      files.push(join('/etc/apt/sources.list.d', file));
  for (const file of files) {
    if (!existsSync(file)) continue;
    const text = readFileSync(file, 'utf8');
    for (const block of text.split(/\n\s*\n/)) {
      const uri = /^URIs:\s*(\S+)/m.exec(block)?.[1];
      const suites = /^Suites:\s*(.+)$/m.exec(block)?.[1]?.split(/\s+/) ?? [];
      if (uri !== undefined && suites.includes(suite) && /\/debian\/?$/.test(uri)) return uri;
    }
    for (const line of text.split('\n')) {
      const match = /^deb\s+(?:\[[^\]]*\]\s+)?(\S+)\s+(\S+)/.exec(line.trim());
      if (match?.[2] === suite && /\/debian\/?$/.test(match[1] ?? '')) return match[1] as string;
    }
  }
  return 'http://deb.debian.org/debian';
}

/** A Debian root file system (debootstrap minbase), from the cache when an earlier run made one. */
async function debianRootfs(t: TestContext, debootstrap: string): Promise<string | { skip: string }> {
  if (existsSync(join(rootfsCache, 'usr', 'bin', 'sh'))) return rootfsCache;
  await mkdir(join(rootfsCache, '..'), { recursive: true });
  const target = await mkdtemp(`${rootfsCache}.partial-`);
  const mirror = debianMirror();
  const startedAt = Date.now();
  const made = await run(debootstrap, ['--variant=minbase', suite, target, mirror], {
    timeoutMs: 8 * 60_000,
  });
  if (made.code !== 0) {
    await rm(target, { recursive: true, force: true });
    return {
      skip: `debootstrap could not make a ${suite} base from ${mirror}: ${lastLines(made.stderr || made.stdout, 3)}`,
    };
  }
  t.diagnostic(`debootstrap ${suite} from ${mirror}: ${Math.round((Date.now() - startedAt) / 1000)} s`);
  try {
    await rename(target, rootfsCache);
  } catch {
    // Another run finished first: use its copy.
    await rm(target, { recursive: true, force: true });
  }
  return rootfsCache;
}

/** The npm package the machine runs (the base image needs npm beside node for the Containerfile's build). */
function npmPackage(): string | undefined {
  // `npm root -g` would answer beside node_modules/node (where no npm is), so follow the npm command itself.
  const candidates = [process.env.npm_execpath ?? ''];
  for (const dir of (process.env.PATH ?? '').split(':')) candidates.push(join(dir, 'npm'));
  for (const candidate of candidates) {
    if (candidate === '' || !existsSync(candidate)) continue;
    const dir = resolve(realpathSync(candidate), '..', '..');
    if (existsSync(join(dir, 'bin', 'npm-cli.js'))) return dir;
  }
  return undefined;
}

/** Host pids of the processes below `pid` (buildah's chroot isolation has no PID namespace of its own). */
function descendants(pid: number): number[] {
  const children = new Map<number, number[]>();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const parent = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      children.set(parent, [...(children.get(parent) ?? []), Number(entry)]);
    } catch {
      // The process ended while /proc was read.
    }
  }
  const found: number[] = [];
  const queue = [pid];
  for (let next = queue.shift(); next !== undefined; next = queue.shift()) {
    for (const child of children.get(next) ?? []) {
      found.push(child);
      queue.push(child);
    }
  }
  return found;
}

function commandLine(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').replaceAll('\0', ' ');
  } catch {
    return '';
  }
}

function realUid(pid: number): number {
  const line = readFileSync(`/proc/${pid}/status`, 'utf8')
    .split('\n')
    .find((l) => l.startsWith('Uid:'));
  return Number(line?.split(/\s+/)[1]);
}

interface ImageConfig {
  User: string;
  Entrypoint: string[];
  Cmd: string[];
  Healthcheck?: { Test: string[] };
  Volumes?: Record<string, unknown>;
  StopSignal?: string;
}

test(
  'the Containerfile builds with buildah on a local Node 24 base; the image runs as 10001, proxies, and drains on SIGTERM',
  { timeout: 15 * 60_000 },
  async (t) => {
    if (process.platform !== 'linux')
      return t.skip(`container images are built on Linux only, not ${process.platform}`);
    const buildahVersion = await run('buildah', ['--version']);
    if (buildahVersion.missing) return t.skip('buildah is not installed (.ci/run installs it with apt-get)');
    const debootstrap = ['/usr/sbin/debootstrap', '/usr/bin/debootstrap'].find((file) => existsSync(file));
    if (debootstrap === undefined)
      return t.skip('debootstrap is not installed (.ci/run installs it with apt-get)');
    // Without root, debootstrap cannot create device nodes and chroot isolation needs user namespaces set up
    // for rootless buildah, which this test does not attempt.
    if (process.getuid?.() !== 0)
      return t.skip(
        `debootstrap and buildah's chroot isolation need root here; this runs as uid ${process.getuid?.()}`,
      );
    if (!existsSync(nodeBinary))
      return t.skip(`no Node 24 binary at ${nodeBinary} (npm ci installs the node package)`);
    const npm = npmPackage();
    if (npm === undefined) return t.skip('no npm command found on PATH to put in the base image');

    const work = await mkdtemp(join(tmpdir(), 'portico-image-'));
    const env = { ...process.env, TMPDIR: join(work, 'tmp') };
    await mkdir(env.TMPDIR, { recursive: true });
    const storage = [
      '--root',
      join(work, 'storage'),
      '--runroot',
      join(work, 'run'),
      '--storage-driver',
      'vfs',
    ];
    const buildah = (args: readonly string[], timeoutMs?: number): Promise<Outcome> =>
      run('buildah', [...storage, ...args], { env, timeoutMs });
    t.after(async () => {
      await buildah(['rm', '--all']);
      await buildah(['rmi', '--all', '--force']);
      await rm(work, { recursive: true, force: true });
    });
    const must = async (args: readonly string[], timeoutMs?: number): Promise<string> => {
      const outcome = await buildah(args, timeoutMs);
      assert.equal(outcome.code, 0, `buildah ${args.join(' ')}:\n${lastLines(outcome.stderr)}`);
      return outcome.stdout.trim();
    };

    const rootfs = await debianRootfs(t, debootstrap);
    if (typeof rootfs !== 'string') return t.skip(rootfs.skip);

    // The base image: Debian minbase + the project's own Node 24 + the machine's npm, in place of node:24-slim.
    const startedAt = Date.now();
    const scratch = await buildah(['from', 'scratch']);
    if (scratch.code !== 0)
      return t.skip(`buildah cannot create a container here: ${lastLines(scratch.stderr, 3)}`);
    const base = scratch.stdout.trim();
    await must(['copy', base, rootfs, '/'], 5 * 60_000);
    await must(['copy', base, nodeBinary, '/usr/local/bin/node']);
    await must(['copy', base, npm, '/usr/local/lib/node_modules/npm'], 5 * 60_000);
    await must([
      'config',
      '--env',
      'PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin',
      base,
    ]);
    // This machine reaches the npm registry through a proxy whose CA it trusts with NODE_EXTRA_CA_CERTS; the
    // base carries the same trust, as node:24-slim carries Debian's CA bundle.
    const extraCa = process.env.NODE_EXTRA_CA_CERTS;
    if (extraCa !== undefined && existsSync(extraCa)) {
      await must(['copy', base, extraCa, '/etc/ssl/certs/portico-test-extra-ca.pem']);
      await must(['config', '--env', 'NODE_EXTRA_CA_CERTS=/etc/ssl/certs/portico-test-extra-ca.pem', base]);
    }
    const linked = await buildah([
      'run',
      '--isolation',
      'chroot',
      base,
      '--',
      'sh',
      '-c',
      'ln -s ../lib/node_modules/npm/bin/npm-cli.js /usr/local/bin/npm && node --version && npm --version',
    ]);
    if (linked.code !== 0)
      return t.skip(`buildah cannot run a chroot-isolated container here: ${lastLines(linked.stderr, 3)}`);
    assert.match(linked.stdout, /^v24\./);
    // The Containerfile's first stage runs `npm ci`: without the registry the build cannot work at all.
    const reach = await buildah([
      'run',
      '--isolation',
      'chroot',
      base,
      '--',
      'node',
      '-e',
      "fetch('https://registry.npmjs.org/semver').then((r) => process.exit(r.ok ? 0 : 2), (e) => { console.error(e.cause?.message ?? e.message); process.exit(1); })",
    ]);
    if (reach.code !== 0)
      return t.skip(
        `the npm registry is not reachable from a container here (the build's npm ci needs it): ${lastLines(reach.stderr, 2)}`,
      );
    await must(['commit', '--quiet', base, 'localhost/portico-test-base:24'], 5 * 60_000);
    await must(['rm', base]);
    t.diagnostic(`base image: ${Math.round((Date.now() - startedAt) / 1000)} s`);

    const buildStartedAt = Date.now();
    const built = await buildah(
      [
        'bud',
        '--isolation',
        'chroot',
        '--format',
        'docker',
        '--pull=never',
        '--build-arg',
        'BASE_IMAGE=localhost/portico-test-base:24',
        '-t',
        'localhost/portico:test',
        '-f',
        join(root, 'Containerfile'),
        root,
      ],
      8 * 60_000,
    );
    assert.equal(
      built.code,
      0,
      `the Containerfile does not build:\n${lastLines(built.stdout + built.stderr, 30)}`,
    );
    t.diagnostic(`buildah bud: ${Math.round((Date.now() - buildStartedAt) / 1000)} s`);

    const inspected = JSON.parse(await must(['inspect', '--type', 'image', 'localhost/portico:test'])) as {
      Docker: { config: ImageConfig };
    };
    const config = inspected.Docker.config;
    assert.equal(config.User, '10001:10001');
    assert.equal(config.StopSignal, 'SIGTERM');
    assert.deepEqual(Object.keys(config.Volumes ?? {}), ['/var/lib/portico']);
    assert.match(config.Healthcheck?.Test.join(' ') ?? '', /http:\/\/127\.0\.0\.1:8082\/readyz/);

    const container = await must(['from', '--pull=never', 'localhost/portico:test']);
    // Only production dependencies, plus the optional OpenTelemetry peers (WITH_TRACING defaults to true).
    const modules = await buildah([
      'run',
      '--isolation',
      'chroot',
      container,
      '--',
      'node',
      '-e',
      "for (const m of ['@opentelemetry/sdk-trace', '@opentelemetry/exporter-trace-otlp-http', 'typescript', 'eslint']) { try { require.resolve(m); console.log(m, 'present'); } catch { console.log(m, 'absent'); } }",
    ]);
    assert.equal(modules.code, 0, modules.stderr);
    assert.deepEqual(modules.stdout.trim().split('\n'), [
      '@opentelemetry/sdk-trace present',
      '@opentelemetry/exporter-trace-otlp-http present',
      'typescript absent',
      'eslint absent',
    ]);

    // A mounted config on loopback ports: chroot isolation shares this machine's network namespace.
    const slow = await startUpstream('slow');
    t.after(() => slow.close());
    slow.fault = { kind: 'delay', ms: 1500 };
    slow.handler = (_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ upstream: 'slow' }));
    };
    const port = await freePort();
    const adminPort = await freePort();
    const statusPort = await freePort();
    const configFile = join(work, 'portico.yaml');
    await writeFile(
      configFile,
      `listen: 127.0.0.1:\${PORTICO_PORT}
admin: { listen: 127.0.0.1:${adminPort} }
status: { listen: 127.0.0.1:${statusPort} }
store: { kind: embedded, path: /var/lib/portico }
logging: { level: info, accessLog: false }
shutdownTimeout: 10s
services:
  slow: { instances: [{ url: "${slow.url}" }] }
routes:
  - { name: slow, match: { path: /slow/** }, service: slow }
`,
      { mode: 0o644 },
    );
    const gateway: ChildProcess = spawn(
      'buildah',
      [
        ...storage,
        'run',
        '--isolation',
        'chroot',
        '--env',
        `PORTICO_PORT=${port}`,
        '--volume',
        `${configFile}:/etc/portico/portico.yaml:ro`,
        container,
        '--',
        ...config.Entrypoint,
        ...config.Cmd,
      ],
      { env, stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let output = '';
    gateway.stdout?.on('data', (chunk: Buffer) => (output += chunk.toString()));
    gateway.stderr?.on('data', (chunk: Buffer) => (output += chunk.toString()));
    const exited = new Promise<number | null>((resolveExit) =>
      gateway.once('exit', (code) => resolveExit(code)),
    );
    t.after(async () => {
      if (gateway.exitCode !== null || gateway.pid === undefined) return;
      for (const pid of descendants(gateway.pid)) process.kill(pid, 'SIGKILL');
      gateway.kill('SIGKILL');
      await exited;
    });

    await eventually(
      async () => {
        assert.equal(gateway.exitCode, null, `the container exited:\n${lastLines(output)}`);
        const ready = await request(`http://127.0.0.1:${statusPort}/readyz`);
        await ready.body.dump();
        assert.equal(ready.statusCode, 200);
      },
      60_000,
      200,
    );
    // buildah's own chroot helper carries the same arguments; the gateway is the process whose argv[0] is node.
    const gatewayPid = descendants(gateway.pid as number).find((pid) =>
      /^(?:\S*\/)?node \/app\/dist\/cli\/main\.js /.test(commandLine(pid)),
    );
    assert.ok(gatewayPid !== undefined, 'the gateway process under buildah run');
    assert.equal(realUid(gatewayPid), 10001, 'the gateway runs as the image user');

    const notFound = await request(`http://127.0.0.1:${port}/nowhere`);
    assert.equal(notFound.statusCode, 404);
    assert.equal(((await notFound.body.json()) as { code: string }).code, 'route_not_found');

    const inflight = request(`http://127.0.0.1:${port}/slow/report`).then(async (res) => ({
      status: res.statusCode,
      body: (await res.body.json()) as { upstream: string },
    }));
    await eventually(() => assert.equal(slow.requests.length, 1));
    // What a container runtime does on stop: STOPSIGNAL to the container's main process.
    process.kill(gatewayPid, 'SIGTERM');
    const answer = await inflight.catch((err: unknown) => {
      throw new Error(`the in-flight request failed during the drain:\n${lastLines(output)}`, { cause: err });
    });
    assert.equal(answer.status, 200, 'the in-flight request finishes during the drain');
    assert.equal(answer.body.upstream, 'slow');
    assert.equal(await exited, 0, `buildah run exit status:\n${lastLines(output)}`);
    assert.match(output, /shutting down: draining/);
  },
);
