import { createServer, type Server } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestApp, eventually, operator, type TestApp } from '../helpers/app.js';
import { mint, newSession, openSocket, refused, wsBase, type TestSocket } from './support.js';

function chatApp(env: Record<string, string> | (() => Record<string, string>) = {}) {
  const ctx = {} as { t: TestApp; base: string; join(sid: string, token: string, query?: string): Promise<TestSocket> };
  const sockets: TestSocket[] = [];
  beforeAll(async () => {
    ctx.t = await createTestApp({ env: typeof env === 'function' ? env() : env });
    ctx.base = wsBase(await ctx.t.app.listen({ port: 0, host: '127.0.0.1' }));
    ctx.join = async (sid, token, query = '') => {
      const s = await openSocket(`${ctx.base}/ws/chat/${sid}?access_token=${token}${query}`);
      sockets.push(s);
      await s.next('joined');
      return s;
    };
  });
  afterAll(async () => {
    for (const s of sockets) s.close();
    await ctx.t.close();
  });
  return ctx;
}

const MOD = ['view', 'chat', 'moderate'];

describe('chat moderation', () => {
  const c = chatApp({ STREAMPLANE_CHAT_BLOCKED_TERMS: 'forbiddenword,spam*', STREAMPLANE_CHAT_USER_RATE_LIMIT: '100' });

  it('stores a burst from one socket in send order (written together, acknowledged in order)', async () => {
    const { t } = c;
    const sid = await newSession(t);
    const fast = await c.join(sid, await mint(t, sid, 'fast'));
    const other = await c.join(sid, await mint(t, sid, 'other'));
    for (let i = 0; i < 40; i++) (i % 2 ? other : fast).send({ type: 'send', text: `b${i}`, nonce: `b${i}` });
    await eventually(() => fast.of('message').length === 40);
    expect(fast.of('message').filter((m) => m.user_id === 'fast').map((m) => m.text)).toEqual(Array.from({ length: 20 }, (_, i) => `b${2 * i}`));
    expect(fast.of('message').map((m) => m.offset)).toEqual(Array.from({ length: 40 }, (_, i) => i + 1));
    expect(fast.of('ack').map((a) => a.nonce)).toEqual(Array.from({ length: 20 }, (_, i) => `b${2 * i}`));
    const stored = (await t.app.inject({ url: `/api/v1/chat/${sid}/messages?limit=100`, headers: operator() })).json().data;
    expect(stored.map((m: { text: string; ts: string }) => m.text)).toEqual(fast.of('message').map((m) => m.text));
    expect(stored.map((m: { ts: string }) => m.ts)).toEqual(fast.of('message').map((m) => m.ts));
  });

  it('deletes over the socket (moderators only), and everyone gets the delete', async () => {
    const { t } = c;
    const sid = await newSession(t);
    const mod = await c.join(sid, await mint(t, sid, 'mod', MOD));
    const viewer = await c.join(sid, await mint(t, sid, 'viewer'));
    viewer.send({ type: 'send', text: 'oops', nonce: 'v1' });
    const ack = await viewer.next('ack');
    viewer.send({ type: 'delete', id: ack.id, nonce: 'v2' });
    expect(await viewer.next('error')).toMatchObject({ code: 'forbidden', nonce: 'v2' });
    mod.send({ type: 'delete', id: ack.id, nonce: 'm1' });
    expect(await mod.next('ack')).toEqual({ type: 'ack', nonce: 'm1' });
    expect(await viewer.next('deleted')).toMatchObject({ id: ack.id });
    mod.send({ type: 'delete', id: 'msg_01jq3v8c9x2m4n6p7r8s9t0vwx', nonce: 'm2' });
    expect(await mod.next('error')).toMatchObject({ code: 'not_found', nonce: 'm2' });
  });

  it('bans: the user\'s sockets close with 4003 and rejoining is refused until unbanned', async () => {
    const { t, base } = c;
    const sid = await newSession(t);
    const mod = await c.join(sid, await mint(t, sid, 'mod', MOD));
    const troll1 = await c.join(sid, await mint(t, sid, 'troll'));
    const troll2 = await c.join(sid, await mint(t, sid, 'troll'));
    const bystander = await c.join(sid, await mint(t, sid, 'bystander'));
    mod.send({ type: 'ban', user_id: 'troll', reason: 'abuse', nonce: 'b' });
    await mod.next('ack');
    expect((await troll1.closedWith()).code).toBe(4003);
    expect((await troll2.closedWith()).code).toBe(4003);
    expect(bystander.closed).toBeNull();
    expect(await refused(openSocket(`${base}/ws/chat/${sid}?access_token=${await mint(t, sid, 'troll')}`))).toMatchObject({ status: 403, body: { code: 'banned' } });
    expect((await t.app.inject({ method: 'DELETE', url: `/api/v1/chat/${sid}/bans/troll`, headers: operator() })).statusCode).toBe(204);
    const back = await c.join(sid, await mint(t, sid, 'troll'));
    back.send({ type: 'send', text: 'sorry', nonce: 's' });
    expect(await back.next('ack')).toMatchObject({ nonce: 's' });
    const log = (await t.app.inject({ url: `/api/v1/chat/${sid}/moderation-log`, headers: operator() })).json().data;
    expect(log.map((e: { action: string; actor: string }) => [e.action, e.actor])).toEqual([['ban', 'viewer:mod'], ['unban', 'operator:admin']]);
    expect(log[0].detail).toEqual({ kind: 'ban', reason: 'abuse' });
  });

  it('shadow bans: the user sees their own messages, no one else does (live, in history and for operators flagged)', async () => {
    const { t } = c;
    const sid = await newSession(t);
    const shadowed = await c.join(sid, await mint(t, sid, 'shadowed'));
    const other = await c.join(sid, await mint(t, sid, 'other'));
    expect((await t.app.inject({ method: 'POST', url: `/api/v1/chat/${sid}/bans`, headers: operator(), payload: { user_id: 'shadowed', shadow: true } })).statusCode).toBe(204);
    shadowed.send({ type: 'send', text: 'can anyone hear me', nonce: 'x' });
    const ack = await shadowed.next('ack');
    expect(await shadowed.next('message')).toMatchObject({ id: ack.id, text: 'can anyone hear me' });
    other.send({ type: 'send', text: 'visible', nonce: 'y' });
    expect(await other.next('message')).toMatchObject({ text: 'visible' });
    expect(other.of('message').some((m) => m.id === ack.id)).toBe(false);
    const late = await openSocket(`${c.base}/ws/chat/${sid}?access_token=${await mint(t, sid, 'late')}`);
    expect(((await late.next('joined')).history as Array<{ text: string }>).map((m) => m.text)).toEqual(['visible']);
    late.close();
    const mine = await openSocket(`${c.base}/ws/chat/${sid}?access_token=${await mint(t, sid, 'shadowed')}`);
    expect(((await mine.next('joined')).history as Array<{ text: string }>).map((m) => m.text)).toEqual(['can anyone hear me', 'visible']);
    mine.close();
    const ops = (await t.app.inject({ url: `/api/v1/chat/${sid}/messages`, headers: operator() })).json().data;
    expect(ops.map((m: { shadow: boolean }) => m.shadow)).toEqual([true, false]);
  });

  it('timeouts refuse sends with the time left, then lift', async () => {
    const { t } = c;
    const sid = await newSession(t);
    const mod = await c.join(sid, await mint(t, sid, 'mod', MOD));
    const loud = await c.join(sid, await mint(t, sid, 'loud'));
    mod.send({ type: 'timeout', user_id: 'loud', seconds: 300, nonce: 't' });
    await mod.next('ack');
    loud.send({ type: 'send', text: 'still here', nonce: 'l' });
    const err = await loud.next('error');
    expect(err).toMatchObject({ code: 'timed_out', nonce: 'l' });
    expect(err.retry_after_ms).toBeGreaterThan(290_000);
    mod.send({ type: 'unban', user_id: 'loud', nonce: 'u' });
    await mod.next('ack');
    loud.send({ type: 'send', text: 'back', nonce: 'l2' });
    expect(await loud.next('ack')).toMatchObject({ nonce: 'l2' });
  });

  it('slow mode: everyone is told, a second message within it is refused, moderators are exempt', async () => {
    const { t } = c;
    const sid = await newSession(t);
    const mod = await c.join(sid, await mint(t, sid, 'mod', MOD));
    const fan = await c.join(sid, await mint(t, sid, 'fan'));
    mod.send({ type: 'slow_mode', seconds: 60, nonce: 's' });
    await mod.next('ack');
    expect(await fan.next('slow_mode')).toEqual({ type: 'slow_mode', seconds: 60 });
    fan.send({ type: 'send', text: 'one', nonce: 'f1' });
    await fan.next('ack');
    fan.send({ type: 'send', text: 'two', nonce: 'f2' });
    const err = await fan.next('error');
    expect(err).toMatchObject({ code: 'slow_mode', nonce: 'f2' });
    expect(err.retry_after_ms).toBeGreaterThan(0);
    mod.send({ type: 'send', text: 'mod one', nonce: 'm1' });
    await mod.next('ack');
    mod.send({ type: 'send', text: 'mod two', nonce: 'm2' });
    await mod.next('ack');
    const settings = await t.app.inject({ url: `/api/v1/chat/${sid}/settings`, headers: operator() });
    expect(settings.json()).toEqual({ slow_mode_seconds: 60, blocked_terms: [] });
  });

  it('blocklist: global terms and the room\'s own, whole words, patterns, case and width folded', async () => {
    const { t } = c;
    const sid = await newSession(t);
    const s = await c.join(sid, await mint(t, sid, 'typist'));
    const res = await t.app.inject({ method: 'PATCH', url: `/api/v1/chat/${sid}/settings`, headers: operator(), payload: { blocked_terms: ['darn', 'h*ck'] } });
    expect(res.json()).toEqual({ slow_mode_seconds: 0, blocked_terms: ['darn', 'h*ck'] });
    const verdict = async (text: string) => {
      const nonce = `n${Math.random()}`;
      s.send({ type: 'send', text, nonce });
      return eventually(() => s.frames.find((f) => f.nonce === nonce)?.type);
    };
    expect(await verdict('a FORBIDDENWORD here')).toBe('error');
    expect(await verdict('spammy offer')).toBe('error');
    expect(await verdict('ｄａｒｎ it')).toBe('error');
    expect(await verdict('what the heck')).toBe('error');
    expect(await verdict('darned is a different word')).toBe('ack');
    expect(await verdict('hello friends')).toBe('ack');
    expect(s.frames.filter((f) => f.type === 'error').every((f) => f.code === 'blocked')).toBe(true);
  });
});

