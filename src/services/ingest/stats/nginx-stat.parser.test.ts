import { readFileSync } from 'node:fs';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { appOf, nginxStatDocument, nginxStatJsonDocument, playersOf, streamNameOf } from './fixtures/nginx-stat.fixture.js';
import { parseNginxStat, StatsParseError } from './nginx-stat.parser.js';
import type { StreamStats } from './stream-stats.js';

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

/** What parseNginxStat should make of nginxStatDocument(n), worked out from the same data as JSON instead. */
function expectedFromJson(n: number): StreamStats[] {
  type Json = { name: string; live?: { stream: Record<string, any>[] } };
  const { rtmp } = JSON.parse(nginxStatJsonDocument(n)) as { rtmp: { server: { application: Json[] }[] } };
  return rtmp.server.flatMap((server) =>
    server.application.flatMap((app) =>
      (app.live?.stream ?? []).map((s): StreamStats => {
        const pub = (s.client as Record<string, any>[]).find((c) => c.publishing)!;
        const { video: v, audio: a } = s.meta;
        return {
          app: app.name,
          name: s.name,
          bytesIn: s.bytes_in,
          bwInBitsPerSecond: s.bw_in,
          bwVideoBitsPerSecond: s.bw_video,
          bwAudioBitsPerSecond: s.bw_audio,
          timeMs: s.time,
          publishing: s.publishing,
          publisher: { clientId: String(pub.id), address: pub.address, dropped: pub.dropped, timeMs: pub.time },
          video: { codec: v.codec, width: v.width, height: v.height, frameRate: v.frame_rate, profile: v.profile, level: v.level },
          audio: { codec: a.codec, sampleRate: a.sample_rate, channels: a.channels },
          clients: s.nclients - 1,
        };
      }),
    ),
  );
}

describe('parseNginxStat against the same data as JSON (differential)', () => {
  it('reads generated documents of 0 to 40 streams, and 1,000, stream for stream', () => {
    expect(parseNginxStat(nginxStatDocument(1_000)).streams).toEqual(expectedFromJson(1_000));
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 40 }), (n) => {
        expect(parseNginxStat(nginxStatDocument(n)).streams).toEqual(expectedFromJson(n));
      }),
      { numRuns: 25 },
    );
  });

  it('is blind to layout: line ends, <flag/> or <flag></flag>, comments between elements', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 12 }), fc.constantFrom('\r\n', '\n', '', ' \t '), fc.boolean(), fc.boolean(), (n, eol, longFlags, comments) => {
        let xml = nginxStatDocument(n).replaceAll('\r\n', eol);
        if (longFlags) xml = xml.replace(/<(publishing|active)\/>/g, '<$1></$1>');
        if (comments) xml = xml.replace(/<\/(client|stream|video)>/g, '</$1><!-- </$1> -->');
        expect(parseNginxStat(xml).streams).toEqual(expectedFromJson(n));
      }),
      { numRuns: 40 },
    );
  });
});

describe('parseNginxStat on details of the XML', () => {
  const client = (id: string, flags: string) => `<client><id>${id}</id><address>10.0.0.${id}</address><time>5</time><dropped>0</dropped>${flags}</client>`;

  it('reads self-closing and empty flags alike: <publishing/>, <publishing></publishing>, <active/>', () => {
    const xml = doc(
      `<application><name>live</name><live>` +
        stream('short', `${client('1', '<publishing/><active/>')}${client('2', '<active/>')}<nclients>2</nclients><publishing/><active/>`) +
        stream('long', `${client('3', '<active></active>')}${client('4', '<publishing></publishing><active></active>')}<nclients>2</nclients><publishing></publishing><active></active>`) +
        stream('idle', `${client('5', '<active/>')}<nclients>1</nclients>`) +
        `</live></application>`,
    );
    const [short, long, idle] = parseNginxStat(xml).streams;
    expect([short!.publishing, short!.publisher?.clientId, short!.clients]).toEqual([true, '1', 1]);
    expect([long!.publishing, long!.publisher?.clientId, long!.clients]).toEqual([true, '4', 1]);
    expect([idle!.publishing, idle!.publisher, idle!.clients]).toEqual([false, undefined, 1]);
  });

  it('leaves out an empty or self-closing <audio>, <video> or <meta>', () => {
    const metas = ['<meta><video/><audio></audio></meta>', '<meta><video></video><audio/></meta>', '<meta/>', '<meta></meta>'];
    const xml = doc(`<application><name>live</name><live>${metas.map((m, i) => stream(`s${i}`, m)).join('')}</live></application>`);
    for (const s of parseNginxStat(xml).streams) {
      expect(s).not.toHaveProperty('video');
      expect(s).not.toHaveProperty('audio');
    }
  });

  it('accepts the stylesheet instruction of `rtmp_stat_stylesheet`, comments and CDATA', () => {
    const xml = fixture('nginx-stat.two-apps.xml');
    const styled = xml.replace('?>\r\n', '?>\r\n<?xml-stylesheet type="text/xsl" href="stat.xsl" ?>\r\n<!-- generated -->\r\n');
    expect(parseNginxStat(styled)).toEqual(parseNginxStat(xml));
    const [s] = parseNginxStat(doc(`<application><name><![CDATA[li]]>ve</name><live>${stream('g<!-- x -->o')}</live></application>`)).streams;
    expect([s!.app, s!.name]).toEqual(['live', 'go']);
  });

  it('decodes character references (nginx does not send them; XML allows them)', () => {
    const [s] = parseNginxStat(doc(`<application><name>live</name><live>${stream('a&#38;b&#x3c;')}</live></application>`)).streams;
    expect(s!.name).toBe('a&b<');
  });

  it('allows 32 levels of elements inside <rtmp>, not 33', () => {
    const nest = (n: number) => `<rtmp>${'<x>'.repeat(n)}${'</x>'.repeat(n)}</rtmp>`;
    expect(parseNginxStat(nest(32))).toEqual({ streams: [] });
    expect(() => parseNginxStat(nest(33))).toThrow(/Maximum nested tags/);
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

  it('XML that is not well-formed, even where the streams could be guessed', () => {
    const app = `<application><name>live</name><live>${stream('s')}</live></application>`;
    refuse(`<rtmp><server>${app}</application></rtmp>`, /not well-formed/);
    refuse(doc(app).replace('<name>live</name>', '<name>a&b</name>'), /not well-formed/);
    refuse(`<rtmp><server>${app}</server></rtmp>junk</rtmp>`, /not well-formed/);
    refuse(`<rtmp/><rtmp><server>${app}</server></rtmp>`, /not well-formed/);
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
