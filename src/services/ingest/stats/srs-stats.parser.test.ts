import { readFileSync } from 'node:fs';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { parseSrsStreams } from './srs-stats.parser.js';
import { StatsParseError } from './stream-stats.js';

const fixture = readFileSync(new URL('./fixtures/srs-streams.json', import.meta.url), 'utf8');
const withStreams = (streams: unknown[], extra: Record<string, unknown> = {}) => JSON.stringify({ code: 0, server: 'vid-1', ...extra, streams });
const srsStream = (over: Record<string, unknown> = {}) => ({
  id: 1,
  name: 'cam',
  vhost: 2,
  app: 'live',
  live_ms: 1_700_000_000_000,
  clients: 1,
  frames: 0,
  send_bytes: 0,
  recv_bytes: 10,
  kbps: { recv_30s: 0, send_30s: 0 },
  publish: { active: true, cid: 107 },
  video: null,
  audio: null,
  ...over,
});

describe('parseSrsStreams', () => {
  it('reads publishing, audio-only and ended streams; kbps becomes bit/s; the publisher is not a client', () => {
    expect(parseSrsStreams(fixture).streams).toEqual([
      {
        app: 'live',
        name: 'livestream',
        bytesIn: 1064853,
        bwInBitsPerSecond: 1_175_000,
        publishing: true,
        publisher: { clientId: '7y1k8j44' },
        video: { codec: 'H264', width: 1280, height: 720, profile: 'High', level: '3.1' },
        audio: { codec: 'AAC', sampleRate: 44100, channels: 2 },
        clients: 2,
      },
      { app: 'radio', name: 'audio-only', bytesIn: 240311, bwInBitsPerSecond: 130_000, publishing: true, publisher: { clientId: 'k2m1x0zq' }, audio: { codec: 'AAC', sampleRate: 48000, channels: 2 }, clients: 0 },
      { app: 'live', name: 'ended', bytesIn: 0, bwInBitsPerSecond: 0, publishing: false, clients: 1 },
    ]);
  });

  it('never reports live_ms as an age: it is the server clock', () => {
    for (const s of parseSrsStreams(fixture).streams) expect(s).not.toHaveProperty('timeMs');
  });

  it('accepts SRS 4 integer ids, and an idle stream with cid -1 has no publisher', () => {
    const [active, idle] = parseSrsStreams(withStreams([srsStream(), srsStream({ name: 'idle', publish: { active: false, cid: -1 } })])).streams;
    expect(active!.publisher).toEqual({ clientId: '107' });
    expect(idle).not.toHaveProperty('publisher');
  });

  it('leaves out a 0×0 picture size (no SPS parsed yet)', () => {
    const [s] = parseSrsStreams(withStreams([srsStream({ video: { codec: 'H264', profile: 'Other', level: 'Other', width: 0, height: 0 } })])).streams;
    expect(s!.video).toEqual({ codec: 'H264', profile: 'Other', level: 'Other' });
  });

  it('an empty list is no streams', () => {
    expect(parseSrsStreams(withStreams([]))).toEqual({ streams: [] });
  });

  it('refuses a partial page when SRS says how many streams there are', () => {
    expect(() => parseSrsStreams(withStreams([srsStream()], { total: 3 }))).toThrow(/partial list \(1 of 3 streams\)/);
    expect(parseSrsStreams(withStreams([srsStream()], { total: 1 })).streams).toHaveLength(1);
  });

  it('refuses an API error, a missing list, and streams without the fields it reads', () => {
    expect(() => parseSrsStreams(JSON.stringify({ code: 2048 }))).toThrow(/API error code 2048/);
    expect(() => parseSrsStreams(JSON.stringify({ code: 0 }))).toThrow(/no "streams" array/);
    expect(() => parseSrsStreams(withStreams([srsStream({ recv_bytes: '10' })]))).toThrow(/recv_bytes/);
    expect(() => parseSrsStreams(withStreams([srsStream({ publish: {} })]))).toThrow(/publish.active/);
    expect(() => parseSrsStreams(withStreams([srsStream({ name: '' })]))).toThrow(/no app and name/);
    expect(() => parseSrsStreams(withStreams([null]))).toThrow(/no app and name/);
  });

  it('refuses non-JSON and documents over the cap', () => {
    expect(() => parseSrsStreams('<html>')).toThrow(StatsParseError);
    expect(() => parseSrsStreams('[]')).toThrow(/JSON object/);
    expect(() => parseSrsStreams(fixture, { maxChars: 10 })).toThrow(/over the 10-character limit/);
  });

  it('throws nothing but StatsParseError, whatever the input (property)', () => {
    const anyJson = fc.oneof(fc.string(), fc.json(), fc.jsonValue().map((v) => JSON.stringify({ code: 0, streams: [v] })), fc.jsonValue().map((v) => JSON.stringify({ code: 0, streams: [srsStream({ kbps: v, publish: v, video: v, audio: v })] })));
    fc.assert(
      fc.property(anyJson, (input) => {
        try {
          parseSrsStreams(input);
        } catch (err) {
          if (!(err instanceof StatsParseError)) throw err;
        }
      }),
      { numRuns: 1_000 },
    );
  });
});
