import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ingestRepository as repo, type PublishRequest } from '../../src/services/ingest/ingests/ingest.repository.js';
import { hashStreamKey } from '../../src/services/ingest/ingests/stream-key.js';
import { createTestApp, operator, type TestApp } from '../helpers/app.js';
import { newSession, nginxCallback, registerNode, startIngest } from './support.js';

/**
 * The repository reads that the hot paths make cheap: publish authorization through the
 * `ingest_authorize_publishes` function (JSON in and out), and the monitor's reads of open ingests and
 * their publishers as JSON documents. They must answer exactly what plain SQL would.
 */
describe('ingest repository: publish authorization and the monitor reads', () => {
  let t: TestApp;
  let a: Awaited<ReturnType<typeof registerNode>>;
  let b: Awaited<ReturnType<typeof registerNode>>;
  const db = () => t.backends.database;
  const request = (key: string, nodeId: string, over: Partial<PublishRequest> = {}): PublishRequest => ({
    keyHash: hashStreamKey(key),
    nodeId,
    clientId: '7',
    addr: '192.0.2.7',
    app: 'live',
    streamName: null,
    renames: true,
    ...over,
  });

  beforeAll(async () => {
    t = await createTestApp();
    a = await registerNode(t.app, { name: 'a', region: 'eu', ingest_url: 'rtmp://10.0.0.5:1935/live' });
    b = await registerNode(t.app, { name: 'b', region: 'us', ingest_url: 'rtmp://10.0.0.6:1935/live' });
  });
  afterAll(async () => t.close());

  it('answers each request of a batch by its position: accepted, refused, or unknown (no row)', async () => {
    const fresh = await startIngest(t.app, { session_id: await newSession(t.app), region: 'eu' });
    const revoked = await startIngest(t.app, { session_id: await newSession(t.app), region: 'eu' });
    const expired = await startIngest(t.app, { session_id: await newSession(t.app), region: 'eu' });
    const ended = await startIngest(t.app, { session_id: await newSession(t.app), region: 'eu' });
    const elsewhere = await startIngest(t.app, { session_id: await newSession(t.app), region: 'eu' });
    const now = new Date();
    await repo.revokeKeys(db(), revoked.id, now);
    await db().query('UPDATE ingest_stream_keys SET expires_at = $2 WHERE ingest_id = $1', [expired.id, new Date(now.getTime() - 1_000)]);
    await repo.end(db(), ended.id, 'test', now);

    const answers = await repo.authorizePublishes(
      db(),
      [
        request(fresh.stream_key, a.id, { clientId: '41', addr: '192.0.2.41', app: 'live2', streamName: 'shown', renames: false }),
        request(`sk_${'Q'.repeat(43)}`, a.id),
        request(revoked.stream_key, a.id),
        request(expired.stream_key, a.id),
        request(ended.stream_key, a.id),
        request(elsewhere.stream_key, b.id),
      ],
      now,
    );
    const byN = new Map(answers.map((r) => [r.n, r]));
    expect(answers).toHaveLength(5);
    expect(byN.get(0)).toEqual({
      n: 0,
      ingest_id: fresh.id,
      session_id: fresh.session_id,
      status: 'idle',
      primary_node_id: a.id,
      backup_node_id: null,
      expires_at: null,
      revoked_at: null,
      accepted: true,
    });
    expect(byN.has(1)).toBe(false);
    expect(byN.get(2)).toMatchObject({ ingest_id: revoked.id, accepted: false, revoked_at: now });
    expect(byN.get(3)).toMatchObject({ ingest_id: expired.id, accepted: false, expires_at: new Date(now.getTime() - 1_000) });
    expect(byN.get(4)).toMatchObject({ ingest_id: ended.id, status: 'ended', accepted: false });
    expect(byN.get(5)).toMatchObject({ ingest_id: elsewhere.id, status: 'idle', accepted: false });

    // Only the accepted publish was recorded, with what the callback said; the ingest went live.
    const [pub] = await repo.publishers(db(), [fresh.id, revoked.id, expired.id, ended.id, elsewhere.id]);
    expect(pub).toMatchObject({ ingest_id: fresh.id, side: 'primary', node_id: a.id, client_id: '41', addr: '192.0.2.41', app: 'live2', stream_name: 'shown', state: 'publishing', started_at: now, last_seen_at: now });
    expect(await repo.get(db(), fresh.id)).toMatchObject({ status: 'live', live_at: now });
    for (const id of [revoked.id, expired.id, elsewhere.id]) expect((await repo.get(db(), id))?.status).toBe('idle');

    // Again later (a reconnect): the previous status is live, the publisher is replaced, live_at is kept.
    const later = new Date(now.getTime() + 5_000);
    const [again] = await repo.authorizePublishes(db(), [request(fresh.stream_key, a.id, { clientId: '42' })], later);
    expect(again).toMatchObject({ n: 0, status: 'live', accepted: true });
    expect((await repo.publishers(db(), [fresh.id]))[0]).toMatchObject({ client_id: '42', stream_name: fresh.session_id, started_at: later });
    expect((await repo.get(db(), fresh.id))?.live_at).toEqual(now);
    expect(await repo.authorizePublishes(db(), [], later)).toEqual([]);
  });

  it('a field PostgreSQL cannot store (U+0000, a lone surrogate) does not fail the batch it is in', async () => {
    const poisoned = await startIngest(t.app, { session_id: await newSession(t.app), region: 'eu' });
    const clean = await startIngest(t.app, { session_id: await newSession(t.app), region: 'eu' });
    const answers = await repo.authorizePublishes(
      db(),
      [request(poisoned.stream_key, a.id, { app: 'li\u0000ve', clientId: '4\ud8002', addr: '\udc00', streamName: 'x', renames: false }), request(clean.stream_key, a.id)],
      new Date(),
    );
    expect(answers.map((r) => [r.n, r.accepted])).toEqual([[0, true], [1, true]]);
    expect((await repo.publishers(db(), [poisoned.id]))[0]).toMatchObject({ app: 'li\ufffdve', client_id: '4\ufffd2', addr: '\ufffd' });
    // Through the callback route too: nginx-rtmp percent-decodes what the encoder sent.
    const again = await nginxCallback(t.app, a, 'on_publish', { name: poisoned.stream_key, addr: '192.0.2.9\u0000' });
    expect(again.statusCode).toBe(302);
  });

  it('reads open ingests and their publishers exactly as SELECT * does (every column, timestamps as Date)', async () => {
    // Rows with every nullable column filled: a redundant ingest live on both sides that failed over,
    // went reconnecting and has a publisher that left.
    const ing = await startIngest(t.app, { session_id: await newSession(t.app), redundant: true });
    for (const node of [a, b]) expect((await nginxCallback(t.app, node, 'on_publish', { name: ing.stream_key })).statusCode).toBe(302);
    const at = new Date(Date.now() + 1_234);
    await repo.failover(db(), ing.id, 'primary', 'backup', 'test', true, at);
    await repo.endPublisher(db(), ing.id, 'primary', null, 'test', at);
    await db().query(`UPDATE ingests SET status = 'reconnecting', disconnected_at = $2 WHERE id = $1`, [ing.id, at]);
    expect((await t.app.inject({ method: 'GET', url: `/api/v1/ingest/${ing.id}/status`, headers: operator() })).statusCode).toBe(200);

    const plainOpen = (await db().query(`SELECT * FROM ingests WHERE status <> 'ended' ORDER BY id`)).rows;
    expect(plainOpen.length).toBeGreaterThan(1);
    expect(await repo.open(db())).toEqual(plainOpen);
    const row = plainOpen.find((r) => r.id === ing.id)!;
    for (const c of ['backup_node_id', 'live_at', 'disconnected_at', 'last_failover_at'] as const) expect(row[c]).not.toBeNull();

    const ids = plainOpen.map((r) => r.id as string);
    const plainPublishers = (await db().query('SELECT * FROM ingest_publishers WHERE ingest_id = ANY($1::text[])', [ids])).rows;
    const sort = (rows: Array<Record<string, unknown>>) => [...rows].sort((x, y) => `${x.ingest_id}/${x.side}`.localeCompare(`${y.ingest_id}/${y.side}`));
    expect(sort((await repo.publishers(db(), ids)) as unknown as Array<Record<string, unknown>>)).toEqual(sort(plainPublishers));
    expect(plainPublishers.find((p) => p.ingest_id === ing.id && p.side === 'primary')).toMatchObject({ ended_at: at, end_reason: 'test' });
    expect(await repo.publishers(db(), [])).toEqual([]);
    expect(await repo.publishers(db(), ['ing_none'])).toEqual([]);
  });
});
