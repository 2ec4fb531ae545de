import { createHmac } from 'node:crypto';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { HookDecision, HookRequest, MediaServerEvent } from '../../../../core/ports/media-server.js';
import { adapterFixtures, assertParseNeverThrows, headerSets, status, truncations } from '../fixtures.test-support.js';
import { omeAdapter as adapter } from './ome.adapter.js';

const SECRET = 'ome-hook-secret';

const { load, parsed } = adapterFixtures(import.meta.url, adapter, SECRET);

/** The event as the service would log or publish it: JSON drops the URL parts kept for render(). */
/** The event without `urlAroundStream` (asserted separately, in the rename tests). */
function plain(event: MediaServerEvent): unknown {
  const { urlAroundStream: _around, ...rest } = event;
  return rest;
}

function answer(event: MediaServerEvent, decision: HookDecision): unknown {
  const response = adapter.render(event, decision);
  expect(response.status).toBe(200);
  expect(response.headers['content-type']).toBe('application/json');
  return JSON.parse(response.body);
}

const KEY = 'sk_4f9c2a7e1b8d6035';
const PUBLIC = 'st_01jq3v8c9x2m4n6p7r8s9t0vwx';
const TOKEN = 'eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ2aWV3ZXIifQ.c2lnbmF0dXJl';
const PUBLISH = { type: 'publish.requested', key: KEY, app: 'app', stream: KEY, clientId: null, addr: '192.0.2.10', protocol: 'rtmp' };

describe('OME adapter: signature', () => {
  it('accepts the signature with and without base64 padding', () => {
    expect(plain(parsed('publish-opening-rtmp'))).toEqual(PUBLISH);
    expect(plain(parsed('publish-opening-rtmp-unpadded'))).toEqual(PUBLISH);
  });

  it('verifies the raw bytes, whatever their formatting', () => {
    expect(plain(parsed('signed-pretty-body'))).toEqual(PUBLISH);
    expect(status(adapter.parse(load('signature-over-reserialised-json'), SECRET))).toBe(401);
  });

  it('refuses a missing, foreign, wrongly encoded or duplicated signature with 401', () => {
    for (const name of ['signature-missing', 'signature-other-secret', 'signature-standard-alphabet']) {
      expect(status(adapter.parse(load(name), SECRET)), name).toBe(401);
    }
    const request = load('publish-opening-rtmp');
    const sig = request.headers['x-ome-signature'] as string;
    expect(status(adapter.parse({ ...request, headers: { ...request.headers, 'x-ome-signature': [sig, sig] } }, SECRET))).toBe(401);
    // Only padding is normalised: extra '=' is harmless, anything else is a different signature.
    expect(adapter.parse({ ...request, headers: { ...request.headers, 'x-ome-signature': `${sig}==` } }, SECRET).ok).toBe(true);
    expect(status(adapter.parse({ ...request, headers: { ...request.headers, 'x-ome-signature': sig.slice(1) } }, SECRET))).toBe(401);
  });

  it('refuses everything when the node has no secret', () => {
    const body = load('publish-opening-rtmp').rawBody;
    const signedWithEmpty = createHmac('sha1', '').update(body).digest('base64url');
    expect(status(adapter.parse({ ...load('publish-opening-rtmp'), headers: { 'x-ome-signature': signedWithEmpty } }, ''))).toBe(401);
  });
});

