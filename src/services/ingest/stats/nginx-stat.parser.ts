import { XMLParser, type X2jOptions } from 'fast-xml-parser';
import { asRecord, assertDocumentSize, field, StatsParseError, type NodeStats, type ParseOptions, type StreamStats } from './stream-stats.js';

export { StatsParseError } from './stream-stats.js';

const WHAT = 'nginx-rtmp /stat';

/** Elements that repeat: a single one must still come back as an array. */
const REPEATED: ReadonlySet<string> = new Set(['server', 'application', 'stream', 'client']);

/**
 * Deepest legitimate path is rtmp/server/application/live/stream/meta/video/width (8); the cap turns a
 * hostile nesting into an error long before fast-xml-parser's recursive result builder could overflow
 * the stack.
 */
const MAX_NESTED_TAGS = 32;

const PARSER_OPTIONS: X2jOptions = Object.freeze({
  ignoreAttributes: true,
  // Values stay strings: a stream named `007` or `1e3`, or a level `3.0`, must not turn into a number.
  // The fields that are numbers are converted one by one below.
  parseTagValue: false,
  trimValues: true,
  ignoreDeclaration: true,
  ignorePiTags: true,
  // Only the five predefined XML entities; never HTML entities. DOCTYPE (the only source of custom
  // entities) is refused before parsing, see parseNginxStat.
  processEntities: true,
  htmlEntities: false,
  maxNestedTags: MAX_NESTED_TAGS,
  jPath: false,
  isArray: (tagName: string) => REPEATED.has(tagName),
});

/**
 * Reads nginx-rtmp's `rtmp_stat all` document (the 1.2.x layout, see fixtures/). Throws StatsParseError
 * for anything else: not XML, not an <rtmp> document, truncated, a DOCTYPE, or over `maxChars`.
 * Only the worker that answered is described (nginx-rtmp keeps stats per worker).
 */
export function parseNginxStat(xml: string, options?: ParseOptions): NodeStats {
  assertDocumentSize(xml, WHAT, options);
  // nginx never sends a DOCTYPE; refusing it removes custom entities (and their expansion) entirely.
  if (xml.includes('<!') && /<!(?:DOCTYPE|ENTITY)/i.test(xml)) throw new StatsParseError(`${WHAT}: DOCTYPE/ENTITY declarations are not accepted`);
  // fast-xml-parser accepts unclosed documents; a cut-off body would silently lose streams.
  const tail = xml.trimEnd();
  if (!tail.endsWith('</rtmp>') && !/<rtmp\s*\/>$/.test(tail.slice(-64))) {
    throw new StatsParseError(`${WHAT}: not an <rtmp> document, or truncated (does not end with </rtmp>)`);
  }

  let doc: unknown;
  try {
    doc = new XMLParser(PARSER_OPTIONS).parse(xml);
  } catch (err) {
    throw new StatsParseError(`${WHAT}: not well-formed XML (${err instanceof Error ? err.message : String(err)})`, { cause: err });
  }
  const root = asRecord(doc);
  const rtmp = field(root, 'rtmp');
  if (rtmp === undefined || Array.isArray(rtmp)) throw new StatsParseError(`${WHAT}: expected exactly one <rtmp> root element`);
  const rtmpRec = element(rtmp, 'rtmp');

  const streams: StreamStats[] = [];
  for (const server of list(rtmpRec, 'server')) {
    for (const application of list(server, 'application')) {
      const app = text(field(application, 'name'));
      if (app === undefined) throw new StatsParseError(`${WHAT}: <application> without <name>`);
      const live = field(application, 'live');
      // An application without `live on` has no <live>; an idle one has <live> with only <nclients>.
      if (live === undefined) continue;
      for (const stream of list(element(live, 'live'), 'stream')) streams.push(readStream(app, stream));
    }
  }

  const serverBytesIn = optionalNumber(field(rtmpRec, 'bytes_in'), 'rtmp/bytes_in');
  return serverBytesIn === undefined ? { streams } : { serverBytesIn, streams };
}

