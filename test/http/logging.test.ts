import { decodeJwt } from 'jose';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { ADMIN_KEY, createTestApp, operator, type TestApp } from '../helpers/app.js';
import { ManualClock } from '../helpers/manual-clock.js';

/** The real logger of the real app, writing into memory: every line the app writes lands in `captured.lines`. */
const captured = {
  lines: [] as string[],
  stream: { write: (chunk: string) => void captured.lines.push(...chunk.split('\n').filter((l) => l.length > 0)) },
};

let t: TestApp;
beforeAll(async () => {
  t = await createTestApp({ logStream: captured.stream });
});
// The test closes the database itself (to force 5xx lines), so the second close may complain.
afterAll(async () => t?.close().catch(() => {}));

type Line = Record<string, unknown>;
const parsed = (): Line[] => captured.lines.map((l) => JSON.parse(l) as Line);

let seq = 0;
/** Every request carries its own x-request-id, so its lines can be found. */
async function send(method: 'GET' | 'POST' | 'DELETE', url: string, opts: { headers?: Record<string, string>; body?: string | object } = {}) {
  const requestId = `log-test-${++seq}`;
  const res = await t.app.inject({ method, url, headers: { 'x-request-id': requestId, ...opts.headers }, payload: opts.body as string | object | undefined });
  return { res, requestId };
}

