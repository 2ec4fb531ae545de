import { describe, expect, it } from 'vitest';
import { ChatClient, type ChatEvents } from '../src/chat.js';
import { StreamplaneError } from '../src/errors.js';
import type { WebSocketLike } from '../src/socket.js';
import { ManualTimers, record } from './support.js';

/**
 * The client's side of the protocol against a scripted socket: close-code policy, resume position,
 * reset, offset dedupe and request settlement, which a real server cannot be made to misbehave for.
 */
class FakeSocket implements WebSocketLike {
  static all: FakeSocket[] = [];
  onopen: ((ev: unknown) => void) | null = null;
  onmessage: ((ev: unknown) => void) | null = null;
  onerror: ((ev: unknown) => void) | null = null;
  onclose: ((ev: unknown) => void) | null = null;
  readonly sent: Array<Record<string, unknown>> = [];
  closedByClient: number | null = null;

  constructor(
    readonly url: string,
    readonly protocols?: string | string[],
  ) {
    FakeSocket.all.push(this);
  }
  send(data: string) {
    this.sent.push(JSON.parse(data) as Record<string, unknown>);
  }
  close(code = 1000) {
    this.closedByClient = code;
  }
  open() {
    this.onopen?.({});
  }
  frame(f: object) {
    this.onmessage?.({ data: JSON.stringify(f) });
  }
  drop(code: number, reason = '') {
    this.onclose?.({ code, reason });
  }
  refuse(status: number) {
    this.onerror?.({ message: `Unexpected server response: ${status}` });
    this.onclose?.({ code: 1006, reason: '' });
  }
}

const last = () => FakeSocket.all.at(-1)!;
/** Opening a socket awaits the token (a microtask or more): let it happen. */
const tick = () => new Promise((r) => setTimeout(r, 0));
const msg = (offset: number, text = `m${offset}`) => ({ type: 'message', id: `msg_${offset}`, offset, user_id: 'u', text, ts: '2026-01-01T00:00:00.000Z' });
const joined = (o: { epoch?: string; offset: number; recovered?: boolean; history?: object[] }) =>
  ({ type: 'joined', epoch: o.epoch ?? 'E1', offset: o.offset, recovered: o.recovered ?? false, history: o.history ?? [], user_id: 'u', scopes: ['view', 'chat'], slow_mode_seconds: 0 });

function client(extra: Partial<ConstructorParameters<typeof ChatClient>[0]> = {}) {
  FakeSocket.all = [];
  const timers = new ManualTimers();
  const c = new ChatClient({ baseUrl: 'https://api.example.com/sp/', sessionId: 'ses_1', token: 't1', WebSocket: FakeSocket, timers, pingIntervalMs: 0, backoff: { random: () => 0.5 }, ...extra });
  const ev = record<ChatEvents>(c, ['joined', 'reset', 'message', 'deleted', 'state', 'closed', 'error']);
  return { c, timers, ev };
}

