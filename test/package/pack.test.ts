import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { once } from 'node:events';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { delimiter, dirname, join, resolve } from 'node:path';
import { test } from 'node:test';
import { promisify } from 'node:util';
import { eventually } from '../helpers/eventually.ts';
import { freePort } from '../helpers/portico-process.ts';

const run = promisify(execFile);
const repoRoot = resolve(import.meta.dirname, '..', '..');
const version = (await import('../../package.json', { with: { type: 'json' } })).default.version;
// Node 24 (this test's own node) first on PATH, so the installed `#!/usr/bin/env node` bin runs on it.
const env = { ...process.env, PATH: `${dirname(process.execPath)}${delimiter}${process.env.PATH ?? ''}` };

test(
  'the packed tarball installs into an empty folder: portico --version, start, demo, and portico/sdk with types',
  { timeout: 240_000 },
  async (t) => {
    const work = await mkdtemp(join(tmpdir(), 'portico-pack-'));
    t.after(() => rm(work, { recursive: true, force: true }));

    // `npm pack` runs prepack, which builds dist/ from a clean checkout.
    const packed = await run('npm', ['pack', '--json', '--pack-destination', work], {
      cwd: repoRoot,
      env,
      maxBuffer: 64 * 1024 * 1024,
    });
    const [info] = JSON.parse(packed.stdout) as { filename: string; files: { path: string }[] }[];
    assert.ok(info !== undefined);
    const files = info.files.map((f) => f.path);
    assert.ok(files.includes('dist/cli/main.js') && files.includes('dist/sdk/index.d.ts'), files.join('\n'));
    assert.ok(files.includes('dist/dashboard/assets/index.html'), 'the dashboard files are packed');
    assert.ok(!files.some((f) => f.startsWith('src/') || f.startsWith('test/') || f.includes('.test.')));

    const app = join(work, 'app');
    await mkdir(app);
    await writeFile(join(app, 'package.json'), '{ "name": "consumer", "private": true, "type": "module" }\n');
    // Offline first: the packages are in npm's cache from this checkout's own install.
    await run(
      'npm',
      ['install', '--prefer-offline', '--no-audit', '--no-fund', '--omit=dev', join(work, info.filename)],
      { cwd: app, env, maxBuffer: 16 * 1024 * 1024 },
    );
    assert.ok(
      !existsSync(join(app, 'node_modules', '@opentelemetry', 'sdk-trace')),
      'the OpenTelemetry packages are optional peers, not installed with portico',
    );
    const du = await run('du', ['-sk', join(app, 'node_modules')]).catch(() => undefined);
    if (du !== undefined) t.diagnostic(`installed size: ${Number(du.stdout.split('\t')[0]) >> 10} MiB`);

    const npx = await run('npx', ['--no-install', 'portico', '--version'], { cwd: app, env });
    assert.equal(npx.stdout.trim(), version);

    const bin = join(app, 'node_modules', '.bin', 'portico');
    await t.test('portico start -c runs the gateway from the package', async () => {
      const [port, adminPort] = [await freePort(), await freePort()];
      await writeFile(
        join(app, 'portico.yaml'),
        `listen: 127.0.0.1:${port}\nadmin: { listen: 127.0.0.1:${adminPort} }\nstore: { path: ./data }\n`,
      );
      const child = spawn(bin, ['start', '-c', 'portico.yaml'], { cwd: app, env, stdio: 'pipe' });
      let output = '';
      child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
      child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
      const exited = once(child, 'exit');
      t.after(() => child.kill('SIGKILL'));
      await eventually(async () => {
        assert.equal(child.exitCode, null, output);
        assert.equal((await fetch(`http://127.0.0.1:${adminPort}/readyz`)).status, 200);
      }, 20_000);
      const answer = await fetch(`http://127.0.0.1:${port}/nothing-here`);
      assert.equal(((await answer.json()) as { code: string }).code, 'route_not_found');
      const dashboard = await fetch(`http://127.0.0.1:${adminPort}/`);
      assert.equal(dashboard.status, 200, 'the dashboard assets are found inside the package');
      child.kill('SIGTERM');
      assert.deepEqual(await exited, [0, null]);
    });

    await t.test('portico demo runs from the package', async () => {
      const [port, adminPort] = [await freePort(), await freePort()];
      const child = spawn(bin, ['demo', '--port', String(port), '--admin-port', String(adminPort)], {
        cwd: app,
        env,
        stdio: 'pipe',
      });
      let output = '';
      child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
      child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
      const exited = once(child, 'exit');
      t.after(() => child.kill('SIGKILL'));
      await eventually(() => assert.match(output, /Press Ctrl-C/), 30_000, 50);
      assert.equal((await fetch(`http://127.0.0.1:${port}/users/42`)).status, 200);
      child.kill('SIGINT');
      assert.deepEqual(await exited, [0, null]);
    });

    await t.test('import { createService } from "portico/sdk" runs and has types', async () => {
      await writeFile(
        join(app, 'service.ts'),
        `import { createClient, createService } from 'portico/sdk';
// @ts-expect-error: a misspelt option is a type error only when the package ships real types
export const typed: Parameters<typeof createService>[0] = { nmae: 'orders' };
console.log(typeof createService, typeof createClient);
`,
      );
      await writeFile(
        join(app, 'tsconfig.json'),
        JSON.stringify({
          compilerOptions: {
            module: 'nodenext',
            moduleResolution: 'nodenext',
            target: 'es2024',
            strict: true,
            noEmit: true,
            skipLibCheck: true,
            allowImportingTsExtensions: true,
            typeRoots: [join(repoRoot, 'node_modules', '@types')],
            types: ['node'],
          },
          files: ['service.ts'],
        }),
      );
      const ran = await run(process.execPath, ['service.ts'], { cwd: app, env });
      assert.equal(ran.stdout.trim(), 'function function');
      await run(process.execPath, [join(repoRoot, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', app], {
        cwd: app,
        env,
      });
    });
  },
);
