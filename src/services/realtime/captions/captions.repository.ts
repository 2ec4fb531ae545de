import type { Queryable } from '../../../core/ports/index.js';

export interface CueRow {
  seq: number;
  start_ms: number;
  end_ms: number;
  text: string;
  lang: string;
  ts: Date;
}

const CUE_COLUMNS = `seq::int AS seq, start_ms, end_ms, body AS text, lang, created_at AS ts`;

/** Caption storage. Seqs come from caption_rooms.last_seq in the statement that stores the cue. */
export const captionsRepository = {
  /**
   * The caption room of a session, created with the session's first caption socket; null when there
   * is no such session.
   */
  async room(db: Queryable, sessionId: string, now: Date): Promise<{ status: string; last_seq: number } | null> {
    await db.query(
      `INSERT INTO caption_rooms (session_id, created_at) SELECT $1, $2 WHERE EXISTS (SELECT 1 FROM sessions WHERE id = $1) ON CONFLICT (session_id) DO NOTHING`,
      [sessionId, now],
    );
    const { rows } = await db.query<{ status: string; last_seq: number }>(
      `SELECT s.status, r.last_seq::int AS last_seq FROM sessions s JOIN caption_rooms r ON r.session_id = s.id WHERE s.id = $1`,
      [sessionId],
    );
    return rows[0] ?? null;
  },

  async sessionExists(db: Queryable, sessionId: string): Promise<boolean> {
    const { rows } = await db.query(`SELECT 1 FROM sessions WHERE id = $1`, [sessionId]);
    return rows.length > 0;
  },

  /** Stores a cue with the room's next seq, in one statement. Null when the room does not exist. */
  async store(db: Queryable, c: { sessionId: string; userId: string; startMs: number; endMs: number; text: string; lang: string; now: Date }): Promise<number | null> {
    const { rows } = await db.query<{ seq: number }>(
      `WITH r AS (
         UPDATE caption_rooms SET last_seq = last_seq + 1 WHERE session_id = $1 RETURNING last_seq
       )
       INSERT INTO caption_cues (session_id, seq, start_ms, end_ms, body, lang, user_id, created_at)
       SELECT $1, r.last_seq, $3, $4, $5, $6, $2, $7 FROM r
       RETURNING seq::int AS seq`,
      [c.sessionId, c.userId, c.startMs, c.endMs, c.text, c.lang, c.now],
    );
    return rows[0]?.seq ?? null;
  },

  /** The latest `limit` cues with seq <= `upTo`, oldest first (the `joined` frame). */
  async recent(db: Queryable, sessionId: string, upTo: number, limit: number): Promise<CueRow[]> {
    if (limit === 0) return [];
    const { rows } = await db.query<CueRow>(
      `SELECT ${CUE_COLUMNS} FROM caption_cues WHERE session_id = $1 AND seq <= $2 ORDER BY seq DESC LIMIT $3`,
      [sessionId, upTo, limit],
    );
    return rows.reverse();
  },

  /** Every cue with `from <= seq < to` (the relay fills gaps with them). */
  async range(db: Queryable, sessionId: string, from: number, to: number): Promise<CueRow[]> {
    const { rows } = await db.query<CueRow>(
      `SELECT ${CUE_COLUMNS} FROM caption_cues WHERE session_id = $1 AND seq >= $2 AND seq < $3 ORDER BY seq`,
      [sessionId, from, to],
    );
    return rows;
  },

  /**
   * Every cue of a session in presentation order (start, then seq), optionally only those whose
   * language tag matches `lang` by RFC 4647 basic filtering: `en` matches `en`, `en-US`, `en-GB`;
   * case-insensitive. The tag grammar admits no LIKE wildcards, so `lang` is safe in the pattern.
   */
  async forVtt(db: Queryable, sessionId: string, lang: string | null): Promise<CueRow[]> {
    const { rows } = await db.query<CueRow>(
      `SELECT ${CUE_COLUMNS} FROM caption_cues
       WHERE session_id = $1 AND ($2::text IS NULL OR lower(lang) = lower($2) OR lower(lang) LIKE lower($2) || '-%')
       ORDER BY start_ms, seq`,
      [sessionId, lang],
    );
    return rows;
  },
};
