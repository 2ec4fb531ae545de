import type { IncomingMessage, ServerResponse } from 'node:http';
import { request as httpRequest, type Server } from 'node:http';
import type { Readable } from 'node:stream';
import pino from 'pino';
import { afterAll, beforeAll, beforeEach, expect, it } from 'vitest';
import { MemoryRateLimitStore } from '../../src/backends/memory/memory-rate-limit-store.js';
import { SystemClock } from '../../src/backends/system-clock.js';
import { FastPath } from '../../src/http/fast-path.js';

/**
 * The fast path's decisions, with a recording stand-in for Fastify's handler (the one seam FastPath
 * has): which requests it answers itself, which it hands over, whether it counted them, and that a
 * handed-over body is replayed byte for byte. The whole route over a real app is in fast-path.test.ts.
 */

const store = new MemoryRateLimitStore(new SystemClock());
const recorded: Array<{ status: number }> = [];
const errors: string[] = [];
let handedOver: Array<{ url: string; counted: boolean; replayed: string }> = [];
let fp: FastPath;
let server: Server;
let port: number;

/** Stands in for Fastify: reads the replayed body as the route's preParsing hook would hand it over. */
function fallback(req: IncomingMessage, res: ServerResponse) {
  const counted = fp.counted(req);
  // Called as Fastify calls a preParsing hook: (request, reply, payload, done).
  const replay = fp.replayBody as unknown as (request: { raw: IncomingMessage }, reply: null, payload: Readable, done: (err: Error | null, payload: Readable) => void) => void;
  replay({ raw: req }, null, req, (_err, stream) => {
    const chunks: Buffer[] = [];
    stream.on('data', (c: Buffer | string) => chunks.push(Buffer.from(c)));
    stream.on('end', () => {
      handedOver.push({ url: req.url ?? '', counted, replayed: Buffer.concat(chunks).toString('utf8') });
      res.writeHead(299).end();
    });
  });
}

