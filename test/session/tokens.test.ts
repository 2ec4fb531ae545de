import { createLocalJWKSet, decodeProtectedHeader, jwtVerify, SignJWT, importJWK } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestApp, operator, type TestApp } from '../helpers/app.js';
import { ManualClock } from '../helpers/manual-clock.js';

let t: TestApp;
const clock = new ManualClock(Date.UTC(2026, 10, 26, 12, 0, 0));
beforeAll(async () => {
  t = await createTestApp({ clock });
});
afterAll(async () => t?.close());

const post = (url: string, payload: object, headers: Record<string, string> = operator()) => t.app.inject({ method: 'POST', url, headers, payload });
const newSession = async (body: object = {}) => (await post('/api/v1/sessions/start', body)).json().id as string;
const mint = async (session_id: string, viewer_id = 'viewer-1', scopes = ['view', 'chat'], extra: object = {}) => {
  const res = await post('/api/v1/auth/tokens', { session_id, viewer_id, scopes, ...extra });
  expect(res.statusCode, res.body).toBe(201);
  return res.json() as { access_token: string; refresh_token: string; expires_in: number; token_type: string; scope: string };
};
const validate = async (token: string) => (await post('/api/v1/auth/validate-token', { token }, {})).json();
const refresh = (refresh_token: string) => post('/api/v1/auth/refresh-token', { refresh_token }, {});