describe('log lines of the real app', () => {
  const secrets: Record<string, string> = {};
  const requestIds: string[] = [];
  const failedRequestIds: string[] = [];

  beforeAll(async () => {
    const sent = async (...args: Parameters<typeof send>) => {
      const r = await send(...args);
      requestIds.push(r.requestId);
      return r.res;
    };
    const JSON_CT = { 'content-type': 'application/json' };

    // Operator key: on successful and failing requests, and on one that ends in a 500.
    secrets.adminKey = ADMIN_KEY;
    const session = (await sent('POST', '/api/v1/sessions/start', { headers: operator(), body: { title: 'logging' } })).json();
    await sent('POST', '/api/v1/sessions/stop', { headers: operator(), body: { session_id: 'nope' } });
    await sent('POST', '/api/v1/sessions/start', { headers: { ...operator(), ...JSON_CT }, body: '{"title":' });
    await sent('GET', '/api/v1/sessions', { headers: { authorization: `bearer ${ADMIN_KEY}` } });

    // A stored key, used, revoked and used again.
    const key = (await sent('POST', '/api/v1/keys', { headers: operator(), body: { name: 'logged' } })).json();
    secrets.storedKey = key.key;
    secrets.storedKeySecret = key.key.split('.')[1];
    await sent('GET', '/api/v1/keys', { headers: operator(key.key) });
    await sent('DELETE', `/api/v1/keys/${key.id}`, { headers: operator() });
    await sent('GET', '/api/v1/keys', { headers: operator(key.key) });

    // Viewer tokens.
    const pair = (await sent('POST', '/api/v1/auth/tokens', { headers: operator(), body: { session_id: session.id, viewer_id: 'logged-viewer', scopes: ['view'] } })).json();
    const other = (await sent('POST', '/api/v1/auth/tokens', { headers: operator(), body: { session_id: session.id, viewer_id: 'logged-viewer-2', scopes: ['view'] } })).json();
    secrets.accessToken = pair.access_token;
    secrets.accessTokenSignature = pair.access_token.split('.')[2];
    secrets.refreshToken = pair.refresh_token;
    secrets.otherAccessToken = other.access_token;
    secrets.otherRefreshToken = other.refresh_token;
    expect(decodeJwt(pair.access_token).sub).toBe('logged-viewer');

    // Access token in Authorization: accepted, refused (another session, bad body), and tampered.
    await sent('POST', `/api/v1/sessions/${session.id}/heartbeat`, { headers: { authorization: `Bearer ${pair.access_token}` } });
    await sent('POST', `/api/v1/sessions/ses_${'0'.repeat(26)}/heartbeat`, { headers: { authorization: `Bearer ${pair.access_token}` } });
    await sent('POST', `/api/v1/sessions/${session.id}/heartbeat`, { headers: { authorization: `Bearer ${pair.access_token}` }, body: { extra: true } });
    await sent('DELETE', `/api/v1/sessions/${session.id}/heartbeat`, { headers: { authorization: `Bearer ${pair.access_token}x` } });
    // An access token presented as an operator key.
    await sent('GET', '/api/v1/keys', { headers: { authorization: `Bearer ${pair.access_token}` } });

    // Tokens in query strings, on routes that exist and routes that do not.
    const q = encodeURIComponent(pair.access_token);
    await sent('GET', `/health?access_token=${q}`);
    await sent('GET', `/api/v1/sessions/${session.id}?access_token=${q}`, { headers: operator() });
    await sent('GET', `/api/v1/sessions?limit=5&access_token=${q}&cursor=zzz`, { headers: operator() });
    await sent('GET', `/api/v1/nope?token=${q}`);
    await sent('POST', `/api/v1/sessions/${session.id}/heartbeat?access_token=${q}`);
    await sent('GET', `/api/v1/nope?ACCESS_TOKEN=${q}&refresh_token=${encodeURIComponent(pair.refresh_token)}&api_key=${encodeURIComponent(ADMIN_KEY)}`);

    // Tokens in bodies: validate (good, refused, malformed), refresh (good, reused, malformed, wrong type).
    await sent('POST', '/api/v1/auth/validate-token', { body: { token: pair.access_token } });
    await sent('POST', '/api/v1/auth/validate-token', { body: { token: pair.access_token, extra: 1 } });
    await sent('POST', '/api/v1/auth/validate-token', { headers: JSON_CT, body: `{"token":"${pair.access_token}"` });
    await sent('POST', '/api/v1/auth/validate-token', { headers: { 'content-type': 'text/plain' }, body: pair.access_token });
    await sent('POST', '/api/v1/auth/refresh-token', { body: { refresh_token: other.refresh_token } });
    await sent('POST', '/api/v1/auth/refresh-token', { body: { refresh_token: other.refresh_token } });
    await sent('POST', '/api/v1/auth/refresh-token', { headers: JSON_CT, body: `{"refresh_token":"${pair.refresh_token}",` });
    await sent('POST', '/api/v1/auth/refresh-token', { body: { refresh_token: [pair.refresh_token] } });
    await sent('POST', '/api/v1/auth/refresh-token', { body: { refresh_token: pair.refresh_token, access_token: pair.access_token } });
    await sent('POST', '/api/v1/auth/revoke', { headers: operator(), body: { token_id: decodeJwt(other.access_token).jti } });

    // Last, the database goes away: requests carrying credentials now end in a 5xx, which is logged at
    // error level with the error object.
    await t.backends.database.close();
    for (const res of [
      await send('GET', `/api/v1/sessions/${session.id}?access_token=${q}`, { headers: operator() }),
      await send('POST', '/api/v1/auth/refresh-token', { body: { refresh_token: pair.refresh_token } }),
      await send('POST', '/api/v1/auth/tokens', { headers: operator(), body: { session_id: session.id, viewer_id: 'logged-viewer', scopes: ['view'] } }),
    ]) {
      expect(res.res.statusCode, res.res.body).toBeGreaterThanOrEqual(500);
      failedRequestIds.push(res.requestId);
    }
  });

  it('the app logged, and every line is JSON with timestamp, level, message and service', () => {
    expect(captured.lines.length).toBeGreaterThan(20);
    for (const raw of captured.lines) {
      let line: Line;
      expect(() => (line = JSON.parse(raw))).not.toThrow();
      line = JSON.parse(raw);
      expect(line, raw).toMatchObject({ timestamp: expect.any(String), level: expect.any(String), service: expect.any(String), message: expect.any(String) });
      expect(new Date(line.timestamp as string).toISOString(), raw).toBe(line.timestamp);
      expect(['trace', 'debug', 'info', 'warn', 'error', 'fatal'], raw).toContain(line.level);
      expect(line, raw).not.toHaveProperty('msg');
      expect(line, raw).not.toHaveProperty('time');
    }
  });

  it('lines written while serving a request carry its request_id', () => {
    const lines = parsed();
    for (const line of lines.filter((l) => 'req' in l || 'res' in l)) {
      expect(line.request_id, JSON.stringify(line)).toEqual(expect.any(String));
    }
    // Routes at the default log level leave at least their "incoming request" line.
    const seen = new Set(lines.map((l) => l.request_id));
    const operatorRequestIds = requestIds.slice(0, 5);
    for (const id of operatorRequestIds) expect(seen, id).toContain(id);
    const sessionLine = lines.find((l) => l.message === 'session created');
    expect(sessionLine).toMatchObject({ service: 'session', request_id: requestIds[0], session_id: expect.stringMatching(/^ses_/) });
  });

  it('a 5xx is logged at error level with its request_id', () => {
    const errors = parsed().filter((l) => l.level === 'error');
    for (const id of failedRequestIds) expect(errors.map((l) => l.request_id)).toContain(id);
  });

  it('a refused request is logged with its code and status, not its body', () => {
    const rejected = parsed().filter((l) => l.message === 'request rejected');
    expect(rejected.length).toBeGreaterThan(0);
    for (const line of rejected) {
      expect(line, JSON.stringify(line)).toMatchObject({ request_id: expect.any(String), code: expect.any(String), status: expect.any(Number) });
      expect(line).not.toHaveProperty('body');
    }
  });

  it('no operator key, access token, refresh token or token part appears in any line', () => {
    const all = captured.lines.join('\n');
    for (const [name, secret] of Object.entries(secrets)) {
      expect(secret.length, name).toBeGreaterThan(20);
      const hits = captured.lines.filter((l) => l.includes(secret) || l.includes(encodeURIComponent(secret)));
      expect(hits, `${name} leaked`).toEqual([]);
    }
    expect(all).toContain('[redacted]');
  });

  it('a token in a query parameter is redacted even when the parameter name is percent-encoded', async () => {
    const token = `tok_${'q'.repeat(40)}`;
    await send('GET', `/api/v1/nope?access%5Ftoken=${token}`);
    await send('GET', `/api/v1/nope?%61ccess_token=${token}`);
    const hits = captured.lines.filter((l) => l.includes(token));
    expect(hits).toEqual([]);
  });
});

