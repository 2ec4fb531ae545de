import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { ChatClient, type ChatClientOptions, type ChatEvents } from '../src/chat.js';
import { StreamplaneError } from '../src/errors.js';
import { createStreamplaneClient, type StreamplaneClient } from '../src/rest.js';
import { ADMIN_KEY, createTestApp, eventually, type TestApp } from '../../test/helpers/app.js';
import { ManualTimers, record, recordingWebSocket } from './support.js';

/** The REST client and ChatClient against the real app on a real port. */
let t: TestApp;
let baseUrl: string;
let api: StreamplaneClient;
const clients: ChatClient[] = [];
beforeAll(async () => {
  t = await createTestApp({ env: { STREAMPLANE_CHAT_MESSAGE_MAX_CHARS: '100' } });
  baseUrl = await t.app.listen({ port: 0, host: '127.0.0.1' });
  api = createStreamplaneClient({ baseUrl, token: ADMIN_KEY });
});
afterAll(async () => {
  for (const c of clients) c.close();
  await t?.close();
});

async function newSession(): Promise<string> {
  const { data, error } = await api.POST('/api/v1/sessions/start', { body: {} });
  if (!data) throw new Error(`start failed: ${JSON.stringify(error)}`);
  return data.id;
}
async function mint(sessionId: string, viewerId: string, scopes: Array<'view' | 'chat' | 'moderate' | 'publish_captions'> = ['view', 'chat']): Promise<string> {
  const { data, error } = await api.POST('/api/v1/auth/tokens', { body: { session_id: sessionId, viewer_id: viewerId, scopes } });
  if (!data) throw new Error(`mint failed: ${JSON.stringify(error)}`);
  return data.access_token;
}
function chat(opts: Omit<ChatClientOptions, 'baseUrl' | 'WebSocket'> & { WebSocket?: ChatClientOptions['WebSocket'] }) {
  const c = new ChatClient({ baseUrl, WebSocket, ...opts });
  clients.push(c);
  return { c, ev: record<ChatEvents>(c, ['joined', 'reset', 'message', 'deleted', 'slow_mode', 'state', 'closed', 'error']) };
}

describe('REST client', () => {
  it('makes typed calls with the bearer header and returns problem documents as errors', async () => {
    const { data: started, response } = await api.POST('/api/v1/sessions/start', { body: { title: 'SDK test' } });
    expect(response.status).toBe(201);
    const { data: got } = await api.GET('/api/v1/sessions/{id}', { params: { path: { id: started!.id } } });
    expect(got).toMatchObject({ id: started!.id, title: 'SDK test', status: 'created' });

    const anonymous = createStreamplaneClient({ baseUrl });
    const { error, response: refused } = await anonymous.GET('/api/v1/sessions/{id}', { params: { path: { id: started!.id } } });
    expect(refused.status).toBe(401);
    expect(error).toMatchObject({ code: expect.any(String) });

    let calls = 0;
    const refreshing = createStreamplaneClient({ baseUrl, getToken: () => (calls++, ADMIN_KEY) });
    expect((await refreshing.GET('/api/v1/sessions/{id}', { params: { path: { id: started!.id } } })).data?.id).toBe(started!.id);
    expect(calls).toBe(1);
  });
});

