import { readFileSync } from 'node:fs';
import { availableParallelism, loadavg } from 'node:os';
import { detectPinning } from './children.js';

/** Seconds of each measured pass (default 10); BENCH_DURATION_S shortens or lengthens the whole run. */
export function durationS(): number {
  const v = Number(process.env.BENCH_DURATION_S ?? 10);
  return Number.isFinite(v) && v >= 1 ? Math.round(v) : 10;
}

/** Warm-up passes: half the measured duration, between 2 and 5 s. */
export function warmupS(): number {
  return Math.min(5, Math.max(2, Math.round(durationS() / 2)));
}

export function machine() {
  let cpu = 'unknown';
  try {
    cpu = /^model name\s*:\s*(.+)$/m.exec(readFileSync('/proc/cpuinfo', 'utf8'))?.[1]?.trim() ?? cpu;
  } catch {
    // not Linux
  }
  return {
    cpu,
    cpus: availableParallelism(),
    node: process.version,
    loadavg_1m: Math.round(loadavg()[0]! * 100) / 100,
    pinning: detectPinning(),
  };
}

/** Prints one result line on stdout: the only thing the bench writes there. */
export function emit(line: Record<string, unknown>): void {
  process.stdout.write(`${JSON.stringify({ ...line, at: new Date().toISOString(), machine: machine() })}\n`);
}

export function progress(msg: string): void {
  process.stderr.write(`[bench ${new Date().toISOString().slice(11, 19)}] ${msg}\n`);
}

export function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  if (s.length === 0) return NaN;
  const mid = Math.floor(s.length / 2);
  return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

export const round = (x: number, digits = 3) => Math.round(x * 10 ** digits) / 10 ** digits;

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Runs `fn` over `items` with at most `limit` in flight. */
export async function pool<T, R>(items: T[], limit: number, fn: (item: T, i: number) => Promise<R>): Promise<R[]> {
  const out = new Array<R>(items.length);
  let i = 0;
  await Promise.all(
    Array.from({ length: Math.min(limit, items.length) }, async () => {
      while (i < items.length) {
        const k = i++;
        out[k] = await fn(items[k]!, k);
      }
    }),
  );
  return out;
}

/** JSON POST from the bench process (setup calls, polls); throws on a non-2xx with the body. */
export async function postJson<T>(url: string, body: unknown, headers: Record<string, string> = {}): Promise<{ status: number; body: T; text: string }> {
  const res = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify(body) });
  const text = await res.text();
  if (res.status < 200 || res.status > 299) throw new Error(`POST ${url} -> ${res.status}: ${text.slice(0, 500)}`);
  return { status: res.status, body: JSON.parse(text) as T, text };
}