describe('ChatClient against a scripted socket', () => {
  it('resumes from the last offset, replays only what it missed, and never emits an offset twice', async () => {
    const { c, timers, ev } = client();
    const ready = c.connect();
    await tick();
    expect(last().url).toBe('wss://api.example.com/sp/ws/chat/ses_1?access_token=t1');
    last().open();
    last().frame(joined({ offset: 2, history: [msg(1), msg(2)] }));
    await ready;
    expect(ev.reset).toEqual([{ epoch: 'E1', offset: 2, messages: [msg(1), msg(2)] }]);
    last().frame(msg(3));
    last().frame(msg(3)); // a duplicate delivery
    last().drop(1012, 'server restarting');
    expect(c.state).toBe('reconnecting');
    expect(ev.state.at(-1)).toMatchObject({ state: 'reconnecting', code: 1012 });
    timers.fireAll();
    await tick();
    expect(new URL(last().url).searchParams.get('since')).toBe('3');
    expect(new URL(last().url).searchParams.get('epoch')).toBe('E1');
    last().open();
    last().frame(joined({ offset: 5, recovered: true, history: [msg(3), msg(4), { type: 'deleted', id: 'msg_1', offset: 5 }] }));
    last().frame(msg(5)); // already seen in the replay
    last().frame(msg(6));
    expect(ev.message.map((m) => m.offset)).toEqual([3, 4, 6]);
    expect(ev.deleted).toEqual([{ type: 'deleted', id: 'msg_1', offset: 5 }]);
    expect(ev.reset).toHaveLength(1);
    expect(ev.joined.map((j) => j.resumed)).toEqual([false, true]);
  });

  it('emits reset with the fresh history when the server could not resume', async () => {
    const { c, timers, ev } = client();
    void c.connect();
    await tick();
    last().frame(joined({ offset: 10 }));
    last().drop(1006);
    timers.fireAll();
    await tick();
    last().frame(joined({ epoch: 'E2', offset: 3, recovered: false, history: [msg(2), msg(3)] }));
    expect(ev.reset.at(-1)).toEqual({ epoch: 'E2', offset: 3, messages: [msg(2), msg(3)] });
    last().frame(msg(4)); // a new epoch: offsets below the old ones are new messages
    expect(ev.message.map((m) => m.offset)).toEqual([4]);
  });

  it('settles requests by nonce: ack resolves, error rejects with code and retry_after_ms, a drop rejects as disconnected', async () => {
    const { c } = client();
    void c.connect();
    await tick();
    last().frame(joined({ offset: 0 }));
    const ok = c.send('hi');
    const limited = c.send('again');
    const lost = c.slowMode(5);
    const [n1, n2, n3] = last().sent.map((f) => f.nonce as string);
    expect(new Set([n1, n2, n3]).size).toBe(3);
    expect(last().sent[2]).toEqual({ type: 'slow_mode', seconds: 5, nonce: n3 });
    last().frame({ type: 'error', code: 'rate_limited', detail: 'slow down', nonce: n2, retry_after_ms: 4200 });
    last().frame({ type: 'ack', nonce: n1, id: 'msg_1', offset: 1 });
    await expect(ok).resolves.toEqual({ id: 'msg_1', offset: 1 });
    const err = await limited.catch((e: unknown) => e);
    expect(err).toBeInstanceOf(StreamplaneError);
    expect(err).toMatchObject({ code: 'rate_limited', retry_after_ms: 4200 });
    last().drop(1006);
    await expect(lost).rejects.toMatchObject({ code: 'disconnected' });
    await expect(c.send('while away')).rejects.toMatchObject({ code: 'not_connected' });
  });

  it('refreshes the token on 4001 and on a 401 handshake; stops without getToken', async () => {
    let n = 0;
    const { c, timers } = client({ token: undefined, getToken: async () => `tok${++n}`, tokenTransport: 'subprotocol' });
    void c.connect();
    await tick();
    expect(last().protocols).toEqual(['streamplane.v1', 'bearer.tok1']);
    expect(new URL(last().url).search).toBe('');
    last().open();
    last().frame(joined({ offset: 0 }));
    last().drop(4001, 'token revoked');
    timers.fireAll();
    await tick();
    expect(last().protocols).toEqual(['streamplane.v1', 'bearer.tok2']);
    last().refuse(401);
    timers.fireAll();
    await tick();
    expect(last().protocols).toEqual(['streamplane.v1', 'bearer.tok3']);

    const plain = client();
    void plain.c.connect();
    await tick();
    last().frame(joined({ offset: 0 }));
    last().drop(4001);
    expect(plain.ev.closed).toEqual([{ reason: 'unauthorized', code: 4001, detail: 'the token expired or was revoked, and no getToken was given' }]);
  });

  it.each([
    [4003, 'banned'],
    [4004, 'session_ended'],
    [1003, 'protocol_error'],
  ] as const)('close %i is terminal (%s): no reconnect', async (code, reason) => {
    const { c, timers, ev } = client();
    void c.connect();
    await tick();
    last().frame(joined({ offset: 0 }));
    last().drop(code, 'bye');
    expect(ev.closed).toEqual([{ reason, code, detail: 'bye' }]);
    expect(c.state).toBe('closed');
    expect(timers.pending.size).toBe(0);
  });

  it.each([
    [403, 'forbidden'],
    [404, 'not_found'],
    [409, 'session_ended'],
  ] as const)('a handshake refused with %i is terminal (%s); connect() rejects', async (status, reason) => {
    const { c, ev } = client();
    const p = c.connect();
    await tick();
    last().refuse(status);
    await expect(p).rejects.toMatchObject({ code: reason });
    expect(ev.closed[0]).toMatchObject({ reason, code: status });
  });

  it('backs off at least 10 s after a flood close (4029), and gives up after maxReconnectAttempts', async () => {
    const { c, timers, ev } = client({ maxReconnectAttempts: 2 });
    void c.connect();
    await tick();
    last().frame(joined({ offset: 0 }));
    last().drop(4029);
    expect(timers.delays()).toEqual([10_000]);
    timers.fireAll();
    await tick();
    last().drop(1006);
    timers.fireAll();
    await tick();
    last().drop(1006);
    expect(ev.closed).toEqual([{ reason: 'gave_up', code: 1006, detail: 'gave up after 2 attempts' }]);
  });

  it('reconnects when nothing answers its ping (a half-open socket)', async () => {
    const { c, timers, ev } = client({ pingIntervalMs: 1_000 });
    void c.connect();
    await tick();
    const first = last();
    first.frame(joined({ offset: 0 }));
    timers.fireAll(); // ping sent
    expect(first.sent).toEqual([{ type: 'ping' }]);
    timers.fireAll(); // no answer by the next tick
    expect(first.closedByClient).toBe(4000);
    expect(ev.state.at(-1)).toMatchObject({ state: 'reconnecting', code: 1006, reason: 'no answer to ping' });
  });

  it('close() is terminal and rejects what is pending', async () => {
    const { c, ev } = client();
    void c.connect();
    await tick();
    last().frame(joined({ offset: 0 }));
    const p = c.send('x');
    c.close();
    await expect(p).rejects.toMatchObject({ code: 'disconnected' });
    expect(last().closedByClient).toBe(1000);
    expect(ev.closed).toEqual([{ reason: 'client', code: 1000, detail: 'closed by the client' }]);
    await expect(c.connect()).rejects.toMatchObject({ code: 'closed' });
  });
});
