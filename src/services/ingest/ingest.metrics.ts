import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import type { Database } from '../../core/ports/index.js';

export interface IngestMetricSet {
  hooks: Counter<'kind' | 'event' | 'outcome'>;
  badKeys: Counter;
  throttled: Counter;
  failovers: Counter<'manual' | 'reason'>;
  nodePolls: Histogram<'outcome'>;
  kicks: Counter<'via'>;
}

/** The ingest service's metrics; the gauge of open ingests is read from the database at scrape time. */
export function createIngestMetrics(registry: Registry, db: Database): IngestMetricSet {
  new Gauge({
    name: 'streamplane_ingests_open',
    help: 'Ingests not yet ended, by status.',
    labelNames: ['status'] as const,
    registers: [registry],
    async collect() {
      const rows = await db.query<{ status: string; n: string }>(`SELECT status, count(*) AS n FROM ingests WHERE status <> 'ended' GROUP BY status`).catch(() => ({ rows: [] }));
      for (const s of ['idle', 'live', 'reconnecting']) this.set({ status: s }, 0);
      for (const r of rows.rows) this.set({ status: r.status }, Number(r.n));
    },
  });
  return {
    hooks: new Counter({ name: 'streamplane_ingest_hooks_total', help: 'Media-server callbacks by server kind, event and outcome (allow, deny, ack, bad_request, unauthorized).', labelNames: ['kind', 'event', 'outcome'] as const, registers: [registry] }),
    badKeys: new Counter({ name: 'streamplane_ingest_bad_stream_keys_total', help: 'Publishes refused for an unknown, revoked or expired stream key.', registers: [registry] }),
    throttled: new Counter({ name: 'streamplane_ingest_throttled_publishes_total', help: 'Publishes refused because their address sent too many bad keys.', registers: [registry] }),
    failovers: new Counter({ name: 'streamplane_ingest_failovers_total', help: 'Active-side switches of redundant ingests.', labelNames: ['manual', 'reason'] as const, registers: [registry] }),
    nodePolls: new Histogram({ name: 'streamplane_ingest_node_poll_seconds', help: 'Duration of media-server stats polls.', labelNames: ['outcome'] as const, buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5], registers: [registry] }),
    kicks: new Counter({ name: 'streamplane_ingest_kicks_total', help: 'Publishers dropped, by how (control API, update callback).', labelNames: ['via'] as const, registers: [registry] }),
  };
}
