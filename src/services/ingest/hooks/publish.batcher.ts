import type { Clock, Queryable } from '../../../core/ports/index.js';
import { ingestRepository as repo, type KeyLookupRow, type PublishRequest } from '../ingests/ingest.repository.js';

export type PublishOutcome = (KeyLookupRow & { accepted: boolean }) | null;

interface Pending {
  req: PublishRequest;
  hashKey: string;
  resolve: (row: PublishOutcome) => void;
  reject: (err: unknown) => void;
}

/** Largest batch: keeps one statement's arrays and latency bounded. */
const MAX_BATCH = 200;
/**
 * Natural batching of publish authorizations: while one statement runs, the callbacks that arrive
 * queue, and the next statement takes them all (a lone callback waits for nothing). One
 * statement per batch instead of one per callback is what lets an embedded database answer a burst of
 * reconnecting encoders: the per-statement cost dominates a single publish. A key appears at most once
 * per batch; a second callback for it waits for the next batch.
 *
 * Nothing waits on purpose: the batch size follows the load by itself because the statement runs off
 * this thread (PostgreSQL, or PGlite in its worker), so callbacks that arrive meanwhile are read and
 * queued. While PGlite ran on this thread they stayed unread sockets, and a 2 ms gathering window made
 * the batches instead; measured with the bench `on_publish` once PGlite had its worker (same hour,
 * alternated): without the window p50 1.2–1.3 ms and p99 5.9–7.2 ms at 1,000 callbacks/s (≈ 620 µs of
 * CPU per callback: mostly batches of one), with it p50 3.1–3.6 ms and p99 8.9–20 ms (≈ 360–470 µs);
 * as fast as answered, 7.3–7.5k/s without it against 6.6k/s with it.
 */
export class PublishBatcher {
  private queue: Pending[] = [];
  private running = false;

  constructor(
    private readonly db: Queryable,
    private readonly clock: Clock,
  ) {}

  authorize(req: PublishRequest): Promise<PublishOutcome> {
    return new Promise((resolve, reject) => {
      this.queue.push({ req, hashKey: req.keyHash.toString('base64'), resolve, reject });
      if (!this.running) void this.drain();
    });
  }

  private async drain(): Promise<void> {
    this.running = true;
    try {
      while (this.queue.length > 0) {
        const batch: Pending[] = [];
        const rest: Pending[] = [];
        const keys = new Set<string>();
        for (const p of this.queue) {
          if (batch.length < MAX_BATCH && !keys.has(p.hashKey)) {
            keys.add(p.hashKey);
            batch.push(p);
          } else rest.push(p);
        }
        this.queue = rest;
        try {
          const rows = await repo.authorizePublishes(this.db, batch.map((p) => p.req), new Date(this.clock.now()));
          const byIndex = new Map(rows.map((r) => [r.n, r]));
          batch.forEach((p, i) => p.resolve(byIndex.get(i) ?? null));
        } catch (err) {
          for (const p of batch) p.reject(err);
        }
      }
    } finally {
      this.running = false;
    }
  }
}
