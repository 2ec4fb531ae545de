import { tracingChannel } from 'node:diagnostics_channel';
import { request as httpRequest } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FLUSH_INTERVAL_MS } from '../../src/services/realtime/telemetry/telemetry.buffer.js';
import { createTestApp, eventually, operator, type TestApp } from '../helpers/app.js';
import { ManualClock } from '../helpers/manual-clock.js';

/**
 * POST /api/v1/telemetry/events is answered before Fastify when a batch is plainly going to be taken
 * (telemetry.routes.ts over src/http/fast-path.ts). `inject` never reaches the HTTP server, so these
 * tests speak real HTTP to a listening app and compare its answers with the Fastify route's (through
 * inject) for the same input; Fastify's diagnostics channel tells whether the route's handler ran.
 */

const PATH = '/api/v1/telemetry/events';

interface Answer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  text: string;
}

/** One raw HTTP/1.1 request, with exact control of the headers. */
function send(port: number, body: string, headers: Record<string, string>): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const h: Record<string, string> = { 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(body)), ...headers };
    const req = httpRequest({ host: '127.0.0.1', port, method: 'POST', path: PATH, headers: h }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, text: Buffer.concat(chunks).toString('utf8') }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

/** The same request through the Fastify route alone. */
async function viaRoute(t: TestApp, body: string, headers: Record<string, string>): Promise<Answer> {
  const res = await t.app.inject({ method: 'POST', url: PATH, headers: { 'content-type': 'application/json', ...headers }, payload: body });
  return { status: res.statusCode, headers: res.headers as Answer['headers'], text: res.body };
}

/** What the client sees of an answer: status, body and the headers the route sets. */
const seen = (a: Answer) => ({
  status: a.status,
  text: a.text,
  ...Object.fromEntries(['content-type', 'content-length', 'x-request-id', 'www-authenticate', 'retry-after'].map((h) => [h, a.headers[h]])),
});

async function listen(t: TestApp): Promise<number> {
  await t.app.listen({ host: '127.0.0.1', port: 0 });
  const addr = t.app.server.address();
  if (!addr || typeof addr === 'string') throw new Error('no port');
  return addr.port;
}

/** Runs of the telemetry route's Fastify handler (Fastify publishes each on this channel). */
function handlerRuns() {
  const runs = { n: 0 };
  const start = (store: unknown) => {
    if ((store as { route?: { url?: string } }).route?.url === PATH) runs.n++;
  };
  const channel = tracingChannel('fastify.request.handler');
  channel.start.subscribe(start);
  return { runs, stop: () => channel.start.unsubscribe(start) };
}

/** Telemetry's counters and gauge, and the token validations, from /metrics. */
async function state(t: TestApp) {
  const text = (await t.app.inject({ method: 'GET', url: '/metrics' })).body;
  const pick = (prefix: string) =>
    Object.fromEntries(text.split('\n').filter((l) => l.startsWith(prefix)).map((l) => [l.slice(0, l.lastIndexOf(' ')), Number(l.slice(l.lastIndexOf(' ') + 1))]));
  return { events: pick('streamplane_telemetry_events_total'), buffered: pick('streamplane_telemetry_buffered_entries'), validations: pick('streamplane_token_validations_total') };
}

const startSession = async (t: TestApp) => (await t.app.inject({ method: 'POST', url: '/api/v1/sessions/start', headers: operator(), payload: {} })).json().id as string;
async function viewerToken(t: TestApp, session_id: string, viewer_id: string, scopes = ['view']) {
  const res = await t.app.inject({ method: 'POST', url: '/api/v1/auth/tokens', headers: operator(), payload: { session_id, viewer_id, scopes } });
  expect(res.statusCode, res.body).toBe(201);
  return { token: res.json().access_token as string, auth: { authorization: `Bearer ${res.json().access_token as string}` } };
}

