import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestApp, operator, type TestApp } from '../helpers/app.js';
import { expectProblem } from '../helpers/problem.js';
import { hookPath, newSession, nginxCallback, registerNode, startIngest } from './support.js';

describe('ingest nodes', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await createTestApp({ env: { STREAMPLANE_INGEST_HOOK_BASE_URL: 'http://10.0.0.1:8080' } });
  });
  afterAll(async () => t.close());

  it('registers a node and answers the callback URLs to paste into nginx, each carrying the node secret', async () => {
    const node = await registerNode(t.app, { name: 'edge-a', stats_url: 'http://10.0.0.5:8080/stat', control_url: 'http://10.0.0.5:8080/control', capacity: 20 });
    expect(node).toMatchObject({ name: 'edge-a', kind: 'nginx-rtmp', machine: '10.0.0.5', capacity: 20, status: 'active', open_ingests: 0 });
    expect(Object.keys(node.hooks)).toEqual(expect.arrayContaining(['on_publish', 'on_publish_done', 'on_update', 'on_play', 'on_done']));
    for (const url of Object.values(node.hooks)) expect(url).toMatch(new RegExp(`^http://10\\.0\\.0\\.1:8080/api/v1/ingest/hooks/${node.id}/[A-Za-z0-9_-]{32}/[a-z_]+$`));
    const again = await t.app.inject({ method: 'GET', url: `/api/v1/ingest/nodes/${node.id}`, headers: operator() });
    expect(again.json().hooks).toEqual(node.hooks);
    const list = await t.app.inject({ method: 'GET', url: '/api/v1/ingest/nodes', headers: operator() });
    expect(list.json().data.map((n: { id: string }) => n.id)).toContain(node.id);
  });

  it('renders a ready nginx-rtmp application block', async () => {
    const node = await registerNode(t.app, { ingest_url: 'rtmp://10.0.0.9:1935/stream' });
    const res = await t.app.inject({ method: 'GET', url: `/api/v1/ingest/nodes/${node.id}/config/nginx?update_interval_seconds=5`, headers: operator() });
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-type']).toMatch(/^text\/plain/);
    expect(res.body).toContain('application stream {');
    expect(res.body).toContain(`on_publish ${node.hooks.on_publish};`);
    expect(res.body).toContain(`on_update ${node.hooks.on_update};`);
    expect(res.body).toContain('notify_update_timeout 5s;');
  });

  it('refuses duplicate names, bad kinds and URLs, and callers without an operator key', async () => {
    await registerNode(t.app, { name: 'dup' });
    const dup = await t.app.inject({ method: 'POST', url: '/api/v1/ingest/nodes', headers: operator(), payload: { name: 'dup', kind: 'nginx-rtmp', region: 'eu', ingest_url: 'rtmp://h/live' } });
    expectProblem(dup, 409, 'node_name_taken');
    const kind = await t.app.inject({ method: 'POST', url: '/api/v1/ingest/nodes', headers: operator(), payload: { name: 'k', kind: 'wowza', region: 'eu', ingest_url: 'rtmp://h/live' } });
    expectProblem(kind, 400, 'validation_failed', 'body.kind');
    const url = await t.app.inject({ method: 'POST', url: '/api/v1/ingest/nodes', headers: operator(), payload: { name: 'u', kind: 'srs', region: 'eu', ingest_url: 'javascript:alert(1)' } });
    expectProblem(url, 400, 'validation_failed', 'body.ingest_url');
    const stats = await t.app.inject({ method: 'POST', url: '/api/v1/ingest/nodes', headers: operator(), payload: { name: 's', kind: 'srs', region: 'eu', ingest_url: 'rtmp://h/live', stats_url: 'file:///etc/passwd' } });
    expectProblem(stats, 400, 'validation_failed', 'body.stats_url');
    const omeStats = await t.app.inject({ method: 'POST', url: '/api/v1/ingest/nodes', headers: operator(), payload: { name: 'o', kind: 'ome', region: 'eu', ingest_url: 'rtmp://h:1935/app', stats_url: 'http://h:8081/v1/stats' } });
    expectProblem(omeStats, 400, 'stats_not_supported');
    const srsControl = await t.app.inject({ method: 'POST', url: '/api/v1/ingest/nodes', headers: operator(), payload: { name: 'c', kind: 'srs', region: 'eu', ingest_url: 'rtmp://h/live', control_url: 'http://h:1985/api/v1/clients' } });
    expectProblem(srsControl, 400, 'control_not_supported');
    const extra = await t.app.inject({ method: 'POST', url: '/api/v1/ingest/nodes', headers: operator(), payload: { name: 'e', kind: 'srs', region: 'eu', ingest_url: 'rtmp://h/live', admin: true } });
    expectProblem(extra, 400);
    const anon = await t.app.inject({ method: 'POST', url: '/api/v1/ingest/nodes', payload: { name: 'a', kind: 'srs', region: 'eu', ingest_url: 'rtmp://h/live' } });
    expectProblem(anon, 401);
    for (const [method, url] of [['GET', '/api/v1/ingest/nodes'], ['GET', '/api/v1/ingest/nodes/nd_01jq3v8c9x2m4n6p7r8s9t0vwx'], ['DELETE', '/api/v1/ingest/nodes/nd_01jq3v8c9x2m4n6p7r8s9t0vwx']] as const) {
      expectProblem(await t.app.inject({ method, url }), 401);
    }
    expectProblem(await t.app.inject({ method: 'GET', url: '/api/v1/ingest/nodes/not-an-id', headers: operator() }), 400);
    expectProblem(await t.app.inject({ method: 'GET', url: '/api/v1/ingest/nodes/nd_01jq3v8c9x2m4n6p7r8s9t0vwx', headers: operator() }), 404);
  });

  it('drains (no new ingests), undrains, refuses to delete a node in use and deletes an idle one', async () => {
    const node = await registerNode(t.app, { name: 'solo', region: 'drain-test' });
    const drained = await t.app.inject({ method: 'POST', url: `/api/v1/ingest/nodes/${node.id}/drain`, headers: operator() });
    expect(drained.json().status).toBe('draining');
    const undrained = await t.app.inject({ method: 'POST', url: `/api/v1/ingest/nodes/${node.id}/undrain`, headers: operator() });
    expect(undrained.json().status).toBe('active');

    const del = await t.app.inject({ method: 'DELETE', url: `/api/v1/ingest/nodes/${node.id}`, headers: operator() });
    expect(del.statusCode).toBe(204);
    expectProblem(await t.app.inject({ method: 'GET', url: `/api/v1/ingest/nodes/${node.id}`, headers: operator() }), 404);
    expectProblem(await t.app.inject({ method: 'DELETE', url: `/api/v1/ingest/nodes/${node.id}`, headers: operator() }), 404);
  });

  it('a rotated node secret makes the old callback URLs fail with 401 and changes nothing', async () => {
    const node = await registerNode(t.app, { name: 'rot', region: 'rot' });
    const session = await newSession(t.app);
    const ingest = await startIngest(t.app, { session_id: session, region: 'rot' });
    const rotated = await t.app.inject({ method: 'POST', url: `/api/v1/ingest/nodes/${node.id}/rotate-secret`, headers: operator() });
    expect(rotated.json().hooks.on_publish).not.toBe(node.hooks.on_publish);
    const old = await nginxCallback(t.app, node, 'on_publish', { name: ingest.stream_key });
    expectProblem(old, 401, 'bad_hook_credentials');
    const status = await t.app.inject({ method: 'GET', url: `/api/v1/ingest/${ingest.id}/status`, headers: operator() });
    expect(status.json().status).toBe('idle');
    const fresh = await nginxCallback(t.app, rotated.json(), 'on_publish', { name: ingest.stream_key });
    expect(fresh.statusCode).toBe(302);
    const busy = await t.app.inject({ method: 'DELETE', url: `/api/v1/ingest/nodes/${node.id}`, headers: operator() });
    expectProblem(busy, 409, 'node_in_use');
    expect(hookPath(node.hooks.on_publish!)).toContain(node.id);
  });
});
