import { availableParallelism } from 'node:os';
import { setFlagsFromString } from 'node:v8';
import type { Config } from './config/config.js';

/**
 * Applies STREAMPLANE_GC_CONCURRENT_MARKING before any worker starts (V8 flags are per process; a
 * worker's heap reads them when it is created, and V8 reads this one each time marking starts, so the
 * main heap follows too). Says whether concurrent marking is on.
 *
 * Why off on one CPU: V8 marks the old generation on a helper thread while JavaScript runs, and
 * finishes on the JavaScript thread. With a single CPU the helper only takes turns with the JavaScript
 * threads (the HTTP thread and PGlite's worker), so little is marked by the time V8 finishes, and the
 * last marking step took 10–24 ms of one thread at a time. Marking in small steps on the thread itself
 * keeps every pause short. Measured with the bench `on_publish` (server pinned to one CPU, four rounds
 * alternated): p99 at 1,000 callbacks/s 8.1–19.0 ms and max 22–52 ms with concurrent marking, 6.2–8.6
 * and 12–21 ms without (bench/README.md). `availableParallelism()` honours the CPU affinity (taskset,
 * cpusets) but not a cgroup CPU quota: set `off` explicitly for a quota of one CPU or less.
 */
export function tuneGarbageCollector(mode: Config['gcConcurrentMarking'], cpus = availableParallelism(), setFlags = setFlagsFromString): boolean {
  const on = mode === 'on' || (mode === 'auto' && cpus > 1);
  setFlags(on ? '--concurrent-marking' : '--no-concurrent-marking');
  return on;
}
