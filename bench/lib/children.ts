import { spawn, spawnSync, type ChildProcess, type SpawnOptions } from 'node:child_process';
import { availableParallelism } from 'node:os';

/**
 * Every child process the bench starts goes through here, so that all of them are killed when the
 * bench ends: normally (each scenario stops its own in a finally), on an exception, or on a signal.
 */
const live = new Set<ChildProcess>();

function killAll() {
  for (const child of live) {
    try {
      child.kill('SIGKILL');
    } catch {
      // already gone
    }
  }
  live.clear();
}

process.once('exit', killAll);
for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
  process.once(signal, () => {
    process.stderr.write(`bench: ${signal}, killing ${live.size} child process(es)\n`);
    killAll();
    process.exit(130);
  });
}

export interface Pinning {
  used: boolean;
  /** CPU the server under test and the limit server run on. */
  server_cpu: number | null;
  /** CPU the load generator (autocannon) runs on. */
  load_cpu: number | null;
  why: string;
}

let pinning: Pinning | null = null;

/** Server on CPU 0, load generator on CPU 1, when there are two CPUs and `taskset` works. */
export function detectPinning(): Pinning {
  if (pinning) return pinning;
  const cpus = availableParallelism();
  if (process.env.BENCH_NO_PIN === '1') pinning = { used: false, server_cpu: null, load_cpu: null, why: 'BENCH_NO_PIN=1' };
  else if (cpus < 2) pinning = { used: false, server_cpu: null, load_cpu: null, why: `only ${cpus} CPU available` };
  else {
    const ok = [0, 1].every((cpu) => spawnSync('taskset', ['-c', String(cpu), 'true'], { stdio: 'ignore' }).status === 0);
    pinning = ok
      ? { used: true, server_cpu: 0, load_cpu: 1, why: `taskset -c 0 for servers, -c 1 for the load generator (${cpus} CPUs)` }
      : { used: false, server_cpu: null, load_cpu: null, why: 'taskset unavailable or refused' };
  }
  return pinning;
}

export type Role = 'server' | 'load' | 'none';

/**
 * Spawns `command args` (through `taskset -c N` when pinning is on; taskset execs, so the child's pid is
 * the program's own and /proc/<pid>/status describes it).
 */
export function spawnTracked(role: Role, command: string, args: string[], options: SpawnOptions): ChildProcess {
  const p = detectPinning();
  const cpu = role === 'server' ? p.server_cpu : role === 'load' ? p.load_cpu : null;
  const child = p.used && cpu !== null ? spawn('taskset', ['-c', String(cpu), command, ...args], options) : spawn(command, args, options);
  live.add(child);
  child.once('exit', () => live.delete(child));
  return child;
}

/** Resolves with the exit code/signal; rejects never. */
export function exited(child: ChildProcess): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve({ code: child.exitCode, signal: child.signalCode });
  return new Promise((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
}

/** SIGTERM, then SIGKILL if it has not exited within `graceMs`. */
export async function stopChild(child: ChildProcess, graceMs = 10_000): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  child.kill('SIGTERM');
  let timer: NodeJS.Timeout | undefined;
  const timedOut = new Promise<'timeout'>((resolve) => {
    timer = setTimeout(() => resolve('timeout'), graceMs);
  });
  const outcome = await Promise.race([exited(child), timedOut]);
  clearTimeout(timer);
  if (outcome === 'timeout') {
    process.stderr.write(`bench: pid ${child.pid} ignored SIGTERM for ${graceMs} ms, killing\n`);
    child.kill('SIGKILL');
    await exited(child);
  }
}
