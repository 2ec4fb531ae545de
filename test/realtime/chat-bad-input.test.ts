import fc from 'fast-check';
import type { Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestApp, eventually, operator, type TestApp } from '../helpers/app.js';
import { mint, newSession, openSocket, wsBase, type TestSocket } from './support.js';

/** Sockets the server closed with `code`, from its metrics (a client that stopped reading cannot tell). */
async function closesOf(t: TestApp, code: number) {
  const text = (await t.app.inject({ url: '/metrics' })).body;
  const m = new RegExp(`^streamplane_ws_server_closes_total\\{code="${code}"\\} (\\d+)`, 'm').exec(text);
  return m ? Number(m[1]) : 0;
}

describe('chat: bad frames, floods, slow readers and dead peers', () => {
  let t: TestApp;
  let base: string;
  const sockets: TestSocket[] = [];
  beforeAll(async () => {
    t = await createTestApp({
      env: {
        STREAMPLANE_WS_MAX_PAYLOAD_BYTES: '65536',
        STREAMPLANE_CHAT_MESSAGE_MAX_CHARS: '10000',
        STREAMPLANE_WS_MAX_BUFFERED_BYTES: '16384',
        STREAMPLANE_WS_MAX_FRAMES_PER_10S: '400',
        STREAMPLANE_CHAT_USER_RATE_LIMIT: '100000',
        STREAMPLANE_CHAT_ROOM_RATE_LIMIT: '100000',
        STREAMPLANE_WS_PING_INTERVAL_MS: '1000',
      },
    });
    base = wsBase(await t.app.listen({ port: 0, host: '127.0.0.1' }));
  });
  afterAll(async () => {
    for (const s of sockets) s.close();
    await t.close();
  });
  const join = async (sid: string, viewer: string) => {
    const s = await openSocket(`${base}/ws/chat/${sid}?access_token=${await mint(t, sid, viewer)}`);
    sockets.push(s);
    await s.next('joined');
    return s;
  };
  const storedCount = async (sid: string) => (await t.app.inject({ url: `/api/v1/chat/${sid}/messages?limit=500`, headers: operator() })).json().data.length as number;

  it('answers malformed frames with bad_frame errors that name the problem, and stores nothing', async () => {
    const sid = await newSession(t);
    const s = await join(sid, 'fuzzy');
    const cases: Array<[unknown, RegExp, string?]> = [
      ['not json', /not JSON/],
      ['[1,2]', /JSON object/],
      ['null', /JSON object/],
      ['"send"', /JSON object/],
      [{ type: 'shout', nonce: 'a' }, /Unknown frame type "shout"/, 'a'],
      [{ text: 'no type' }, /Unknown frame type/],
      [{ type: 'send', text: 'no nonce' }, /\/nonce/],
      [{ type: 'send', text: 42, nonce: 'b' }, /\/text/, 'b'],
      [{ type: 'send', text: 'x', nonce: '' }, /\/nonce/],
      [{ type: 'send', text: 'x', nonce: 'c', extra: true }, /extra|additional/i, 'c'],
      [{ type: 'ban', user_id: 'x', nonce: 'd', shadow: 'yes' }, /\/shadow/, 'd'],
      [{ type: 'timeout', user_id: 'x', seconds: -5, nonce: 'e' }, /\/seconds/, 'e'],
      [{ type: 'slow_mode', seconds: 1.5, nonce: 'f' }, /\/seconds/, 'f'],
      [{ type: 'send', text: 'nul \u0000 byte', nonce: 'g' }, /\/text: control characters/, 'g'],
      [{ type: 'send', text: 'lone \ud800 surrogate', nonce: 'h' }, /\/text: control characters/, 'h'],
      [{ type: 'ban', user_id: 'bell\u0007', nonce: 'i' }, /\/user_id/, 'i'],
    ];
    for (const [frame, detail, nonce] of cases) {
      s.send(frame);
      const err = await s.next('error');
      expect(err.code, JSON.stringify(frame)).toBe('bad_frame');
      expect(err.detail, JSON.stringify(frame)).toMatch(detail);
      if (nonce) expect(err.nonce).toBe(nonce);
    }
    s.send({ type: 'ping' });
    expect(await s.next('pong')).toEqual({ type: 'pong' });
    expect(s.closed).toBeNull();
    expect(await storedCount(sid)).toBe(0);
  });

  it('sends joined first, even to a client that sends before it arrives', async () => {
    const sid = await newSession(t);
    const token = await mint(t, sid, 'eager');
    for (let i = 0; i < 5; i++) {
      const s = await openSocket(`${base}/ws/chat/${sid}?access_token=${token}`);
      sockets.push(s);
      s.send('garbage');
      await s.next('error');
      expect(s.frames[0]!.type).toBe('joined');
    }
  });

  it('closes on a binary frame (1003) and on a frame over the payload limit (1009); fragmented text frames are reassembled', async () => {
    const sid = await newSession(t);
    const bin = await join(sid, 'binary');
    bin.ws.send(Buffer.from([1, 2, 3]), { binary: true });
    expect((await bin.closedWith()).code).toBe(1003);
    const big = await join(sid, 'big');
    big.send({ type: 'send', text: 'x'.repeat(70_000), nonce: 'big' });
    expect((await big.closedWith()).code).toBe(1009);
    const frag = await join(sid, 'fragments');
    const json = JSON.stringify({ type: 'send', text: 'in three parts', nonce: 'frag' });
    frag.ws.send(json.slice(0, 10), { fin: false });
    frag.ws.send(json.slice(10, 20), { fin: false });
    frag.ws.send(json.slice(20), { fin: true });
    expect(await frag.next('ack')).toMatchObject({ nonce: 'frag' });
    expect(await storedCount(sid)).toBe(1);
  });

  it('closes a flooding socket with 4029 and leaves the others alone', async () => {
    const sid = await newSession(t);
    const flood = await join(sid, 'flooder');
    const calm = await join(sid, 'calm');
    for (let i = 0; i < 450; i++) flood.send({ type: 'ping' });
    expect((await flood.closedWith()).code).toBe(4029);
    calm.send({ type: 'send', text: 'still fine', nonce: 'calm' });
    expect(await calm.next('ack')).toMatchObject({ nonce: 'calm' });
  });

  const serverCloses = (code: number) => closesOf(t, code);

  it('cuts a peer that stops answering pings', async () => {
    const sid = await newSession(t);
    const before = await serverCloses(1006);
    const dead = await join(sid, 'dead');
    (dead.ws as unknown as { _socket: Socket })._socket.pause();
    await eventually(async () => (await serverCloses(1006)) > before, { timeoutMs: 10_000 });
  }, 15_000);

  it('survives a reconnect storm', async () => {
    const sid = await newSession(t);
    const token = await mint(t, sid, 'stormy');
    for (let round = 0; round < 3; round++) {
      const batch = await Promise.all(Array.from({ length: 30 }, () => openSocket(`${base}/ws/chat/${sid}?access_token=${token}`)));
      await Promise.all(batch.map((s) => s.next('joined')));
      for (const s of batch) s.ws.terminate();
    }
    const after = await join(sid, 'after-storm');
    after.send({ type: 'send', text: 'calm again', nonce: 'c' });
    expect(await after.next('ack')).toMatchObject({ nonce: 'c' });
  });

  it('never crashes or half-writes on random frames: every acknowledged message is stored, nothing else', async () => {
    const sid = await newSession(t);
    const s = await join(sid, 'property');
    const frame = fc.oneof(
      fc.string({ maxLength: 200 }),
      fc.json({ maxDepth: 3 }),
      fc.record({ type: fc.constantFrom('send', 'delete', 'ban', 'unban', 'timeout', 'slow_mode', 'ping', 'cue', ''), text: fc.option(fc.string({ maxLength: 50 })), nonce: fc.option(fc.string({ maxLength: 70 })), id: fc.option(fc.string()), seconds: fc.option(fc.oneof(fc.integer(), fc.double())) }, { requiredKeys: ['type'] }).map((o) => JSON.stringify(o)),
    );
    await fc.assert(
      fc.asyncProperty(fc.array(frame, { minLength: 1, maxLength: 10 }), async (frames) => {
        for (const f of frames) s.ws.send(f);
        s.send({ type: 'ping' });
        await s.next('pong');
      }),
      { numRuns: 30 },
    );
    expect(s.closed).toBeNull();
    const acked = s.of('ack').filter((a) => typeof a.offset === 'number').length;
    expect(await storedCount(sid)).toBe(acked);
    expect(s.of('error').every((e) => ['bad_frame', 'forbidden', 'too_long'].includes(e.code as string))).toBe(true);
  }, 60_000);

  it('tells every client to reconnect elsewhere (1012) when the server shuts down', async () => {
    const own = await createTestApp();
    const ownBase = wsBase(await own.app.listen({ port: 0, host: '127.0.0.1' }));
    const sid = await newSession(own);
    const s = await openSocket(`${ownBase}/ws/chat/${sid}?access_token=${await mint(own, sid, 'bye')}`);
    await s.next('joined');
    await own.close();
    expect((await s.closedWith()).code).toBe(1012);
  });
});

