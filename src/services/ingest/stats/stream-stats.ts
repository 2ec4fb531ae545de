/**
 * What a media server says about its streams, in one shape for every server kind. The parsers
 * (nginx-stat, srs-stats, mediamtx-stats) are pure: no I/O, no clock. A field is optional when at least
 * one server does not report it; an absent field means "not reported", never zero.
 */
export interface NodeStats {
  /** Bytes received by the whole server since it started (nginx-rtmp `<rtmp><bytes_in>`); others do not say. */
  serverBytesIn?: number;
  streams: StreamStats[];
}

export interface StreamStats {
  /** nginx-rtmp / SRS `app`; MediaMTX: the path up to its first `/` ('' for a one-segment path). */
  app: string;
  /** The stream name as the server knows it now (after any 3xx rename); MediaMTX: the path after `app/`. */
  name: string;
  /** Cumulative bytes received for this stream. */
  bytesIn: number;
  /**
   * Incoming bit rate in bit/s as the server averages it: nginx-rtmp over 10 s windows (0 for the first
   * ~10 s of a stream), SRS over 30 s. MediaMTX reports no rate: always 0 there, so derive the rate from
   * `bytesIn` deltas between polls.
   */
  bwInBitsPerSecond: number;
  /** nginx-rtmp only (`bw_video`, bit/s). */
  bwVideoBitsPerSecond?: number;
  /** nginx-rtmp only (`bw_audio`, bit/s). */
  bwAudioBitsPerSecond?: number;
  /**
   * How long the stream has existed on the server, in ms (nginx-rtmp `<time>`). SRS does not report it
   * (its `live_ms` is the server's current time, not an age).
   */
  timeMs?: number;
  /** When the stream became ready, ms since the epoch on the server's clock (MediaMTX `readyTime`). */
  startedAtMs?: number;
  /** A publisher is sending right now. False for a stream that only has waiting players. */
  publishing: boolean;
  publisher?: {
    /** nginx-rtmp `<client><id>` (the `clientid` of its callbacks), SRS `publish.cid`, MediaMTX `source.id`. */
    clientId: string;
    /** nginx-rtmp only. */
    address?: string;
    /** Frames dropped for this client; nginx-rtmp only. */
    dropped?: number;
    /** How long the publisher has been connected, in ms; nginx-rtmp only. */
    timeMs?: number;
  };
  video?: {
    /** As the server names it: `H264`, `H265`, `AV1`… */
    codec: string;
    width?: number;
    height?: number;
    /** From the publisher's onMetaData (nginx-rtmp only). */
    frameRate?: number;
    profile?: string;
    level?: string;
  };
  audio?: {
    /** As the server names it: `AAC` (nginx-rtmp, SRS), `MPEG-4 Audio` (MediaMTX), `Opus`… */
    codec: string;
    sampleRate?: number;
    channels?: number;
  };
  /**
   * Sessions reading this stream on this server: players, plus relay sessions pushing it elsewhere.
   * The publisher is not counted (nginx-rtmp `nclients` and SRS `clients` include it; it is subtracted).
   */
  clients: number;
}

/** The document is not what the parser expects: not the right format, truncated, or over the size cap. */
export class StatsParseError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'StatsParseError';
  }
}

/** 16 Mi characters: a /stat of 1,000 streams is about 1.1 MB, so this leaves a wide margin. */
export const DEFAULT_MAX_DOCUMENT_CHARS = 16 * 1024 * 1024;

export interface ParseOptions {
  /** Documents longer than this many characters are rejected before any parsing. */
  maxChars?: number;
}

export function assertDocumentSize(doc: string, what: string, options: ParseOptions | undefined): void {
  if (typeof doc !== 'string') throw new StatsParseError(`${what}: expected a string, got ${typeof doc}`);
  const max = options?.maxChars ?? DEFAULT_MAX_DOCUMENT_CHARS;
  if (doc.length > max) throw new StatsParseError(`${what}: document of ${doc.length} characters is over the ${max}-character limit`);
}

/** JSON.parse that reports failures as StatsParseError and insists on an object at the top. */
export function parseJsonObject(doc: string, what: string, options: ParseOptions | undefined): Record<string, unknown> {
  assertDocumentSize(doc, what, options);
  let value: unknown;
  try {
    value = JSON.parse(doc);
  } catch (err) {
    throw new StatsParseError(`${what}: not JSON (${err instanceof Error ? err.message : String(err)})`, { cause: err });
  }
  const obj = asRecord(value);
  if (!obj) throw new StatsParseError(`${what}: expected a JSON object at the top level`);
  return obj;
}

export function asRecord(value: unknown): Record<string, unknown> | undefined {
  return typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as Record<string, unknown>) : undefined;
}

/** Own properties only, so a key like `constructor` in the input never reaches Object.prototype. */
export function field(obj: Record<string, unknown> | undefined, key: string): unknown {
  return obj !== undefined && Object.hasOwn(obj, key) ? obj[key] : undefined;
}

export function finiteNumber(value: unknown): number | undefined {
  return typeof value === 'number' && Number.isFinite(value) ? value : undefined;
}

export function nonEmptyString(value: unknown): string | undefined {
  return typeof value === 'string' && value !== '' ? value : undefined;
}
