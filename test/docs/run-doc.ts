import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { chmod, mkdir, mkdtemp, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import type { TestContext } from 'node:test';
import { eventually } from '../helpers/eventually.ts';

const repoRoot = resolve(import.meta.dirname, '..', '..');

/** One fenced block of a document: its language, the words after it, and its text. */
export interface DocBlock {
  readonly lang: string;
  readonly flags: readonly string[];
  readonly text: string;
}

/** The fenced blocks of a Markdown document, including indented ones inside list items. */
export function docBlocks(markdown: string): DocBlock[] {
  const blocks: DocBlock[] = [];
  const fence = /^( *)```(\w*)([^\n]*)\n([\s\S]*?)^\1```[ \t]*$/gm;
  for (const match of markdown.matchAll(fence)) {
    const indent = match[1]?.length ?? 0;
    const text = (match[4] ?? '')
      .split('\n')
      .map((line) => line.slice(Math.min(indent, line.length - line.trimStart().length)))
      .join('\n');
    blocks.push({ lang: match[2] ?? '', flags: (match[3] ?? '').trim().split(/\s+/).filter(Boolean), text });
  }
  return blocks;
}

interface Shell {
  readonly dir: string;
  readonly env: NodeJS.ProcessEnv;
}

function run(
  shell: Shell,
  command: string,
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolveRun) => {
    const child = spawn('bash', ['-o', 'pipefail', '-c', command], { cwd: shell.dir, env: shell.env });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.once('close', (code) => resolveRun({ code, stdout, stderr }));
  });
}

/**
 * Runs a document's steps as a reader would, in a fresh folder where `portico` is this repository:
 * `file=NAME` blocks are written, `sh` blocks run (`skip`: not run; `background`: left running until the test
 * ends; `retry`: run again until the output matches), and a `text` block right after an `sh` block is the output
 * that command must print. `replace` maps text of the document to what the test uses (free ports).
 */
export async function runDocument(
  t: TestContext,
  docPath: string,
  replace: Readonly<Record<string, string>>,
  env: Readonly<Record<string, string>> = {},
): Promise<void> {
  let markdown = await readFile(resolve(repoRoot, docPath), 'utf8');
  for (const [from, to] of Object.entries(replace)) markdown = markdown.replaceAll(from, to);
  const dir = await mkdtemp(join(tmpdir(), 'portico-doc-'));
  const bin = join(dir, 'node_modules', '.bin');
  await mkdir(bin, { recursive: true });
  await symlink(join(repoRoot, 'test/docs/fixtures/portico-package'), join(dir, 'node_modules', 'portico'));
  const portico = join(bin, 'portico');
  await writeFile(
    portico,
    `#!/bin/sh\nexec "${process.execPath}" "${join(repoRoot, 'src/cli/main.ts')}" "$@"\n`,
  );
  await chmod(portico, 0o755);
  await writeFile(
    join(dir, 'package.json'),
    JSON.stringify({ name: 'doc-test', private: true, type: 'module' }),
  );
  const shell: Shell = {
    dir,
    env: { ...process.env, ...env, PATH: `${bin}:${dirname(process.execPath)}:${process.env.PATH ?? ''}` },
  };

  const background: { child: ChildProcess; output: () => string }[] = [];
  t.after(async () => {
    await Promise.all(
      background.map(async ({ child }) => {
        if (child.exitCode !== null || child.signalCode !== null) return;
        const exited = new Promise((resolveExit) => child.once('exit', resolveExit));
        process.kill(-(child.pid as number), 'SIGTERM');
        const timer = setTimeout(() => process.kill(-(child.pid as number), 'SIGKILL'), 5_000);
        await exited;
        clearTimeout(timer);
      }),
    );
    await rm(dir, { recursive: true, force: true });
  });
  const backgroundOutput = (): string => background.map((b) => b.output()).join('\n---\n');

  const blocks = docBlocks(markdown);
  for (let i = 0; i < blocks.length; i++) {
    const block = blocks[i] as DocBlock;
    const file = block.flags.find((flag) => flag.startsWith('file='));
    if (file !== undefined) {
      await writeFile(join(dir, file.slice('file='.length)), block.text);
      continue;
    }
    if (block.lang !== 'sh' || block.flags.includes('skip')) continue;
    if (block.flags.includes('background')) {
      const child = spawn('bash', ['-c', block.text], { cwd: dir, env: shell.env, detached: true });
      let output = '';
      child.stdout?.on('data', (chunk: Buffer) => (output += chunk.toString()));
      child.stderr?.on('data', (chunk: Buffer) => (output += chunk.toString()));
      background.push({ child, output: () => output });
      continue;
    }
    const next = blocks[i + 1];
    const expected = next?.lang === 'text' ? next.text.trim() : undefined;
    const check = async (): Promise<void> => {
      const result = await run(shell, block.text);
      const context = `step:\n${block.text}\nstderr:\n${result.stderr}\nbackground:\n${backgroundOutput()}`;
      assert.equal(result.code, 0, context);
      if (expected !== undefined) assert.equal(result.stdout.trim(), expected, context);
    };
    if (block.flags.includes('retry')) await eventually(check, 15_000, 200);
    else await check();
  }
}
