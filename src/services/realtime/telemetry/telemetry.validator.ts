import { DIMENSIONS, EVENT_TYPES, type Dimensions, type EventType, type RejectionReason } from './telemetry.schemas.js';
import { CODE, type StateEvent } from './telemetry.views.js';

/**
 * Per-event checks, written by hand: a batch of 100 events must cost little more than parsing it
 * (bench/README.md, telemetry), and each rejection needs its own reason rather than one schema error
 * for the whole body. Ids and timestamps are checked by character, not by regular expression plus
 * Date.parse, which cost more than everything else in the check.
 */

export interface ValidEvent {
  eventId: string;
  sessionId: string;
  viewerId: string;
  /** '' when the player sent no view_id: the viewer's events in the session are then one view. */
  viewId: string;
  type: EventType;
  ts: number;
  /** What the view computation keeps of the event; null for heartbeats and non-fatal errors. */
  state: StateEvent | null;
}

/** Why an event of a batch is rejected (the batch goes on without it). */
export class Rejection {
  constructor(
    readonly reason: RejectionReason,
    readonly detail: string,
  ) {}
}

export interface EventLimits {
  maxEventBytes: number;
  maxAgeMs: number;
  maxFutureMs: number;
}

/** Character tables for the id checks (same alphabets as CLIENT_ID_PATTERN / SESSION_ID_PATTERN): a regular expression per id cost more than the rest of the event check. */
const charTable = (chars: string) => {
  const t = new Uint8Array(128);
  for (const c of chars) t[c.charCodeAt(0)] = 1;
  return t;
};
const CLIENT_ID_CHARS = charTable('ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._:@|-');
const CROCKFORD_CHARS = charTable('0123456789abcdefghjkmnpqrstvwxyz');

function isClientId(v: unknown): v is string {
  if (typeof v !== 'string' || v.length < 1 || v.length > 128) return false;
  for (let i = 0; i < v.length; i++) {
    const c = v.charCodeAt(i);
    if (c > 127 || CLIENT_ID_CHARS[c] !== 1) return false;
  }
  return true;
}

function isSessionId(v: unknown): v is string {
  if (typeof v !== 'string' || v.length !== 30 || !v.startsWith('ses_')) return false;
  for (let i = 4; i < 30; i++) {
    const c = v.charCodeAt(i);
    if (c > 127 || CROCKFORD_CHARS[c] !== 1) return false;
  }
  return true;
}
/** Event type → its state code (telemetry.views.ts), -1 for heartbeats: one lookup checks the type and classifies it. */
const TYPE_CODES = new Map<string, number>(EVENT_TYPES.map((t) => [t, t === 'heartbeat' ? -1 : CODE[t]]));
const FIELDS = new Set(['event_id', 'session_id', 'viewer_id', 'view_id', 'type', 'ts', 'data']);
/** lower_snake_case data keys (^[a-z][a-z0-9_]{0,63}$), checked by character like the ids. */
const DATA_KEY_CHARS = charTable('abcdefghijklmnopqrstuvwxyz0123456789_');

function isDataKey(k: string): boolean {
  if (k.length < 1 || k.length > 64) return false;
  const c0 = k.charCodeAt(0);
  if (c0 < 97 || c0 > 122) return false;
  for (let i = 1; i < k.length; i++) {
    const c = k.charCodeAt(i);
    if (c > 127 || DATA_KEY_CHARS[c] !== 1) return false;
  }
  return true;
}
const NON_NEGATIVE_SUFFIX = /_(ms|bps|bytes|count)$/;
// Printable, no control characters (they would end up in dashboards and CSV exports).
const DIMENSION_VALUE = /^[^\p{Cc}\p{Cs}]{1,64}$/u;
const MAX_DATA_KEYS = 32;
const MAX_DATA_STRING = 256;
const MAX_BITRATE_BPS = 1_000_000_000;
/** What the JSON encoding of an event adds to its values: keys, quotes, commas, braces. */
const ENVELOPE_BYTES = 110;

const fail = (reason: RejectionReason, detail: string) => new Rejection(reason, detail);

const MONTH_DAYS = [0, 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];

function daysInMonth(y: number, m: number): number {
  return m === 2 && y % 4 === 0 && (y % 100 !== 0 || y % 400 === 0) ? 29 : MONTH_DAYS[m]!;
}

/** Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's days_from_civil): cheaper than Date.UTC. */
function daysFromCivil(y0: number, m: number, d: number): number {
  const y = m <= 2 ? y0 - 1 : y0;
  const era = Math.floor(y / 400);
  const yoe = y - era * 400;
  const doy = Math.floor((153 * (m > 2 ? m - 3 : m + 9) + 2) / 5) + d - 1;
  return era * 146_097 + yoe * 365 + Math.floor(yoe / 4) - Math.floor(yoe / 100) + doy - 719_468;
}

