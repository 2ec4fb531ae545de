import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { measure, scratchDir, startLoad, type LoadSpec, type MeasuredResult } from '../lib/load.js';
import { cpuRatio, summary } from '../lib/load.js';
import { durationS, emit, median, pool, postJson, progress, round, sleep, warmupS } from '../lib/report.js';
import { ADMIN_KEY, cpuProfDir, profiled, spawnLimitServer, spawnStreamplane, streamplaneEnv, type Running } from '../lib/server.js';

const CONNECTIONS = 50;
const TOKENS = Number(process.env.BENCH_TOKENS ?? 10_000);
const SESSIONS = 100;
const RATE_LIMIT_PER_MINUTE = 100_000_000;
const REVOCATIONS = 5;
const PATH = '/api/v1/auth/validate-token';
const operator = { authorization: `Bearer ${ADMIN_KEY}` };

interface Minted {
  session_id: string;
  viewer_id: string;
  access_token: string;
}

/**
 * validate_token: POST /api/v1/auth/validate-token over HTTP, 50 connections, 10,000 distinct valid
 * tokens in rotation, against a bare Fastify route answering the same-size POST with a constant JSON.
 * validate_token_revocation_latency: under the same load, time from sending a viewer revocation to the
 * first validate answer that says valid:false for that viewer's token.
 */
