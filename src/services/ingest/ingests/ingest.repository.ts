import type { Database, Queryable } from '../../../core/ports/index.js';
import type { QualityProfile } from './encoder-settings.js';

export type Side = 'primary' | 'backup';
export type IngestState = 'idle' | 'live' | 'reconnecting' | 'ended';

export interface IngestRow {
  id: string;
  session_id: string;
  status: IngestState;
  protocol: string;
  region: string | null;
  redundant: boolean;
  quality_profile: QualityProfile;
  primary_node_id: string;
  backup_node_id: string | null;
  active_side: Side;
  reconnect_window_seconds: number;
  created_at: Date;
  updated_at: Date;
  live_at: Date | null;
  disconnected_at: Date | null;
  ended_at: Date | null;
  end_reason: string | null;
  last_failover_at: Date | null;
  created_by: string;
}

export interface PublisherRow {
  ingest_id: string;
  side: Side;
  node_id: string;
  client_id: string | null;
  addr: string | null;
  app: string | null;
  stream_name: string;
  state: 'publishing' | 'gone';
  started_at: Date;
  last_seen_at: Date;
  ended_at: Date | null;
  end_reason: string | null;
}

export interface KeyLookupRow {
  ingest_id: string;
  session_id: string;
  status: IngestState;
  primary_node_id: string;
  backup_node_id: string | null;
  expires_at: Date | null;
  revoked_at: Date | null;
}

export interface PublishRequest {
  keyHash: Buffer;
  nodeId: string;
  clientId: string | null;
  addr: string | null;
  app: string | null;
  /** The stream name for servers that cannot rename (else the session id is used). */
  streamName: string | null;
  renames: boolean;
}

export interface FailoverRow { from_side: Side; to_side: Side; reason: string; manual: boolean; at: Date }

/** The timestamptz columns of `ingests` and `ingest_publishers`: JSON carries them as ISO 8601 text. */
export const INGEST_TIMESTAMPS = ['created_at', 'updated_at', 'live_at', 'disconnected_at', 'ended_at', 'last_failover_at'] as const satisfies ReadonlyArray<keyof IngestRow>;
export const PUBLISHER_TIMESTAMPS = ['started_at', 'last_seen_at', 'ended_at'] as const satisfies ReadonlyArray<keyof PublisherRow>;

/**
 * Rows that came back as one JSON array (`json_agg`) instead of one protocol row each, made to look like
 * `SELECT *` rows again (timestamps as Date). Why: on PGlite every field of every row costs about a
 * microsecond of JavaScript and an allocation (the driver slices and decodes each one), so the monitor's
 * read of 200 open ingests and their publishers (≈ 6,000 fields) held the only thread for ≈ 6 ms every
 * pass, with every callback waiting behind it; as two JSON documents it is a fraction of that. The
 * columns are listed above because JSON cannot say which text is a timestamp; a test compares these rows
 * with `SELECT *`'s, so a column added later in another type does not go unnoticed.
 */
function fromJsonRows<T>(rows: T[], timestamps: ReadonlyArray<keyof T>): T[] {
  for (const row of rows) for (const c of timestamps) row[c] = toDate(row[c]) as T[keyof T];
  return rows;
}

/** U+0000 and unpaired UTF-16 surrogates: what PostgreSQL refuses in text. */
const UNSTORABLE = /\u0000|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g;

/**
 * Text as PostgreSQL can store it. A callback's fields come from the publisher (nginx-rtmp passes on the
 * client's own app name and arguments, percent-decoded; the JSON callbacks of SRS and MediaMTX can carry
 * "\ud800"), and PostgreSQL refuses U+0000 and unpaired surrogates in text: one such field failed the
 * whole batch's statement, and so denied every publish batched with it. These fields are informational
 * (client id, address, app, stream name), so what cannot be stored becomes U+FFFD.
 */
function storable(s: string | null): string | null {
  return s === null ? null : s.replace(UNSTORABLE, '\ufffd');
}

/** A timestamp read out of a JSON document (PostgreSQL writes timestamptz there as ISO 8601 text). */
function toDate(v: unknown): Date | null {
  return v === null || v === undefined ? null : new Date(v as string);
}

