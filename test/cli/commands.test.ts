import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { operator, type TestApp } from '../helpers/app.js';
import { listeningApp, parseJson, runCli } from './run-cli.js';

// One real server for the file; every command runs as `node bin/streamplane.js …` against it.
let t: TestApp;
let env: Record<string, string>;
beforeAll(async () => {
  ({ t, env } = await listeningApp());
});
afterAll(async () => t?.close());

// Each child pays Node + tsx start-up (1–4 s on a busy machine), so these tests get more time.
const SLOW = { timeout: 120_000 };

const ok = async (args: string[], extraEnv: Record<string, string> = {}) => {
  const r = await runCli(args, { ...env, ...extraEnv });
  expect(r.code, `${args.join(' ')}\n${r.stderr}`).toBe(0);
  return r;
};

interface Session {
  id: string;
  status: string;
  title: string | null;
  max_viewers: number | null;
  metadata: Record<string, unknown>;
  end_reason: string | null;
}

describe('keys', () => {
  test('create, list and revoke, in human and --json output', SLOW, async () => {
    const [human, json] = await Promise.all([ok(['keys', 'create', '--name', 'ci-human']), ok(['--json', 'keys', 'create', '--name', 'ci-json'])]);
    expect(human.stdout).toMatch(/^id\s+\S+$/m);
    expect(human.stdout).toMatch(/^name\s+ci-human$/m);
    const secret = /^key\s+(\S+)$/m.exec(human.stdout)?.[1];
    expect(secret).toBeTruthy();
    expect(human.stderr).toMatch(/not shown again/);

    const created = parseJson<{ id: string; name: string; key: string; revoked_at: null }>(json.stdout);
    expect(created).toMatchObject({ name: 'ci-json', revoked_at: null });
    expect(created.key.length).toBeGreaterThan(20);
    expect(json.stderr).toBe('');

    // The new keys are real operator keys.
    const [, , listHuman, listJson] = await Promise.all([
      ok(['sessions', 'list'], { STREAMPLANE_API_KEY: secret! }),
      ok(['--api-key', created.key, 'keys', 'list']),
      ok(['keys', 'list']),
      ok(['keys', 'list', '--json']),
    ]);
    expect(listHuman.stdout.split('\n')[0]).toMatch(/^ID\s+NAME\s+STATUS\s+CREATED_AT\s+LAST_USED_AT$/);
    expect(listHuman.stdout).toMatch(new RegExp(`^${created.id}\\s+ci-json\\s+active\\s`, 'm'));
    expect(listHuman.stdout).not.toContain(created.key);
    const listed = parseJson<{ data: Array<{ id: string; name: string }> }>(listJson.stdout);
    expect(listed.data.map((k) => k.name)).toEqual(expect.arrayContaining(['ci-human', 'ci-json']));
    expect(listJson.stdout).not.toContain(created.key);

    const revoked = await ok(['keys', 'revoke', created.id]);
    expect(revoked.stdout).toMatch(new RegExp(`^Revoked API key ${created.id} \\(ci-json\\) at \\d{4}-`));
    const again = parseJson<{ id: string; revoked_at: string | null }>((await ok(['keys', 'revoke', created.id, '--json'])).stdout);
    expect(again.id).toBe(created.id);
    expect(again.revoked_at).not.toBeNull();
    expect((await ok(['keys', 'list'])).stdout).toMatch(new RegExp(`^${created.id}\\s+ci-json\\s+revoked\\s`, 'm'));
  });
});

