import { spawn } from 'node:child_process';
import { mkdtemp, mkdir, rm, symlink } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { eventually } from '../helpers/app.js';
import { BIN, runCli } from './run-cli.js';

const REPO = resolve(BIN, '..', '..');
const SLOW = { timeout: 120_000 };

// An installed package: node_modules/streamplane is the package, node_modules/.bin/streamplane links
// to its bin, and the command runs from an unrelated directory.
let project: string;
beforeAll(async () => {
  project = await mkdtemp(join(tmpdir(), 'streamplane-cli-'));
  await mkdir(join(project, 'node_modules', '.bin'), { recursive: true });
  await symlink(REPO, join(project, 'node_modules', 'streamplane'), 'dir');
  await symlink('../streamplane/bin/streamplane.js', join(project, 'node_modules', '.bin', 'streamplane'));
});
afterAll(async () => rm(project, { recursive: true, force: true }));

test('the bin runs through the node_modules/.bin symlink, from any directory', SLOW, async () => {
  const r = await runCli(['--version'], {}, { command: join(project, 'node_modules', '.bin', 'streamplane'), cwd: project });
  expect(r.stderr).toBe('');
  expect(r.code).toBe(0);
  expect(r.stdout).toMatch(/^\d+\.\d+\.\d+\n$/);
});

test('start runs the server in-process; the first start prints a key the other commands accept', SLOW, async () => {
  const child = spawn(process.execPath, [BIN, 'start', '--port', '0', '--host', '127.0.0.1'], {
    cwd: project,
    env: { PATH: process.env.PATH ?? '', DATABASE_URL: 'memory://', LOG_LEVEL: 'warn' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
  child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  const exited = new Promise<number | null>((r) => child.on('close', (code) => r(code)));
  try {
    const url = await eventually(() => /listening on (http:\/\/127\.0\.0\.1:\d+)/.exec(stdout)?.[1] ?? '', { timeoutMs: 90_000, intervalMs: 50 }).catch((err: Error) => {
      throw new Error(`${err.message}\nstdout: ${stdout}\nstderr: ${stderr}`);
    });
    const key = await eventually(() => /export STREAMPLANE_API_KEY=(\S+)/.exec(stdout)?.[1] ?? '', { timeoutMs: 5_000 });

    const listed = await runCli(['keys', 'list', '--json'], { STREAMPLANE_URL: url, STREAMPLANE_API_KEY: key });
    expect(listed.code, listed.stderr).toBe(0);
    expect(JSON.parse(listed.stdout)).toEqual({ data: [expect.objectContaining({ revoked_at: null })] });
  } finally {
    child.kill('SIGTERM');
  }
  // SIGTERM is a graceful shutdown, not a failure.
  expect(await exited).toBe(0);
});

test('start with an invalid configuration is a usage error (2)', SLOW, async () => {
  const r = await runCli(['start'], { DATABASE_URL: 'mysql://nope' });
  expect(r.code).toBe(2);
  expect(r.stderr).toMatch(/DATABASE_URL/);
});
