import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { HookDecision, HookRequest, MediaServerEvent, ParseResult } from '../../../../core/ports/media-server.js';
import { adapterFixtures, assertParseNeverThrows, headerSets, status } from '../fixtures.test-support.js';
import { nginxRtmpAdapter as adapter } from './nginx-rtmp.adapter.js';

const { load, parsed } = adapterFixtures(import.meta.url, adapter, 'unused');

function failure(result: ParseResult): { status: number } {
  return { status: status(result) };
}

const KEY = 'sk_4f9c2a7e1b8d6035';
const TOKEN = 'eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ2aWV3ZXIifQ.c2lnbmF0dXJl';
const PUBLISH: MediaServerEvent = { type: 'publish.requested', key: KEY, app: 'live', stream: KEY, clientId: '32', addr: '127.0.0.1', protocol: 'rtmp' };
const ALLOW: HookDecision = { kind: 'allow' };

describe('nginx-rtmp adapter: recorded callbacks', () => {
  it('reads on_publish: the stream name is the key', () => {
    expect(parsed('publish')).toEqual(PUBLISH);
  });

  it('reads notify_method get (fields in the query, empty body) like post', () => {
    expect(parsed('publish-get')).toEqual({ ...PUBLISH, key: 'sk_9d0e3b5a2c7f1846', stream: 'sk_9d0e3b5a2c7f1846', app: 'liveget', clientId: '51' });
    expect(parsed('update-publish-get')).toMatchObject({ type: 'publish.heartbeat', key: 'sk_9d0e3b5a2c7f1846', uptimeSeconds: 2 });
  });

  it('decodes the fully escaped form of the reference and the lighter escaping nginx 1.22 sends alike', () => {
    expect(parsed('publish-reference-escaping')).toEqual({ ...PUBLISH, clientId: '1' });
  });

  it('does not depend on field order', () => {
    expect(parsed('publish-fields-reordered')).toEqual(PUBLISH);
  });

  it("keeps nginx's own app/name when the client appends ?app=…&name=… (first occurrence wins)", () => {
    expect(parsed('publish-duplicate-args')).toEqual({ ...PUBLISH, clientId: '56' });
  });

  it('reports a key with reserved characters exactly as the encoder sent it', () => {
    expect(parsed('publish-escaped-name')).toMatchObject({ key: 'k+e%y&x=1#z;é', stream: 'k+e%y&x=1#z;é' });
  });

  it('maps on_update to heartbeats with the uptime, and keeps the original key after a rename', () => {
    expect(parsed('update-publish')).toEqual({ ...PUBLISH, type: 'publish.heartbeat', uptimeSeconds: 2 });
    expect(parsed('update-play')).toEqual({ type: 'play.heartbeat', key: TOKEN, app: 'live', stream: KEY, clientId: '34', addr: '127.0.0.1', protocol: 'rtmp', uptimeSeconds: 2 });
    expect(parsed('update-after-rename')).toMatchObject({ type: 'publish.heartbeat', key: 'sk_rename000000001', clientId: '45' });
    expect(parsed('update-plain')).toMatchObject({ type: 'ignored', key: null, uptimeSeconds: 30 });
  });

  it('takes the viewer token from the play args, or null', () => {
    expect(parsed('play-with-token')).toEqual({ type: 'play.requested', key: TOKEN, app: 'live', stream: KEY, clientId: '34', addr: '127.0.0.1', protocol: 'rtmp' });
    expect(parsed('play-relay')).toEqual({ type: 'play.requested', key: null, app: null, stream: 'good', clientId: '12', addr: '127.0.0.1:19351/live/good', protocol: 'rtmp' });
  });

  it('maps *_done to ended and on_done (role unknown) to ignored', () => {
    expect(parsed('publish-done')).toEqual({ ...PUBLISH, type: 'publish.ended' });
    expect(parsed('play-done')).toMatchObject({ type: 'play.ended', key: TOKEN, clientId: '34' });
    expect(parsed('done-publisher')).toMatchObject({ type: 'ignored', key: null, stream: KEY, clientId: '32' });
    expect(parsed('done-player')).toMatchObject({ type: 'ignored', key: null, clientId: '34' });
  });

  it('parses each callback alone, so out-of-order delivery yields the same events', () => {
    const names = ['publish', 'update-publish', 'publish-done', 'done-publisher'];
    const inOrder = names.map(parsed);
    const reversed = [...names].reverse().map(parsed).reverse();
    expect(reversed).toEqual(inOrder);
  });
});

