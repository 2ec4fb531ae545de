import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventually, operator, SHARED_BACKENDS, twoInstances, type TestApp } from '../helpers/app.js';
import { mint, newSession, openSocket, wsBase, type TestSocket } from '../realtime/support.js';

/** Captions behind a load balancer: a cue published on either instance reaches the viewers of both, in one seq order. */
describe.skipIf(!SHARED_BACKENDS)('captions on two instances (PostgreSQL + Redis)', () => {
  const pair = twoInstances('captions two-instances');
  let a: TestApp;
  let b: TestApp;
  const base = {} as { a: string; b: string };
  const sockets: TestSocket[] = [];
  beforeAll(async () => {
    ({ a, b } = pair);
    base.a = wsBase(await a.app.listen({ port: 0, host: '127.0.0.1' }));
    base.b = wsBase(await b.app.listen({ port: 0, host: '127.0.0.1' }));
  });
  afterAll(() => {
    for (const s of sockets) s.close();
  });
  const join = async (on: string, sid: string, token: string) => {
    const s = await openSocket(`${on}/ws/captions/${sid}?access_token=${token}`);
    sockets.push(s);
    await s.next('joined');
    return s;
  };

  it('delivers cues from both instances to viewers on both, with one strictly increasing seq', async () => {
    const sid = await newSession(a);
    const capA = await join(base.a, sid, await mint(a, sid, 'captioner-a', ['publish_captions']));
    const capB = await join(base.b, sid, await mint(a, sid, 'captioner-b', ['publish_captions']));
    const viewerA = await join(base.a, sid, await mint(a, sid, 'viewer-a', ['view']));
    const viewerB = await join(base.b, sid, await mint(a, sid, 'viewer-b', ['view']));

    capA.send({ type: 'cue', start_ms: 0, end_ms: 900, text: 'from A', lang: 'en', nonce: 'first' });
    expect(await viewerB.next('cue')).toMatchObject({ seq: 1, text: 'from A' });

    // Both captioners at once: the seqs interleave, and every viewer sees them all, once, in order.
    const N = 20;
    for (let i = 0; i < N; i++) {
      capA.send({ type: 'cue', start_ms: 1000 + i * 100, end_ms: 1050 + i * 100, text: `A${i}`, lang: 'en', nonce: `a${i}` });
      capB.send({ type: 'cue', start_ms: 1000 + i * 100, end_ms: 1050 + i * 100, text: `B${i}`, lang: 'en', nonce: `b${i}` });
    }
    await eventually(() => capA.of('ack').length === N + 1 && capB.of('ack').length === N);
    const acked = [...capA.of('ack'), ...capB.of('ack')].map((f) => f.seq as number).sort((x, y) => x - y);
    expect(acked).toEqual(Array.from({ length: 2 * N + 1 }, (_, i) => i + 1));

    const all = [viewerA, viewerB, capA, capB];
    for (const s of all) await eventually(() => s.of('cue').length === 2 * N + 1);
    const seen = viewerA.of('cue').map((f) => [f.seq, f.text]);
    expect(seen.map(([seq]) => seq)).toEqual(Array.from({ length: 2 * N + 1 }, (_, i) => i + 1));
    for (const s of all) expect(s.of('cue').map((f) => [f.seq, f.text])).toEqual(seen);
    // Each captioner's own cues keep the order it sent them in.
    const ofA = seen.filter(([, text]) => String(text).startsWith('A')).map(([, text]) => text);
    expect(ofA).toEqual(Array.from({ length: N }, (_, i) => `A${i}`));

    // The WebVTT file on either instance holds every cue.
    const vtt = await b.app.inject({ method: 'GET', url: `/api/v1/sessions/${sid}/captions.vtt`, headers: operator() });
    expect(vtt.body.split('-->').length - 1).toBe(2 * N + 1);
  });
});
