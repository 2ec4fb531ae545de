import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { HookRequest, MediaServerEvent } from '../../../../core/ports/media-server.js';
import { adapterFixtures, assertParseNeverThrows, jsonCallbacks, status } from '../fixtures.test-support.js';
import { srsAdapter as adapter } from './srs.adapter.js';

const { load, parsed } = adapterFixtures(import.meta.url, adapter, 'unused');

const KEY = 'sk_4f9c2a7e1b8d6035';
const TOKEN = 'eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ2aWV3ZXIifQ.c2lnbmF0dXJl';
const PUBLIC = 'st_01jq3v8c9x2m4n6p7r8s9t0vwx';
const PUBLISH: MediaServerEvent = { type: 'publish.requested', key: KEY, app: 'live', stream: KEY, clientId: '4v1y8139', addr: '192.0.2.10', protocol: 'rtmp' };

describe('SRS adapter: callbacks', () => {
  it('reads on_publish: the stream name is the key (OBS: server rtmp://host/live, key = stream)', () => {
    expect(parsed('on-publish')).toEqual(PUBLISH);
    expect(parsed('on-publish-with-stream-id')).toEqual(PUBLISH);
    expect(parsed('on-unpublish')).toEqual({ ...PUBLISH, type: 'publish.ended' });
  });

  it('prefers ?key= from param over the stream name, first occurrence wins', () => {
    expect(parsed('on-publish-param-key')).toEqual({ ...PUBLISH, stream: 'studio-a' });
    expect(parsed('on-publish-param-duplicate-key')).toEqual({ ...PUBLISH, stream: 'studio-a' });
  });

  it('accepts the SRS 3/4 shape with an integer client_id and fewer fields', () => {
    expect(parsed('on-publish-integer-client-id')).toEqual({ ...PUBLISH, clientId: '107' });
  });

  it('reports the protocol from the tcUrl scheme', () => {
    expect(parsed('on-publish-webrtc')).toMatchObject({ protocol: 'webrtc', key: KEY, clientId: '52g4ix89' });
    expect(parsed('on-publish-srt')).toMatchObject({ protocol: 'srt', key: KEY });
  });

  it('takes the viewer token from param on play/stop, or null', () => {
    const play: MediaServerEvent = { type: 'play.requested', key: TOKEN, app: 'live', stream: PUBLIC, clientId: '1e9m2q47', addr: '198.51.100.7', protocol: 'rtmp' };
    expect(parsed('on-play')).toEqual(play);
    expect(parsed('on-play-without-token')).toEqual({ ...play, key: null });
    expect(parsed('on-stop')).toEqual({ ...play, type: 'play.ended' });
  });

  it('ignores on_connect/on_close at any hook URL, keeping recv_bytes', () => {
    expect(parsed('on-connect-at-publish-url')).toEqual({ type: 'ignored', key: null, app: 'live', stream: null, clientId: '4v1y8139', addr: '192.0.2.10', protocol: 'rtmp' });
    expect(parsed('on-close-at-stop-url')).toEqual({ type: 'ignored', key: null, app: 'live', stream: null, clientId: '4v1y8139', addr: '192.0.2.10', protocol: 'rtmp', bytesIn: 18764392 });
  });

  it('does not depend on member order or formatting', () => {
    expect(parsed('on-publish-reordered')).toEqual(PUBLISH);
  });

  it('keeps the last of duplicated JSON members (JSON.parse semantics)', () => {
    expect(parsed('duplicate-json-member')).toMatchObject({ key: KEY, stream: KEY });
  });
});

describe('SRS adapter: refused requests', () => {
  it('refuses a body action that disagrees with the hook URL', () => {
    expect(status(adapter.parse(load('action-mismatch'), 's'))).toBe(400);
  });

  it('refuses malformed, truncated, mistyped and incomplete bodies with 400', () => {
    for (const name of ['not-json', 'truncated', 'truncated-consistent', 'wrong-types', 'missing-stream', 'array-body']) {
      expect(status(adapter.parse(load(name), 's')), name).toBe(400);
    }
  });

  it('refuses a form body with 415, unknown hooks with 404, other methods with 400', () => {
    expect(status(adapter.parse(load('malformed'), 's'))).toBe(415);
    expect(status(adapter.parse({ ...load('on-publish'), hook: 'on_dvr' }, 's'))).toBe(404);
    expect(status(adapter.parse({ ...load('on-publish'), hook: 'toString' }, 's'))).toBe(404);
    expect(status(adapter.parse({ ...load('on-publish'), method: 'GET' }, 's'))).toBe(400);
  });

  it('refuses keys longer than 512 characters', () => {
    const request = load('on-publish');
    const withKey = (key: string): HookRequest => ({ ...request, headers: {}, rawBody: Buffer.from(request.rawBody.toString().replaceAll(KEY, key)) });
    expect(adapter.parse(withKey('k'.repeat(512)), 's').ok).toBe(true);
    expect(status(adapter.parse(withKey('k'.repeat(513)), 's'))).toBe(400);
  });

  it('says what is wrong without echoing values', () => {
    const result = adapter.parse(load('wrong-types'), 's');
    expect(result).toMatchObject({ ok: false, status: 400 });
    if (!result.ok) {
      expect(result.reason).toMatch(/client_id|stream/);
      expect(result.reason).not.toContain('12345');
    }
  });
});

describe('SRS adapter: answers', () => {
  it('allows and acknowledges with 200 {"code":0}', () => {
    const ok = { status: 200, headers: { 'content-type': 'application/json' }, body: '{"code":0}' };
    expect(adapter.render(PUBLISH, { kind: 'allow' })).toEqual(ok);
    expect(adapter.render({ ...PUBLISH, type: 'publish.ended' }, { kind: 'ack' })).toEqual(ok);
  });

  it('cannot rename: an allow with rename is a plain allow', () => {
    expect(adapter.render(PUBLISH, { kind: 'allow', rename: PUBLIC }).body).toBe('{"code":0}');
  });

  it('denies with 403 and a non-zero code', () => {
    const deny = adapter.render(PUBLISH, { kind: 'deny', reason: 'bad_key' });
    expect(deny).toEqual({ status: 403, headers: { 'content-type': 'application/json' }, body: '{"code":403,"reason":"bad_key"}' });
  });
});

describe('SRS adapter: properties', () => {
  const actions = ['on_publish', 'on_unpublish', 'on_play', 'on_stop', 'on_connect', 'on_close', 'on_dvr'];
  const value = fc.oneof(fc.string({ unit: 'binary' }), fc.integer(), fc.double(), fc.boolean(), fc.constant(null), fc.array(fc.integer(), { maxLength: 2 }));
  const body = fc
    .record(
      {
        action: fc.oneof(fc.constantFrom(...actions), value),
        client_id: value,
        ip: value,
        app: value,
        stream: value,
        param: fc.oneof(fc.string({ unit: 'binary' }).map((s) => `?key=${s}&token=${s}`), value),
        tcUrl: value,
        recv_bytes: value,
      },
      { requiredKeys: [] },
    )
    .map((o) => JSON.stringify(o));
  const request = jsonCallbacks(body, fc.oneof(fc.constantFrom(...adapter.hooks), fc.string()), fc.constantFrom('POST', 'GET'));

  it('parse never throws, and whatever it accepts renders for every decision', () => {
    assertParseNeverThrows(adapter, request, {
      secret: 'secret',
      refusals: [400, 404, 415],
      decisions: [{ kind: 'allow' }, { kind: 'deny', reason: 'x' }, { kind: 'ack' }],
      rendered: (response) => expect([200, 403]).toContain(response.status),
    });
  });
});
