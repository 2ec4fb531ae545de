import { execFileSync, spawn, type ChildProcessByStdio } from 'node:child_process';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { startNginxRtmp, type NginxRtmp } from './nginx-rtmp.ts';
import { freePort } from './ports.ts';
import { ProcessGroup, waitFor, withDeadline, type Managed } from './processes.ts';

/**
 * The real Streamplane server for end-to-end suites and benches: what `npm start` runs (the prestart
 * build, then `node dist/main.js`) on a free loopback port, on the embedded backends, with a fixed
 * operator key. Plus `startNode`, which registers an nginx-rtmp ingest node and starts a real nginx
 * with the configuration the server renders for it.
 *
 *   const procs = new ProcessGroup();
 *   afterAll(() => procs.killAll());
 *   const sp = await startStreamplane({}, procs);
 *   const { node, nginx } = await startNode(sp, 'edge-a', 'nginx-a');
 */

const ROOT = join(import.meta.dirname, '..', '..', '..');

/** The operator key every started server accepts (STREAMPLANE_ADMIN_KEY; at least 32 characters). */
export const E2E_ADMIN_KEY = 'e2e-admin-key-0123456789abcdefghijklmnopqr';

export interface ApiResult<T = any> {
  status: number;
  /** The parsed body when it is JSON (application/json or application/problem+json), else null. */
  json: T;
  /** The raw body (the nginx config endpoint answers text/plain). */
  text: string;
  headers: Headers;
}

export interface ServerExit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

export interface Streamplane extends Managed {
  url: string;
  port: number;
  pid: number;
  /** The operator key (Bearer) `api` sends. */
  key: string;
  /** An operator call: `Authorization: Bearer <key>`, JSON body when `body` is given. Never throws on a status. */
  api<T = any>(method: string, path: string, body?: unknown): Promise<ApiResult<T>>;
  /** SIGTERM, then SIGKILL after `timeoutMs` (default 10 s); resolves with the exit. */
  stop(timeoutMs?: number): Promise<ServerExit>;
  /** What the server printed (JSON log lines), stdout and stderr interleaved; the last ~4 MB. */
  output(): string;
  exited: Promise<ServerExit>;
  /** The group this server was registered with: startNode registers its nginx there by default. */
  procs: ProcessGroup | undefined;
}

let built = false;

/** `npm start`'s prestart step, once per process. Its output goes to stderr (a bench's stdout carries only results). */
export function buildDist(): void {
  if (built) return;
  execFileSync(process.execPath, ['scripts/build.mjs'], { cwd: ROOT, stdio: ['ignore', 2, 2] });
  built = true;
}

const OUTPUT_LIMIT = 4 * 1024 * 1024;

/**
 * Builds dist/ (once), spawns `node dist/main.js` with `env` over the defaults (memory:// database,
 * the e2e admin key, hooks called back on this server's own port, LOG_LEVEL info) and resolves at the
 * first 200 on /health. Registered with `procs` when given, so an afterAll `procs.killAll()` (or the
 * test process's exit) never leaves it behind.
 */
export async function startStreamplane(env: Record<string, string> = {}, procs?: ProcessGroup): Promise<Streamplane> {
  buildDist();
  for (let attempt = 1; ; attempt++) {
    try {
      return await launch(env, procs);
    } catch (err) {
      // Another process took the port between freePort() and listen(): pick another one.
      const inUse = err instanceof Error && /EADDRINUSE/.test(err.message);
      if (!inUse || attempt >= 3) throw err;
    }
  }
}