export const ingestRepository = {
  async insert(db: Queryable, r: Omit<IngestRow, 'updated_at' | 'live_at' | 'disconnected_at' | 'ended_at' | 'end_reason' | 'last_failover_at' | 'status' | 'active_side'>, keyHash: Buffer): Promise<IngestRow> {
    const { rows } = await db.query<IngestRow>(
      `INSERT INTO ingests (id, session_id, status, protocol, region, redundant, quality_profile, primary_node_id, backup_node_id, active_side, reconnect_window_seconds, created_at, updated_at, created_by)
       VALUES ($1, $2, 'idle', $3, $4, $5, $6, $7, $8, 'primary', $9, $10, $10, $11) RETURNING *`,
      [r.id, r.session_id, r.protocol, r.region, r.redundant, r.quality_profile, r.primary_node_id, r.backup_node_id, r.reconnect_window_seconds, r.created_at, r.created_by],
    );
    await db.query('INSERT INTO ingest_stream_keys (key_hash, ingest_id, created_at) VALUES ($1, $2, $3)', [keyHash, r.id, r.created_at]);
    return rows[0]!;
  },

  async get(db: Queryable, id: string): Promise<IngestRow | null> {
    return (await db.query<IngestRow>('SELECT * FROM ingests WHERE id = $1', [id])).rows[0] ?? null;
  },

  async openForSession(db: Queryable, sessionId: string): Promise<IngestRow | null> {
    return (await db.query<IngestRow>(`SELECT * FROM ingests WHERE session_id = $1 AND status <> 'ended'`, [sessionId])).rows[0] ?? null;
  },

  async latestForSession(db: Queryable, sessionId: string): Promise<IngestRow | null> {
    return (await db.query<IngestRow>('SELECT * FROM ingests WHERE session_id = $1 ORDER BY id DESC LIMIT 1', [sessionId])).rows[0] ?? null;
  },

  /** Newest first, ids below `beforeId`; one more row than asked tells whether there is a next page. */
  async list(db: Queryable, q: { session_id?: string; status?: IngestState; node_id?: string; limit: number }, beforeId: string | undefined): Promise<IngestRow[]> {
    const { rows } = await db.query<IngestRow>(
      `SELECT * FROM ingests WHERE ($1::text IS NULL OR session_id = $1) AND ($2::text IS NULL OR status = $2)
         AND ($3::text IS NULL OR primary_node_id = $3 OR backup_node_id = $3) AND ($4::text IS NULL OR id < $4)
       ORDER BY id DESC LIMIT $5`,
      [q.session_id ?? null, q.status ?? null, q.node_id ?? null, beforeId ?? null, q.limit + 1],
    );
    return rows;
  },

  /** Every open ingest, read as one JSON array (see `fromJsonRows`): the monitor reads them all on every pass. */
  async open(db: Queryable): Promise<IngestRow[]> {
    const { rows } = await db.query<{ rows: IngestRow[] }>(`SELECT COALESCE(json_agg(i ORDER BY i.id), '[]') AS rows FROM ingests i WHERE i.status <> 'ended'`);
    return fromJsonRows(rows[0]!.rows, INGEST_TIMESTAMPS);
  },

  async lookupKey(db: Queryable, hash: Buffer): Promise<KeyLookupRow | null> {
    const { rows } = await db.query<KeyLookupRow>(
      `SELECT k.ingest_id, i.session_id, i.status, i.primary_node_id, i.backup_node_id, k.expires_at, k.revoked_at
       FROM ingest_stream_keys k JOIN ingests i ON i.id = k.ingest_id WHERE k.key_hash = $1`,
      [hash],
    );
    return rows[0] ?? null;
  },

  /**
   * Publish authorization for a batch of callbacks in one statement (the hot path): the function
   * `ingest_authorize_publishes` of migration 0002, where what it does and why it is a function taking
   * and answering JSON are written. For each request whose key is usable on its node, it records the
   * publisher on that node's side and makes the ingest live. Answers one row per known key, by request
   * index `n` (0-based here): the key's row as it was before (so `status` is the ingest's previous
   * status) and whether the publish was recorded. The caller sends at most one request per key per batch.
   */
  async authorizePublishes(db: Queryable, reqs: PublishRequest[], now: Date): Promise<Array<KeyLookupRow & { n: number; accepted: boolean }>> {
    const requests = reqs.map((r) => ({
      key_hash: r.keyHash.toString('hex'),
      node_id: r.nodeId,
      client_id: storable(r.clientId),
      addr: storable(r.addr),
      app: storable(r.app),
      stream_name: storable(r.streamName),
      renames: r.renames,
    }));
    const { rows } = await db.query<{ answers: Array<KeyLookupRow & { n: number; accepted: boolean }> }>('SELECT ingest_authorize_publishes($1, $2) AS answers', [JSON.stringify(requests), now]);
    const answers = rows[0]!.answers;
    for (const a of answers) {
      a.n -= 1;
      a.expires_at = toDate(a.expires_at);
      a.revoked_at = toDate(a.revoked_at);
    }
    return answers;
  },

  /** An update callback from the side's current publisher: it is alive (again, if we had given up on it). */
  async heartbeat(db: Queryable, ingestId: string, side: Side, clientId: string | null, now: Date): Promise<void> {
    const { rows } = await db.query<{ revived: boolean }>(
      `UPDATE ingest_publishers SET last_seen_at = $4, state = 'publishing', ended_at = NULL, end_reason = NULL
       WHERE ingest_id = $1 AND side = $2 AND client_id IS NOT DISTINCT FROM $3
         AND EXISTS (SELECT 1 FROM ingests WHERE id = $1 AND status <> 'ended')
       RETURNING (ended_at IS NULL) AS revived`,
      [ingestId, side, clientId, now],
    );
    if (rows.length > 0) await db.query(`UPDATE ingests SET status = 'live', disconnected_at = NULL, updated_at = $2 WHERE id = $1 AND status = 'reconnecting'`, [ingestId, now]);
  },

  /** Marks a side's publisher gone, only if it is still the same client (a late done of a replaced publisher changes nothing). */
  async endPublisher(db: Queryable, ingestId: string, side: Side, clientId: string | null, reason: string, now: Date): Promise<boolean> {
    const { rowCount } = await db.query(
      `UPDATE ingest_publishers SET state = 'gone', ended_at = $5, end_reason = $4
       WHERE ingest_id = $1 AND side = $2 AND state = 'publishing' AND ($3::text IS NULL OR client_id IS NOT DISTINCT FROM $3)`,
      [ingestId, side, clientId, reason, now],
    );
    return rowCount > 0;
  },

  /** live → reconnecting when no side has a publisher left. */
  async markDisconnected(db: Queryable, id: string, now: Date): Promise<boolean> {
    const { rowCount } = await db.query(
      `UPDATE ingests SET status = 'reconnecting', disconnected_at = $2, updated_at = $2
       WHERE id = $1 AND status = 'live' AND NOT EXISTS (SELECT 1 FROM ingest_publishers WHERE ingest_id = $1 AND state = 'publishing')`,
      [id, now],
    );
    return rowCount > 0;
  },

  /** Ends an ingest unless it already ended; returns the row when this call ended it. */
  async end(db: Queryable, id: string, reason: string, now: Date): Promise<IngestRow | null> {
    const { rows } = await db.query<IngestRow>(
      `UPDATE ingests SET status = 'ended', ended_at = $3, end_reason = $2, updated_at = $3 WHERE id = $1 AND status <> 'ended' RETURNING *`,
      [id, reason, now],
    );
    if (rows[0]) await db.query(`UPDATE ingest_publishers SET state = 'gone', ended_at = $2, end_reason = 'ingest_ended' WHERE ingest_id = $1 AND state = 'publishing'`, [id, now]);
    return rows[0] ?? null;
  },

  /** Compare-and-set of the active side: of several instances deciding the same failover, one wins. */
  async failover(db: Database, id: string, from: Side, to: Side, reason: string, manual: boolean, now: Date): Promise<boolean> {
    return db.transaction(async (tx) => {
      const { rowCount } = await tx.query(
        `UPDATE ingests SET active_side = $3, last_failover_at = $4, updated_at = $4 WHERE id = $1 AND active_side = $2 AND status <> 'ended' AND redundant`,
        [id, from, to, now],
      );
      if (rowCount === 0) return false;
      await tx.query('INSERT INTO ingest_failovers (ingest_id, from_side, to_side, reason, manual, at) VALUES ($1, $2, $3, $4, $5, $6)', [id, from, to, reason, manual, now]);
      return true;
    });
  },

  async failovers(db: Queryable, id: string, limit = 50): Promise<FailoverRow[]> {
    return (await db.query<FailoverRow>('SELECT from_side, to_side, reason, manual, at FROM ingest_failovers WHERE ingest_id = $1 ORDER BY id DESC LIMIT $2', [id, limit])).rows.reverse();
  },

  /** The publishers of these ingests, read as one JSON array (see `fromJsonRows`): the monitor asks for all open ones on every pass. */
  async publishers(db: Queryable, ids: string[]): Promise<PublisherRow[]> {
    if (ids.length === 0) return [];
    const { rows } = await db.query<{ rows: PublisherRow[] }>(`SELECT COALESCE(json_agg(p), '[]') AS rows FROM ingest_publishers p WHERE p.ingest_id = ANY($1::text[])`, [ids]);
    return fromJsonRows(rows[0]!.rows, PUBLISHER_TIMESTAMPS);
  },

  /** Rotation: the current keys expire after the overlap (or keep an earlier expiry), the new key is added. */
  async rotateKey(db: Database, ingestId: string, newHash: Buffer, overlapUntil: Date, now: Date): Promise<void> {
    await db.transaction(async (tx) => {
      await tx.query(
        `UPDATE ingest_stream_keys SET expires_at = CASE WHEN expires_at IS NULL OR expires_at > $2 THEN $2 ELSE expires_at END WHERE ingest_id = $1 AND revoked_at IS NULL`,
        [ingestId, overlapUntil],
      );
      await tx.query('INSERT INTO ingest_stream_keys (key_hash, ingest_id, created_at) VALUES ($1, $2, $3)', [newHash, ingestId, now]);
    });
  },

  async revokeKeys(db: Queryable, ingestId: string, now: Date): Promise<number> {
    return (await db.query('UPDATE ingest_stream_keys SET revoked_at = $2 WHERE ingest_id = $1 AND revoked_at IS NULL', [ingestId, now])).rowCount;
  },
};