describe('OME adapter: admission requests', () => {
  it('maps incoming/opening to publish.requested with the stream segment as key', () => {
    expect(plain(parsed('publish-opening-srt'))).toEqual({ ...PUBLISH, protocol: 'srt' });
    expect(plain(parsed('publish-opening-whip'))).toEqual({ ...PUBLISH, protocol: 'webrtc' });
    expect(plain(parsed('client-null'))).toEqual({ ...PUBLISH, addr: null });
  });

  it('prefers ?key= (first occurrence) over the stream segment', () => {
    expect(plain(parsed('publish-opening-key-query'))).toEqual({ ...PUBLISH, stream: 'studio-a' });
  });

  it('maps incoming/closing to publish.ended with the pre-rename stream', () => {
    expect(plain(parsed('publish-closing-after-rename'))).toEqual({ ...PUBLISH, type: 'publish.ended' });
  });

  it('maps outgoing to play with the token from the query, and reports the transport peer as addr', () => {
    expect(plain(parsed('play-opening-llhls'))).toEqual({ type: 'play.requested', key: TOKEN, app: 'app', stream: PUBLIC, clientId: null, addr: '10.0.0.2', protocol: 'llhls' });
    expect(plain(parsed('play-opening-webrtc-no-token'))).toMatchObject({ type: 'play.requested', key: null, stream: PUBLIC });
    expect(plain(parsed('play-closing'))).toMatchObject({ type: 'play.ended', key: TOKEN, stream: PUBLIC });
  });

  it('parses closing before opening the same way (no state)', () => {
    const names = ['publish-opening-rtmp', 'publish-closing-after-rename'];
    expect([...names].reverse().map(parsed).reverse().map(plain)).toEqual(names.map(parsed).map(plain));
  });

  it('refuses malformed, truncated, mistyped and unusable bodies with 400', () => {
    for (const name of ['malformed', 'truncated', 'truncated-signed', 'wrong-types', 'url-without-app', 'url-without-stream', 'url-bad-escape']) {
      expect(status(adapter.parse(load(name), SECRET)), name).toBe(400);
    }
  });

  it('refuses unknown hooks with 404 and non-JSON content types with 415', () => {
    expect(status(adapter.parse({ ...load('publish-opening-rtmp'), hook: 'alert' }, SECRET))).toBe(404);
    const request = load('publish-opening-rtmp');
    expect(status(adapter.parse({ ...request, headers: { ...request.headers, 'content-type': 'text/plain' } }, SECRET))).toBe(415);
  });

  it('refuses keys longer than 512 characters', () => {
    const sign = (key: string): HookRequest => {
      const body = Buffer.from(load('publish-opening-rtmp').rawBody.toString().replace(KEY, key));
      return { hook: 'admission', method: 'POST', query: '', headers: { 'x-ome-signature': createHmac('sha1', SECRET).update(body).digest('base64url') }, rawBody: body };
    };
    expect(adapter.parse(sign('k'.repeat(512)), SECRET).ok).toBe(true);
    expect(status(adapter.parse(sign('k'.repeat(513)), SECRET))).toBe(400);
  });
});

describe('OME adapter: answers', () => {
  it('allows an opening with {"allowed":true}, plus lifetime when given', () => {
    const event = parsed('publish-opening-rtmp');
    expect(answer(event, { kind: 'allow' })).toEqual({ allowed: true });
    expect(answer(event, { kind: 'allow', lifetimeMs: 3_600_000 })).toEqual({ allowed: true, lifetime: 3_600_000 });
    expect(answer(event, { kind: 'allow', lifetimeMs: -1 })).toEqual({ allowed: true });
  });

  it('renames with new_url: same scheme, host, port, app and file, stream replaced, query dropped', () => {
    expect(answer(parsed('publish-opening-key-query'), { kind: 'allow', rename: PUBLIC })).toEqual({ allowed: true, new_url: `rtmp://ome.example.com:1935/app/${PUBLIC}` });
    expect(answer(parsed('publish-opening-whip'), { kind: 'allow', rename: PUBLIC })).toEqual({ allowed: true, new_url: `http://ome.example.com:3333/app/${PUBLIC}` });
    expect(answer(parsed('play-opening-llhls'), { kind: 'allow', rename: 'other', lifetimeMs: 60_000 })).toEqual({
      allowed: true,
      new_url: 'https://ome.example.com:3334/app/other/llhls.m3u8',
      lifetime: 60_000,
    });
    expect(answer(parsed('publish-opening-rtmp'), { kind: 'allow', rename: 'a/b c' })).toEqual({ allowed: true, new_url: 'rtmp://ome.example.com:1935/app/a%2Fb%20c' });
  });

  it('reports the URL around the stream (never the key), and refuses a rename without it', () => {
    const event = parsed('publish-opening-rtmp');
    expect(event.urlAroundStream).toEqual({ before: 'rtmp://ome.example.com:1935/app/', after: '' });
    expect(JSON.stringify(event.urlAroundStream)).not.toContain(event.key!);
    expect(answer(plain(event) as MediaServerEvent, { kind: 'allow', rename: PUBLIC })).toEqual({ allowed: false, reason: 'rename_unavailable' });
    expect(answer(event, { kind: 'allow', rename: '' })).toEqual({ allowed: false, reason: 'invalid_rename' });
  });

  it('denies with HTTP 200 {"allowed":false,"reason"}', () => {
    expect(answer(parsed('play-opening-llhls'), { kind: 'deny', reason: 'token_expired' })).toEqual({ allowed: false, reason: 'token_expired' });
  });

  it('answers closings with {} whatever the decision', () => {
    for (const decision of [{ kind: 'ack' }, { kind: 'deny', reason: 'x' }, { kind: 'allow', rename: 'y' }] as HookDecision[]) {
      expect(answer(parsed('publish-closing-after-rename'), decision)).toEqual({});
      expect(answer(parsed('play-closing'), decision)).toEqual({});
    }
  });
});

