import { Counter, Gauge, type Registry } from 'prom-client';
import type { Database, Presence } from '../../core/ports/index.js';
import { sessionRepository } from './sessions/session.repository.js';

export interface SessionMetrics {
  sessionsCreated: Counter;
  tokensMinted: Counter;
  refreshes: Counter<'outcome'>;
}

/**
 * The session service's own metrics. Gauges are computed at scrape time from the shared state
 * (database and Presence), so every instance reports the same cluster-wide figures.
 */
export function createSessionMetrics(registry: Registry, deps: { db: Database; presence: Presence; viewerSet: (id: string) => string }): SessionMetrics {
  new Gauge({
    name: 'streamplane_sessions_active',
    help: 'Sessions not yet ended, by status.',
    labelNames: ['status'] as const,
    registers: [registry],
    async collect() {
      this.reset();
      const counts = await sessionRepository.countByStatus(deps.db).catch(() => []);
      this.set({ status: 'created' }, 0);
      this.set({ status: 'live' }, 0);
      for (const c of counts) this.set({ status: c.status }, Number(c.n));
    },
  });
  new Gauge({
    name: 'streamplane_concurrent_viewers',
    help: 'Viewers with a fresh heartbeat, summed over open sessions (at most 1000 newest).',
    registers: [registry],
    async collect() {
      const ids = await sessionRepository.openIds(deps.db, 1000).catch(() => []);
      const counts = await Promise.all(ids.map((id) => deps.presence.count(deps.viewerSet(id)).catch(() => 0)));
      this.set(counts.reduce((a, b) => a + b, 0));
    },
  });
  return {
    sessionsCreated: new Counter({ name: 'streamplane_sessions_created_total', help: 'Sessions created.', registers: [registry] }),
    tokensMinted: new Counter({ name: 'streamplane_tokens_minted_total', help: 'Viewer token pairs issued (mint and refresh).', registers: [registry] }),
    refreshes: new Counter({ name: 'streamplane_token_refreshes_total', help: 'Refresh attempts by outcome.', labelNames: ['outcome'] as const, registers: [registry] }),
  };
}
