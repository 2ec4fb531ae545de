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
