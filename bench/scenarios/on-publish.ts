import { randomBytes } from 'node:crypto';
import { appendFileSync, readFileSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { exited, spawnTracked, stopChild } from '../lib/children.js';
import { scratchDir } from '../lib/load.js';
import { durationS, emit, pool, postJson, progress, round, warmupS } from '../lib/report.js';
import { ADMIN_KEY, cpuProfDir, cpuUs, profiled, REPO_ROOT, spawnLimitServer, spawnStreamplane, streamplaneEnv, type Running } from '../lib/server.js';

/**
 * on_publish: nginx-rtmp's publish callback (`POST <node hooks.on_publish>`, form-encoded) against
 * the real server on PGlite, with a bare Fastify route answering a constant JSON as the HTTP limit.
 *
 * The generator is not autocannon. The callback route answers `Connection: close` (nginx-rtmp's
 * notify client speaks HTTP/1.0 and opens one connection per callback), and autocannon 8 does not
 * survive a server that closes: on each response it writes the next request on the closing socket,
 * then reconnects and sends again, so its queue of pending requests grows by one per response and
 * every latency is measured from a stale entry (tried here: 1,000 req/s asked, ~500/s sent, p50 0.5 s
 * against a server answering in microseconds); `reconnectRate` drops the response it reconnects on.
 * So this file is also the generator (run as `node --import tsx bench/scenarios/on-publish.ts
 * --generator <spec.json>` on the load CPU): it does what nginx does, one TCP connection per
 * callback, `POST … HTTP/1.0` with nginx's headers and body, read until the server closes.
 */

/** BENCH_ON_PUBLISH_KEYS: valid keys (one session and ingest each); BENCH_ON_PUBLISH_RATE: the fixed rate (the issue's is 1,000/s). */
const VALID_KEYS = Number(process.env.BENCH_ON_PUBLISH_KEYS ?? 200);
const RATE = Number(process.env.BENCH_ON_PUBLISH_RATE ?? 1_000);
const RATE_CONCURRENCY = 20;
const THROUGHPUT_CONCURRENCY = 50;
const BAD_EVERY = 10; // one request in ten carries a bad key in the mixed case
const TARGET_P99_MS = 10;
const operator = { authorization: `Bearer ${ADMIN_KEY}` };

// ---------------------------------------------------------------------------------------------
// The generator (its own process)

interface GenSpec {
  port: number;
  path: string;
  /** Valid keys and the session each one must be renamed to (302 Location). */
  keys: Array<{ key: string; session_id: string }>;
  /** Every n-th request (n > 0) carries a well-formed key that does not exist (expect 403). */
  badEvery: number;
  /** Check each answer against the key (the subject); the limit answers its constant to everything. */
  check: boolean;
  /** Fixed rate (open loop, latency from each request's scheduled time) or closed loop (as fast as answered). */
  mode: 'rate' | 'closed';
  rate: number;
  concurrency: number;
  durationS: number;
  /** Start of this pass's client ids and addresses, so that no address repeats over the run. */
  seq0: number;
}

interface Quantiles {
  p50: number;
  p90: number;
  p99: number;
  max: number;
  mean: number;
}

interface GenResult {
  duration_s: number;
  requests: number;
  req_per_s: number;
  /** Fixed rate: from the time the request was due; closed loop: from connect(). */
  latency_ms: Quantiles;
  /** From connect() (the TCP handshake is in it: nginx opens a connection per callback). */
  latency_from_connect_ms: Quantiles;
  status_counts: Record<string, number>;
  answered_2xx_3xx: number;
  other_status: number;
  /** 302 with a Location other than the key's session, 403 for a valid key, anything but 403 for a bad one; null when not checked. */
  wrong_answers: number | null;
  errors: number;
  error_codes: Record<string, number>;
  timeouts: number;
  /** Fixed rate: requests started more than 1 ms after they were due (timer jitter, or waiting for one of the `concurrency` slots). */
  late_starts: number;
  max_in_flight: number;
  generator_cpu_utilization: number;
  /** Fixed rate: requests that were due in the window but not started (the generator fell behind). */
  not_sent: number;
}

const NGINX_HEAD = (path: string, len: number) =>
  `POST ${path} HTTP/1.0\r\nHost: 127.0.0.1\r\nContent-Type: application/x-www-form-urlencoded\r\nConnection: Close\r\nContent-Length: ${len}\r\n\r\n`;

/** nginx-rtmp 1.2.2's on_publish body (recorded fixture publish.json), with this request's fields. */
const nginxBody = (addr: string, clientId: number, key: string) =>
  `app=live&flashver=FMLE/3.0%20(compatible%3B%20Lavf59.27&swfurl=&tcurl=rtmp://127.0.0.1:1935/live&pageurl=&addr=${addr}&clientid=${clientId}&call=publish&name=${key}&type=live`;

/** A distinct address per request: 10.a.b.c from the sequence number (16.7 M before one repeats). */
const addrOf = (n: number) => `10.${(n >>> 16) & 255}.${(n >>> 8) & 255}.${n & 255}`;

const badKey = () => `sk_${randomBytes(32).toString('base64url')}`;

interface Answer {
  status: number;
  location: string | null;
  error: string | null;
}

/** One callback as nginx makes it: connect, send, read until the server closes. */
function callback(port: number, path: string, body: string, timeoutMs: number): Promise<Answer> {
  return new Promise((resolve) => {
    const sock = connect(port, '127.0.0.1');
    sock.setNoDelay(true);
    const chunks: Buffer[] = [];
    let done = false;
    const finish = (a: Answer) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      sock.destroy();
      resolve(a);
    };
    const timer = setTimeout(() => finish({ status: 0, location: null, error: 'timeout' }), timeoutMs);
    sock.on('data', (c: Buffer) => chunks.push(c));
    sock.on('end', () => {
      const head = Buffer.concat(chunks).toString('latin1');
      const m = /^HTTP\/1\.[01] (\d{3})/.exec(head);
      const loc = /\r\nlocation:\s*([^\r\n]*)/i.exec(head);
      finish(m ? { status: Number(m[1]), location: loc ? loc[1]!.trim() : null, error: null } : { status: 0, location: null, error: 'unparsable' });
    });
    sock.on('error', (err: NodeJS.ErrnoException) => finish({ status: 0, location: null, error: err.code ?? err.message }));
    sock.on('close', () => finish({ status: 0, location: null, error: 'closed_early' }));
    // write, not end: nginx's netcall sends the request and reads the answer without shutting down
    // its sending side (ngx_rtmp_netcall_send), and a half-closed socket lets Node drop a slow answer.
    sock.write(NGINX_HEAD(path, Buffer.byteLength(body)) + body);
  });
}

