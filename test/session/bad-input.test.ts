import { generateKeyPairSync, createPublicKey } from 'node:crypto';
import { SignJWT, UnsecuredJWT, decodeJwt, decodeProtectedHeader, type JWTPayload } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ADMIN_KEY, createTestApp, operator, type TestApp } from '../helpers/app.js';
import { ManualClock } from '../helpers/manual-clock.js';
import { expectProblem, type Res } from '../helpers/problem.js';

/**
 * Bad input on every route of the session service: each must be refused with a 4xx problem document
 * that says what is wrong (naming the field for validation failures), never a 5xx, and must leave
 * nothing behind in the database. Good requests made by this file are counted in `created`, and the
 * last test checks that the tables hold exactly that.
 */

let t: TestApp;
const clock = new ManualClock(Date.UTC(2026, 10, 26, 12, 0, 0));
beforeAll(async () => {
  t = await createTestApp({ clock });
  await setUpFixtures();
});
afterAll(async () => t?.close());

// ---------------------------------------------------------------------------------------------------
// Requests and assertions

type Method = 'GET' | 'POST' | 'DELETE';
type Headers = Record<string, string>;

function send(method: Method, url: string, opts: { headers?: Headers; body?: string | object } = {}): Promise<Res> {
  return t.app.inject({ method, url, headers: opts.headers, payload: opts.body as string | object | undefined }) as unknown as Promise<Res>;
}

const JSON_CT = { 'content-type': 'application/json' };
const bearer = (token: string) => ({ authorization: `Bearer ${token}` });

/** Asserts an RFC 9457 problem document with this status (or one of these), and optionally code and field. */

/** A good request: fails the setup loudly when it does not succeed. */
async function good(res: Promise<Res>, status: number) {
  const r = await res;
  if (r.statusCode !== status) throw new Error(`setup request failed: ${r.statusCode} ${r.body}`);
  return r.body ? r.json() : undefined;
}

// ---------------------------------------------------------------------------------------------------
// Fixtures (made by good requests, counted)

const created = { sessions: 0, api_keys: 0, token_families: 0, refresh_tokens: 0, revocations: 0, idempotency_keys: 0, session_viewers: 0, signing_keys: 0 };
const f = {
  /** Open session that viewer tokens are for. */
  live: '',
  /** Another open session: its tokens are foreign to `live`. */
  other: '',
  /** Open session at which the stop route's bad bodies are aimed: it must still be open at the end. */
  stopTarget: '',
  ended: '',
  keyId: '',
  key: '',
  revokedKeyId: '',
  revokedKey: '',
  access: '',
  refresh: '',
  foreignAccess: '',
  shortAccess: '',
  chatOnlyAccess: '',
  revokedAccess: '',
  endedAccess: '',
};
const UNKNOWN_SESSION = `ses_${'0'.repeat(26)}`;
const UNKNOWN_KEY_ID = '0'.repeat(26);

async function setUpFixtures() {
  const start = async () => {
    const s = await good(send('POST', '/api/v1/sessions/start', { headers: operator(), body: {} }), 201);
    created.sessions++;
    return s.id as string;
  };
  f.live = await start();
  f.other = await start();
  f.stopTarget = await start();
  f.ended = await start();

  const mint = async (session_id: string, viewer_id: string, scopes: string[], ttl_seconds?: number) => {
    const pair = await good(send('POST', '/api/v1/auth/tokens', { headers: operator(), body: { session_id, viewer_id, scopes, ...(ttl_seconds ? { ttl_seconds } : {}) } }), 201);
    created.token_families++;
    created.refresh_tokens++;
    return pair as { access_token: string; refresh_token: string };
  };
  const main = await mint(f.live, 'viewer-1', ['view', 'chat']);
  f.access = main.access_token;
  f.refresh = main.refresh_token;
  f.foreignAccess = (await mint(f.other, 'viewer-2', ['view'])).access_token;
  f.shortAccess = (await mint(f.live, 'viewer-3', ['view'], 10)).access_token;
  f.chatOnlyAccess = (await mint(f.live, 'viewer-4', ['chat'])).access_token;
  f.revokedAccess = (await mint(f.live, 'viewer-5', ['view'])).access_token;
  f.endedAccess = (await mint(f.ended, 'viewer-6', ['view'])).access_token;

  await good(send('POST', '/api/v1/auth/revoke', { headers: operator(), body: { token_id: decodeJwt(f.revokedAccess).jti } }), 200);
  created.revocations++;
  await good(send('POST', '/api/v1/sessions/stop', { headers: operator(), body: { session_id: f.ended } }), 200);

  const key = await good(send('POST', '/api/v1/keys', { headers: operator(), body: { name: 'bad-input test' } }), 201);
  f.keyId = key.id;
  f.key = key.key;
  const doomed = await good(send('POST', '/api/v1/keys', { headers: operator(), body: { name: 'to be revoked' } }), 201);
  f.revokedKeyId = doomed.id;
  f.revokedKey = doomed.key;
  created.api_keys += 2;
  await good(send('DELETE', `/api/v1/keys/${f.revokedKeyId}`, { headers: operator() }), 200);
  // The stored key works before we start throwing bad input at it.
  await good(send('GET', '/api/v1/keys', { headers: operator(f.key) }), 200);

  created.signing_keys = await count('signing_keys');
}

async function count(table: string): Promise<number> {
  const { rows } = await t.backends.database.query<{ n: number | string }>(`SELECT count(*)::int AS n FROM ${table}`);
  return Number(rows[0]!.n);
}

// ---------------------------------------------------------------------------------------------------
// The routes

type RouteName = 'start' | 'stop' | 'get' | 'list' | 'mint' | 'validate' | 'refresh' | 'revoke' | 'rotate' | 'createKey' | 'listKeys' | 'deleteKey' | 'heartbeat' | 'leave';

interface Route {
  name: RouteName;
  /** `METHOD /path/{id}` for test names (fixture ids do not exist yet when tests are collected). */
  label: string;
  method: Method;
  /** A well-formed url (ids of fixtures that exist, except where a write would hurt the fixtures). */
  url: () => string;
  /** Builds a url with this raw (already encoded) id, for routes with a path id. */
  withId?: (rawId: string) => string;
  auth: 'operator' | 'viewer' | 'public';
  /** A valid body, for routes whose body is validated against a schema. */
  body?: () => Record<string, unknown>;
}

