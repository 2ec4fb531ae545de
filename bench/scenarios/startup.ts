import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { exited, spawnTracked, stopChild } from '../lib/children.js';
import { emit, median, progress, round, sleep } from '../lib/report.js';
import { buildDist, REPO_ROOT, rssKiB, spawnServer, type Running } from '../lib/server.js';

const RUNS = Math.max(1, Number(process.env.BENCH_STARTUP_RUNS ?? 3));
const IDLE_MS = Number(process.env.BENCH_IDLE_RSS_WAIT_MS ?? 3_000);
const TARGET_MS = 3_000;

interface Start {
  ms: number;
  /** What main.ts itself reports ("ready in N ms": from config loaded to listening). */
  self_reported_ms: number | null;
  idle_rss_mib: number | null;
}

/**
 * startup: `node scripts/build.mjs` then `node dist/main.js` (what `npm start` runs, default env but PORT/HOST and a
 * data directory of our own) from spawn to the first 200 on /health, on PGlite with a fresh data
 * directory (a copy of the install-time initdb template, see src/backends/pglite/pglite-template.ts; initdb without one) and with the same directory again, RUNS times each; and the idle RSS a few
 * seconds after ready. Floors measured in the same run: a bare Fastify process through tsx, and a bare
 * PGlite open of the same kind of directory in its own process.
 */
export async function startup(): Promise<void> {
  const root = mkdtempSync(join(tmpdir(), 'streamplane-bench-startup-'));
  try {
    const fresh: Start[] = [];
    const existing: Start[] = [];
    for (let i = 0; i < RUNS; i++) {
      const dataDir = join(root, `server-${i}`);
      fresh.push(await startOnce(dataDir, `fresh data dir, run ${i + 1}/${RUNS}`));
      existing.push(await startOnce(dataDir, `existing data dir, run ${i + 1}/${RUNS}`));
    }

    const fastifyFloor: Start[] = [];
    const pgliteFresh: Start[] = [];
    const pgliteExisting: Start[] = [];
    for (let i = 0; i < RUNS; i++) {
      fastifyFloor.push(await fastifyOnce(`floor: bare Fastify, run ${i + 1}/${RUNS}`));
      const dir = join(root, `pglite-${i}`);
      pgliteFresh.push(await pgliteOnce(dir, `floor: bare PGlite, fresh dir, run ${i + 1}/${RUNS}`));
      pgliteExisting.push(await pgliteOnce(dir, `floor: bare PGlite, existing dir, run ${i + 1}/${RUNS}`));
    }

    const fastifyMs = median(fastifyFloor.map((s) => s.ms));
    for (const [name, runs, floor] of [
      ['fresh_data_dir', fresh, pgliteFresh],
      ['existing_data_dir', existing, pgliteExisting],
    ] as const) {
      const ms = median(runs.map((s) => s.ms));
      const floorMs = fastifyMs + median(floor.map((s) => s.ms));
      emit({
        scenario: 'startup',
        case: name,
        what: `npm start without npm's own launch: the prestart build (node scripts/build.mjs) plus spawn of \`node dist/main.js\` to the first 200 on /health, PGlite in a ${name === 'fresh_data_dir' ? 'new (seeded from the install-time initdb template when present)' : 'previously used'} data directory; median of ${RUNS}`,
        subject: {
          ms: round(ms, 0),
          runs_ms: runs.map((s) => round(s.ms, 0)),
          self_reported_ready_ms_median: median(runs.flatMap((s) => (s.self_reported_ms === null ? [] : [s.self_reported_ms]))),
          idle_rss_mib_median: median(runs.flatMap((s) => (s.idle_rss_mib === null ? [] : [s.idle_rss_mib]))),
          idle_rss_after_ms: IDLE_MS,
        },
        limit: {
          name: 'floor: bare Fastify 5 process through tsx to its first 200, plus a bare PGlite open of the same kind of data directory in its own process (medians, same run)',
          ms: round(floorMs, 0),
          fastify_ms: round(fastifyMs, 0),
          pglite_ms: round(median(floor.map((s) => s.ms)), 0),
          fastify_idle_rss_mib: median(fastifyFloor.flatMap((s) => (s.idle_rss_mib === null ? [] : [s.idle_rss_mib]))),
          pglite_idle_rss_mib: median(floor.flatMap((s) => (s.idle_rss_mib === null ? [] : [s.idle_rss_mib]))),
        },
        ratio: round(ms / floorMs),
        target: { ms_below: TARGET_MS },
        within_target: ms < TARGET_MS,
        pinned: false,
        env: 'defaults of npm start (LOG_LEVEL info, no admin key: the first start creates a bootstrap key) plus PORT, HOST=127.0.0.1, STREAMPLANE_DATA_DIR',
      });
    }
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
}

async function startOnce(dataDir: string, label: string): Promise<Start> {
  progress(`startup: ${label}`);
  // Not pinned: `npm start` is not, and nothing else of ours runs meanwhile.
  // `npm start` = prestart (transpile src/ to dist/) + node dist/main.js: both are timed.
  const buildMs = buildDist();
  const s = await spawnServer({ role: 'none', script: 'dist/main.js', env: { STREAMPLANE_DATA_DIR: dataDir } });
  const r = await idleThenStop(s, label, /ready in (\d+) ms/);
  return { ...r, ms: r.ms + buildMs };
}

async function fastifyOnce(label: string): Promise<Start> {
  progress(`startup: ${label}`);
  const s = await spawnServer({ role: 'none', script: 'bench/lib/limit-server.ts', env: {} });
  return idleThenStop(s, label, null);
}

async function idleThenStop(s: Running, label: string, selfReport: RegExp | null): Promise<Start> {
  try {
    await sleep(IDLE_MS);
    const rss = rssKiB(s.pid);
    const self = selfReport?.exec(s.output());
    const out = { ms: s.readyMs, self_reported_ms: self ? Number(self[1]) : null, idle_rss_mib: rss === null ? null : round(rss / 1024, 1) };
    progress(`startup: ${label}: ${Math.round(out.ms)} ms${out.self_reported_ms !== null ? ` (self-reported ${out.self_reported_ms} ms)` : ''}, idle RSS ${out.idle_rss_mib} MiB`);
    return out;
  } finally {
    await s.stop();
  }
}

async function pgliteOnce(dataDir: string, label: string): Promise<Start> {
  progress(`startup: ${label}`);
  const t0 = performance.now();
  const child = spawnTracked('none', process.execPath, ['--import', 'tsx', 'bench/lib/pglite-open.ts', dataDir], { cwd: REPO_ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
  try {
    let err = '';
    child.stderr!.on('data', (c: Buffer) => (err = (err + c.toString('utf8')).slice(-4_000)));
    const ready = await new Promise<number>((resolve, reject) => {
      let buf = '';
      child.stdout!.on('data', (c: Buffer) => {
        buf += c.toString('utf8');
        if (buf.includes('"ready"')) resolve(performance.now());
      });
      void exited(child).then(({ code }) => reject(new Error(`pglite-open exited with ${code}: ${err}`)));
    });
    await sleep(IDLE_MS);
    const rss = rssKiB(child.pid!);
    const out = { ms: ready - t0, self_reported_ms: null, idle_rss_mib: rss === null ? null : round(rss / 1024, 1) };
    progress(`startup: ${label}: ${Math.round(out.ms)} ms, idle RSS ${out.idle_rss_mib} MiB`);
    return out;
  } finally {
    await stopChild(child);
  }
}