describe('chat limits', () => {
  const c = chatApp({
    STREAMPLANE_CHAT_USER_RATE_LIMIT: '3',
    STREAMPLANE_CHAT_MESSAGE_MAX_CHARS: '10',
    STREAMPLANE_CHAT_HISTORY_SIZE: '2',
    STREAMPLANE_CHAT_RESUME_MAX: '2',
    STREAMPLANE_WS_MAX_CONNECTIONS_PER_IP: '6',
    STREAMPLANE_WS_ALLOWED_ORIGINS: 'https://player.example.com',
  });

  it('limits length in characters, the per-user rate (with the wait), history size and the resume window', async () => {
    const { t } = c;
    const sid = await newSession(t);
    const s = await c.join(sid, await mint(t, sid, 'u'));
    s.send({ type: 'send', text: '🎉'.repeat(10), nonce: 'ok' });
    expect(await s.next('ack')).toMatchObject({ nonce: 'ok' });
    s.send({ type: 'send', text: 'x'.repeat(11), nonce: 'long' });
    expect(await s.next('error')).toMatchObject({ code: 'too_long', nonce: 'long' });
    s.send({ type: 'send', text: '   ', nonce: 'empty' });
    expect(await s.next('error')).toMatchObject({ code: 'too_long', nonce: 'empty' });
    s.send({ type: 'send', text: 'two', nonce: 'a' });
    s.send({ type: 'send', text: 'three', nonce: 'b' });
    s.send({ type: 'send', text: 'four', nonce: 'c' });
    const limited = await s.next('error');
    expect(limited).toMatchObject({ code: 'rate_limited', nonce: 'c' });
    expect(limited.retry_after_ms).toBeGreaterThan(0);
    const joined = await openSocket(`${c.base}/ws/chat/${sid}?access_token=${await mint(t, sid, 'v')}`);
    const j = await joined.next('joined');
    expect((j.history as Array<{ text: string }>).map((m) => m.text)).toEqual(['two', 'three']);
    joined.close();
    const stale = await openSocket(`${c.base}/ws/chat/${sid}?access_token=${await mint(t, sid, 'v')}&since=0&epoch=${j.epoch}`);
    expect((await stale.next('joined')).recovered).toBe(false);
    stale.close();
    const recent = await openSocket(`${c.base}/ws/chat/${sid}?access_token=${await mint(t, sid, 'v')}&since=1&epoch=${j.epoch}`);
    expect((await recent.next('joined')).recovered).toBe(true);
    recent.close();
  });

  it('checks Origin against the allowlist (no Origin: not a browser, allowed) and limits sockets per address', async () => {
    const { t, base } = c;
    const sid = await newSession(t);
    const token = await mint(t, sid, 'o');
    const evil = await refused(openSocket(`${base}/ws/chat/${sid}?access_token=${token}`, { headers: { origin: 'https://evil.example.com' } }));
    expect(evil).toMatchObject({ status: 403, body: { code: 'origin_not_allowed' } });
    const good = await openSocket(`${base}/ws/chat/${sid}?access_token=${token}`, { headers: { origin: 'https://player.example.com' } });
    await good.next('joined');
    const open: TestSocket[] = [good];
    let refusal: { status: number; body: { code: string } } | null = null;
    for (let i = 0; i < 8 && !refusal; i++) {
      try {
        open.push(await openSocket(`${base}/ws/chat/${sid}?access_token=${token}`));
      } catch (err) {
        refusal = err as { status: number; body: { code: string } };
      }
    }
    expect(refusal).toMatchObject({ status: 429, body: { code: 'too_many_connections' } });
    for (const s of open) s.close();
    await eventually(async () => {
      try {
        (await openSocket(`${base}/ws/chat/${sid}?access_token=${token}`)).close();
        return true;
      } catch {
        return false;
      }
    });
  });
});

