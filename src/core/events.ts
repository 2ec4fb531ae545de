/**
 * The event catalog: every topic on the Bus and the shape of its payload. Payloads are plain JSON
 * (they cross Redis), use snake_case like the HTTP API, and carry ISO timestamps.
 */
export interface EventCatalog {
  /** A session was created (status `created`). */
  'session.created': { session_id: string; at: string };
  /** A session went live (first accepted publish). Published by ingest, consumed by session. */
  'session.live': { session_id: string; at: string };
  /** A session ended; viewer tokens for it stop validating. */
  'session.ended': { session_id: string; at: string; reason: string };
  /**
   * Viewer credentials were revoked. `kind` says what `subject` names: one access token (`jti`),
   * a refresh-token family (`family`), or every token of a viewer in a session (`viewer`, subject
   * `<session_id>:<viewer_id>`). Tokens issued at or before `revoked_at` stop validating.
   */
  'token.revoked': { kind: 'jti' | 'family' | 'viewer'; subject: string; session_id: string | null; viewer_id: string | null; revoked_at: string };
  /** An operator API key was revoked: instances drop it from their caches. */
  'api_key.revoked': { key_id: string; at: string };
  /** An ingest node was registered, changed, drained or deleted: instances reload their node table. */
  'ingest_node.changed': { node_id: string; at: string };
  /** Stream keys of an ingest were rotated or revoked: instances drop their cached key lookups. */
  'ingest.keys_changed': { ingest_id: string; at: string };
  /** An ingest was started for a session: its nodes are assigned, its stream key issued. */
  'ingest.started': { ingest_id: string; session_id: string; primary_node_id: string; backup_node_id: string | null; at: string };
  /**
   * The active side of a redundant ingest changed (automatically or by hand): playback should follow
   * `to_node_id`.
   */
  'ingest.failover': { ingest_id: string; session_id: string; from_side: 'primary' | 'backup'; to_side: 'primary' | 'backup'; from_node_id: string; to_node_id: string | null; reason: string; manual: boolean; at: string };
  /**
   * An ingest ended: stopped by an operator (`stopped`), its session ended (`session_ended`), or its
   * publishers stayed away past the reconnect window (`reconnect_window_expired`). The session service
   * ends the session unless it already has; instances kick any publisher left at its next update.
   */
  'ingest.ended': { ingest_id: string; session_id: string; reason: string; at: string };
  /**
   * Something happened in a chat room that every realtime instance must show its sockets: a stored
   * message (`shadow`: only its author may see it), a delete, a restriction of a user, new settings.
   */
  'chat.event': ChatEvent;
  /** A moderation action was taken (by a moderator's socket or an operator): for the operator event stream. */
  'chat.moderation': { session_id: string; action: string; actor: string; target_user_id: string | null; target_message_id: string | null; at: string };
  /** A caption cue was stored: every realtime instance sends it to the session's caption sockets. */
  'captions.cue': { session_id: string; seq: number; start_ms: number; end_ms: number; text: string; lang: string; ts: string };
  /** A new token-signing key was created: instances reload their key ring. */
  'signing_key.rotated': { kid: string; at: string };
}

export type ChatEvent =
  | { kind: 'message'; session_id: string; offset: number; id: string; user_id: string; text: string; ts: string; shadow: boolean }
  | { kind: 'deleted'; session_id: string; offset: number; id: string }
  | { kind: 'restricted'; session_id: string; user_id: string; restriction: 'ban' | 'shadow_ban' | 'timeout' | 'lifted'; until: string | null }
  | { kind: 'settings'; session_id: string; slow_mode_seconds: number; blocked_terms: string[] };

export type EventName = keyof EventCatalog;
export type EventPayload<N extends EventName> = EventCatalog[N];
