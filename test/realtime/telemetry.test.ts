import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FLUSH_INTERVAL_MS } from '../../src/services/realtime/telemetry/telemetry.buffer.js';
import { createTestApp, eventually, operator, type TestApp } from '../helpers/app.js';
import { ManualClock } from '../helpers/manual-clock.js';
import { expectProblem } from '../helpers/problem.js';

/**
 * Player telemetry through the real app: the metric definitions on a hand-computed scenario, the same
 * events shuffled, split, late and duplicated giving the same numbers, per-event rejections, limits
 * and authorization. The clock is manual: the write buffer is flushed by advancing it.
 */

type Ev = { event_id: string; session_id: string; viewer_id: string; view_id?: string; type: string; ts: string | number; data?: Record<string, unknown> };

let t: TestApp;
const clock = new ManualClock(Date.UTC(2026, 4, 1, 12, 0, 0));
beforeAll(async () => {
  t = await createTestApp({ clock });
});
afterAll(async () => t?.close());

const post = (events: unknown, headers: Record<string, string> = operator()) =>
  t.app.inject({ method: 'POST', url: '/api/v1/telemetry/events', headers, payload: events === undefined ? undefined : ({ events } as object) });
const metrics = async (sessionId: string, query = '') => {
  const res = await t.app.inject({ method: 'GET', url: `/api/v1/telemetry/metrics/${sessionId}${query}`, headers: operator() });
  expect(res.statusCode, res.body).toBe(200);
  return res.json();
};
const startSession = async () => (await t.app.inject({ method: 'POST', url: '/api/v1/sessions/start', headers: operator(), payload: {} })).json().id as string;
const viewerToken = async (session_id: string, viewer_id: string) => {
  const res = await t.app.inject({ method: 'POST', url: '/api/v1/auth/tokens', headers: operator(), payload: { session_id, viewer_id, scopes: ['view'] } });
  expect(res.statusCode, res.body).toBe(201);
  return { authorization: `Bearer ${res.json().access_token as string}` };
};
const buffered = async () => {
  const text = (await t.app.inject({ method: 'GET', url: '/metrics' })).body;
  return Number(/^streamplane_telemetry_buffered_entries (\S+)$/m.exec(text)?.[1] ?? NaN);
};
/** Fires the flush timer and waits until everything buffered is written. */
const flushed = async () => {
  await clock.advance(FLUSH_INTERVAL_MS);
  await eventually(async () => (await buffered()) === 0);
};
/** The metrics without what legitimately differs between two sessions or two calls. */
const comparable = (m: Record<string, unknown>) => {
  const { session_id: _s, as_of: _a, ...rest } = m;
  return rest;
};

/**
 * Five views, with times relative to T0 (10 minutes before "now"):
 * - alice/a1 (desktop, US): start 0, bitrate 2 Mb/s and first frame at 1 s, rebuffer 31–33 s, 4 Mb/s from 33 s, end 61 s.
 * - bob/b1 (mobile, DE): start 5 s, first frame 8 s at 1 Mb/s, rebuffers 20–24 s and 40–41 s, paused 50–70 s, end 80 s.
 * - carol/c1 (mobile, US): start 10 s, first frame 12 s, fatal error 15 s (a heartbeat after it is ignored).
 * - dave/d1 (tv): start 20 s, heartbeat 25 s, ends 26 s without a frame: an exit before video start.
 * - alice/a2 (no dimensions): started 20 s ago, first frame 16 s ago, a non-fatal error, heartbeat 6 s ago: still watching.
 */
