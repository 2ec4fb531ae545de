import type { Queryable } from '../../../core/ports/index.js';

export interface RoomRow {
  epoch: string;
  last_offset: number;
  slow_mode_seconds: number;
  blocked_terms: string[];
}
export interface ChatEventRow {
  offset: number;
  kind: 'message' | 'deleted';
  id: string;
  user_id: string | null;
  text: string | null;
  shadow: boolean;
  ts: Date;
}
export interface StoredMessage {
  offset: number;
  shadow: boolean;
  /** When it was stored: the time history and live delivery both show. */
  ts: Date;
}
export type Restriction = 'ban' | 'shadow_ban' | 'timeout';
export interface RestrictionRow {
  user_id: string;
  kind: Restriction;
  until: Date | null;
}
export interface ModerationRow {
  id: string;
  action: string;
  actor: string;
  target_user_id: string | null;
  target_message_id: string | null;
  detail: Record<string, unknown>;
  created_at: Date;
}

const EVENT_COLUMNS = `seq::int AS "offset", kind, message_id AS id, user_id, body AS text, shadow, created_at AS ts`;
/** The same, for rows aggregated to JSON (timestamps as ISO strings with milliseconds, in UTC). */
const JSON_EVENT_COLUMNS = `seq::int AS "offset", kind, message_id AS id, user_id, body AS text, shadow, to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') AS ts`;
/** Restrictions in force at $3 for user $2 of room $1. */
const IN_FORCE = `session_id = $1 AND user_id = $2 AND (until IS NULL OR until > $3)`;