function readStream(app: string, stream: Record<string, unknown>): StreamStats {
  const name = text(field(stream, 'name'));
  if (name === undefined) throw new StatsParseError(`${WHAT}: <stream> without <name> in application '${app}'`);
  const where = `stream '${app}/${name}'`;
  const clients = list(stream, 'client');
  const publishing = field(stream, 'publishing') !== undefined;
  const publisherClient = clients.find((c) => field(c, 'publishing') !== undefined);
  const nclients = optionalNumber(field(stream, 'nclients'), `${where} nclients`) ?? clients.length;

  const out: StreamStats = {
    app,
    name,
    bytesIn: requiredNumber(field(stream, 'bytes_in'), `${where} bytes_in`),
    bwInBitsPerSecond: requiredNumber(field(stream, 'bw_in'), `${where} bw_in`),
    timeMs: requiredNumber(field(stream, 'time'), `${where} time`),
    publishing,
    clients: Math.max(0, nclients - (publishing || publisherClient ? 1 : 0)),
  };
  const bwVideo = optionalNumber(field(stream, 'bw_video'), `${where} bw_video`);
  if (bwVideo !== undefined) out.bwVideoBitsPerSecond = bwVideo;
  const bwAudio = optionalNumber(field(stream, 'bw_audio'), `${where} bw_audio`);
  if (bwAudio !== undefined) out.bwAudioBitsPerSecond = bwAudio;
  if (publisherClient) out.publisher = readPublisher(publisherClient, where);
  readMeta(field(stream, 'meta'), out, where);
  return out;
}

function readPublisher(client: Record<string, unknown>, where: string): NonNullable<StreamStats['publisher']> {
  const clientId = text(field(client, 'id'));
  if (clientId === undefined) throw new StatsParseError(`${WHAT}: ${where}: publishing <client> without <id>`);
  const publisher: NonNullable<StreamStats['publisher']> = { clientId };
  const address = text(field(client, 'address'));
  if (address !== undefined) publisher.address = address;
  // Before 1.0 <dropped> was "video/audio"; such a value is left out rather than guessed.
  const dropped = looseNumber(field(client, 'dropped'));
  if (dropped !== undefined) publisher.dropped = dropped;
  const timeMs = optionalNumber(field(client, 'time'), `${where} publisher time`);
  if (timeMs !== undefined) publisher.timeMs = timeMs;
  return publisher;
}

/** 1.x nests <video> and <audio> objects in <meta>; <meta> is absent until the publisher sends codec data. */
function readMeta(meta: unknown, out: StreamStats, where: string): void {
  const metaRec = asRecord(meta);
  if (!metaRec) return;
  const video = asRecord(field(metaRec, 'video'));
  const videoCodec = text(field(video, 'codec'));
  if (video && videoCodec !== undefined) {
    const v: NonNullable<StreamStats['video']> = { codec: videoCodec };
    const width = optionalNumber(field(video, 'width'), `${where} video width`);
    if (width !== undefined) v.width = width;
    const height = optionalNumber(field(video, 'height'), `${where} video height`);
    if (height !== undefined) v.height = height;
    const frameRate = optionalNumber(field(video, 'frame_rate'), `${where} video frame_rate`);
    if (frameRate !== undefined) v.frameRate = frameRate;
    const profile = text(field(video, 'profile'));
    if (profile !== undefined) v.profile = profile;
    const level = text(field(video, 'level'));
    if (level !== undefined) v.level = level;
    out.video = v;
  }
  const audio = asRecord(field(metaRec, 'audio'));
  const audioCodec = text(field(audio, 'codec'));
  if (audio && audioCodec !== undefined) {
    const a: NonNullable<StreamStats['audio']> = { codec: audioCodec };
    const sampleRate = optionalNumber(field(audio, 'sample_rate'), `${where} audio sample_rate`);
    if (sampleRate !== undefined) a.sampleRate = sampleRate;
    const channels = optionalNumber(field(audio, 'channels'), `${where} audio channels`);
    if (channels !== undefined) a.channels = channels;
    out.audio = a;
  }
}

/** An element that holds children; an empty element (`<live></live>`) reads as having none. */
function element(value: unknown, tag: string): Record<string, unknown> {
  if (value === '') return {};
  const rec = asRecord(value);
  if (!rec) throw new StatsParseError(`${WHAT}: <${tag}> has text where elements were expected`);
  return rec;
}

function list(parent: Record<string, unknown>, tag: string): Record<string, unknown>[] {
  const value = field(parent, tag);
  if (value === undefined) return [];
  if (!Array.isArray(value)) throw new StatsParseError(`${WHAT}: unexpected <${tag}> shape`);
  return value.map((v: unknown) => element(v, tag));
}

function text(value: unknown): string | undefined {
  return typeof value === 'string' && value !== '' ? value : undefined;
}

const DECIMAL = /^-?\d+(?:\.\d+)?$/;

function looseNumber(value: unknown): number | undefined {
  return typeof value === 'string' && DECIMAL.test(value) ? Number(value) : undefined;
}

function optionalNumber(value: unknown, what: string): number | undefined {
  if (value === undefined || value === '') return undefined;
  const n = looseNumber(value);
  if (n === undefined) throw new StatsParseError(`${WHAT}: ${what} is not a number`);
  return n;
}

function requiredNumber(value: unknown, what: string): number {
  const n = optionalNumber(value, what);
  if (n === undefined) throw new StatsParseError(`${WHAT}: ${what} is missing`);
  return n;
}