function scenario(sessionId: string, now: number): Ev[] {
  const t0 = now - 600_000;
  let n = 0;
  const ev = (viewer_id: string, view_id: string, type: string, at: number, data?: Record<string, unknown>): Ev => ({
    event_id: `${viewer_id}-${view_id}-${n++}`, session_id: sessionId, viewer_id, view_id, type, ts: n % 2 ? new Date(at).toISOString() : at, ...(data ? { data } : {}),
  });
  return [
    ev('alice', 'a1', 'view_start', t0, { device: 'desktop', country: 'US' }),
    ev('alice', 'a1', 'playing', t0 + 1_000),
    ev('alice', 'a1', 'bitrate_change', t0 + 1_000, { bitrate_bps: 2_000_000 }),
    ev('alice', 'a1', 'heartbeat', t0 + 11_000),
    ev('alice', 'a1', 'rebuffer_start', t0 + 31_000),
    ev('alice', 'a1', 'rebuffer_end', t0 + 33_000),
    ev('alice', 'a1', 'bitrate_change', t0 + 33_000, { bitrate_bps: 4_000_000 }),
    ev('alice', 'a1', 'view_end', t0 + 61_000),
    ev('bob', 'b1', 'view_start', t0 + 5_000, { device: 'mobile', country: 'DE', os: 'Android 15' }),
    ev('bob', 'b1', 'playing', t0 + 8_000),
    ev('bob', 'b1', 'bitrate_change', t0 + 8_000, { bitrate_bps: 1_000_000 }),
    ev('bob', 'b1', 'rebuffer_start', t0 + 20_000),
    ev('bob', 'b1', 'rebuffer_end', t0 + 24_000),
    ev('bob', 'b1', 'rebuffer_start', t0 + 40_000),
    ev('bob', 'b1', 'rebuffer_end', t0 + 41_000),
    ev('bob', 'b1', 'pause', t0 + 50_000),
    ev('bob', 'b1', 'heartbeat', t0 + 60_000),
    ev('bob', 'b1', 'playing', t0 + 70_000),
    ev('bob', 'b1', 'view_end', t0 + 80_000),
    ev('carol', 'c1', 'view_start', t0 + 10_000, { device: 'mobile', country: 'US' }),
    ev('carol', 'c1', 'playing', t0 + 12_000),
    ev('carol', 'c1', 'error', t0 + 15_000, { fatal: true, code: 'MEDIA_ERR_DECODE' }),
    ev('carol', 'c1', 'heartbeat', t0 + 20_000),
    ev('dave', 'd1', 'view_start', t0 + 20_000, { device: 'tv' }),
    ev('dave', 'd1', 'heartbeat', t0 + 25_000),
    ev('dave', 'd1', 'view_end', t0 + 26_000),
    ev('alice', 'a2', 'view_start', now - 20_000),
    ev('alice', 'a2', 'playing', now - 16_000),
    ev('alice', 'a2', 'error', now - 10_000, { fatal: false, code: 'FRAG_LOAD_RETRY' }),
    ev('alice', 'a2', 'heartbeat', now - 6_000),
  ];
}

/** Hand-computed from the scenario above (watch = startup + playing + rebuffering, pauses excluded). */
const EXPECTED = {
  views: 5,
  unique_viewers: 4,
  concurrent_viewers: 1,
  // startup samples 1000, 2000, 3000, 4000 (dave never played): linear interpolation between ranks.
  video_startup_time_ms: { p50: 2_500, p95: 3_850, samples: 4 },
  // a1 61 s, b1 55 s, c1 5 s, d1 6 s, a2 14 s.
  watch_time_ms: 141_000,
  playing_time_ms: 118_000,
  rebuffer_time_ms: 7_000,
  rebuffer_count: 3,
  playback_failures: 1,
  exits_before_video_start: 1,
};

function expectScenario(m: Record<string, any>) {
  expect(m).toMatchObject(EXPECTED);
  expect(m.rebuffer_percentage).toBeCloseTo((100 * 7_000) / 141_000, 9);
  expect(m.rebuffer_frequency_per_minute).toBeCloseTo(3 / (141_000 / 60_000), 9);
  expect(m.playback_failure_percentage).toBe(20);
  expect(m.exits_before_video_start_percentage).toBe(20);
  // (2 Mb/s × 30 s + 4 Mb/s × 28 s + 1 Mb/s × 47 s) / 105 s of playing with a known bitrate.
  expect(m.average_bitrate_bps).toBeCloseTo((2e6 * 30_000 + 4e6 * 28_000 + 1e6 * 47_000) / 105_000, 6);
}

/** Deterministic shuffle (xorshift), so a failure can be replayed. */
function shuffle<T>(xs: T[], seed: number): T[] {
  const out = [...xs];
  let s = seed;
  for (let i = out.length - 1; i > 0; i--) {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    const j = Math.abs(s) % (i + 1);
    [out[i], out[j]] = [out[j]!, out[i]!];
  }
  return out;
}

