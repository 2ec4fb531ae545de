import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestApp, eventually, operator, type TestApp } from '../helpers/app.js';
import { expectProblem } from '../helpers/problem.js';
import { newSession, nginxCallback, registerNode, startIngest } from './support.js';

const get = (t: TestApp, url: string) => t.app.inject({ method: 'GET', url, headers: operator() });
const post = (t: TestApp, url: string, payload?: unknown) => t.app.inject({ method: 'POST', url, headers: operator(), ...(payload === undefined ? {} : { payload: payload as object }) });

describe('ingest: routing, stream keys, publish authorization and the session lifecycle', () => {
  let t: TestApp;
  let a: Awaited<ReturnType<typeof registerNode>>;
  let b: Awaited<ReturnType<typeof registerNode>>;
  beforeAll(async () => {
    // Short windows so the lifecycle can be watched without waiting a minute.
    t = await createTestApp({ env: { STREAMPLANE_INGEST_MONITOR_MS: '50', STREAMPLANE_INGEST_BAD_KEY_LIMIT: '5' } });
    a = await registerNode(t.app, { name: 'a', region: 'eu', ingest_url: 'rtmp://10.0.0.5:1935/live', limits: { max_bitrate_kbps: 2500 } });
    b = await registerNode(t.app, { name: 'b', region: 'us', ingest_url: 'rtmp://10.0.0.6:1935/live' });
  });
  afterAll(async () => t.close());

  it('routes by region, issues a one-time key and encoder settings within the node limits', async () => {
    const session = await newSession(t.app);
    const res = await post(t, '/api/v1/ingest/start', { session_id: session, region: 'eu', quality_profile: '1080p30' });
    expect(res.statusCode).toBe(201);
    const ing = res.json();
    expect(ing.stream_key).toMatch(/^sk_[A-Za-z0-9_-]{43}$/);
    expect(ing.primary).toEqual({ node_id: a.id, url: 'rtmp://10.0.0.5:1935/live', publish_url: `rtmp://10.0.0.5:1935/live/${ing.stream_key}` });
    expect(ing.backup).toBeNull();
    expect(ing.encoder_settings).toMatchObject({ video_codec: 'h264', width: 1920, height: 1080, frame_rate: 30, video_bitrate_kbps: 2500, keyframe_interval_seconds: 2, audio_codec: 'aac' });
    expect(ing.encoder_settings.adjusted[0]).toMatch(/bitrate/);
    // The key is never shown again.
    expect((await get(t, `/api/v1/ingest/${ing.id}/status`)).body).not.toContain(ing.stream_key);
    expectProblem(await post(t, '/api/v1/ingest/start', { session_id: session }), 409, 'ingest_exists');
  });

  it('a redundant ingest gets a backup on another machine; without one it is 503 with the reason', async () => {
    const ing = await startIngest(t.app, { session_id: await newSession(t.app), redundant: true, region: 'us' });
    expect(ing.primary.node_id).toBe(b.id);
    expect(ing.backup?.node_id).toBe(a.id);

    await post(t, `/api/v1/ingest/nodes/${b.id}/drain`);
    const res = await post(t, '/api/v1/ingest/start', { session_id: await newSession(t.app), redundant: true });
    expectProblem(res, 503, 'no_backup_node');
    await post(t, `/api/v1/ingest/nodes/${a.id}/drain`);
    expectProblem(await post(t, '/api/v1/ingest/start', { session_id: await newSession(t.app) }), 503, 'no_node');
    await post(t, `/api/v1/ingest/nodes/${a.id}/undrain`);
    await post(t, `/api/v1/ingest/nodes/${b.id}/undrain`);
  });

  it('refuses unknown and ended sessions and malformed bodies', async () => {
    expectProblem(await post(t, '/api/v1/ingest/start', { session_id: 'ses_01jq3v8c9x2m4n6p7r8s9t0vwx' }), 404);
    const ended = await newSession(t.app);
    await post(t, '/api/v1/sessions/stop', { session_id: ended });
    expectProblem(await post(t, '/api/v1/ingest/start', { session_id: ended }), 409, 'session_ended');
    expectProblem(await post(t, '/api/v1/ingest/start', { session_id: ended, protocol: 'srt' }), 400, 'validation_failed', 'body.protocol');
    expectProblem(await post(t, '/api/v1/ingest/start', { session_id: ended, quality_profile: '8k' }), 400, 'validation_failed', 'body.quality_profile');
    expectProblem(await post(t, '/api/v1/ingest/stop', {}), 400, 'bad_reference');
    expectProblem(await post(t, '/api/v1/ingest/stop', { ingest_id: 'ing_01jq3v8c9x2m4n6p7r8s9t0vwx' }), 404);
    expectProblem(await t.app.inject({ method: 'POST', url: '/api/v1/ingest/start', payload: { session_id: ended } }), 401);
  });

  it('the right key goes live under the session id (302 rename); the session goes live; a wrong key is refused', async () => {
    const session = await newSession(t.app);
    const ing = await startIngest(t.app, { session_id: session, region: 'eu' });
    const ok = await nginxCallback(t.app, a, 'on_publish', { name: ing.stream_key });
    expect(ok.statusCode).toBe(302);
    expect(ok.headers.location).toBe(session);
    await eventually(async () => (await get(t, `/api/v1/sessions/${session}`)).json().status === 'live');
    const status = (await get(t, `/api/v1/ingest/${ing.id}/status`)).json();
    expect(status).toMatchObject({ status: 'live', active_side: 'primary', playback_origin: `rtmp://10.0.0.5:1935/live/${session}` });
    expect(status.sides.primary.publisher).toMatchObject({ state: 'publishing', addr: '127.0.0.1' });

    const wrong = await nginxCallback(t.app, a, 'on_publish', { name: `sk_${'A'.repeat(43)}` });
    expect(wrong.statusCode).toBe(403);
    const garbage = await nginxCallback(t.app, a, 'on_publish', { name: 'not-a-key' });
    expect(garbage.statusCode).toBe(403);
    // The key is for node a: publishing it on node b is refused.
    expect((await nginxCallback(t.app, b, 'on_publish', { name: ing.stream_key })).statusCode).toBe(403);
  });

  it('update callbacks keep the stream; ingest/stop kicks it at the next update and ends the session', async () => {
    const session = await newSession(t.app);
    const ing = await startIngest(t.app, { session_id: session, region: 'eu' });
    await nginxCallback(t.app, a, 'on_publish', { name: ing.stream_key, clientid: '7' });
    expect((await nginxCallback(t.app, a, 'on_update', { name: ing.stream_key, clientid: '7' })).statusCode).toBe(200);
    const stopped = await post(t, '/api/v1/ingest/stop', { ingest_id: ing.id });
    expect(stopped.json()).toMatchObject({ status: 'ended', end_reason: 'stopped' });
    expect((await nginxCallback(t.app, a, 'on_update', { name: ing.stream_key, clientid: '7' })).statusCode).toBe(403);
    expect((await nginxCallback(t.app, a, 'on_publish', { name: ing.stream_key })).statusCode).toBe(403);
    await eventually(async () => (await get(t, `/api/v1/sessions/${session}`)).json().status === 'ended');
    // Idempotent, and a late publish_done for the stopped ingest changes nothing.
    expect((await post(t, '/api/v1/ingest/stop', { session_id: session })).json().status).toBe('ended');
    expect((await nginxCallback(t.app, a, 'on_publish_done', { name: ing.stream_key, clientid: '7' })).statusCode).toBe(200);
    expect((await get(t, `/api/v1/ingest/${ing.id}/status`)).json()).toMatchObject({ status: 'ended', end_reason: 'stopped' });
  });

  it('sessions/stop ends the ingest and refuses the publisher at its next update', async () => {
    const session = await newSession(t.app);
    const ing = await startIngest(t.app, { session_id: session, region: 'eu' });
    await nginxCallback(t.app, a, 'on_publish', { name: ing.stream_key, clientid: '8' });
    await post(t, '/api/v1/sessions/stop', { session_id: session });
    await eventually(async () => (await get(t, `/api/v1/ingest/${ing.id}/status`)).json().status === 'ended');
    await eventually(async () => (await nginxCallback(t.app, a, 'on_update', { name: ing.stream_key, clientid: '8' })).statusCode === 403);
  });

  it('a publisher that drops and comes back within the reconnect window resumes the same session', async () => {
    const session = await newSession(t.app);
    const ing = await startIngest(t.app, { session_id: session, region: 'eu', reconnect_window_seconds: 60 });
    await nginxCallback(t.app, a, 'on_publish', { name: ing.stream_key, clientid: '20' });
    await nginxCallback(t.app, a, 'on_publish_done', { name: ing.stream_key, clientid: '20' });
    // at-least-once: the duplicate changes nothing
    await nginxCallback(t.app, a, 'on_publish_done', { name: ing.stream_key, clientid: '20' });
    const waiting = (await get(t, `/api/v1/ingest/${ing.id}/status`)).json();
    expect(waiting.status).toBe('reconnecting');
    expect(waiting.reconnect_deadline).not.toBeNull();
    expect((await nginxCallback(t.app, a, 'on_publish', { name: ing.stream_key, clientid: '21' })).statusCode).toBe(302);
    expect((await get(t, `/api/v1/ingest/${ing.id}/status`)).json().status).toBe('live');
    expect((await get(t, `/api/v1/sessions/${session}`)).json().status).toBe('live');
    // A late done of the replaced publisher does not end the new one.
    await nginxCallback(t.app, a, 'on_publish_done', { name: ing.stream_key, clientid: '20' });
    expect((await get(t, `/api/v1/ingest/${ing.id}/status`)).json().status).toBe('live');
  });

  it('a new publish with the same key replaces a stale publisher instead of being refused', async () => {
    const ing = await startIngest(t.app, { session_id: await newSession(t.app), region: 'eu' });
    await nginxCallback(t.app, a, 'on_publish', { name: ing.stream_key, clientid: '30' });
    expect((await nginxCallback(t.app, a, 'on_publish', { name: ing.stream_key, clientid: '31' })).statusCode).toBe(302);
    expect((await get(t, `/api/v1/ingest/${ing.id}/status`)).json().sides.primary.publisher.client_id).toBe('31');
  });

  it('past the reconnect window the ingest and its session end', async () => {
    const session = await newSession(t.app);
    const ing = await startIngest(t.app, { session_id: session, region: 'eu', reconnect_window_seconds: 0 });
    await nginxCallback(t.app, a, 'on_publish', { name: ing.stream_key, clientid: '40' });
    await nginxCallback(t.app, a, 'on_publish_done', { name: ing.stream_key, clientid: '40' });
    await eventually(async () => (await get(t, `/api/v1/ingest/${ing.id}/status`)).json().end_reason === 'reconnect_window_expired');
    await eventually(async () => (await get(t, `/api/v1/sessions/${session}`)).json().status === 'ended');
  });

  it('rotation keeps the old key working for the overlap; revocation refuses both and kicks at the next update', async () => {
    const ing = await startIngest(t.app, { session_id: await newSession(t.app), region: 'eu' });
    const rotated = (await post(t, `/api/v1/ingest/${ing.id}/stream-key/rotate`, { overlap_seconds: 600 })).json();
    expect(rotated.stream_key).not.toBe(ing.stream_key);
    expect((await nginxCallback(t.app, a, 'on_publish', { name: ing.stream_key, clientid: '50' })).statusCode).toBe(302);
    expect((await nginxCallback(t.app, a, 'on_publish', { name: rotated.stream_key, clientid: '51' })).statusCode).toBe(302);
    const again = (await post(t, `/api/v1/ingest/${ing.id}/stream-key/rotate`, { overlap_seconds: 0 })).json();
    expect((await nginxCallback(t.app, a, 'on_publish', { name: rotated.stream_key })).statusCode).toBe(403);
    expect((await nginxCallback(t.app, a, 'on_publish', { name: again.stream_key, clientid: '52' })).statusCode).toBe(302);
    expect((await post(t, `/api/v1/ingest/${ing.id}/stream-key/revoke`)).json().revoked).toBeGreaterThan(0);
    expect((await nginxCallback(t.app, a, 'on_publish', { name: again.stream_key })).statusCode).toBe(403);
    expect((await nginxCallback(t.app, a, 'on_update', { name: again.stream_key, clientid: '52' })).statusCode).toBe(403);
  });

  it('repeated bad keys from one address are throttled, even for a good key, and counted', async () => {
    const ing = await startIngest(t.app, { session_id: await newSession(t.app), region: 'eu' });
    for (let i = 0; i < 5; i++) await nginxCallback(t.app, a, 'on_publish', { name: `sk_${String(i).repeat(43)}`, addr: '203.0.113.9' });
    expect((await nginxCallback(t.app, a, 'on_publish', { name: ing.stream_key, addr: '203.0.113.9' })).statusCode).toBe(403);
    expect((await nginxCallback(t.app, a, 'on_publish', { name: ing.stream_key, addr: '198.51.100.1' })).statusCode).toBe(302);
    const metrics = await t.app.inject({ method: 'GET', url: '/metrics' });
    expect(metrics.body).toMatch(/streamplane_ingest_throttled_publishes_total [1-9]/);
    expect(metrics.body).toMatch(/streamplane_ingest_bad_stream_keys_total [1-9]/);
  });

  it('a burst of concurrent publishes (batched into few statements) answers each one correctly, repeats of a key included', async () => {
    const ings = await Promise.all(Array.from({ length: 12 }, async () => startIngest(t.app, { session_id: await newSession(t.app), region: 'eu' })));
    const calls = [...ings, ings[0]!, ings[1]!].map((ing, i) => nginxCallback(t.app, a, 'on_publish', { name: ing.stream_key, clientid: String(1000 + i), addr: `192.0.2.${i}` }));
    calls.push(nginxCallback(t.app, a, 'on_publish', { name: `sk_${'Z'.repeat(43)}`, addr: '192.0.2.200' }));
    const answers = await Promise.all(calls);
    expect(answers.slice(0, 14).map((r) => r.statusCode)).toEqual(Array(14).fill(302));
    expect(answers.slice(0, 12).map((r) => r.headers.location)).toEqual(ings.map((i) => i.session_id));
    expect(answers[14]!.statusCode).toBe(403);
    for (const ing of ings) expect((await get(t, `/api/v1/ingest/${ing.id}/status`)).json().status).toBe('live');
  });

  it('players may play the public name of a live session, never the key', async () => {
    const session = await newSession(t.app);
    const ing = await startIngest(t.app, { session_id: session, region: 'eu' });
    await nginxCallback(t.app, a, 'on_publish', { name: ing.stream_key });
    expect((await nginxCallback(t.app, a, 'on_play', { name: session })).statusCode).toBe(200);
    expect((await nginxCallback(t.app, a, 'on_play', { name: ing.stream_key })).statusCode).toBe(403);
    expect((await nginxCallback(t.app, a, 'on_play', { name: 'ses_01jq3v8c9x2m4n6p7r8s9t0vwx' })).statusCode).toBe(403);
  });

  it('bad callbacks: unknown node, wrong secret, unknown hook, malformed and oversized bodies change nothing', async () => {
    const ing = await startIngest(t.app, { session_id: await newSession(t.app), region: 'eu' });
    const path = new URL(a.hooks.on_publish!).pathname;
    const form = { 'content-type': 'application/x-www-form-urlencoded' };
    const body = `app=live&call=publish&name=${ing.stream_key}&addr=127.0.0.1&clientid=1`;
    expectProblem(await t.app.inject({ method: 'POST', url: path.replace(/\/[^/]+\/on_publish$/, '/wrongsecretwrongsecretwrongsecr/on_publish'), headers: form, payload: body }), 401, 'bad_hook_credentials');
    expectProblem(await t.app.inject({ method: 'POST', url: path.replace(a.id, 'nd_01jq3v8c9x2m4n6p7r8s9t0vwx'), headers: form, payload: body }), 401);
    expectProblem(await t.app.inject({ method: 'POST', url: path.replace(/on_publish$/, 'on_record_done'), headers: form, payload: body }), 404, 'unknown_hook');
    expectProblem(await t.app.inject({ method: 'POST', url: path, headers: form, payload: 'app=live&call=update_publish' }), 400, 'bad_callback');
    expectProblem(await t.app.inject({ method: 'POST', url: path, headers: form, payload: `${body}&pad=${'x'.repeat(20_000)}` }), 413);
    expect((await get(t, `/api/v1/ingest/${ing.id}/status`)).json().status).toBe('idle');
  });

  it('manual failover is refused when there is no healthy other side', async () => {
    const single = await startIngest(t.app, { session_id: await newSession(t.app), region: 'eu' });
    expectProblem(await post(t, `/api/v1/ingest/${single.id}/failover`), 409, 'not_redundant');
    const red = await startIngest(t.app, { session_id: await newSession(t.app), redundant: true });
    expectProblem(await post(t, `/api/v1/ingest/${red.id}/failover`), 409, 'other_side_unhealthy');
    expectProblem(await post(t, `/api/v1/ingest/${red.id}/failover`, { force: true }), 400);
  });
});