const ROUTES: Route[] = [
  { name: 'start', label: 'POST /api/v1/sessions/start', method: 'POST', url: () => '/api/v1/sessions/start', auth: 'operator', body: () => ({ title: 'fine' }) },
  { name: 'stop', label: 'POST /api/v1/sessions/stop', method: 'POST', url: () => '/api/v1/sessions/stop', auth: 'operator', body: () => ({ session_id: f.stopTarget }) },
  { name: 'get', label: 'GET /api/v1/sessions/{id}', method: 'GET', url: () => `/api/v1/sessions/${f.live}`, withId: (id) => `/api/v1/sessions/${id}`, auth: 'operator' },
  { name: 'list', label: 'GET /api/v1/sessions', method: 'GET', url: () => '/api/v1/sessions', auth: 'operator' },
  { name: 'mint', label: 'POST /api/v1/auth/tokens', method: 'POST', url: () => '/api/v1/auth/tokens', auth: 'operator', body: () => ({ session_id: f.live, viewer_id: 'viewer-x', scopes: ['view'] }) },
  { name: 'validate', label: 'POST /api/v1/auth/validate-token', method: 'POST', url: () => '/api/v1/auth/validate-token', auth: 'public', body: () => ({ token: f.access }) },
  { name: 'refresh', label: 'POST /api/v1/auth/refresh-token', method: 'POST', url: () => '/api/v1/auth/refresh-token', auth: 'public', body: () => ({ refresh_token: f.refresh }) },
  { name: 'revoke', label: 'POST /api/v1/auth/revoke', method: 'POST', url: () => '/api/v1/auth/revoke', auth: 'operator', body: () => ({ session_id: f.live, viewer_id: 'nobody' }) },
  // No body is expected: an empty object is the only acceptable one.
  { name: 'rotate', label: 'POST /api/v1/auth/signing-keys/rotate', method: 'POST', url: () => '/api/v1/auth/signing-keys/rotate', auth: 'operator', body: () => ({}) },
  { name: 'createKey', label: 'POST /api/v1/keys', method: 'POST', url: () => '/api/v1/keys', auth: 'operator', body: () => ({ name: 'fine' }) },
  { name: 'listKeys', label: 'GET /api/v1/keys', method: 'GET', url: () => '/api/v1/keys', auth: 'operator' },
  // An id that does not exist: if a bad request slipped through it would answer 404, not revoke a key.
  { name: 'deleteKey', label: 'DELETE /api/v1/keys/{id}', method: 'DELETE', url: () => `/api/v1/keys/${UNKNOWN_KEY_ID}`, withId: (id) => `/api/v1/keys/${id}`, auth: 'operator' },
  { name: 'heartbeat', label: 'POST /api/v1/sessions/{id}/heartbeat', method: 'POST', url: () => `/api/v1/sessions/${f.live}/heartbeat`, withId: (id) => `/api/v1/sessions/${id}/heartbeat`, auth: 'viewer', body: () => ({}) },
  { name: 'leave', label: 'DELETE /api/v1/sessions/{id}/heartbeat', method: 'DELETE', url: () => `/api/v1/sessions/${f.live}/heartbeat`, withId: (id) => `/api/v1/sessions/${id}/heartbeat`, auth: 'viewer' },
];
const route = (name: RouteName) => ROUTES.find((r) => r.name === name)!;
const goodAuth = (r: Route): Headers => (r.auth === 'operator' ? operator() : r.auth === 'viewer' ? bearer(f.access) : {});
const routeLabel = (r: Route) => r.label;

/** Routes that parse a request body (Fastify parses bodies of POST and DELETE, not GET). */
const BODY_ROUTES = ROUTES.filter((r) => r.method !== 'GET');
const SCHEMA_ROUTES = ROUTES.filter((r) => r.body);
const OPERATOR_ROUTES = ROUTES.filter((r) => r.auth === 'operator');
const ID_ROUTES = ROUTES.filter((r) => r.withId);

// ---------------------------------------------------------------------------------------------------

describe('bodies that are not JSON objects', () => {
  for (const r of BODY_ROUTES) {
    describe(routeLabel(r), () => {
      const post = (body: string, headers: Headers = JSON_CT) => send(r.method, r.url(), { headers: { ...goodAuth(r), ...headers }, body });

      it('malformed JSON → 400 malformed_body', async () => {
        expectProblem(await post('{"a":'), 400, 'malformed_body');
        expectProblem(await post(JSON.stringify(r.body?.() ?? { a: 1 }).slice(0, -1)), 400, 'malformed_body');
        expectProblem(await post("{'single': 'quotes'}"), 400, 'malformed_body');
      });

      it('empty body with Content-Type application/json → 400 empty_body', async () => {
        expectProblem(await post(''), 400, 'empty_body');
      });

      for (const ct of ['text/plain', 'application/x-www-form-urlencoded', 'application/xml', 'multipart/form-data; boundary=x']) {
        it(`Content-Type ${ct} → 415 unsupported_media_type`, async () => {
          const body = ct.startsWith('application/x-www') ? 'title=x&session_id=y' : ct === 'application/xml' ? '<a/>' : JSON.stringify(r.body?.() ?? {});
          expectProblem(await post(body, { 'content-type': ct }), 415, 'unsupported_media_type');
        });
      }

      it('body over STREAMPLANE_BODY_LIMIT_BYTES → 413 body_too_large', async () => {
        const limit = t.config.bodyLimitBytes;
        const pad = 'x'.repeat(limit + 1 - JSON.stringify({ pad: '' }).length);
        const body = JSON.stringify({ pad });
        expect(body.length).toBe(limit + 1);
        expectProblem(await post(body), 413, 'body_too_large');
        expectProblem(await post(JSON.stringify({ pad: 'y'.repeat(limit * 4) })), 413, 'body_too_large');
      });

      it('prototype-poisoning keys → 400', async () => {
        expectProblem(await post('{"__proto__":{"isAdmin":true}}'), 400);
        expectProblem(await post('{"constructor":{"prototype":{"isAdmin":true}}}'), 400);
      });
    });
  }

  for (const r of SCHEMA_ROUTES) {
    it(`${routeLabel(r)}: a JSON array, string, number or boolean → 400 naming body`, async () => {
      for (const body of ['[]', '[{}]', '"text"', '42', 'true']) {
        expectProblem(await send(r.method, r.url(), { headers: { ...goodAuth(r), ...JSON_CT }, body }), 400, 'validation_failed', 'body');
      }
    });
  }

  for (const r of SCHEMA_ROUTES.filter((r) => !['start', 'heartbeat', 'rotate'].includes(r.name))) {
    it(`${routeLabel(r)}: JSON null → 400 naming body`, async () => {
      expectProblem(await send(r.method, r.url(), { headers: { ...goodAuth(r), ...JSON_CT }, body: 'null' }), 400, 'validation_failed', 'body');
    });
  }
});