describe('telemetry metrics follow the Mux definitions', () => {
  let s1: string;
  let reference: Record<string, unknown>;
  /** "now" when the reference scenario was sent: flushes move the clock on. */
  let sentAt: number;
  beforeAll(async () => {
    s1 = await startSession();
    sentAt = clock.now();
    const res = await post(scenario(s1, sentAt));
    expect(res.statusCode, res.body).toBe(202);
    expect(res.json()).toEqual({ accepted: 30, rejected: 0, duplicates: 0, errors: [] });
    await flushed();
    reference = await metrics(s1);
  });

  it('computes every metric of the hand-computed scenario', () => {
    expectScenario(reference);
    expect(reference.session_id).toBe(s1);
    expect(reference).toMatchObject({ from: null, to: null, as_of: new Date(clock.now()).toISOString() });
  });

  it('gives the same numbers for the same events shuffled, split into late batches and partly sent twice', async () => {
    for (const seed of [7, 1234567]) {
      const s = await startSession();
      const events = shuffle(scenario(s, clock.now()), seed);
      const chunks = [events.slice(0, 7), events.slice(7, 11), events.slice(11, 23), events.slice(23)];
      for (const [i, chunk] of chunks.entries()) {
        // The second chunk is also sent again in the same request (duplicates within a batch) and again later.
        const payload = i === 1 ? [...chunk, ...chunk] : chunk;
        const res = await post(payload);
        expect(res.statusCode, res.body).toBe(202);
        expect(res.json()).toMatchObject({ accepted: payload.length, rejected: 0, duplicates: payload.length - chunk.length });
        await flushed();
      }
      expect((await post(chunks[1])).statusCode).toBe(202);
      expect((await post(events)).statusCode).toBe(202);
      await flushed();
      expect(comparable(await metrics(s))).toEqual(comparable(reference));
    }
  });

  it('counts a view as concurrent only while it has recent events, is not paused and has not ended', async () => {
    const now0 = clock.now();
    clock.set(sentAt + 61_000);
    expect((await metrics(s1)).concurrent_viewers).toBe(0);
    clock.set(now0);
    const s = await startSession();
    const now = clock.now();
    const res = await post([
      { event_id: 'p1', session_id: s, viewer_id: 'erin', type: 'view_start', ts: now - 5_000 },
      { event_id: 'p2', session_id: s, viewer_id: 'erin', type: 'playing', ts: now - 4_000 },
      { event_id: 'p3', session_id: s, viewer_id: 'erin', type: 'pause', ts: now - 1_000 },
      { event_id: 'q1', session_id: s, viewer_id: 'frank', type: 'heartbeat', ts: now - 2_000 },
    ]);
    expect(res.json().accepted).toBe(4);
    await flushed();
    // erin paused; frank has only a heartbeat, so his view is starting (waiting for a first frame) and counts.
    expect(await metrics(s)).toMatchObject({ views: 2, concurrent_viewers: 1, unique_viewers: 2, video_startup_time_ms: { p50: 1_000, samples: 1 } });
  });

  it('restricts to views that started in [from, to)', async () => {
    const t0 = sentAt - 600_000;
    const m = await metrics(s1, `?from=${new Date(t0 + 9_000).toISOString()}&to=${new Date(t0 + 20_000).toISOString()}`);
    // carol (10 s) only: dave started at 20 s, which the window excludes.
    expect(m).toMatchObject({ views: 1, unique_viewers: 1, playback_failures: 1, playback_failure_percentage: 100, exits_before_video_start: 0, watch_time_ms: 5_000 });
    const wider = await metrics(s1, `?from=${new Date(t0 + 9_000).toISOString()}&to=${new Date(t0 + 20_001).toISOString()}`);
    expect(wider).toMatchObject({ views: 2, exits_before_video_start: 1, exits_before_video_start_percentage: 50 });
    expect((await metrics(s1, `?to=${new Date(t0).toISOString()}`)).views).toBe(0);
    expect((await metrics(s1, `?to=${new Date(t0).toISOString()}`)).rebuffer_percentage).toBeNull();
    expectProblem(await t.app.inject({ method: 'GET', url: `/api/v1/telemetry/metrics/${s1}?from=2026-05-01T00:00:00Z&to=2026-04-01T00:00:00Z`, headers: operator() }), 400, 'invalid_window');
    expectProblem(await t.app.inject({ method: 'GET', url: `/api/v1/telemetry/metrics/${s1}?from=yesterday`, headers: operator() }), 400);
  });

  it('breaks the metrics down by a dimension from view_start, largest groups first', async () => {
    // Seen from when the scenario was sent: flushes since have moved the clock past the concurrent window.
    const now0 = clock.now();
    clock.set(sentAt);
    const m = await metrics(s1, '?dimension=device').finally(() => clock.set(now0));
    expectScenario(m);
    expect(m.breakdown.dimension).toBe('device');
    expect(m.breakdown.groups.map((g: { value: string | null; views: number }) => [g.value, g.views])).toEqual([['mobile', 2], ['desktop', 1], ['tv', 1], [null, 1]]);
    const mobile = m.breakdown.groups[0];
    expect(mobile).toMatchObject({ unique_viewers: 2, video_startup_time_ms: { p50: 2_500, samples: 2 }, watch_time_ms: 60_000, rebuffer_count: 2, playback_failures: 1, playback_failure_percentage: 50, average_bitrate_bps: 1e6 });
    const country = await metrics(s1, '?dimension=country');
    expect(country.breakdown.groups.map((g: { value: string | null; views: number }) => [g.value, g.views])).toEqual([['US', 2], [null, 2], ['DE', 1]]);
    expectProblem(await t.app.inject({ method: 'GET', url: `/api/v1/telemetry/metrics/${s1}?dimension=email`, headers: operator() }), 400, 'validation_failed');
  });

  it('answers 404 for an unknown session and 401 without an operator key', async () => {
    expectProblem(await t.app.inject({ method: 'GET', url: `/api/v1/telemetry/metrics/ses_${'0'.repeat(26)}`, headers: operator() }), 404, 'not_found');
    expectProblem(await t.app.inject({ method: 'GET', url: `/api/v1/telemetry/metrics/${s1}` }), 401);
    expectProblem(await t.app.inject({ method: 'GET', url: `/api/v1/telemetry/metrics/${s1}`, headers: await viewerToken(s1, 'alice') }), 401);
  });
});

