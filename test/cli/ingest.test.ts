import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { ADMIN_KEY, operator, type TestApp } from '../helpers/app.js';
import { newSession, nginxCallback, registerNode } from '../ingest/support.js';
import { listeningApp, parseJson, runCli, type CliResult } from './run-cli.js';

// One real server for the file; every command runs as `node bin/streamplane.js …` against it.
let t: TestApp;
let env: Record<string, string>;
// Nodes for the ingest tests, registered through the API (`ingest nodes create` has its own test) in
// regions of their own, so the nodes that test creates never win the routing.
let fxA: Node;
let fxB: Node;
beforeAll(async () => {
  ({ t, env } = await listeningApp());
  fxA = (await registerNode(t.app, { name: 'fx-a', region: 'cli-eu', ingest_url: 'rtmp://10.0.1.5:1935/live', limits: { max_bitrate_kbps: 2500 } })) as Node;
  fxB = (await registerNode(t.app, { name: 'fx-b', region: 'cli-us', ingest_url: 'rtmp://10.0.1.6:1935/live' })) as Node;
});
afterAll(async () => t?.close());

// Each child pays Node + tsx start-up (1–4 s on a busy machine), so these tests get more time.
const SLOW = { timeout: 120_000 };
const UNKNOWN_INGEST = 'ing_01jq3v8c9x2m4n6p7r8s9t0vwx';
const UNKNOWN_NODE = 'nd_01jq3v8c9x2m4n6p7r8s9t0vwx';

const run = (args: string[]) => runCli(args, env);
const ok = async (args: string[]) => {
  const r = await run(args);
  expect(r.code, `${args.join(' ')}\n${r.stderr}`).toBe(0);
  expect(r.stdout + r.stderr).not.toContain(ADMIN_KEY);
  return r;
};
const occurrences = (text: string, s: string) => text.split(s).length - 1;

interface Node {
  id: string;
  name: string;
  kind: string;
  region: string;
  machine: string;
  status: string;
  capacity: number;
  limits: Record<string, number>;
  health: { state: string };
  stats_url: string | null;
  control_url: string | null;
  hooks: Record<string, string>;
}

interface Status {
  id: string;
  session_id: string;
  status: string;
  active_side: string;
  sides: { primary: { node_id: string }; backup: { node_id: string } | null };
  failovers: unknown[];
}

