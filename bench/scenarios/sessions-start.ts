import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { measure, scratchDir, type LoadSpec, type MeasuredResult } from '../lib/load.js';
import { cpuRatio, summary } from '../lib/load.js';
import { durationS, emit, postJson, progress, round, warmupS } from '../lib/report.js';
import { ADMIN_KEY, profiled, spawnLimitServer, spawnStreamplane, streamplaneEnv, type Running } from '../lib/server.js';

const CONNECTIONS = 10;
const PATH = '/api/v1/sessions/start';
const BODY = JSON.stringify({ title: 'bench session', max_viewers: 1000, metadata: { source: 'bench' } });
const HEADERS = { 'content-type': 'application/json', authorization: `Bearer ${ADMIN_KEY}` };
const POSTGRES_URL = process.env.BENCH_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/test';

/**
 * sessions_start: POST /api/v1/sessions/start with the operator key, 10 connections, on PGlite
 * (memory://) and on PostgreSQL (a throwaway schema), each against the constant-JSON Fastify limit
 * measured right before it in the same run.
 */
export async function sessionsStart(): Promise<void> {
  const scratch = scratchDir();
  const servers: Running[] = [];
  const stop = async (s: Running) => {
    servers.splice(servers.indexOf(s), 1);
    await s.stop();
  };
  try {
    const spec = (seconds: number): Omit<LoadSpec, 'url'> => ({ method: 'POST', path: PATH, headers: HEADERS, connections: CONNECTIONS, durationS: seconds, body: BODY });
    const pass = async (name: string, server: Running, seconds: number): Promise<MeasuredResult> => {
      progress(`sessions_start: ${name} (${seconds} s, ${CONNECTIONS} connections)`);
      const r = await measure(server, spec(seconds), scratch.dir);
      progress(`sessions_start: ${name}: ${r.req_per_s} req/s, p50 ${r.latency_ms.p50} ms, p99 ${r.latency_ms.p99} ms, non-2xx ${r.non_2xx}, errors ${r.errors}, server CPU ${r.server_cpu_us_per_request} µs/req at ${r.server_cpu_utilization} cores`);
      return r;
    };

    progress('sessions_start: starting the server under test on PGlite (memory://)');
    const pglite = await spawnStreamplane(streamplaneEnv());
    servers.push(pglite);
    const sample = await postJson<unknown>(`${pglite.url}${PATH}`, JSON.parse(BODY), HEADERS);
    const limit = await spawnLimitServer({ method: 'POST', path: PATH, status: sample.status, body: sample.text });
    servers.push(limit);

    await pass('warm-up, limit', limit, warmupS());
    await pass('warm-up, PGlite', pglite, warmupS());
    const limitA = await pass('measured, limit', limit, durationS());
    const onPglite = await profiled('sessions-start-pglite', pglite, () => pass('measured, PGlite', pglite, durationS()));
    await stop(pglite);
    emit(line('pglite', { DATABASE_URL: 'memory://' }, onPglite, limitA, sample.text));

    const reachable = await postgresReachable(POSTGRES_URL);
    if (reachable !== true) {
      progress(`sessions_start: PostgreSQL skipped: ${reachable}`);
      emit({ scenario: 'sessions_start', case: 'postgres', skipped: `PostgreSQL unreachable at ${redact(POSTGRES_URL)}: ${reachable}` });
      return;
    }
    const schema = `bench_${randomBytes(6).toString('hex')}`;
    try {
      progress(`sessions_start: starting the server under test on PostgreSQL (schema ${schema})`);
      const onPg = await spawnStreamplane(streamplaneEnv({ DATABASE_URL: POSTGRES_URL, STREAMPLANE_DATABASE_SCHEMA: schema }));
      servers.push(onPg);
      await pass('warm-up, PostgreSQL', onPg, warmupS());
      const limitB = await pass('measured, limit (again, next to PostgreSQL)', limit, durationS());
      const pgRun = await profiled('sessions-start-postgres', onPg, () => pass('measured, PostgreSQL', onPg, durationS()));
      await stop(onPg);
      emit(line('postgres', { DATABASE_URL: redact(POSTGRES_URL), STREAMPLANE_DATABASE_SCHEMA: schema, schema_dropped_after: true }, pgRun, limitB, sample.text));
    } finally {
      await dropSchema(POSTGRES_URL, schema);
    }
  } finally {
    for (const s of [...servers].reverse()) await s.stop();
    scratch.cleanup();
  }
}

function line(backend: string, db: Record<string, unknown>, subject: MeasuredResult, limit: MeasuredResult, sampleResponse: string) {
  const ratio = subject.req_per_s / limit.req_per_s;
  return {
    scenario: 'sessions_start',
    case: backend,
    what: `POST ${PATH} with the operator key, ${CONNECTIONS} connections, body ${Buffer.byteLength(BODY)} bytes, every request creates a session`,
    subject: summary(subject),
    limit: { name: 'bare Fastify 5 route, constant JSON answer of the same size (a captured session), same POST and headers, separate process', ...summary(limit) },
    ratio: round(ratio),
    // Limit's server CPU per request over the subject's (Node process only: PostgreSQL's own CPU is not in it).
    cpu_ratio: cpuRatio(subject, limit),
    // The brief gives no number for this one: the ratio says how much of the HTTP limit a write path
    // that goes to the database keeps.
    target: null,
    duration_s: durationS(),
    warmup_s: warmupS(),
    database: db,
    response_body_bytes: Buffer.byteLength(sampleResponse),
  };
}

async function postgresReachable(url: string): Promise<true | string> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 3_000 });
  try {
    await client.connect();
    await client.query('SELECT 1');
    return true;
  } catch (err) {
    return err instanceof Error ? err.message || err.name : String(err);
  } finally {
    await client.end().catch(() => {});
  }
}

async function dropSchema(url: string, schema: string): Promise<void> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 3_000 });
  try {
    await client.connect();
    await client.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
    progress(`sessions_start: dropped schema ${schema}`);
  } catch (err) {
    progress(`sessions_start: could not drop schema ${schema}: ${String(err)}`);
  } finally {
    await client.end().catch(() => {});
  }
}

const redact = (url: string) => url.replace(/\/\/([^:/@]*):[^@]*@/, '//$1:***@');
