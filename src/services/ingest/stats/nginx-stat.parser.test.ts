import { readFileSync } from 'node:fs';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { appOf, nginxStatDocument, playersOf, streamNameOf } from './fixtures/nginx-stat.fixture.js';
import { parseNginxStat, StatsParseError } from './nginx-stat.parser.js';

const fixture = (name: string) => readFileSync(new URL(`./fixtures/${name}`, import.meta.url), 'utf8');

/** One <application> wrapped in a minimal valid document. */
const doc = (applications: string, server = true) =>
  `<?xml version="1.0" encoding="utf-8" ?>\r\n<rtmp>\r\n<pid>1</pid><bytes_in>10</bytes_in>\r\n${server ? `<server>\r\n${applications}</server>\r\n` : ''}</rtmp>\r\n`;
const stream = (name: string, inner = '') =>
  `<stream><name>${name}</name><time>1000</time><bw_in>80</bw_in><bytes_in>100</bytes_in><bw_out>0</bw_out><bytes_out>0</bytes_out>${inner}</stream>`;

describe('parseNginxStat on recorded documents', () => {
  it('reads the reference document: one publisher, one player, meta', () => {
    expect(parseNginxStat(fixture('nginx-stat.one-stream.xml'))).toEqual({
      serverBytesIn: 193805,
      streams: [
        {
          app: 'live',
          name: 'good',
          bytesIn: 186282,
          bwInBitsPerSecond: 138840,
          bwVideoBitsPerSecond: 67160,
          bwAudioBitsPerSecond: 71680,
          timeMs: 11780,
          publishing: true,
          publisher: { clientId: '1', address: '127.0.0.1', dropped: 0, timeMs: 11963 },
          video: { codec: 'H264', width: 640, height: 360, frameRate: 30, profile: 'High', level: '3.0' },
          audio: { codec: 'AAC', sampleRate: 44100, channels: 1 },
          clients: 1,
        },
      ],
    });
  });

  it('reads a server with applications but no streams', () => {
    expect(parseNginxStat(fixture('nginx-stat.no-streams.xml'))).toEqual({ serverBytesIn: 0, streams: [] });
  });

  it('reads a stream that has only players waiting: not publishing, no publisher, no meta', () => {
    expect(parseNginxStat(fixture('nginx-stat.players-only.xml')).streams).toEqual([
      { app: 'live', name: 'waiting', bytesIn: 0, bwInBitsPerSecond: 0, bwVideoBitsPerSecond: 0, bwAudioBitsPerSecond: 0, timeMs: 1656, publishing: false, clients: 2 },
    ]);
  });

  it('reads several applications, decodes escaped names and leaves an empty <profile> out', () => {
    const { streams } = parseNginxStat(fixture('nginx-stat.two-apps.xml'));
    expect(streams.map((s) => [s.app, s.name, s.publishing, s.clients, s.publisher?.clientId])).toEqual([
      ['live', 'good', true, 1, '6'],
      ['live', 'waiting', false, 2, undefined],
      ['backup', 'a&b<"c>', true, 0, '8'],
    ]);
    expect(streams[0]!.video).toEqual({ codec: 'H264', width: 640, height: 352, frameRate: 30, level: '3.0' });
  });
});

describe('parseNginxStat on shapes the recordings do not cover', () => {
  it('a document without <server> has no streams', () => {
    expect(parseNginxStat(doc('', false))).toEqual({ serverBytesIn: 10, streams: [] });
  });

  it('skips an application without <live> and reads an empty <live></live>', () => {
    const xml = doc('<application><name>vod</name><play><stream><name>x.mp4</name><active/></stream></play></application><application><name>live</name><live></live></application>');
    expect(parseNginxStat(xml).streams).toEqual([]);
  });

  it('reads a stream without <meta>, and meta with audio only', () => {
    const xml = doc(`<application><name>live</name><live>${stream('nometa')}${stream('radio', '<meta><audio><codec>AAC</codec><channels>2</channels><sample_rate>48000</sample_rate></audio></meta><nclients>0</nclients>')}</live></application>`);
    const [nometa, radio] = parseNginxStat(xml).streams;
    expect(nometa).not.toHaveProperty('video');
    expect(nometa).not.toHaveProperty('audio');
    expect(nometa!.clients).toBe(0);
    expect(radio).not.toHaveProperty('video');
    expect(radio!.audio).toEqual({ codec: 'AAC', sampleRate: 48000, channels: 2 });
  });

  it('reads a video-only stream: nginx sends an empty <audio></audio>', () => {
    const meta = '<meta><video><width>640</width><height>360</height><frame_rate>30</frame_rate><codec>H264</codec><profile>Baseline</profile><compat>192</compat><level>3.0</level></video><audio></audio></meta>';
    const [s] = parseNginxStat(doc(`<application><name>live</name><live>${stream('yuv', meta)}</live></application>`)).streams;
    expect(s!.video).toEqual({ codec: 'H264', width: 640, height: 360, frameRate: 30, profile: 'Baseline', level: '3.0' });
    expect(s).not.toHaveProperty('audio');
  });

  it('reads every <server> block', () => {
    const app = (n: string) => `<application><name>${n}</name><live>${stream('s')}</live></application>`;
    const xml = `<rtmp><server>${app('a')}</server><server>${app('b')}</server></rtmp>`;
    expect(parseNginxStat(xml).streams.map((s) => s.app)).toEqual(['a', 'b']);
  });

  it('keeps names, ids and levels as text even when they look like numbers', () => {
    const inner = '<client><id>0042</id><address>::1</address><time>5</time><dropped>0/0</dropped><publishing/></client><meta><video><codec>H264</codec><level>3.0</level></video></meta><nclients>1</nclients><publishing/>';
    const [s] = parseNginxStat(doc(`<application><name>007</name><live>${stream('1e3', inner)}</live></application>`)).streams;
    expect([s!.app, s!.name, s!.publisher, s!.video]).toEqual(['007', '1e3', { clientId: '0042', address: '::1', timeMs: 5 }, { codec: 'H264', level: '3.0' }]);
  });

  it('parses what nginxStatDocument generates, stream for stream', () => {
    const { streams } = parseNginxStat(nginxStatDocument(25));
    expect(streams).toHaveLength(25);
    const byName = new Map(streams.map((s) => [s.name, s]));
    for (let i = 0; i < 25; i++) {
      const s = byName.get(streamNameOf(i))!;
      expect([s.app, s.publishing, s.clients, s.publisher?.address]).toEqual([appOf(i), true, playersOf(i), `203.0.113.${i}`]);
    }
  });
});

