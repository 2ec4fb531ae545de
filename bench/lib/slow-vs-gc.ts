/**
 * Joins on_publish's slow-request trace (BENCH_SLOW_TRACE) with a server's gc-events file
 * (bench/lib/gc-events.ts): for each fixed-rate pass, how many requests took over 10 ms and which
 * events (over 1.5 ms, by thread and kind) overlapped each of them, and the events over 6 ms with the
 * number of slow requests they overlapped.
 *   node --import tsx bench/lib/slow-vs-gc.ts <slow trace> <gc-events file>
 */
import { readFileSync } from 'node:fs';

const [tracePath, eventsPath] = process.argv.slice(2);
if (!tracePath || !eventsPath) throw new Error('usage: slow-vs-gc.ts <slow trace> <gc-events file>');

interface Ev { start: number; end: number; what: string; ms: number }
const events: Ev[] = readFileSync(eventsPath, 'utf8').split('\n').filter(Boolean).map((l) => {
  const [thread, start, ms, kind] = l.split(' ');
  return { start: Number(start), end: Number(start) + Number(ms), what: `${thread} ${kind}`, ms: Number(ms) };
});

interface Pass { header: string; start: number; end: number; fixedRate: boolean; slow: { due: number; ms: number }[] }
const passes: Pass[] = [];
for (const l of readFileSync(tracePath, 'utf8').split('\n').filter(Boolean)) {
  const f = l.split(' ');
  if (f[0] === '#') passes.push({ header: l, start: Number(f[2]), end: Number(f[3]), fixedRate: f[4] === 'rate', slow: [] });
  else passes.at(-1)?.slow.push({ due: Number(f[0]), ms: Number(f[1]) });
}

for (const p of passes.filter((x) => x.fixedRate)) {
  const over = p.slow.filter((s) => s.ms > 10);
  const inPass = events.filter((e) => e.end > p.start && e.start < p.end);
  console.log(`${p.header}: ${p.slow.length} requests over 5 ms, ${over.length} over 10 ms`);
  const causes = new Map<string, number>();
  for (const s of over) {
    const hit = [...new Set(inPass.filter((e) => e.ms > 1.5 && e.end > s.due && e.start < s.due + s.ms).map((e) => e.what))].sort().join(', ') || 'nothing recorded';
    causes.set(hit, (causes.get(hit) ?? 0) + 1);
  }
  for (const [what, n] of [...causes].sort((a, b) => b[1] - a[1])) console.log(`  ${String(n).padStart(5)}  ${what}`);
  for (const e of inPass.filter((x) => x.ms > 6)) {
    const n = over.filter((s) => s.due < e.end && s.due + s.ms > e.start).length;
    console.log(`    +${(e.start - p.start).toFixed(0).padStart(6)} ms  ${e.what} ${e.ms.toFixed(1)} ms, overlapped ${n} slow requests`);
  }
}