describe('chat: a reader that stops reading', () => {
  let t: TestApp;
  let base: string;
  beforeAll(async () => {
    t = await createTestApp({
      env: {
        STREAMPLANE_WS_MAX_PAYLOAD_BYTES: '262144',
        STREAMPLANE_CHAT_MESSAGE_MAX_CHARS: '10000',
        STREAMPLANE_WS_MAX_BUFFERED_BYTES: '16384',
        STREAMPLANE_WS_MAX_FRAMES_PER_10S: '100000',
        STREAMPLANE_CHAT_USER_RATE_LIMIT: '100000',
        STREAMPLANE_CHAT_ROOM_RATE_LIMIT: '100000',
      },
    });
    base = wsBase(await t.app.listen({ port: 0, host: '127.0.0.1' }));
  });
  afterAll(async () => t.close());
  const join = async (sid: string, viewer: string) => {
    const s = await openSocket(`${base}/ws/chat/${sid}?access_token=${await mint(t, sid, viewer)}`);
    await s.next('joined');
    return s;
  };

  it('disconnects a reader that stops reading (4008) instead of buffering for it, and keeps serving the room', async () => {
    const sid = await newSession(t);
    const stuck = await join(sid, 'stuck');
    const talker = await join(sid, 'talker');
    const before = await closesOf(t, 4008);
    // Stop reading: the kernel buffers fill, then the server's queue for this socket passes the bound.
    (stuck.ws as unknown as { _socket: Socket })._socket.pause();
    const text = '😀'.repeat(10_000); // 40 KB a message: the kernel's socket buffers fill sooner
    for (let i = 0; i < 2_000 && i % 10 !== 9 || (await closesOf(t, 4008)) === before; i++) {
      talker.send({ type: 'send', text, nonce: `t${i}` });
      await talker.next('ack');
    }
    expect(await closesOf(t, 4008)).toBe(before + 1);
    talker.send({ type: 'send', text: 'after', nonce: 'after' });
    expect(await talker.next('ack')).toMatchObject({ nonce: 'after' });
    talker.close();
  }, 60_000);

});