export async function validateToken(): Promise<void> {
  const scratch = scratchDir();
  const servers: Running[] = [];
  try {
    progress(`validate_token: starting the server under test (memory:// PGlite)${cpuProfDir() ? `, --cpu-prof into ${cpuProfDir()}` : ''}`);
    const env = streamplaneEnv({ STREAMPLANE_VALIDATE_RATE_LIMIT_PER_MINUTE: String(RATE_LIMIT_PER_MINUTE) });
    const subject = await spawnStreamplane(env);
    servers.push(subject);

    const minted = await mintTokens(subject.url);
    const sanity = await pool(sample(minted, 200), 10, async (m) => (await validate(subject.url, m.access_token)).valid);
    const sampleResponse = (await postJson<unknown>(`${subject.url}${PATH}`, { token: minted[0]!.access_token })).text;

    const bodies = minted.map((m) => JSON.stringify({ token: m.access_token }));
    const bodiesFile = join(scratch.dir, 'validate-bodies.json');
    writeFileSync(bodiesFile, JSON.stringify(bodies));
    const bodyBytes = bodies.map((b) => Buffer.byteLength(b));

    progress(`validate_token: starting the limit server (constant ${Buffer.byteLength(sampleResponse)}-byte JSON answer)`);
    const limit = await spawnLimitServer({ method: 'POST', path: PATH, status: 200, body: sampleResponse });
    servers.push(limit);

    const spec = (seconds: number, rotate = true): Omit<LoadSpec, 'url'> => ({
      method: 'POST',
      path: PATH,
      headers: { 'content-type': 'application/json' },
      connections: CONNECTIONS,
      durationS: seconds,
      ...(rotate ? { bodiesFile } : { body: bodies[0]! }),
    });
    const pass = async (name: string, server: Running, seconds: number, rotate = true, amount?: number): Promise<MeasuredResult> => {
      progress(`validate_token: ${name} (${amount ? `${amount} requests` : `${seconds} s`}, ${CONNECTIONS} connections)`);
      const r = await measure(server, { ...spec(seconds, rotate), ...(amount ? { amount } : {}) }, scratch.dir);
      progress(`validate_token: ${name}: ${r.req_per_s} req/s, p50 ${r.latency_ms.p50} ms, p99 ${r.latency_ms.p99} ms, non-2xx ${r.non_2xx}, errors ${r.errors}, server CPU ${r.server_cpu_us_per_request} µs/req at ${r.server_cpu_utilization} cores`);
      return r;
    };

    const warmLimit = await pass('warm-up, limit', limit, warmupS());
    // By count, not time: every token must have been verified once (and cached) before the measured
    // pass, however slow the machine is today. Two rotations: the second one runs on warm caches and JIT.
    const warmSubject = await pass('warm-up, subject (every token twice: fills the verified-token cache)', subject, 0, true, 2 * minted.length);
    const limitRun = await profiled('validate-token-limit', limit, () => pass('measured, limit', limit, durationS()));
    const subjectRun = await profiled('validate-token', subject, () => pass('measured, subject', subject, durationS()));
    // Does rotating the bodies cost the generator throughput? If the limit is much faster with one
    // fixed body, the generator, not the limit server, set the limit figure (see lib/load-worker.ts).
    const staticLimit = await pass('generator check, limit with one fixed body', limit, Math.max(2, Math.round(durationS() / 2)), false);

    const ratio = subjectRun.req_per_s / limitRun.req_per_s;
    emit({
      scenario: 'validate_token',
      what: `POST ${PATH}, ${CONNECTIONS} connections, ${minted.length} distinct valid tokens over ${SESSIONS} sessions in rotation`,
      subject: summary(subjectRun),
      limit: { name: 'bare Fastify 5 route, constant JSON answer of the same size, POST of the same bodies, separate process', ...summary(limitRun) },
      ratio: round(ratio),
      cpu_ratio: cpuRatio(subjectRun, limitRun),
      target: { ratio_at_least: 0.7 },
      within_target: ratio >= 0.7,
      duration_s: durationS(),
      warmup: { limit_seconds: warmupS(), subject_requests_each_token_twice: 2 * minted.length, limit_req_per_s: warmLimit.req_per_s, subject_req_per_s: warmSubject.req_per_s, subject_non_2xx: warmSubject.non_2xx },
      generator_check: {
        limit_one_fixed_body_req_per_s: staticLimit.req_per_s,
        rotating_vs_fixed: round(limitRun.req_per_s / staticLimit.req_per_s),
      },
      setup: {
        tokens: minted.length,
        sessions: SESSIONS,
        request_body_bytes: { min: Math.min(...bodyBytes), max: Math.max(...bodyBytes) },
        response_body_bytes: Buffer.byteLength(sampleResponse),
        sanity_sample_valid: `${sanity.filter(Boolean).length}/${sanity.length}`,
      },
      server_env: {
        DATABASE_URL: env.DATABASE_URL,
        LOG_LEVEL: env.LOG_LEVEL,
        STREAMPLANE_VALIDATE_RATE_LIMIT_PER_MINUTE: RATE_LIMIT_PER_MINUTE,
        rate_limiter: 'registered and counting on every validate call, limit too high to refuse',
        STREAMPLANE_TOKEN_CACHE_MAX_ENTRIES: 'default (100000)',
        cpu_prof: Boolean(cpuProfDir()),
      },
    });

    await revocationLatency(subject, minted, { ...spec(REVOCATIONS + 5), url: subject.url }, scratch.dir);
  } finally {
    for (const s of servers.reverse()) await s.stop();
    scratch.cleanup();
  }
}