describe('ingest nodes', () => {
  test('create (human and --json), list, get, config, drain/undrain, rotate-secret and delete', SLOW, async () => {
    const [human, json, doomedRun] = await Promise.all([
      ok(['ingest', 'nodes', 'create', '--name', 'edge-a', '--kind', 'nginx-rtmp', '--region', 'eu-west-1', '--ingest-url', 'rtmp://10.0.0.5:1935/live', '--capacity', '20', '--max-bitrate-kbps', '2500']),
      ok(['--json', 'ingest', 'nodes', 'create', '--name', 'edge-b', '--kind', 'nginx-rtmp', '--region', 'us-east-1', '--ingest-url', 'rtmp://10.0.0.6:1935/live', '--machine', 'host-b', '--stats-url', 'http://10.0.0.6:8080/stat', '--control-url', 'http://10.0.0.6:8080/control']),
      ok(['ingest', 'nodes', 'create', '--json', '--name', 'doomed', '--kind', 'srs', '--region', 'eu-west-1', '--ingest-url', 'rtmp://10.0.0.7:1935/live']),
    ]);
    expect(human.stdout).toMatch(/^id\s+nd_[0-9a-z]{26}$/m);
    expect(human.stdout).toMatch(/^name\s+edge-a$/m);
    expect(human.stdout).toMatch(/^kind\s+nginx-rtmp$/m);
    expect(human.stdout).toMatch(/^region\s+eu-west-1$/m);
    expect(human.stdout).toMatch(/^health\s+unknown\b/m);
    expect(human.stdout).toMatch(/^load\s+0 of 20 streams$/m);
    expect(human.stdout).toMatch(/^limits\s+at most 2500 kbps$/m);
    expect(human.stdout).toMatch(/^hooks \(they carry the node secret\):$/m);
    expect(human.stdout).toMatch(/^ {2}on_publish\s+http:\/\/\S+\/api\/v1\/ingest\/hooks\/nd_\S+\/on_publish$/m);
    expect(human.stderr).toMatch(/carry the node secret/);
    const edgeAId = (await t.app.inject({ url: '/api/v1/ingest/nodes', headers: operator() })).json<{ data: Node[] }>().data.find((n) => n.name === 'edge-a')!.id;
    const edgeA = (await t.app.inject({ url: `/api/v1/ingest/nodes/${edgeAId}`, headers: operator() })).json<Node>();
    for (const [hook, url] of Object.entries(edgeA.hooks ?? {})) expect(human.stdout).toMatch(new RegExp(`^  ${hook}\\s+${url}$`, 'm'));

    const edgeB = parseJson<Node>(json.stdout);
    expect(edgeB).toMatchObject({ name: 'edge-b', kind: 'nginx-rtmp', region: 'us-east-1', machine: 'host-b', status: 'active', capacity: 100, limits: {}, stats_url: 'http://10.0.0.6:8080/stat', control_url: 'http://10.0.0.6:8080/control' });
    expect(json.stderr).toBe('');
    const doomed = parseJson<Node>(doomedRun.stdout);

    const [listHuman, listJson, get, config, configJson] = await Promise.all([
      ok(['ingest', 'nodes', 'list']),
      ok(['ingest', 'nodes', 'list', '--json']),
      ok(['ingest', 'nodes', 'get', edgeB.id]),
      ok(['ingest', 'nodes', 'config', edgeA.id, '--update-interval', '5']),
      ok(['--json', 'ingest', 'nodes', 'config', edgeA.id]),
    ]);
    expect(listHuman.stdout.split('\n')[0]).toMatch(/^ID\s+NAME\s+KIND\s+REGION\s+STATUS\s+HEALTH\s+LOAD\s+INGEST_URL$/);
    expect(listHuman.stdout).toMatch(new RegExp(`^${edgeA.id}\\s+edge-a\\s+nginx-rtmp\\s+eu-west-1\\s+active\\s+unknown\\s+0/20\\s+rtmp://10\\.0\\.0\\.5:1935/live$`, 'm'));
    expect(listHuman.stdout).not.toContain('/api/v1/ingest/hooks/');
    expect(parseJson<{ data: Node[] }>(listJson.stdout).data.map((n) => n.name)).toEqual(expect.arrayContaining(['edge-a', 'edge-b', 'doomed']));
    expect(get.stdout).toMatch(/^machine\s+host-b$/m);
    expect(get.stdout).toMatch(/^ {2}on_publish\s+http:\/\/\S+$/m);

    // Verbatim: exactly the API's text, ready to paste into nginx.conf.
    expect(config.stdout).toContain(`on_publish ${edgeA.hooks.on_publish};`);
    expect(config.stdout).toContain('notify_update_timeout 5s;');
    expect(config.stdout).toBe((await t.app.inject({ url: `/api/v1/ingest/nodes/${edgeA.id}/config/nginx?update_interval_seconds=5`, headers: operator() })).body);
    expect(parseJson<string>(configJson.stdout)).toContain('notify_update_timeout 10s;');

    expect((await ok(['ingest', 'nodes', 'drain', doomed.id])).stdout).toMatch(/^status\s+draining$/m);
    expect(parseJson<Node>((await ok(['ingest', 'nodes', 'undrain', doomed.id, '--json'])).stdout).status).toBe('active');
    const rotated = await ok(['ingest', 'nodes', 'rotate-secret', doomed.id, '--json']);
    expect(parseJson<Node>(rotated.stdout).hooks.on_publish).not.toBe(doomed.hooks.on_publish);

    const doomed2 = parseJson<Node>((await ok(['--json', 'ingest', 'nodes', 'create', '--name', 'doomed-2', '--kind', 'mediamtx', '--region', 'eu-west-1', '--ingest-url', 'rtmp://10.0.0.8:1935/live'])).stdout);
    const [deleted, deletedJson] = await Promise.all([ok(['ingest', 'nodes', 'delete', doomed.id]), ok(['ingest', 'nodes', 'delete', doomed2.id, '--json'])]);
    expect(deleted.stdout).toBe(`Deleted ingest node ${doomed.id}\n`);
    expect(deletedJson.stdout).toBe(''); // 204: no document to print
    const gone = await run(['ingest', 'nodes', 'get', doomed.id]);
    expect(gone.code).toBe(5);
  });
});

