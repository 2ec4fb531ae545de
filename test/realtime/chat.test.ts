import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestApp, type TestApp } from '../helpers/app.js';
import { mint, newSession, openSocket, refused, wsBase, type TestSocket } from './support.js';

describe('chat over WebSocket', () => {
  let t: TestApp;
  let base: string;
  const sockets: TestSocket[] = [];
  beforeAll(async () => {
    t = await createTestApp();
    base = wsBase(await t.app.listen({ port: 0, host: '127.0.0.1' }));
  });
  afterAll(async () => {
    for (const s of sockets) s.close();
    await t.close();
  });
  const join = async (sessionId: string, token: string, query = '') => {
    const s = await openSocket(`${base}/ws/chat/${sessionId}?access_token=${token}${query}`);
    sockets.push(s);
    return s;
  };

  it('joins, sends with ack after storage, and every member gets the message with increasing offsets', async () => {
    const sid = await newSession(t);
    const a = await join(sid, await mint(t, sid, 'alice'));
    const b = await join(sid, await mint(t, sid, 'bob'));
    const ja = await a.next('joined');
    expect(ja).toMatchObject({ type: 'joined', offset: 0, recovered: false, history: [], user_id: 'alice' });
    await b.next('joined');
    a.send({ type: 'send', text: 'hello', nonce: 'n1' });
    const ack = await a.next('ack');
    expect(ack).toMatchObject({ nonce: 'n1', offset: 1 });
    const mb = await b.next('message');
    const ma = await a.next('message');
    expect(mb).toMatchObject({ id: ack.id, offset: 1, user_id: 'alice', text: 'hello' });
    expect(ma).toEqual(mb);
    b.send({ type: 'send', text: 'hi alice', nonce: 'n2' });
    expect((await a.next('message')).offset).toBe(2);
  });

  it('refuses bad tokens, foreign sessions and missing scopes at the handshake with a problem document', async () => {
    const sid = await newSession(t);
    const other = await newSession(t);
    expect((await refused(openSocket(`${base}/ws/chat/${sid}`))).status).toBe(401);
    const bad = await refused(openSocket(`${base}/ws/chat/${sid}?access_token=nope`));
    expect(bad).toMatchObject({ status: 401, body: { code: 'token_invalid' } });
    const foreign = await refused(openSocket(`${base}/ws/chat/${sid}?access_token=${await mint(t, other, 'x')}`));
    expect(foreign).toMatchObject({ status: 403, body: { code: 'forbidden' } });
    const captionsOnly = await refused(openSocket(`${base}/ws/chat/${sid}?access_token=${await mint(t, sid, 'x', ['publish_captions'])}`));
    expect(captionsOnly.status).toBe(403);
  });
});