describe('loggerOptions with pino and a stream', () => {
  // The module as written, not the wrapper above.
  let loggerOptions: typeof import('../../src/http/logging.js').loggerOptions;
  let stripSecrets: typeof import('../../src/http/logging.js').stripSecrets;
  beforeAll(async () => {
    ({ loggerOptions, stripSecrets } = await vi.importActual<typeof import('../../src/http/logging.js')>('../../src/http/logging.js'));
  });
  const capture = (level = 'trace') => {
    const lines: string[] = [];
    const clock = new ManualClock(Date.UTC(2026, 10, 26, 12, 0, 0));
    const log = pino(loggerOptions(level, clock) as pino.LoggerOptions, { write: (s: string) => void lines.push(s) });
    return { log, clock, lines: () => lines.map((l) => JSON.parse(l) as Line) };
  };

  it('writes timestamp from the clock, level as a label, message, and service', async () => {
    const { log, clock, lines } = capture();
    log.info('one');
    await clock.advance(1_500);
    log.child({ service: 'session' }).warn({ session_id: 'ses_x' }, 'two');
    expect(lines()).toEqual([
      { level: 'info', timestamp: '2026-11-26T12:00:00.000Z', service: 'streamplane', message: 'one' },
      { level: 'warn', timestamp: '2026-11-26T12:00:01.500Z', service: 'session', session_id: 'ses_x', message: 'two' },
    ]);
  });

  it('serializes requests without headers and without secret query parameters', () => {
    const { log, lines } = capture();
    log.info({ req: { method: 'GET', url: '/x?access_token=AAA&limit=2&token=BBB&refresh_token=CCC&key=DDD&api_key=EEE', ip: '10.0.0.1', headers: { authorization: 'Bearer FFF', cookie: 'sid=GGG', 'user-agent': 'ua' } } }, 'incoming request');
    const [line] = lines();
    expect(line!.req).toEqual({
      method: 'GET',
      url: '/x?access_token=[redacted]&limit=2&token=[redacted]&refresh_token=[redacted]&key=[redacted]&api_key=[redacted]',
      remote_address: '10.0.0.1',
      user_agent: 'ua',
    });
    expect(JSON.stringify(line)).not.toMatch(/AAA|BBB|CCC|DDD|EEE|FFF|GGG/);
  });

  it('redacts credentials in nested objects', () => {
    const { log, lines } = capture();
    log.info({ body: { token: 'T1', access_token: 'A1', refresh_token: 'R1', api_key: 'K1', secret: 'S1', password: 'P1', viewer_id: 'v' } }, 'body');
    const line = lines()[0]!;
    expect(line.body).toEqual({ token: '[redacted]', access_token: '[redacted]', refresh_token: '[redacted]', api_key: '[redacted]', secret: '[redacted]', password: '[redacted]', viewer_id: 'v' });
  });

  it('redacts credentials logged at the top level of a line', () => {
    const { log, lines } = capture();
    log.warn({ token: 'T2', access_token: 'A2', refresh_token: 'R2', api_key: 'K2' }, 'top-level');
    expect(JSON.stringify(lines()[0])).not.toMatch(/T2|A2|R2|K2/);
  });

  it('stripSecrets keeps other parameters and is case-insensitive', () => {
    expect(stripSecrets('/a?x=1&Access_Token=abc&y=2')).toBe('/a?x=1&Access_Token=[redacted]&y=2');
    expect(stripSecrets('/a?token=')).toBe('/a?token=[redacted]');
    expect(stripSecrets('/a?tokens=abc')).toBe('/a?tokens=abc');
    expect(stripSecrets('/a/token=abc')).toBe('/a/token=abc');
  });
});