describe('unknown fields are refused, naming the field', () => {
  for (const r of SCHEMA_ROUTES) {
    it(`${routeLabel(r)}: {…valid, unexpected} → 400 body.unexpected`, async () => {
      const res = await send(r.method, r.url(), { headers: goodAuth(r), body: { ...r.body!(), unexpected: 1 } });
      const p = expectProblem(res, 400, 'validation_failed', 'body.unexpected');
      expect(p.errors.find((e: { field: string }) => e.field === 'body.unexpected').message).toMatch(/not a known field/);
    });
  }
});

// ---------------------------------------------------------------------------------------------------

interface FieldCase {
  route: RouteName;
  label: string;
  body?: () => unknown;
  /** Query string (without '?') for GET /api/v1/sessions. */
  query?: string;
  headers?: () => Headers;
  status?: number;
  code?: string;
  /** The field errors[] must name; omitted for refusals that are not schema validation. */
  field?: string;
}

const s = (n: number, c = 'x') => c.repeat(n);
const FIELD_CASES: FieldCase[] = [
  // POST /api/v1/sessions/start
  { route: 'start', label: 'title over 200 chars', body: () => ({ title: s(201) }), field: 'body.title' },
  { route: 'start', label: 'empty title', body: () => ({ title: '' }), field: 'body.title' },
  { route: 'start', label: 'title as a number', body: () => ({ title: 5 }), field: 'body.title' },
  { route: 'start', label: 'title as an array', body: () => ({ title: ['a'] }), field: 'body.title' },
  { route: 'start', label: 'max_viewers "10" (a string is not coerced)', body: () => ({ max_viewers: '10' }), field: 'body.max_viewers' },
  { route: 'start', label: 'max_viewers true (a boolean is not coerced)', body: () => ({ max_viewers: true }), field: 'body.max_viewers' },
  { route: 'start', label: 'max_viewers null', body: () => ({ max_viewers: null }), field: 'body.max_viewers' },
  { route: 'start', label: 'max_viewers 1.5', body: () => ({ max_viewers: 1.5 }), field: 'body.max_viewers' },
  { route: 'start', label: 'max_viewers 0', body: () => ({ max_viewers: 0 }), field: 'body.max_viewers' },
  { route: 'start', label: 'max_viewers -1', body: () => ({ max_viewers: -1 }), field: 'body.max_viewers' },
  { route: 'start', label: 'max_viewers 10000001', body: () => ({ max_viewers: 10_000_001 }), field: 'body.max_viewers' },
  { route: 'start', label: 'max_viewers 1e400 (Infinity)', body: () => '{"max_viewers":1e400}', field: 'body.max_viewers' },
  { route: 'start', label: 'metadata as an array', body: () => ({ metadata: [1] }), field: 'body.metadata' },
  { route: 'start', label: 'metadata as a string', body: () => ({ metadata: '{}' }), field: 'body.metadata' },
  { route: 'start', label: 'metadata with 51 keys', body: () => ({ metadata: Object.fromEntries(Array.from({ length: 51 }, (_, i) => [`k${i}`, i])) }), field: 'body.metadata' },
  { route: 'start', label: 'metadata key over 64 chars', body: () => ({ metadata: { [s(65, 'k')]: 1 } }), field: 'body.metadata' },
  { route: 'start', label: 'metadata over STREAMPLANE_METADATA_MAX_BYTES', body: () => ({ metadata: { a: s(5000) } }), status: 413, code: 'metadata_too_large' },
  { route: 'start', label: 'unknown field status (no mass assignment)', body: () => ({ status: 'live' }), field: 'body.status' },
  { route: 'start', label: 'unknown field id', body: () => ({ id: UNKNOWN_SESSION }), field: 'body.id' },
  { route: 'start', label: 'Idempotency-Key over 255 chars', body: () => ({}), headers: () => ({ 'idempotency-key': s(256, 'k') }), field: 'headers.idempotency-key' },
  { route: 'start', label: 'Idempotency-Key with non-ASCII', body: () => ({}), headers: () => ({ 'idempotency-key': 'clé' }), code: 'bad_idempotency_key' },

  // POST /api/v1/sessions/stop
  { route: 'stop', label: 'missing session_id', body: () => ({}), field: 'body.session_id' },
  { route: 'stop', label: 'session_id as a number', body: () => ({ session_id: 5 }), field: 'body.session_id' },
  { route: 'stop', label: 'session_id not ses_…', body: () => ({ session_id: 'nope' }), field: 'body.session_id' },
  { route: 'stop', label: 'session_id too long', body: () => ({ session_id: `ses_${s(300, 'a')}` }), field: 'body.session_id' },
  { route: 'stop', label: 'session_id path traversal', body: () => ({ session_id: '../../etc/passwd' }), field: 'body.session_id' },
  { route: 'stop', label: 'session_id as an object', body: () => ({ session_id: { $ne: null } }), field: 'body.session_id' },
  { route: 'stop', label: 'reason over 200 chars', body: () => ({ session_id: f.stopTarget, reason: s(201) }), field: 'body.reason' },
  { route: 'stop', label: 'empty reason', body: () => ({ session_id: f.stopTarget, reason: '' }), field: 'body.reason' },
  { route: 'stop', label: 'reason as a number (not coerced)', body: () => ({ session_id: f.stopTarget, reason: 5 }), field: 'body.reason' },
  { route: 'stop', label: 'unknown field', body: () => ({ session_id: f.stopTarget, force: true }), field: 'body.force' },
  { route: 'stop', label: 'well-formed unknown session', body: () => ({ session_id: UNKNOWN_SESSION }), status: 404, code: 'not_found' },

  // GET /api/v1/sessions
  { route: 'list', label: 'limit=abc', query: 'limit=abc', field: 'querystring.limit' },
  { route: 'list', label: 'limit=0', query: 'limit=0', field: 'querystring.limit' },
  { route: 'list', label: 'limit=101', query: 'limit=101', field: 'querystring.limit' },
  { route: 'list', label: 'limit=-1', query: 'limit=-1', field: 'querystring.limit' },
  { route: 'list', label: 'limit=1.5', query: 'limit=1.5', field: 'querystring.limit' },
  { route: 'list', label: 'limit=1e3', query: 'limit=1e3', field: 'querystring.limit' },
  { route: 'list', label: 'limit repeated', query: 'limit=1&limit=2', field: 'querystring.limit' },
  { route: 'list', label: 'status=foo', query: 'status=foo', field: 'querystring.status' },
  { route: 'list', label: 'status repeated', query: 'status=live&status=ended', field: 'querystring.status' },
  { route: 'list', label: 'cursor over 200 chars', query: `cursor=${s(201, 'a')}`, field: 'querystring.cursor' },
  { route: 'list', label: 'cursor not one we issued', query: 'cursor=zzz', code: 'bad_cursor' },
  { route: 'list', label: 'cursor of a path traversal', query: `cursor=${Buffer.from('../../etc/passwd').toString('base64url')}`, code: 'bad_cursor' },
  { route: 'list', label: 'created_after=yesterday', query: 'created_after=yesterday', field: 'querystring.created_after' },
  { route: 'list', label: 'created_after a date without time', query: 'created_after=2026-01-01', field: 'querystring.created_after' },
  { route: 'list', label: 'created_after month 13', query: 'created_after=2026-13-01T00:00:00Z', field: 'querystring.created_after' },
  { route: 'list', label: 'created_after repeated', query: 'created_after=2026-01-01T00:00:00Z&created_after=2026-01-02T00:00:00Z', field: 'querystring.created_after' },
  { route: 'list', label: 'created_before=never', query: 'created_before=never', field: 'querystring.created_before' },
  { route: 'list', label: 'unknown query parameter', query: 'sort=asc', field: 'querystring.sort' },

  // POST /api/v1/auth/tokens
  { route: 'mint', label: 'missing every field', body: () => ({}), field: 'body.session_id' },
  { route: 'mint', label: 'missing scopes', body: () => ({ session_id: f.live, viewer_id: 'v' }), field: 'body.scopes' },
  { route: 'mint', label: 'missing viewer_id', body: () => ({ session_id: f.live, scopes: ['view'] }), field: 'body.viewer_id' },
  { route: 'mint', label: 'scopes as a string', body: () => ({ session_id: f.live, viewer_id: 'v', scopes: 'view' }), field: 'body.scopes' },
  { route: 'mint', label: 'no scopes', body: () => ({ session_id: f.live, viewer_id: 'v', scopes: [] }), field: 'body.scopes' },
  { route: 'mint', label: 'unknown scope', body: () => ({ session_id: f.live, viewer_id: 'v', scopes: ['admin'] }), field: 'body.scopes.0' },
  { route: 'mint', label: 'duplicate scopes', body: () => ({ session_id: f.live, viewer_id: 'v', scopes: ['view', 'view'] }), field: 'body.scopes' },
  { route: 'mint', label: 'ttl_seconds "60" (not coerced)', body: () => ({ session_id: f.live, viewer_id: 'v', scopes: ['view'], ttl_seconds: '60' }), field: 'body.ttl_seconds' },
  { route: 'mint', label: 'ttl_seconds 9', body: () => ({ session_id: f.live, viewer_id: 'v', scopes: ['view'], ttl_seconds: 9 }), field: 'body.ttl_seconds' },
  { route: 'mint', label: 'ttl_seconds 604801', body: () => ({ session_id: f.live, viewer_id: 'v', scopes: ['view'], ttl_seconds: 604_801 }), field: 'body.ttl_seconds' },
  { route: 'mint', label: 'ttl_seconds above STREAMPLANE_ACCESS_TOKEN_MAX_TTL_SECONDS', body: () => ({ session_id: f.live, viewer_id: 'v', scopes: ['view'], ttl_seconds: 604_800 }), code: 'ttl_too_long' },
  { route: 'mint', label: 'viewer_id over 128 chars', body: () => ({ session_id: f.live, viewer_id: s(129, 'v'), scopes: ['view'] }), field: 'body.viewer_id' },
  { route: 'mint', label: 'viewer_id with a space', body: () => ({ session_id: f.live, viewer_id: 'a b', scopes: ['view'] }), field: 'body.viewer_id' },
  { route: 'mint', label: 'viewer_id with unicode', body: () => ({ session_id: f.live, viewer_id: 'zoë', scopes: ['view'] }), field: 'body.viewer_id' },
  { route: 'mint', label: 'viewer_id with a NUL', body: () => ({ session_id: f.live, viewer_id: 'a\u0000b', scopes: ['view'] }), field: 'body.viewer_id' },
  { route: 'mint', label: 'viewer_id as a number', body: () => ({ session_id: f.live, viewer_id: 5, scopes: ['view'] }), field: 'body.viewer_id' },
  { route: 'mint', label: 'session_id not ses_…', body: () => ({ session_id: 'nope', viewer_id: 'v', scopes: ['view'] }), field: 'body.session_id' },
  { route: 'mint', label: 'unknown field sub (no claim injection)', body: () => ({ session_id: f.live, viewer_id: 'v', scopes: ['view'], sub: 'admin' }), field: 'body.sub' },
  { route: 'mint', label: 'well-formed unknown session', body: () => ({ session_id: UNKNOWN_SESSION, viewer_id: 'v', scopes: ['view'] }), status: 404, code: 'not_found' },
  { route: 'mint', label: 'ended session', body: () => ({ session_id: f.ended, viewer_id: 'v', scopes: ['view'] }), status: 409, code: 'session_ended' },

  // POST /api/v1/auth/validate-token
  { route: 'validate', label: 'missing token', body: () => ({}), field: 'body.token' },
  { route: 'validate', label: 'empty token', body: () => ({ token: '' }), field: 'body.token' },
  { route: 'validate', label: 'token over 4096 chars', body: () => ({ token: s(4097, 'a') }), field: 'body.token' },
  { route: 'validate', label: 'token as a number', body: () => ({ token: 5 }), field: 'body.token' },
  { route: 'validate', label: 'token as null', body: () => ({ token: null }), field: 'body.token' },
  { route: 'validate', label: 'token as an array', body: () => ({ token: [f.access] }), field: 'body.token' },

  // POST /api/v1/auth/refresh-token
  { route: 'refresh', label: 'missing refresh_token', body: () => ({}), field: 'body.refresh_token' },
  { route: 'refresh', label: 'empty refresh_token', body: () => ({ refresh_token: '' }), field: 'body.refresh_token' },
  { route: 'refresh', label: 'refresh_token over 512 chars', body: () => ({ refresh_token: `rt_${s(510, 'a')}` }), field: 'body.refresh_token' },
  { route: 'refresh', label: 'refresh_token as a number', body: () => ({ refresh_token: 5 }), field: 'body.refresh_token' },
  { route: 'refresh', label: 'refresh_token as an object', body: () => ({ refresh_token: { $gt: '' } }), field: 'body.refresh_token' },
  { route: 'refresh', label: 'well-formed refresh_token we never issued', body: () => ({ refresh_token: `rt_${s(43, 'A')}` }), status: 401, code: 'invalid_refresh_token' },
  { route: 'refresh', label: 'refresh_token with a NUL', body: () => ({ refresh_token: `rt_${s(42, 'A')}\u0000` }), status: 401, code: 'invalid_refresh_token' },

  // POST /api/v1/auth/revoke
  { route: 'revoke', label: 'empty body', body: () => ({}), field: 'body.token_id' },
  { route: 'revoke', label: 'token_id as a number', body: () => ({ token_id: 5 }), field: 'body.token_id' },
  { route: 'revoke', label: 'token_id not a jti', body: () => ({ token_id: 'nope' }), field: 'body.token_id' },
  { route: 'revoke', label: 'token_id over 64 chars', body: () => ({ token_id: s(65, '0') }), field: 'body.token_id' },
  { route: 'revoke', label: 'viewer_id without session_id', body: () => ({ viewer_id: 'v' }), field: 'body.session_id' },
  { route: 'revoke', label: 'session_id not ses_…', body: () => ({ session_id: 'nope', viewer_id: 'v' }), field: 'body.session_id' },
  { route: 'revoke', label: 'viewer_id over 128 chars', body: () => ({ session_id: f.live, viewer_id: s(129, 'v') }), field: 'body.viewer_id' },
  { route: 'revoke', label: 'both forms at once', body: () => ({ session_id: f.live, viewer_id: 'v', token_id: s(26, '0') }), field: 'body.token_id' },

  // POST /api/v1/keys
  { route: 'createKey', label: 'missing name', body: () => ({}), field: 'body.name' },
  { route: 'createKey', label: 'empty name', body: () => ({ name: '' }), field: 'body.name' },
  { route: 'createKey', label: 'name over 100 chars', body: () => ({ name: s(101) }), field: 'body.name' },
  { route: 'createKey', label: 'name as a number (not coerced)', body: () => ({ name: 5 }), field: 'body.name' },
  { route: 'createKey', label: 'unknown field key (no chosen secrets)', body: () => ({ name: 'x', key: `spk_${UNKNOWN_KEY_ID}.${s(43, 'A')}` }), field: 'body.key' },
];