describe('viewer tokens', () => {
  it('mints an ES256 JWT with the documented claims, verifiable with the public JWKS alone', async () => {
    const sid = await newSession();
    const pair = await mint(sid, 'alice', ['view', 'chat']);
    expect(pair).toMatchObject({ token_type: 'Bearer', expires_in: 600, scope: 'view chat' });
    expect(pair.refresh_token).toMatch(/^rt_/);
    const header = decodeProtectedHeader(pair.access_token);
    expect(header).toMatchObject({ alg: 'ES256', typ: 'at+jwt' });
    expect(header.kid).toBeTruthy();
    const jwks = (await t.app.inject({ method: 'GET', url: '/.well-known/jwks.json' })).json();
    expect(jwks.keys.map((k: { kid: string }) => k.kid)).toContain(header.kid);
    for (const k of jwks.keys) expect(k).not.toHaveProperty('d');
    const { payload } = await jwtVerify(pair.access_token, createLocalJWKSet(jwks), {
      algorithms: ['ES256'], issuer: 'streamplane', audience: 'streamplane:viewer', currentDate: new Date(clock.now()),
    });
    expect(payload).toMatchObject({ sub: 'alice', sid, scope: 'view chat' });
    expect(payload.exp! - payload.iat!).toBe(600);
    expect(typeof payload.jti).toBe('string');
  });

  it('validates a good token and explains why others are not valid', async () => {
    const sid = await newSession();
    const { access_token } = await mint(sid);
    expect(await validate(access_token)).toMatchObject({ valid: true, claims: { sid, sub: 'viewer-1' } });
    const [h, p, s] = access_token.split('.');
    const flipped = s!.slice(0, 10) + (s![10] === 'A' ? 'B' : 'A') + s!.slice(11);
    expect(await validate(`${h}.${p}.${flipped}`)).toEqual({ valid: false, reason: 'bad_signature' });
    expect(await validate('not-a-jwt')).toEqual({ valid: false, reason: 'malformed' });
    const none = `${Buffer.from(JSON.stringify({ alg: 'none', typ: 'at+jwt' })).toString('base64url')}.${p}.`;
    expect((await validate(none)).valid).toBe(false);
  });

  it('refuses key confusion: an HS256 token keyed with our public key', async () => {
    const sid = await newSession();
    const { access_token } = await mint(sid);
    const jwks = (await t.app.inject({ method: 'GET', url: '/.well-known/jwks.json' })).json();
    const kid = decodeProtectedHeader(access_token).kid;
    const forged = await new SignJWT({ sid, scope: 'view moderate', fid: 'x' })
      .setProtectedHeader({ alg: 'HS256', kid, typ: 'at+jwt' })
      .setIssuer('streamplane').setAudience('streamplane:viewer').setSubject('mallory').setJti('j').setIssuedAt().setExpirationTime('5m')
      .sign(new TextEncoder().encode(JSON.stringify(jwks.keys[0])));
    expect(await validate(forged)).toEqual({ valid: false, reason: 'unsupported_algorithm' });
  });

  it('says wrong_audience for a token we signed for someone else', async () => {
    const sid = await newSession();
    const { access_token } = await mint(sid);
    const kid = decodeProtectedHeader(access_token).kid!;
    const { rows } = await t.backends.database.query<{ private_jwk: object }>('SELECT private_jwk FROM signing_keys WHERE kid = $1', [kid]);
    const key = await importJWK(rows[0]!.private_jwk as never, 'ES256');
    const other = await new SignJWT({ sid, scope: 'view', fid: 'f' })
      .setProtectedHeader({ alg: 'ES256', kid, typ: 'at+jwt' })
      .setIssuer('streamplane').setAudience('someone-else').setSubject('v').setJti('j2').setIssuedAt(Math.floor(clock.now() / 1000)).setExpirationTime(Math.floor(clock.now() / 1000) + 60)
      .sign(key);
    expect(await validate(other)).toEqual({ valid: false, reason: 'wrong_audience' });
  });

  it('expires tokens on the clock, even when the verification is cached', async () => {
    const sid = await newSession();
    const { access_token } = await mint(sid, 'v', ['view'], { ttl_seconds: 30 });
    expect((await validate(access_token)).valid).toBe(true);
    await clock.advance(31_000);
    expect(await validate(access_token)).toEqual({ valid: false, reason: 'expired' });
  });

  it('refuses a ttl above the configured maximum', async () => {
    const sid = await newSession();
    const res = await post('/api/v1/auth/tokens', { session_id: sid, viewer_id: 'v', scopes: ['view'], ttl_seconds: 604_800 });
    expect(res.statusCode).toBe(400);
    expect(res.json().code).toBe('ttl_too_long');
  });

  it('refuses to mint for an unknown or ended session', async () => {
    const unknown = await post('/api/v1/auth/tokens', { session_id: 'ses_00000000000000000000000000', viewer_id: 'v', scopes: ['view'] });
    expect(unknown.statusCode).toBe(404);
    const sid = await newSession();
    await post('/api/v1/sessions/stop', { session_id: sid });
    const ended = await post('/api/v1/auth/tokens', { session_id: sid, viewer_id: 'v', scopes: ['view'] });
    expect(ended.statusCode).toBe(409);
    expect(ended.json().code).toBe('session_ended');
  });

  it('ending a session makes its tokens answer session_ended', async () => {
    const sid = await newSession();
    const { access_token, refresh_token } = await mint(sid);
    expect((await validate(access_token)).valid).toBe(true);
    await post('/api/v1/sessions/stop', { session_id: sid });
    expect(await validate(access_token)).toEqual({ valid: false, reason: 'session_ended' });
    const r = await refresh(refresh_token);
    expect(r.statusCode).toBe(401);
    expect(r.json().code).toBe('session_ended');
  });
});

