import type { Queryable } from '../../../core/ports/index.js';
import type { MediaServerKind } from '../../../core/ports/media-server.js';
import type { NodeLimits } from './node.schemas.js';

export interface NodeRow {
  id: string;
  name: string;
  kind: MediaServerKind;
  region: string;
  machine: string;
  ingest_url: string;
  stats_url: string | null;
  control_url: string | null;
  capacity: number;
  limits: NodeLimits;
  status: 'active' | 'draining';
  secret_version: number;
  created_at: Date;
  updated_at: Date;
}

export type NodeFields = Omit<NodeRow, 'id' | 'status' | 'secret_version' | 'created_at' | 'updated_at'>;

const COLUMNS = 'id, name, kind, region, machine, ingest_url, stats_url, control_url, capacity, limits, status, secret_version, created_at, updated_at';

export const nodeRepository = {
  async all(db: Queryable): Promise<NodeRow[]> {
    return (await db.query<NodeRow>(`SELECT ${COLUMNS} FROM ingest_nodes WHERE deleted_at IS NULL ORDER BY id`)).rows;
  },

  async get(db: Queryable, id: string): Promise<NodeRow | null> {
    return (await db.query<NodeRow>(`SELECT ${COLUMNS} FROM ingest_nodes WHERE id = $1 AND deleted_at IS NULL`, [id])).rows[0] ?? null;
  },

  /** Inserts, or when `upsertByName` updates the live node of that name (config-file loading). */
  async insert(db: Queryable, id: string, f: NodeFields, now: Date): Promise<NodeRow> {
    const { rows } = await db.query<NodeRow>(
      `INSERT INTO ingest_nodes (id, name, kind, region, machine, ingest_url, stats_url, control_url, capacity, limits, status, created_at, updated_at)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, 'active', $11, $11) RETURNING ${COLUMNS}`,
      [id, f.name, f.kind, f.region, f.machine, f.ingest_url, f.stats_url, f.control_url, f.capacity, JSON.stringify(f.limits), now],
    );
    return rows[0]!;
  },

  async updateByName(db: Queryable, f: NodeFields, now: Date): Promise<NodeRow | null> {
    const { rows } = await db.query<NodeRow>(
      `UPDATE ingest_nodes SET kind = $2, region = $3, machine = $4, ingest_url = $5, stats_url = $6, control_url = $7, capacity = $8, limits = $9, updated_at = $10
       WHERE name = $1 AND deleted_at IS NULL RETURNING ${COLUMNS}`,
      [f.name, f.kind, f.region, f.machine, f.ingest_url, f.stats_url, f.control_url, f.capacity, JSON.stringify(f.limits), now],
    );
    return rows[0] ?? null;
  },

  async setStatus(db: Queryable, id: string, status: NodeRow['status'], now: Date): Promise<NodeRow | null> {
    const { rows } = await db.query<NodeRow>(`UPDATE ingest_nodes SET status = $2, updated_at = $3 WHERE id = $1 AND deleted_at IS NULL RETURNING ${COLUMNS}`, [id, status, now]);
    return rows[0] ?? null;
  },

  async bumpSecret(db: Queryable, id: string, now: Date): Promise<NodeRow | null> {
    const { rows } = await db.query<NodeRow>(`UPDATE ingest_nodes SET secret_version = secret_version + 1, updated_at = $2 WHERE id = $1 AND deleted_at IS NULL RETURNING ${COLUMNS}`, [id, now]);
    return rows[0] ?? null;
  },

  /** Soft delete (ingest history keeps pointing at it); refused while an open ingest uses the node. */
  async softDelete(db: Queryable, id: string, now: Date): Promise<'deleted' | 'in_use' | 'missing'> {
    const { rows } = await db.query<{ outcome: string }>(
      `WITH busy AS (SELECT 1 FROM ingests WHERE status <> 'ended' AND (primary_node_id = $1 OR backup_node_id = $1) LIMIT 1),
            del AS (UPDATE ingest_nodes SET deleted_at = $2, updated_at = $2 WHERE id = $1 AND deleted_at IS NULL AND NOT EXISTS (SELECT 1 FROM busy) RETURNING 1)
       SELECT CASE WHEN EXISTS (SELECT 1 FROM del) THEN 'deleted' WHEN EXISTS (SELECT 1 FROM busy) THEN 'in_use' ELSE 'missing' END AS outcome`,
      [id, now],
    );
    const outcome = rows[0]!.outcome as 'deleted' | 'in_use' | 'missing';
    if (outcome === 'in_use') {
      const exists = await db.query('SELECT 1 FROM ingest_nodes WHERE id = $1 AND deleted_at IS NULL', [id]);
      if (exists.rows.length === 0) return 'missing';
    }
    return outcome;
  },

  /** Open ingests per node (primary or backup): the load that routing balances. */
  async openIngestCounts(db: Queryable): Promise<Map<string, number>> {
    const { rows } = await db.query<{ node_id: string; n: string }>(
      `SELECT node_id, count(*) AS n FROM (
         SELECT primary_node_id AS node_id FROM ingests WHERE status <> 'ended'
         UNION ALL SELECT backup_node_id FROM ingests WHERE status <> 'ended' AND backup_node_id IS NOT NULL
       ) t GROUP BY node_id`,
    );
    return new Map(rows.map((r) => [r.node_id, Number(r.n)]));
  },
};