describe('chat review webhook', () => {
  let reviewer: Server;
  let url = '';
  const seen: Array<{ text: string; user_id: string; signature: string | undefined }> = [];
  beforeAll(async () => {
    reviewer = createServer((req, res) => {
      let body = '';
      req.on('data', (c: Buffer) => (body += c.toString()));
      req.on('end', () => {
        const m = JSON.parse(body) as { text: string; user_id: string };
        seen.push({ ...m, signature: req.headers['x-streamplane-signature'] as string | undefined });
        if (m.text.includes('slow')) return; // never answers: the time budget decides
        res.setHeader('content-type', 'application/json');
        if (m.text.includes('bad')) return res.end(JSON.stringify({ allow: false, reason: 'not nice' }));
        if (m.text.includes('rewrite')) return res.end(JSON.stringify({ allow: true, text: m.text.replace('rewrite', '*******') }));
        if (m.text.includes('garbage')) return res.end('not json');
        res.end(JSON.stringify({ allow: true }));
      });
    });
    await new Promise<void>((r) => reviewer.listen(0, '127.0.0.1', r));
    url = `http://127.0.0.1:${(reviewer.address() as { port: number }).port}/review`;
  });
  afterAll(async () => {
    reviewer.closeAllConnections();
    await new Promise((r) => reviewer.close(r));
  });
  const c = chatApp(() => ({ STREAMPLANE_CHAT_REVIEW_URL: url, STREAMPLANE_CHAT_REVIEW_SECRET_KEY: 'review-secret-0123456789', STREAMPLANE_CHAT_REVIEW_TIMEOUT_MS: '150', STREAMPLANE_CHAT_REVIEW_FALLBACK: 'deny' }));

  it('allows, refuses, rewrites, and falls back (deny here) on a late or broken answer', async () => {
    const { t } = c;
    const sid = await newSession(t);
    const s = await c.join(sid, await mint(t, sid, 'reviewed'));
    const frameFor = async (text: string) => {
      const nonce = `n${seen.length}${text}`;
      s.send({ type: 'send', text, nonce });
      return eventually(() => s.frames.find((f) => f.nonce === nonce));
    };
    expect((await frameFor('hello')).type).toBe('ack');
    expect(await frameFor('bad words')).toMatchObject({ type: 'error', code: 'rejected' });
    const rewritten = await frameFor('please rewrite');
    expect(rewritten.type).toBe('ack');
    expect((await eventually(() => s.of('message').find((m) => m.id === rewritten.id)))!.text).toBe('please *******');
    expect(await frameFor('slow one')).toMatchObject({ type: 'error', code: 'rejected' });
    expect(await frameFor('garbage')).toMatchObject({ type: 'error', code: 'rejected' });
    expect(seen[0]!.signature).toMatch(/^sha256=[0-9a-f]{64}$/);
    const stored = (await t.app.inject({ url: `/api/v1/chat/${sid}/messages`, headers: operator() })).json().data;
    expect(stored.map((m: { text: string }) => m.text)).toEqual(['hello', 'please *******']);
  });
});
