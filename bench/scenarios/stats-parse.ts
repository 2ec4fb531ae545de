import { cpuUsage } from 'node:process';
import { nginxStatDocument, nginxStatJsonDocument } from '../../src/services/ingest/stats/fixtures/nginx-stat.fixture.js';
import { parseNginxStat } from '../../src/services/ingest/stats/nginx-stat.parser.js';
import { emit, progress, round } from '../lib/report.js';

const STREAMS = 1_000;
const RUNS = Math.max(20, Number(process.env.BENCH_STATS_PARSE_RUNS ?? 200));
const WARMUP_RUNS = Math.max(10, Math.round(RUNS / 5));
const POLL_INTERVAL_MS = 1_000;

interface Timing {
  wall: number[];
  cpuUs: number;
}

/**
 * stats_parse_1000_streams: what one stats poll of a busy nginx-rtmp node costs the ingest service in
 * CPU: parseNginxStat (saxes tokenizing plus the mapping to NodeStats) of a generated /stat document of
 * 1,000 publishing streams, in this process. Peer in the same run, interleaved run by run so both see
 * the same machine: JSON.parse of the same 1,000 streams as a JSON document, i.e. the floor if the media
 * server spoke JSON. No HTTP: the client's transfer is not in the figure.
 */
export async function statsParse(): Promise<void> {
  const xml = nginxStatDocument(STREAMS);
  const json = nginxStatJsonDocument(STREAMS);
  const parsed = parseNginxStat(xml).streams.length;
  if (parsed !== STREAMS) throw new Error(`stats_parse: parsed ${parsed} streams, generated ${STREAMS}`);

  progress(`stats_parse: ${Buffer.byteLength(xml)}-byte /stat document, ${WARMUP_RUNS} warm-up runs of each parser`);
  for (let i = 0; i < WARMUP_RUNS; i++) {
    parseNginxStat(xml);
    JSON.parse(json);
  }

  progress(`stats_parse: ${RUNS} measured runs of each, interleaved`);
  const subject: Timing = { wall: [], cpuUs: 0 };
  const peer: Timing = { wall: [], cpuUs: 0 };
  for (let i = 0; i < RUNS; i++) {
    timeOnce(subject, () => parseNginxStat(xml));
    timeOnce(peer, () => JSON.parse(json));
    // Let timers and I/O of the host run between samples, as between real polls.
    if (i % 20 === 19) await new Promise((resolve) => setImmediate(resolve));
  }

  const s = summarize(subject);
  const p = summarize(peer);
  progress(`stats_parse: parseNginxStat p50 ${s.p50} ms, p99 ${s.p99} ms; JSON.parse p50 ${p.p50} ms; ratio ${round(s.mean / p.mean, 1)}`);
  emit({
    scenario: 'stats_parse_1000_streams',
    what: `parseNginxStat of a generated nginx-rtmp /stat (rtmp_stat all) with ${STREAMS} publishing streams (0–3 players each, <meta>), in process, ${RUNS} runs after ${WARMUP_RUNS} warm-up runs`,
    subject: {
      ms_per_poll: { p50: s.p50, p99: s.p99, mean: s.mean },
      cpu_ms_per_poll: s.cpuMs,
      document_bytes: Buffer.byteLength(xml),
    },
    limit: {
      name: `JSON.parse of the same ${STREAMS} streams as JSON (numbers as numbers), same process, interleaved with the subject run by run`,
      ms: { p50: p.p50, p99: p.p99, mean: p.mean },
      cpu_ms: p.cpuMs,
      document_bytes: Buffer.byteLength(json),
    },
    ratio: round(s.mean / p.mean, 1),
    // One poll per second per node: the share of one core spent parsing that node's stats.
    cpu_share_at_1s_poll: round(s.cpuMs / POLL_INTERVAL_MS, 4),
    target: null,
    runs: RUNS,
    warmup_runs: WARMUP_RUNS,
  });
}

function timeOnce(into: Timing, fn: () => unknown): void {
  const cpu0 = cpuUsage();
  const t0 = performance.now();
  fn();
  into.wall.push(performance.now() - t0);
  const cpu = cpuUsage(cpu0);
  into.cpuUs += cpu.user + cpu.system;
}

function summarize(t: Timing) {
  const sorted = [...t.wall].sort((a, b) => a - b);
  const at = (q: number) => sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)]!;
  return {
    p50: round(at(0.5), 2),
    p99: round(at(0.99), 2),
    mean: round(sorted.reduce((a, b) => a + b, 0) / sorted.length, 2),
    // Process CPU (all threads, so GC helpers included) over the measured runs of this parser only.
    cpuMs: round(t.cpuUs / 1000 / t.wall.length, 2),
  };
}
