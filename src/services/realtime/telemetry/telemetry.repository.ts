import type { Queryable } from '../../../core/ports/index.js';
import type { Dimension } from './telemetry.schemas.js';
import type { StateEvent, ViewMetrics } from './telemetry.views.js';

export interface ViewKey {
  session_id: string;
  viewer_id: string;
  view_id: string;
}

export interface StoredView extends ViewKey {
  events: StateEvent[];
  first_event_at: number;
  last_event_at: number;
  /** Created by this flush (its columns are still the defaults, whatever the events say). */
  fresh?: boolean;
}

export interface ViewRow extends StoredView {
  metrics: ViewMetrics;
}

/** The aggregate of a set of views, as the metrics query returns it (numbers already converted). */
export interface Aggregate {
  value: string | null;
  views: number;
  unique_viewers: number;
  concurrent: number;
  startup_p50: number | null;
  startup_p95: number | null;
  startup_samples: number;
  watch_ms: number;
  playing_ms: number;
  rebuffer_ms: number;
  rebuffer_count: number;
  failures: number;
  exits: number;
  bitrate_weighted: number;
  bitrate_ms: number;
}

/** Column of each dimension: a fixed map, so no name from a request ever reaches the SQL text. */
const DIMENSION_COLUMN: Record<Dimension, string> = {
  device: 'dim_device', os: 'dim_os', browser: 'dim_browser', country: 'dim_country', player: 'dim_player', cdn: 'dim_cdn',
};

const KEYS = `jsonb_to_recordset($1::jsonb) AS k(session_id text, viewer_id text, view_id text, first_event_at float8, last_event_at float8)`;

const viewKey = (k: ViewKey) => `${k.session_id}\u0000${k.viewer_id}\u0000${k.view_id}`;

async function selectForUpdate(tx: Queryable, keys: ViewKey[]): Promise<StoredView[]> {
  const { rows } = await tx.query<Omit<StoredView, 'events'> & { events: string }>(
    `SELECT v.session_id, v.viewer_id, v.view_id, v.events,
            round(extract(epoch FROM v.first_event_at) * 1000)::float8 AS first_event_at,
            round(extract(epoch FROM v.last_event_at) * 1000)::float8 AS last_event_at
       FROM telemetry_views v JOIN ${KEYS} ON (v.session_id, v.viewer_id, v.view_id) = (k.session_id, k.viewer_id, k.view_id)
      ORDER BY 1, 2, 3 FOR UPDATE OF v`,
    [JSON.stringify(keys)],
  );
  return rows.map((r) => ({ ...r, events: JSON.parse(r.events) as StateEvent[] }));
}

