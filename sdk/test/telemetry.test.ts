import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TelemetryBeacon, type LifecycleTarget, type TelemetryBeaconOptions } from '../src/telemetry.js';
import { createStreamplaneClient, type StreamplaneClient } from '../src/rest.js';
import { ADMIN_KEY, createTestApp, eventually, type TestApp } from '../../test/helpers/app.js';
import { ManualTimers } from './support.js';

/** TelemetryBeacon against the real app: batching, flush triggers, retries, the bounded queue. */
let t: TestApp;
let baseUrl: string;
let api: StreamplaneClient;
const beacons: TelemetryBeacon[] = [];
beforeAll(async () => {
  t = await createTestApp();
  baseUrl = await t.app.listen({ port: 0, host: '127.0.0.1' });
  api = createStreamplaneClient({ baseUrl, token: ADMIN_KEY });
});
afterAll(async () => {
  for (const b of beacons) await b.close();
  await t?.close();
});

/** A page: `document` with a visibility state, and `window` for pagehide. */
class FakePage extends EventTarget implements LifecycleTarget {
  visibilityState = 'visible';
  override addEventListener(type: string, listener: () => void) {
    super.addEventListener(type, listener);
  }
  override removeEventListener(type: string, listener: () => void) {
    super.removeEventListener(type, listener);
  }
}

async function viewer(viewerId = 'alice') {
  const { data: s } = await api.POST('/api/v1/sessions/start', { body: {} });
  const { data: tok } = await api.POST('/api/v1/auth/tokens', { body: { session_id: s!.id, viewer_id: viewerId, scopes: ['view'] } });
  return { sessionId: s!.id, token: tok!.access_token, viewerId };
}

/** Every request the beacon makes, with its answer status; `fail` answers some without reaching the server. */
function tracingFetch(fail: (n: number) => Response | Error | null = () => null) {
  const log: Array<{ keepalive: boolean; events: number; status: number | 'network' }> = [];
  const f = async (req: Request): Promise<Response> => {
    const events = ((await req.clone().json()) as { events: unknown[] }).events.length;
    const injected = fail(log.length);
    if (injected instanceof Error) {
      log.push({ keepalive: req.keepalive, events, status: 'network' });
      throw injected;
    }
    const res = injected ?? (await fetch(req));
    log.push({ keepalive: req.keepalive, events, status: res.status });
    return res;
  };
  return { fetch: f, log };
}

function beacon(opts: Omit<TelemetryBeaconOptions, 'baseUrl'>) {
  const b = new TelemetryBeacon({ baseUrl, document: null, window: null, ...opts });
  beacons.push(b);
  return b;
}

