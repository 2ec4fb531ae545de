import type { FastifyBaseLogger } from 'fastify';
import type { Bus, Clock, Database } from '../../../core/ports/index.js';
import type { IngestConfig } from '../../../config/config.js';
import { ingestRepository as repo, sessionLookup, type IngestRow } from '../ingests/ingest.repository.js';
import type { IngestService } from '../ingests/ingest.service.js';
import { decideFailover } from './side-state.js';

interface Deps {
  db: Database;
  bus: Bus;
  clock: Clock;
  cfg: IngestConfig;
  ingests: IngestService;
  log: FastifyBaseLogger;
  /** An ingest left the open list (ended here or on another instance): cached knowledge of it is stale. */
  onClosed: (ingestId: string) => void;
}

/**
 * A pass's judgements run on this thread, 3–4 ms with 200 live ingests every 500 ms, which media-server
 * callbacks arriving meanwhile would wait out (bench on_publish: that wait was in the p99). So it lets
 * pending I/O in every JUDGE_SLICE judgements; its statements need no such turn, since none runs on this
 * thread (PostgreSQL, or PGlite in its worker). A real event-loop turn, not the Clock: this is
 * scheduling, not domain time.
 */
const letCallbacksIn = () => new Promise<void>((resolve) => setImmediate(resolve));
const JUDGE_SLICE = 25;

/** Session reconciliation runs every this many ticks: it repairs lost events, it is not on the failover path. */
const RECONCILE_EVERY_TICKS = 4;

/**
 * The coordinator's loop, on every instance: it reads the open ingests, judges each side from stats
 * and callbacks, marks publishers whose end was never reported as gone, starts and ends reconnect
 * windows, fails over, and repairs session state whose events were lost. Every write is a
 * compare-and-set, so instances running the same loop do not double anything.
 */
export class IngestMonitor {
  private open = new Set<string>();
  private ticks = 0;
  private running = false;

  constructor(private readonly d: Deps) {}

  /** One pass; skipped while the previous one still runs (a slow database must not pile passes up). */
  async tick(): Promise<void> {
    if (this.running) return;
    this.running = true;
    try {
      const rows = await repo.open(this.d.db);
      const open = new Set(rows.map((r) => r.id));
      // An ingest ended by another instance whose ingest.ended event was lost still reaches the caches.
      for (const id of this.open) if (!open.has(id)) this.d.onClosed(id);
      this.open = open;
      const publishers = await repo.publishers(this.d.db, rows.map((r) => r.id));
      for (let i = 0; i < rows.length; i++) {
        if (i % JUDGE_SLICE === JUDGE_SLICE - 1) await letCallbacksIn();
        const row = rows[i]!;
        await this.judge(row, publishers).catch((err: unknown) => this.d.log.warn({ err, ingest_id: row.id }, 'ingest check failed'));
      }
      if (++this.ticks % RECONCILE_EVERY_TICKS === 0) await this.reconcileSessions();
    } finally {
      this.running = false;
    }
  }

  private async judge(row: IngestRow, publishers: Awaited<ReturnType<typeof repo.publishers>>): Promise<void> {
    const { db, clock, ingests, log } = this.d;
    const now = clock.now();
    const sides = ingests.evaluate(row, publishers);

    for (const s of sides) {
      if (s.lost && s.publisher?.state === 'publishing' && (await repo.endPublisher(db, row.id, s.side, s.publisher.client_id, s.lost, new Date(now)))) {
        log.info({ session_id: row.session_id, ingest_id: row.id, side: s.side, reason: s.lost }, 'publisher gone (no end event)');
      }
    }
    if (row.status === 'live' && sides.every((s) => s.state === 'idle' || s.state === 'down')) {
      if (await repo.markDisconnected(db, row.id, new Date(now))) log.info({ session_id: row.session_id, ingest_id: row.id }, 'ingest reconnecting');
      return;
    }
    if (row.status === 'reconnecting' && row.disconnected_at && now - row.disconnected_at.getTime() >= row.reconnect_window_seconds * 1000) {
      await ingests.end(row, 'reconnect_window_expired');
      return;
    }
    if (row.status === 'live' && row.redundant && sides.length === 2) {
      const states = { primary: sides[0]!.state, backup: sides[1]!.state };
      const decision = decideFailover({ active: row.active_side, states, lastFailoverAt: row.last_failover_at?.getTime() ?? null, now, cooldownMs: this.d.cfg.failoverCooldownMs });
      if (decision) await ingests.switchSide(row, decision.to, decision.reason, false);
    }
  }

  /** Repairs what lost Bus events left inconsistent between ingests and sessions. */
  private async reconcileSessions(): Promise<void> {
    const { db, bus, clock, ingests, log } = this.d;
    for (const m of await sessionLookup.mismatches(db)) {
      if (m.session_status === 'ended') {
        const row = await repo.get(db, m.ingest_id);
        if (row) await ingests.end(row, 'session_ended');
      } else {
        log.info({ session_id: m.session_id }, 'republishing session.live');
        await bus.publish('session.live', { session_id: m.session_id, at: new Date(clock.now()).toISOString() });
      }
    }
    for (const u of await sessionLookup.unendedSessions(db, new Date(clock.now() - 3_600_000))) {
      await bus.publish('ingest.ended', { ingest_id: u.ingest_id, session_id: u.session_id, reason: u.reason, at: new Date(clock.now()).toISOString() });
    }
  }
}