describe('ingest list and validation messages', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await createTestApp();
    await registerNode(t.app, { name: 'l', region: 'eu' });
  });
  afterAll(async () => t.close());

  it('lists ingests by session and status, newest first, with cursors', async () => {
    const s1 = await newSession(t.app);
    const first = await startIngest(t.app, { session_id: s1 });
    await post(t, '/api/v1/ingest/stop', { ingest_id: first.id });
    const second = await startIngest(t.app, { session_id: await newSession(t.app) });
    const third = await startIngest(t.app, { session_id: await newSession(t.app) });
    const page1 = (await get(t, '/api/v1/ingest?limit=2')).json();
    expect(page1.data.map((i: { id: string }) => i.id)).toEqual([third.id, second.id]);
    const page2 = (await get(t, `/api/v1/ingest?limit=2&cursor=${page1.next_cursor}`)).json();
    expect(page2).toEqual({ data: [expect.objectContaining({ id: first.id, status: 'ended', end_reason: 'stopped' })], next_cursor: null });
    expect((await get(t, `/api/v1/ingest?session_id=${s1}`)).json().data.map((i: { id: string }) => i.id)).toEqual([first.id]);
    expect((await get(t, '/api/v1/ingest?status=idle')).json().data).toHaveLength(2);
    expectProblem(await get(t, '/api/v1/ingest?cursor=bm9wZQ'), 400, 'bad_cursor');
    expectProblem(await t.app.inject({ method: 'GET', url: '/api/v1/ingest' }), 401);
  });

  it('names the allowed values of a field that takes one of a few', async () => {
    const res = await post(t, '/api/v1/ingest/start', { session_id: await newSession(t.app), quality_profile: '4k' });
    const p = expectProblem(res, 400, 'validation_failed', 'body.quality_profile');
    expect(p.errors).toEqual([{ field: 'body.quality_profile', message: 'must be one of "480p30", "720p30", "720p60", "1080p30", "1080p60"' }]);
  });

  it('node lists leave the secret-bearing hook URLs out', async () => {
    const list = (await get(t, '/api/v1/ingest/nodes')).json();
    expect(list.data[0].hooks).toBeUndefined();
  });
});

