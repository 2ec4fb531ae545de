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

const WHAT = 'SRS /api/v1/streams';

/**
 * Reads SRS's `GET /api/v1/streams/` answer (field layout of srs_app_statistic.cpp, SRS 4 to 6; ids are
 * integers before SRS 5 and strings since). Throws StatsParseError for anything else, for an API error
 * (`code` ≠ 0), and for a partial list.
 *
 * SRS pages this list: without `?count=` it returns only the first 10 streams (SRS 4 to 6) or only the
 * first one (2025 sources, which also add `total`). The stats URL must ask for all of them
 * (MediaServerClient adds `count`). Where `total` is present, a shorter list is refused rather than read
 * as "the other streams ended".
 *
 * Streams are keyed by app and name; SRS also has vhosts, which StreamStats does not carry.
 */
export function parseSrsStreams(json: string, options?: ParseOptions): NodeStats {
  const doc = parseJsonObject(json, WHAT, options);
  const code = field(doc, 'code');
  if (code !== 0) throw new StatsParseError(`${WHAT}: API error code ${JSON.stringify(code)}`);
  const list = field(doc, 'streams');
  if (!Array.isArray(list)) throw new StatsParseError(`${WHAT}: no "streams" array`);
  const total = finiteNumber(field(doc, 'total'));
  if (total !== undefined && total > list.length) {
    throw new StatsParseError(`${WHAT}: partial list (${list.length} of ${total} streams); ask for all of them with ?count=`);
  }
  return { streams: list.map((entry: unknown, i: number) => readStream(entry, i)) };
}

function readStream(entry: unknown, index: number): StreamStats {
  const s = asRecord(entry);
  const app = typeof field(s, 'app') === 'string' ? (field(s, 'app') as string) : undefined;
  const name = nonEmptyString(field(s, 'name'));
  if (!s || app === undefined || name === undefined) throw new StatsParseError(`${WHAT}: streams[${index}] has no app and name`);
  const where = `stream '${app}/${name}'`;

  const publish = asRecord(field(s, 'publish'));
  const active = field(publish, 'active');
  if (typeof active !== 'boolean') throw new StatsParseError(`${WHAT}: ${where}: publish.active is not a boolean`);
  const recv30s = requiredNumber(field(asRecord(field(s, 'kbps')), 'recv_30s'), `${where} kbps.recv_30s`);
  const clients = requiredNumber(field(s, 'clients'), `${where} clients`);

  const out: StreamStats = {
    app,
    name,
    bytesIn: requiredNumber(field(s, 'recv_bytes'), `${where} recv_bytes`),
    // SRS's kbps is bytes × 8 / ms, i.e. 1000 bit/s.
    bwInBitsPerSecond: recv30s * 1000,
    publishing: active,
    // `clients` counts every connection to the stream, the publisher's included.
    clients: Math.max(0, clients - (active ? 1 : 0)),
  };
  // Before SRS 5 an idle stream reports cid -1; since then cid is left out.
  const cid = field(publish, 'cid');
  if (active && (typeof cid === 'string' || typeof cid === 'number') && cid !== '' && cid !== -1) out.publisher = { clientId: String(cid) };

  const video = asRecord(field(s, 'video'));
  const videoCodec = nonEmptyString(field(video, 'codec'));
  if (videoCodec !== undefined) {
    const v: NonNullable<StreamStats['video']> = { codec: videoCodec };
    // SRS reports 0×0 until it has parsed an SPS.
    const width = finiteNumber(field(video, 'width'));
    const height = finiteNumber(field(video, 'height'));
    if (width && height) {
      v.width = width;
      v.height = height;
    }
    const profile = nonEmptyString(field(video, 'profile'));
    if (profile !== undefined) v.profile = profile;
    const level = nonEmptyString(field(video, 'level'));
    if (level !== undefined) v.level = level;
    out.video = v;
  }
  const audio = asRecord(field(s, 'audio'));
  const audioCodec = nonEmptyString(field(audio, 'codec'));
  if (audioCodec !== undefined) {
    const a: NonNullable<StreamStats['audio']> = { codec: audioCodec };
    const sampleRate = finiteNumber(field(audio, 'sample_rate'));
    if (sampleRate) a.sampleRate = sampleRate;
    const channels = finiteNumber(field(audio, 'channel'));
    if (channels) a.channels = channels;
    out.audio = a;
  }
  return out;
}

function requiredNumber(value: unknown, what: string): number {
  const n = finiteNumber(value);
  if (n === undefined) throw new StatsParseError(`${WHAT}: ${what} is missing or not a number`);
  return n;
}
