import { createHash } from 'node:crypto';
import type { Queryable } from '../../../core/ports/index.js';

export interface LoggedEvent {
  id: string;
  topic: string;
  payload: Record<string, unknown>;
}

/**
 * Rows become readable this long after they were written. Ids come from a sequence at insert time, so
 * on PostgreSQL a later id can commit before an earlier one; reading only rows older than this keeps the
 * stream in id order without skipping a late commit.
 */
const VISIBILITY_LAG_MS = 250;

export const eventLogRepository = {
  /** Appends an event once, however many instances record it (same topic and payload → same row). */
  async append(db: Queryable, topic: string, payload: unknown): Promise<void> {
    const text = JSON.stringify(payload);
    const key = createHash('sha256').update(topic).update('\n').update(text).digest();
    await db.query('INSERT INTO event_log (topic, payload, dedupe_key) VALUES ($1, $2, $3) ON CONFLICT (dedupe_key) DO NOTHING', [topic, text, key]);
  },

  /** Events after `afterId`, oldest first, that are past the visibility lag. */
  async after(db: Queryable, afterId: string, limit: number): Promise<LoggedEvent[]> {
    const { rows } = await db.query<LoggedEvent>(
      `SELECT id::text AS id, topic, payload FROM event_log WHERE id > $1::bigint AND recorded_at < now() - make_interval(secs => $3::float8 / 1000) ORDER BY id LIMIT $2`,
      [afterId, limit, VISIBILITY_LAG_MS],
    );
    return rows;
  },

  /** The newest visible id ('0' when empty): where a stream without Last-Event-ID starts. */
  async head(db: Queryable): Promise<string> {
    const { rows } = await db.query<{ id: string | null }>(`SELECT max(id)::text AS id FROM event_log WHERE recorded_at < now() - make_interval(secs => $1::float8 / 1000)`, [VISIBILITY_LAG_MS]);
    return rows[0]?.id ?? '0';
  },

  /** The oldest id still kept ('0' when empty): a Last-Event-ID before it has lost events. */
  async oldest(db: Queryable): Promise<string> {
    const { rows } = await db.query<{ id: string | null }>('SELECT min(id)::text AS id FROM event_log');
    return rows[0]?.id ?? '0';
  },

  async purge(db: Queryable, before: Date): Promise<number> {
    return (await db.query('DELETE FROM event_log WHERE recorded_at < $1', [before])).rowCount;
  },
};