type Ev = Record<string, unknown>;
/** One view's events, `n` of them after its view_start, ending `ago` ms before `now`. */
function viewEvents(session_id: string, viewer_id: string, view_id: string, now: number, n = 6): Ev[] {
  const t0 = now - 120_000;
  const out: Ev[] = [
    { event_id: `${view_id}-0`, session_id, viewer_id, view_id, type: 'view_start', ts: new Date(t0).toISOString(), data: { device: 'tv', country: 'FR' } },
    { event_id: `${view_id}-1`, session_id, viewer_id, view_id, type: 'playing', ts: t0 + 1_500 },
    { event_id: `${view_id}-2`, session_id, viewer_id, view_id, type: 'bitrate_change', ts: t0 + 1_500, data: { bitrate_bps: 3_000_000 } },
  ];
  for (let i = 3; i < n; i++) out.push({ event_id: `${view_id}-${i}`, session_id, viewer_id, view_id, type: 'heartbeat', ts: t0 + i * 10_000, data: { playhead_ms: i * 10_000 } });
  return out;
}

describe('telemetry fast path: answers', () => {
  let t: TestApp;
  let port: number;
  const clock = new ManualClock(Date.UTC(2026, 10, 27, 12, 0, 0));
  const handler = handlerRuns();
  beforeAll(async () => {
    t = await createTestApp({ clock, env: { STREAMPLANE_TELEMETRY_MAX_BATCH_EVENTS: '50', STREAMPLANE_TELEMETRY_BODY_LIMIT_BYTES: '16384' } });
    port = await listen(t);
  });
  afterAll(async () => {
    handler.stop();
    await t?.close();
  });

  const flushed = async () => {
    await clock.advance(FLUSH_INTERVAL_MS);
    await eventually(async () => Object.values((await state(t)).buffered)[0] === 0);
  };
  const metricsOf = async (sessionId: string) => {
    const { session_id: _s, as_of: _a, ...rest } = (await t.app.inject({ method: 'GET', url: `/api/v1/telemetry/metrics/${sessionId}?dimension=device`, headers: operator() })).json();
    return rest;
  };

  it('takes an operator batch (duplicates, rejections) exactly as the route does, without running the route', async () => {
    const [s1, s2] = [await startSession(t), await startSession(t)];
    const unknown = 'ses_00000000000000000000000000';
    const batch = (s: string) => {
      const evs = viewEvents(s, 'alice', 'a1', clock.now(), 8);
      // A duplicate, an unknown type, a bad ts, an unknown session, an event that is not an object.
      evs.push({ ...evs[1]! }, { ...evs[3]!, event_id: 'x-1', type: 'teleport' }, { ...evs[3]!, event_id: 'x-2', ts: 'yesterday' }, { ...evs[3]!, event_id: 'x-3', session_id: unknown }, 'nope' as unknown as Ev);
      return JSON.stringify({ events: evs });
    };
    const before = await state(t);
    const runs = handler.runs.n;
    const fast = await send(port, batch(s1), { ...operator(), 'x-request-id': 'tele-fast-1' });
    expect(handler.runs.n, 'the route did not run').toBe(runs);
    const mid = await state(t);
    const slow = await viaRoute(t, batch(s2), { ...operator(), 'x-request-id': 'tele-fast-1' });
    expect(handler.runs.n).toBe(runs + 1);
    expect(seen(fast)).toEqual(seen(slow));
    expect(fast.status).toBe(202);
    expect(JSON.parse(fast.text)).toMatchObject({ accepted: 9, rejected: 4, duplicates: 1 });
    expect(JSON.parse(fast.text).errors.map((e: { reason: string }) => e.reason)).toEqual(['invalid_type', 'invalid_ts', 'unknown_session', 'invalid_event']);
    // The same outcomes counted once for each, and the same views stored.
    const after = await state(t);
    for (const k of Object.keys(after.events)) expect(after.events[k]! - (mid.events[k] ?? 0), k).toBe((mid.events[k] ?? 0) - (before.events[k] ?? 0));
    await flushed();
    expect(await metricsOf(s1)).toEqual(await metricsOf(s2));
    expect((await metricsOf(s1)).views).toBe(1);
  });

  it('takes a viewer batch (token first seen, then cached, then another session\'s event) as the route does', async () => {
    const s = await startSession(t);
    const { auth } = await viewerToken(t, s, 'bob');
    const runs = handler.runs.n;
    const body = JSON.stringify({ events: viewEvents(s, 'bob', 'b1', clock.now()) });
    for (const id of ['tele-v-1', 'tele-v-2']) {
      const fast = await send(port, body, { ...auth, 'x-request-id': id });
      const slow = await viaRoute(t, body, { ...auth, 'x-request-id': id });
      expect(seen(fast)).toEqual(seen(slow));
      expect(JSON.parse(fast.text)).toMatchObject({ accepted: 6, rejected: 0 });
    }
    const other = await startSession(t);
    const mixed = JSON.stringify({ events: [...viewEvents(s, 'bob', 'b2', clock.now(), 3), ...viewEvents(other, 'bob', 'b3', clock.now(), 3), ...viewEvents(s, 'carol', 'c1', clock.now(), 3)] });
    const fast = await send(port, mixed, { ...auth, 'x-request-id': 'tele-v-3' });
    expect(seen(fast)).toEqual(seen(await viaRoute(t, mixed, { ...auth, 'x-request-id': 'tele-v-3' })));
    expect(JSON.parse(fast.text)).toMatchObject({ accepted: 3, rejected: 6 });
    expect(handler.runs.n - runs, 'only the inject calls reached the route').toBe(3);
  });

  it('hands every batch the route refuses to the route, which answers as before and takes nothing', async () => {
    const s = await startSession(t);
    const good = viewEvents(s, 'dave', 'd1', clock.now(), 3);
    const { auth: viewer, token } = await viewerToken(t, s, 'dave');
    const { auth: chatOnly } = await viewerToken(t, s, 'dave', ['chat']);
    const { auth: revoked } = await viewerToken(t, s, 'erin');
    expect((await t.app.inject({ method: 'POST', url: '/api/v1/auth/revoke', headers: operator(), payload: { session_id: s, viewer_id: 'erin' } })).statusCode).toBe(200);
    expect(token).toBeTruthy();
    const batch = JSON.stringify({ events: good });
    const tooMany = JSON.stringify({ events: Array.from({ length: 51 }, (_, i) => ({ ...good[0]!, event_id: `many-${i}` })) });
    const cases: Array<{ name: string; body: string; headers: Record<string, string>; status: number; code?: string }> = [
      { name: 'no credentials', body: batch, headers: {}, status: 401, code: 'missing_credentials' },
      { name: 'not a bearer', body: batch, headers: { authorization: 'Basic abc' }, status: 401, code: 'missing_credentials' },
      { name: 'bad viewer token', body: batch, headers: { authorization: 'Bearer a.b.c' }, status: 401, code: 'invalid_token' },
      { name: 'revoked viewer token', body: batch, headers: revoked, status: 401, code: 'invalid_token' },
      { name: 'operator key of no format', body: batch, headers: { authorization: 'Bearer not-a-key' }, status: 401, code: 'invalid_api_key' },
      { name: 'unknown operator key', body: batch, headers: { authorization: `Bearer spk_${'0'.repeat(26)}.${'A'.repeat(43)}` }, status: 401, code: 'invalid_api_key' },
      { name: 'viewer without the view scope', body: batch, headers: chatOnly, status: 403, code: 'insufficient_scope' },
      { name: 'too many events', body: tooMany, headers: operator(), status: 413, code: 'batch_too_large' },
      { name: 'too many events (viewer)', body: tooMany, headers: viewer, status: 413, code: 'batch_too_large' },
      { name: 'an array', body: JSON.stringify(good), headers: operator(), status: 400, code: 'invalid_batch' },
      { name: 'a string', body: '"events"', headers: operator(), status: 400, code: 'invalid_batch' },
      { name: 'null', body: 'null', headers: operator(), status: 400, code: 'invalid_batch' },
      { name: 'an extra field', body: JSON.stringify({ events: good, extra: 1 }), headers: operator(), status: 400, code: 'invalid_batch' },
      { name: 'events not an array', body: JSON.stringify({ events: { 0: good[0] } }), headers: operator(), status: 400, code: 'invalid_batch' },
      { name: 'no events', body: '{}', headers: operator(), status: 400, code: 'invalid_batch' },
      { name: 'bad JSON', body: '{"events":[', headers: operator(), status: 400, code: 'malformed_body' },
      { name: 'empty body', body: '', headers: operator(), status: 400, code: 'empty_body' },
      { name: 'prototype poisoning', body: `{"events":[],"__proto__":{"admin":true}}`, headers: operator(), status: 400 },
      { name: 'text/plain', body: batch, headers: { ...operator(), 'content-type': 'text/plain' }, status: 415, code: 'unsupported_media_type' },
      { name: 'body over the limit', body: JSON.stringify({ events: good, pad: 'x'.repeat(17_000) }), headers: operator(), status: 413, code: 'body_too_large' },
      { name: 'bad body and no credentials', body: '{"events":[', headers: {}, status: 401, code: 'missing_credentials' },
    ];
    const before = await state(t);
    for (const [i, c] of cases.entries()) {
      const headers = { ...c.headers, 'x-request-id': `refused-${i}` };
      const fast = await send(port, c.body, headers);
      const slow = await viaRoute(t, c.body, headers);
      expect(seen(fast), c.name).toEqual(seen(slow));
      expect(fast.status, c.name).toBe(c.status);
      expect(fast.headers['content-type'], c.name).toContain('application/problem+json');
      if (c.code) expect(JSON.parse(fast.text).code, c.name).toBe(c.code);
    }
    const after = await state(t);
    expect(after.events, 'nothing taken or counted').toEqual(before.events);
    expect(after.buffered).toEqual(before.buffered);
    // The revoked token was checked once per request (twice: HTTP and inject), not again by the route's hook.
    const revokedKey = 'streamplane_token_validations_total{outcome="revoked"}';
    expect(after.validations[revokedKey]! - (before.validations[revokedKey] ?? 0)).toBe(2);
  });
});

