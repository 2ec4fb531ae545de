import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestApp, eventually, operator, type TestApp } from '../helpers/app.js';
import { mint, newSession, openSocket, refused, wsBase, type Frame, type TestSocket } from './support.js';

const PUB = ['view', 'publish_captions'];
const UNKNOWN_SESSION = 'ses_00000000000000000000000000';

/** A parsed WebVTT file: what a player would see. Strict enough to catch a cue that breaks the format. */
function parseVtt(body: string) {
  expect(body.endsWith('\n')).toBe(true);
  const blocks = body.replace(/\n+$/, '').split(/\n{2,}/);
  expect(blocks[0]).toBe('WEBVTT');
  const cues: Array<{ id: string; start: string; end: string; text: string }> = [];
  for (const block of blocks.slice(1)) {
    if (block === '') continue;
    const lines = block.split('\n');
    const timing = /^(\d{2,}:\d{2}:\d{2}\.\d{3}) --> (\d{2,}:\d{2}:\d{2}\.\d{3})$/.exec(lines[1] ?? '');
    expect(timing, `timing line of ${JSON.stringify(block)}`).not.toBeNull();
    const text = lines.slice(2);
    for (const l of text) expect(l).not.toContain('-->');
    cues.push({ id: lines[0]!, start: timing![1]!, end: timing![2]!, text: text.join('\n') });
  }
  return cues;
}