describe('parseNginxStat refuses what is not a whole /stat document', () => {
  const refuse = (input: string, message: RegExp) => expect(() => parseNginxStat(input)).toThrow(expect.objectContaining({ name: 'StatsParseError', message: expect.stringMatching(message) }));

  it('garbage, HTML, JSON, empty', () => {
    refuse('', /not an <rtmp> document/);
    refuse('hello', /not an <rtmp> document/);
    refuse('<html><body>502 Bad Gateway</body></html>', /not an <rtmp> document/);
    refuse('{"code":0}', /not an <rtmp> document/);
    refuse('<rtmp>some text</rtmp>', /text where elements were expected/);
  });

  it('a truncated body', () => {
    const full = fixture('nginx-stat.two-apps.xml');
    refuse(full.slice(0, Math.floor(full.length / 2)), /truncated/);
  });

  it('a DOCTYPE, so no custom entity is ever expanded', () => {
    const laughs = `<?xml version="1.0"?><!DOCTYPE rtmp [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;">]><rtmp><pid>&b;</pid></rtmp>`;
    refuse(laughs, /DOCTYPE/);
  });

  it('a number field that is not a number, a stream without a name', () => {
    refuse(doc(`<application><name>live</name><live>${stream('s').replace('<bytes_in>100', '<bytes_in>lots')}</live></application>`), /bytes_in is not a number/);
    refuse(doc('<application><name>live</name><live><stream><time>1</time></stream></live></application>'), /without <name>/);
  });

  it('hostile nesting and long unclosed constructs, without hanging or overflowing the stack', () => {
    refuse(`<rtmp>${'<a>'.repeat(200_000)}</rtmp>`, /Maximum nested tags/);
    refuse(`<rtmp><!--${'x'.repeat(2_000_000)}</rtmp>`, /not well-formed/);
    refuse(`<rtmp><![CDATA[${'x'.repeat(2_000_000)}</rtmp>`, /not well-formed/);
  });

  it('a document over the size cap, before parsing it', () => {
    const xml = fixture('nginx-stat.one-stream.xml');
    expect(() => parseNginxStat(xml, { maxChars: 100 })).toThrow(/over the 100-character limit/);
    expect(() => parseNginxStat(`<rtmp>${' '.repeat(16 * 1024 * 1024)}</rtmp>`)).toThrow(StatsParseError);
  });

  it('throws nothing but StatsParseError, whatever the input (property)', () => {
    const token = fc.oneof(
      fc.string(),
      fc.constantFrom('<rtmp>', '</rtmp>', '<server>', '</server>', '<application>', '</application>', '<live>', '</live>', '<stream>', '</stream>', '<client>', '</client>'),
      fc.constantFrom('<name>x</name>', '<bytes_in>1</bytes_in>', '<bw_in>-1</bw_in>', '<time>1.5</time>', '<publishing/>', '<meta><video><codec>H264</codec></video></meta>', '<nclients>x</nclients>', '&amp;', '&bogus;', '<!--', '<![CDATA[', '<?pi', '<constructor>', '<__proto__>'),
    );
    fc.assert(
      // Wrapped in <rtmp>…</rtmp> half the time, so that inputs get past the framing checks into the parser.
      fc.property(fc.oneof(fc.string(), fc.array(token, { maxLength: 40 }).map((t) => t.join('')), fc.array(token, { maxLength: 40 }).map((t) => `<rtmp>${t.join('')}</rtmp>`)), (input) => {
        try {
          parseNginxStat(input);
        } catch (err) {
          if (!(err instanceof StatsParseError)) throw err;
        }
      }),
      { numRuns: 2_000 },
    );
  });
});