describe('field validation: wrong types, missing fields, oversized strings', () => {
  for (const c of FIELD_CASES) {
    const r = route(c.route);
    it(`${routeLabel(r)}: ${c.label} → ${c.status ?? 400}${c.field ? ` naming ${c.field}` : ` ${c.code}`}`, async () => {
      const body = c.body?.();
      const res = await send(r.method, c.query ? `${r.url()}?${c.query}` : r.url(), {
        headers: { ...goodAuth(r), ...(typeof body === 'string' ? JSON_CT : {}), ...c.headers?.() },
        body: body as string | object | undefined,
      });
      expectProblem(res, c.status ?? 400, c.code ?? (c.field ? 'validation_failed' : undefined), c.field);
    });
  }
});

describe('values the database cannot store are refused with a 4xx, not a 500', () => {
  const cases: Array<{ route: RouteName; label: string; body?: () => unknown; query?: string }> = [
    { route: 'start', label: 'title with a NUL character', body: () => ({ title: 'a\u0000b' }) },
    { route: 'start', label: 'metadata value with a NUL character', body: () => ({ metadata: { a: 'x\u0000y' } }) },
    { route: 'start', label: 'metadata key with a NUL character', body: () => ({ metadata: { 'a\u0000': 1 } }) },
    { route: 'start', label: 'metadata with a lone surrogate', body: () => '{"metadata":{"a":"\\ud800"}}' },
    { route: 'start', label: 'metadata nested 10000 levels deep', body: () => `{"metadata":{"a":${'['.repeat(10_000)}${']'.repeat(10_000)}}}` },
    { route: 'stop', label: 'reason with a NUL character', body: () => ({ session_id: f.stopTarget, reason: 'a\u0000b' }) },
    { route: 'createKey', label: 'name with a NUL character', body: () => ({ name: 'a\u0000b' }) },
  ];
  for (const c of cases) {
    const r = route(c.route);
    it(`${routeLabel(r)}: ${c.label} → 400`, async () => {
      const body = c.body?.();
      const res = await send(r.method, r.url(), { headers: { ...goodAuth(r), ...(typeof body === 'string' ? JSON_CT : {}) }, body: body as string | object | undefined });
      expectProblem(res, 400);
    });
  }

  // Valid RFC 3339 timestamps at the edges: a server may read them (200) or refuse them (400), never fail.
  for (const [label, query] of [
    ['created_after in year 0', 'created_after=0000-01-01T00:00:00Z'],
    ['created_after on a leap second', 'created_after=2026-12-31T23:59:60Z'],
    ['created_before on a leap second in year 9999', 'created_before=9999-12-31T23:59:60Z'],
  ]) {
    it(`GET /api/v1/sessions: ${label} → 200 or 400, not a 5xx`, async () => {
      const res = await send('GET', `/api/v1/sessions?${query}`, { headers: operator() });
      if (res.statusCode === 200) expect(res.json()).toMatchObject({ data: expect.any(Array) });
      else expectProblem(res, 400);
    });
  }
});

