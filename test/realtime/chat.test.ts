import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestApp, eventually, operator, type TestApp } from '../helpers/app.js';
import { expectProblem } from '../helpers/problem.js';
import { mint, newSession, openSocket, refused, wsBase, type TestSocket } from './support.js';

/** A chat app on a real port, with its sockets closed after the block. */
function chatApp(env: Record<string, string> = {}) {
  const ctx = {} as { t: TestApp; base: string; join(sid: string, token: string, query?: string): Promise<TestSocket> };
  const sockets: TestSocket[] = [];
  beforeAll(async () => {
    ctx.t = await createTestApp({ env });
    ctx.base = wsBase(await ctx.t.app.listen({ port: 0, host: '127.0.0.1' }));
    ctx.join = async (sid, token, query = '') => {
      const s = await openSocket(`${ctx.base}/ws/chat/${sid}?access_token=${token}${query}`);
      sockets.push(s);
      return s;
    };
  });
  afterAll(async () => {
    for (const s of sockets) s.close();
    await ctx.t.close();
  });
  return ctx;
}

describe('chat over WebSocket', () => {
  const c = chatApp();

  it('joins, sends with ack after storage, and every member gets the message with increasing offsets', async () => {
    const { t } = c;
    const sid = await newSession(t);
    const a = await c.join(sid, await mint(t, sid, 'alice'));
    const b = await c.join(sid, await mint(t, sid, 'bob'));
    expect(await a.next('joined')).toMatchObject({ type: 'joined', offset: 0, recovered: false, history: [], user_id: 'alice', scopes: ['view', 'chat'], slow_mode_seconds: 0 });
    await b.next('joined');
    a.send({ type: 'send', text: 'hello', nonce: 'n1' });
    const ack = await a.next('ack');
    expect(ack).toMatchObject({ nonce: 'n1', offset: 1 });
    // acknowledged means stored: the operator history has it
    const stored = await t.app.inject({ url: `/api/v1/chat/${sid}/messages`, headers: operator() });
    expect(stored.json().data).toEqual([expect.objectContaining({ id: ack.id, offset: 1, user_id: 'alice', text: 'hello', deleted: false, shadow: false })]);
    const mb = await b.next('message');
    expect(mb).toMatchObject({ id: ack.id, offset: 1, user_id: 'alice', text: 'hello' });
    expect(await a.next('message')).toEqual(mb);
    b.send({ type: 'send', text: 'hi alice 👋', nonce: 'n2' });
    expect(await a.next('message')).toMatchObject({ offset: 2, user_id: 'bob', text: 'hi alice 👋' });
  });

  it('keeps offsets strictly increasing and in order under concurrent senders', async () => {
    const { t } = c;
    const sid = await newSession(t);
    const senders = await Promise.all(['s1', 's2', 's3'].map(async (u) => c.join(sid, await mint(t, sid, u))));
    const watcher = await c.join(sid, await mint(t, sid, 'watcher', ['view']));
    await watcher.next('joined');
    for (const s of senders) await s.next('joined');
    for (let i = 0; i < 4; i++) senders.forEach((s, k) => s.send({ type: 'send', text: `m${k}-${i}`, nonce: `n${k}-${i}` }));
    await eventually(() => watcher.of('message').length === 12);
    const offsets = watcher.of('message').map((m) => m.offset as number);
    expect(offsets).toEqual(Array.from({ length: 12 }, (_, i) => i + 1));
    // each user's own messages keep the order they were sent in
    for (let k = 0; k < 3; k++) expect(watcher.of('message').filter((m) => m.user_id === `s${k + 1}`).map((m) => m.text)).toEqual([0, 1, 2, 3].map((i) => `m${k}-${i}`));
  });

  it('sends late joiners the latest history, and resumes with exactly what was missed', async () => {
    const { t } = c;
    const sid = await newSession(t);
    const alice = await c.join(sid, await mint(t, sid, 'alice', ['view', 'chat', 'moderate']));
    const joined = await alice.next('joined');
    for (let i = 1; i <= 3; i++) {
      alice.send({ type: 'send', text: `before ${i}`, nonce: `b${i}` });
      await alice.next('ack');
    }
    const late = await c.join(sid, await mint(t, sid, 'late', ['view']));
    const lj = await late.next('joined');
    expect((lj.history as Array<{ text: string }>).map((m) => m.text)).toEqual(['before 1', 'before 2', 'before 3']);
    expect(lj.offset).toBe(3);
    late.close();
    await late.closedWith();

    alice.send({ type: 'send', text: 'missed 1', nonce: 'm1' });
    const m1 = await alice.next('ack');
    alice.send({ type: 'send', text: 'missed 2', nonce: 'm2' });
    await alice.next('ack');
    alice.send({ type: 'delete', id: m1.id, nonce: 'd1' });
    await alice.next('ack');

    const back = await c.join(sid, await mint(t, sid, 'late', ['view']), `&since=3&epoch=${lj.epoch}`);
    const bj = await back.next('joined');
    expect(bj).toMatchObject({ recovered: true, offset: 6, epoch: joined.epoch });
    // the deleted message is not replayed; its delete is (the client may have shown it)
    expect(bj.history).toEqual([
      expect.objectContaining({ type: 'message', offset: 5, text: 'missed 2' }),
      { type: 'deleted', id: m1.id, offset: 6 },
    ]);

    const wrongEpoch = await c.join(sid, await mint(t, sid, 'late', ['view']), '&since=3&epoch=somethingelse');
    const wj = await wrongEpoch.next('joined');
    expect(wj.recovered).toBe(false);
    expect((wj.history as Array<{ text: string }>).map((m) => m.text)).toEqual(['before 1', 'before 2', 'before 3', 'missed 2']);
    const ahead = await c.join(sid, await mint(t, sid, 'late', ['view']), `&since=99&epoch=${lj.epoch}`);
    expect((await ahead.next('joined')).recovered).toBe(false);
  });

  it('tells sockets how many distinct users are in the room (on join, then when it changes)', async () => {
    const { t } = c;
    const sid = await newSession(t);
    const first = await c.join(sid, await mint(t, sid, 'p1'));
    expect((await first.next('joined')).members).toBe(1);
    const second = await c.join(sid, await mint(t, sid, 'p2'));
    const secondAgain = await c.join(sid, await mint(t, sid, 'p2'));
    await second.next('joined');
    expect((await secondAgain.next('joined')).members).toBe(2);
    // the count is refreshed every 5 s on each instance
    await eventually(() => first.of('presence').some((p) => p.count === 2), { timeoutMs: 12_000 });
  }, 20_000);

  it('accepts the token as a subprotocol beside streamplane.v1 and selects streamplane.v1', async () => {
    const { t } = c;
    const sid = await newSession(t);
    const s = await openSocket(`${c.base}/ws/chat/${sid}`, { protocols: ['streamplane.v1', `bearer.${await mint(t, sid, 'sub')}`] });
    expect(s.ws.protocol).toBe('streamplane.v1');
    expect(await s.next('joined')).toMatchObject({ user_id: 'sub' });
    s.close();
  });

  it('refuses bad tokens, foreign sessions, missing scopes, unknown and ended sessions at the handshake with a problem document', async () => {
    const { t, base } = c;
    const sid = await newSession(t);
    const other = await newSession(t);
    expect(await refused(openSocket(`${base}/ws/chat/${sid}`))).toMatchObject({ status: 401, body: { code: 'token_missing' } });
    expect(await refused(openSocket(`${base}/ws/chat/${sid}?access_token=nope`))).toMatchObject({ status: 401, body: { code: 'token_invalid' } });
    expect(await refused(openSocket(`${base}/ws/chat/${sid}?access_token=${await mint(t, other, 'x')}`))).toMatchObject({ status: 403, body: { code: 'forbidden' } });
    expect((await refused(openSocket(`${base}/ws/chat/${sid}?access_token=${await mint(t, sid, 'x', ['publish_captions'])}`))).status).toBe(403);
    expect((await refused(openSocket(`${base}/ws/chat/${sid}?access_token=${await mint(t, sid, 'x')}&since=1`))).body.code).toBe('bad_request');
    expect((await refused(openSocket(`${base}/ws/chat/${sid}?access_token=${await mint(t, sid, 'x')}&since=-1&epoch=e`))).status).toBe(400);
    expect((await refused(openSocket(`${base}/ws/nothing/${sid}`))).status).toBe(404);
    expect((await refused(openSocket(`${base}/ws/chat/%E0%A4%A?access_token=x`))).status).toBe(400);

    const token = await mint(t, sid, 'y');
    await t.app.inject({ method: 'POST', url: '/api/v1/sessions/stop', headers: operator(), payload: { session_id: sid } });
    // not a token problem a refresh could fix: 409, as the protocol says
    expect(await refused(openSocket(`${base}/ws/chat/${sid}?access_token=${token}`))).toMatchObject({ status: 409, body: { code: 'session_ended' } });
    expectProblem(await t.app.inject({ url: `/ws/chat/${sid}` }), 426, 'upgrade_required');
  });

  it('closes a socket with 4001 when its token is revoked and with 4004 when the session ends', async () => {
    const { t } = c;
    const sid = await newSession(t);
    const revoked = await c.join(sid, await mint(t, sid, 'mallory'));
    const stays = await c.join(sid, await mint(t, sid, 'carol'));
    await revoked.next('joined');
    await stays.next('joined');
    await t.app.inject({ method: 'POST', url: '/api/v1/auth/revoke', headers: operator(), payload: { session_id: sid, viewer_id: 'mallory' } });
    expect((await revoked.closedWith()).code).toBe(4001);
    expect(stays.closed).toBeNull();
    await t.app.inject({ method: 'POST', url: '/api/v1/sessions/stop', headers: operator(), payload: { session_id: sid } });
    expect((await stays.closedWith()).code).toBe(4004);
  });

  it('closes a socket with 4001 when its token expires while connected', async () => {
    const { t } = c;
    const sid = await newSession(t);
    const s = await c.join(sid, await mint(t, sid, 'brief', ['view'], 10));
    await s.next('joined');
    // no fake clock here: the token lives 10 s (the shortest allowed); the sweep closes it within ~1 s after
    expect((await s.closedWith(15_000)).code).toBe(4001);
  }, 20_000);
});

