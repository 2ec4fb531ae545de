import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestApp, operator, type TestApp } from '../helpers/app.js';
import { assertNoServerErrors, type Route } from '../helpers/bad-input.js';

/**
 * Generated garbage thrown at every route of the session service, with and without valid credentials:
 * whatever arrives, the answer is below 500 and every 4xx is a problem document. Good input that the
 * generators happen to produce may succeed; that is fine.
 */

let t: TestApp;
const fx = { session: '', access: '', refresh: '', keyId: '' };
beforeAll(async () => {
  t = await createTestApp();
  const session = await t.app.inject({ method: 'POST', url: '/api/v1/sessions/start', headers: operator(), payload: {} });
  fx.session = session.json().id;
  const pair = await t.app.inject({ method: 'POST', url: '/api/v1/auth/tokens', headers: operator(), payload: { session_id: fx.session, viewer_id: 'prop', scopes: ['view', 'chat'] } });
  fx.access = pair.json().access_token;
  fx.refresh = pair.json().refresh_token;
  const key = await t.app.inject({ method: 'POST', url: '/api/v1/keys', headers: operator(), payload: { name: 'property test' } });
  fx.keyId = key.json().id;
  expect([session.statusCode, pair.statusCode, key.statusCode]).toEqual([201, 201, 201]);
});
afterAll(async () => t?.close());

const ROUTES: Route[] = [
  { label: 'POST /api/v1/sessions/start', method: 'POST', url: () => '/api/v1/sessions/start', keys: ['title', 'max_viewers', 'metadata'], goodIds: () => [], auth: 'operator', runs: 200 },
  { label: 'POST /api/v1/sessions/stop', method: 'POST', url: () => '/api/v1/sessions/stop', keys: ['session_id', 'reason'], goodIds: () => [], auth: 'operator', runs: 200 },
  { label: 'GET /api/v1/sessions/{id}', method: 'GET', url: (id) => `/api/v1/sessions/${id}`, keys: [], goodIds: () => [fx.session], auth: 'operator', runs: 200 },
  { label: 'GET /api/v1/sessions', method: 'GET', url: () => '/api/v1/sessions', keys: ['status', 'limit', 'cursor', 'created_after', 'created_before'], goodIds: () => [], auth: 'operator', runs: 200 },
  { label: 'POST /api/v1/auth/tokens', method: 'POST', url: () => '/api/v1/auth/tokens', keys: ['session_id', 'viewer_id', 'scopes', 'ttl_seconds'], goodIds: () => [], auth: 'operator', runs: 200 },
  { label: 'POST /api/v1/auth/validate-token', method: 'POST', url: () => '/api/v1/auth/validate-token', keys: ['token'], goodIds: () => [], auth: 'public', runs: 200 },
  { label: 'POST /api/v1/auth/refresh-token', method: 'POST', url: () => '/api/v1/auth/refresh-token', keys: ['refresh_token'], goodIds: () => [], auth: 'public', runs: 200 },
  { label: 'POST /api/v1/auth/revoke', method: 'POST', url: () => '/api/v1/auth/revoke', keys: ['session_id', 'viewer_id', 'token_id'], goodIds: () => [], auth: 'operator', runs: 200 },
  // Each accepted rotation makes a key pair and reloads the ring: fewer runs keep the file fast.
  { label: 'POST /api/v1/auth/signing-keys/rotate', method: 'POST', url: () => '/api/v1/auth/signing-keys/rotate', keys: [], goodIds: () => [], auth: 'operator', runs: 80 },
  { label: 'POST /api/v1/keys', method: 'POST', url: () => '/api/v1/keys', keys: ['name'], goodIds: () => [], auth: 'operator', runs: 200 },
  { label: 'GET /api/v1/keys', method: 'GET', url: () => '/api/v1/keys', keys: [], goodIds: () => [], auth: 'operator', runs: 100 },
  { label: 'DELETE /api/v1/keys/{id}', method: 'DELETE', url: (id) => `/api/v1/keys/${id}`, keys: [], goodIds: () => ['0'.repeat(26)], auth: 'operator', runs: 200 },
  { label: 'POST /api/v1/sessions/{id}/heartbeat', method: 'POST', url: (id) => `/api/v1/sessions/${id}/heartbeat`, keys: [], goodIds: () => [fx.session], auth: 'viewer', runs: 200 },
  { label: 'DELETE /api/v1/sessions/{id}/heartbeat', method: 'DELETE', url: (id) => `/api/v1/sessions/${id}/heartbeat`, keys: [], goodIds: () => [fx.session], auth: 'viewer', runs: 200 },
];

describe('generated bad input never yields a 5xx, and every 4xx is a problem document', () => {
  for (const route of ROUTES) {
    it(route.label, async () => assertNoServerErrors(t, route, { viewer: fx.access, refresh: fx.refresh }));
  }
  it('the app still answers /health 200 afterwards', async () => {
    const res = await t.app.inject({ method: 'GET', url: '/health' });
    expect(res.statusCode).toBe(200);
    expect(res.json().status).toBe('ok');
    expect((await t.app.inject({ method: 'GET', url: `/api/v1/sessions/${fx.session}`, headers: operator() })).statusCode).toBe(200);
  });
});
