import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestApp, operator, type TestApp } from '../helpers/app.js';

let t: TestApp;
beforeAll(async () => {
  t = await createTestApp();
});
afterAll(async () => t?.close());

const start = (body: unknown = {}, headers: Record<string, string> = {}) =>
  t.app.inject({ method: 'POST', url: '/api/v1/sessions/start', headers: { ...operator(), ...headers }, payload: body as object });

describe('sessions', () => {
  it('starts a session with defaults and returns 201 with the session', async () => {
    const res = await start({ title: 'Launch', max_viewers: 10, metadata: { game: 'chess' } });
    expect(res.statusCode).toBe(201);
    const s = res.json();
    expect(s).toMatchObject({ status: 'created', title: 'Launch', max_viewers: 10, metadata: { game: 'chess' }, viewers: { current: 0, peak: 0, unique: 0 }, started_at: null, ended_at: null });
    expect(s.id).toMatch(/^ses_[0-9a-z]{26}$/);
    const got = await t.app.inject({ method: 'GET', url: `/api/v1/sessions/${s.id}`, headers: operator() });
    expect(got.statusCode).toBe(200);
    expect(got.json()).toEqual(s);
  });

  it('accepts an empty body', async () => {
    const res = await t.app.inject({ method: 'POST', url: '/api/v1/sessions/start', headers: operator() });
    expect(res.statusCode).toBe(201);
  });

  it('stops a session idempotently', async () => {
    const s = (await start()).json();
    const stop = () => t.app.inject({ method: 'POST', url: '/api/v1/sessions/stop', headers: operator(), payload: { session_id: s.id } });
    const first = await stop();
    expect(first.statusCode).toBe(200);
    expect(first.json()).toMatchObject({ status: 'ended', end_reason: 'stopped' });
    const second = await stop();
    expect(second.statusCode).toBe(200);
    expect(second.json().ended_at).toBe(first.json().ended_at);
  });
});

describe('session lifecycle', () => {
  it('goes live on session.live from the Bus, then ends; an ended session does not go live again', async () => {
    const s = (await start()).json();
    await t.backends.bus.publish('session.live', { session_id: s.id, at: new Date().toISOString() });
    await expect.poll(async () => (await t.app.inject({ method: 'GET', url: `/api/v1/sessions/${s.id}`, headers: operator() })).json().status).toBe('live');
    const live = (await t.app.inject({ method: 'GET', url: `/api/v1/sessions/${s.id}`, headers: operator() })).json();
    expect(live.started_at).not.toBeNull();
    const ended: unknown[] = [];
    const unsub = await t.backends.bus.subscribe('session.ended', (e) => void ended.push(e));
    await t.app.inject({ method: 'POST', url: '/api/v1/sessions/stop', headers: operator(), payload: { session_id: s.id, reason: 'done' } });
    await expect.poll(() => ended.length).toBe(1);
    expect(ended[0]).toMatchObject({ session_id: s.id, reason: 'done' });
    await t.backends.bus.publish('session.live', { session_id: s.id, at: new Date().toISOString() });
    await t.backends.bus.publish('session.created', { session_id: 'flush', at: new Date().toISOString() });
    const after = (await t.app.inject({ method: 'GET', url: `/api/v1/sessions/${s.id}`, headers: operator() })).json();
    expect(after.status).toBe('ended');
    await unsub();
  });

  it('stop of an unknown session is 404', async () => {
    const res = await t.app.inject({ method: 'POST', url: '/api/v1/sessions/stop', headers: operator(), payload: { session_id: 'ses_00000000000000000000000000' } });
    expect(res.statusCode).toBe(404);
    expect(res.headers['content-type']).toContain('application/problem+json');
  });

  it('refuses metadata over the size limit without writing anything', async () => {
    const before = (await t.backends.database.query<{ n: string }>('SELECT count(*) AS n FROM sessions')).rows[0]!.n;
    const metadata = Object.fromEntries(Array.from({ length: 40 }, (_, i) => [`k${i}`, 'x'.repeat(200)]));
    const res = await start({ metadata });
    expect(res.statusCode).toBe(413);
    expect(res.json().code).toBe('metadata_too_large');
    expect((await t.backends.database.query<{ n: string }>('SELECT count(*) AS n FROM sessions')).rows[0]!.n).toBe(before);
  });
});

describe('Idempotency-Key', () => {
  it('replays the first answer for a retry with the same key and body', async () => {
    const first = await start({ title: 'retry me' }, { 'idempotency-key': 'k-1' });
    const again = await start({ title: 'retry me' }, { 'idempotency-key': 'k-1' });
    expect(first.statusCode).toBe(201);
    expect(again.statusCode).toBe(201);
    expect(again.json().id).toBe(first.json().id);
    expect(again.headers['idempotent-replayed']).toBe('true');
  });

  it('refuses the same key with a different body (422)', async () => {
    await start({ title: 'a' }, { 'idempotency-key': 'k-2' });
    const res = await start({ title: 'b' }, { 'idempotency-key': 'k-2' });
    expect(res.statusCode).toBe(422);
    expect(res.json().code).toBe('idempotency_key_reused');
  });

  it('concurrent requests with one key create one session', async () => {
    const results = await Promise.all(Array.from({ length: 5 }, () => start({ title: 'race' }, { 'idempotency-key': 'k-3' })));
    expect(new Set(results.map((r) => r.statusCode))).toEqual(new Set([201]));
    expect(new Set(results.map((r) => r.json().id)).size).toBe(1);
    const { rows } = await t.backends.database.query<{ n: string }>(`SELECT count(*) AS n FROM sessions WHERE title = 'race'`);
    expect(Number(rows[0]!.n)).toBe(1);
  });
});

describe('listing', () => {
  it('pages newest first with a cursor and filters by status', async () => {
    const ids: string[] = [];
    for (let i = 0; i < 5; i++) ids.push((await start({ title: `page-${i}` })).json().id);
    await t.app.inject({ method: 'POST', url: '/api/v1/sessions/stop', headers: operator(), payload: { session_id: ids[4] } });
    const seen: string[] = [];
    let cursor: string | null = null;
    do {
      const url: string = `/api/v1/sessions?limit=2${cursor ? `&cursor=${cursor}` : ''}`;
      const page = (await t.app.inject({ method: 'GET', url, headers: operator() })).json();
      expect(page.data.length).toBeLessThanOrEqual(2);
      seen.push(...page.data.map((s: { id: string }) => s.id));
      cursor = page.next_cursor;
    } while (cursor);
    expect(seen).toEqual([...seen].sort().reverse());
    for (const id of ids) expect(seen).toContain(id);
    const ended = (await t.app.inject({ method: 'GET', url: '/api/v1/sessions?status=ended&limit=100', headers: operator() })).json();
    expect(ended.data.every((s: { status: string }) => s.status === 'ended')).toBe(true);
    expect(ended.data.map((s: { id: string }) => s.id)).toContain(ids[4]);
    const bad = await t.app.inject({ method: 'GET', url: '/api/v1/sessions?cursor=garbage', headers: operator() });
    expect(bad.statusCode).toBe(400);
  });
});
