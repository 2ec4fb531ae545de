import { request as httpRequest } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestApp, operator, type TestApp } from '../helpers/app.js';

/**
 * validate-token is answered before Fastify when a request is plainly right (src/http/fast-path.ts).
 * `inject` never reaches the HTTP server, so these tests speak real HTTP to a listening app and compare
 * its answers with the Fastify route's (through inject) for the same input.
 */

const URL_PATH = '/api/v1/auth/validate-token';

interface Answer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  text: string;
}

/** One raw HTTP/1.1 request: exact control of the headers (no content-length makes it chunked). */
function send(port: number, opts: { body?: string | Buffer; headers?: Record<string, string>; method?: string; path?: string; chunked?: boolean }): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const body = opts.body ?? '';
    const headers: Record<string, string> = { 'content-type': 'application/json', ...opts.headers };
    // Node would add a content-length for a body given whole to end(): say chunked outright.
    headers[opts.chunked ? 'transfer-encoding' : 'content-length'] = opts.chunked ? 'chunked' : String(Buffer.byteLength(body));
    const req = httpRequest({ host: '127.0.0.1', port, method: opts.method ?? 'POST', path: opts.path ?? URL_PATH, headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, text: Buffer.concat(chunks).toString('utf8') }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

async function listen(t: TestApp): Promise<number> {
  await t.app.listen({ host: '127.0.0.1', port: 0 });
  const addr = t.app.server.address();
  if (!addr || typeof addr === 'string') throw new Error('no port');
  return addr.port;
}

async function mint(t: TestApp, viewer: string): Promise<{ session: string; token: string }> {
  const s = await t.app.inject({ method: 'POST', url: '/api/v1/sessions/start', headers: operator(), payload: {} });
  const session = s.json().id as string;
  const pair = await t.app.inject({ method: 'POST', url: '/api/v1/auth/tokens', headers: operator(), payload: { session_id: session, viewer_id: viewer, scopes: ['view'] } });
  return { session, token: pair.json().access_token as string };
}

describe('validate-token fast path', () => {
  let t: TestApp;
  let port: number;
  const lines: string[] = [];
  beforeAll(async () => {
    t = await createTestApp({ env: { STREAMPLANE_VALIDATE_RATE_LIMIT_PER_MINUTE: '1000', STREAMPLANE_BODY_LIMIT_BYTES: '2048' }, logStream: { write: (l) => void lines.push(l) } });
    port = await listen(t);
  });
  afterAll(async () => t?.close());

  it('answers valid, malformed and revoked tokens exactly as the Fastify route does, with its headers', async () => {
    const { session, token } = await mint(t, 'fast-1');
    for (const tok of [token, 'not-a-jwt', `${token.slice(0, -4)}AAAA`]) {
      const body = JSON.stringify({ token: tok });
      const fast = await send(port, { body, headers: { 'x-request-id': 'trace-123' } });
      const slow = await t.app.inject({ method: 'POST', url: URL_PATH, headers: { 'content-type': 'application/json' }, payload: body });
      expect(fast.status).toBe(200);
      expect(fast.text).toBe(slow.body);
      expect(fast.headers['content-type']).toBe(slow.headers['content-type']);
      expect(fast.headers['x-request-id']).toBe('trace-123');
      expect(fast.headers['x-ratelimit-limit']).toBe('1000');
      expect(Number(fast.headers['x-ratelimit-remaining'])).toBeLessThan(1000);
    }
    expect(JSON.parse((await send(port, { body: JSON.stringify({ token }) })).text).valid).toBe(true);
    await t.app.inject({ method: 'POST', url: '/api/v1/auth/revoke', headers: operator(), payload: { session_id: session, viewer_id: 'fast-1' } });
    // Revocation is in memory on this instance at once; the cached answer text must not outlive it.
    expect(JSON.parse((await send(port, { body: JSON.stringify({ token }) })).text)).toEqual({ valid: false, reason: 'revoked' });
  });

  it('hands everything that is not plainly right to the route, which answers with problem documents', async () => {
    const { token } = await mint(t, 'fast-2');
    const cases: Array<{ name: string; req: Parameters<typeof send>[1]; status: number; code?: string }> = [
      { name: 'malformed JSON', req: { body: '{"token":' }, status: 400, code: 'malformed_body' },
      { name: 'extra field', req: { body: JSON.stringify({ token, extra: 1 }) }, status: 400, code: 'validation_failed' },
      { name: 'no token', req: { body: '{}' }, status: 400, code: 'validation_failed' },
      { name: 'empty token', req: { body: '{"token":""}' }, status: 400, code: 'validation_failed' },
      { name: 'number token', req: { body: '{"token":42}' }, status: 400 },
      { name: 'array body', req: { body: JSON.stringify([token]) }, status: 400 },
      { name: 'null body', req: { body: 'null' }, status: 400 },
      { name: 'prototype poisoning', req: { body: `{"token":"x","__proto__":{"admin":true}}` }, status: 400 },
      { name: 'body over the limit', req: { body: JSON.stringify({ token: 'a'.repeat(3000) }) }, status: 413 },
      { name: 'text/plain', req: { body: JSON.stringify({ token }), headers: { 'content-type': 'text/plain' } }, status: 415 },
      { name: 'no content type', req: { body: JSON.stringify({ token }), headers: { 'content-type': '' } }, status: 415 },
    ];
    for (const c of cases) {
      const a = await send(port, c.req);
      expect(a.status, c.name).toBe(c.status);
      expect(a.headers['content-type'], c.name).toContain('application/problem+json');
      if (c.code) expect(JSON.parse(a.text).code, c.name).toBe(c.code);
      expect(a.headers['x-request-id'], c.name).toBeTruthy();
    }
    // A chunked body (no content-length) and a query string are the route's too, and still answered.
    expect(JSON.parse((await send(port, { body: JSON.stringify({ token }), chunked: true })).text).valid).toBe(true);
    expect(JSON.parse((await send(port, { body: JSON.stringify({ token }), path: `${URL_PATH}?x=1` })).text).valid).toBe(true);
    // Fastify does not decode bodies: a declared encoding is the route's call (it reads the bytes as sent).
    expect((await send(port, { body: JSON.stringify({ token }), headers: { 'content-encoding': 'gzip' } })).status).toBe(200);
    // The charset parameter is plainly JSON.
    expect(JSON.parse((await send(port, { body: JSON.stringify({ token }), headers: { 'content-type': 'application/json; charset=UTF-8' } })).text).valid).toBe(true);
  });

  it('counts its requests in the HTTP metrics and logs them at debug without the token', async () => {
    const { token } = await mint(t, 'fast-3');
    const series = async () => {
      const m = (await t.app.inject({ method: 'GET', url: '/metrics' })).body;
      const line = m.split('\n').find((l) => l.startsWith('streamplane_http_requests_total{method="POST",route="/api/v1/auth/validate-token",status="200"}'));
      return Number(line?.split(' ')[1] ?? 0);
    };
    const before = await series();
    for (let i = 0; i < 3; i++) await send(port, { body: JSON.stringify({ token }), headers: { 'x-request-id': `count-${i}` } });
    expect(await series()).toBe(before + 3);
    const logged = lines.filter((l) => l.includes('"request_id":"count-'));
    expect(logged).toHaveLength(3);
    expect(JSON.parse(logged[0]!)).toMatchObject({ level: 'debug', service: 'session', url: URL_PATH, status: 200, message: 'request completed' });
    expect(lines.join('\n')).not.toContain(token);
  });
});

describe('validate-token fast path: rate limit, proxies and CORS', () => {
  let t: TestApp;
  let port: number;
  beforeAll(async () => {
    t = await createTestApp({ env: { STREAMPLANE_VALIDATE_RATE_LIMIT_PER_MINUTE: '5', STREAMPLANE_TRUST_PROXY: 'true', STREAMPLANE_CORS_ORIGINS: 'https://player.example' } });
    port = await listen(t);
  });
  afterAll(async () => t?.close());

  it('shares one per-client counter with the route: each request counted once, then a 429 problem', async () => {
    const { token } = await mint(t, 'limit-1');
    const from = { 'x-forwarded-for': '203.0.113.9' };
    const remaining: string[] = [];
    for (let i = 0; i < 3; i++) remaining.push(String((await send(port, { body: JSON.stringify({ token }), headers: from })).headers['x-ratelimit-remaining']));
    expect(remaining).toEqual(['4', '3', '2']);
    // Handed over after the fast path counted it: the route must not count it a second time.
    expect((await send(port, { body: '{"token":', headers: from })).status).toBe(400);
    expect((await send(port, { body: JSON.stringify({ token }), headers: from })).headers['x-ratelimit-remaining']).toBe('0');
    const limited = await send(port, { body: JSON.stringify({ token }), headers: from });
    expect(limited.status).toBe(429);
    expect(JSON.parse(limited.text).code).toBe('rate_limited');
    expect(limited.headers['retry-after']).toBeDefined();
    // Behind a trusted proxy the client is the forwarded address: another one has its own counter,
    // and so does the route's Fastify twin for it (through inject, the same key).
    expect((await send(port, { body: JSON.stringify({ token }), headers: { 'x-forwarded-for': '203.0.113.10' } })).headers['x-ratelimit-remaining']).toBe('4');
    const viaRoute = await t.app.inject({ method: 'POST', url: URL_PATH, payload: { token }, headers: { 'x-forwarded-for': '203.0.113.10' } });
    expect(viaRoute.headers['x-ratelimit-remaining']).toBe('3');
  });

  it('leaves cross-origin requests to the route, which adds the CORS headers', async () => {
    const { token } = await mint(t, 'cors-1');
    const a = await send(port, { body: JSON.stringify({ token }), headers: { origin: 'https://player.example', 'x-forwarded-for': '203.0.113.20' } });
    expect(a.status).toBe(200);
    expect(a.headers['access-control-allow-origin']).toBe('https://player.example');
    expect(JSON.parse(a.text).valid).toBe(true);
  });
});
