import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { HookRequest, MediaServerEvent } from '../../../../core/ports/media-server.js';
import { adapterFixtures, assertParseNeverThrows, jsonCallbacks, status } from '../fixtures.test-support.js';
import { mediaMtxAdapter as adapter } from './mediamtx.adapter.js';

const { load, parsed } = adapterFixtures(import.meta.url, adapter, 'unused');

const KEY = 'sk_4f9c2a7e1b8d6035';
const PUBLIC = 'st_01jq3v8c9x2m4n6p7r8s9t0vwx';
const TOKEN = 'eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ2aWV3ZXIifQ.c2lnbmF0dXJl';
const ID = '6f1c2d8e-3b4a-4c5d-9e8f-0a1b2c3d4e5f';
const PUBLISH: MediaServerEvent = { type: 'publish.requested', key: KEY, app: 'live', stream: KEY, clientId: ID, addr: '192.0.2.10', protocol: 'rtmp' };

describe('MediaMTX adapter: publish', () => {
  it('takes the key from the last path segment when nothing else carries it', () => {
    expect(parsed('publish-rtmp-path-key')).toEqual(PUBLISH);
    expect(parsed('publish-rtsp-first-request')).toEqual({ ...PUBLISH, protocol: 'rtsp' });
  });

  it('prefers ?key= (first occurrence), then password, then token', () => {
    expect(parsed('publish-rtmp-query-key')).toEqual({ ...PUBLISH, stream: 'studio-a' });
    expect(parsed('publish-rtsp-password')).toEqual({ ...PUBLISH, stream: 'studio-a', protocol: 'rtsp' });
    expect(parsed('publish-whip-bearer')).toEqual({ ...PUBLISH, stream: 'studio-a', protocol: 'webrtc' });
  });

  it('has no app for a one-segment path', () => {
    expect(parsed('publish-single-segment-path')).toEqual({ ...PUBLISH, app: null });
  });

  it('does not depend on member order and accepts versions without the token field', () => {
    expect(parsed('publish-docs-order')).toEqual(PUBLISH);
    expect(parsed('publish-without-token-field')).toEqual(PUBLISH);
  });
});

describe('MediaMTX adapter: read, playback and the rest', () => {
  it('maps read and playback to play.requested with the viewer token from ?token= or Bearer', () => {
    expect(parsed('read-hls-query-token')).toEqual({ type: 'play.requested', key: TOKEN, app: 'live', stream: PUBLIC, clientId: null, addr: '198.51.100.7', protocol: 'hls' });
    expect(parsed('read-webrtc-bearer')).toMatchObject({ type: 'play.requested', key: TOKEN, protocol: 'webrtc' });
    expect(parsed('read-rtsp-no-token')).toMatchObject({ type: 'play.requested', key: null, stream: PUBLIC });
    expect(parsed('playback')).toEqual({ type: 'play.requested', key: TOKEN, app: 'live', stream: PUBLIC, clientId: null, addr: '198.51.100.7', protocol: '' });
  });

  it('ignores api and metrics access', () => {
    expect(parsed('api')).toEqual({ type: 'ignored', key: null, app: null, stream: null, clientId: null, addr: '127.0.0.1', protocol: '' });
    expect(parsed('metrics')).toMatchObject({ type: 'ignored', key: null });
  });
});

describe('MediaMTX adapter: refused requests', () => {
  it('refuses malformed, truncated, mistyped, unknown and incomplete bodies with 400', () => {
    for (const name of ['malformed', 'truncated', 'truncated-consistent', 'wrong-types', 'unknown-action', 'missing-action', 'publish-empty-path']) {
      expect(status(adapter.parse(load(name), 's')), name).toBe(400);
    }
  });

  it('refuses other hooks with 404, other content types with 415, other methods with 400', () => {
    const request = load('publish-rtmp-path-key');
    expect(status(adapter.parse({ ...request, hook: 'on_publish' }, 's'))).toBe(404);
    expect(status(adapter.parse({ ...request, headers: { 'content-type': 'application/x-www-form-urlencoded' } }, 's'))).toBe(415);
    expect(status(adapter.parse({ ...request, method: 'GET' }, 's'))).toBe(400);
  });

  it('refuses keys longer than 512 characters', () => {
    const request = load('publish-rtmp-path-key');
    const withKey = (key: string): HookRequest => ({ ...request, headers: {}, rawBody: Buffer.from(request.rawBody.toString().replace(KEY, key)) });
    expect(adapter.parse(withKey('k'.repeat(512)), 's').ok).toBe(true);
    expect(status(adapter.parse(withKey('k'.repeat(513)), 's'))).toBe(400);
  });
});

describe('MediaMTX adapter: answers', () => {
  it('allows and acknowledges with 200, denies with 403 (never 401)', () => {
    expect(adapter.render(PUBLISH, { kind: 'allow' })).toEqual({ status: 200, headers: { 'content-type': 'text/plain' }, body: '' });
    expect(adapter.render(PUBLISH, { kind: 'allow', rename: PUBLIC }).status).toBe(200);
    expect(adapter.render({ ...PUBLISH, type: 'ignored' }, { kind: 'ack' }).status).toBe(200);
    expect(adapter.render(PUBLISH, { kind: 'deny', reason: 'bad_key' })).toEqual({ status: 403, headers: { 'content-type': 'text/plain' }, body: 'bad_key' });
  });
});

describe('MediaMTX adapter: properties', () => {
  const value = fc.oneof(fc.string({ unit: 'binary' }), fc.integer(), fc.boolean(), fc.constant(null), fc.array(fc.string(), { maxLength: 2 }));
  const body = fc
    .record(
      {
        user: value,
        password: value,
        token: value,
        ip: value,
        action: fc.oneof(fc.constantFrom('publish', 'read', 'playback', 'api', 'metrics', 'pprof'), value),
        path: fc.oneof(fc.array(fc.string({ unit: 'binary' }), { maxLength: 4 }).map((s) => s.join('/')), value),
        protocol: value,
        id: value,
        query: fc.oneof(fc.string({ unit: 'binary' }).map((s) => `key=${s}&token=${s}`), value),
      },
      { requiredKeys: [] },
    )
    .map((o) => JSON.stringify(o));
  const request = jsonCallbacks(body, fc.oneof(fc.constant('auth'), fc.string()), fc.constantFrom('POST', 'PUT'));

  it('parse never throws, and whatever it accepts renders for every decision', () => {
    assertParseNeverThrows(adapter, request, {
      secret: 'secret',
      refusals: [400, 404, 415],
      decisions: [{ kind: 'allow' }, { kind: 'deny', reason: 'x' }, { kind: 'ack' }],
      rendered: (response) => expect([200, 403]).toContain(response.status),
    });
  });
});