export const telemetryRepository = {
  /** Session ids among `ids` that exist (the session service's table, read-only). */
  async existingSessions(db: Queryable, ids: string[]): Promise<Set<string>> {
    const { rows } = await db.query<{ id: string }>('SELECT id FROM sessions WHERE id = ANY($1::text[])', [ids]);
    return new Set(rows.map((r) => r.id));
  },

  /**
   * Locks the rows of these views (creating the missing ones first), in key order so that two
   * instances flushing overlapping views wait for each other instead of deadlocking, and returns what
   * is stored. Run inside a transaction: the locks hold until it ends.
   */
  async lockViews(tx: Queryable, keys: Array<ViewKey & { first_event_at: number; last_event_at: number }>): Promise<StoredView[]> {
    const rows = await selectForUpdate(tx, keys);
    if (rows.length === keys.length) return rows;
    // Views seen for the first time: create their rows (another instance may be creating some of them
    // right now: ON CONFLICT waits for it and keeps its row), then lock them too.
    const found = new Set(rows.map(viewKey));
    const missing = keys.filter((k) => !found.has(viewKey(k)));
    await tx.query(
      `INSERT INTO telemetry_views (session_id, viewer_id, view_id, first_event_at, last_event_at, started_at)
       SELECT k.session_id, k.viewer_id, k.view_id, to_timestamp(k.first_event_at / 1000), to_timestamp(k.last_event_at / 1000), to_timestamp(k.first_event_at / 1000)
         FROM ${KEYS} ORDER BY 1, 2, 3
       ON CONFLICT DO NOTHING`,
      [JSON.stringify(missing)],
    );
    return rows.concat((await selectForUpdate(tx, missing)).map((r) => ({ ...r, fresh: true })));
  },

  /** Writes recomputed views (rows locked by lockViews in the same transaction). */
  async updateViews(tx: Queryable, views: ViewRow[]): Promise<void> {
    if (views.length === 0) return;
    const doc = JSON.stringify(
      views.map((v) => {
        const m = v.metrics;
        return {
          session_id: v.session_id, viewer_id: v.viewer_id, view_id: v.view_id, events: JSON.stringify(v.events),
          first_event_at: v.first_event_at, last_event_at: v.last_event_at, started_at: m.startedAt, ended_at: m.endedAt, state: m.state,
          startup_ms: m.startupMs, watch_ms: m.watchMs, playing_ms: m.playingMs, rebuffer_ms: m.rebufferMs, rebuffer_count: m.rebufferCount,
          failed: m.failed, exited_before_start: m.exitedBeforeStart, bitrate_weighted: m.bitrateWeighted, bitrate_ms: m.bitrateMs,
          dim_device: m.dimensions.device ?? null, dim_os: m.dimensions.os ?? null, dim_browser: m.dimensions.browser ?? null,
          dim_country: m.dimensions.country ?? null, dim_player: m.dimensions.player ?? null, dim_cdn: m.dimensions.cdn ?? null,
        };
      }),
    );
    await tx.query(
      `UPDATE telemetry_views v SET
         events = u.events, first_event_at = to_timestamp(u.first_event_at / 1000), last_event_at = to_timestamp(u.last_event_at / 1000),
         started_at = to_timestamp(u.started_at / 1000), ended_at = to_timestamp(u.ended_at / 1000), state = u.state,
         startup_ms = u.startup_ms, watch_ms = u.watch_ms, playing_ms = u.playing_ms, rebuffer_ms = u.rebuffer_ms, rebuffer_count = u.rebuffer_count,
         failed = u.failed, exited_before_start = u.exited_before_start, bitrate_weighted = u.bitrate_weighted, bitrate_ms = u.bitrate_ms,
         dim_device = u.dim_device, dim_os = u.dim_os, dim_browser = u.dim_browser, dim_country = u.dim_country, dim_player = u.dim_player, dim_cdn = u.dim_cdn,
         updated_at = now()
       FROM jsonb_to_recordset($1::jsonb) AS u(
         session_id text, viewer_id text, view_id text, events text, first_event_at float8, last_event_at float8, started_at float8, ended_at float8, state text,
         startup_ms float8, watch_ms float8, playing_ms float8, rebuffer_ms float8, rebuffer_count int, failed boolean, exited_before_start boolean,
         bitrate_weighted float8, bitrate_ms float8, dim_device text, dim_os text, dim_browser text, dim_country text, dim_player text, dim_cdn text)
       WHERE (v.session_id, v.viewer_id, v.view_id) = (u.session_id, u.viewer_id, u.view_id)`,
      [doc],
    );
  },

  /**
   * Aggregates the session's views that started in [from, to): one row overall, or one per value of
   * `dimension` (largest first, at most `limit`). A view is concurrent when it has not ended, is not
   * paused and has an event at or after `activeSince`.
   */
  async aggregate(db: Queryable, q: { sessionId: string; from: Date | null; to: Date | null; activeSince: Date; dimension?: Dimension; limit: number }): Promise<Aggregate[]> {
    const group = q.dimension ? DIMENSION_COLUMN[q.dimension] : null;
    const { rows } = await db.query<Record<keyof Aggregate, string | number | null>>(
      `SELECT ${group ? `${group} AS value` : 'NULL::text AS value'},
              count(*)::int AS views,
              count(DISTINCT viewer_id)::int AS unique_viewers,
              count(*) FILTER (WHERE ended_at IS NULL AND state <> 'paused' AND last_event_at >= $4)::int AS concurrent,
              percentile_cont(0.5) WITHIN GROUP (ORDER BY startup_ms) AS startup_p50,
              percentile_cont(0.95) WITHIN GROUP (ORDER BY startup_ms) AS startup_p95,
              count(startup_ms)::int AS startup_samples,
              coalesce(sum(watch_ms), 0)::float8 AS watch_ms,
              coalesce(sum(playing_ms), 0)::float8 AS playing_ms,
              coalesce(sum(rebuffer_ms), 0)::float8 AS rebuffer_ms,
              coalesce(sum(rebuffer_count), 0)::int AS rebuffer_count,
              count(*) FILTER (WHERE failed)::int AS failures,
              count(*) FILTER (WHERE exited_before_start)::int AS exits,
              coalesce(sum(bitrate_weighted), 0)::float8 AS bitrate_weighted,
              coalesce(sum(bitrate_ms), 0)::float8 AS bitrate_ms
         FROM telemetry_views
        WHERE session_id = $1 AND ($2::timestamptz IS NULL OR started_at >= $2) AND ($3::timestamptz IS NULL OR started_at < $3)
        ${group ? `GROUP BY ${group} ORDER BY views DESC, value NULLS LAST LIMIT ${Math.max(1, Math.floor(q.limit))}` : ''}`,
      [q.sessionId, q.from, q.to, q.activeSince],
    );
    return rows.map((r) => ({
      value: r.value === null ? null : String(r.value),
      views: Number(r.views), unique_viewers: Number(r.unique_viewers), concurrent: Number(r.concurrent),
      startup_p50: r.startup_p50 === null ? null : Number(r.startup_p50), startup_p95: r.startup_p95 === null ? null : Number(r.startup_p95),
      startup_samples: Number(r.startup_samples), watch_ms: Number(r.watch_ms), playing_ms: Number(r.playing_ms), rebuffer_ms: Number(r.rebuffer_ms),
      rebuffer_count: Number(r.rebuffer_count), failures: Number(r.failures), exits: Number(r.exits),
      bitrate_weighted: Number(r.bitrate_weighted), bitrate_ms: Number(r.bitrate_ms),
    }));
  },
};
