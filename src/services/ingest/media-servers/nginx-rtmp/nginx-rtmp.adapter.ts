import type { HookDecision, HookRequest, HookResponse, MediaServerAdapter, MediaServerEvent, MediaServerEventType, ParseResult } from '../../../../core/ports/media-server.js';
import { checkContentLength, checkKeyLength, fail, mediaType, shortReason } from '../hook-request.js';

/**
 * nginx-rtmp-module `notify` callbacks (docs/media-servers/nginx-rtmp.md). nginx sends the fields
 * form-urlencoded in the body (`notify_method post`, the default) or in the query string
 * (`notify_method get`), then appends the client's own raw `?args` unescaped. We read the first
 * occurrence of every field: nginx writes its own fields before the client's args, so a publisher
 * cannot override `app`, `name` or `call` by adding `?name=…` to its stream key.
 */

const HOOKS: readonly string[] = Object.freeze(['on_publish', 'on_publish_done', 'on_update', 'on_play', 'on_play_done', 'on_done']);

// The `call` values each hook URL may carry. A mismatch means the operator pasted the wrong URL into
// nginx.conf; answering 400 makes that visible at the first publish instead of silently mis-tracking.
// on_done fires for publishers and players alike and its fields do not say which, so it is ignored:
// on_publish_done / on_play_done carry the same information with the role attached.
const CALLS: ReadonlyMap<string, ReadonlyMap<string, MediaServerEventType>> = new Map([
  ['on_publish', new Map([['publish', 'publish.requested']])],
  ['on_publish_done', new Map([['publish_done', 'publish.ended']])],
  [
    'on_update',
    new Map<string, MediaServerEventType>([
      ['update_publish', 'publish.heartbeat'],
      ['update_play', 'play.heartbeat'],
      ['update', 'ignored'],
    ]),
  ],
  ['on_play', new Map([['play', 'play.requested']])],
  ['on_play_done', new Map([['play_done', 'play.ended']])],
  ['on_done', new Map([['done', 'ignored']])],
]);

const PUBLISHER_EVENTS: ReadonlySet<MediaServerEventType> = new Set(['publish.requested', 'publish.heartbeat', 'publish.ended']);
const PLAYER_EVENTS: ReadonlySet<MediaServerEventType> = new Set(['play.requested', 'play.heartbeat', 'play.ended']);

const FORM = 'application/x-www-form-urlencoded';
// nginx copies a 3xx Location into a 256-byte name buffer (one byte for the NUL) and truncates silently.
const MAX_RENAME_BYTES = 255;

export const nginxRtmpAdapter: MediaServerAdapter = Object.freeze({
  kind: 'nginx-rtmp',
  hooks: HOOKS,
  parse,
  render,
});

function parse(request: HookRequest): ParseResult {
  const events = CALLS.get(request.hook);
  if (!events) return fail(404, 'unknown nginx-rtmp hook');
  if (request.method !== 'POST' && request.method !== 'GET') return fail(400, 'nginx-rtmp sends POST or GET');

  const hasBody = request.rawBody.length > 0;
  if (hasBody && mediaType(request.headers) !== FORM) return fail(415, `expected ${FORM}`);
  const truncated = checkContentLength(request);
  if (truncated) return truncated;

  const fields = new URLSearchParams(hasBody ? request.rawBody.toString('utf8') : request.query);
  const type = events.get(fields.get('call') ?? '');
  if (!type) return fail(400, `call does not belong to ${request.hook}`);

  const name = fields.get('name') ?? '';
  let key: string | null = null;
  if (PUBLISHER_EVENTS.has(type)) {
    // The encoder is given server rtmp://host/<app> and stream key <key>, so the key is the name.
    if (name === '') return fail(400, 'missing name');
    key = name;
  } else if (PLAYER_EVENTS.has(type)) {
    key = fields.get('token') || null;
  }
  const badKey = checkKeyLength(key);
  if (badKey) return badKey;

  const event: MediaServerEvent = {
    type,
    key,
    app: fields.get('app') || null,
    stream: name || null,
    clientId: fields.get('clientid') || null,
    addr: fields.get('addr') || null,
    protocol: 'rtmp',
  };
  const time = fields.get('time');
  if (request.hook === 'on_update' && time !== null && /^\d{1,10}$/.test(time)) {
    event.uptimeSeconds = Number(time);
  }
  return { ok: true, event };
}

function render(event: MediaServerEvent, decision: HookDecision): HookResponse {
  if (decision.kind === 'deny') return text(403, decision.reason);
  // nginx honours Location on publish and play only, and ignores it on updates; we rename publishes only.
  if (decision.kind === 'allow' && decision.rename !== undefined && event.type === 'publish.requested') {
    // An unusable rename must not become "publish under the secret key" nor, with rtmp://, a relay push.
    if (!isSafeRename(decision.rename)) return text(403, 'invalid_rename');
    return { status: 302, headers: { location: decision.rename, connection: 'close', 'content-type': 'text/plain' }, body: '' };
  }
  return text(200, '');
}

function isSafeRename(rename: string): boolean {
  return (
    rename.length > 0 &&
    Buffer.byteLength(rename) <= MAX_RENAME_BYTES &&
    !/[\u0000-\u001f\u007f]/.test(rename) &&
    !rename.toLowerCase().startsWith('rtmp://')
  );
}

// nginx reads only the status line (and Location on 3xx); Connection: close matches its HTTP/1.0 client.
function text(status: number, body: string): HookResponse {
  return { status, headers: { 'content-type': 'text/plain', connection: 'close' }, body: shortReason(body) };
}
