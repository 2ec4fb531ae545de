import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { cpuRatio, measure, scratchDir, summary, type LoadSpec, type MeasuredResult } from '../lib/load.js';
import { durationS, emit, pool, postJson, progress, round, warmupS } from '../lib/report.js';
import { ADMIN_KEY, profiled, spawnLimitServer, spawnStreamplane, streamplaneEnv, type Running } from '../lib/server.js';

const PATH = '/api/v1/telemetry/events';
const CONNECTIONS = 50;
const BATCH = 100;
const SESSIONS = 10;
const VIEWS = Number(process.env.BENCH_TELEMETRY_VIEWS ?? 2_000);
const TARGET = 0.5;
const operator = { authorization: `Bearer ${ADMIN_KEY}` };

type Ev = { event_id: string; session_id: string; viewer_id: string; view_id: string; type: string; ts: string; data?: Record<string, unknown> };

/**
 * One player's view, as a Mux-style SDK would report it over ~15 minutes: play request, first frame,
 * a bitrate, a heartbeat every 10 s, two rebuffers, two bitrate switches, the end. ~100 events.
 */
function view(i: number, sessionId: string, start: number): Ev[] {
  const viewer_id = `viewer-${i}`;
  const view_id = `view-${i}`;
  let n = 0;
  const ev = (type: string, at: number, data?: Record<string, unknown>): Ev => ({
    event_id: `${view_id}-${n++}`, session_id: sessionId, viewer_id, view_id, type, ts: new Date(at).toISOString(), ...(data ? { data } : {}),
  });
  const out = [
    ev('view_start', start, { device: ['desktop', 'mobile', 'tv'][i % 3], country: ['US', 'DE', 'BR', 'IN'][i % 4], player: 'hls.js 1.5' }),
    ev('bitrate_change', start + 1_200, { bitrate_bps: 2_500_000 }),
    ev('playing', start + 1_200 + (i % 7) * 150),
  ];
  for (let k = 1; k <= 90; k++) out.push(ev('heartbeat', start + k * 10_000, { playhead_ms: k * 10_000 }));
  out.push(
    ev('rebuffer_start', start + 200_000), ev('rebuffer_end', start + 202_500),
    ev('bitrate_change', start + 203_000, { bitrate_bps: 1_200_000 }), ev('bitrate_change', start + 400_000, { bitrate_bps: 4_500_000 }),
    ev('rebuffer_start', start + 600_000), ev('rebuffer_end', start + 601_000),
    ev('view_end', start + 905_000),
  );
  return out;
}

/**
 * telemetry: POST /api/v1/telemetry/events with batches of 100 events from a server-side collector
 * (operator key), events of 2,000 views over 10 sessions interleaved in time order as a collector
 * forwarding many players would send them; against a bare Fastify route that parses the same bodies
 * and answers a constant 202 of the same size. Target: accepted events/s ≥ 0.5 × the limit's.
 */
