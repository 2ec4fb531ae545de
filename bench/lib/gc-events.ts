/**
 * Investigation preload for a server under test:
 * BENCH_SERVER_NODE_ARGS="--import tsx --import ./bench/lib/gc-events.ts"
 * (with BENCH_SLOW_TRACE for the on_publish generator; bench/lib/slow-vs-gc.ts joins the two). Appends to
 * /tmp/gc-events.<pid>.txt one line per garbage collection and per event-loop gap over 4 ms, from
 * every thread of the process (workers load preloads too):
 *   <thread: main|worker> <start, ms since the epoch> <duration ms> <minor|major|incremental|weakcb|loopgap>
 * Epoch times line up with the generator's slow-request trace. The 1 ms timer that finds gaps costs
 * CPU of its own: compare runs that both have it.
 */
import { appendFileSync } from 'node:fs';
import { constants, performance, PerformanceObserver, type PerformanceEntry } from 'node:perf_hooks';
import { isMainThread } from 'node:worker_threads';

const thread = isMainThread ? 'main' : 'worker';
const file = `/tmp/gc-events.${process.pid}.txt`;
const KINDS: Record<number, string> = {
  [constants.NODE_PERFORMANCE_GC_MINOR]: 'minor',
  [constants.NODE_PERFORMANCE_GC_MAJOR]: 'major',
  [constants.NODE_PERFORMANCE_GC_INCREMENTAL]: 'incremental',
  [constants.NODE_PERFORMANCE_GC_WEAKCB]: 'weakcb',
};
let lines: string[] = [];
const flush = () => {
  if (lines.length > 0) appendFileSync(file, `${lines.join('\n')}\n`);
  lines = [];
};
const at = (t: number) => (performance.timeOrigin + t).toFixed(1);

new PerformanceObserver((list) => {
  for (const e of list.getEntries()) {
    const kind = (e as PerformanceEntry & { detail?: { kind?: number } }).detail?.kind;
    lines.push(`${thread} ${at(e.startTime)} ${e.duration.toFixed(2)} ${KINDS[kind ?? -1] ?? `kind${kind}`}`);
  }
  if (lines.length > 20) flush();
}).observe({ entryTypes: ['gc'] });

let last = performance.now();
setInterval(() => {
  const now = performance.now();
  if (now - last > 4) lines.push(`${thread} ${at(last)} ${(now - last).toFixed(2)} loopgap`);
  last = now;
}, 1).unref();
setInterval(flush, 1_000).unref();
