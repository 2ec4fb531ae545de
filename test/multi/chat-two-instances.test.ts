import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestApp, DATABASE_URL, eventually, operator, REDIS_URL, SHARED_BACKENDS, twoInstances, type TestApp } from '../helpers/app.js';
import { startProxy } from '../helpers/tcp-proxy.js';
import { mint, newSession, openSocket, wsBase, type TestSocket } from '../realtime/support.js';

/** One room served by two instances on one PostgreSQL and one Redis, as behind a load balancer. */
describe.skipIf(!SHARED_BACKENDS)('chat on two instances (PostgreSQL + Redis)', () => {
  const pair = twoInstances('chat two-instances', { STREAMPLANE_CHAT_USER_RATE_LIMIT: '1000' });
  let a: TestApp;
  let b: TestApp;
  let baseA: string;
  let baseB: string;
  const sockets: TestSocket[] = [];
  beforeAll(async () => {
    ({ a, b } = pair);
    baseA = wsBase(await a.app.listen({ port: 0, host: '127.0.0.1' }));
    baseB = wsBase(await b.app.listen({ port: 0, host: '127.0.0.1' }));
  });
  afterAll(() => {
    for (const s of sockets) s.close();
  });
  const join = async (base: string, sid: string, viewer: string, scopes?: string[]) => {
    const s = await openSocket(`${base}/ws/chat/${sid}?access_token=${await mint(a, sid, viewer, scopes)}`);
    sockets.push(s);
    await s.next('joined');
    return s;
  };

  it('delivers every message to both instances\' sockets with offsets strictly increasing, in order', async () => {
    const sid = await newSession(a);
    const onA = await join(baseA, sid, 'alice');
    const onB = await join(baseB, sid, 'bob');
    for (let i = 0; i < 10; i++) {
      onA.send({ type: 'send', text: `a${i}`, nonce: `a${i}` });
      onB.send({ type: 'send', text: `b${i}`, nonce: `b${i}` });
    }
    await eventually(() => onA.of('message').length === 20 && onB.of('message').length === 20, { timeoutMs: 10_000 });
    const expected = Array.from({ length: 20 }, (_, i) => i + 1);
    expect(onA.of('message').map((m) => m.offset)).toEqual(expected);
    expect(onB.of('message').map((m) => m.offset)).toEqual(expected);
    expect(onA.of('message').map((m) => m.id)).toEqual(onB.of('message').map((m) => m.id));
    // presence counts users on both instances
    await eventually(() => onA.of('presence').some((p) => p.count === 2) || onA.frames[0]!.members === 2, { timeoutMs: 12_000 });
  }, 20_000);

  it('a ban on one instance closes the user\'s sockets on the other; a delete reaches both', async () => {
    const sid = await newSession(a);
    const mod = await join(baseA, sid, 'mod', ['view', 'chat', 'moderate']);
    const trollOnB = await join(baseB, sid, 'troll');
    const viewerOnB = await join(baseB, sid, 'viewer');
    mod.send({ type: 'send', text: 'delete me', nonce: 'x' });
    const ack = await mod.next('ack');
    mod.send({ type: 'delete', id: ack.id, nonce: 'd' });
    expect(await viewerOnB.next('deleted')).toMatchObject({ id: ack.id });
    mod.send({ type: 'ban', user_id: 'troll', nonce: 'b' });
    expect((await trollOnB.closedWith()).code).toBe(4003);
    expect(viewerOnB.closed).toBeNull();
  });

  it('a revocation on one instance closes the viewer\'s socket on the other with 4001', async () => {
    const sid = await newSession(a);
    const s = await join(baseB, sid, 'revokee');
    await a.app.inject({ method: 'POST', url: '/api/v1/auth/revoke', headers: operator(), payload: { session_id: sid, viewer_id: 'revokee' } });
    expect((await s.closedWith()).code).toBe(4001);
  });
});

const shared = Boolean(DATABASE_URL && REDIS_URL);
describe.skipIf(!shared)('chat while Redis restarts', () => {
  let t: TestApp;
  let redis: Awaited<ReturnType<typeof startProxy>>;
  let base: string;
  beforeAll(async () => {
    redis = await startProxy(new URL(REDIS_URL!), 6379);
    t = await createTestApp({ env: { REDIS_URL: redis.url, STREAMPLANE_CHAT_USER_RATE_LIMIT: '1000' } });
    base = wsBase(await t.app.listen({ port: 0, host: '127.0.0.1' }));
  });
  afterAll(async () => {
    redis?.restore();
    await t?.close();
    await redis?.close();
  });

  it('loses no acknowledged message: sends keep being stored, and a client resumes with recovered: true', async () => {
    const sid = await newSession(t);
    const sender = await openSocket(`${base}/ws/chat/${sid}?access_token=${await mint(t, sid, 'sender')}`);
    const reader = await openSocket(`${base}/ws/chat/${sid}?access_token=${await mint(t, sid, 'reader', ['view'])}`);
    const joined = await reader.next('joined');
    const acked: string[] = [];
    const sendOne = async (i: number) => {
      sender.send({ type: 'send', text: `m${i}`, nonce: `m${i}` });
      const f = await eventually(() => sender.frames.find((x) => x.nonce === `m${i}`));
      if (f.type === 'ack') acked.push(f.id as string);
    };
    for (let i = 0; i < 3; i++) await sendOne(i);
    redis.cut();
    for (let i = 3; i < 8; i++) await sendOne(i);
    redis.restore();
    for (let i = 8; i < 10; i++) await sendOne(i);
    expect(acked.length).toBe(10);
    // The reader on this instance got everything (delivered locally while the Bus was down) …
    await eventually(() => reader.of('message').length === 10, { timeoutMs: 10_000 });
    expect(reader.of('message').map((m) => m.id)).toEqual(acked);
    // … and a client that was away resumes with exactly what it missed.
    const back = await openSocket(`${base}/ws/chat/${sid}?access_token=${await mint(t, sid, 'reader', ['view'])}&since=0&epoch=${joined.epoch}`);
    const bj = await back.next('joined');
    expect(bj.recovered).toBe(true);
    expect((bj.history as Array<{ id: string }>).map((m) => m.id)).toEqual(acked);
    for (const s of [sender, reader, back]) s.close();
  }, 30_000);
});
