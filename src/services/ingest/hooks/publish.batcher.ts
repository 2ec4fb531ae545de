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
/** A statement that finished this recently means callbacks are arriving faster than one at a time. */
const BUSY_MS = 5;
/** How long a busy batcher gathers callbacks before its next statement. */
const GATHER_MS = 2;

/**
 * A real timer on purpose, not the Clock: this paces I/O (it lets sockets be read), it is not domain
 * time, and it must elapse under a test's manual clock too. Measured with the bench `on_publish`:
 * yielding one event-loop turn left batches of one; 2 ms gathers several per statement at 1,000
 * callbacks/s (server CPU per publish ~1,000 µs → ~560 µs). Re-measured once the statement became a
 * planned-once function (≈ 0.7 ms for a batch of four): yielding two or three turns (a new connection
 * needs one to be accepted and one to be read) gave batches of two and ≈ 1,000 µs per callback, the
 * server saturated; 1 ms gave batches of 2.5, p50 3.8 ms instead of 4.7 but ≈ 20 % more CPU per callback
 * and no better p99; 3 ms saved ≈ 5 % of CPU for 1 ms more latency. So 2 ms stays.
 */
const gather = () => new Promise<void>((resolve) => setTimeout(resolve, GATHER_MS));

/**
 * Natural batching of publish authorizations: while one statement runs, the callbacks that arrive
 * queue, and the next statement takes them all (a lone callback waits for nothing). One
 * statement per batch instead of one per callback is what lets an embedded database answer a burst of
 * reconnecting encoders: the per-statement cost dominates a single publish. A key appears at most once
 * per batch; a second callback for it waits for the next batch.
 */
export class PublishBatcher {
  private queue: Pending[] = [];
  private running = false;
  private lastStatementAt = Number.NEGATIVE_INFINITY;

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
        // PGlite runs statements on this thread, so callbacks that arrived meanwhile are still unread
        // sockets. Under load (a statement finished moments ago) a short gathering window lets them join
        // this batch; a lone callback waits for nothing.
        if (performance.now() - this.lastStatementAt < BUSY_MS) await gather();
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
        } finally {
          this.lastStatementAt = performance.now();
        }
      }
    } finally {
      this.running = false;
    }
  }
}
