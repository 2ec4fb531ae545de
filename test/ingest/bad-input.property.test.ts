import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestApp, operator, type TestApp } from '../helpers/app.js';
import { assertNoServerErrors, type Route } from '../helpers/bad-input.js';
import { hookPath, newSession, registerNode, startIngest } from './support.js';

/**
 * Generated garbage thrown at every route of the ingest service (operator API and media-server
 * callbacks): never a 5xx, never a crash, and the ingest it aims at is left in a possible state.
 */
let t: TestApp;
const fx = { node: '', ingest: '', key: '', hooks: {} as Record<string, Record<string, string>> };
beforeAll(async () => {
  t = await createTestApp();
  for (const kind of ['nginx-rtmp', 'srs', 'ome', 'mediamtx']) {
    const n = await registerNode(t.app, { name: `prop-${kind}`, kind, machine: kind });
    fx.hooks[kind] = n.hooks;
    if (kind === 'nginx-rtmp') fx.node = n.id;
  }
  const ing = await startIngest(t.app, { session_id: await newSession(t.app) });
  fx.ingest = ing.id;
  fx.key = ing.stream_key;
});
afterAll(async () => t?.close());

const op = (label: string, method: Route['method'], url: (id: string) => string, keys: string[], goodIds: () => string[], runs = 150): Route => ({ label, method, url, keys, goodIds, auth: 'operator', runs });
const ROUTES: Route[] = [
  op('POST /api/v1/ingest/nodes', 'POST', () => '/api/v1/ingest/nodes', ['name', 'kind', 'region', 'ingest_url', 'stats_url', 'control_url', 'capacity', 'machine', 'limits'], () => []),
  op('GET /api/v1/ingest/nodes', 'GET', () => '/api/v1/ingest/nodes', [], () => [], 60),
  op('GET /api/v1/ingest/nodes/{id}', 'GET', (id) => `/api/v1/ingest/nodes/${id}`, [], () => [fx.node]),
  op('POST /api/v1/ingest/nodes/{id}/drain', 'POST', (id) => `/api/v1/ingest/nodes/${id}/drain`, [], () => ['nd_00000000000000000000000000']),
  op('POST /api/v1/ingest/nodes/{id}/rotate-secret', 'POST', (id) => `/api/v1/ingest/nodes/${id}/rotate-secret`, [], () => ['nd_00000000000000000000000000']),
  op('DELETE /api/v1/ingest/nodes/{id}', 'DELETE', (id) => `/api/v1/ingest/nodes/${id}`, [], () => [fx.node]),
  op('GET /api/v1/ingest/nodes/{id}/config/nginx', 'GET', (id) => `/api/v1/ingest/nodes/${id}/config/nginx`, ['update_interval_seconds'], () => [fx.node]),
  op('POST /api/v1/ingest/start', 'POST', () => '/api/v1/ingest/start', ['session_id', 'protocol', 'region', 'redundant', 'quality_profile', 'reconnect_window_seconds'], () => []),
  op('POST /api/v1/ingest/stop', 'POST', () => '/api/v1/ingest/stop', ['ingest_id', 'session_id', 'reason'], () => []),
  op('GET /api/v1/ingest/{id}/status', 'GET', (id) => `/api/v1/ingest/${id}/status`, [], () => [fx.ingest]),
  op('POST /api/v1/ingest/{id}/failover', 'POST', (id) => `/api/v1/ingest/${id}/failover`, [], () => [fx.ingest]),
  op('GET /api/v1/ingest/{id}/metrics', 'GET', (id) => `/api/v1/ingest/${id}/metrics`, ['side'], () => [fx.ingest]),
  op('POST /api/v1/ingest/{id}/stream-key/rotate', 'POST', (id) => `/api/v1/ingest/${id}/stream-key/rotate`, ['overlap_seconds'], () => ['ing_00000000000000000000000000']),
  op('POST /api/v1/ingest/{id}/stream-key/revoke', 'POST', (id) => `/api/v1/ingest/${id}/stream-key/revoke`, [], () => ['ing_00000000000000000000000000']),
];

describe('ingest operator API: generated bad input never yields a 5xx, every 4xx is a problem document', () => {
  for (const route of ROUTES) it(route.label, async () => assertNoServerErrors(t, route));
});

/** Form and JSON bodies in the shape media servers send, with fields dropped, repeated, mistyped or huge. */
const field = fc.constantFrom('app', 'name', 'call', 'addr', 'clientid', 'time', 'type', 'action', 'stream', 'param', 'client_id', 'request', 'client', 'path', 'user', 'password', 'token', 'query', 'id');
const value = fc.oneof(
  fc.string({ maxLength: 40 }),
  fc.constantFrom('publish', 'update_publish', 'publish_done', 'play', 'done', 'on_publish', 'on_unpublish', 'incoming', 'opening', 'closing', 'read', 'live', ''),
  fc.constant('KEY'),
  fc.integer({ min: 100, max: 40_000 }).map((n) => 'x'.repeat(n)),
);
const formBody = fc.array(fc.tuple(field, value), { maxLength: 14 }).map((pairs) => pairs.map(([k, v]) => `${encodeURIComponent(k)}=${encodeURIComponent(v)}`).join('&'));
const jsonBody = fc.oneof(
  fc.dictionary(field, fc.oneof(value, fc.anything({ maxDepth: 2 })), { maxKeys: 10 }).map((d) => JSON.stringify(d)),
  fc.record({ client: fc.anything({ maxDepth: 1 }), request: fc.record({ direction: fc.constantFrom('incoming', 'outgoing', 'sideways'), status: fc.constantFrom('opening', 'closing', 7), url: fc.oneof(fc.webUrl(), fc.string()), protocol: fc.string() }) }).map((d) => JSON.stringify(d)),
  fc.string({ unit: 'binary', maxLength: 200 }),
);

describe('media-server callbacks: generated bad input never yields a 5xx and never corrupts the ingest', () => {
  for (const kind of ['nginx-rtmp', 'srs', 'ome', 'mediamtx']) {
    it(kind, async () => {
      const hooks = fx.hooks[kind]!;
      await fc.assert(
        fc.asyncProperty(
          fc.constantFrom(...Object.keys(hooks)),
          fc.oneof(formBody, jsonBody),
          fc.constantFrom('application/x-www-form-urlencoded', 'application/json', 'text/plain', undefined),
          fc.constantFrom('POST', 'GET'),
          fc.boolean(),
          async (hook, body, ct, method, withKey) => {
            const payload = withKey ? body.replaceAll('KEY', fx.key) : body;
            const res = await t.app.inject({ method, url: hookPath(hooks[hook]!) + (method === 'GET' ? `?${payload.slice(0, 2_000)}` : ''), headers: ct ? { 'content-type': ct } : {}, ...(method === 'POST' ? { payload } : {}) });
            const context = `${kind} ${hook} ${method} ct=${ct} body=${JSON.stringify(payload.slice(0, 200))} → ${res.statusCode} ${res.body.slice(0, 200)}`;
            expect(res.statusCode, context).toBeLessThan(500);
            // Framework refusals are problem documents; a 403 deny is the server's own dialect.
            if ([400, 401, 404, 413, 415].includes(res.statusCode)) expect(String(res.headers['content-type']), context).toMatch(/^application\/problem\+json/);
          },
        ),
        { numRuns: 250 },
      );
      const status = await t.app.inject({ method: 'GET', url: `/api/v1/ingest/${fx.ingest}/status`, headers: operator() });
      expect(status.statusCode).toBe(200);
      expect(['idle', 'live', 'reconnecting', 'ended']).toContain(status.json().status);
    });
  }
});
