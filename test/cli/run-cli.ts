import { spawn } from 'node:child_process';
import { tmpdir } from 'node:os';
import { fileURLToPath } from 'node:url';
import { createServer } from 'node:net';
import { ADMIN_KEY, createTestApp, type TestApp } from '../helpers/app.js';

export const BIN = fileURLToPath(new URL('../../bin/streamplane.js', import.meta.url));

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/**
 * Runs the real CLI in a child process, from a directory outside the repo (it must not depend on the
 * cwd), with only the environment given: the developer's own STREAMPLANE_* must not leak in.
 */
export function runCli(args: string[], env: Record<string, string> = {}, opts: { cwd?: string; command?: string } = {}): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const [command, argv] = opts.command ? [opts.command, args] : [process.execPath, [BIN, ...args]];
    const child = spawn(command, argv, { cwd: opts.cwd ?? tmpdir(), env: { PATH: process.env.PATH ?? '', ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

/** A port nothing listens on: bound by us, then released. */
export async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as { port: number };
  await new Promise<void>((r) => server.close(() => r()));
  return port;
}

export const parseJson = <T = Record<string, unknown>>(text: string): T => JSON.parse(text) as T;

/** A real server for one test file, listening on loopback, and the CLI environment pointing at it. */
export async function listeningApp(): Promise<{ t: TestApp; env: Record<string, string> }> {
  const t = await createTestApp();
  return { t, env: { STREAMPLANE_URL: await t.app.listen({ port: 0, host: '127.0.0.1' }), STREAMPLANE_API_KEY: ADMIN_KEY } };
}