describe('sessions', () => {
  test('start prints the session; --json prints exactly the API document', SLOW, async () => {
    const [human, json] = await Promise.all([
      ok(['sessions', 'start', '--title', 'Evening news', '--max-viewers', '500', '--metadata', '{"team":"news"}']),
      ok(['sessions', 'start', '--json', '--title', 'Bare']),
    ]);
    expect(human.stdout).toMatch(/^id\s+ses_[0-9a-z]{26}$/m);
    expect(human.stdout).toMatch(/^status\s+created$/m);
    expect(human.stdout).toMatch(/^title\s+Evening news$/m);
    expect(human.stdout).toMatch(/^max_viewers\s+500$/m);
    expect(human.stdout).toMatch(/^metadata\s+\{"team":"news"\}$/m);
    expect(human.stdout).toMatch(/^viewers\s+0 now, 0 peak, 0 unique$/m);
    expect(human.stdout).toMatch(/^ended_at\s+-$/m);

    const s = parseJson<Session>(json.stdout);
    expect(s).toMatchObject({ status: 'created', title: 'Bare', max_viewers: null, metadata: {} });
    const fromApi = await t.app.inject({ url: `/api/v1/sessions/${s.id}`, headers: operator() });
    expect(s).toEqual(fromApi.json());
  });

  test('start --idempotency-key replays the first answer; another body with the same key is a conflict (6)', SLOW, async () => {
    const args = ['sessions', 'start', '--json', '--idempotency-key', 'cli-idem-1', '--title', 'Once'];
    const first = parseJson<Session>((await ok(args)).stdout);
    const second = parseJson<Session>((await ok(args)).stdout);
    expect(second.id).toBe(first.id);

    const clash = await runCli(['sessions', 'start', '--idempotency-key', 'cli-idem-1', '--title', 'Other'], env);
    expect(clash.code).toBe(6);
    expect(clash.stderr).toMatch(/Idempotency-Key was used with a different request body.*\(idempotency_key_reused, HTTP 422\)/);
  });

  test('get, list (pages, --all) and stop, human and --json', SLOW, async () => {
    const ids: string[] = [];
    // Created through the API (in order, so ids sort by time): `sessions start` has its own test.
    for (const title of ['list-a', 'list-b', 'list-c']) {
      ids.push((await t.app.inject({ method: 'POST', url: '/api/v1/sessions/start', headers: operator(), payload: { title } })).json<Session>().id);
    }
    const [a, , c] = ids as [string, string, string];

    const [getHuman, getJson] = await Promise.all([ok(['sessions', 'get', a]), ok(['sessions', 'get', a, '--json'])]);
    expect(getHuman.stdout).toMatch(new RegExp(`^id\\s+${a}$`, 'm'));
    expect(getHuman.stdout).toMatch(/^title\s+list-a$/m);
    expect(parseJson<Session>(getJson.stdout)).toMatchObject({ id: a, title: 'list-a', status: 'created' });

    const [table, page, all] = await Promise.all([
      ok(['sessions', 'list']),
      ok(['sessions', 'list', '--json', '--limit', '1']),
      ok(['sessions', 'list', '--json', '--all', '--limit', '2']),
    ]);
    expect(table.stdout.split('\n')[0]).toMatch(/^ID\s+STATUS\s+VIEWERS\s+CREATED_AT\s+TITLE$/);
    expect(table.stdout).toMatch(new RegExp(`^${c}\\s+created\\s+0\\s+\\S+\\s+list-c$`, 'm'));
    const one = parseJson<{ data: Session[]; next_cursor: string | null }>(page.stdout);
    expect(one.data.map((s) => s.id)).toEqual([c]); // newest first
    expect(one.next_cursor).toEqual(expect.any(String));
    const every = parseJson<{ data: Session[]; next_cursor: string | null }>(all.stdout);
    expect(every.next_cursor).toBeNull();
    expect(every.data.map((s) => s.id)).toEqual(expect.arrayContaining(ids));
    const total = parseJson<{ data: Session[] }>((await t.app.inject({ url: '/api/v1/sessions?limit=100', headers: operator() })).body).data.length;
    expect(every.data).toHaveLength(total);

    const paged = await ok(['sessions', 'list', '--limit', '1', '--cursor', one.next_cursor!]);
    expect(paged.stdout.split('\n').filter(Boolean)).toHaveLength(2); // header + one row
    expect(paged.stderr).toMatch(/More sessions: add --cursor \S+ \(or --all\)/);

    const [stopped, stoppedJsonRun] = await Promise.all([ok(['sessions', 'stop', a, '--reason', 'show over']), ok(['sessions', 'stop', c, '--json'])]);
    expect(stopped.stdout).toMatch(/^status\s+ended$/m);
    expect(stopped.stdout).toMatch(/^end_reason\s+show over$/m);
    const stoppedJson = parseJson<Session>(stoppedJsonRun.stdout);
    expect(stoppedJson).toMatchObject({ id: c, status: 'ended' });

    const [endedRun, liveRun] = await Promise.all([ok(['sessions', 'list', '--status', 'ended', '--json']), ok(['sessions', 'list', '--status', 'live'])]);
    expect(parseJson<{ data: Session[] }>(endedRun.stdout).data.map((s) => s.id).sort()).toEqual([a, c].sort());
    expect(liveRun.stdout).toBe('No sessions.\n');
  });
});

describe('tokens', () => {
  test('mint prints the pair; --json prints the API document; a stopped session is a conflict (6)', SLOW, async () => {
    const session = parseJson<Session>((await ok(['sessions', 'start', '--json'])).stdout);
    const [human, json] = await Promise.all([
      ok(['tokens', 'mint', '--session', session.id, '--viewer', 'viewer-1']),
      ok(['tokens', 'mint', '--json', '--session', session.id, '--viewer', 'viewer-2', '--scopes', 'view,chat', '--ttl', '60']),
    ]);
    expect(human.stdout).toMatch(/^access_token\s+ey\S+$/m);
    expect(human.stdout).toMatch(/^refresh_token\s+\S+$/m);
    expect(human.stdout).toMatch(/^scope\s+view$/m);

    const pair = parseJson<{ access_token: string; token_type: string; expires_in: number; scope: string }>(json.stdout);
    expect(pair).toMatchObject({ token_type: 'Bearer', expires_in: 60, scope: 'view chat' });
    const validated = await t.app.inject({ method: 'POST', url: '/api/v1/auth/validate-token', payload: { token: pair.access_token } });
    expect(validated.json()).toMatchObject({ valid: true, claims: { sub: 'viewer-2', sid: session.id } });

    await ok(['sessions', 'stop', session.id]);
    const refused = await runCli(['tokens', 'mint', '--session', session.id, '--viewer', 'viewer-3'], env);
    expect(refused.code).toBe(6);
    expect(refused.stderr).toMatch(/has ended.*\(session_ended, HTTP 409\)/);
  });
});
