import { SaxesParser } from 'saxes';
import { assertDocumentSize, StatsParseError, type NodeStats, type ParseOptions, type StreamStats } from './stream-stats.js';

export { StatsParseError } from './stream-stats.js';

const WHAT = 'nginx-rtmp /stat';

/**
 * Deepest legitimate path is rtmp/server/application/live/stream/meta/video/width (8). An element with more
 * open ancestors than this is refused (self-closing ones are not counted): fast-xml-parser's rule, kept.
 */
const MAX_NESTED_TAGS = 32;

/**
 * The elements read below, by parent: an element listed here is kept (as its trimmed text, or as the
 * kept children of an element that has child elements), anything else is skipped with its subtree.
 * Keeping each value in the shape fast-xml-parser gave (text, record, or an array when repeated) lets
 * the mapping below stay as it was, with the same checks in the same order, hence the same errors.
 */
type Shape = ReadonlyMap<string, Shape>;
const LEAF: Shape = new Map();
const shape = (fields: Record<string, Shape>): Shape => new Map(Object.entries(fields));
const leaves = (...names: string[]): Record<string, Shape> => Object.fromEntries(names.map((n) => [n, LEAF]));
const STREAM = shape({
  ...leaves('name', 'time', 'bw_in', 'bytes_in', 'bw_video', 'bw_audio', 'nclients', 'publishing'),
  client: shape(leaves('id', 'address', 'time', 'dropped', 'publishing')),
  meta: shape({ video: shape(leaves('codec', 'width', 'height', 'frame_rate', 'profile', 'level')), audio: shape(leaves('codec', 'sample_rate', 'channels')) }),
});
const DOCUMENT = shape({ rtmp: shape({ bytes_in: LEAF, server: shape({ application: shape({ name: LEAF, live: shape({ stream: STREAM }) }) }) }) });

/** Elements that repeat: a single one must still come back as an array. */
const REPEATED: ReadonlySet<string> = new Set(['server', 'application', 'stream', 'client']);

/** The kept children of an element that has child elements (a Map: as fast as an object here, no prototype). */
type Rec = ReadonlyMap<string, unknown>;
const NO_CHILDREN: Rec = new Map();

class Kept {
  readonly children: Map<string, unknown> | null;
  text = '';
  /** Text since the last tag, CDATA or PI: trimmed as a whole, so a comment does not split it (as before). */
  pending = '';
  hasElements = false;
  constructor(readonly shape: Shape) {
    this.children = shape.size === 0 ? null : new Map();
  }

  flush(): void {
    if (this.pending === '') return;
    this.text += this.pending.trim();
    this.pending = '';
  }

  /** An element with child elements is a record (its own text ignored), otherwise its text, '' if none. */
  value(): unknown {
    this.flush();
    return this.hasElements ? (this.children ?? NO_CHILDREN) : this.text;
  }

  /** Only called on an element whose shape lists `tag`, so children exists. */
  add(tag: string, value: unknown): void {
    const children = this.children!;
    const prev = children.get(tag);
    if (prev === undefined) children.set(tag, REPEATED.has(tag) ? [value] : value);
    else if (Array.isArray(prev)) prev.push(value);
    // A second <name> (or <meta>…) makes an array, which the mapping refuses or ignores as it always did.
    else children.set(tag, [prev, value]);
  }
}

/**
 * Reads nginx-rtmp's `rtmp_stat all` document (the 1.2.x layout, see fixtures/). Throws StatsParseError
 * for anything else: not XML, not an <rtmp> document, truncated, a DOCTYPE, or over `maxChars`.
 * Only the worker that answered is described (nginx-rtmp keeps stats per worker).
 */
export function parseNginxStat(xml: string, options?: ParseOptions): NodeStats {
  assertDocumentSize(xml, WHAT, options);
  // nginx never sends a DOCTYPE; refusing it removes custom entities (and their expansion) entirely.
  if (xml.includes('<!') && /<!(?:DOCTYPE|ENTITY)/i.test(xml)) throw new StatsParseError(`${WHAT}: DOCTYPE/ENTITY declarations are not accepted`);
  // Checked before parsing, so that a cut-off body or an HTML error page gets this message, not a parse error.
  const tail = xml.trimEnd();
  if (!tail.endsWith('</rtmp>') && !/<rtmp\s*\/>$/.test(tail.slice(-64))) {
    throw new StatsParseError(`${WHAT}: not an <rtmp> document, or truncated (does not end with </rtmp>)`);
  }

  const doc = new Kept(DOCUMENT);
  // The open elements, null for a skipped one; `top` is the innermost. saxes refuses a stray close tag, so
  // doc is never popped, and the parent of a kept element is always kept (shapes only nest under shapes).
  const open: (Kept | null)[] = [doc];
  let top: Kept | null = doc;
  const parser = new SaxesParser();
  parser.on('opentag', (tag) => {
    if (!tag.isSelfClosing && open.length > MAX_NESTED_TAGS + 1) throw new StatsParseError(`${WHAT}: not well-formed XML (Maximum nested tags exceeded)`);
    if (top) {
      top.flush();
      top.hasElements = true;
      const shape = top.shape.get(tag.name);
      top = shape ? new Kept(shape) : null;
    }
    open.push(top);
  });
  parser.on('closetag', (tag) => {
    const node = open.pop();
    top = open[open.length - 1] ?? null;
    if (node) top!.add(tag.name, node.value());
  });
  // Text as fast-xml-parser assembled it: runs trimmed, split by tags, CDATA and PIs but not by comments;
  // CDATA kept as is.
  parser.on('text', (text) => {
    if (top) top.pending += text;
  });
  parser.on('processinginstruction', () => top?.flush());
  parser.on('cdata', (text) => {
    top?.flush();
    if (top) top.text += text;
  });
  try {
    parser.write(xml).close();
  } catch (err) {
    if (err instanceof StatsParseError) throw err;
    throw new StatsParseError(`${WHAT}: not well-formed XML (${err instanceof Error ? err.message : String(err)})`, { cause: err });
  }

  const rtmp = field(doc.children, 'rtmp');
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

function readStream(app: string, stream: Rec): StreamStats {
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

function readPublisher(client: Rec, where: string): NonNullable<StreamStats['publisher']> {
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
  const metaRec = rec(meta);
  if (!metaRec) return;
  const video = rec(field(metaRec, 'video'));
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
  const audio = rec(field(metaRec, 'audio'));
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

const rec = (value: unknown): Rec | undefined => (value instanceof Map ? value : undefined);
const field = (parent: Rec | null | undefined, tag: string): unknown => parent?.get(tag);

/** An element that holds children; an empty element (`<live></live>`) reads as having none. */
function element(value: unknown, tag: string): Rec {
  if (value === '') return NO_CHILDREN;
  const r = rec(value);
  if (!r) throw new StatsParseError(`${WHAT}: <${tag}> has text where elements were expected`);
  return r;
}

function list(parent: Rec, tag: string): Rec[] {
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
