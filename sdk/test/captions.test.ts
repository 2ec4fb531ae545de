import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { CaptionsClient, type CaptionsEvents } from '../src/captions.js';
import { StreamplaneError } from '../src/errors.js';
import { createStreamplaneClient, type StreamplaneClient } from '../src/rest.js';
import { ADMIN_KEY, createTestApp, eventually, type TestApp } from '../../test/helpers/app.js';
import { ManualTimers, record, recordingWebSocket } from './support.js';

/** CaptionsClient against the real app: publish with ack, delivery, reconnect without repeats. */
let t: TestApp;
let baseUrl: string;
let api: StreamplaneClient;
const clients: CaptionsClient[] = [];
beforeAll(async () => {
  t = await createTestApp();
  baseUrl = await t.app.listen({ port: 0, host: '127.0.0.1' });
  api = createStreamplaneClient({ baseUrl, token: ADMIN_KEY });
});
afterAll(async () => {
  for (const c of clients) c.close();
  await t?.close();
});

async function session() {
  const { data: s } = await api.POST('/api/v1/sessions/start', { body: {} });
  const mint = async (viewer_id: string, scopes: Array<'view' | 'publish_captions'>) =>
    (await api.POST('/api/v1/auth/tokens', { body: { session_id: s!.id, viewer_id, scopes } })).data!.access_token;
  return { sessionId: s!.id, mint };
}
function captions(opts: Omit<ConstructorParameters<typeof CaptionsClient>[0], 'baseUrl'>) {
  const c = new CaptionsClient({ baseUrl, WebSocket, ...opts });
  clients.push(c);
  return { c, ev: record<CaptionsEvents>(c, ['joined', 'cue', 'state', 'closed', 'error']) };
}

describe('CaptionsClient', () => {
  it('publishes cues with an ack carrying seq; viewers get each cue once', async () => {
    const s = await session();
    const captioner = captions({ sessionId: s.sessionId, token: await s.mint('captioner', ['publish_captions']) });
    const viewer = captions({ sessionId: s.sessionId, token: await s.mint('viewer', ['view']) });
    await Promise.all([captioner.c.connect(), viewer.c.connect()]);
    expect(viewer.ev.joined[0]).toMatchObject({ seq: 0, cues: [], resumed: false });
    const first = await captioner.c.sendCue({ start_ms: 61_000, end_ms: 63_500, text: 'Hello and welcome', lang: 'en' });
    const second = await captioner.c.sendCue({ start_ms: 63_500, end_ms: 65_000, text: 'Olá', lang: 'pt-BR' });
    expect(second.seq).toBeGreaterThan(first.seq);
    await eventually(() => viewer.ev.cue.length === 2);
    expect(viewer.ev.cue[0]).toMatchObject({ seq: first.seq, start_ms: 61_000, end_ms: 63_500, text: 'Hello and welcome', lang: 'en' });

    const bad = await captioner.c.sendCue({ start_ms: 5_000, end_ms: 1_000, text: 'backwards', lang: 'en' }).catch((e: unknown) => e);
    expect(bad).toBeInstanceOf(StreamplaneError);
    expect((bad as StreamplaneError).code).toMatch(/^[a-z_]+$/);
    await expect(viewer.c.sendCue({ start_ms: 0, end_ms: 1, text: 'x', lang: 'en' })).rejects.toMatchObject({ code: 'forbidden' });
  });

  it('reconnects after the link drops without repeating cues, and gets the ones it missed from joined', async () => {
    const s = await session();
    const timers = new ManualTimers();
    const rec = recordingWebSocket();
    const captioner = captions({ sessionId: s.sessionId, token: await s.mint('captioner', ['publish_captions']) });
    const viewer = captions({ sessionId: s.sessionId, token: await s.mint('viewer', ['view']), WebSocket: rec.Ctor, timers, pingIntervalMs: 0 });
    await Promise.all([captioner.c.connect(), viewer.c.connect()]);
    await captioner.c.sendCue({ start_ms: 0, end_ms: 1_000, text: 'one', lang: 'en' });
    await eventually(() => viewer.ev.cue.length === 1);

    rec.sockets[0]!.terminate();
    await eventually(() => viewer.c.state === 'reconnecting');
    await captioner.c.sendCue({ start_ms: 1_000, end_ms: 2_000, text: 'two', lang: 'en' });
    timers.fireAll();
    await eventually(() => viewer.ev.joined.length === 2);
    expect(viewer.ev.joined[1]!.resumed).toBe(true);
    await captioner.c.sendCue({ start_ms: 2_000, end_ms: 3_000, text: 'three', lang: 'en' });
    await eventually(() => viewer.ev.cue.length === 3);
    expect(viewer.ev.cue.map((c) => c.text)).toEqual(['one', 'two', 'three']);
  });
});