function quantiles(xs: Float64Array): Quantiles {
  if (xs.length === 0) return { p50: NaN, p90: NaN, p99: NaN, max: NaN, mean: NaN };
  const s = xs.slice().sort();
  const q = (p: number) => round(s[Math.min(s.length - 1, Math.ceil(p * s.length) - 1)]!, 2);
  let sum = 0;
  for (const x of s) sum += x;
  return { p50: q(0.5), p90: q(0.9), p99: q(0.99), max: round(s[s.length - 1]!, 2), mean: round(sum / s.length, 2) };
}

async function generate(spec: GenSpec): Promise<GenResult> {
  const fromDue: number[] = [];
  const fromConnect: number[] = [];
  const statusCounts: Record<string, number> = {};
  const errorCodes: Record<string, number> = {};
  let wrong = 0;
  let errors = 0;
  let timeouts = 0;
  let late = 0;
  let inFlight = 0;
  let maxInFlight = 0;
  let seq = spec.seq0;
  let nthGood = 0;
  let sent = 0;

  const one = async (due: number) => {
    const n = seq++;
    const bad = spec.badEvery > 0 && (n - spec.seq0) % spec.badEvery === spec.badEvery - 1;
    const k = bad ? null : spec.keys[nthGood++ % spec.keys.length]!;
    const body = nginxBody(addrOf(n), n, k ? k.key : badKey());
    inFlight++;
    if (inFlight > maxInFlight) maxInFlight = inFlight;
    const t0 = performance.now();
    if (t0 - due > 1) late++;
    sent++;
    const a = await callback(spec.port, spec.path, body, 10_000);
    const t1 = performance.now();
    inFlight--;
    if (t1 > end) return; // answered after the window: not counted (as autocannon does)
    if (a.error) {
      errors++;
      if (a.error === 'timeout') timeouts++;
      errorCodes[a.error] = (errorCodes[a.error] ?? 0) + 1;
      return;
    }
    statusCounts[a.status] = (statusCounts[a.status] ?? 0) + 1;
    if (spec.check && (k ? !(a.status === 302 && a.location === k.session_id) : a.status !== 403)) wrong++;
    fromDue.push(t1 - due);
    fromConnect.push(t1 - t0);
    if (slowTrace && t1 - due > 5) slowTrace.push(`${(performance.timeOrigin + due).toFixed(1)} ${(t1 - due).toFixed(2)} ${(t0 - due).toFixed(2)}`);
  };

  // BENCH_SLOW_TRACE=<file>: appends each pass's window and its requests over 5 ms (epoch due time,
  // latency, start delay) for bench/lib/slow-vs-gc.ts.
  const slowTrace: string[] | null = process.env.BENCH_SLOW_TRACE ? [] : null;
  const cpu0 = process.cpuUsage();
  const start = performance.now();
  const end = start + spec.durationS * 1000;
  let due = 0;
  if (spec.mode === 'closed') {
    await Promise.all(
      Array.from({ length: spec.concurrency }, async () => {
        while (performance.now() < end) await one(performance.now());
      }),
    );
  } else {
    // Open loop: request i is due at start + i/rate. At most `concurrency` in flight; a request that
    // waits for a slot keeps its due time, so the wait is in its latency (no coordinated omission).
    const interval = 1000 / spec.rate;
    const total = Math.floor(spec.durationS * spec.rate);
    const running = new Set<Promise<void>>();
    await new Promise<void>((resolve) => {
      let stopped = false;
      const tick = () => {
        if (stopped) return;
        const now = performance.now();
        while (due < total && start + due * interval <= now && running.size < spec.concurrency) {
          const p = one(start + due * interval).finally(() => {
            running.delete(p);
            setImmediate(tick);
          });
          running.add(p);
          due++;
        }
        if (due >= total || now > end) {
          stopped = true;
          clearInterval(timer);
          resolve();
        }
      };
      const timer = setInterval(tick, 1);
    });
    await Promise.all(running);
  }
  const elapsed = Math.min(performance.now(), end) - start;
  const cpu = process.cpuUsage(cpu0);
  if (slowTrace) appendFileSync(process.env.BENCH_SLOW_TRACE!, `# pass ${(performance.timeOrigin + start).toFixed(1)} ${(performance.timeOrigin + end).toFixed(1)} ${spec.mode} bad=${spec.badEvery}\n${slowTrace.map((l) => `${l}\n`).join('')}`);
  const answered = fromDue.length;
  const ok = Object.entries(statusCounts).reduce((s, [code, c]) => s + (Number(code) >= 200 && Number(code) < 400 ? c : 0), 0);
  return {
    duration_s: round(elapsed / 1000, 2),
    requests: answered,
    req_per_s: Math.round(answered / (elapsed / 1000)),
    latency_ms: quantiles(Float64Array.from(spec.mode === 'rate' ? fromDue : fromConnect)),
    latency_from_connect_ms: quantiles(Float64Array.from(fromConnect)),
    status_counts: statusCounts,
    answered_2xx_3xx: ok,
    other_status: answered - ok,
    wrong_answers: spec.check ? wrong : null,
    errors,
    error_codes: errorCodes,
    timeouts,
    late_starts: late,
    max_in_flight: maxInFlight,
    generator_cpu_utilization: round((cpu.user + cpu.system) / 1000 / elapsed, 2),
    not_sent: spec.mode === 'rate' ? Math.floor(spec.durationS * spec.rate) - sent : 0,
  };
}