/** The digits of s[i..i+n) as a number, or -1 when one of them is not a digit. */
function digits(s: string, i: number, n: number): number {
  let v = 0;
  for (let k = i; k < i + n; k++) {
    const c = s.charCodeAt(k) - 48;
    if (c < 0 || c > 9) return -1;
    v = v * 10 + c;
  }
  return v;
}

/**
 * Epoch ms of an RFC 3339 date-time with a zone (YYYY-MM-DDTHH:MM:SS[.fraction](Z|±HH:MM)) or of an
 * integer of epoch ms; null when it is neither. Parsed by hand: a regular expression plus Date.parse
 * cost 0.35 µs an event here, and Date.parse also rolls 2026-02-30 over to March instead of refusing it.
 */
export function parseTs(v: unknown): number | null {
  if (typeof v === 'number') return Number.isSafeInteger(v) && v > 0 ? v : null;
  if (typeof v !== 'string' || v.length < 20 || v.length > 35) return null;
  if (v.charCodeAt(4) !== 45 || v.charCodeAt(7) !== 45 || (v.charCodeAt(10) | 32) !== 116 || v.charCodeAt(13) !== 58 || v.charCodeAt(16) !== 58) return null;
  const y = digits(v, 0, 4);
  const mo = digits(v, 5, 2);
  const d = digits(v, 8, 2);
  const h = digits(v, 11, 2);
  const mi = digits(v, 14, 2);
  const sec = digits(v, 17, 2);
  if (y < 0 || mo < 1 || mo > 12 || d < 1 || d > daysInMonth(y, mo) || h < 0 || h > 23 || mi < 0 || mi > 59 || sec < 0 || sec > 59) return null;
  let i = 19;
  let ms = 0;
  if (v.charCodeAt(i) === 46) {
    const start = ++i;
    while (i < v.length && i - start < 9) {
      const c = v.charCodeAt(i) - 48;
      if (c < 0 || c > 9) break;
      if (i - start < 3) ms = ms * 10 + c;
      i++;
    }
    if (i === start) return null;
    for (let k = i - start; k < 3; k++) ms *= 10;
  }
  let offsetMin = 0;
  const z = v.charCodeAt(i);
  if ((z | 32) === 122 && i + 1 === v.length) {
    // Z (or z, which RFC 3339 also allows)
  } else if ((z === 43 || z === 45) && i + 6 === v.length && v.charCodeAt(i + 3) === 58) {
    const oh = digits(v, i + 1, 2);
    const om = digits(v, i + 4, 2);
    if (oh < 0 || oh > 23 || om < 0 || om > 59) return null;
    offsetMin = (z === 43 ? 1 : -1) * (oh * 60 + om);
  } else {
    return null;
  }
  return daysFromCivil(y, mo, d) * 86_400_000 + ((h * 60 + mi - offsetMin) * 60 + sec) * 1000 + ms;
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Checks `data` (flat, bounded) and returns its size as JSON (approximately), or why it is rejected. */
function dataBytes(data: Record<string, unknown>): number | string {
  let bytes = 2;
  let n = 0;
  for (const key in data) {
    if (!Object.prototype.hasOwnProperty.call(data, key)) continue;
    if (++n > MAX_DATA_KEYS) return `data has more than ${MAX_DATA_KEYS} keys`;
    if (!isDataKey(key)) return `data key ${JSON.stringify(key.slice(0, 70))} is not lower_snake_case (at most 64 characters)`;
    const v = data[key];
    bytes += key.length + 4;
    if (typeof v === 'string') {
      if (v.length > MAX_DATA_STRING) return `data.${key} is longer than ${MAX_DATA_STRING} characters`;
      bytes += Buffer.byteLength(v) + 2;
    } else if (typeof v === 'number') {
      if (!Number.isFinite(v)) return `data.${key} is not a finite number`;
      if (v < 0 && NON_NEGATIVE_SUFFIX.test(key)) return `data.${key} is negative`;
      bytes += 24;
    } else if (typeof v === 'boolean' || v === null) {
      bytes += 5;
    } else {
      return `data.${key} must be a string, number, boolean or null (data is flat)`;
    }
  }
  return bytes;
}

/**
 * What a bitrate_change, error or view_start keeps of its data: the bitrate, `false` for a non-fatal
 * error, the dimensions; or why it is rejected. Other types keep nothing (and allocate nothing).
 */
function dataValue(code: number, data: Record<string, unknown> | undefined): number | Dimensions | false | undefined | Rejection {
  if (code === CODE.bitrate_change) {
    const b = data?.bitrate_bps;
    if (data === undefined) return fail('invalid_data', 'bitrate_change needs data.bitrate_bps');
    if (typeof b !== 'number' || !Number.isInteger(b) || b <= 0 || b > MAX_BITRATE_BPS) return fail('invalid_data', 'bitrate_change needs data.bitrate_bps, a positive integer (bits per second, at most 1e9)');
    return b;
  }
  if (data === undefined) return undefined;
  if (code === CODE.error) {
    if (data.fatal !== undefined && typeof data.fatal !== 'boolean') return fail('invalid_data', 'data.fatal must be a boolean');
    return data.fatal === false ? false : undefined;
  }
  if (code === CODE.view_start) {
    let dims: Dimensions | undefined;
    for (const d of DIMENSIONS) {
      const v = data[d];
      if (v === undefined || v === null) continue;
      if (typeof v !== 'string' || !DIMENSION_VALUE.test(v)) return fail('invalid_data', `data.${d} must be 1 to 64 printable characters`);
      (dims ??= {})[d] = v;
    }
    return dims;
  }
  return undefined;
}

/** The first field of an event that is not one of FIELDS (there is one: the caller counted). */
function unknownField(raw: Record<string, unknown>): Rejection {
  for (const key in raw) if (!FIELDS.has(key)) return fail('invalid_event', `unknown field ${JSON.stringify(key.slice(0, 70))}`);
  return fail('invalid_event', 'unknown field');
}

/** A ValidEvent to be overwritten by checkEvent, one per batch. */
export const blankEvent = (): ValidEvent => ({ eventId: '', sessionId: '', viewerId: '', viewId: '', type: 'heartbeat', ts: 0, state: null });

/**
 * Validates one event of a batch into `out` (overwritten: a batch checks all its events into one
 * object and copies only those it keeps, so that a resent event allocates nothing), or says why it is
 * rejected. `now` is the Clock's time. `sessionIds` holds session ids already found valid in this
 * batch, whose format need not be checked again (a batch names few sessions).
 */
export function checkEvent(raw: unknown, now: number, limits: EventLimits, out: ValidEvent, sessionIds?: ReadonlyMap<string, unknown>): Rejection | null {
  if (!isPlainObject(raw)) return fail('invalid_event', 'an event must be a JSON object');
  const { event_id, session_id, viewer_id, view_id, type, ts, data } = raw;
  // Unknown fields: more keys than the known ones present (JSON has no undefined values). Counting
  // keys costs less than looking each one up, and the slow path says which one it is.
  let keys = 0;
  for (const _ in raw) keys++;
  const present = +(event_id !== undefined) + +(session_id !== undefined) + +(viewer_id !== undefined) + +(view_id !== undefined) + +(type !== undefined) + +(ts !== undefined) + +(data !== undefined);
  if (keys !== present) return unknownField(raw);
  if (!isClientId(event_id)) return fail('invalid_event', 'event_id must be 1 to 128 characters of letters, digits and ._:@|-');
  if (!(typeof session_id === 'string' && sessionIds?.has(session_id)) && !isSessionId(session_id)) return fail('invalid_event', 'session_id must be a session id (ses_…)');
  if (!isClientId(viewer_id)) return fail('invalid_event', 'viewer_id must be 1 to 128 characters of letters, digits and ._:@|-');
  if (view_id !== undefined && !isClientId(view_id)) return fail('invalid_event', 'view_id must be 1 to 128 characters of letters, digits and ._:@|-');
  const code = typeof type === 'string' ? TYPE_CODES.get(type) : undefined;
  if (code === undefined) return fail('invalid_type', `type must be one of ${EVENT_TYPES.join(', ')}`);
  const t = parseTs(ts);
  if (t === null) return fail('invalid_ts', 'ts must be an RFC 3339 date-time with a zone (2026-05-01T12:00:00.250Z) or integer epoch milliseconds');
  if (t < now - limits.maxAgeMs) return fail('too_old', `ts is more than ${limits.maxAgeMs / 1000} s in the past`);
  if (t > now + limits.maxFutureMs) return fail('too_far_in_future', `ts is more than ${limits.maxFutureMs} ms ahead of the server's clock`);
  const eventType = type as EventType;
  let bytes = ENVELOPE_BYTES + event_id.length + session_id.length + viewer_id.length + (view_id?.length ?? 0) + eventType.length + (typeof ts === 'string' ? ts.length : 16);
  let fields: Record<string, unknown> | undefined;
  if (data !== undefined && data !== null) {
    if (!isPlainObject(data)) return fail('invalid_data', 'data must be an object');
    const size = dataBytes(data);
    if (typeof size === 'string') return fail('invalid_data', size);
    bytes += size;
    fields = data;
  }
  const value = code === -1 ? undefined : dataValue(code, fields);
  if (value instanceof Rejection) return value;
  if (bytes > limits.maxEventBytes) return fail('event_too_large', `the event is larger than ${limits.maxEventBytes} bytes`);

  // Heartbeats and non-fatal errors change no state: they only move the view's first/last event time.
  out.state = code === -1 || value === false ? null : value === undefined ? [t, code, event_id] : [t, code, event_id, value];
  out.eventId = event_id;
  out.sessionId = session_id;
  out.viewerId = viewer_id;
  out.viewId = (view_id as string | undefined) ?? '';
  out.type = eventType;
  out.ts = t;
  return null;
}