// ---------------------------------------------------------------------------------------------------

describe('bad ids in the path → 400 or 404', () => {
  const badIds: Array<{ label: string; raw: string }> = [
    { label: 'not ses_…', raw: 'nope' },
    { label: 'wrong prefix', raw: `key_${'0'.repeat(26)}` },
    { label: 'upper case', raw: `SES_${'0'.repeat(26)}` },
    { label: 'letters outside Crockford base32', raw: `ses_${'u'.repeat(26)}` },
    { label: 'one character short', raw: `ses_${'0'.repeat(25)}` },
    { label: 'one character too many', raw: `ses_${'0'.repeat(27)}` },
    { label: 'too long (300 characters)', raw: `ses_${'a'.repeat(300)}` },
    { label: 'encoded path traversal', raw: '..%2F..%2Fetc%2Fpasswd' },
    { label: 'path traversal', raw: '../../../etc/passwd' },
    { label: 'encoded dot-dot', raw: '%2e%2e' },
    { label: 'unicode', raw: encodeURIComponent('ses_😀') },
    { label: 'full-width digits', raw: encodeURIComponent(`ses_${'０'.repeat(26)}`) },
    { label: 'NUL byte', raw: `ses_${'0'.repeat(25)}%00` },
    { label: 'SQL', raw: encodeURIComponent("ses_' OR '1'='1") },
    { label: 'malformed percent-encoding', raw: '%E0%A4%A' },
  ];
  for (const r of ID_ROUTES) {
    for (const id of badIds) {
      it(`${r.label}: ${id.label}`, async () => {
        const res = await send(r.method, r.withId!(id.raw), { headers: goodAuth(r), ...(r.body ? { body: r.body() } : {}) });
        const p = expectProblem(res, [400, 404]);
        if (p.code === 'validation_failed') expect(p.errors.map((e: { field: string }) => e.field)).toContain('params.id');
      });
    }
  }

  it('GET /api/v1/sessions/{id}: well-formed but unknown → 404 not_found', async () => {
    expectProblem(await send('GET', `/api/v1/sessions/${UNKNOWN_SESSION}`, { headers: operator() }), 404, 'not_found');
  });
  it('DELETE /api/v1/keys/{id}: well-formed but unknown → 404 not_found', async () => {
    expectProblem(await send('DELETE', `/api/v1/keys/${UNKNOWN_KEY_ID}`, { headers: operator() }), 404, 'not_found');
  });
  it('heartbeat on a well-formed unknown session with a token for another → 403 wrong_session', async () => {
    expectProblem(await send('POST', `/api/v1/sessions/${UNKNOWN_SESSION}/heartbeat`, { headers: bearer(f.access), body: {} }), 403, 'wrong_session');
    expectProblem(await send('DELETE', `/api/v1/sessions/${UNKNOWN_SESSION}/heartbeat`, { headers: bearer(f.access) }), 403, 'wrong_session');
  });
});