describe('ingest', () => {
  test('start prints the stream key once; status; metrics; rotate and revoke keys; stop by session', SLOW, async () => {
    const session = await newSession(t.app);
    const started = await ok(['ingest', 'start', '--session', session, '--region', 'cli-eu', '--profile', '1080p30', '--reconnect-window', '30']);
    const key = /^stream_key\s+(sk_\S+)$/m.exec(started.stdout)?.[1];
    expect(key).toBeTruthy();
    expect(occurrences(started.stdout + started.stderr, key!)).toBe(1);
    expect(started.stderr).toMatch(/not shown again/);
    expect(started.stdout).toMatch(/^id\s+ing_[0-9a-z]{26}$/m);
    expect(started.stdout).toMatch(new RegExp(`^session_id\\s+${session}$`, 'm'));
    expect(started.stdout).toMatch(new RegExp(`^primary_url\\s+rtmp://10\\.0\\.1\\.5:1935/live  \\(node ${fxA.id}\\)$`, 'm'));
    expect(started.stdout).toMatch(/^backup_url\s+-$/m);
    expect(started.stdout).toMatch(/^encoder\s+h264 high 1920x1080 30 fps, 2500 kbps CBR, keyframe every 2 s; aac 128 kbps 48000 Hz$/m);
    expect(started.stdout).toMatch(/^adjusted\s+bitrate lowered to 2500 kbps/m);
    expect(started.stdout).toMatch(/^reconnect_window\s+30 s$/m);
    const id = /^id\s+(ing_\S+)$/m.exec(started.stdout)![1]!;

    // The encoder publishes with the key on fx-a (nginx-rtmp's on_publish callback).
    expect((await nginxCallback(t.app, fxA, 'on_publish', { name: key! })).statusCode).toBe(302);

    const [status, statusJson, metrics, metricsJson] = await Promise.all([
      ok(['ingest', 'status', id]),
      ok(['ingest', 'status', id, '--json']),
      ok(['ingest', 'metrics', id]),
      ok(['--json', 'ingest', 'metrics', id, '--side', 'primary']),
    ]);
    expect(status.stdout).toMatch(/^status\s+live$/m);
    expect(status.stdout).toMatch(new RegExp(`^active\\s+primary, node fx-a \\(${fxA.id}\\)$`, 'm'));
    expect(status.stdout).toMatch(new RegExp(`^primary\\s+\\w+, .*; node fx-a \\(${fxA.id}\\), health \\w+, publisher 127\\.0\\.0\\.1 publishing$`, 'm'));
    expect(status.stdout).toMatch(/^backup\s+-$/m);
    expect(status.stdout).toMatch(/^failovers: none$/m);
    expect(status.stdout + statusJson.stdout).not.toContain(key);
    expect(parseJson<Status>(statusJson.stdout)).toEqual((await t.app.inject({ url: `/api/v1/ingest/${id}/status`, headers: operator() })).json());
    expect(metrics.stdout).toMatch(new RegExp(`^node_id\\s+${fxA.id}$`, 'm'));
    expect(metrics.stdout).toMatch(/^target\s+h264 high 1920x1080 30 fps, 2500 kbps CBR/m);
    expect(metrics.stdout).toMatch(/^health\s+\d+\/100$/m);
    expect(parseJson<{ side: string; node_id: string }>(metricsJson.stdout)).toMatchObject({ side: 'primary', node_id: fxA.id });

    const rotated = await ok(['ingest', 'rotate-key', id, '--overlap', '60']);
    const newKey = /^stream_key\s+(sk_\S+)$/m.exec(rotated.stdout)?.[1];
    expect(newKey).toMatch(/^sk_/);
    expect(newKey).not.toBe(key);
    expect(rotated.stdout).toMatch(/^previous_keys_expire_at\s+\d{4}-/m);
    expect(rotated.stderr).toMatch(/not shown again/);
    const revoked = await ok(['ingest', 'revoke-keys', id]);
    expect(revoked.stdout).toMatch(new RegExp(`^Revoked \\d+ stream keys? of ingest ${id}; `));

    const stopped = await ok(['ingest', 'stop', '--session', session, '--reason', 'show over']);
    expect(stopped.stdout).toMatch(new RegExp(`^id\\s+${id}$`, 'm'));
    expect(stopped.stdout).toMatch(/^status\s+ended$/m);
    expect(stopped.stdout).toMatch(/^end_reason\s+show over$/m);
    expect((await t.app.inject({ url: `/api/v1/sessions/${session}`, headers: operator() })).json()).toMatchObject({ status: 'ended' });
    // Idempotent, and by ingest id too.
    expect(parseJson<Status>((await ok(['ingest', 'stop', '--id', id, '--json'])).stdout)).toMatchObject({ id, status: 'ended' });

    const listed = await ok(['ingest', 'list', '--session', session]);
    expect(listed.stdout.split('\n')[0]).toMatch(/^ID\s+SESSION\s+STATUS\s+ACTIVE\s+PRIMARY\s+BACKUP\s+CREATED$/);
    expect(listed.stdout).toMatch(new RegExp(`^${id}\\s+${session}\\s+ended\\s+primary\\s`, 'm'));
    const listedJson = parseJson<{ data: Array<{ id: string }>; next_cursor: string | null }>((await ok(['ingest', 'list', '--status', 'ended', '--limit', '1', '--json'])).stdout);
    expect(listedJson.data).toHaveLength(1);
  });

  test('--redundant gets a backup on another machine; failover without a receiving backup is a conflict (6)', SLOW, async () => {
    const session = await newSession(t.app);
    const started = parseJson<{ id: string; stream_key: string; primary: { node_id: string }; backup: { node_id: string; url: string } | null }>(
      (await ok(['--json', 'ingest', 'start', '--session', session, '--region', 'cli-us', '--redundant', '--profile', '720p30'])).stdout,
    );
    expect(started.stream_key).toMatch(/^sk_/);
    expect(started.primary.node_id).toBe(fxB.id);
    expect(started.backup?.node_id).toMatch(/^nd_/);
    expect(started.backup?.node_id).not.toBe(fxB.id);

    const human = await ok(['ingest', 'status', started.id]);
    expect(human.stdout).toMatch(/^backup\s+idle, no bitrate measured; node \S+ \(nd_\S+\), health \w+$/m);

    const refused = await run(['ingest', 'failover', started.id]);
    expect(refused.code, refused.stderr).toBe(6);
    expect(refused.stderr).toMatch(/HTTP 409\)/);
    await ok(['ingest', 'stop', '--id', started.id]);
  });
});

