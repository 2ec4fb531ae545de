import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { EventPayload } from '../../src/core/events.js';
import { createTestApp, eventually, operator, type TestApp } from '../helpers/app.js';
import { expectProblem } from '../helpers/problem.js';
import { newSession, nginxCallback, registerNode, startIngest, StatServer } from './support.js';

/**
 * Redundant ingest against two stand-in /stat pages whose bytes the test makes grow or stop (the
 * real nginx-rtmp version of this is test/e2e/ingest.test.ts). Short poll and stall times keep it quick.
 */
describe('redundant ingest: health from stats, automatic and manual failover', () => {
  let t: TestApp;
  const primaryStats = new StatServer();
  const backupStats = new StatServer();
  let p: Awaited<ReturnType<typeof registerNode>>;
  let b: Awaited<ReturnType<typeof registerNode>>;
  let timer: NodeJS.Timeout;
  const failovers: Array<EventPayload<'ingest.failover'>> = [];

  beforeAll(async () => {
    t = await createTestApp({
      env: {
        STREAMPLANE_INGEST_STATS_POLL_MS: '100',
        STREAMPLANE_INGEST_MONITOR_MS: '50',
        STREAMPLANE_INGEST_STALL_MS: '600',
        STREAMPLANE_INGEST_NODE_TIMEOUT_MS: '300',
        STREAMPLANE_INGEST_FAILOVER_COOLDOWN_MS: '60000',
      },
    });
    await t.backends.bus.subscribe('ingest.failover', (e) => void failovers.push(e));
    const pu = await primaryStats.start();
    const bu = await backupStats.start();
    p = await registerNode(t.app, { name: 'primary', machine: 'host-a', ingest_url: 'rtmp://127.0.0.1:1935/live', stats_url: `${pu}/stat`, control_url: `${pu}/control` });
    b = await registerNode(t.app, { name: 'backup', machine: 'host-b', ingest_url: 'rtmp://127.0.0.1:1936/live', stats_url: `${bu}/stat`, control_url: `${bu}/control` });
    await eventually(async () => (await t.app.inject({ method: 'GET', url: '/api/v1/ingest/nodes', headers: operator() })).json().data.every((n: { health: { state: string } }) => n.health.state === 'up'));
  });
  afterAll(async () => {
    clearInterval(timer);
    await t.close();
    await primaryStats.stop();
    await backupStats.stop();
  });

  const status = async (id: string) => (await t.app.inject({ method: 'GET', url: `/api/v1/ingest/${id}/status`, headers: operator() })).json();

  it('shows both sides receiving, switches to the backup when the primary node dies, and never flaps back', async () => {
    const session = await newSession(t.app);
    const ing = await startIngest(t.app, { session_id: session, redundant: true });
    expect(ing.primary.node_id).not.toBe(ing.backup!.node_id);
    const [pn, bn] = ing.primary.node_id === p.id ? [p, b] : [b, p];
    const [ps, bs] = ing.primary.node_id === p.id ? [primaryStats, backupStats] : [backupStats, primaryStats];
    expect((await nginxCallback(t.app, pn, 'on_publish', { name: ing.stream_key, clientid: '1' })).statusCode).toBe(302);
    expect((await nginxCallback(t.app, bn, 'on_publish', { name: ing.stream_key, clientid: '1' })).statusCode).toBe(302);
    timer = setInterval(() => {
      ps.grow(session);
      bs.grow(session);
    }, 50);
    await eventually(async () => {
      const s = await status(ing.id);
      return s.sides.primary.state === 'receiving' && s.sides.backup.state === 'receiving' && s.sides.primary.bytes_in > 0;
    });
    const metrics = (await t.app.inject({ method: 'GET', url: `/api/v1/ingest/${ing.id}/metrics`, headers: operator() })).json();
    expect(metrics.measured).toMatchObject({ width: 1280, height: 720, frame_rate: 30, video_codec: 'H264', audio_codec: 'AAC' });
    expect(metrics.measured.bytes_in).toBeGreaterThan(0);
    expect(metrics.health.score).toBeGreaterThan(0);

    await ps.stop(); // the primary node is gone: its stats page refuses connections
    await eventually(async () => (await status(ing.id)).active_side === 'backup', { timeoutMs: 10_000 });
    const s = await status(ing.id);
    expect(s).toMatchObject({ status: 'live', active_node_id: bn.id });
    expect(s.sides.primary.state).toBe('down');
    expect(s.sides.backup.state).toBe('receiving');
    expect(s.failovers).toEqual([expect.objectContaining({ from_side: 'primary', to_side: 'backup', manual: false })]);
    await eventually(() => failovers.some((f) => f.ingest_id === ing.id && f.to_node_id === bn.id));
    expect((await t.app.inject({ method: 'GET', url: `/api/v1/sessions/${session}`, headers: operator() })).json().status).toBe('live');

    // The primary comes back and publishes again: the backup stays active (no flapping).
    await ps.start(ps.port);
    expect((await nginxCallback(t.app, pn, 'on_publish', { name: ing.stream_key, clientid: '2' })).statusCode).toBe(302);
    await eventually(async () => (await status(ing.id)).sides.primary.state === 'receiving', { timeoutMs: 10_000 });
    expect((await status(ing.id)).active_side).toBe('backup');

    // By hand it goes back, and the history shows both switches.
    const manual = await t.app.inject({ method: 'POST', url: `/api/v1/ingest/${ing.id}/failover`, headers: operator() });
    expect(manual.statusCode).toBe(200);
    expect(manual.json().active_side).toBe('primary');
    expect(manual.json().failovers.map((f: { manual: boolean }) => f.manual)).toEqual([false, true]);

    // A stalled stream on the backup makes manual failover to it a 409.
    clearInterval(timer);
    timer = setInterval(() => ps.grow(session), 50);
    await eventually(async () => (await status(ing.id)).sides.backup.state === 'stalled', { timeoutMs: 10_000 });
    expectProblem(await t.app.inject({ method: 'POST', url: `/api/v1/ingest/${ing.id}/failover`, headers: operator() }), 409, 'other_side_unhealthy');

    // Stopping drops the publisher through the control API on both nodes.
    clearInterval(timer);
    await t.app.inject({ method: 'POST', url: '/api/v1/ingest/stop', headers: operator(), payload: { ingest_id: ing.id } });
    expect(ps.streams.has(session)).toBe(false);
    expect((await t.app.inject({ method: 'GET', url: '/metrics' })).body).toMatch(/streamplane_ingest_kicks_total\{via="control"\} [1-9]/);
  });

  it('a node whose stats page answers garbage or hangs counts as down and is skipped by routing', async () => {
    const { createServer } = await import('node:http');
    const garbage = createServer((_req, res) => res.end('<html>502 bad gateway</html>'));
    const hang = createServer(() => {});
    await new Promise<void>((r) => garbage.listen(0, '127.0.0.1', r));
    await new Promise<void>((r) => hang.listen(0, '127.0.0.1', r));
    try {
      const g = await registerNode(t.app, { name: 'garbage', region: 'bad', stats_url: `http://127.0.0.1:${(garbage.address() as { port: number }).port}/stat` });
      const h = await registerNode(t.app, { name: 'hang', region: 'bad', machine: 'h2', stats_url: `http://127.0.0.1:${(hang.address() as { port: number }).port}/stat` });
      await eventually(async () => {
        const nodes = (await t.app.inject({ method: 'GET', url: '/api/v1/ingest/nodes', headers: operator() })).json().data as Array<{ id: string; health: { state: string } }>;
        return nodes.filter((n) => n.id === g.id || n.id === h.id).every((n) => n.health.state === 'down');
      }, { timeoutMs: 10_000 });
      await t.app.inject({ method: 'POST', url: `/api/v1/ingest/nodes/${p.id}/drain`, headers: operator() });
      await t.app.inject({ method: 'POST', url: `/api/v1/ingest/nodes/${b.id}/drain`, headers: operator() });
      expectProblem(await t.app.inject({ method: 'POST', url: '/api/v1/ingest/start', headers: operator(), payload: { session_id: await newSession(t.app), region: 'bad' } }), 503, 'no_node');
    } finally {
      garbage.closeAllConnections();
      hang.closeAllConnections();
      garbage.close();
      hang.close();
    }
  });
});