describe('out-of-order callbacks and a process running ingest alone', () => {
  it('a publish_done that arrives before its publish changes nothing; the publish still goes live', async () => {
    const t = await createTestApp();
    try {
      const a = await registerNode(t.app, { name: 'o' });
      const ing = await startIngest(t.app, { session_id: await newSession(t.app) });
      expect((await nginxCallback(t.app, a, 'on_publish_done', { name: ing.stream_key, clientid: '9' })).statusCode).toBe(200);
      expect((await nginxCallback(t.app, a, 'on_update', { name: ing.stream_key, clientid: '9' })).statusCode).toBe(200);
      expect((await get(t, `/api/v1/ingest/${ing.id}/status`)).json().status).toBe('idle');
      expect((await nginxCallback(t.app, a, 'on_publish', { name: ing.stream_key, clientid: '9' })).statusCode).toBe(302);
      expect((await get(t, `/api/v1/ingest/${ing.id}/status`)).json().status).toBe('live');
    } finally {
      await t.close();
    }
  });

  it('STREAMPLANE_SERVICES=ingest serves the ingest API alone, with the shared operator keys', async () => {
    const t = await createTestApp({ env: { STREAMPLANE_SERVICES: 'ingest' } });
    try {
      expect((await get(t, '/api/v1/ingest/nodes')).statusCode).toBe(200);
      expectProblem(await t.app.inject({ method: 'GET', url: '/api/v1/ingest/nodes' }), 401);
      expectProblem(await post(t, '/api/v1/sessions/start', {}), 404);
    } finally {
      await t.close();
    }
  });
});
