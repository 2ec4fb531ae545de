import { Type, type Static } from '@sinclair/typebox';
import { TypeCompiler } from '@sinclair/typebox/compiler';
import type { HookDecision, HookRequest, HookResponse, MediaServerAdapter, MediaServerEvent, MediaServerEventType, ParseResult } from '../../../../core/ports/media-server.js';
import { checkKeyLength, fail, readJsonRequest, shortReason } from '../hook-request.js';

/**
 * MediaMTX external HTTP authentication (`authMethod: http`, docs/media-servers/mediamtx.md): one JSON
 * POST per authentication — every publish, every read, and API/metrics/pprof access unless excluded.
 * There is no end event and no rename: MediaMTX only asks "may this client do this on this path?".
 */

const HOOKS: readonly string[] = Object.freeze(['auth']);

const MediaMtxAuthBody = Type.Object({
  user: Type.Optional(Type.String()),
  password: Type.Optional(Type.String()),
  // Bearer tokens; older MediaMTX versions do not send this field.
  token: Type.Optional(Type.String()),
  ip: Type.Optional(Type.String()),
  action: Type.String(),
  path: Type.Optional(Type.String()),
  protocol: Type.Optional(Type.String()),
  id: Type.Optional(Type.Union([Type.String(), Type.Null()])),
  query: Type.Optional(Type.String()),
});
type MediaMtxAuthBody = Static<typeof MediaMtxAuthBody>;
const checkBody = TypeCompiler.Compile(MediaMtxAuthBody);

const EVENT_OF_ACTION: ReadonlyMap<string, MediaServerEventType> = new Map([
  ['publish', 'publish.requested'],
  ['read', 'play.requested'],
  ['playback', 'play.requested'],
  ['api', 'ignored'],
  ['metrics', 'ignored'],
  ['pprof', 'ignored'],
]);

export const mediaMtxAdapter: MediaServerAdapter = Object.freeze({
  kind: 'mediamtx',
  hooks: HOOKS,
  parse,
  render,
});

function parse(request: HookRequest): ParseResult {
  if (request.hook !== 'auth') return fail(404, 'unknown MediaMTX hook');
  if (request.method !== 'POST') return fail(400, 'MediaMTX authentication requests are POST');
  const read = readJsonRequest(request, checkBody);
  if (!read.ok) return read;
  const body: MediaMtxAuthBody = read.body;
  // An action we do not know is refused (400 = deny) rather than waved through as "ignored".
  const type = EVENT_OF_ACTION.get(body.action);
  if (!type) return fail(400, 'unknown action');

  const common = { clientId: body.id ?? null, addr: body.ip || null, protocol: body.protocol ?? '' };
  if (type === 'ignored') return { ok: true, event: { type, key: null, app: null, stream: null, ...common } };

  const path = (body.path ?? '').replace(/^\/+/, '');
  if (path === '') return fail(400, 'missing path');
  const segments = path.split('/');
  // `live/<key>` → app `live`, stream `<key>`; a one-segment path has no app.
  const app = segments.length > 1 ? segments[0]! : null;
  const stream = segments.length > 1 ? segments.slice(1).join('/') : path;
  const query = new URLSearchParams(body.query ?? '');

  let key: string | null;
  if (type === 'publish.requested') {
    // Each client has one natural place for a secret: OBS/ffmpeg put it in the path (or ?key=),
    // RTSP/RTMP/SRT clients can send user:password, WHIP clients an Authorization: Bearer token.
    key = query.get('key') || body.password || body.token || segments[segments.length - 1] || null;
    if (key === null) return fail(400, 'publish names no key');
  } else {
    key = query.get('token') || body.token || null;
  }
  const badKey = checkKeyLength(key);
  if (badKey) return badKey;

  return { ok: true, event: { type, key, app, stream, ...common } };
}

function render(_event: MediaServerEvent, decision: HookDecision): HookResponse {
  // Any 2xx admits. Deny with 403, never 401: a 401 tells RTSP clients to retry with credentials.
  if (decision.kind === 'deny') return { status: 403, headers: { 'content-type': 'text/plain' }, body: shortReason(decision.reason) };
  return { status: 200, headers: { 'content-type': 'text/plain' }, body: '' };
}
