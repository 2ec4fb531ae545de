import { beforeAll, describe, expect, it } from 'vitest';
import { eventually, operator, SHARED_BACKENDS, twoInstances, type TestApp } from '../helpers/app.js';

/**
 * Two instances of the whole app on one PostgreSQL schema and one Redis prefix, as behind a load
 * balancer. PGlite and the memory bus are per process, so this needs both DATABASE_URL and REDIS_URL.
 */
describe.skipIf(!SHARED_BACKENDS)('two instances on PostgreSQL + Redis', () => {
  const pair = twoInstances('two-instances');
  let a: TestApp;
  let b: TestApp;
  beforeAll(() => {
    ({ a, b } = pair);
  });

  const post = (t: TestApp, url: string, payload: object, headers: Record<string, string> = operator()) => t.app.inject({ method: 'POST', url, headers, payload });
  const validate = async (t: TestApp, token: string) => (await post(t, '/api/v1/auth/validate-token', { token }, {})).json();

  it('a session created on one instance is served by the other', async () => {
    const s = (await post(a, '/api/v1/sessions/start', { title: 'shared' })).json();
    const got = await b.app.inject({ method: 'GET', url: `/api/v1/sessions/${s.id}`, headers: operator() });
    expect(got.json()).toMatchObject({ id: s.id, title: 'shared' });
  });

  it('a viewer heartbeat on one instance is counted on the other, deduplicated across instances', async () => {
    const sid = (await post(a, '/api/v1/sessions/start', {})).json().id;
    const token = (await post(a, '/api/v1/auth/tokens', { session_id: sid, viewer_id: 'v1', scopes: ['view'] })).json().access_token;
    const token2 = (await post(b, '/api/v1/auth/tokens', { session_id: sid, viewer_id: 'v2', scopes: ['view'] })).json().access_token;
    expect((await a.app.inject({ method: 'POST', url: `/api/v1/sessions/${sid}/heartbeat`, headers: { authorization: `Bearer ${token}` } })).statusCode).toBe(200);
    expect((await b.app.inject({ method: 'POST', url: `/api/v1/sessions/${sid}/heartbeat`, headers: { authorization: `Bearer ${token}` } })).json().viewers.current).toBe(1);
    expect((await b.app.inject({ method: 'POST', url: `/api/v1/sessions/${sid}/heartbeat`, headers: { authorization: `Bearer ${token2}` } })).json().viewers.current).toBe(2);
    const onA = (await a.app.inject({ method: 'GET', url: `/api/v1/sessions/${sid}`, headers: operator() })).json();
    expect(onA.viewers).toEqual({ current: 2, peak: 2, unique: 2 });
  });

  it('max_viewers holds across instances', async () => {
    const sid = (await post(a, '/api/v1/sessions/start', { max_viewers: 3 })).json().id;
    const tokens = await Promise.all(Array.from({ length: 8 }, async (_, i) => (await post(a, '/api/v1/auth/tokens', { session_id: sid, viewer_id: `cap-${i}`, scopes: ['view'] })).json().access_token as string));
    const results = await Promise.all(tokens.map((tok, i) => (i % 2 ? a : b).app.inject({ method: 'POST', url: `/api/v1/sessions/${sid}/heartbeat`, headers: { authorization: `Bearer ${tok}` } })));
    expect(results.filter((r) => r.statusCode === 200)).toHaveLength(3);
    expect(results.filter((r) => r.statusCode === 403)).toHaveLength(5);
  });

  // How fast (the 1 s budget) is measured by `npm run bench`, not asserted here: no timing in tests.
  it('a revocation on one instance is rejected on the other', async () => {
    const sid = (await post(a, '/api/v1/sessions/start', {})).json().id;
    const token = (await post(a, '/api/v1/auth/tokens', { session_id: sid, viewer_id: 'bad-actor', scopes: ['view', 'chat'] })).json().access_token;
    expect((await validate(b, token)).valid).toBe(true); // now cached as verified on b
    await post(a, '/api/v1/auth/revoke', { session_id: sid, viewer_id: 'bad-actor' });
    await eventually(async () => (await validate(b, token)).reason === 'revoked', { intervalMs: 5 });
  });

  it('a session stopped on one instance ends its tokens on the other', async () => {
    const sid = (await post(a, '/api/v1/sessions/start', {})).json().id;
    const token = (await post(b, '/api/v1/auth/tokens', { session_id: sid, viewer_id: 'v', scopes: ['view'] })).json().access_token;
    expect((await validate(b, token)).valid).toBe(true);
    await post(a, '/api/v1/sessions/stop', { session_id: sid });
    await eventually(async () => (await validate(b, token)).reason === 'session_ended', { intervalMs: 5 });
  });

  it('tokens signed after a rotation on one instance verify on the other', async () => {
    const sid = (await post(a, '/api/v1/sessions/start', {})).json().id;
    const kid = (await post(a, '/api/v1/auth/signing-keys/rotate', {})).json().kid;
    const token = (await post(a, '/api/v1/auth/tokens', { session_id: sid, viewer_id: 'v', scopes: ['view'] })).json().access_token;
    expect(JSON.parse(Buffer.from(token.split('.')[0], 'base64url').toString()).kid).toBe(kid);
    expect((await validate(b, token)).valid).toBe(true);
  });

  it('an API key revoked on one instance stops working on the other', async () => {
    const created = (await post(a, '/api/v1/keys', { name: 'temp' })).json();
    const useOnB = () => b.app.inject({ method: 'GET', url: '/api/v1/sessions', headers: operator(created.key) });
    expect((await useOnB()).statusCode).toBe(200);
    await a.app.inject({ method: 'DELETE', url: `/api/v1/keys/${created.id}`, headers: operator() });
    await eventually(async () => (await useOnB()).statusCode === 401, { timeoutMs: 6_000 });
  });
});