async function revocationLatency(subject: Running, minted: Minted[], spec: LoadSpec, scratch: string): Promise<void> {
  progress(`validate_token_revocation_latency: ${spec.durationS} s of load, ${REVOCATIONS} revocations during it`);
  const load = startLoad(spec, scratch);
  await load.started;
  await sleep(1_000);

  // The floor: a revocation cannot be seen sooner than one validate round trip under this load.
  const probe = minted[minted.length - 1]!;
  const rtts: number[] = [];
  for (let i = 0; i < 30; i++) {
    const t = performance.now();
    await validate(subject.url, probe.access_token);
    rtts.push(performance.now() - t);
  }

  const victims = sample(minted.slice(0, -1), REVOCATIONS);
  const samples: Array<{ latency_ms: number; revoke_call_ms: number; polls: number; reason: string | null }> = [];
  for (const v of victims) {
    const t0 = performance.now();
    let revokeMs = NaN;
    const revoke = postJson(`${subject.url}/api/v1/auth/revoke`, { session_id: v.session_id, viewer_id: v.viewer_id }, operator).then(() => {
      revokeMs = performance.now() - t0;
    });
    let polls = 0;
    let seen: { at: number; reason: string | null } | null = null;
    while (performance.now() - t0 < 5_000) {
      const r = await validate(subject.url, v.access_token);
      polls++;
      if (!r.valid) {
        seen = { at: performance.now(), reason: r.reason ?? null };
        break;
      }
    }
    await revoke;
    samples.push({ latency_ms: seen ? round(seen.at - t0, 2) : Infinity, revoke_call_ms: round(revokeMs, 2), polls, reason: seen?.reason ?? null });
    await sleep(500);
  }
  const loadResult = await load.result;

  const latencies = samples.map((s) => s.latency_ms);
  const rttMedian = median(rtts);
  const worst = Math.max(...latencies);
  emit({
    scenario: 'validate_token_revocation_latency',
    what: 'POST /api/v1/auth/revoke {session_id, viewer_id} during the validate_token load; time from sending it to the first validate answer valid:false for that viewer (polled back to back from the bench process)',
    subject: {
      latency_ms: { median: round(median(latencies), 2), max: Number.isFinite(worst) ? round(worst, 2) : null },
      revoke_call_ms_median: round(median(samples.map((s) => s.revoke_call_ms)), 2),
      samples,
    },
    limit: { name: 'one validate round trip from the bench process under the same load (median of 30, measured just before)', ms: round(rttMedian, 2), p90_ms: round(quantile(rtts, 0.9), 2) },
    ratio: round(median(latencies) / rttMedian),
    target: { max_latency_ms_below: 1000 },
    within_target: worst < 1000,
    background_load: { connections: spec.connections, req_per_s: loadResult.req_per_s, non_2xx: loadResult.non_2xx, errors: loadResult.errors },
    instances: 1,
  });
}

async function mintTokens(url: string): Promise<Minted[]> {
  const t0 = performance.now();
  const sessions = await pool(Array.from({ length: SESSIONS }, (_, i) => i), 10, async (i) =>
    (await postJson<{ id: string }>(`${url}/api/v1/sessions/start`, { title: `bench ${i}` }, operator)).body.id,
  );
  progress(`validate_token: minting ${TOKENS} tokens over ${sessions.length} sessions`);
  let done = 0;
  const minted = await pool(Array.from({ length: TOKENS }, (_, i) => i), 32, async (i) => {
    const session_id = sessions[i % sessions.length]!;
    const viewer_id = `viewer-${i}`;
    const { body } = await postJson<{ access_token: string }>(`${url}/api/v1/auth/tokens`, { session_id, viewer_id, scopes: ['view', 'chat'], ttl_seconds: 3_600 }, operator);
    if (++done % 2_500 === 0) progress(`validate_token: ${done} minted`);
    return { session_id, viewer_id, access_token: body.access_token };
  });
  const s = (performance.now() - t0) / 1000;
  progress(`validate_token: ${minted.length} tokens in ${s.toFixed(1)} s (${Math.round(minted.length / s)}/s)`);
  if (new Set(minted.map((m) => m.access_token)).size !== minted.length) throw new Error('minted tokens are not distinct');
  return minted;
}

async function validate(url: string, token: string): Promise<{ valid: boolean; reason?: string }> {
  return (await postJson<{ valid: boolean; reason?: string }>(`${url}${PATH}`, { token })).body;
}

/** Limit's server CPU per request over the subject's: the throughput ratio two quiet cores would give. */

/** `n` items spread evenly over the list (deterministic, so runs are comparable). */
function sample<T>(xs: T[], n: number): T[] {
  if (xs.length <= n) return [...xs];
  const step = xs.length / n;
  return Array.from({ length: n }, (_, i) => xs[Math.floor(i * step)]!);
}

function quantile(xs: number[], q: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(q * s.length))]!;
}
