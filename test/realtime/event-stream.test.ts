import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ADMIN_KEY, createTestApp, eventually, operator, type TestApp } from '../helpers/app.js';
import { expectProblem } from '../helpers/problem.js';

interface Sse { id?: string; event?: string; data?: string }

/** Reads an SSE response body as it arrives (a real socket: inject cannot stream). */
function reader(res: Response) {
  const events: Sse[] = [];
  const decoder = new TextDecoder();
  let buffer = '';
  const body = res.body!.getReader();
  void (async () => {
    for (;;) {
      const { value, done } = await body.read().catch(() => ({ value: undefined, done: true }));
      if (done) return;
      buffer += decoder.decode(value, { stream: true });
      let end: number;
      while ((end = buffer.indexOf('\n\n')) >= 0) {
        const block = buffer.slice(0, end);
        buffer = buffer.slice(end + 2);
        const e: Sse = {};
        for (const line of block.split('\n')) {
          const m = /^(id|event|data): (.*)$/.exec(line);
          if (m) e[m[1] as keyof Sse] = m[2];
        }
        if (e.event) events.push(e);
      }
    }
  })();
  return { events, close: () => body.cancel().catch(() => {}) };
}

describe('operator event stream (GET /api/v1/events)', () => {
  let t: TestApp;
  let base: string;
  beforeAll(async () => {
    t = await createTestApp({ env: { STREAMPLANE_EVENT_STREAM_POLL_MS: '50' } });
    base = await t.app.listen({ port: 0, host: '127.0.0.1' });
  });
  afterAll(async () => t.close());

  const open = (headers: Record<string, string> = {}, query = '') => fetch(`${base}/api/v1/events${query}`, { headers: { authorization: `Bearer ${ADMIN_KEY}`, ...headers } });
  const startSession = async () => (await t.app.inject({ method: 'POST', url: '/api/v1/sessions/start', headers: operator(), payload: {} })).json().id as string;

  it('streams domain events in order with ids, and resumes from Last-Event-ID', async () => {
    const res = await open();
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/event-stream/);
    const live = reader(res);
    const s1 = await startSession();
    await t.app.inject({ method: 'POST', url: '/api/v1/sessions/stop', headers: operator(), payload: { session_id: s1 } });
    await eventually(() => live.events.length >= 2);
    expect(live.events.map((e) => e.event)).toEqual(['session.created', 'session.ended']);
    expect(JSON.parse(live.events[0]!.data!)).toMatchObject({ session_id: s1 });
    const ids = live.events.map((e) => BigInt(e.id!));
    expect(ids[1]! > ids[0]!).toBe(true);
    live.close();

    // Missed while disconnected, then resumed: exactly what came after the last id, in order.
    const s2 = await startSession();
    const s3 = await startSession();
    const resumed = reader(await open({ 'last-event-id': live.events[1]!.id! }));
    await eventually(() => resumed.events.length >= 2);
    expect(resumed.events.map((e) => JSON.parse(e.data!).session_id)).toEqual([s2, s3]);
    resumed.close();

    const filtered = reader(await open({}, `?last_event_id=${live.events[0]!.id}&topics=session.ended`));
    await eventually(() => filtered.events.length >= 1);
    expect(filtered.events.map((e) => e.event)).toEqual(['session.ended']);
    filtered.close();
  });

  it('says so when the events after a Last-Event-ID were purged', async () => {
    await startSession();
    await eventually(async () => Number((await t.backends.database.query<{ n: string }>('SELECT count(*) AS n FROM event_log')).rows[0]!.n) > 0);
    await t.backends.database.query('DELETE FROM event_log WHERE id < (SELECT max(id) FROM event_log)');
    const gap = reader(await open({ 'last-event-id': '1' }));
    await eventually(() => gap.events.length >= 1);
    expect(gap.events[0]!.event).toBe('stream.gap');
    gap.close();
  });

  it('refuses callers without an operator key and malformed ids with problem documents', async () => {
    expectProblem(await t.app.inject({ method: 'GET', url: '/api/v1/events' }), 401);
    expectProblem(await t.app.inject({ method: 'GET', url: '/api/v1/events', headers: { ...operator(), 'last-event-id': 'abc' } }), 400);
    expectProblem(await t.app.inject({ method: 'GET', url: '/api/v1/events?topics=DROP%20TABLE', headers: operator() }), 400);
    expectProblem(await t.app.inject({ method: 'GET', url: '/api/v1/events?last_event_id=99999999999999999999', headers: operator() }), 400);
  });
});