describe('refresh tokens', () => {
  it('rotates: each refresh returns a new pair and the old refresh token is spent', async () => {
    const sid = await newSession();
    const first = await mint(sid, 'bob', ['view']);
    const r1 = await refresh(first.refresh_token);
    expect(r1.statusCode).toBe(200);
    const second = r1.json();
    expect(second.refresh_token).not.toBe(first.refresh_token);
    expect(second.scope).toBe('view');
    expect(await validate(second.access_token)).toMatchObject({ valid: true, claims: { sub: 'bob', sid } });
  });

  it('reuse of a spent refresh token revokes the whole family (RFC 9700)', async () => {
    const sid = await newSession();
    const first = await mint(sid, 'carol', ['view']);
    const second = (await refresh(first.refresh_token)).json();
    const reuse = await refresh(first.refresh_token);
    expect(reuse.statusCode).toBe(401);
    expect(reuse.json().code).toBe('refresh_token_reused');
    expect(reuse.headers['content-type']).toContain('application/problem+json');
    expect(await validate(second.access_token)).toEqual({ valid: false, reason: 'revoked' });
    expect(await validate(first.access_token)).toEqual({ valid: false, reason: 'revoked' });
    expect((await refresh(second.refresh_token)).statusCode).toBe(401);
  });

  it('two concurrent refreshes of one token: exactly one wins', async () => {
    const sid = await newSession();
    const { refresh_token } = await mint(sid, 'dave', ['view']);
    const results = await Promise.all([refresh(refresh_token), refresh(refresh_token), refresh(refresh_token)]);
    expect(results.map((r) => r.statusCode).sort()).toEqual([200, 401, 401]);
  });

  it('an unknown or expired refresh token is 401', async () => {
    expect((await refresh(`rt_${'A'.repeat(43)}`)).json().code).toBe('invalid_refresh_token');
    const sid = await newSession();
    const { refresh_token } = await mint(sid);
    // A wall-clock jump: firing a day of 500 ms sync timers one by one would only slow the test.
    clock.set(clock.now() + 86_401_000);
    const res = await refresh(refresh_token);
    expect(res.statusCode).toBe(401);
    expect(res.json().code).toBe('refresh_token_expired');
  });
});

describe('revocation', () => {
  it('revokes every token of a viewer in a session, not other viewers', async () => {
    const sid = await newSession();
    const a = await mint(sid, 'eve');
    const b = await mint(sid, 'frank');
    const res = await post('/api/v1/auth/revoke', { session_id: sid, viewer_id: 'eve' });
    expect(res.statusCode).toBe(200);
    expect(await validate(a.access_token)).toEqual({ valid: false, reason: 'revoked' });
    expect((await validate(b.access_token)).valid).toBe(true);
    expect((await refresh(a.refresh_token)).json().code).toBe('refresh_token_revoked');
    // A token minted after the revocation is valid again (revocation is not a ban), even within the
    // same second: the revocation is compared with the family's creation, exact to the millisecond.
    await clock.advance(1);
    const again = await mint(sid, 'eve');
    expect((await validate(again.access_token)).valid).toBe(true);
  });

  it('revokes a single access token by jti', async () => {
    const sid = await newSession();
    const a = await mint(sid, 'gina');
    const b = await mint(sid, 'gina');
    const jti = (await validate(a.access_token)).claims.jti;
    expect((await post('/api/v1/auth/revoke', { token_id: jti })).statusCode).toBe(200);
    expect(await validate(a.access_token)).toEqual({ valid: false, reason: 'revoked' });
    expect((await validate(b.access_token)).valid).toBe(true);
  });

  it('publishes token.revoked on the Bus for the realtime service', async () => {
    const sid = await newSession();
    await mint(sid, 'hank');
    const seen: unknown[] = [];
    const unsub = await t.backends.bus.subscribe('token.revoked', (e) => void seen.push(e));
    await post('/api/v1/auth/revoke', { session_id: sid, viewer_id: 'hank' });
    await expect.poll(() => seen.length).toBe(1);
    expect(seen[0]).toMatchObject({ kind: 'viewer', session_id: sid, viewer_id: 'hank' });
    await unsub();
  });
});

describe('signing key rotation', () => {
  it('a new key signs after rotation and the old kid keeps verifying until its tokens expire', async () => {
    const sid = await newSession();
    const old = await mint(sid);
    const oldKid = decodeProtectedHeader(old.access_token).kid;
    const rot = await post('/api/v1/auth/signing-keys/rotate', {});
    expect(rot.statusCode).toBe(200);
    const fresh = await mint(sid);
    expect(decodeProtectedHeader(fresh.access_token).kid).toBe(rot.json().kid);
    expect(rot.json().kid).not.toBe(oldKid);
    expect((await validate(old.access_token)).valid).toBe(true);
    const kids = (await t.app.inject({ method: 'GET', url: '/.well-known/jwks.json' })).json().keys.map((k: { kid: string }) => k.kid);
    expect(kids).toEqual(expect.arrayContaining([oldKid, rot.json().kid]));
  });
});
