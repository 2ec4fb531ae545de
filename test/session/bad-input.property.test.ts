import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ADMIN_KEY, createTestApp, operator, type TestApp } from '../helpers/app.js';

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

type Method = 'GET' | 'POST' | 'DELETE';
interface Route {
  label: string;
  method: Method;
  /** The url with this (already encoded) path id; routes without one ignore it. */
  url: (id: string) => string;
  /** Field names of the body, to aim wrong values at the right keys. */
  keys: string[];
  /** Path ids that exist, so generated requests also reach past the id check. */
  goodIds: () => string[];
  /** Which credential gets a request past authentication. */
  auth: 'operator' | 'viewer' | 'public';
  runs: number;
}

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

// ---------------------------------------------------------------------------------------------------
// Generators

const printable = fc.string({ unit: fc.integer({ min: 0x20, max: 0x7e }).map((c) => String.fromCharCode(c)), maxLength: 60 });
/** Any characters, with a good share of the awkward ones: NUL, lone surrogates, controls, quotes. */
const anyChars = fc.oneof(
  fc.string({ unit: 'binary', maxLength: 80 }),
  fc
    .array(fc.oneof(fc.constantFrom('\u0000', '\ud800', '\udc00', '\u001f', '\u007f', '\u2028', '\ufeff', '\\', '"', "'", '%', '😀'), fc.string({ maxLength: 3 })), { minLength: 1, maxLength: 12 })
    .map((parts) => parts.join('')),
);
/** Percent-encodes the UTF-8 bytes of `s` (encodeURIComponent throws on lone surrogates). */
const pct = (s: string) => [...Buffer.from(s)].map((b) => (/[A-Za-z0-9_.~-]/.test(String.fromCharCode(b)) ? String.fromCharCode(b) : `%${b.toString(16).padStart(2, '0').toUpperCase()}`)).join('');
const hugeString = fc.integer({ min: 100, max: 70_000 }).map((n) => 'x'.repeat(n));

/** JSON text for a value; `undefined` (no JSON form) means "send no body". */
const jsonText = (v: unknown): string | undefined => {
  try {
    return JSON.stringify(v);
  } catch {
    return undefined;
  }
};

const wrongValue = fc.oneof(
  fc.anything({ maxDepth: 3 }),
  anyChars,
  hugeString,
  fc.constantFrom(null, true, false, 0, -1, 1.5, 1e308, Number.MAX_SAFE_INTEGER, '', ' ', '10', 'null', '[]', '{}', 'ses_', `ses_${'0'.repeat(26)}`),
  fc.constantFrom('__proto__', 'constructor', 'prototype').map((k) => ({ [k]: { polluted: true } })),
);

function bodies(route: Route): fc.Arbitrary<string | undefined> {
  const keys = route.keys.length > 0 ? route.keys : ['unexpected'];
  const key = fc.constantFrom(...keys, '__proto__', 'constructor', 'prototype', 'unexpected');
  const nested = (depth: number, open: string, close: string, inner = '1') => `${open.repeat(depth)}${inner}${close.repeat(depth)}`;
  return fc.oneof(
    // Anything at all, as JSON.
    fc.anything().map(jsonText),
    fc.json({ maxDepth: 4 }),
    // The right keys with wrong values (weighted up: this is where the handlers are reached).
    { weight: 4, arbitrary: fc.dictionary(fc.constantFrom(...keys), wrongValue, { maxKeys: keys.length }).map(jsonText) },
    { weight: 2, arbitrary: fc.tuple(fc.constantFrom(...keys), fc.oneof(anyChars, fc.dictionary(anyChars, anyChars, { maxKeys: 3 }))).map(([k, v]) => JSON.stringify({ [k]: v })) },
    fc.tuple(key, wrongValue).map(([k, v]) => `{${JSON.stringify(k)}:${jsonText(v) ?? 'null'}}`),
    // Huge strings, right and wrong keys.
    fc.tuple(key, hugeString).map(([k, v]) => JSON.stringify({ [k]: v })),
    // Deep nesting, inside a known key and at the top.
    { weight: 2, arbitrary: fc.tuple(fc.constantFrom(...keys), fc.integer({ min: 1, max: 20_000 })).map(([k, d]) => `{${JSON.stringify(k)}:${nested(d, '[', ']')}}`) },
    fc.tuple(key, fc.integer({ min: 1, max: 5_000 })).map(([k, d]) => `{${JSON.stringify(k)}:${nested(d, '{"a":', '}')}}`),
    fc.integer({ min: 1, max: 20_000 }).map((d) => nested(d, '[', ']', '')),
    // Prototype pollution, top level and nested (JSON text: object literals would not keep __proto__ as a key).
    fc.tuple(fc.constantFrom('__proto__', 'constructor'), key, fc.json({ maxDepth: 2 })).map(([p, k, v]) =>
      p === '__proto__' ? `{"__proto__":{"isAdmin":true},${JSON.stringify(k)}:${v}}` : `{${JSON.stringify(k)}:{"constructor":{"prototype":{"isAdmin":${v}}}}}`,
    ),
    // Not JSON at all.
    anyChars,
    fc.constant(undefined),
  );
}

