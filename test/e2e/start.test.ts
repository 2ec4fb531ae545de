import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

/**
 * What `npm start` runs (its prestart build, then `node dist/main.js`): a real process on a real port
 * with PGlite in a data directory. Shows the first-start key, data surviving a restart, and a clean SIGTERM.
 */
const ROOT = join(import.meta.dirname, '..', '..');

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer().listen(0, '127.0.0.1', () => {
      const port = (srv.address() as { port: number }).port;
      srv.close(() => resolve(port));
    }).on('error', reject);
  });
}

interface Started { child: ChildProcess; out: () => string; url: string; exited: Promise<number | null> }

async function startServer(env: Record<string, string>): Promise<Started> {
  const port = await freePort();
  let out = '';
  const child = spawn(process.execPath, ['dist/main.js'], {
    cwd: ROOT,
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', PORT: String(port), HOST: '127.0.0.1', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  child.stdout!.on('data', (d) => (out += d));
  child.stderr!.on('data', (d) => (out += d));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  const url = `http://127.0.0.1:${port}`;
  const deadline = performance.now() + 90_000; // generous: CI machines can be busy
  for (;;) {
    if (child.exitCode !== null) throw new Error(`server exited early:\n${out}`);
    try {
      if ((await fetch(`${url}/health`)).status === 200) break;
    } catch {
      /* not listening yet */
    }
    if (performance.now() > deadline) {
      child.kill('SIGKILL'); // never leave a server behind when the test gives up on it
      throw new Error(`no 200 on /health within 90 s:\n${out}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  return { child, out: () => out, url, exited };
}

async function stop(s: Started): Promise<number | null> {
  s.child.kill('SIGTERM');
  return s.exited;
}

describe('npm start on PGlite', () => {
  let dataDir: string;
  const running: Started[] = [];
  beforeAll(async () => {
    execFileSync(process.execPath, ['scripts/build.mjs'], { cwd: ROOT, stdio: 'inherit' }); // npm start's prestart
    dataDir = await mkdtemp(join(tmpdir(), 'streamplane-e2e-'));
  });
  afterAll(async () => {
    for (const s of running) if (s.child.exitCode === null) s.child.kill('SIGKILL');
    await rm(dataDir, { recursive: true, force: true });
  });

  it('prints where it listens and a first operator key once; data survives a restart; SIGTERM exits 0', async () => {
    const first = await startServer({ STREAMPLANE_DATA_DIR: dataDir });
    running.push(first);
    expect(first.out()).toContain('listening on http://127.0.0.1:');
    expect(first.out()).toContain('/docs');
    const key = /(spk_[0-9a-z]{26}\.[A-Za-z0-9_-]{43})/.exec(first.out())?.[1];
    expect(key, first.out()).toBeTruthy();
    const created = await fetch(`${first.url}/api/v1/sessions/start`, {
      method: 'POST',
      headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
      body: JSON.stringify({ title: 'survives restarts' }),
    });
    expect(created.status).toBe(201);
    const { id } = (await created.json()) as { id: string };
    expect(await stop(first)).toBe(0);
    // The key was printed, never logged as JSON: it appears exactly in the banner lines.
    expect(first.out().split('\n').filter((l) => l.includes(key!) && l.startsWith('{'))).toEqual([]);

    const second = await startServer({ STREAMPLANE_DATA_DIR: dataDir });
    running.push(second);
    expect(second.out()).not.toContain('spk_');
    const got = await fetch(`${second.url}/api/v1/sessions/${id}`, { headers: { authorization: `Bearer ${key}` } });
    expect(got.status).toBe(200);
    expect(((await got.json()) as { title: string }).title).toBe('survives restarts');
    expect(await stop(second)).toBe(0);
  });

  it('accepts STREAMPLANE_ADMIN_KEY and creates no bootstrap key; config errors exit 2 naming every variable', async () => {
    const admin = 'e2e-admin-key-0123456789abcdefghijklmnopqr';
    const s = await startServer({ DATABASE_URL: 'memory://', STREAMPLANE_ADMIN_KEY: admin });
    running.push(s);
    expect(s.out()).not.toContain('spk_');
    const res = await fetch(`${s.url}/api/v1/sessions`, { headers: { authorization: `Bearer ${admin}` } });
    expect(res.status).toBe(200);
    expect(await stop(s)).toBe(0);

    const bad = spawn(process.execPath, ['dist/main.js'], {
      cwd: ROOT,
      env: { PATH: process.env.PATH ?? '', PORT: 'eighty', DATABASE_URL: 'mysql://x', STREAMPLANE_ADMIN_KEY: 'short-secret' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let err = '';
    bad.stderr!.on('data', (d) => (err += d));
    const code = await new Promise((r) => bad.on('exit', r));
    expect(code).toBe(2);
    expect(err).toContain('PORT');
    expect(err).toContain('DATABASE_URL');
    expect(err).toContain('STREAMPLANE_ADMIN_KEY');
    expect(err).not.toContain('short-secret');
  });

  it('finishes an in-flight request on SIGTERM and answers 503 on /health while closing', async () => {
    const s = await startServer({ DATABASE_URL: 'memory://', STREAMPLANE_ADMIN_KEY: 'e2e-admin-key-0123456789abcdefghijklmnopqr' });
    running.push(s);
    // A burst of requests in flight when the signal lands: every one gets a complete answer.
    const inflight = Array.from({ length: 20 }, () =>
      fetch(`${s.url}/api/v1/sessions/start`, { method: 'POST', headers: { authorization: 'Bearer e2e-admin-key-0123456789abcdefghijklmnopqr', 'content-type': 'application/json' }, body: '{}' }).then((r) => r.status, () => 'refused'),
    );
    s.child.kill('SIGTERM');
    const statuses = await Promise.all(inflight);
    for (const st of statuses) expect([201, 503, 'refused']).toContain(st);
    expect(await s.exited).toBe(0);
  });
});