describe('ChatClient', () => {
  it('sends with an ack after storage; both members get the message once', async () => {
    const sid = await newSession();
    const a = chat({ sessionId: sid, token: await mint(sid, 'alice') });
    const b = chat({ sessionId: sid, token: await mint(sid, 'bob'), tokenTransport: 'subprotocol' });
    await Promise.all([a.c.connect(), b.c.connect()]);
    expect(a.ev.reset).toEqual([{ epoch: expect.any(String), offset: 0, messages: [] }]);
    expect(a.ev.joined[0]).toMatchObject({ user_id: 'alice', scopes: ['view', 'chat'], resumed: false });
    const ack = await a.c.send('hello');
    expect(ack).toEqual({ id: expect.any(String), offset: 1 });
    await eventually(() => b.ev.message.length === 1 && a.ev.message.length === 1);
    expect(b.ev.message[0]).toMatchObject({ id: ack.id, offset: 1, user_id: 'alice', text: 'hello' });
    await b.c.send('hi alice');
    await eventually(() => a.ev.message.length === 2);
    expect(a.ev.message.map((m) => m.offset)).toEqual([1, 2]);

    // A late joiner gets the history in its reset.
    const late = chat({ sessionId: sid, token: await mint(sid, 'carol') });
    await late.c.connect();
    expect(late.ev.reset[0]!.messages.map((m) => m.text)).toEqual(['hello', 'hi alice']);
  });

  it('rejects a refused send with the server code (too_long), and moderation helpers await their ack', async () => {
    const sid = await newSession();
    const mod = chat({ sessionId: sid, token: await mint(sid, 'mod', ['view', 'chat', 'moderate']) });
    const viewer = chat({ sessionId: sid, token: await mint(sid, 'viewer') });
    await Promise.all([mod.c.connect(), viewer.c.connect()]);
    const err = await viewer.c.send('x'.repeat(101)).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(StreamplaneError);
    expect(err).toMatchObject({ code: 'too_long' });
    await expect(viewer.c.slowMode(5)).rejects.toMatchObject({ code: 'forbidden' });

    const { id } = await viewer.c.send('spam');
    await mod.c.deleteMessage(id);
    await eventually(() => viewer.ev.deleted.length === 1);
    expect(viewer.ev.deleted[0]).toMatchObject({ id, offset: 2 });
    await mod.c.slowMode(30);
    await eventually(() => viewer.ev.slow_mode.length === 1);
    expect(viewer.ev.slow_mode[0]).toEqual({ seconds: 30 });
    await mod.c.slowMode(0);

    // The per-user rate (5 per 10 s by default): the refusal says when to try again.
    const sends = await Promise.allSettled(Array.from({ length: 6 }, (_, i) => viewer.c.send(`n${i}`)));
    const limited = sends.find((r) => r.status === 'rejected');
    expect(limited?.status === 'rejected' && limited.reason).toMatchObject({ code: 'rate_limited', retry_after_ms: expect.any(Number) });

    await mod.c.ban('viewer', { reason: 'test' });
    await eventually(() => viewer.ev.closed.length === 1);
    expect(viewer.ev.closed[0]).toMatchObject({ reason: 'banned', code: 4003 });
    expect(viewer.c.state).toBe('closed');
  });

  it('reconnects after the network drops and resumes: recovered, the missed messages once, no duplicate offsets', async () => {
    const sid = await newSession();
    const timers = new ManualTimers();
    const rec = recordingWebSocket();
    const a = chat({ sessionId: sid, token: await mint(sid, 'alice'), WebSocket: rec.Ctor, timers, pingIntervalMs: 0 });
    const b = chat({ sessionId: sid, token: await mint(sid, 'bob') });
    await Promise.all([a.c.connect(), b.c.connect()]);
    await b.c.send('before');
    await eventually(() => a.ev.message.length === 1);

    rec.sockets[0]!.terminate(); // the link is gone: close 1006 on the client
    await eventually(() => a.c.state === 'reconnecting');
    expect(a.ev.state.at(-1)).toMatchObject({ state: 'reconnecting', code: 1006 });
    for (const text of ['while', 'away']) await b.c.send(text);

    expect(timers.fireAll()).toBe(1); // the reconnect
    await eventually(() => a.ev.joined.length === 2);
    expect(a.ev.joined[1]).toMatchObject({ recovered: true, resumed: true });
    await b.c.send('after');
    await eventually(() => a.ev.message.length === 4);
    expect(a.ev.message.map((m) => m.text)).toEqual(['before', 'while', 'away', 'after']);
    const offsets = a.ev.message.map((m) => m.offset);
    expect(new Set(offsets).size).toBe(offsets.length);
    expect(offsets).toEqual([...offsets].sort((x, y) => x - y));
    expect(a.ev.reset).toHaveLength(1);
  });

  it('gets a new token from getToken when the server closes with 4001 (revoked), and goes on', async () => {
    const sid = await newSession();
    let calls = 0;
    const a = chat({ sessionId: sid, getToken: () => (calls++, mint(sid, 'alice')), backoff: { baseMs: 50 } });
    await a.c.connect();
    expect(calls).toBe(1);
    const { response } = await api.POST('/api/v1/auth/revoke', { body: { session_id: sid, viewer_id: 'alice' } });
    expect(response.status).toBe(200);
    await eventually(() => a.ev.state.some((s) => s.code === 4001), { timeoutMs: 5_000 });
    // Tokens issued in the revocation's second are revoked too: the client keeps refreshing until one works.
    await eventually(() => a.ev.joined.length === 2, { timeoutMs: 10_000 });
    expect(calls).toBeGreaterThanOrEqual(2);
    expect(a.ev.closed).toEqual([]);
    expect((await a.c.send('still here')).offset).toBe(1);
  });

  it('stops for good with session_ended (4004) when the session is stopped', async () => {
    const sid = await newSession();
    const a = chat({ sessionId: sid, token: await mint(sid, 'alice') });
    const lateToken = await mint(sid, 'bob');
    await a.c.connect();
    const { response } = await api.POST('/api/v1/sessions/stop', { body: { session_id: sid } });
    expect(response.status).toBe(200);
    await eventually(() => a.ev.closed.length === 1);
    expect(a.ev.closed[0]).toMatchObject({ reason: 'session_ended', code: 4004 });
    expect(a.ev.state.some((s) => s.state === 'reconnecting')).toBe(false);

    // Joining an ended session is refused at the handshake, which is terminal too. docs/protocol.md says
    // 409 session_ended; today the server answers 401 (the token check runs first, and tokens of an
    // ended session stop validating), which a client without getToken also treats as terminal.
    const late = chat({ sessionId: sid, token: lateToken });
    await expect(late.c.connect()).rejects.toBeInstanceOf(StreamplaneError);
    expect(['session_ended', 'unauthorized']).toContain(late.ev.closed[0]?.reason);
    expect(late.ev.state.some((s) => s.state === 'reconnecting')).toBe(false);
  });

  it('stops at a refused handshake it cannot fix (a token of another session: 403)', async () => {
    const sid = await newSession();
    const other = await newSession();
    const a = chat({ sessionId: sid, token: await mint(other, 'alice') });
    await expect(a.c.connect()).rejects.toMatchObject({ code: 'forbidden' });
    expect(a.ev.closed[0]).toMatchObject({ reason: 'forbidden', code: 403 });
  });
});
