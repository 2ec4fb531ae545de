import {
  asRecord,
  field,
  finiteNumber,
  nonEmptyString,
  parseJsonObject,
  StatsParseError,
  type NodeStats,
  type ParseOptions,
  type StreamStats,
} from './stream-stats.js';

const WHAT = 'MediaMTX /v3/paths/list';

const VIDEO_CODECS: ReadonlySet<string> = new Set(['AV1', 'VP9', 'VP8', 'H265', 'H264', 'MPEG-4 Video', 'MPEG-1 Video', 'MJPEG']);
const AUDIO_CODECS: ReadonlySet<string> = new Set(['Opus', 'Vorbis', 'MPEG-4 Audio', 'MPEG-4 Audio LATM', 'MPEG-1 Audio', 'AC3', 'Speex', 'G726', 'G722', 'G711', 'LPCM']);

/**
 * Reads MediaMTX's `GET /v3/paths/list` answer (internal/defs/api_path.go). Both generations of fields are
 * read: `tracks2`/`inboundBytes`/`available`(`Time`) where present, else the older
 * `tracks`/`bytesReceived`/`ready`(`Time`).
 *
 * MediaMTX reports no bit rate: `bwInBitsPerSecond` is always 0, and the caller derives the rate from
 * `bytesIn` deltas between polls. It reports when the stream became ready, not for how long, so
 * `startedAtMs` is set and `timeMs` is not (the parser has no clock).
 *
 * The list is paged (100 items by default); a document that is not the only page is refused, since the
 * missing paths would read as ended streams. MediaServerClient asks for large pages (`itemsPerPage`).
 */
export function parseMediamtxPaths(json: string, options?: ParseOptions): NodeStats {
  const doc = parseJsonObject(json, WHAT, options);
  const items = field(doc, 'items');
  if (!Array.isArray(items)) throw new StatsParseError(`${WHAT}: no "items" array`);
  const pageCount = finiteNumber(field(doc, 'pageCount'));
  const itemCount = finiteNumber(field(doc, 'itemCount'));
  if ((pageCount !== undefined && pageCount > 1) || (itemCount !== undefined && itemCount > items.length)) {
    throw new StatsParseError(`${WHAT}: partial list (${items.length} of ${itemCount ?? '?'} paths, ${pageCount ?? '?'} pages); ask for one page with ?itemsPerPage=`);
  }
  return { streams: items.map((item: unknown, i: number) => readPath(item, i)) };
}

function readPath(item: unknown, index: number): StreamStats {
  const p = asRecord(item);
  const path = nonEmptyString(field(p, 'name'));
  if (!p || path === undefined) throw new StatsParseError(`${WHAT}: items[${index}] has no name`);
  const slash = path.indexOf('/');
  const app = slash === -1 ? '' : path.slice(0, slash);
  const name = slash === -1 ? path : path.slice(slash + 1);

  const bytesIn = finiteNumber(field(p, 'inboundBytes')) ?? finiteNumber(field(p, 'bytesReceived'));
  if (bytesIn === undefined) throw new StatsParseError(`${WHAT}: path '${path}' has no inboundBytes/bytesReceived`);
  const readers = field(p, 'readers');
  const ready = field(p, 'available') ?? field(p, 'ready');

  const out: StreamStats = {
    app,
    name,
    bytesIn,
    bwInBitsPerSecond: 0,
    publishing: ready === true,
    clients: Array.isArray(readers) ? readers.length : 0,
  };
  const readyTime = nonEmptyString(field(p, 'availableTime')) ?? nonEmptyString(field(p, 'readyTime'));
  const startedAtMs = readyTime === undefined ? NaN : Date.parse(readyTime);
  if (Number.isFinite(startedAtMs)) out.startedAtMs = startedAtMs;
  const sourceId = nonEmptyString(field(asRecord(field(p, 'source')), 'id'));
  if (sourceId !== undefined) out.publisher = { clientId: sourceId };
  readTracks(p, out);
  return out;
}

/** The first video and the first audio track; `tracks2` carries codec properties, `tracks` only names. */
function readTracks(p: Record<string, unknown>, out: StreamStats): void {
  const tracks2 = field(p, 'tracks2');
  const tracks = Array.isArray(tracks2) ? tracks2 : field(p, 'tracks');
  if (!Array.isArray(tracks)) return;
  for (const track of tracks as unknown[]) {
    const rec = asRecord(track);
    const codec = rec ? nonEmptyString(field(rec, 'codec')) : nonEmptyString(track);
    if (codec === undefined) continue;
    const props = asRecord(field(rec, 'codecProps'));
    if (!out.video && VIDEO_CODECS.has(codec)) {
      const v: NonNullable<StreamStats['video']> = { codec };
      // Width and height are 0 when MediaMTX could not parse the SPS.
      const width = finiteNumber(field(props, 'width'));
      const height = finiteNumber(field(props, 'height'));
      if (width && height) {
        v.width = width;
        v.height = height;
      }
      // AV1 and VP9 give integer profiles and levels; H264/H265 give names.
      const profile = field(props, 'profile');
      if (typeof profile === 'string' ? profile !== '' : typeof profile === 'number') v.profile = String(profile);
      const level = field(props, 'level');
      if (typeof level === 'string' ? level !== '' : typeof level === 'number') v.level = String(level);
      out.video = v;
    } else if (!out.audio && AUDIO_CODECS.has(codec)) {
      const a: NonNullable<StreamStats['audio']> = { codec };
      const sampleRate = finiteNumber(field(props, 'sampleRate'));
      if (sampleRate) a.sampleRate = sampleRate;
      const channels = finiteNumber(field(props, 'channelCount'));
      if (channels) a.channels = channels;
      out.audio = a;
    }
  }
}
