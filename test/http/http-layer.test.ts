import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestApp, operator, type TestApp } from '../helpers/app.js';
import { expectProblem, type Res } from '../helpers/problem.js';

/** The shared HTTP layer: unknown routes, request ids, OpenAPI, docs, metrics and health. */

let t: TestApp;
beforeAll(async () => {
  t = await createTestApp();
});
afterAll(async () => t?.close());

const get = (url: string, headers: Record<string, string> = {}) => t.app.inject({ method: 'GET', url, headers }) as unknown as Promise<Res>;


describe('unknown routes and methods', () => {
  it('an unknown route → 404 problem route_not_found, without the query string in instance', async () => {
    const res = await get('/api/v1/nope?token=secret');
    const p = expectProblem(res, 404, 'route_not_found');
    expect(p.type).toBe('https://streamplane.dev/problems/route_not_found');
    expect(p.instance).toBe('/api/v1/nope');
    expect(p.detail).toContain('/api/v1/nope');
    expect(res.body).not.toContain('secret');
  });

  it('unknown routes under every prefix are problems', async () => {
    for (const url of ['/', '/api', '/api/v1', '/api/v2/sessions', '/api/v1/sessions/start/extra', '/.well-known/nope', '/health/nope', '/metrics/x', '/openapi.yaml']) {
      expectProblem(await get(url), 404, 'route_not_found');
    }
  });

  it('a wrong method on a known path → 404 or 405 problem', async () => {
    const cases: Array<[string, string]> = [
      ['PUT', '/api/v1/sessions/start'],
      ['GET', '/api/v1/auth/validate-token'],
      ['GET', '/api/v1/auth/signing-keys/rotate'],
      ['PATCH', '/api/v1/sessions/stop'],
      ['DELETE', '/health'],
      ['POST', '/metrics'],
      ['POST', '/openapi.json'],
      ['PUT', '/api/v1/keys'],
      ['OPTIONS', '/api/v1/auth/validate-token'],
    ];
    for (const [method, url] of cases) {
      const res = (await t.app.inject({ method: method as 'GET', url, headers: operator() })) as unknown as Res;
      expectProblem(res, [404, 405]);
    }
  });
});

describe('request ids', () => {
  it('a well-formed x-request-id is echoed, and names the problem document', async () => {
    const id = 'req-0123:abc.DEF_9';
    const ok = await get('/health', { 'x-request-id': id });
    expect(ok.headers['x-request-id']).toBe(id);
    const problem = await get('/api/v1/nope', { 'x-request-id': id });
    expect(problem.headers['x-request-id']).toBe(id);
    expect(problem.json().request_id).toBe(id);
  });

  it('without one, each response gets a fresh id', async () => {
    const a = (await get('/health')).headers['x-request-id'];
    const b = (await get('/health')).headers['x-request-id'];
    expect(a).toMatch(/^[0-9a-f-]{36}$/);
    expect(b).toMatch(/^[0-9a-f-]{36}$/);
    expect(a).not.toBe(b);
  });

  it.each([
    ['markup', '<script>alert(1)</script>'],
    ['spaces', 'a b'],
    ['a path', '../../etc/passwd'],
    ['129 characters', 'a'.repeat(129)],
    ['empty', ''],
    ['JSON', '{"injected":true}'],
    ['log-line injection', 'x","level":"fatal'],
    ['non-ASCII', 'idé'],
  ])('a malicious x-request-id (%s) is replaced by a generated one', async (_label, given) => {
    const res = (await t.app.inject({ method: 'GET', url: '/api/v1/nope', headers: { 'x-request-id': given } })) as unknown as Res;
    const echoed = String(res.headers['x-request-id']);
    expect(echoed).not.toBe(given);
    expect(echoed).toMatch(/^[0-9a-f-]{36}$/);
    expect(res.json().request_id).toBe(echoed);
  });
});

describe('GET /openapi.json', () => {
  it('is OpenAPI 3.1.0 and lists every seed path', async () => {
    const res = await get('/openapi.json');
    expect(res.statusCode).toBe(200);
    expect(String(res.headers['content-type'])).toMatch(/^application\/json/);
    const doc = res.json();
    expect(doc.openapi).toBe('3.1.0');
    expect(doc.info).toMatchObject({ title: expect.any(String), version: t.config.version });
    const paths = Object.keys(doc.paths);
    for (const p of ['/api/v1/sessions/start', '/api/v1/sessions/stop', '/api/v1/sessions/{id}', '/api/v1/auth/validate-token', '/api/v1/auth/refresh-token', '/health']) {
      expect(paths).toContain(p);
    }
    expect(Object.keys(doc.paths['/api/v1/sessions/start'])).toContain('post');
    expect(Object.keys(doc.paths['/api/v1/sessions/{id}'])).toContain('get');
    // Fastify's `:id` syntax must not leak into the document.
    expect(paths.filter((p) => p.includes(':'))).toEqual([]);
  });

  it('documents the operator key and the problem document', async () => {
    const doc = (await get('/openapi.json')).json();
    expect(doc.components.securitySchemes.operatorKey).toMatchObject({ type: 'http', scheme: 'bearer' });
    expect(doc.paths['/api/v1/sessions/start'].post.security).toEqual([{ operatorKey: [] }]);
    const responses = doc.paths['/api/v1/sessions/start'].post.responses;
    expect(Object.keys(responses)).toEqual(expect.arrayContaining(['201', '400', '401']));
  });
});