describe('POST /api/v1/telemetry/events', () => {
  let s: string;
  beforeAll(async () => {
    s = await startSession();
  });
  const good = (over: Partial<Ev> = {}): Ev => ({ event_id: `e-${Math.random().toString(36).slice(2)}`, session_id: s, viewer_id: 'v1', type: 'heartbeat', ts: clock.now(), ...over });

  it('rejects bad events one by one, with their index and reason, and keeps the rest', async () => {
    const now = clock.now();
    const batch = [
      42,
      { ...good(), extra: 1 },
      good({ type: 'seeked' }),
      good({ ts: 'yesterday' }),
      good({ ts: '2026-02-30T00:00:00Z' }),
      good({ ts: 1.5 }),
      good({ ts: now - 86_400_000 - 1_000 }),
      good({ ts: now + 300_000 + 1_000 }),
      good({ type: 'bitrate_change', data: { bitrate_bps: -5 } }),
      good({ type: 'bitrate_change' }),
      good({ data: { stall_ms: -1 } }),
      good({ data: { nested: { a: 1 } } }),
      good({ type: 'view_start', data: { device: '' } }),
      good({ data: Object.fromEntries(Array.from({ length: 20 }, (_, i) => [`k${i}`, 'x'.repeat(250)])) }),
      good({ session_id: `ses_${'0'.repeat(26)}` }),
      good({ session_id: 'not-a-session' }),
      good({ event_id: '' }),
      good(),
      good({ type: 'bitrate_change', ts: new Date(now).toISOString(), data: { bitrate_bps: 3_000_000 } }),
    ];
    const res = await post(batch);
    expect(res.statusCode, res.body).toBe(202);
    const body = res.json();
    expect(body.errors.map((e: { index: number; reason: string }) => [e.index, e.reason])).toEqual([
      [0, 'invalid_event'], [1, 'invalid_event'], [2, 'invalid_type'], [3, 'invalid_ts'], [4, 'invalid_ts'], [5, 'invalid_ts'],
      [6, 'too_old'], [7, 'too_far_in_future'], [8, 'invalid_data'], [9, 'invalid_data'], [10, 'invalid_data'], [11, 'invalid_data'],
      [12, 'invalid_data'], [13, 'event_too_large'], [14, 'unknown_session'], [15, 'invalid_event'], [16, 'invalid_event'],
    ]);
    for (const e of body.errors) expect(e.detail.length).toBeGreaterThan(0);
    expect(body).toMatchObject({ accepted: 2, rejected: 17, duplicates: 0 });
    const counters = (await t.app.inject({ method: 'GET', url: '/metrics' })).body;
    expect(counters).toMatch(/streamplane_telemetry_events_total\{outcome="too_old"\} [1-9]/);
    // Counted per batch in plain numbers and handed to the counter when scraped: a second scrape adds nothing.
    const accepted = (text: string) => Number(/^streamplane_telemetry_events_total\{outcome="accepted"\} (\S+)$/m.exec(text)?.[1]);
    expect(accepted(counters)).toBeGreaterThanOrEqual(2);
    expect(accepted((await t.app.inject({ method: 'GET', url: '/metrics' })).body)).toBe(accepted(counters));
    await post([good()]);
    expect(accepted((await t.app.inject({ method: 'GET', url: '/metrics' })).body)).toBe(accepted(counters) + 1);
  });

  it('refuses bodies that are not a batch (400), too many events (413) and too large a body (413)', async () => {
    for (const payload of ['[]', '"events"', '{}', '{"events":{}}', '{"events":[],"more":1}', 'null']) {
      expectProblem(await t.app.inject({ method: 'POST', url: '/api/v1/telemetry/events', headers: { ...operator(), 'content-type': 'application/json' }, payload }), 400);
    }
    expectProblem(await t.app.inject({ method: 'POST', url: '/api/v1/telemetry/events', headers: { ...operator(), 'content-type': 'application/json' }, payload: '{"events":[' }), 400);
    expectProblem(await t.app.inject({ method: 'POST', url: '/api/v1/telemetry/events', headers: { ...operator(), 'content-type': 'text/plain' }, payload: '{"events":[]}' }), 415);
    const tooMany = Array.from({ length: t.config.realtime.telemetry.maxBatchEvents + 1 }, () => good());
    expectProblem(await post(tooMany), 413, 'batch_too_large');
    const huge = JSON.stringify({ events: [good({ view_id: 'x' })], pad: 'x'.repeat(t.config.realtime.telemetry.bodyLimitBytes) });
    expectProblem(await t.app.inject({ method: 'POST', url: '/api/v1/telemetry/events', headers: { ...operator(), 'content-type': 'application/json' }, payload: huge }), 413, 'body_too_large');
    expect((await post([])).json()).toEqual({ accepted: 0, rejected: 0, duplicates: 0, errors: [] });
  });

  it('answers 401 without credentials or with bad ones', async () => {
    expectProblem(await post([good()], {}), 401, 'missing_credentials');
    expectProblem(await post([good()], { authorization: 'Bearer not-a-key' }), 401, 'invalid_api_key');
    expectProblem(await post([good()], { authorization: 'Bearer a.b.c' }), 401, 'invalid_token');
  });

  it('takes a viewer token for its own session and viewer only, per event', async () => {
    const other = await startSession();
    const headers = await viewerToken(s, 'v1');
    const res = await post([good(), good({ session_id: other }), good({ viewer_id: 'someone-else' }), good({ view_id: 'attempt-2' })], headers);
    expect(res.statusCode, res.body).toBe(202);
    expect(res.json()).toMatchObject({ accepted: 2, rejected: 2, errors: [{ index: 1, reason: 'forbidden_session' }, { index: 2, reason: 'forbidden_viewer' }] });
    const chatOnly = await t.app.inject({ method: 'POST', url: '/api/v1/auth/tokens', headers: operator(), payload: { session_id: s, viewer_id: 'v1', scopes: ['chat'] } });
    expectProblem(await post([good()], { authorization: `Bearer ${chatOnly.json().access_token as string}` }), 403, 'insufficient_scope');
  });
});