describe('nginx-rtmp adapter: refused requests', () => {
  it('refuses a publish without a name', () => {
    expect(failure(adapter.parse(load('publish-missing-name'), 's'))).toEqual({ status: 400 });
    expect(failure(adapter.parse(load('publish-empty-name'), 's'))).toEqual({ status: 400 });
  });

  it('refuses a body shorter than its Content-Length', () => {
    expect(failure(adapter.parse(load('publish-truncated'), 's'))).toEqual({ status: 400 });
  });

  it('refuses a call that does not belong to the hook URL', () => {
    expect(failure(adapter.parse(load('publish-call-mismatch'), 's'))).toEqual({ status: 400 });
    const publish = load('publish');
    for (const hook of adapter.hooks.filter((h) => h !== 'on_publish')) {
      expect(failure(adapter.parse({ ...publish, hook }, 's')), hook).toEqual({ status: 400 });
    }
    const missingCall = publish.rawBody.toString().replace('&call=publish', '');
    expect(failure(adapter.parse({ ...publish, rawBody: Buffer.from(missingCall), headers: { 'content-type': 'application/x-www-form-urlencoded' } }, 's'))).toEqual({ status: 400 });
  });

  it('refuses a non-form body with 415, and an unknown hook with 404', () => {
    expect(failure(adapter.parse(load('publish-json-content-type'), 's'))).toEqual({ status: 415 });
    expect(failure(adapter.parse({ ...load('publish'), headers: {} }, 's'))).toEqual({ status: 415 });
    expect(failure(adapter.parse({ ...load('publish'), hook: 'on_record_done' }, 's'))).toEqual({ status: 404 });
    expect(failure(adapter.parse({ ...load('publish'), hook: 'constructor' }, 's'))).toEqual({ status: 404 });
  });

  it('accepts a charset parameter on the form content type', () => {
    const request = load('publish');
    const result = adapter.parse({ ...request, headers: { ...request.headers, 'content-type': 'Application/X-WWW-Form-Urlencoded; charset=utf-8' } }, 's');
    expect(result.ok).toBe(true);
  });

  it('refuses keys longer than 512 characters', () => {
    const request = load('publish');
    const withKey = (key: string): HookRequest => ({
      ...request,
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      rawBody: Buffer.from(request.rawBody.toString().replace(KEY, key)),
    });
    expect(adapter.parse(withKey('k'.repeat(512)), 's').ok).toBe(true);
    expect(failure(adapter.parse(withKey('k'.repeat(513)), 's'))).toEqual({ status: 400 });
  });

  it('refuses methods nginx never uses', () => {
    expect(failure(adapter.parse({ ...load('publish'), method: 'PUT' }, 's'))).toEqual({ status: 400 });
  });
});

describe('nginx-rtmp adapter: answers', () => {
  it('allows with 200, denies with 403 and a short reason, always with Connection: close', () => {
    const allow = adapter.render(PUBLISH, ALLOW);
    expect(allow).toEqual({ status: 200, headers: { 'content-type': 'text/plain', connection: 'close' }, body: '' });
    const deny = adapter.render(PUBLISH, { kind: 'deny', reason: 'bad_key' });
    expect(deny).toEqual({ status: 403, headers: { 'content-type': 'text/plain', connection: 'close' }, body: 'bad_key' });
    expect(adapter.render({ ...PUBLISH, type: 'publish.ended' }, { kind: 'ack' }).status).toBe(200);
  });

  it('renames a publish with 302 + Location, and never sends Location for plays or updates', () => {
    const rename: HookDecision = { kind: 'allow', rename: 'st_01jq3v8c9x2m4n6p7r8s9t0vwx' };
    expect(adapter.render(PUBLISH, rename)).toEqual({
      status: 302,
      headers: { location: 'st_01jq3v8c9x2m4n6p7r8s9t0vwx', connection: 'close', 'content-type': 'text/plain' },
      body: '',
    });
    for (const type of ['publish.heartbeat', 'play.requested', 'play.heartbeat'] as const) {
      const answer = adapter.render({ ...PUBLISH, type }, rename);
      expect(answer.status, type).toBe(200);
      expect(answer.headers.location, type).toBeUndefined();
    }
  });

  it('denies rather than send a rename nginx would misread (relay push, truncation, header injection)', () => {
    for (const rename of ['rtmp://evil/live/x', 'RTMP://evil/live/x', '', 'a\r\nSet-Cookie: x', 'é'.repeat(128)]) {
      expect(adapter.render(PUBLISH, { kind: 'allow', rename })).toMatchObject({ status: 403, body: 'invalid_rename' });
    }
    expect(adapter.render(PUBLISH, { kind: 'allow', rename: 'a'.repeat(255) }).status).toBe(302);
  });

  it('strips control characters from deny reasons', () => {
    expect(adapter.render(PUBLISH, { kind: 'deny', reason: 'bad\r\nkey' }).body).toBe('bad  key');
  });
});

describe('nginx-rtmp adapter: properties', () => {
  const fieldNames = ['app', 'name', 'call', 'time', 'token', 'clientid', 'addr', 'type', 'key'];
  const calls = ['publish', 'publish_done', 'update_publish', 'update_play', 'update', 'play', 'play_done', 'done'];
  const formBody = fc
    .array(
      fc.tuple(
        fc.constantFrom(...fieldNames),
        fc.oneof(fc.constantFrom(...calls), fc.string({ unit: 'binary' }), fc.stringMatching(/^[0-9]{0,12}$/)),
        fc.boolean(),
      ),
      { maxLength: 12 },
    )
    // Half the values go in raw, as nginx appends the client's args: stray `%`, `&`, `=` and non-ASCII.
    .map((pairs) => pairs.map(([k, v, raw]) => `${k}=${raw ? v : encodeURIComponent(v)}`).join('&'));
  const request = fc.record({
    hook: fc.oneof(fc.constantFrom(...adapter.hooks), fc.string()),
    method: fc.constantFrom('POST', 'GET', 'PUT', ''),
    headers: fc.oneof(
      fc.constant({ 'content-type': 'application/x-www-form-urlencoded' }),
      headerSets('content-type', 'content-length', 'host', 'x'),
    ),
    query: fc.oneof(formBody, fc.string({ unit: 'binary' })),
    rawBody: fc.oneof(formBody.map((s) => Buffer.from(s)), fc.uint8Array({ maxLength: 300 }).map((b) => Buffer.from(b)), fc.constant(Buffer.alloc(0))),
  });

  it('parse never throws, and whatever it accepts renders for every decision', () => {
    assertParseNeverThrows(adapter, request, {
      secret: 'secret',
      refusals: [400, 404, 415],
      decisions: [ALLOW, { kind: 'allow', rename: 'st_x' }, { kind: 'deny', reason: 'x' }, { kind: 'ack' }],
      rendered: (response) => expect(response.status).toBeGreaterThanOrEqual(200),
    });
  });
});