describe('OME adapter: properties', () => {
  const value = fc.oneof(fc.string({ unit: 'binary' }), fc.integer(), fc.boolean(), fc.constant(null));
  const url = fc.oneof(
    fc.tuple(fc.constantFrom('rtmp', 'srt', 'ws', 'https', 'x'), fc.string(), fc.string({ unit: 'binary' }), fc.string({ unit: 'binary' })).map(([s, h, p, q]) => `${s}://${h}/${p}?${q}`),
    fc.webUrl({ withQueryParameters: true, withFragments: true }),
    value,
  );
  const body = fc
    .record(
      {
        client: fc.oneof(fc.constant(null), fc.record({ address: value, port: value, real_ip: value }, { requiredKeys: [] }), value),
        request: fc.oneof(
          fc.record(
            {
              direction: fc.oneof(fc.constantFrom('incoming', 'outgoing'), value),
              status: fc.oneof(fc.constantFrom('opening', 'closing'), value),
              protocol: value,
              url,
              new_url: value,
            },
            { requiredKeys: [] },
          ),
          value,
        ),
      },
      { requiredKeys: [] },
    )
    .map((o) => JSON.stringify(o));
  const raw = fc.oneof(body, truncations(body), fc.json(), fc.uint8Array({ maxLength: 200 }).map((b) => Buffer.from(b).toString('latin1')));
  const request = fc
    .record({
      hook: fc.oneof(fc.constant('admission'), fc.string()),
      method: fc.constantFrom('POST', 'GET'),
      signed: fc.boolean(),
      headers: headerSets('content-type', 'content-length', 'x-ome-signature'),
      query: fc.string(),
      body: raw,
    })
    .map(({ signed, body, headers, ...rest }): HookRequest => {
      const rawBody = Buffer.from(body, 'latin1');
      // Mostly signed correctly, so that the generated bodies reach the JSON parser.
      const signature = signed ? { 'x-ome-signature': createHmac('sha1', SECRET).update(rawBody).digest('base64url') } : {};
      return { ...rest, headers: { ...headers, ...signature }, rawBody };
    });

  it('parse never throws, and whatever it accepts renders for every decision', () => {
    assertParseNeverThrows(adapter, request, {
      secret: SECRET,
      refusals: [400, 401, 404, 415],
      decisions: [{ kind: 'allow', rename: 'x', lifetimeMs: 5 }, { kind: 'deny', reason: 'x' }, { kind: 'ack' }],
      rendered: (response) => {
        expect(response.status).toBe(200);
        expect(() => JSON.parse(response.body) as unknown).not.toThrow();
      },
    });
  });
});