async function launch(extraEnv: Record<string, string>, procs: ProcessGroup | undefined): Promise<Streamplane> {
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const env: Record<string, string> = {
    PATH: process.env.PATH ?? '',
    HOME: process.env.HOME ?? '',
    PORT: String(port),
    HOST: '127.0.0.1',
    DATABASE_URL: 'memory://',
    LOG_LEVEL: 'info',
    STREAMPLANE_ADMIN_KEY: E2E_ADMIN_KEY,
    STREAMPLANE_INGEST_HOOK_BASE_URL: url,
    ...extraEnv,
  };
  const key = env.STREAMPLANE_ADMIN_KEY!;
  const child: ChildProcessByStdio<null, Readable, Readable> = spawn(process.execPath, ['dist/main.js'], {
    cwd: ROOT,
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  const keep = (d: Buffer): void => {
    out += d.toString('utf8');
    if (out.length > OUTPUT_LIMIT) out = out.slice(-OUTPUT_LIMIT / 2);
  };
  child.stdout.on('data', keep);
  child.stderr.on('data', keep);
  const exited = new Promise<ServerExit>((resolve) => {
    child.once('exit', (code, signal) => resolve({ code, signal }));
    child.once('error', (err) => {
      out += `spawn failed: ${err.message}\n`;
      resolve({ code: null, signal: null });
    });
  });
  let gone = false;
  void exited.then(() => (gone = true));

  const kill = (signal: NodeJS.Signals = 'SIGKILL'): void => {
    if (!gone && child.exitCode === null && child.signalCode === null) child.kill(signal);
  };
  const stop = async (timeoutMs = 10_000): Promise<ServerExit> => {
    kill('SIGTERM');
    if ((await withDeadline(exited, timeoutMs)) === undefined) kill('SIGKILL');
    return exited;
  };

  const ready = await waitFor(
    `${url}/health to answer 200`,
    async () => {
      if (gone) return 'exited' as const;
      const res = await fetch(`${url}/health`, { signal: AbortSignal.timeout(2_000) });
      await res.arrayBuffer();
      return res.status === 200 ? ('ready' as const) : undefined;
    },
    { timeoutMs: 90_000 }, // generous: CI machines can be busy
  ).catch((err: Error) => err);
  if (ready !== 'ready') {
    kill('SIGKILL'); // never leave a server behind when the caller gives up on it
    const exit = await withDeadline(exited, 5_000);
    const why = ready instanceof Error ? ready.message : `the server exited early (${JSON.stringify(exit)})`;
    throw new Error(`${why}\n--- its output ---\n${out.slice(-8_000)}`);
  }

  const api = async <T = any>(method: string, path: string, body?: unknown): Promise<ApiResult<T>> => {
    const headers: Record<string, string> = { authorization: `Bearer ${key}` };
    if (body !== undefined) headers['content-type'] = 'application/json';
    const res = await fetch(`${url}${path}`, {
      method,
      headers,
      ...(body !== undefined && { body: JSON.stringify(body) }),
      signal: AbortSignal.timeout(15_000),
    });
    const text = await res.text();
    let json: any = null;
    if (/json/.test(res.headers.get('content-type') ?? '')) {
      try {
        json = JSON.parse(text);
      } catch {
        /* leave null: the caller sees the text */
      }
    }
    return { status: res.status, json: json as T, text, headers: res.headers };
  };

  const sp: Streamplane = {
    url,
    port,
    pid: child.pid ?? -1,
    key,
    api,
    stop,
    output: () => out,
    exited,
    procs,
    kill,
    async dispose() {
      await stop(5_000);
    },
    disposeSync() {
      kill('SIGKILL');
    },
  };
  procs?.add(sp);
  return sp;
}

export interface StartNodeOptions {
  /** Register the nginx control URL, so stop drops publishers at once (default true). */
  control?: boolean;
  /** Register the /stat URL, so health and side states come from stats (default true). */
  stats?: boolean;
  /** notify_update_timeout asked of the config endpoint (default 2 s). */
  updateIntervalSeconds?: number;
  region?: string;
  /** Where the nginx is registered for cleanup (default: the server's group). */
  procs?: ProcessGroup;
  /** Wait until the server's stats poll reports the node up, so routing prefers it (default true when stats). */
  waitUp?: boolean;
}

/** The node document POST /api/v1/ingest/nodes answers (the fields the suites read). */
export interface IngestNodeDoc {
  id: string;
  name: string;
  machine: string;
  ingest_url: string;
  stats_url: string | null;
  control_url: string | null;
  status: 'active' | 'draining';
  health: { state: 'up' | 'down' | 'unknown'; checked_at: string | null; detail: string | null };
  hooks: Record<string, string>;
}

/**
 * Allocates an RTMP and an HTTP port, registers an nginx-rtmp node named `name` on `machine` with them
 * (the ports must be known before the config exists: the config is rendered from the node), fetches
 * its `application live { … }` block and starts a real nginx-rtmp with it.
 */
export async function startNode(
  sp: Streamplane,
  name: string,
  machine: string,
  opts: StartNodeOptions = {},
): Promise<{ node: IngestNodeDoc; nginx: NginxRtmp }> {
  const withStats = opts.stats ?? true;
  const withControl = opts.control ?? true;
  const procs = opts.procs ?? sp.procs;
  for (let attempt = 1; ; attempt++) {
    const rtmpPort = await freePort();
    let httpPort = await freePort();
    while (httpPort === rtmpPort) httpPort = await freePort();
    const reg = await sp.api<IngestNodeDoc>('POST', '/api/v1/ingest/nodes', {
      name,
      kind: 'nginx-rtmp',
      region: opts.region ?? 'local',
      machine,
      ingest_url: `rtmp://127.0.0.1:${rtmpPort}/live`,
      ...(withStats && { stats_url: `http://127.0.0.1:${httpPort}/stat` }),
      ...(withControl && { control_url: `http://127.0.0.1:${httpPort}/control` }),
    });
    if (reg.status !== 201) throw new Error(`POST /api/v1/ingest/nodes ${name}: ${reg.status} ${reg.text}`);
    const node = reg.json;
    const conf = await sp.api('GET', `/api/v1/ingest/nodes/${node.id}/config/nginx?update_interval_seconds=${opts.updateIntervalSeconds ?? 2}`);
    if (conf.status !== 200) throw new Error(`GET config/nginx of ${node.id}: ${conf.status} ${conf.text}`);
    let nginx: NginxRtmp;
    try {
      nginx = await startNginxRtmp({ applicationBlock: conf.text, rtmpPort, httpPort });
    } catch (err) {
      // A port taken between freePort() and nginx's bind: the node names its ports, so register anew.
      const inUse = err instanceof Error && /Address already in use/.test(err.message);
      await sp.api('DELETE', `/api/v1/ingest/nodes/${node.id}`);
      if (!inUse || attempt >= 3) throw err;
      continue;
    }
    procs?.add(nginx);
    if (opts.waitUp ?? withStats) {
      await waitFor(`node ${name} (${node.id}) to be reported up`, async () => {
        const got = await sp.api<IngestNodeDoc>('GET', `/api/v1/ingest/nodes/${node.id}`);
        return got.status === 200 && got.json.health.state === 'up' ? got.json : undefined;
      });
    }
    return { node, nginx };
  }
}

/** Takes a node out of routing: deleted when no open ingest uses it, else drained. Never throws. */
export async function retireNode(sp: Streamplane, nodeId: string): Promise<void> {
  try {
    const del = await sp.api('DELETE', `/api/v1/ingest/nodes/${nodeId}`);
    if (del.status === 204 || del.status === 404) return;
    await sp.api('POST', `/api/v1/ingest/nodes/${nodeId}/drain`, {});
  } catch {
    /* the server is gone: nothing routes anymore */
  }
}