describe('TelemetryBeacon', () => {
  it('batches events, flushes on the interval, and the server stores them as one view', async () => {
    const v = await viewer();
    const timers = new ManualTimers();
    const trace = tracingFetch();
    const b = beacon({ ...v, viewId: 'view-1', timers, fetch: trace.fetch });
    b.track('view_start', { device: 'desktop' });
    b.track('playing');
    b.track('bitrate_change', { bitrate_bps: 2_500_000 });
    expect(b.stats()).toMatchObject({ queued: 3, sent: 0 });
    expect(timers.delays()).toEqual([10_000]);
    timers.fireAll();
    await eventually(() => b.stats().accepted === 3);
    expect(trace.log).toEqual([{ keepalive: false, events: 3, status: 202 }]);
    const views = await eventually(async () => {
      const { data } = await api.GET('/api/v1/telemetry/metrics/{session_id}', { params: { path: { session_id: v.sessionId } } });
      return data && data.views === 1 ? data : null;
    });
    expect(views).toMatchObject({ unique_viewers: 1, video_startup_time_ms: { samples: 1 } });
  });

  it('flushes as soon as maxBatch events are queued, and reports per-event rejections', async () => {
    const v = await viewer();
    const results: Array<{ accepted: number; rejected: number; errors: Array<{ index: number; reason: string }> }> = [];
    const b = beacon({ ...v, maxBatch: 2, timers: new ManualTimers(), onResult: (r) => results.push(r) });
    b.track('view_start');
    expect(b.stats().queued).toBe(1);
    b.track('bitrate_change', { bitrate_bps: -5 }); // invalid: the server rejects this one alone
    await eventually(() => results.length === 1);
    expect(results[0]).toMatchObject({ accepted: 1, rejected: 1, errors: [{ index: 1, reason: 'invalid_data' }] });
    expect(b.stats()).toMatchObject({ queued: 0, sent: 2, accepted: 1, rejected: 1 });
  });

  it('flushes with keepalive when the page is hidden and on pagehide', async () => {
    const v = await viewer();
    const doc = new FakePage();
    const win = new FakePage();
    const trace = tracingFetch();
    const b = beacon({ ...v, timers: new ManualTimers(), fetch: trace.fetch, document: doc, window: win });
    b.track('view_start');
    doc.dispatchEvent(new Event('visibilitychange')); // still visible: nothing
    expect(b.stats().queued).toBe(1);
    doc.visibilityState = 'hidden';
    doc.dispatchEvent(new Event('visibilitychange'));
    await eventually(() => b.stats().accepted === 1);
    b.track('view_end');
    win.dispatchEvent(new Event('pagehide'));
    await eventually(() => b.stats().accepted === 2);
    expect(trace.log).toEqual([
      { keepalive: true, events: 1, status: 202 },
      { keepalive: true, events: 1, status: 202 },
    ]);
  });

  it('retries a batch after a 5xx or a network error with backoff, keeping its events', async () => {
    const v = await viewer();
    const timers = new ManualTimers();
    const trace = tracingFetch((n) => (n === 0 ? new Response('{}', { status: 503, headers: { 'retry-after': '2' } }) : n === 1 ? new TypeError('fetch failed') : null));
    const b = beacon({ ...v, timers, fetch: trace.fetch, backoff: { random: () => 0.5 } });
    b.track('view_start');
    b.track('playing');
    await b.flush();
    expect(b.stats()).toMatchObject({ queued: 2, retries: 1, last_error: 'HTTP 503' });
    expect(timers.delays()).toContain(2_000); // Retry-After beats a shorter backoff
    b.track('heartbeat');
    await b.flush(); // an explicit flush does not wait for the retry timer
    expect(b.stats()).toMatchObject({ queued: 3, retries: 2 });
    expect(b.stats().last_error).toMatch(/^network/);
    timers.fireAll(); // the retry (and the interval)
    await eventually(() => b.stats().accepted === 3);
    expect(trace.log.map((r) => r.status)).toEqual([503, 'network', 202]);
  });

  it('does not retry a 4xx: a bad token discards the batch (and getToken gets one more chance)', async () => {
    const v = await viewer();
    const timers = new ManualTimers();
    const bad = beacon({ ...v, token: 'not-a-token', timers });
    bad.track('view_start');
    await bad.flush();
    expect(bad.stats()).toMatchObject({ queued: 0, discarded: 1, retries: 0, last_error: 'HTTP 401' });

    let calls = 0;
    const refreshing = beacon({ ...v, token: undefined, getToken: () => (++calls === 1 ? 'expired-token' : v.token), timers });
    refreshing.track('view_start');
    await refreshing.flush();
    expect(calls).toBe(2);
    expect(refreshing.stats()).toMatchObject({ accepted: 1, discarded: 0 });
  });

  it('keeps a bounded queue while the server is unreachable: the oldest events go first, counted', async () => {
    const v = await viewer();
    const timers = new ManualTimers();
    const down = tracingFetch(() => new TypeError('fetch failed'));
    const b = beacon({ ...v, timers, fetch: down.fetch, maxBatch: 2, maxQueue: 4 });
    for (let i = 0; i < 7; i++) b.track('heartbeat', { i });
    await b.flush();
    expect(b.stats()).toMatchObject({ queued: 4, dropped: 3 });
  });
});