describe('telemetry fast path: a full buffer', () => {
  let t: TestApp;
  let port: number;
  const clock = new ManualClock(Date.UTC(2026, 10, 27, 12, 0, 0));
  beforeAll(async () => {
    t = await createTestApp({ clock, env: { STREAMPLANE_TELEMETRY_BUFFER_MAX_ENTRIES: '1000' } });
    port = await listen(t);
  });
  afterAll(async () => t?.close());

  it('leaves a batch the buffer has no room for to the route: the same 503, counted once, nothing taken', async () => {
    const s = await startSession(t);
    // Distinct state events of one view (each one buffer entry) until a batch of 100 no longer fits.
    const batch = (k: number) =>
      JSON.stringify({ events: Array.from({ length: 100 }, (_, i) => ({ event_id: `full-${k}-${i}`, session_id: s, viewer_id: 'fay', view_id: 'f1', type: i % 2 ? 'playing' : 'pause', ts: clock.now() - 600_000 + k * 1_000 + i })) });
    let k = 0;
    for (;;) {
      const a = await send(port, batch(k), operator());
      if (a.status === 503) break;
      expect(a.status, a.text).toBe(202);
      expect(++k).toBeLessThan(20);
    }
    const before = await state(t);
    const fast = await send(port, batch(k), { ...operator(), 'x-request-id': 'backlog-1' });
    const slow = await viaRoute(t, batch(k), { ...operator(), 'x-request-id': 'backlog-1' });
    expect(seen(fast)).toEqual(seen(slow));
    expect(fast.status).toBe(503);
    expect(JSON.parse(fast.text).code).toBe('telemetry_backlog');
    // The route's own Retry-After (its flush interval, 5 s by default), not the generic 1 s of other 503s.
    expect(fast.headers['retry-after']).toBe('5');
    const after = await state(t);
    expect(after.buffered).toEqual(before.buffered);
    const backlog = 'streamplane_telemetry_events_total{outcome="backlog"}';
    expect(after.events[backlog]! - before.events[backlog]!).toBe(200);
    expect(after.events['streamplane_telemetry_events_total{outcome="accepted"}']).toBe(before.events['streamplane_telemetry_events_total{outcome="accepted"}']);
  });
});
