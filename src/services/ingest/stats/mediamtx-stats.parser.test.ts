import { readFileSync } from 'node:fs';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { parseMediamtxPaths } from './mediamtx-stats.parser.js';
import { StatsParseError } from './stream-stats.js';

const fixture = (name: string) => readFileSync(new URL(`./fixtures/${name}`, import.meta.url), 'utf8');
const list = (items: unknown[], extra: Record<string, unknown> = {}) => JSON.stringify({ itemCount: items.length, pageCount: items.length ? 1 : 0, items, ...extra });

describe('parseMediamtxPaths', () => {
  it('reads current MediaMTX fields: tracks2 properties, inboundBytes, available; rate is always 0', () => {
    expect(parseMediamtxPaths(fixture('mediamtx-paths.json')).streams).toEqual([
      {
        app: 'live',
        name: 'cam1',
        bytesIn: 48213944,
        bwInBitsPerSecond: 0,
        startedAtMs: Date.parse('2026-11-26T19:02:11.483Z'),
        publishing: true,
        publisher: { clientId: '7d3a4d0c-6c1e-4c55-9a1f-3f5b2b8e0c11' },
        video: { codec: 'H264', width: 1920, height: 1080, profile: 'High', level: '4.1' },
        audio: { codec: 'MPEG-4 Audio', sampleRate: 48000, channels: 2 },
        clients: 2,
      },
      {
        app: '',
        name: 'studio',
        bytesIn: 1048576,
        bwInBitsPerSecond: 0,
        startedAtMs: Date.parse('2026-11-26T19:05:40.001Z'),
        publishing: true,
        publisher: { clientId: 'f1a9b3c4-2d5e-4f60-8a7b-9c0d1e2f3a4b' },
        video: { codec: 'H265' },
        audio: { codec: 'Opus', channels: 2 },
        clients: 0,
      },
      { app: 'live', name: 'backup/cam2', bytesIn: 0, bwInBitsPerSecond: 0, publishing: false, clients: 0 },
    ]);
  });

  it('reads the MediaMTX 1.0 fields: tracks as names, bytesReceived, ready', () => {
    expect(parseMediamtxPaths(fixture('mediamtx-paths.v1.0.json')).streams).toEqual([
      {
        app: '',
        name: 'mystream',
        bytesIn: 3121045,
        bwInBitsPerSecond: 0,
        startedAtMs: Date.parse('2023-09-04T08:15:02.106Z'),
        publishing: true,
        publisher: { clientId: '5c1f2e3d-4b5a-4968-8776-a5b4c3d2e1f0' },
        video: { codec: 'H264' },
        audio: { codec: 'MPEG-4 Audio' },
        clients: 1,
      },
    ]);
  });

  it('reports AV1/VP9 integer profiles as text and skips tracks it does not know', () => {
    const item = { name: 'x', ready: true, bytesReceived: 1, readers: [], tracks2: [{ codec: 'KLV', codecProps: null }, { codec: 'AV1', codecProps: { width: 640, height: 480, profile: 0, level: 8, tier: 0 } }] };
    expect(parseMediamtxPaths(list([item])).streams[0]!.video).toEqual({ codec: 'AV1', width: 640, height: 480, profile: '0', level: '8' });
  });

  it('an empty server has no streams', () => {
    expect(parseMediamtxPaths(list([]))).toEqual({ streams: [] });
  });

  it('refuses one page of several', () => {
    const item = { name: 'a', ready: false, bytesReceived: 0, readers: [] };
    expect(() => parseMediamtxPaths(list([item], { itemCount: 150, pageCount: 2 }))).toThrow(/partial list \(1 of 150 paths, 2 pages\)/);
  });

  it('refuses garbage, items without a name or byte count, and documents over the cap', () => {
    expect(() => parseMediamtxPaths('nope')).toThrow(StatsParseError);
    expect(() => parseMediamtxPaths('{}')).toThrow(/no "items" array/);
    expect(() => parseMediamtxPaths(list([{ ready: true }]))).toThrow(/items\[0\] has no name/);
    expect(() => parseMediamtxPaths(list([{ name: 'a' }]))).toThrow(/no inboundBytes/);
    expect(() => parseMediamtxPaths(fixture('mediamtx-paths.json'), { maxChars: 50 })).toThrow(/over the 50-character limit/);
  });

  it('throws nothing but StatsParseError, whatever the input (property)', () => {
    const anyJson = fc.oneof(
      fc.string(),
      fc.json(),
      fc.jsonValue().map((v) => JSON.stringify({ items: [v] })),
      fc.jsonValue().map((v) => list([{ name: 'a/b', bytesReceived: 1, ready: v, readyTime: v, source: v, tracks: v, tracks2: [v, { codec: 'H264', codecProps: v }], readers: v }])),
    );
    fc.assert(
      fc.property(anyJson, (input) => {
        try {
          parseMediamtxPaths(input);
        } catch (err) {
          if (!(err instanceof StatsParseError)) throw err;
        }
      }),
      { numRuns: 1_000 },
    );
  });
});