describe('ingest exit codes', () => {
  test('5 for an unknown ingest or node id, human and --json', SLOW, async () => {
    const results = await Promise.all([
      run(['ingest', 'status', UNKNOWN_INGEST]),
      run(['--json', 'ingest', 'metrics', UNKNOWN_INGEST]),
      run(['ingest', 'stop', '--id', UNKNOWN_INGEST]),
      run(['ingest', 'nodes', 'get', UNKNOWN_NODE]),
      run(['ingest', 'nodes', 'config', UNKNOWN_NODE]),
      run(['--json', 'ingest', 'nodes', 'config', UNKNOWN_NODE]),
    ]);
    for (const r of results) {
      expect(r.code, r.stderr).toBe(5);
      expect(r.stdout).toBe('');
      expect(r.stderr).not.toContain(ADMIN_KEY);
    }
    expect(results[0]!.stderr).toMatch(/HTTP 404\)\n$/);
    expect(parseJson(results[1]!.stderr)).toMatchObject({ status: 404, code: expect.any(String), detail: expect.any(String) });
    expect(parseJson(results[5]!.stderr)).toMatchObject({ status: 404 });
  });

  test('2 for usage errors: missing required options, --id and --session together or neither', SLOW, async () => {
    const results = await Promise.all([
      run(['ingest', 'start']),
      run(['ingest', 'nodes', 'create', '--name', 'x', '--kind', 'srs', '--region', 'eu']),
      run(['ingest', 'stop']),
      run(['ingest', 'stop', '--id', UNKNOWN_INGEST, '--session', 'ses_01jq3v8c9x2m4n6p7r8s9t0vwx']),
      run(['ingest', 'nodes', 'create', '--name', 'x', '--kind', 'srs', '--region', 'eu', '--ingest-url', 'rtmp://h/live', '--capacity', 'lots']),
      run(['ingest', 'status']),
    ]);
    for (const r of results) {
      expect(r.code, r.stderr).toBe(2);
      expect(r.stdout).toBe('');
    }
    expect(results[0]!.stderr).toMatch(/required option '--session <id>' not specified/);
    expect(results[1]!.stderr).toMatch(/required option '--ingest-url <url>' not specified/);
    expect(results[2]!.stderr).toMatch(/exactly one of --id <ingest id> or --session <session id>/);
    expect(results[3]!.stderr).toMatch(/exactly one of/);
    expect(results[4]!.stderr).toMatch(/--capacity.*Not an integer/);

    const json = await run(['--json', 'ingest', 'start']);
    expect(json.code).toBe(2);
    expect(parseJson(json.stderr)).toEqual({ code: 'usage_error', detail: expect.stringMatching(/--session/) });
  });

  test('7 when the server rejects a value, with its detail (e.g. an unknown kind)', SLOW, async () => {
    const r: CliResult = await run(['ingest', 'nodes', 'create', '--name', 'bad-kind', '--kind', 'wowza', '--region', 'eu', '--ingest-url', 'rtmp://h/live']);
    expect(r.code, r.stderr).toBe(7);
    expect(r.stderr).toMatch(/kind.*\(validation_failed, HTTP 400\)/);
  });
});