describe('chat operator endpoints', () => {
  const c = chatApp();

  it('needs an operator key and validates ids, bodies and cursors', async () => {
    const { t } = c;
    const sid = await newSession(t);
    expectProblem(await t.app.inject({ url: `/api/v1/chat/${sid}/messages` }), 401);
    expectProblem(await t.app.inject({ url: `/api/v1/chat/not-a-session/messages`, headers: operator() }), 400);
    expectProblem(await t.app.inject({ url: `/api/v1/chat/${sid}/messages?cursor=zzz`, headers: operator() }), 400, 'bad_cursor');
    expectProblem(await t.app.inject({ url: `/api/v1/chat/${sid}/messages?limit=0`, headers: operator() }), 400);
    expectProblem(await t.app.inject({ method: 'POST', url: `/api/v1/chat/${sid}/bans`, headers: operator(), payload: { user_id: '' } }), 400);
    expectProblem(await t.app.inject({ method: 'POST', url: `/api/v1/chat/${sid}/timeouts`, headers: operator(), payload: { user_id: 'u', seconds: 0 } }), 400);
    expectProblem(await t.app.inject({ method: 'PATCH', url: `/api/v1/chat/${sid}/settings`, headers: operator(), payload: {} }), 400);
    expectProblem(await t.app.inject({ method: 'PATCH', url: `/api/v1/chat/${sid}/settings`, headers: operator(), payload: { blocked_terms: ['two words'] } }), 400);
    expectProblem(await t.app.inject({ method: 'PATCH', url: `/api/v1/chat/${sid}/settings`, headers: operator(), payload: { blocked_terms: ['***'] } }), 400);
    expectProblem(await t.app.inject({ method: 'DELETE', url: `/api/v1/chat/${sid}/messages/msg_01jq3v8c9x2m4n6p7r8s9t0vwx`, headers: operator() }), 404, 'not_found');
    expectProblem(await t.app.inject({ method: 'GET', url: `/api/v1/chat/ses_01jq3v8c9x2m4n6p7r8s9t0vwx/settings`, headers: operator() }), 404);
  });

  it('pages through history with cursors, flagging deleted messages', async () => {
    const { t } = c;
    const sid = await newSession(t);
    const s = await c.join(sid, await mint(t, sid, 'pager'));
    await s.next('joined');
    const ids: string[] = [];
    for (let i = 0; i < 5; i++) {
      s.send({ type: 'send', text: `p${i}`, nonce: `p${i}` });
      ids.push((await s.next('ack')).id as string);
    }
    expect((await t.app.inject({ method: 'DELETE', url: `/api/v1/chat/${sid}/messages/${ids[1]}`, headers: operator() })).statusCode).toBe(204);
    expect(await s.next('deleted')).toEqual({ type: 'deleted', id: ids[1], offset: 6 });
    // deleting again changes nothing and is not an error
    expect((await t.app.inject({ method: 'DELETE', url: `/api/v1/chat/${sid}/messages/${ids[1]}`, headers: operator() })).statusCode).toBe(204);
    const seen: Array<{ text: string; deleted: boolean }> = [];
    let cursor: string | null = null;
    do {
      const res: { statusCode: number; json(): { data: Array<{ text: string; deleted: boolean }>; next_cursor: string | null } } = await t.app.inject({ url: `/api/v1/chat/${sid}/messages?limit=2${cursor ? `&cursor=${cursor}` : ''}`, headers: operator() });
      expect(res.statusCode).toBe(200);
      seen.push(...res.json().data);
      cursor = res.json().next_cursor;
    } while (cursor);
    expect(seen.map((m) => [m.text, m.deleted])).toEqual([['p0', false], ['p1', true], ['p2', false], ['p3', false], ['p4', false]]);
    const log = await t.app.inject({ url: `/api/v1/chat/${sid}/moderation-log`, headers: operator() });
    expect(log.json().data).toEqual([expect.objectContaining({ action: 'delete', actor: 'operator:admin', target_message_id: ids[1], target_user_id: 'pager' })]);
  });
});
