import type { Queryable } from '../../../core/ports/database.js';
import type { SessionStatus } from './session.state.js';

export interface SessionRow {
  id: string;
  title: string | null;
  status: SessionStatus;
  max_viewers: number | null;
  metadata: Record<string, unknown>;
  created_at: Date;
  updated_at: Date;
  live_at: Date | null;
  ended_at: Date | null;
  end_reason: string | null;
  peak_viewers: number;
  unique_viewers: number;
  created_by: string;
}

export const sessionRepository = {
  async insert(q: Queryable, s: Pick<SessionRow, 'id' | 'title' | 'max_viewers' | 'metadata' | 'created_at' | 'created_by'>): Promise<SessionRow> {
    const { rows } = await q.query<SessionRow>(
      `INSERT INTO sessions (id, title, status, max_viewers, metadata, created_at, updated_at, created_by)
       VALUES ($1, $2, 'created', $3, $4, $5, $5, $6) RETURNING *`,
      [s.id, s.title, s.max_viewers, JSON.stringify(s.metadata), s.created_at, s.created_by],
    );
    return rows[0]!;
  },

  async get(q: Queryable, id: string): Promise<SessionRow | null> {
    const { rows } = await q.query<SessionRow>('SELECT * FROM sessions WHERE id = $1', [id]);
    return rows[0] ?? null;
  },

  /** Compare-and-set on status, so two instances applying transitions cannot both win. */
  async transition(q: Queryable, id: string, from: SessionStatus, to: SessionStatus, at: Date, reason: string | null): Promise<SessionRow | null> {
    const { rows } = await q.query<SessionRow>(
      `UPDATE sessions SET status = $3, updated_at = $4,
         live_at = CASE WHEN $3 = 'live' THEN $4 ELSE live_at END,
         ended_at = CASE WHEN $3 = 'ended' THEN $4 ELSE ended_at END,
         end_reason = CASE WHEN $3 = 'ended' THEN $5 ELSE end_reason END
       WHERE id = $1 AND status = $2 RETURNING *`,
      [id, from, to, at, reason],
    );
    return rows[0] ?? null;
  },

  async list(q: Queryable, f: { status?: SessionStatus; createdAfter?: Date; createdBefore?: Date; beforeId?: string; limit: number }): Promise<SessionRow[]> {
    const { rows } = await q.query<SessionRow>(
      `SELECT * FROM sessions
       WHERE ($1::text IS NULL OR status = $1)
         AND ($2::timestamptz IS NULL OR created_at > $2)
         AND ($3::timestamptz IS NULL OR created_at < $3)
         AND ($4::text IS NULL OR id < $4)
       ORDER BY id DESC LIMIT $5`,
      [f.status ?? null, f.createdAfter ?? null, f.createdBefore ?? null, f.beforeId ?? null, f.limit],
    );
    return rows;
  },

  async countByStatus(q: Queryable): Promise<Array<{ status: SessionStatus; n: string }>> {
    return (await q.query<{ status: SessionStatus; n: string }>(`SELECT status, count(*) AS n FROM sessions WHERE status <> 'ended' GROUP BY status`)).rows;
  },

  async openIds(q: Queryable, limit: number): Promise<string[]> {
    return (await q.query<{ id: string }>(`SELECT id FROM sessions WHERE status <> 'ended' ORDER BY id DESC LIMIT $1`, [limit])).rows.map((r) => r.id);
  },

  /** Records a viewer the first time it is seen; returns true when it was new to the session. */
  async addViewer(q: Queryable, sessionId: string, viewerId: string, at: Date): Promise<boolean> {
    const { rowCount } = await q.query(
      `WITH ins AS (
         INSERT INTO session_viewers (session_id, viewer_id, first_seen_at) VALUES ($1, $2, $3)
         ON CONFLICT DO NOTHING RETURNING 1)
       UPDATE sessions SET unique_viewers = unique_viewers + 1 WHERE id = $1 AND EXISTS (SELECT 1 FROM ins)`,
      [sessionId, viewerId, at],
    );
    return rowCount > 0;
  },

  async raisePeak(q: Queryable, sessionId: string, count: number): Promise<void> {
    await q.query('UPDATE sessions SET peak_viewers = $2 WHERE id = $1 AND peak_viewers < $2', [sessionId, count]);
  },
};