/**
 * Read-only views of the session service's table. Services share one database but own their tables:
 * ingest only reads `sessions`, and changes a session only through events (`session.live`, `ingest.ended`).
 */
export const sessionLookup = {
  async status(db: Queryable, id: string): Promise<'created' | 'live' | 'ended' | null> {
    return (await db.query<{ status: 'created' | 'live' | 'ended' }>('SELECT status FROM sessions WHERE id = $1', [id])).rows[0]?.status ?? null;
  },

  /** Open ingests whose session disagrees with them: ended sessions (stop the ingest) and live ingests of sessions still `created` (a lost session.live). */
  async mismatches(db: Queryable): Promise<Array<{ ingest_id: string; session_id: string; ingest_status: IngestState; session_status: string }>> {
    const { rows } = await db.query<{ ingest_id: string; session_id: string; ingest_status: IngestState; session_status: string }>(
      `SELECT i.id AS ingest_id, i.session_id, i.status AS ingest_status, s.status AS session_status
       FROM ingests i JOIN sessions s ON s.id = i.session_id
       WHERE i.status <> 'ended' AND (s.status = 'ended' OR (i.status IN ('live', 'reconnecting') AND s.status = 'created'))`,
    );
    return rows;
  },

  /** Ingests that ended on their own whose session is still open (a lost ingest.ended). */
  async unendedSessions(db: Queryable, since: Date): Promise<Array<{ ingest_id: string; session_id: string; reason: string }>> {
    const { rows } = await db.query<{ ingest_id: string; session_id: string; reason: string }>(
      `SELECT i.id AS ingest_id, i.session_id, i.end_reason AS reason FROM ingests i JOIN sessions s ON s.id = i.session_id
       WHERE i.status = 'ended' AND i.ended_at > $1 AND i.end_reason <> 'session_ended' AND s.status <> 'ended'
         AND NOT EXISTS (SELECT 1 FROM ingests o WHERE o.session_id = i.session_id AND o.status <> 'ended')`,
      [since],
    );
    return rows;
  },
};
