import { execFileSync, type ChildProcess } from 'node:child_process';
import { appendFileSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { exited, spawnTracked, stopChild, type Role } from './children.js';
import { freePort } from './port.js';

export const REPO_ROOT = fileURLToPath(new URL('../../', import.meta.url));
export const ADMIN_KEY = 'bench-admin-key-0123456789abcdefghijklmnopqrstuv';

/** Variables that would change what the server under test runs on if inherited from the shell. */
const SCRUBBED = /^(STREAMPLANE_|DATABASE_URL$|REDIS_URL$|PORT$|HOST$|LOG_LEVEL$)/;

export interface Running {
  child: ChildProcess;
  pid: number;
  port: number;
  url: string;
  /** Wall time from spawn() to the first 200 on the health path. */
  readyMs: number;
  /** Everything the child printed, for diagnostics and for its own "ready in N ms" line. */
  output(): string;
  stop(): Promise<void>;
}

export interface SpawnOptions {
  role?: Role;
  /** Script relative to the repo root, run as `node --import tsx <script>` (what `npm start` runs for src/main.ts). */
  script: string;
  env: Record<string, string>;
  nodeArgs?: string[];
  healthPath?: string;
  timeoutMs?: number;
}

/** Spawns a server on a free loopback port and resolves once GET <healthPath> answers 200. */
export async function spawnServer(opts: SpawnOptions): Promise<Running> {
  const port = await freePort();
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env)) if (v !== undefined && !SCRUBBED.test(k)) env[k] = v;
  Object.assign(env, { PORT: String(port), HOST: '127.0.0.1' }, opts.env);
  const started = performance.now();
  // Compiled JavaScript (dist/) runs on plain node, like `npm start`; TypeScript goes through tsx.
  const loader = opts.script.endsWith('.js') ? [] : ['--import', 'tsx'];
  const child = spawnTracked(opts.role ?? 'server', process.execPath, [...(opts.nodeArgs ?? []), ...loader, opts.script], {
    cwd: REPO_ROOT,
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  const keep = (chunk: Buffer) => {
    out += chunk.toString('utf8');
    if (out.length > 200_000) out = out.slice(-100_000);
  };
  child.stdout!.on('data', keep);
  child.stderr!.on('data', keep);
  const outDir = process.env.BENCH_SERVER_OUT_DIR;
  if (outDir) {
    mkdirSync(outDir, { recursive: true });
    const file = join(outDir, `${basename(opts.script).replace(/\.[jt]s$/, '')}.${child.pid}.log`);
    const append = (chunk: Buffer) => appendFileSync(file, chunk);
    child.stdout!.on('data', append);
    child.stderr!.on('data', append);
  }
  const url = `http://127.0.0.1:${port}`;
  const running: Running = {
    child,
    pid: child.pid!,
    port,
    url,
    readyMs: 0,
    output: () => out,
    stop: () => stopChild(child),
  };
  try {
    running.readyMs = (await waitForHealth(`${url}${opts.healthPath ?? '/health'}`, child, opts.timeoutMs ?? 60_000)) - started;
  } catch (err) {
    await stopChild(child, 2_000);
    throw new Error(`${opts.script} did not become healthy: ${err instanceof Error ? err.message : String(err)}\n--- its output ---\n${out.slice(-4_000)}`);
  }
  return running;
}

/** Polls every 10 ms; returns performance.now() at the first 200. */
async function waitForHealth(url: string, child: ChildProcess, timeoutMs: number): Promise<number> {
  const deadline = performance.now() + timeoutMs;
  let exit: { code: number | null; signal: string | null } | null = null;
  void exited(child).then((e) => (exit = e));
  for (;;) {
    if (exit) throw new Error(`exited early (${JSON.stringify(exit)})`);
    try {
      const res = await fetch(url, { signal: AbortSignal.timeout(2_000) });
      await res.arrayBuffer();
      if (res.status === 200) return performance.now();
    } catch {
      // not listening yet
    }
    if (performance.now() > deadline) throw new Error(`no 200 from ${url} within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** Resident set size of a process in KiB, from /proc (null where /proc is not available). */
export function rssKiB(pid: number): number | null {
  try {
    const m = /^VmRSS:\s+(\d+)\s+kB/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) : null;
  } catch {
    return null;
  }
}

/** CPU time (user + system, all threads) a process has used so far, in µs; null without /proc. */
export function cpuUs(pid: number): number | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after the parenthesised command name; utime and stime are fields 14 and 15, in clock ticks.
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return ((Number(f[11]) + Number(f[12])) * 1e6) / CLOCK_TICKS;
  } catch {
    return null;
  }
}
/** USER_HZ: 100 on every Linux this runs on (getconf CLK_TCK); /proc/<pid>/stat counts in it. */
const CLOCK_TICKS = 100;

export const streamplaneEnv = (extra: Record<string, string> = {}): Record<string, string> => ({
  DATABASE_URL: 'memory://',
  LOG_LEVEL: 'warn',
  STREAMPLANE_ADMIN_KEY: ADMIN_KEY,
  ...extra,
});

/** BENCH_CPU_PROF_DIR: servers under test run with `--cpu-prof` into it (for investigation; it slows them). */
export const cpuProfDir = (): string | null => {
  const dir = process.env.BENCH_CPU_PROF_DIR;
  if (!dir) return null;
  mkdirSync(dir, { recursive: true });
  return dir;
};
/** BENCH_CPU_PROF_LIMIT=1 (with BENCH_CPU_PROF_DIR): profile the limit servers too, to compare line by line. */
const limitProfArgs = (): string[] => {
  const dir = cpuProfDir();
  return dir && process.env.BENCH_CPU_PROF_LIMIT === '1' ? ['--cpu-prof', '--cpu-prof-dir', dir] : [];
};

/** `npm start`'s prestart step: transpile src/ to dist/. Returns how long it took. */
export function buildDist(): number {
  const t = performance.now();
  execFileSync(process.execPath, ['scripts/build.mjs'], { cwd: REPO_ROOT, stdio: 'inherit' });
  return performance.now() - t;
}

/** The server under test: what `npm start` runs (build, then node dist/main.js), with the given env. */
export function spawnStreamplane(env: Record<string, string>): Promise<Running> {
  buildDist();
  const dir = cpuProfDir();
  // BENCH_SERVER_NODE_ARGS: V8/Node flags for the server under test only (investigation, e.g. --trace-gc).
  const extra = (process.env.BENCH_SERVER_NODE_ARGS ?? '').split(/\s+/).filter(Boolean);
  return spawnServer({ script: 'dist/main.js', env, nodeArgs: [...extra, ...(dir ? ['--cpu-prof', '--cpu-prof-dir', dir] : [])] });
}

/**
 * Runs `fn` and, when profiling, records its time window (CLOCK_MONOTONIC µs, the clock of V8's
 * .cpuprofile timestamps) as <dir>/<name>-window.json, so bench/lib/cpuprofile-summary.ts can keep
 * only the samples of that pass from CPU.*.<pid>.0.*.cpuprofile.
 */
export async function profiled<T>(name: string, server: Running, fn: () => Promise<T>): Promise<T> {
  const start = Number(process.hrtime.bigint() / 1000n);
  const out = await fn();
  const dir = cpuProfDir();
  if (dir) writeFileSync(join(dir, `${name}-window.json`), JSON.stringify({ pid: server.pid, start_us: start, end_us: Number(process.hrtime.bigint() / 1000n) }));
  return out;
}

/** The limit: a bare Fastify 5 route answering a constant JSON body (bench/lib/limit-server.ts). */
export function spawnLimitServer(route: { method: 'POST' | 'GET'; path: string; status: number; body: string; rawBody?: boolean }): Promise<Running> {
  return spawnServer({
    script: 'bench/lib/limit-server.ts',
    nodeArgs: limitProfArgs(),
    env: { LIMIT_METHOD: route.method, LIMIT_PATH: route.path, LIMIT_STATUS: String(route.status), LIMIT_BODY: route.body, ...(route.rawBody ? { LIMIT_RAW_BODY: '1' } : {}) },
  });
}
