import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { exited, spawnTracked, stopChild } from './children.js';
import { cpuUs, REPO_ROOT, type Running } from './server.js';
import { round } from './report.js';

export interface LoadSpec {
  url: string;
  method: 'POST' | 'GET';
  path: string;
  headers: Record<string, string>;
  connections: number;
  durationS: number;
  /** When set, send exactly this many requests instead of running for durationS. */
  amount?: number;
  /** A fixed body for every request… */
  body?: string;
  /** …or a JSON file holding an array of bodies, sent in rotation. */
  bodiesFile?: string;
}

export interface LoadResult {
  duration_s: number;
  requests_total: number;
  req_per_s: number;
  req_per_s_per_second_samples: { mean: number; stddev: number; min: number; max: number };
  latency_ms: { p50: number; p90: number; p99: number; max: number; mean: number };
  non_2xx: number;
  errors: number;
  timeouts: number;
  status_counts: Record<string, number>;
  bytes_per_s: number;
}

export interface LoadRun {
  /** Resolves once autocannon has opened its connections and starts sending. */
  started: Promise<void>;
  result: Promise<LoadResult>;
}

/** A place for the bodies files the load processes read; removed by cleanup() or at exit (also on a signal). */
export function scratchDir(): { dir: string; cleanup(): void } {
  const dir = mkdtempSync(join(tmpdir(), 'streamplane-bench-'));
  const cleanup = () => {
    process.off('exit', cleanup);
    rmSync(dir, { recursive: true, force: true });
  };
  process.on('exit', cleanup);
  return { dir, cleanup };
}

let seq = 0;

/** Runs one autocannon pass in a separate process (bench/lib/load-worker.ts) on the load CPU. */
export function startLoad(spec: LoadSpec, scratch: string): LoadRun {
  const specFile = join(scratch, `load-${process.pid}-${seq++}.json`);
  writeFileSync(specFile, JSON.stringify(spec));
  const child = spawnTracked('load', process.execPath, ['--import', 'tsx', 'bench/lib/load-worker.ts', specFile], {
    cwd: REPO_ROOT,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stderr = '';
  child.stderr!.on('data', (c: Buffer) => (stderr = (stderr + c.toString('utf8')).slice(-8_000)));
  let onStarted!: () => void;
  const started = new Promise<void>((resolve) => (onStarted = resolve));
  const result = new Promise<LoadResult>((resolve, reject) => {
    let buf = '';
    let settled = false;
    child.stdout!.on('data', (c: Buffer) => {
      buf += c.toString('utf8');
      let nl: number;
      while ((nl = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, nl);
        buf = buf.slice(nl + 1);
        let msg: { event: string; result?: LoadResult; error?: string };
        try {
          msg = JSON.parse(line) as typeof msg;
        } catch {
          continue;
        }
        if (msg.event === 'started') onStarted();
        else if (msg.event === 'result') {
          settled = true;
          resolve(msg.result!);
        } else if (msg.event === 'error') {
          settled = true;
          reject(new Error(`autocannon: ${msg.error}`));
        }
      }
    });
    void exited(child).then(({ code, signal }) => {
      onStarted();
      if (!settled) reject(new Error(`load generator exited (code ${code}, signal ${signal}) without a result\n${stderr}`));
    });
  });
  // The worker exits by itself after printing; make sure it does not linger on failure either.
  result.catch(() => stopChild(child, 1_000)).catch(() => {});
  return { started, result };
}

export async function runLoad(spec: LoadSpec, scratch: string): Promise<LoadResult> {
  return startLoad(spec, scratch).result;
}

export interface MeasuredResult extends LoadResult {
  /**
   * CPU time the server process used per request during the pass (user + system, all threads). On a
   * shared, noisy machine this moves far less than req/s does, so its ratio between two servers is the
   * steadier estimate of what their throughput ratio is when each has a quiet core.
   */
  server_cpu_us_per_request: number | null;
  /** Server CPU seconds per wall second during the pass (1 = one core fully busy). */
  server_cpu_utilization: number | null;
}

/** One load pass against `server`, with the server's CPU time read from /proc around it. */
export async function measure(server: Running, spec: Omit<LoadSpec, 'url'>, scratch: string): Promise<MeasuredResult> {
  const cpu0 = cpuUs(server.pid);
  const t0 = performance.now();
  const r = await runLoad({ ...spec, url: server.url }, scratch);
  const wallUs = (performance.now() - t0) * 1000;
  const cpu1 = cpuUs(server.pid);
  const used = cpu0 === null || cpu1 === null ? null : cpu1 - cpu0;
  return {
    ...r,
    server_cpu_us_per_request: used === null || r.requests_total === 0 ? null : Math.round((used / r.requests_total) * 10) / 10,
    // The load process starts and stops around the pass; its own startup is in the wall time, not in CPU.
    server_cpu_utilization: used === null ? null : Math.round((used / Math.min(wallUs, r.duration_s * 1e6)) * 100) / 100,
  };
}

/** Limit's CPU per request ÷ subject's: the steadier estimate of the throughput ratio on a shared machine. */
export function cpuRatio(subject: MeasuredResult, limit: MeasuredResult): number | null {
  return subject.server_cpu_us_per_request && limit.server_cpu_us_per_request ? round(limit.server_cpu_us_per_request / subject.server_cpu_us_per_request) : null;
}

/** The figures of one measured pass that every scenario reports. */
export function summary(r: MeasuredResult) {
  return {
    req_per_s: r.req_per_s,
    server_cpu_us_per_request: r.server_cpu_us_per_request,
    server_cpu_utilization: r.server_cpu_utilization,
    latency_ms: { p50: r.latency_ms.p50, p99: r.latency_ms.p99, max: r.latency_ms.max },
    requests: r.requests_total,
    non_2xx: r.non_2xx,
    errors: r.errors,
    timeouts: r.timeouts,
    status_counts: r.status_counts,
  };
}
