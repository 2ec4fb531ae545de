import { Type, type Static } from '@sinclair/typebox';
import { TypeCompiler } from '@sinclair/typebox/compiler';
import type { HookDecision, HookRequest, HookResponse, MediaServerAdapter, MediaServerEvent, MediaServerEventType, ParseResult } from '../../../../core/ports/media-server.js';
import { checkKeyLength, fail, readJsonRequest, shortReason } from '../hook-request.js';

/**
 * SRS `http_hooks` (docs/media-servers/srs.md): one JSON POST per event, `action` naming the event.
 * SRS 5/6 send string `client_id`s and the full field set; SRS 3/4 send integer ids and fewer fields,
 * so everything but `action` and `stream` is optional here.
 */

const HOOKS: readonly string[] = Object.freeze(['on_publish', 'on_unpublish', 'on_play', 'on_stop']);

const EVENT_OF_ACTION: ReadonlyMap<string, MediaServerEventType> = new Map([
  ['on_publish', 'publish.requested'],
  ['on_unpublish', 'publish.ended'],
  ['on_play', 'play.requested'],
  ['on_stop', 'play.ended'],
]);
const PUBLISHER_ACTIONS: ReadonlySet<string> = new Set(['on_publish', 'on_unpublish']);
// Operators often paste one URL into every http_hooks line; connection events are then harmless noise.
const CONNECTION_ACTIONS: ReadonlySet<string> = new Set(['on_connect', 'on_close']);

const SrsHookBody = Type.Object({
  action: Type.String(),
  client_id: Type.Optional(Type.Union([Type.String(), Type.Integer()])),
  ip: Type.Optional(Type.String()),
  vhost: Type.Optional(Type.String()),
  app: Type.Optional(Type.String()),
  stream: Type.Optional(Type.String()),
  param: Type.Optional(Type.String()),
  tcUrl: Type.Optional(Type.String()),
  recv_bytes: Type.Optional(Type.Integer({ minimum: 0 })),
});
type SrsHookBody = Static<typeof SrsHookBody>;
const checkBody = TypeCompiler.Compile(SrsHookBody);

const JSON_ALLOW = '{"code":0}';

export const srsAdapter: MediaServerAdapter = Object.freeze({
  kind: 'srs',
  hooks: HOOKS,
  parse,
  render,
});

function parse(request: HookRequest): ParseResult {
  if (!EVENT_OF_ACTION.has(request.hook)) return fail(404, 'unknown SRS hook');
  if (request.method !== 'POST') return fail(400, 'SRS hooks are POST');
  const read = readJsonRequest(request, checkBody);
  if (!read.ok) return read;
  const body: SrsHookBody = read.body;

  const common = {
    app: body.app || null,
    clientId: body.client_id === undefined ? null : String(body.client_id),
    addr: body.ip || null,
    protocol: protocolOf(body.tcUrl),
  };

  if (CONNECTION_ACTIONS.has(body.action)) {
    const event: MediaServerEvent = { type: 'ignored', key: null, stream: body.stream || null, ...common };
    if (body.recv_bytes !== undefined) event.bytesIn = body.recv_bytes;
    return { ok: true, event };
  }
  // The URL names the hook the operator configured; a different action means a mis-pasted URL.
  if (body.action !== request.hook) return fail(400, `action does not match hook ${request.hook}`);
  const type = EVENT_OF_ACTION.get(body.action)!;
  if (!body.stream) return fail(400, 'missing stream');

  const args = new URLSearchParams((body.param ?? '').replace(/^\?/, ''));
  // OBS convention: server rtmp://host/live, stream key = stream name. A `?key=` in the stream URL wins
  // so that a public stream name can be published with a separate secret (rtmp://host/live/name?key=…).
  const key = PUBLISHER_ACTIONS.has(body.action) ? args.get('key') || body.stream : args.get('token') || null;
  const badKey = checkKeyLength(key);
  if (badKey) return badKey;

  return { ok: true, event: { type, key, stream: body.stream, ...common } };
}

function render(_event: MediaServerEvent, decision: HookDecision): HookResponse {
  // SRS admits only on 200/201 with `{"code":0}` (or `0`); anything else refuses, whatever the status.
  // It has no way to rename a stream, so `rename` is not expressible here (docs/media-servers/srs.md).
  if (decision.kind === 'deny') {
    return { status: 403, headers: { 'content-type': 'application/json' }, body: JSON.stringify({ code: 403, reason: shortReason(decision.reason) }) };
  }
  return { status: 200, headers: { 'content-type': 'application/json' }, body: JSON_ALLOW };
}

// SRS maps SRT and WebRTC sessions onto RTMP-style requests; the tcUrl scheme still says which it was.
function protocolOf(tcUrl: string | undefined): string {
  const scheme = /^([a-z][a-z0-9+.-]*):\/\//i.exec(tcUrl ?? '');
  return scheme ? scheme[1]!.toLowerCase() : 'rtmp';
}
