/**
 * MediaServerAdapter: one per media server (nginx-rtmp, SRS, OvenMediaEngine, MediaMTX). It turns that
 * server's callback requests into one internal event model and renders the coordinator's decision in
 * the form that server expects. Adapters are pure: no I/O, no clock, no state. They never decide;
 * the ingest service does.
 *
 * Guarantees an adapter gives:
 * - `parse` never throws: a request it cannot read is `{ ok: false }` with a 4xx status and a reason
 *   (malformed, truncated, missing fields, bad signature). Nothing is half-parsed.
 * - `parse` reports the credential the publisher presented (`key`) exactly as sent, or null; it never
 *   logs or echoes it.
 * - `render` always produces an answer the server understands for that event: an allow, a deny (the
 *   server drops the client), or an acknowledgement for events whose answer the server ignores.
 *
 * What the servers guarantee (see docs/media-servers/): events are at-least-once, unordered and
 * sometimes missing (nginx-rtmp sends no publish_done when it dies), so the service treats `ended` as a
 * hint and reconciles with stats and with the absence of heartbeats.
 */
export type MediaServerKind = 'nginx-rtmp' | 'srs' | 'ome' | 'mediamtx';
export const MEDIA_SERVER_KINDS: readonly MediaServerKind[] = ['nginx-rtmp', 'srs', 'ome', 'mediamtx'];

export type MediaServerEventType =
  /** A publisher asks to start (nginx on_publish, SRS on_publish, OME incoming/opening, MediaMTX action=publish). Blocking: the answer admits or refuses. */
  | 'publish.requested'
  /** The publish is known to be running (servers that report it separately; nginx-rtmp does not). */
  | 'publish.started'
  /** Periodic: the publish is still running (nginx on_update call=update_publish). Blocking on nginx: a non-2xx kicks. */
  | 'publish.heartbeat'
  /** The publisher went away (nginx on_publish_done / on_done for a publisher, SRS on_unpublish, OME incoming/closing). Fire-and-forget. */
  | 'publish.ended'
  /** A player asks to play (nginx on_play, SRS on_play, OME outgoing/opening, MediaMTX action=read|playback). */
  | 'play.requested'
  /** A player is still playing (nginx update_play). */
  | 'play.heartbeat'
  /** A player went away (nginx on_play_done / on_done for a player, SRS on_stop, OME outgoing/closing). */
  | 'play.ended'
  /** An event the coordinator has no use for (nginx on_done for a relay, SRS on_connect/on_close, …): acknowledged and ignored. */
  | 'ignored';

export interface MediaServerEvent {
  type: MediaServerEventType;
  /** The credential the client presented: the stream key for publishers, a viewer token for players; null when none. */
  key: string | null;
  /** Application (nginx `app`, SRS `app`, the first path segment for OME/MediaMTX), or null. */
  app: string | null;
  /** The stream name as the server knows it before any rename, or null. */
  stream: string | null;
  /** The server's id for the client connection (nginx `clientid`, SRS `client_id`, MediaMTX `id`), or null. */
  clientId: string | null;
  /** The client's IP address as the server reports it, or null. */
  addr: string | null;
  /** rtmp, srt, webrtc, rtsp, hls… as reported; 'rtmp' for nginx-rtmp. */
  protocol: string;
  /** Seconds since this client started, when the server says (nginx update `time`). */
  uptimeSeconds?: number;
  /** Bytes received from the client, when the server says (SRS on_close `recv_bytes`). */
  bytesIn?: number;
  /**
   * For servers whose rename repeats the requested URL with only the stream replaced (OME `new_url`):
   * the URL before the stream segment (`scheme://authority/app/`) and after it (`/file…` or ''), never
   * the key or the query.
   */
  urlAroundStream?: { before: string; after: string };
}

export type HookDecision =
  /** Admit. `rename` is the public stream name the server should use instead of the key (nginx 302 Location, OME new_url); `lifetimeMs` caps the session where the server supports it (OME). */
  | { kind: 'allow'; rename?: string; lifetimeMs?: number }
  /** Refuse or kick. `reason` is a short code (`bad_key`, `ingest_stopped`, …) for servers that log it (OME); never contains a secret. */
  | { kind: 'deny'; reason: string }
  /** For events whose answer the server ignores (done, unpublish, closing): a plain success. */
  | { kind: 'ack' };

/** The parts of an HTTP request an adapter reads. Header names are lower-case (Node's convention). */
export interface HookRequest {
  /** The hook name from the callback URL's last path segment (one of the adapter's `hooks`). */
  hook: string;
  method: string;
  headers: Readonly<Record<string, string | string[] | undefined>>;
  /** The query string without the leading `?` ('' when none); nginx `notify_method get` sends fields here. */
  query: string;
  /** The request body exactly as received: OME signs these bytes. */
  rawBody: Buffer;
}

export interface HookResponse {
  status: number;
  headers: Record<string, string>;
  body: string;
}

export type ParseResult = { ok: true; event: MediaServerEvent } | { ok: false; status: 400 | 401 | 404 | 415; reason: string };

export interface MediaServerAdapter {
  readonly kind: MediaServerKind;
  /**
   * The callback names this server sends, each becoming one URL `…/hooks/{node_id}/{secret}/{hook}`
   * that the operator pastes into the server's configuration. Ordered as the server's docs list them.
   */
  readonly hooks: readonly string[];
  /**
   * Reads one callback. `secret` is the node's hook secret: OME signs bodies with it (X-OME-Signature);
   * the others carry it in the URL path, which the service has already checked.
   */
  parse(request: HookRequest, secret: string): ParseResult;
  /** The answer for `event` that carries `decision` in this server's dialect. */
  render(event: MediaServerEvent, decision: HookDecision): HookResponse;
}