// ---------------------------------------------------------------------------------------------------

describe('operator routes refuse missing, malformed, unknown and revoked keys with 401', () => {
  const credentials: Array<{ label: string; headers: () => Headers; code: string }> = [
    { label: 'no Authorization header', headers: () => ({}), code: 'missing_credentials' },
    { label: 'Basic scheme', headers: () => ({ authorization: `Basic ${Buffer.from(`admin:${ADMIN_KEY}`).toString('base64')}` }), code: 'missing_credentials' },
    { label: 'Token scheme', headers: () => ({ authorization: `Token ${ADMIN_KEY}` }), code: 'missing_credentials' },
    { label: 'key without a scheme', headers: () => ({ authorization: ADMIN_KEY }), code: 'missing_credentials' },
    { label: 'Bearer and nothing else', headers: () => ({ authorization: 'Bearer' }), code: 'missing_credentials' },
    { label: 'two keys in one header', headers: () => ({ authorization: `Bearer ${ADMIN_KEY} ${ADMIN_KEY}` }), code: 'missing_credentials' },
    { label: 'Bearer with a 5000-character key', headers: () => operator('k'.repeat(5000)), code: 'missing_credentials' },
    { label: 'unknown key', headers: () => operator('not-a-real-key'), code: 'invalid_api_key' },
    { label: 'admin key plus one character', headers: () => operator(`${ADMIN_KEY}x`), code: 'invalid_api_key' },
    { label: 'stored key id with a wrong secret', headers: () => operator(`spk_${f.keyId}.${'A'.repeat(43)}`), code: 'invalid_api_key' },
    { label: 'stored key with one character flipped', headers: () => operator(f.key.slice(0, -1) + (f.key.endsWith('A') ? 'B' : 'A')), code: 'invalid_api_key' },
    { label: 'revoked key', headers: () => operator(f.revokedKey), code: 'invalid_api_key' },
    { label: 'viewer access token', headers: () => operator(f.access), code: 'invalid_api_key' },
    { label: 'refresh token', headers: () => operator(f.refresh), code: 'invalid_api_key' },
  ];
  for (const r of OPERATOR_ROUTES) {
    describe(routeLabel(r), () => {
      for (const c of credentials) {
        it(`${c.label} → 401 ${c.code}`, async () => {
          const res = await send(r.method, r.url(), { headers: c.headers(), ...(r.body ? { body: r.body() } : {}) });
          expectProblem(res, 401, c.code);
          expect(String(res.headers['www-authenticate'])).toMatch(/^Bearer /);
        });
      }
    });
  }

  it('the stored key still works, so the refusals above were about the credentials', async () => {
    expect((await send('GET', '/api/v1/keys', { headers: operator(f.key) })).statusCode).toBe(200);
  });
});