if (process.argv[2] === '--generator' && process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const spec = JSON.parse(readFileSync(process.argv[3]!, 'utf8')) as GenSpec;
  process.stdout.write(`${JSON.stringify({ event: 'result', result: await generate(spec) })}\n`);
  process.exit(0);
}

// ---------------------------------------------------------------------------------------------
// The scenario (the bench process)

interface Measured extends GenResult {
  server_cpu_us_per_request: number | null;
  server_cpu_utilization: number | null;
}

let passes = 0;
let seq = 1;

/** One generator pass in its own process on the load CPU, with the server's CPU read around it. */
async function pass(name: string, server: Running, spec: Omit<GenSpec, 'port' | 'seq0' | 'check'>, scratch: string, check: boolean): Promise<Measured> {
  progress(`on_publish: ${name} (${spec.mode === 'rate' ? `${spec.rate}/s open loop, ≤ ${spec.concurrency} in flight` : `closed loop, ${spec.concurrency} concurrent`}, ${spec.durationS} s${spec.badEvery ? `, 1 in ${spec.badEvery} bad keys` : ''})`);
  const full: GenSpec = { ...spec, check, port: server.port, seq0: seq };
  // Address and client-id space used by this pass (an upper bound: nothing here answers 100k/s).
  seq += Math.ceil(spec.durationS * (spec.mode === 'rate' ? spec.rate : 100_000)) + 1;
  const file = join(scratch, `on-publish-${process.pid}-${passes++}.json`);
  writeFileSync(file, JSON.stringify(full));
  const child = spawnTracked('load', process.execPath, ['--import', 'tsx', 'bench/scenarios/on-publish.ts', '--generator', file], { cwd: REPO_ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout!.on('data', (c: Buffer) => (out += c.toString('utf8')));
  child.stderr!.on('data', (c: Buffer) => (err = (err + c.toString('utf8')).slice(-8_000)));
  const cpu0 = cpuUs(server.pid);
  const t0 = performance.now();
  const { code, signal } = await exited(child);
  const wallUs = (performance.now() - t0) * 1000;
  const cpu1 = cpuUs(server.pid);
  const line = out.split('\n').find((l) => l.startsWith('{"event":"result"'));
  if (!line) {
    await stopChild(child, 1_000);
    throw new Error(`on_publish generator exited (code ${code}, signal ${signal}) without a result\n${err}`);
  }
  const r = (JSON.parse(line) as { result: GenResult }).result;
  const used = cpu0 === null || cpu1 === null ? null : cpu1 - cpu0;
  const m: Measured = {
    ...r,
    // Over the generator process's whole life (its start-up too): a slight overestimate of the pass.
    server_cpu_us_per_request: used === null || r.requests === 0 ? null : round(used / r.requests, 1),
    server_cpu_utilization: used === null ? null : round(used / Math.min(wallUs, r.duration_s * 1e6), 2),
  };
  progress(`on_publish: ${name}: ${m.req_per_s} req/s, p50 ${m.latency_ms.p50} ms, p99 ${m.latency_ms.p99} ms, max ${m.latency_ms.max} ms, statuses ${JSON.stringify(m.status_counts)}, wrong ${m.wrong_answers}, errors ${m.errors}, server CPU ${m.server_cpu_us_per_request} µs/req at ${m.server_cpu_utilization} cores, generator ${m.generator_cpu_utilization} cores`);
  return m;
}

function figures(r: Measured) {
  return {
    req_per_s: r.req_per_s,
    requests: r.requests,
    latency_ms: r.latency_ms,
    latency_from_connect_ms: r.latency_from_connect_ms,
    status_counts: r.status_counts,
    answered_2xx_3xx: r.answered_2xx_3xx,
    other_status: r.other_status,
    wrong_answers: r.wrong_answers,
    errors: r.errors,
    error_codes: r.error_codes,
    timeouts: r.timeouts,
    server_cpu_us_per_request: r.server_cpu_us_per_request,
    server_cpu_utilization: r.server_cpu_utilization,
    generator: { cpu_utilization: r.generator_cpu_utilization, late_starts: r.late_starts, not_sent: r.not_sent, max_in_flight: r.max_in_flight },
  };
}

interface NodeDoc {
  id: string;
  hooks: Record<string, string>;
}

/**
 * on_publish (three lines): nginx-rtmp publish callbacks at a fixed 1,000/s with valid keys, the
 * same with one key in ten bad, and as fast as they are answered with 50 concurrent callbacks against
 * the constant-JSON limit (same connections, same request bytes) measured in the same run.
 */
export async function onPublish(): Promise<void> {
  const scratch = scratchDir();
  const servers: Running[] = [];
  try {
    // BENCH_ON_PUBLISH_PGLITE=dir: PGlite in a data directory, as `npm start` runs it, instead of memory://.
    const onDisk = process.env.BENCH_ON_PUBLISH_PGLITE === 'dir';
    progress(`on_publish: starting the server under test (${onDisk ? 'PGlite in a new data directory' : 'memory:// PGlite'})${cpuProfDir() ? `, --cpu-prof into ${cpuProfDir()}` : ''}`);
    const env = streamplaneEnv();
    if (onDisk) {
      delete env.DATABASE_URL;
      env.STREAMPLANE_DATA_DIR = join(scratch.dir, 'pgdata');
    }
    const subject = await spawnStreamplane(env);
    servers.push(subject);

    const t0 = performance.now();
    // Capacity above the number of ingests (the default, 100, would refuse the 101st).
    const node = (await postJson<NodeDoc>(`${subject.url}/api/v1/ingest/nodes`, { name: 'bench-nginx', kind: 'nginx-rtmp', region: 'eu-west-1', ingest_url: 'rtmp://127.0.0.1:1935/live', capacity: 10_000 }, operator)).body;
    const path = new URL(node.hooks.on_publish!).pathname;
    const keys = await pool(Array.from({ length: VALID_KEYS }, (_, i) => i), 8, async () => {
      const session = (await postJson<{ id: string }>(`${subject.url}/api/v1/sessions/start`, {}, operator)).body.id;
      const ing = (await postJson<{ session_id: string; stream_key: string }>(`${subject.url}/api/v1/ingest/start`, { session_id: session }, operator)).body;
      return { key: ing.stream_key, session_id: ing.session_id };
    });
    progress(`on_publish: node ${node.id}, ${keys.length} sessions with an ingest each in ${((performance.now() - t0) / 1000).toFixed(1)} s`);

    // Sanity, as nginx would call: a valid key is renamed to its session, a bad one refused.
    const good = await callback(subject.port, path, nginxBody('192.0.2.1', 1, keys[0]!.key), 10_000);
    const refused = await callback(subject.port, path, nginxBody('192.0.2.2', 2, badKey()), 10_000);
    if (good.status !== 302 || good.location !== keys[0]!.session_id || refused.status !== 403) {
      throw new Error(`on_publish sanity failed: valid key -> ${good.status} ${good.location} (${good.error}), bad key -> ${refused.status} (${refused.error})`);
    }

    progress('on_publish: starting the limit server (constant JSON, same path, raw body as the hook route reads it)');
    const limitBody = '{"ok":true}';
    const limit = await spawnLimitServer({ method: 'POST', path, status: 200, body: limitBody, rawBody: true });
    servers.push(limit);

    const rate = (seconds: number, badEvery = 0) => ({ path, keys, badEvery, mode: 'rate' as const, rate: RATE, concurrency: RATE_CONCURRENCY, durationS: seconds });
    const closed = (seconds: number) => ({ path, keys, badEvery: 0, mode: 'closed' as const, rate: 0, concurrency: THROUGHPUT_CONCURRENCY, durationS: seconds });

    await pass('warm-up, limit', limit, closed(warmupS()), scratch.dir, false);
    await pass('warm-up, subject (every key published, ingests live)', subject, rate(warmupS()), scratch.dir, true);

    const limitAtRate = await pass('measured, limit at the fixed rate', limit, rate(durationS()), scratch.dir, false);
    const valid = await profiled('on-publish-rate', subject, () => pass('measured, subject, valid keys', subject, rate(durationS()), scratch.dir, true));
    const mixed = await pass('measured, subject, 10 % bad keys', subject, rate(durationS(), BAD_EVERY), scratch.dir, true);
    const limitMax = await pass('measured, limit, max rate', limit, closed(durationS()), scratch.dir, false);
    const subjectMax = await profiled('on-publish-max', subject, () => pass('measured, subject, max rate', subject, closed(durationS()), scratch.dir, true));

    const common = {
      duration_s: durationS(),
      warmup_s: warmupS(),
      setup: { valid_keys: keys.length, sessions: keys.length, ingests: keys.length, nodes: 1, node_kind: 'nginx-rtmp', live_ingests_during_measure: keys.length },
      request: {
        as_nginx: 'one TCP connection per callback, POST … HTTP/1.0, Content-Type application/x-www-form-urlencoded, Connection: Close, read until the server closes (the answer carries Connection: close)',
        body_example: nginxBody(addrOf(1), 1, '<stream key>'),
        body_bytes: Buffer.byteLength(nginxBody(addrOf(1), 1, keys[0]!.key)),
        per_request: 'a distinct clientid and a distinct addr (10.x.y.z) on every request over the whole run; valid keys in rotation',
        generator: 'this file in --generator mode, its own process (not autocannon: see the comment at the top of bench/scenarios/on-publish.ts)',
      },
      server_env: { DATABASE_URL: env.DATABASE_URL ?? 'unset (PGlite in STREAMPLANE_DATA_DIR, a new directory)', LOG_LEVEL: env.LOG_LEVEL, STREAMPLANE_INGEST_BAD_KEY_LIMIT: 'default (10 per address per 60 s)', cpu_prof: Boolean(cpuProfDir()) },
    };
    const limitName = 'bare Fastify 5 route on the same path, constant JSON answer (200, 11 bytes), body read raw as the hook route reads it, separate process; same generator and request bytes';
    const rateLine = (kase: string, what: string, r: Measured, extra: Record<string, unknown> = {}) => {
      const met = RATE >= 1_000 && r.latency_ms.p99 < TARGET_P99_MS && r.errors === 0 && r.wrong_answers === 0 && r.not_sent === 0;
      emit({
        scenario: 'on_publish',
        case: kase,
        what,
        subject: figures(r),
        limit: { name: `${limitName}, same fixed rate`, ...figures(limitAtRate) },
        ratio: round(r.latency_ms.p99 / limitAtRate.latency_ms.p99),
        ratio_is: 'subject p99 ÷ limit p99 at the same rate',
        target: { p99_ms_below: TARGET_P99_MS, rate_per_s: 1_000 },
        rate_per_s: RATE,
        met,
        met_means: 'at 1,000/s or more: p99 (from each request\'s due time) below the target, every request sent on time, no connection error, no wrong answer',
        ...extra,
        ...common,
      });
    };
    rateLine('fixed_rate_valid_keys', `nginx-rtmp on_publish at a fixed ${RATE}/s (open loop, ≤ ${RATE_CONCURRENCY} in flight), every key valid: 302 Location <session id>`, valid);
    rateLine('fixed_rate_10pct_bad_keys', `the same with 1 request in ${BAD_EVERY} carrying a well-formed unknown key (403); every request from its own address, so the bad-key throttle (10 refusals per address per 60 s) never trips and every bad key costs a database lookup and a rate-limit hit`, mixed, {
      bad_keys: Math.floor(mixed.requests / BAD_EVERY),
    });

    const ratio = subjectMax.req_per_s / limitMax.req_per_s;
    emit({
      scenario: 'on_publish',
      case: 'max_rate',
      what: `nginx-rtmp on_publish as fast as answered, ${THROUGHPUT_CONCURRENCY} concurrent callbacks (closed loop, a new connection each), every key valid`,
      subject: figures(subjectMax),
      limit: { name: `${limitName}, same concurrency`, ...figures(limitMax) },
      ratio: round(ratio),
      cpu_ratio: subjectMax.server_cpu_us_per_request && limitMax.server_cpu_us_per_request ? round(limitMax.server_cpu_us_per_request / subjectMax.server_cpu_us_per_request) : null,
      target: null,
      target_note: 'the issue gives no number for the throughput ratio; reported only',
      ...common,
    });
  } finally {
    for (const s of servers.reverse()) await s.stop();
    scratch.cleanup();
  }
}
