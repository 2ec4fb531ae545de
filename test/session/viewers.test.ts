import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestApp, operator, type TestApp } from '../helpers/app.js';
import { ManualClock } from '../helpers/manual-clock.js';

let t: TestApp;
const clock = new ManualClock(Date.UTC(2026, 10, 26, 12, 0, 0));
beforeAll(async () => {
  t = await createTestApp({ clock, env: { STREAMPLANE_VIEWER_TTL_MS: '30000', STREAMPLANE_ACCESS_TOKEN_TTL_SECONDS: '3600' } });
});
afterAll(async () => t?.close());

const post = (url: string, payload: object, headers: Record<string, string> = operator()) => t.app.inject({ method: 'POST', url, headers, payload });
const newSession = async (body: object = {}) => (await post('/api/v1/sessions/start', body)).json().id as string;
const tokenFor = async (session_id: string, viewer_id: string, scopes = ['view']) =>
  (await post('/api/v1/auth/tokens', { session_id, viewer_id, scopes })).json().access_token as string;
const beat = (sid: string, token: string) => t.app.inject({ method: 'POST', url: `/api/v1/sessions/${sid}/heartbeat`, headers: { authorization: `Bearer ${token}` } });
const session = async (sid: string) => (await t.app.inject({ method: 'GET', url: `/api/v1/sessions/${sid}`, headers: operator() })).json();

describe('concurrent viewers', () => {
  it('counts each viewer once while its heartbeats are fresh, and keeps peak and unique', async () => {
    const sid = await newSession();
    const a = await tokenFor(sid, 'a');
    const b = await tokenFor(sid, 'b');
    const a2 = await tokenFor(sid, 'a'); // a second device of viewer a: same viewer id
    expect((await beat(sid, a)).json().viewers.current).toBe(1);
    expect((await beat(sid, a)).json().viewers.current).toBe(1);
    expect((await beat(sid, a2)).json().viewers.current).toBe(1);
    expect((await beat(sid, b)).json().viewers.current).toBe(2);
    expect((await session(sid)).viewers).toEqual({ current: 2, peak: 2, unique: 2 });

    await clock.advance(20_000);
    await beat(sid, a);
    await clock.advance(15_000); // b last seen 35 s ago: gone; a 15 s ago: still here
    expect((await session(sid)).viewers).toEqual({ current: 1, peak: 2, unique: 2 });
    await clock.advance(31_000);
    expect((await session(sid)).viewers).toEqual({ current: 0, peak: 2, unique: 2 });
  });

  it('a viewer can leave at once', async () => {
    const sid = await newSession();
    const a = await tokenFor(sid, 'a');
    await beat(sid, a);
    const res = await t.app.inject({ method: 'DELETE', url: `/api/v1/sessions/${sid}/heartbeat`, headers: { authorization: `Bearer ${a}` } });
    expect(res.statusCode).toBe(204);
    expect((await session(sid)).viewers.current).toBe(0);
  });

  it('enforces max_viewers for new viewers while existing viewers keep watching', async () => {
    const sid = await newSession({ max_viewers: 2 });
    const [a, b, c] = await Promise.all(['a', 'b', 'c'].map((v) => tokenFor(sid, v)));
    expect((await beat(sid, a!)).statusCode).toBe(200);
    expect((await beat(sid, b!)).statusCode).toBe(200);
    const refused = await beat(sid, c!);
    expect(refused.statusCode).toBe(403);
    expect(refused.json().code).toBe('max_viewers_reached');
    expect((await beat(sid, a!)).statusCode).toBe(200);
    await clock.advance(31_000);
    expect((await beat(sid, c!)).statusCode).toBe(200);
  });

  it('refuses a token of another session, a token without view scope, and no token', async () => {
    const s1 = await newSession();
    const s2 = await newSession();
    const foreign = await tokenFor(s2, 'x');
    const r1 = await beat(s1, foreign);
    expect(r1.statusCode).toBe(403);
    expect(r1.json().code).toBe('wrong_session');
    const chatOnly = await tokenFor(s1, 'y', ['chat']);
    expect((await beat(s1, chatOnly)).json().code).toBe('missing_scope');
    const none = await t.app.inject({ method: 'POST', url: `/api/v1/sessions/${s1}/heartbeat` });
    expect(none.statusCode).toBe(401);
    expect(none.headers['content-type']).toContain('application/problem+json');
  });

  it('a heartbeat for an ended session is refused', async () => {
    const sid = await newSession();
    const a = await tokenFor(sid, 'a');
    await post('/api/v1/sessions/stop', { session_id: sid });
    const res = await beat(sid, a);
    expect(res.statusCode).toBe(401);
    expect(res.json().code).toBe('token_session_ended');
  });
});