// ---------------------------------------------------------------------------------------------------

const b64 = (o: object) => Buffer.from(JSON.stringify(o)).toString('base64url');
/** Replaces the character at `i` with a different one from the same alphabet. */
const flipAt = (str: string, i: number) => str.slice(0, i) + (str[i] === 'A' ? 'B' : 'A') + str.slice(i + 1);

describe('viewer tokens: tampered, foreign, expired, alg:none, key confusion', () => {
  const validate = async (token: string) => {
    const res = await send('POST', '/api/v1/auth/validate-token', { body: { token } });
    expect(res.statusCode, res.body).toBe(200);
    expect(String(res.headers['content-type'])).toMatch(/^application\/json/);
    return res.json() as { valid: boolean; reason?: string };
  };
  /** Both viewer routes refuse `token` with 401 token_<reason>. */
  const expectViewerRoutesRefuse = async (token: string, reason: string, sessionId = f.live) => {
    expectProblem(await send('POST', `/api/v1/sessions/${sessionId}/heartbeat`, { headers: bearer(token), body: {} }), 401, `token_${reason}`);
    expectProblem(await send('POST', `/api/v1/sessions/${sessionId}/heartbeat`, { headers: bearer(token) }), 401, `token_${reason}`);
    expectProblem(await send('DELETE', `/api/v1/sessions/${sessionId}/heartbeat`, { headers: bearer(token) }), 401, `token_${reason}`);
  };
  let claims: JWTPayload;
  let kid: string;
  const parts = () => f.access.split('.') as [string, string, string];
  beforeAll(() => {
    claims = decodeJwt(f.access);
    kid = decodeProtectedHeader(f.access).kid!;
  });

  it('the untouched token is valid (the baseline for what follows)', async () => {
    expect(await validate(f.access)).toMatchObject({ valid: true });
  });

  const cases: Array<{ label: string; token: () => Promise<string> | string; reasons: string[] }> = [
    { label: 'a signature character flipped', token: () => { const [h, p, sig] = parts(); return `${h}.${p}.${flipAt(sig, 10)}`; }, reasons: ['bad_signature'] },
    { label: 'the signature of another token', token: () => { const [h, p] = parts(); return `${h}.${p}.${f.foreignAccess.split('.')[2]}`; }, reasons: ['bad_signature'] },
    { label: 'the payload edited (sub: admin), signature kept', token: () => { const [h, , sig] = parts(); return `${h}.${b64({ ...claims, sub: 'admin' })}.${sig}`; }, reasons: ['bad_signature'] },
    { label: 'the payload moved to another session, signature kept', token: () => { const [h, , sig] = parts(); return `${h}.${b64({ ...claims, sid: f.other })}.${sig}`; }, reasons: ['bad_signature'] },
    { label: 'the signature removed', token: () => { const [h, p] = parts(); return `${h}.${p}.`; }, reasons: ['malformed', 'bad_signature'] },
    { label: 'alg:none (unsecured JWT)', token: () => new UnsecuredJWT(claims).encode(), reasons: ['malformed', 'unsupported_algorithm'] },
    { label: 'alg:none keeping our kid and typ', token: () => `${b64({ alg: 'none', kid, typ: 'at+jwt' })}.${parts()[1]}.`, reasons: ['malformed', 'unsupported_algorithm'] },
    { label: 'alg:NONE (case games)', token: () => `${b64({ alg: 'NONE', kid, typ: 'at+jwt' })}.${parts()[1]}.`, reasons: ['malformed', 'unsupported_algorithm'] },
    {
      label: 'HS256 signed with the JWKS public key (PEM) as HMAC secret',
      token: async () => new SignJWT(claims).setProtectedHeader({ alg: 'HS256', kid, typ: 'at+jwt' }).sign(new TextEncoder().encode(await publicKeyPem())),
      reasons: ['unsupported_algorithm', 'bad_signature'],
    },
    {
      label: 'HS256 signed with the JWKS entry (JSON) as HMAC secret',
      token: async () => new SignJWT(claims).setProtectedHeader({ alg: 'HS256', kid, typ: 'at+jwt' }).sign(new TextEncoder().encode(JSON.stringify(await publicJwk()))),
      reasons: ['unsupported_algorithm', 'bad_signature'],
    },
    {
      label: 'ES256 under our kid but signed by another key',
      token: () => new SignJWT(claims).setProtectedHeader({ alg: 'ES256', kid, typ: 'at+jwt' }).sign(generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey),
      reasons: ['bad_signature'],
    },
    {
      label: 'ES256 with an unknown kid',
      token: () => new SignJWT(claims).setProtectedHeader({ alg: 'ES256', kid: 'not-our-key', typ: 'at+jwt' }).sign(generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey),
      reasons: ['unknown_key'],
    },
    {
      label: 'ES256 carrying its own key in an embedded jwk header',
      token: () => {
        const attacker = generateKeyPairSync('ec', { namedCurve: 'P-256' });
        const jwk = attacker.publicKey.export({ format: 'jwk' });
        return new SignJWT(claims).setProtectedHeader({ alg: 'ES256', jwk: { kty: 'EC', crv: 'P-256', x: jwk.x!, y: jwk.y! }, typ: 'at+jwt' }).sign(attacker.privateKey);
      },
      reasons: ['unknown_key', 'malformed'],
    },
    { label: 'garbage in three parts', token: () => 'a.b.c', reasons: ['malformed'] },
    { label: 'empty parts', token: () => '..', reasons: ['malformed'] },
    { label: 'the refresh token', token: () => f.refresh, reasons: ['malformed'] },
    { label: 'an operator key', token: () => ADMIN_KEY, reasons: ['malformed'] },
    { label: 'a token revoked by its jti', token: () => f.revokedAccess, reasons: ['revoked'] },
  ];
  for (const c of cases) {
    it(`${c.label} → validate-token valid:false (${c.reasons.join(' | ')}), viewer routes 401`, async () => {
      const token = await c.token();
      const v = await validate(token);
      expect(v.valid, JSON.stringify(v)).toBe(false);
      expect(c.reasons).toContain(v.reason);
      await expectViewerRoutesRefuse(token, v.reason!);
    });
  }

  it('a token of an ended session → valid:false session_ended, heartbeat 401', async () => {
    expect(await validate(f.endedAccess)).toEqual({ valid: false, reason: 'session_ended' });
    await expectViewerRoutesRefuse(f.endedAccess, 'session_ended', f.ended);
  });

  it('a token for another session → 403 wrong_session', async () => {
    expect(await validate(f.foreignAccess)).toMatchObject({ valid: true });
    expectProblem(await send('POST', `/api/v1/sessions/${f.live}/heartbeat`, { headers: bearer(f.foreignAccess), body: {} }), 403, 'wrong_session');
    expectProblem(await send('DELETE', `/api/v1/sessions/${f.live}/heartbeat`, { headers: bearer(f.foreignAccess) }), 403, 'wrong_session');
  });

  it("a token without the 'view' scope → heartbeat 403 missing_scope", async () => {
    expectProblem(await send('POST', `/api/v1/sessions/${f.live}/heartbeat`, { headers: bearer(f.chatOnlyAccess), body: {} }), 403, 'missing_scope');
  });

  it('no token, another scheme, or an empty bearer → heartbeat 401 missing_credentials', async () => {
    const refused: Headers[] = [{}, { authorization: `Basic ${Buffer.from(`v:${f.access}`).toString('base64')}` }, { authorization: 'Bearer' }, { authorization: f.access }];
    for (const headers of refused) {
      expectProblem(await send('POST', `/api/v1/sessions/${f.live}/heartbeat`, { headers, body: {} }), 401, 'missing_credentials');
      expectProblem(await send('DELETE', `/api/v1/sessions/${f.live}/heartbeat`, { headers }), 401, 'missing_credentials');
    }
  });

  it('an access token in the refresh endpoint → 4xx, not a new pair', async () => {
    const res = await send('POST', '/api/v1/auth/refresh-token', { body: { refresh_token: f.access } });
    expectProblem(res, [400, 401]);
  });

  it('an expired token (ttl_seconds 10, clock +11 s) → valid:false expired, heartbeat 401 token_expired', async () => {
    expect(await validate(f.shortAccess)).toMatchObject({ valid: true });
    await clock.advance(11_000);
    expect(await validate(f.shortAccess)).toEqual({ valid: false, reason: 'expired' });
    await expectViewerRoutesRefuse(f.shortAccess, 'expired');
    // Tokens with their default lifetime are still good.
    expect(await validate(f.access)).toMatchObject({ valid: true });
  });

  async function publicJwk() {
    const jwks = (await send('GET', '/.well-known/jwks.json')).json() as { keys: Array<Record<string, string>> };
    const jwk = jwks.keys.find((k) => k.kid === kid);
    expect(jwk).toBeDefined();
    return jwk!;
  }
  async function publicKeyPem() {
    const { kty, crv, x, y } = await publicJwk();
    return createPublicKey({ key: { kty: kty!, crv: crv!, x: x!, y: y! }, format: 'jwk' }).export({ type: 'spki', format: 'pem' }).toString();
  }
});