function post(body: string, opts: { headers?: Record<string, string>; method?: string; path?: string; chunked?: boolean } = {}): Promise<{ status: number; text: string; headers: Record<string, unknown> }> {
  return new Promise((resolve, reject) => {
    const headers: Record<string, string> = { 'content-type': 'application/json', ...opts.headers };
    // Node would add a content-length for a body given whole to end(): say chunked outright.
    headers[opts.chunked ? 'transfer-encoding' : 'content-length'] = opts.chunked ? 'chunked' : String(Buffer.byteLength(body));
    const req = httpRequest({ host: '127.0.0.1', port, method: opts.method ?? 'POST', path: opts.path ?? '/fast', headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString('utf8'), headers: res.headers }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

beforeAll(async () => {
  fp = new FastPath({ rateLimits: store, trustProxy: false, corsEnabled: false });
  const log = pino({ level: 'error' }, { write: (l: string) => void errors.push(l) });
  fp.observe({ log, route: () => (status) => void recorded.push({ status }) });
  fp.add({
    url: '/fast',
    service: 'test',
    maxBodyBytes: 64,
    rateLimit: { max: 8, windowMs: 60_000 },
    quiet: true,
    answer: (b) => {
      const body = b as { ok?: boolean; later?: boolean; boom?: boolean } | null;
      if (body?.boom) throw new Error('boom');
      if (body?.later) return Promise.resolve('{"later":true}');
      return body?.ok === true ? '{"fast":true}' : null;
    },
  });
  fp.add({
    url: '/accepted',
    service: 'test',
    maxBodyBytes: 1_024,
    quiet: false,
    answer: (b, req) => ({ status: 202, json: JSON.stringify({ got: b, auth: req.headers.authorization ?? null }) }),
  });
  fp.add({
    url: '/raw',
    service: 'test',
    maxBodyBytes: 1_024,
    quiet: true,
    // Reads only the body `x`, as a marker JSON.parse could not produce; anything else is JSON.parse's.
    parse: (b) => (b.toString() === 'x' ? { read: 'raw' } : undefined),
    answer: (b) => JSON.stringify({ got: b }),
  });
  server = fp.server(fallback, { keepAliveTimeout: 5_000 });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  port = (server.address() as { port: number }).port;
});
afterAll(async () => {
  server.closeAllConnections();
  await new Promise((r) => server.close(r));
});
beforeEach(() => {
  handedOver = [];
  recorded.length = 0;
});

it('answers a plainly right request itself, synchronously or not, and records it', async () => {
  const a = await post('{"ok":true}');
  expect(a).toMatchObject({ status: 200, text: '{"fast":true}' });
  expect(a.headers['x-ratelimit-limit']).toBe('8');
  expect(a.headers['x-request-id']).toMatch(/^[0-9a-f-]{36}$/);
  expect((await post('{"later":true}')).text).toBe('{"later":true}');
  expect(handedOver).toEqual([]);
  expect(recorded).toEqual([{ status: 200 }, { status: 200 }]);
});

it('answers with the route\'s status, and without rate-limit headers when the route has no limit', async () => {
  const a = await post('{"n":1}', { path: '/accepted', headers: { authorization: 'Bearer x' } });
  expect(a.status).toBe(202);
  expect(JSON.parse(a.text)).toEqual({ got: { n: 1 }, auth: 'Bearer x' });
  expect(a.headers['x-ratelimit-limit']).toBeUndefined();
  expect(recorded).toEqual([{ status: 202 }]);
  // Keys that could poison a prototype are Fastify's parser's to refuse.
  for (const body of ['{"__proto__":{"x":1}}', '{"constructor":{"prototype":{}}}']) expect((await post(body, { path: '/accepted' })).status).toBe(299);
  expect(handedOver.map((h) => [h.replayed, h.counted])).toEqual([
    ['{"__proto__":{"x":1}}', false],
    ['{"constructor":{"prototype":{}}}', false],
  ]);
});

it('reads a body with the route\'s own parser when it recognises it, else with JSON.parse', async () => {
  expect(JSON.parse((await post('x', { path: '/raw' })).text)).toEqual({ got: { read: 'raw' } });
  expect(JSON.parse((await post('{"n":2}', { path: '/raw' })).text)).toEqual({ got: { n: 2 } });
  expect((await post('y', { path: '/raw' })).status).toBe(299);
  expect(handedOver.map((h) => h.replayed)).toEqual(['y']);
});

it('hands over what it read, counted, when the body is not JSON or not its shape, or the answer throws', async () => {
  for (const body of ['{"ok":', '{"ok":false}', '[1,2]', '{"boom":true}']) expect((await post(body, { headers: { 'x-forwarded-for': '198.51.100.1' } })).status).toBe(299);
  expect(handedOver.map((h) => [h.replayed, h.counted])).toEqual([
    ['{"ok":', true],
    ['{"ok":false}', true],
    ['[1,2]', true],
    ['{"boom":true}', true],
  ]);
  expect(errors.some((l) => l.includes('fast path failed'))).toBe(true);
  expect(recorded).toEqual([]);
});

it('hands over untouched and uncounted what it does not read: other methods and URLs, chunked, too large, not JSON', async () => {
  const cases = [
    () => post('{"ok":true}', { method: 'PUT' }),
    () => post('{"ok":true}', { path: '/fast?x=1' }),
    () => post('{"ok":true}', { path: '/other' }),
    () => post('{"ok":true}', { chunked: true }),
    () => post(`{"ok":true,"pad":"${'x'.repeat(64)}"}`),
    () => post('{"ok":true}', { headers: { 'content-type': 'text/plain' } }),
    () => post('{"ok":true}', { headers: { 'content-type': 'application/json-seq' } }),
    () => post('{"ok":true}', { headers: { 'content-encoding': 'gzip' } }),
  ];
  for (const [i, c] of cases.entries()) expect((await c()).status, `case ${i}`).toBe(299);
  expect(handedOver).toHaveLength(cases.length);
  expect(handedOver.every((h) => !h.counted)).toBe(true);
  // The body reached the stand-in through the original request stream.
  expect(handedOver[0]!.replayed).toBe('{"ok":true}');
});

it('over the limit, hands over uncounted so that the route refuses it; after close, hands everything over', async () => {
  // The tests above spent 6 of this client's 8 (the unread requests of the third were not counted).
  const statuses: number[] = [];
  for (let i = 0; i < 4; i++) statuses.push((await post('{"ok":true}')).status);
  expect(statuses).toEqual([200, 200, 299, 299]);
  expect(handedOver.map((h) => h.counted)).toEqual([false, false]);
  fp.close();
  handedOver = [];
  expect((await post('{"ok":true}')).status).toBe(299);
  expect(handedOver).toHaveLength(1);
});