const contentType = fc.oneof(
  { weight: 6, arbitrary: fc.constant('application/json') },
  { weight: 4, arbitrary: fc.constantFrom('application/json; charset=utf-8', 'APPLICATION/JSON', 'application/problem+json', 'application/json; charset=utf-16', 'text/plain', 'application/x-www-form-urlencoded', 'multipart/form-data; boundary=x', 'application/xml', 'application/octet-stream', '', ';', '*/*') },
  { weight: 1, arbitrary: printable },
  { weight: 1, arbitrary: fc.constant(undefined) },
);

/** 'good' is the credential the route needs; the rest are missing, wrong or for the other kind of route. */
const authorization = fc.oneof(
  { weight: 4, arbitrary: fc.constant('good') },
  { weight: 1, arbitrary: fc.constant(undefined) },
  { weight: 2, arbitrary: fc.constantFrom(`Bearer ${ADMIN_KEY}`, 'viewer', 'refresh', `Bearer ${ADMIN_KEY}x`, 'Bearer', `Basic ${ADMIN_KEY}`, `bearer ${ADMIN_KEY}`) },
  { weight: 1, arbitrary: printable.map((s) => `Bearer ${s}`) },
  { weight: 1, arbitrary: printable },
);

function pathIds(route: Route): fc.Arbitrary<string> {
  const good = route.goodIds();
  return fc.oneof(
    ...(good.length > 0 ? [{ weight: 4, arbitrary: fc.constantFrom(...good) }] : []),
    { weight: 1, arbitrary: fc.constantFrom('nope', '..', '%2e%2e', '..%2F..%2Fetc%2Fpasswd', '%E0%A4%A', '%', '%00', `ses_${'0'.repeat(26)}`, `ses_${'a'.repeat(300)}`) },
    { weight: 1, arbitrary: anyChars.filter((s) => s.length > 0).map(pct) },
    { weight: 1, arbitrary: fc.stringMatching(/^ses_[0-9a-z]{20,30}$/) },
    { weight: 1, arbitrary: fc.stringMatching(/^[0-9a-z]{20,30}$/) },
  );
}

const dateTime = fc.oneof(
  fc.date({ min: new Date('0000-01-01T00:00:00Z'), max: new Date('9999-12-31T23:59:59Z'), noInvalidDate: true }).map((d) => d.toISOString()),
  fc.constantFrom('2026-12-31T23:59:60Z', '0000-01-01T00:00:00Z', '9999-12-31T23:59:59Z', '2026-02-30T00:00:00Z', '2026-01-01T00:00:00+14:00', 'yesterday'),
);

/** Query strings: for routes that read one, its own parameters with wrong values; elsewhere noise. */
function queries(route: Route): fc.Arbitrary<string> {
  const noise = fc.option(printable, { nil: undefined }).map((q) => (q === undefined ? '' : `?${pct(q)}`));
  if (route.method !== 'GET' || route.keys.length === 0) return noise;
  const value = fc.oneof(printable, anyChars, dateTime, fc.integer().map(String), fc.constantFrom('created', 'live', 'ended', '1', '100', '101', '0', '-1', '1.5'));
  return fc.oneof(
    noise,
    { weight: 4, arbitrary: fc.dictionary(fc.constantFrom(...route.keys, 'unexpected', '__proto__'), value, { maxKeys: 4 }).map((d) => `?${new URLSearchParams(d)}`) },
  );
}

// ---------------------------------------------------------------------------------------------------

describe('generated bad input never yields a 5xx, and every 4xx is a problem document', () => {
  for (const route of ROUTES) {
    it(route.label, async () => {
      await fc.assert(
        fc.asyncProperty(pathIds(route), bodies(route), contentType, authorization, queries(route), async (id, body, ct, auth, qs) => {
          const headers: Record<string, string> = {};
          if (ct !== undefined && body !== undefined) headers['content-type'] = ct;
          const credential = auth === 'good' ? (route.auth === 'operator' ? `Bearer ${ADMIN_KEY}` : route.auth === 'viewer' ? 'viewer' : undefined) : auth;
          if (credential === 'viewer') headers.authorization = `Bearer ${fx.access}`;
          else if (credential === 'refresh') headers.authorization = `Bearer ${fx.refresh}`;
          else if (credential !== undefined) headers.authorization = credential;
          const res = await t.app.inject({ method: route.method, url: route.url(id) + qs, headers, ...(body === undefined ? {} : { payload: body }) });
          const context = `${route.method} ${route.url(id)}${qs} ct=${JSON.stringify(ct)} auth=${JSON.stringify(auth?.slice(0, 40))} body=${JSON.stringify(body?.slice(0, 200))} → ${res.statusCode} ${res.headers['content-type']} ${res.body.slice(0, 300)}`;
          expect(res.statusCode, context).toBeLessThan(500);
          if (res.statusCode >= 400) {
            expect(String(res.headers['content-type']), context).toMatch(/^application\/problem\+json/);
            const p = res.json();
            expect(p, context).toMatchObject({ type: expect.any(String), title: expect.any(String), status: res.statusCode, code: expect.any(String), detail: expect.any(String) });
          }
        }),
        { numRuns: route.runs },
      );
    });
  }

  it('the app still answers /health 200 afterwards', async () => {
    const res = await t.app.inject({ method: 'GET', url: '/health' });
    expect(res.statusCode).toBe(200);
    expect(res.json().status).toBe('ok');
    expect((await t.app.inject({ method: 'GET', url: `/api/v1/sessions/${fx.session}`, headers: operator() })).statusCode).toBe(200);
  });
});