export async function telemetry(): Promise<void> {
  const scratch = scratchDir();
  const servers: Running[] = [];
  try {
    progress('telemetry: starting the server under test (memory:// PGlite)');
    const env = streamplaneEnv();
    const subject = await spawnStreamplane(env);
    servers.push(subject);

    const sessions = await pool(Array.from({ length: SESSIONS }, (_, i) => i), 5, async (i) =>
      (await postJson<{ id: string }>(`${subject.url}/api/v1/sessions/start`, { title: `telemetry bench ${i}` }, operator)).body.id,
    );
    // Views started over the last 45 minutes (well inside the 24 h age limit for the whole run).
    const base = Date.now() - 45 * 60_000;
    const all = Array.from({ length: VIEWS }, (_, i) => view(i, sessions[i % SESSIONS]!, base + Math.floor((i * 1_800_000) / VIEWS))).flat();
    all.sort((a, b) => (a.ts < b.ts ? -1 : a.ts > b.ts ? 1 : 0));
    const bodies: string[] = [];
    for (let i = 0; i + BATCH <= all.length; i += BATCH) bodies.push(JSON.stringify({ events: all.slice(i, i + BATCH) }));
    const bodiesFile = join(scratch.dir, 'telemetry-bodies.json');
    writeFileSync(bodiesFile, JSON.stringify(bodies));
    const bodyBytes = bodies.map((b) => Buffer.byteLength(b));

    const sample = await postJson<{ accepted: number; rejected: number }>(`${subject.url}${PATH}`, JSON.parse(bodies[0]!), operator);
    if (sample.status !== 202 || sample.body.accepted !== BATCH) throw new Error(`sanity batch not accepted: ${sample.text}`);

    progress(`telemetry: starting the limit server (constant ${Buffer.byteLength(sample.text)}-byte 202 answer)`);
    const limit = await spawnLimitServer({ method: 'POST', path: PATH, status: 202, body: sample.text });
    servers.push(limit);

    const spec = (seconds: number, amount?: number): Omit<LoadSpec, 'url'> => ({
      method: 'POST', path: PATH, headers: { 'content-type': 'application/json', ...operator }, connections: CONNECTIONS, durationS: seconds, bodiesFile, ...(amount ? { amount } : {}),
    });
    const pass = async (name: string, server: Running, seconds: number, amount?: number): Promise<MeasuredResult> => {
      progress(`telemetry: ${name} (${amount ? `${amount} requests` : `${seconds} s`}, ${CONNECTIONS} connections, ${BATCH} events per request)`);
      const r = await measure(server, spec(seconds, amount), scratch.dir);
      progress(`telemetry: ${name}: ${r.req_per_s} req/s = ${Math.round(r.req_per_s * BATCH)} events/s, statuses ${JSON.stringify(r.status_counts)}, p99 ${r.latency_ms.p99} ms, server CPU ${r.server_cpu_us_per_request} µs/req`);
      return r;
    };

    const warmLimit = await pass('warm-up, limit', limit, warmupS());
    // By count: every body once, so every view exists and has its row before the measured pass.
    const warmSubject = await pass('warm-up, subject (every batch once)', subject, 0, bodies.length);
    const limitRun = await pass('measured, limit', limit, durationS());
    const subjectRun = await profiled('telemetry', subject, () => pass('measured, subject', subject, durationS()));

    // What the subject did with it: buffer and flushes, from its /metrics, after the buffer drained.
    await new Promise((r) => setTimeout(r, 3_000));
    const prom = await (await fetch(`${subject.url}/metrics`)).text();
    const metric = (re: RegExp) => Number(re.exec(prom)?.[1] ?? NaN);
    const check = await (await fetch(`${subject.url}/api/v1/telemetry/metrics/${sessions[0]}`, { headers: operator })).json() as { views: number; watch_time_ms: number; rebuffer_count: number };

    const accepted = (r: MeasuredResult) => ((r.status_counts['202'] ?? 0) * BATCH) / r.duration_s;
    const subjectEvents = accepted(subjectRun);
    const limitEvents = limitRun.req_per_s * BATCH;
    const ratio = subjectEvents / limitEvents;
    emit({
      scenario: 'telemetry',
      what: `POST ${PATH}, ${CONNECTIONS} connections, batches of ${BATCH} events (${VIEWS} views over ${SESSIONS} sessions, interleaved by time, operator key); ${bodies.length} distinct bodies in rotation (after the first rotation every event is a duplicate, which costs the same work)`,
      subject: { accepted_events_per_s: Math.round(subjectEvents), ...summary(subjectRun) },
      limit: { name: 'bare Fastify 5 route parsing the same bodies, constant 202 JSON answer of the same size, separate process', events_per_s: Math.round(limitEvents), ...summary(limitRun) },
      ratio: round(ratio),
      cpu_ratio: cpuRatio(subjectRun, limitRun),
      target: { ratio_at_least: TARGET },
      within_target: ratio >= TARGET,
      duration_s: durationS(),
      warmup: { limit_seconds: warmupS(), subject_requests: bodies.length, limit_req_per_s: warmLimit.req_per_s, subject_req_per_s: warmSubject.req_per_s, subject_statuses: warmSubject.status_counts },
      after: {
        buffered_entries: metric(/^streamplane_telemetry_buffered_entries (\S+)$/m),
        flushes_ok: metric(/^streamplane_telemetry_flushes_total\{result="ok"\} (\S+)$/m),
        flushes_failed: metric(/^streamplane_telemetry_flushes_total\{result="failed"\} (\S+)$/m) || 0,
        flush_seconds_sum: round(metric(/^streamplane_telemetry_flush_duration_seconds_sum (\S+)$/m)),
        flush_seconds_count: metric(/^streamplane_telemetry_flush_duration_seconds_count (\S+)$/m),
        backlog_refused_events: metric(/^streamplane_telemetry_events_total\{outcome="backlog"\} (\S+)$/m),
        session_0_metrics: { views: check.views, watch_time_ms: check.watch_time_ms, rebuffer_count: check.rebuffer_count },
      },
      setup: { events: all.length, views: VIEWS, sessions: SESSIONS, request_body_bytes: { min: Math.min(...bodyBytes), max: Math.max(...bodyBytes) }, response_body_bytes: Buffer.byteLength(sample.text) },
      server_env: { DATABASE_URL: env.DATABASE_URL, LOG_LEVEL: env.LOG_LEVEL },
    });
  } finally {
    for (const s of servers.reverse()) await s.stop();
    scratch.cleanup();
  }
}
