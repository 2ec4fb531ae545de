import { createServer, type Server } from 'node:http';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { ADMIN_KEY, type TestApp } from '../helpers/app.js';
import { closedPort, listeningApp, parseJson, runCli, type CliResult } from './run-cli.js';

// Exit codes are the CLI's contract with scripts: each one is checked against a real server.
let t: TestApp;
let env: Record<string, string>;
beforeAll(async () => {
  ({ t, env } = await listeningApp());
});
afterAll(async () => t?.close());

const SLOW = { timeout: 120_000 };
const UNKNOWN_SESSION = 'ses_01jq3v8c9x2m4n6p7r8s9t0vwx';
const WRONG_KEY = 'wrong-key-9f8e7d6c5b4a39281706f5e4d3c2b1a0';

const run = (args: string[], extra: Record<string, string> = {}) => runCli(args, { ...env, ...extra });
const neverShows = (r: CliResult, secret: string) => {
  expect(r.stdout).not.toContain(secret);
  expect(r.stderr).not.toContain(secret);
};

describe('exit codes', () => {
  test('0 with help, which documents every exit code', SLOW, async () => {
    const r = await run(['--help']);
    expect(r.code).toBe(0);
    for (const code of [0, 1, 2, 3, 4, 5, 6, 7, 8]) expect(r.stdout).toMatch(new RegExp(`^  ${code}  \\S`, 'm'));
    expect(r.stdout).not.toContain(ADMIN_KEY);
  });

  test('2 for usage errors: unknown command or flag, bad values, missing required flags', SLOW, async () => {
    const results = await Promise.all([
      run(['sessions', 'list', '--bogus']),
      run(['sessions', 'lst']),
      run(['sessions', 'start', '--max-viewers', 'many']),
      run(['sessions', 'start', '--metadata', '[1,2]']),
      run(['keys', 'create']),
      run(['sessions', 'get']),
      run(['--url', 'not a url', 'keys', 'list']),
    ]);
    for (const r of results) {
      expect(r.code, r.stderr).toBe(2);
      expect(r.stdout).toBe('');
    }
    expect(results[0]!.stderr).toMatch(/unknown option '--bogus'/);
    expect(results[1]!.stderr).toMatch(/Did you mean list\?/);
    expect(results[2]!.stderr).toMatch(/--max-viewers.*Not an integer/);
    expect(results[3]!.stderr).toMatch(/Must be a JSON object/);
    expect(results[4]!.stderr).toMatch(/required option '--name <name>' not specified/);

    const json = await run(['--json', 'sessions', 'start', '--max-viewers', 'many']);
    expect(json.code).toBe(2);
    expect(parseJson(json.stderr)).toEqual({ code: 'usage_error', detail: expect.stringMatching(/Not an integer/) });
  });

  test('3 when the server cannot be reached, with a hint', SLOW, async () => {
    const url = `http://127.0.0.1:${await closedPort()}`;
    const [human, json] = await Promise.all([run(['sessions', 'list'], { STREAMPLANE_URL: url }), run(['--json', '--url', url, 'keys', 'list'])]);
    expect(human.code).toBe(3);
    expect(human.stderr).toContain(`cannot reach the server at ${url}: ECONNREFUSED`);
    expect(human.stderr).toMatch(/streamplane start/);
    expect(json.code).toBe(3);
    expect(parseJson(json.stderr)).toEqual({ code: 'server_unreachable', detail: expect.stringContaining('ECONNREFUSED') });
    neverShows(human, ADMIN_KEY);
    neverShows(json, ADMIN_KEY);
  });

  test('4 for a bad or missing key, which is never printed', SLOW, async () => {
    const [human, json, flag, missing] = await Promise.all([
      run(['sessions', 'list'], { STREAMPLANE_API_KEY: WRONG_KEY }),
      run(['--json', 'keys', 'list'], { STREAMPLANE_API_KEY: WRONG_KEY }),
      run(['sessions', 'get', UNKNOWN_SESSION, `--api-key=${WRONG_KEY}`]),
      runCli(['sessions', 'list'], { STREAMPLANE_URL: env.STREAMPLANE_URL! }),
    ]);
    for (const r of [human, json, flag, missing]) {
      expect(r.code, r.stderr).toBe(4);
      neverShows(r, WRONG_KEY);
      expect(r.stdout).toBe('');
    }
    expect(human.stderr).toMatch(/unknown or revoked.*\(invalid_api_key, HTTP 401\)/);
    expect(human.stderr).toMatch(/check --api-key/);
    expect(missing.stderr).toMatch(/missing_credentials.*\n.*No API key given/);
    expect(parseJson(json.stderr)).toMatchObject({ status: 401, code: 'invalid_api_key', type: expect.any(String), detail: expect.any(String) });
  });

  test('a key that cannot go in a header is refused locally, without echoing it', SLOW, async () => {
    const r = await run(['keys', 'list', '--api-key', 'bad key with spaces']);
    expect(r.code).toBe(2);
    neverShows(r, 'bad key with spaces');
  });

  test('5 for an unknown session; --json prints the problem document', SLOW, async () => {
    const [human, json] = await Promise.all([run(['sessions', 'get', UNKNOWN_SESSION]), run(['sessions', 'stop', UNKNOWN_SESSION, '--json'])]);
    expect(human.code).toBe(5);
    expect(human.stdout).toBe('');
    expect(human.stderr).toBe(`streamplane: Session ${UNKNOWN_SESSION} does not exist (not_found, HTTP 404)\n`);
    expect(json.code).toBe(5);
    expect(json.stdout).toBe('');
    const problem = parseJson(json.stderr);
    expect(problem).toMatchObject({ status: 404, code: 'not_found', detail: `Session ${UNKNOWN_SESSION} does not exist` });
    // Exactly what the server sent, request id included.
    expect(problem).toHaveProperty('request_id');
    neverShows(human, ADMIN_KEY);
    neverShows(json, ADMIN_KEY);
  });

  test('7 for other rejected requests, printing the problem detail', SLOW, async () => {
    const [limit, malformed, scope] = await Promise.all([
      run(['sessions', 'list', '--limit', '1000']),
      run(['sessions', 'get', 'not-a-session-id']),
      run(['tokens', 'mint', '--session', UNKNOWN_SESSION, '--viewer', 'v', '--scopes', 'view,fly']),
    ]);
    for (const r of [limit, malformed, scope]) {
      expect(r.code, r.stderr).toBe(7);
      expect(r.stderr).toMatch(/\(validation_failed, HTTP 400\)/);
    }
    expect(limit.stderr).toMatch(/querystring\.limit must be <= 100/);
  });

  test('8 for server errors, 1 for an answer that is not the API', SLOW, async () => {
    // A stand-in server: the real one does not fail on demand.
    const fake: Server = createServer((req, res) => {
      if (req.url?.startsWith('/api/v1/sessions/')) {
        res.writeHead(503, { 'content-type': 'application/problem+json' }).end(JSON.stringify({ type: 'x', title: 'Service Unavailable', status: 503, code: 'dependency_unavailable', detail: 'The database is unavailable; retry shortly.' }));
      } else if (req.url === '/api/v1/keys') {
        res.writeHead(502, { 'content-type': 'text/html' }).end('<html>Bad Gateway</html>');
      } else res.writeHead(200, { 'content-type': 'text/html' }).end('<html>hello</html>');
    });
    await new Promise<void>((r) => fake.listen(0, '127.0.0.1', r));
    const url = `http://127.0.0.1:${(fake.address() as { port: number }).port}`;
    try {
      const [problem, html, notApi] = await Promise.all([
        run(['sessions', 'get', UNKNOWN_SESSION], { STREAMPLANE_URL: url }),
        run(['--json', 'keys', 'list'], { STREAMPLANE_URL: url }),
        run(['sessions', 'list'], { STREAMPLANE_URL: url }),
      ]);
      expect(problem.code).toBe(8);
      expect(problem.stderr).toMatch(/database is unavailable.*\(dependency_unavailable, HTTP 503\)/);
      expect(html.code).toBe(8);
      expect(parseJson(html.stderr)).toEqual({ status: 502, code: 'http_502', detail: '<html>Bad Gateway</html>' });
      expect(notApi.code).toBe(1);
      expect(notApi.stderr).toMatch(/did not answer with JSON/);
      for (const r of [problem, html, notApi]) neverShows(r, ADMIN_KEY);
    } finally {
      await new Promise((r) => fake.close(r));
    }
  });
});
