import { beforeAll, describe, expect, it } from 'vitest';
import { eventually, operator, SHARED_BACKENDS, twoInstances, type TestApp } from '../helpers/app.js';
import { newSession, nginxCallback, registerNode, startIngest, StatServer } from '../ingest/support.js';

/**
 * Two instances of the ingest service on one PostgreSQL schema and one Redis prefix, as behind a load
 * balancer: nginx's callbacks land on either. Needs DATABASE_URL and REDIS_URL.
 */
describe.skipIf(!SHARED_BACKENDS)('ingest on two instances (PostgreSQL + Redis)', () => {
  const pair = twoInstances('ingest two-instances', { STREAMPLANE_INGEST_STATS_POLL_MS: '100', STREAMPLANE_INGEST_MONITOR_MS: '50', STREAMPLANE_INGEST_STALL_MS: '600', STREAMPLANE_INGEST_NODE_TIMEOUT_MS: '300' });
  let a: TestApp;
  let b: TestApp;
  beforeAll(() => {
    ({ a, b } = pair);
  });
  const get = (t: TestApp, url: string) => t.app.inject({ method: 'GET', url, headers: operator() });

  it('a node registered on one instance authenticates callbacks on the other; a stop on one kicks at the next update on the other', async () => {
    const node = await registerNode(a.app, { name: 'shared-node', region: 'mi' });
    const session = await newSession(a.app);
    const ing = await startIngest(a.app, { session_id: session, region: 'mi' });
    expect((await nginxCallback(b.app, node, 'on_publish', { name: ing.stream_key, clientid: '1' })).statusCode).toBe(302);
    await eventually(async () => (await get(a, `/api/v1/sessions/${session}`)).json().status === 'live');
    // Instance a caches the key on this update...
    expect((await nginxCallback(a.app, node, 'on_update', { name: ing.stream_key, clientid: '1' })).statusCode).toBe(200);
    // ...and b stops the ingest: a refuses the next update (the Bus clears a's cache).
    await b.app.inject({ method: 'POST', url: '/api/v1/ingest/stop', headers: operator(), payload: { ingest_id: ing.id } });
    await eventually(async () => (await nginxCallback(a.app, node, 'on_update', { name: ing.stream_key, clientid: '1' })).statusCode === 403);
  });

  it('both instances watch the same redundant ingest and exactly one failover is recorded', async () => {
    const ps = new StatServer();
    const bs = new StatServer();
    const pu = await ps.start();
    const bu = await bs.start();
    const timer = setInterval(() => {
      for (const s of [ps, bs]) for (const name of s.streams.keys()) s.grow(name);
    }, 50);
    try {
      const pn = await registerNode(a.app, { name: 'mi-p', region: 'mi2', machine: 'mp', stats_url: `${pu}/stat` });
      const bn = await registerNode(a.app, { name: 'mi-b', region: 'mi2', machine: 'mb', stats_url: `${bu}/stat` });
      const session = await newSession(a.app);
      const ing = await startIngest(a.app, { session_id: session, region: 'mi2', redundant: true });
      const [primary, backup, pStats, bStats] = ing.primary.node_id === pn.id ? [pn, bn, ps, bs] : [bn, pn, bs, ps];
      await nginxCallback(a.app, primary, 'on_publish', { name: ing.stream_key, clientid: '1' });
      await nginxCallback(b.app, backup, 'on_publish', { name: ing.stream_key, clientid: '1' });
      pStats.grow(session);
      bStats.grow(session);
      await eventually(async () => {
        const s = (await get(b, `/api/v1/ingest/${ing.id}/status`)).json();
        return s.sides.primary.state === 'receiving' && s.sides.backup.state === 'receiving';
      });
      await pStats.stop();
      await eventually(async () => (await get(a, `/api/v1/ingest/${ing.id}/status`)).json().active_side === 'backup', { timeoutMs: 10_000 });
      // Give the other instance every chance to record a second switch (it must not).
      await eventually(async () => (await get(b, `/api/v1/ingest/${ing.id}/status`)).json().sides.primary.state === 'down', { timeoutMs: 10_000 });
      const s = (await get(b, `/api/v1/ingest/${ing.id}/status`)).json();
      expect(s.failovers).toHaveLength(1);
      expect(s.active_side).toBe('backup');
    } finally {
      clearInterval(timer);
      await ps.stop();
      await bs.stop();
    }
  });
});