/** Chat storage. Offsets come from chat_rooms.last_offset in the statement that stores the event. */
export const chatRepository = {
  /** The room of a session, created with the session's first socket; null when there is no such session. */
  async room(db: Queryable, sessionId: string, epoch: string, now: Date): Promise<(RoomRow & { status: string }) | null> {
    await db.query(
      `INSERT INTO chat_rooms (session_id, epoch, created_at) SELECT $1, $2, $3 WHERE EXISTS (SELECT 1 FROM sessions WHERE id = $1) ON CONFLICT (session_id) DO NOTHING`,
      [sessionId, epoch, now],
    );
    const { rows } = await db.query<RoomRow & { status: string }>(
      `SELECT s.status, r.epoch, r.last_offset::int AS last_offset, r.slow_mode_seconds, r.blocked_terms
       FROM sessions s JOIN chat_rooms r ON r.session_id = s.id WHERE s.id = $1`,
      [sessionId],
    );
    return rows[0] ?? null;
  },

  /** Whether a session exists (and its status) and whether `userId` is banned from its room: one statement. */
  async admission(db: Queryable, sessionId: string, userId: string): Promise<{ status: string; banned: boolean } | null> {
    const { rows } = await db.query<{ status: string; banned: boolean }>(
      `SELECT s.status, EXISTS (SELECT 1 FROM chat_restrictions x WHERE x.session_id = s.id AND x.user_id = $2 AND x.kind = 'ban') AS banned
       FROM sessions s WHERE s.id = $1`,
      [sessionId, userId],
    );
    return rows[0] ?? null;
  },

  /**
   * What a joining socket needs, in one statement (one snapshot): the room, and either the replay of
   * what it missed after `since` (when the epoch is the room's and the gap is at most `resumeMax`) or
   * the latest `limit` messages it may see. Joins come in storms after a restart: one round trip each.
   */
  async join(db: Queryable, j: { sessionId: string; userId: string; limit: number; since: number | null; epoch: string | null; resumeMax: number }): Promise<(RoomRow & { recovered: boolean; events: ChatEventRow[] }) | null> {
    const { rows } = await db.query<RoomRow & { recovered: boolean; events: Array<Omit<ChatEventRow, 'ts'> & { ts: string }> }>(
      `WITH r AS (
         SELECT epoch, last_offset::int AS last_offset, slow_mode_seconds, blocked_terms,
                ($4::bigint IS NOT NULL AND $5::text = epoch AND $4::bigint <= last_offset AND last_offset - $4::bigint <= $6) AS recovered
         FROM chat_rooms WHERE session_id = $1
       )
       SELECT r.*, COALESCE(CASE WHEN r.recovered THEN (
           SELECT json_agg(e ORDER BY e."offset") FROM (
             SELECT ${JSON_EVENT_COLUMNS} FROM chat_events
             WHERE session_id = $1 AND seq > $4::bigint AND seq <= r.last_offset
               AND (kind = 'deleted' OR (deleted_at IS NULL AND (NOT shadow OR user_id = $2)))) e)
         ELSE (
           SELECT json_agg(e ORDER BY e."offset") FROM (
             SELECT ${JSON_EVENT_COLUMNS} FROM chat_events
             WHERE session_id = $1 AND kind = 'message' AND deleted_at IS NULL AND (NOT shadow OR user_id = $2) AND seq <= r.last_offset
             ORDER BY seq DESC LIMIT $3) e)
         END, '[]'::json) AS events
       FROM r`,
      [j.sessionId, j.userId, j.limit, j.since, j.epoch, j.resumeMax],
    );
    const row = rows[0];
    if (!row) return null;
    const events = (typeof row.events === 'string' ? JSON.parse(row.events) : row.events) as Array<Omit<ChatEventRow, 'ts'> & { ts: string }>;
    return { ...row, events: events.map((e) => ({ ...e, ts: new Date(e.ts) })) };
  },

  /** Creates a session's room if it has none (its first socket anywhere). */
  async ensureRoom(db: Queryable, sessionId: string, epoch: string, now: Date) {
    await db.query(
      `INSERT INTO chat_rooms (session_id, epoch, created_at) SELECT $1, $2, $3 WHERE EXISTS (SELECT 1 FROM sessions WHERE id = $1) ON CONFLICT (session_id) DO NOTHING`,
      [sessionId, epoch, now],
    );
  },

  async restrictionsOf(db: Queryable, sessionId: string, userId: string, now: Date): Promise<RestrictionRow[]> {
    const { rows } = await db.query<RestrictionRow>(`SELECT user_id, kind, until FROM chat_restrictions WHERE ${IN_FORCE}`, [sessionId, userId, now]);
    return rows;
  },

  /** A room's settings and bans, read-only in one statement (the periodic repair of an instance's mirror). */
  async mirrorState(db: Queryable, sessionId: string): Promise<{ slow_mode_seconds: number; blocked_terms: string[]; bans: string[] } | null> {
    const { rows } = await db.query<{ slow_mode_seconds: number; blocked_terms: string[]; bans: string[] | string }>(
      `SELECT r.slow_mode_seconds, r.blocked_terms,
              COALESCE((SELECT json_agg(x.user_id) FROM chat_restrictions x WHERE x.session_id = r.session_id AND x.kind = 'ban'), '[]'::json) AS bans
       FROM chat_rooms r WHERE r.session_id = $1`,
      [sessionId],
    );
    const row = rows[0];
    return row ? { ...row, bans: typeof row.bans === 'string' ? (JSON.parse(row.bans) as string[]) : row.bans } : null;
  },

  /** Bans of a room in force (the instance's mirror, which closes banned sockets). */
  async bannedUsers(db: Queryable, sessionId: string): Promise<string[]> {
    const { rows } = await db.query<{ user_id: string }>(`SELECT user_id FROM chat_restrictions WHERE session_id = $1 AND kind = 'ban'`, [sessionId]);
    return rows.map((r) => r.user_id);
  },

  /**
   * Stores a room's pending messages in one statement, each unless its author is banned or timed out:
   * offsets are taken in send order from chat_rooms.last_offset, and the offsets, shadow flags and
   * restriction checks all see one snapshot. Returns the stored ones by id (a refused one is absent).
   */
  async storeMany(db: Queryable, sessionId: string, now: Date, ms: Array<{ userId: string; id: string; text: string }>): Promise<Map<string, StoredMessage>> {
    const { rows } = await db.query<{ id: string; offset: number; shadow: boolean }>(
      `WITH input AS (
         SELECT t.id, t.user_id, t.body, t.n FROM unnest($2::text[], $3::text[], $4::text[]) WITH ORDINALITY AS t(id, user_id, body, n)
       ), allowed AS (
         SELECT i.id, i.user_id, i.body, row_number() OVER (ORDER BY i.n) AS k,
                EXISTS (SELECT 1 FROM chat_restrictions x WHERE x.session_id = $1 AND x.user_id = i.user_id AND x.kind = 'shadow_ban') AS shadow
         FROM input i
         WHERE NOT EXISTS (SELECT 1 FROM chat_restrictions x WHERE x.session_id = $1 AND x.user_id = i.user_id AND x.kind IN ('ban', 'timeout') AND (x.until IS NULL OR x.until > $5))
       ), r AS (
         UPDATE chat_rooms SET last_offset = last_offset + (SELECT count(*) FROM allowed) WHERE session_id = $1 RETURNING last_offset
       )
       INSERT INTO chat_events (session_id, seq, kind, message_id, user_id, body, shadow, created_at)
       SELECT $1, r.last_offset - (SELECT count(*) FROM allowed) + a.k, 'message', a.id, a.user_id, a.body, a.shadow, $5
       FROM allowed a, r
       RETURNING message_id AS id, seq::int AS "offset", shadow`,
      [sessionId, ms.map((m) => m.id), ms.map((m) => m.userId), ms.map((m) => m.text), now],
    );
    return new Map(rows.map((r) => [r.id, { offset: r.offset, shadow: r.shadow, ts: now }]));
  },

  /**
   * Marks a message deleted and records the delete as an event with its own offset. 'gone' when it
   * was already deleted (idempotent), null when there is no such message in the room.
   */
  async delete(db: Queryable, sessionId: string, messageId: string, now: Date): Promise<{ offset: number; user_id: string } | 'gone' | null> {
    const { rows } = await db.query<{ offset: number; user_id: string }>(
      `WITH d AS (
         UPDATE chat_events SET deleted_at = $3
         WHERE session_id = $1 AND message_id = $2 AND kind = 'message' AND deleted_at IS NULL
         RETURNING user_id
       ), r AS (
         UPDATE chat_rooms SET last_offset = last_offset + 1 WHERE session_id = $1 AND EXISTS (SELECT 1 FROM d) RETURNING last_offset
       )
       INSERT INTO chat_events (session_id, seq, kind, message_id, user_id, created_at)
       SELECT $1, r.last_offset, 'deleted', $2, (SELECT user_id FROM d), $3 FROM r
       RETURNING seq::int AS "offset", user_id`,
      [sessionId, messageId, now],
    );
    if (rows[0]) return rows[0];
    const exists = await db.query(`SELECT 1 FROM chat_events WHERE session_id = $1 AND message_id = $2 AND kind = 'message'`, [sessionId, messageId]);
    return exists.rows.length > 0 ? 'gone' : null;
  },

  /** Every event with `from <= offset < to` (the relay fills gaps with them). */
  async range(db: Queryable, sessionId: string, from: number, to: number): Promise<ChatEventRow[]> {
    const { rows } = await db.query<ChatEventRow>(
      `SELECT ${EVENT_COLUMNS} FROM chat_events WHERE session_id = $1 AND seq >= $2 AND seq < $3 ORDER BY seq`,
      [sessionId, from, to],
    );
    return rows;
  },

  /** A page of a room's messages for operators, oldest first, after the message `afterId`. */
  async messages(db: Queryable, sessionId: string, afterId: string | null, limit: number) {
    const { rows } = await db.query<ChatEventRow & { deleted_at: Date | null }>(
      `SELECT ${EVENT_COLUMNS}, deleted_at FROM chat_events
       WHERE session_id = $1 AND kind = 'message'
         AND ($2::text IS NULL OR seq > (SELECT seq FROM chat_events WHERE session_id = $1 AND message_id = $2 AND kind = 'message'))
       ORDER BY seq LIMIT $3`,
      [sessionId, afterId, limit],
    );
    return rows;
  },

  async restrict(db: Queryable, r: { sessionId: string; userId: string; kind: Restriction; until: Date | null; reason: string | null; actor: string; now: Date }) {
    await db.query(
      `INSERT INTO chat_restrictions (session_id, user_id, kind, until, reason, created_by, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7)
       ON CONFLICT (session_id, user_id, kind) DO UPDATE SET until = EXCLUDED.until, reason = EXCLUDED.reason, created_by = EXCLUDED.created_by, created_at = EXCLUDED.created_at`,
      [r.sessionId, r.userId, r.kind, r.until, r.reason, r.actor, r.now],
    );
  },

  async lift(db: Queryable, sessionId: string, userId: string): Promise<number> {
    const { rows } = await db.query<{ kind: string }>(`DELETE FROM chat_restrictions WHERE session_id = $1 AND user_id = $2 RETURNING kind`, [sessionId, userId]);
    return rows.length;
  },

  async updateSettings(db: Queryable, sessionId: string, s: { slow_mode_seconds?: number; blocked_terms?: string[] }): Promise<RoomRow | null> {
    const { rows } = await db.query<RoomRow>(
      `UPDATE chat_rooms SET slow_mode_seconds = COALESCE($2, slow_mode_seconds), blocked_terms = COALESCE($3::jsonb, blocked_terms)
       WHERE session_id = $1 RETURNING epoch, last_offset::int AS last_offset, slow_mode_seconds, blocked_terms`,
      [sessionId, s.slow_mode_seconds ?? null, s.blocked_terms ? JSON.stringify(s.blocked_terms) : null],
    );
    return rows[0] ?? null;
  },

  async logModeration(db: Queryable, m: ModerationRow & { session_id: string }) {
    await db.query(
      `INSERT INTO chat_moderation_log (id, session_id, action, actor, target_user_id, target_message_id, detail, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`,
      [m.id, m.session_id, m.action, m.actor, m.target_user_id, m.target_message_id, JSON.stringify(m.detail), m.created_at],
    );
  },

  async moderationLog(db: Queryable, sessionId: string, afterId: string | null, limit: number): Promise<ModerationRow[]> {
    const { rows } = await db.query<ModerationRow>(
      `SELECT id, action, actor, target_user_id, target_message_id, detail, created_at FROM chat_moderation_log
       WHERE session_id = $1 AND ($2::text IS NULL OR id > $2) ORDER BY id LIMIT $3`,
      [sessionId, afterId, limit],
    );
    return rows;
  },
};