// ---------------------------------------------------------------------------------------------------

describe('after all the bad requests', () => {
  it('nothing half-written: row counts equal what the good requests created', async () => {
    const tables = Object.keys(created) as Array<keyof typeof created>;
    const counts = Object.fromEntries(await Promise.all(tables.map(async (table) => [table, await count(table)] as const)));
    const { rows: extraSessions } = await t.backends.database.query<{ id: string; title: string | null; max_viewers: number | null; metadata: unknown }>(
      'SELECT id, title, max_viewers, metadata FROM sessions WHERE NOT (id = ANY($1::text[])) ORDER BY id',
      [[f.live, f.other, f.stopTarget, f.ended]],
    );
    // Both at once, so a failure shows every difference and the rows that should not exist.
    expect({ counts, extraSessions }).toEqual({ counts: created, extraSessions: [] });
  });

  it('the fixtures are as the good requests left them', async () => {
    const { rows: sessions } = await t.backends.database.query<{ id: string; status: string }>(
      'SELECT id, status FROM sessions WHERE id = ANY($1::text[])',
      [[f.live, f.other, f.stopTarget, f.ended]],
    );
    const status = Object.fromEntries(sessions.map((r) => [r.id, r.status]));
    expect(status).toEqual({ [f.live]: 'created', [f.other]: 'created', [f.stopTarget]: 'created', [f.ended]: 'ended' });

    const { rows: keys } = await t.backends.database.query<{ id: string; name: string; revoked: boolean }>('SELECT id, name, revoked_at IS NOT NULL AS revoked FROM api_keys ORDER BY name');
    expect(keys).toEqual([
      { id: f.keyId, name: 'bad-input test', revoked: false },
      { id: f.revokedKeyId, name: 'to be revoked', revoked: true },
    ]);

    const { rows: families } = await t.backends.database.query<{ n: number | string }>('SELECT count(*)::int AS n FROM token_families WHERE revoked_at IS NOT NULL');
    expect(Number(families[0]!.n), 'token families revoked by bad requests').toBe(0);
    const { rows: used } = await t.backends.database.query<{ n: number | string }>('SELECT count(*)::int AS n FROM refresh_tokens WHERE used_at IS NOT NULL');
    expect(Number(used[0]!.n), 'refresh tokens consumed by bad requests').toBe(0);
  });

  it('the app still serves good requests', async () => {
    expect((await send('GET', `/api/v1/sessions/${f.live}`, { headers: operator() })).statusCode).toBe(200);
    expect((await send('GET', '/health')).statusCode).toBe(200);
  });
});