describe('captions over WebSocket', () => {
  let t: TestApp;
  let base: string;
  const sockets: TestSocket[] = [];
  beforeAll(async () => {
    t = await createTestApp({ env: { STREAMPLANE_CAPTIONS_RECENT_CUES: '3', STREAMPLANE_CAPTIONS_CUE_MAX_CHARS: '20' } });
    base = wsBase(await t.app.listen({ port: 0, host: '127.0.0.1' }));
  });
  afterAll(async () => {
    for (const s of sockets) s.close();
    await t.close();
  });
  const open = async (sessionId: string, token: string) => {
    const s = await openSocket(`${base}/ws/captions/${sessionId}?access_token=${token}`);
    sockets.push(s);
    return s;
  };
  const join = async (sessionId: string, token: string) => {
    const s = await open(sessionId, token);
    await s.next('joined');
    return s;
  };
  const stored = async (sid: string) => Number((await t.backends.database.query<{ n: string }>('SELECT count(*) AS n FROM caption_cues WHERE session_id = $1', [sid])).rows[0]!.n);
  const cue = (n: number, extra: Record<string, unknown> = {}) => ({ type: 'cue', start_ms: n * 1000, end_ms: n * 1000 + 900, text: `line ${n}`, lang: 'en', nonce: `c-${n}`, ...extra });
  const vtt = (sid: string, headers: Record<string, string>, query = '') => t.app.inject({ method: 'GET', url: `/api/v1/sessions/${sid}/captions.vtt${query}`, headers });

  it('delivers each cue to every viewer with increasing seq, and acks the sender after storing it', async () => {
    const sid = await newSession(t);
    const captioner = await open(sid, await mint(t, sid, 'captioner', ['publish_captions']));
    expect(await captioner.next('joined')).toEqual({ type: 'joined', seq: 0, cues: [] });
    const v1 = await join(sid, await mint(t, sid, 'v1', ['view']));
    const v2 = await join(sid, await mint(t, sid, 'v2', ['view']));

    captioner.send(cue(61, { end_ms: 63_500, text: 'Hello and welcome' }));
    const ack = await captioner.next('ack');
    expect(ack).toEqual({ type: 'ack', nonce: 'c-61', seq: 1 });
    expect(await stored(sid)).toBe(1);
    const expected = { type: 'cue', seq: 1, start_ms: 61_000, end_ms: 63_500, text: 'Hello and welcome', lang: 'en' };
    for (const s of [v1, v2, captioner]) {
      const f = await s.next('cue');
      expect(f).toMatchObject(expected);
      expect(new Date(f.ts as string).toISOString()).toBe(f.ts);
    }

    captioner.send(cue(64));
    captioner.send(cue(65, { lang: 'pt-BR' }));
    expect((await captioner.next('ack')).seq).toBe(2);
    expect((await captioner.next('ack')).seq).toBe(3);
    for (const s of [v1, v2, captioner]) {
      await eventually(() => s.of('cue').length === 3);
      expect(s.of('cue').map((f) => f.seq)).toEqual([1, 2, 3]);
    }
    expect(v1.of('cue')[2]).toMatchObject({ lang: 'pt-BR', text: 'line 65' });
  });

  it('sends a late joiner the latest STREAMPLANE_CAPTIONS_RECENT_CUES cues, then only newer ones', async () => {
    const sid = await newSession(t);
    const captioner = await join(sid, await mint(t, sid, 'captioner', PUB));
    for (let n = 1; n <= 5; n++) {
      captioner.send(cue(n));
      await captioner.next('ack');
    }
    const late = await open(sid, await mint(t, sid, 'late', ['view']));
    const joined = await late.next('joined');
    expect(joined.seq).toBe(5);
    expect((joined.cues as Frame[]).map((c) => [c.type, c.seq, c.text])).toEqual([['cue', 3, 'line 3'], ['cue', 4, 'line 4'], ['cue', 5, 'line 5']]);
    captioner.send(cue(6));
    expect(await late.next('cue')).toMatchObject({ seq: 6, text: 'line 6' });
    expect(late.of('cue')).toHaveLength(1);
  });

  it('answers joined first even when a cue is sent at once, and pong to ping', async () => {
    const sid = await newSession(t);
    const s = await open(sid, await mint(t, sid, 'quick', PUB));
    s.send(cue(1));
    s.send({ type: 'ping' });
    await s.next('ack');
    await s.next('pong');
    expect(s.frames[0]!.type).toBe('joined');
  });

  it('refuses cues from a token without publish_captions (forbidden), and stores nothing', async () => {
    const sid = await newSession(t);
    const viewer = await join(sid, await mint(t, sid, 'viewer', ['view']));
    viewer.send(cue(1));
    expect(await viewer.next('error')).toMatchObject({ type: 'error', code: 'forbidden', nonce: 'c-1' });
    expect(await stored(sid)).toBe(0);
  });

  it('refuses invalid cues with error frames and stores none of them', async () => {
    const sid = await newSession(t);
    const s = await join(sid, await mint(t, sid, 'captioner', PUB));
    const cases: Array<[unknown, string]> = [
      [cue(1, { end_ms: 1000 }), 'bad_frame'], // end == start
      [cue(1, { end_ms: 500 }), 'bad_frame'], // end < start
      [cue(1, { start_ms: -1 }), 'bad_frame'],
      [cue(1, { start_ms: 1.5 }), 'bad_frame'],
      [cue(1, { end_ms: 86_400_001 }), 'bad_frame'],
      [cue(1, { start_ms: '1000' }), 'bad_frame'],
      [cue(1, { text: 'x'.repeat(21) }), 'too_long'],
      [cue(1, { text: '' }), 'too_long'],
      [cue(1, { text: ' \n ' }), 'too_long'],
      [cue(1, { text: 'nul\u0000byte' }), 'bad_frame'],
      [cue(1, { lang: 'english!' }), 'bad_frame'],
      [cue(1, { lang: 'e' }), 'bad_frame'],
      [cue(1, { lang: `en-${'abcdefgh-'.repeat(4)}x1` }), 'bad_frame'], // over 35 characters
      [cue(1, { lang: undefined }), 'bad_frame'],
      [cue(1, { color: 'red' }), 'bad_frame'],
      [cue(1, { nonce: '' }), 'bad_frame'],
      [{ type: 'subtitle', text: 'x', nonce: 'c-1' }, 'bad_frame'],
      ['not json', 'bad_frame'],
      ['[1, 2]', 'bad_frame'],
    ];
    for (const [frame, code] of cases) {
      s.send(frame);
      const err = await s.next('error');
      expect(err, JSON.stringify(frame)).toMatchObject({ type: 'error', code });
      expect(typeof err.detail).toBe('string');
    }
    // Errors about a cue name it by its nonce, and say which field is wrong.
    s.send(cue(7, { start_ms: -5 }));
    expect(await s.next('error')).toMatchObject({ code: 'bad_frame', nonce: 'c-7', detail: expect.stringContaining('start_ms') });
    expect(await stored(sid)).toBe(0);
    expect(s.of('ack')).toHaveLength(0);
    expect(s.closed).toBeNull();
    // Characters are code points: 20 emoji fit in a 20-character cue.
    s.send(cue(2, { text: '👍'.repeat(20) }));
    expect(await s.next('ack')).toMatchObject({ nonce: 'c-2', seq: 1 });
  });

  it('closes a socket that sends a binary frame with 1003', async () => {
    const sid = await newSession(t);
    const s = await join(sid, await mint(t, sid, 'captioner', PUB));
    s.ws.send(Buffer.from(JSON.stringify(cue(1))), { binary: true });
    expect((await s.closedWith()).code).toBe(1003);
    expect(await stored(sid)).toBe(0);
  });

  it('refuses handshakes with a problem document: no token, other session, wrong scope, unknown or ended session', async () => {
    const sid = await newSession(t);
    const other = await newSession(t);
    expect(await refused(openSocket(`${base}/ws/captions/${sid}`))).toMatchObject({ status: 401, body: { code: 'token_missing' } });
    expect(await refused(openSocket(`${base}/ws/captions/${sid}?access_token=nope`))).toMatchObject({ status: 401, body: { code: 'token_invalid' } });
    expect(await refused(openSocket(`${base}/ws/captions/${sid}?access_token=${await mint(t, other, 'x', PUB)}`))).toMatchObject({ status: 403, body: { code: 'forbidden' } });
    expect(await refused(openSocket(`${base}/ws/captions/${sid}?access_token=${await mint(t, sid, 'x', ['chat'])}`))).toMatchObject({ status: 403, body: { code: 'forbidden' } });

    // A session that is gone from the database while its token is still good (tokens cannot be minted
    // for a session that does not exist).
    const gone = await newSession(t);
    const goneToken = await mint(t, gone, 'x', PUB);
    await t.backends.database.query('DELETE FROM sessions WHERE id = $1', [gone]);
    expect(await refused(openSocket(`${base}/ws/captions/${gone}?access_token=${goneToken}`))).toMatchObject({ status: 404, body: { code: 'not_found' } });

    const ended = await newSession(t);
    const endedToken = await mint(t, ended, 'x', PUB);
    // Ended in the database but not yet known to the token verifier's mirror (which reads ended_at):
    // the race the service's own check covers.
    await t.backends.database.query(`UPDATE sessions SET status = 'ended' WHERE id = $1`, [ended]);
    expect(await refused(openSocket(`${base}/ws/captions/${ended}?access_token=${endedToken}`))).toMatchObject({ status: 409, body: { code: 'session_ended' } });
  });

  it('serves the session\'s cues as a WebVTT file: ordered by start, escaped, one paragraph per cue', async () => {
    const sid = await newSession(t);
    const s = await join(sid, await mint(t, sid, 'captioner', PUB));
    const send = async (start_ms: number, end_ms: number, text: string, lang = 'en') => {
      s.send({ type: 'cue', start_ms, end_ms, text, lang, nonce: 'n' });
      return (await s.next('ack')).seq;
    };
    await send(3_725_042, 3_726_000, 'later, sent first'); // 01:02:05.042
    await send(1_000, 2_500, '<b>x</b> & --> y'); // at most 20 characters here
    await send(1_000, 1_800, 'same start,\n\n\nsecond');
    await send(5_000, 6_000, 'Olá', 'pt-BR');
    await send(7_000, 8_000, 'hi US', 'en-US');

    const res = await vtt(sid, operator());
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-type']).toBe('text/vtt; charset=utf-8');
    const cues = parseVtt(res.body);
    expect(cues).toEqual([
      { id: '2', start: '00:00:01.000', end: '00:00:02.500', text: '&lt;b&gt;x&lt;/b&gt; &amp; --&gt; y' },
      { id: '3', start: '00:00:01.000', end: '00:00:01.800', text: 'same start,\nsecond' },
      { id: '4', start: '00:00:05.000', end: '00:00:06.000', text: 'Olá' },
      { id: '5', start: '00:00:07.000', end: '00:00:08.000', text: 'hi US' },
      { id: '1', start: '01:02:05.042', end: '01:02:06.000', text: 'later, sent first' },
    ]);
    // The only arrows in the file are the timing lines'.
    expect(res.body.split('-->').length - 1).toBe(5);

    // lang: the tag and its more specific tags, case-insensitively.
    expect(parseVtt((await vtt(sid, operator(), '?lang=en')).body).map((c) => c.id)).toEqual(['2', '3', '5', '1']);
    expect(parseVtt((await vtt(sid, operator(), '?lang=EN-us')).body).map((c) => c.id)).toEqual(['5']);
    expect(parseVtt((await vtt(sid, operator(), '?lang=pt')).body).map((c) => c.text)).toEqual(['Olá']);
    expect(parseVtt((await vtt(sid, operator(), '?lang=fr')).body)).toEqual([]);
    expect((await vtt(sid, operator(), '?lang=e%25')).statusCode).toBe(400);

    // A viewer of the session may read it, and so may the captioner.
    expect((await vtt(sid, { authorization: `Bearer ${await mint(t, sid, 'v', ['view'])}` })).statusCode).toBe(200);
    expect((await vtt(sid, { authorization: `Bearer ${await mint(t, sid, 'c', ['publish_captions'])}` })).statusCode).toBe(200);
  });

  it('answers an empty WebVTT file for a session without cues', async () => {
    const sid = await newSession(t);
    const res = await vtt(sid, operator());
    expect(res.statusCode).toBe(200);
    expect(res.body).toBe('WEBVTT\n');
  });

  it('refuses the WebVTT file without credentials (401), for another session\'s viewer (403), for an unknown session (404)', async () => {
    const sid = await newSession(t);
    const other = await newSession(t);
    const noAuth = await vtt(sid, {});
    expect(noAuth.statusCode).toBe(401);
    expect(noAuth.headers['content-type']).toContain('application/problem+json');
    expect((await vtt(sid, { authorization: 'Bearer not-a-key' })).statusCode).toBe(401);
    const foreign = await vtt(sid, { authorization: `Bearer ${await mint(t, other, 'v', ['view'])}` });
    expect(foreign.statusCode).toBe(403);
    expect(foreign.json()).toMatchObject({ code: 'forbidden' });
    expect((await vtt(sid, { authorization: `Bearer ${await mint(t, sid, 'v', ['chat'])}` })).statusCode).toBe(403);
    const unknown = await vtt(UNKNOWN_SESSION, operator());
    expect(unknown.statusCode).toBe(404);
    expect(unknown.json()).toMatchObject({ code: 'not_found' });
    expect((await vtt('not-a-session', operator())).statusCode).toBe(400);
  });

  it('takes a viewer token as ?access_token= for a <track src> (never an operator key)', async () => {
    const sid = await newSession(t);
    const ok = await vtt(sid, {}, `?access_token=${await mint(t, sid, 'track', ['view'])}`);
    expect(ok.statusCode).toBe(200);
    expect(ok.body).toMatch(/^WEBVTT/);
    expect((await vtt(sid, {}, `?access_token=${encodeURIComponent('test-admin-key-0123456789abcdefghijklmnop')}`)).statusCode).toBe(401);
    expect((await vtt(sid, {}, '?access_token=a.b.c')).statusCode).toBe(401);
  });
});