describe('GET /docs', () => {
  it('answers 200 HTML (following a redirect if any)', async () => {
    let res = await get('/docs');
    for (let hops = 0; res.statusCode >= 300 && res.statusCode < 400 && hops < 5; hops++) {
      const location = String(res.headers.location);
      res = await get(new URL(location, 'http://localhost/docs/').pathname);
    }
    expect(res.statusCode).toBe(200);
    expect(String(res.headers['content-type'])).toMatch(/^text\/html/);
    expect(res.body.toLowerCase()).toContain('<html');
  });
});

describe('GET /metrics', () => {
  beforeAll(async () => {
    // Give the labelled series something to count.
    const s = (await t.app.inject({ method: 'POST', url: '/api/v1/sessions/start', headers: operator(), payload: {} })).json();
    const pair = (await t.app.inject({ method: 'POST', url: '/api/v1/auth/tokens', headers: operator(), payload: { session_id: s.id, viewer_id: 'm', scopes: ['view'] } })).json();
    await t.app.inject({ method: 'POST', url: '/api/v1/auth/validate-token', payload: { token: pair.access_token } });
    await t.app.inject({ method: 'POST', url: '/api/v1/auth/validate-token', payload: { token: 'a.b.c' } });
    await t.app.inject({ method: 'POST', url: `/api/v1/sessions/${s.id}/heartbeat`, headers: { authorization: `Bearer ${pair.access_token}` } });
  });

  it('is Prometheus text with HTTP, process, session, token and viewer metrics', async () => {
    const res = await get('/metrics');
    expect(res.statusCode).toBe(200);
    expect(String(res.headers['content-type'])).toMatch(/^text\/plain; version=0\.0\.4/);
    const text = res.body;
    const typeOf = (name: string) => new RegExp(`^# TYPE ${name} (\\w+)$`, 'm').exec(text)?.[1];
    expect(typeOf('streamplane_http_requests_total')).toBe('counter');
    expect(typeOf('streamplane_http_request_duration_seconds')).toBe('histogram');
    expect(typeOf('streamplane_sessions_created_total')).toBe('counter');
    expect(typeOf('streamplane_sessions_active')).toBe('gauge');
    expect(typeOf('streamplane_token_validations_total')).toBe('counter');
    expect(typeOf('streamplane_concurrent_viewers')).toBe('gauge');
    expect(text).toMatch(/^streamplane_process_cpu_seconds_total \d/m);
    expect(text).toMatch(/^streamplane_process_resident_memory_bytes \d/m);
    expect(text).toMatch(/^streamplane_nodejs_heap_size_used_bytes \d/m);

    expect(text).toMatch(/^streamplane_http_requests_total\{method="POST",route="\/api\/v1\/sessions\/start",status="201"\} [1-9]/m);
    expect(text).toMatch(/^streamplane_http_request_duration_seconds_bucket\{le="\+Inf",method="POST",route="\/api\/v1\/sessions\/start"\} [1-9]/m);
    expect(text).toMatch(/^streamplane_sessions_created_total [1-9]/m);
    expect(text).toMatch(/^streamplane_sessions_active\{status="created"\} [1-9]/m);
    expect(text).toMatch(/^streamplane_token_validations_total\{outcome="valid"\} [1-9]/m);
    expect(text).toMatch(/^streamplane_token_validations_total\{outcome="malformed"\} [1-9]/m);
    expect(text).toMatch(/^streamplane_concurrent_viewers [1-9]/m);
  });

  it('labels routes by pattern, not by id, and unmatched requests as one route', async () => {
    await get(`/api/v1/sessions/ses_${'0'.repeat(26)}`, operator());
    await get('/no/such/route/12345');
    const text = (await get('/metrics')).body;
    expect(text).toContain('route="/api/v1/sessions/:id"');
    expect(text).not.toMatch(/route="[^"]*ses_0{26}/);
    expect(text).not.toContain('12345');
  });
});

describe('health', () => {
  it('GET /health → 200 with status, version and database/cache/queue checks', async () => {
    const res = await get('/health');
    expect(res.statusCode).toBe(200);
    const h = res.json();
    expect(h).toMatchObject({ status: 'ok', version: t.config.version, services: expect.arrayContaining(['session']) });
    for (const check of ['database', 'cache', 'queue']) {
      expect(h.checks[check]).toMatchObject({ status: 'up', kind: expect.any(String), latency_ms: expect.any(Number) });
    }
    expect(h.checks.database.kind).toBe(t.backends.database.kind);
    expect(h.checks.cache.kind).toBe(t.backends.cacheKind);
  });

  it('GET /health/ready → 200', async () => {
    const res = await get('/health/ready');
    expect(res.statusCode).toBe(200);
    expect(res.json().status).toBe('ok');
  });
});
