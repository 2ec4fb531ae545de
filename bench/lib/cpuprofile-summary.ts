import { readFileSync } from 'node:fs';

/**
 * Where the server's CPU time went, from a V8 .cpuprofile written by `node --cpu-prof`:
 *   node --import tsx bench/lib/cpuprofile-summary.ts <file.cpuprofile> [window.json] [top]
 * window.json ({pid, start_us, end_us}, CLOCK_MONOTONIC µs, written next to the profiles by the scenarios
 * when BENCH_CPU_PROF_DIR is set) keeps only the samples taken during that measured pass.
 * Prints self time by function, by module (package or repo file), and inclusive time of our frames and
 * of selected libraries, as shares of the busy (non-idle) time.
 */
interface Node {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}
interface Profile {
  nodes: Node[];
  startTime: number;
  endTime: number;
  samples: number[];
  timeDeltas: number[];
}

const [file, windowFile, topArg] = process.argv.slice(2);
if (!file) throw new Error('usage: cpuprofile-summary.ts <file.cpuprofile> [window.json] [top]');
const prof = JSON.parse(readFileSync(file, 'utf8')) as Profile;
const win = windowFile ? (JSON.parse(readFileSync(windowFile, 'utf8')) as { start_us: number; end_us: number }) : null;
const top = Number(topArg ?? 30);

const byId = new Map(prof.nodes.map((n) => [n.id, n]));
const parent = new Map<number, number>();
for (const n of prof.nodes) for (const c of n.children ?? []) parent.set(c, n.id);

const self = new Map<number, number>();
let t = prof.startTime;
let total = 0;
for (let i = 0; i < prof.samples.length; i++) {
  t += prof.timeDeltas[i]!;
  if (win && (t < win.start_us || t > win.end_us)) continue;
  const dt = prof.timeDeltas[i + 1] ?? 0;
  self.set(prof.samples[i]!, (self.get(prof.samples[i]!) ?? 0) + dt);
  total += dt;
}

const ROOT = process.cwd();
function moduleOf(url: string): string {
  if (!url) return '(native / V8)';
  const path = url.replace(/^file:\/\//, '').replace(ROOT, '');
  const nm = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(path);
  if (nm) return nm[1]!;
  if (path.startsWith('node:')) return path;
  return path.replace(/^\/+/, '');
}
const label = (n: Node) => `${n.callFrame.functionName || '(anonymous)'} ${moduleOf(n.callFrame.url)}:${n.callFrame.lineNumber + 1}`;

const add = (m: Map<string, number>, k: string, v: number) => m.set(k, (m.get(k) ?? 0) + v);
const fnSelf = new Map<string, number>();
const modSelf = new Map<string, number>();
const inclusive = new Map<string, number>();
for (const [id, us] of self) {
  const n = byId.get(id)!;
  if (n.callFrame.functionName === '(idle)') continue;
  add(fnSelf, label(n), us);
  add(modSelf, moduleOf(n.callFrame.url), us);
  // Inclusive time of repo frames (src/…) and of a few named library entry points, counted once per stack.
  const seen = new Set<string>();
  for (let cur: number | undefined = id; cur !== undefined; cur = parent.get(cur)) {
    const f = byId.get(cur)!;
    const mod = moduleOf(f.callFrame.url);
    if (mod.startsWith('src/') || mod.startsWith('bench/') || /^(jose|@fastify\/rate-limit|lru-cache|prom-client|pino|@pinojs\/redact|fast-json-stringify|secure-json-parse|ajv|fastify|node:_http_server|node:_http_outgoing|node:net)$/.test(mod)) {
      const k = label(f);
      if (!seen.has(k)) {
        seen.add(k);
        add(inclusive, k, us);
      }
    }
  }
}

// Percentages are of busy time: "(idle)" is the event loop waiting for input, not work.
let idle = 0;
for (const [id, us] of self) if (byId.get(id)!.callFrame.functionName === '(idle)') idle += us;
const busy = total - idle;
const pct = (us: number) => `${((100 * us) / busy).toFixed(1).padStart(5)} %`;
const show = (title: string, m: Map<string, number>, n: number) => {
  console.log(`\n## ${title}`);
  for (const [k, us] of [...m].sort((a, b) => b[1] - a[1]).slice(0, n)) console.log(`${pct(us)}  ${(us / 1000).toFixed(0).padStart(7)} ms  ${k}`);
};
console.log(`# ${file}${win ? ` (window ${((win.end_us - win.start_us) / 1e6).toFixed(1)} s)` : ''}: ${(total / 1000).toFixed(0)} ms sampled, ${(busy / 1000).toFixed(0)} ms busy (${((100 * busy) / total).toFixed(0)} %); percentages below are of busy time`);
show('self time by module', modSelf, top);
show('self time by function', fnSelf, top);
show('inclusive time of repo frames and selected libraries', inclusive, top);
