import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { exited, spawnTracked, stopChild } from './children.js';
import { REPO_ROOT } from './server.js';

export interface LoadSpec {
  url: string;
  method: 'POST' | 'GET';
  path: string;
  headers: Record<string, string>;
  connections: number;
  durationS: number;
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

/** A place for the bodies files the load processes read. */
export function scratchDir(): { dir: string; cleanup(): void } {
  const dir = mkdtempSync(join(tmpdir(), 'streamplane-bench-'));
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
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
